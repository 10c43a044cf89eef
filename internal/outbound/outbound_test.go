package outbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestRefusesLocalAndPrivateRanges: each range is refused by address, and
// a name is checked where it is dialled (after DNS).
func TestRefusesLocalAndPrivateRanges(t *testing.T) {
	c := New(Options{})
	for _, u := range []string{"https://127.0.0.1/", "https://10.1.2.3/", "https://172.16.0.1/", "https://192.168.1.1/",
		"https://169.254.169.254/latest/meta-data", "https://100.64.0.1/", "https://[::1]/", "https://[fc00::1]/",
		"https://[fe80::1]/", "https://0.0.0.0/", "https://[::ffff:127.0.0.1]/"} {
		if err := c.CheckURL(u); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", u, err)
		}
		if _, err := c.Post(context.Background(), u, []byte(`{}`), "", time.Now()); !errors.Is(err, ErrRefused) {
			t.Errorf("post %s: %v, want refused", u, err)
		}
	}
	for _, u := range []string{"http://example.com/", "ftp://example.com/", "https://user:pw@example.com/", "javascript:alert(1)", "https:///x"} {
		if err := c.CheckURL(u); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if err := c.CheckURL("https://hooks.slack.com/services/T/B/X"); err != nil {
		t.Errorf("a public https address refused: %v", err)
	}
	// "localhost" resolves to loopback: refused at the dial.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := c.Post(context.Background(), u, []byte(`{}`), "", time.Now()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a name resolving to loopback: %v", err)
	}
}

// TestSignsBodiesAndBoundsAnswers: with loopback allowed (as an admin
// would allow a range), a body arrives signed, verifiable by an
// independent HMAC; an answer is read only up to the bound; a slow
// endpoint times out.
func TestSignsBodiesAndBoundsAnswers(t *testing.T) {
	var gotSig, gotTS, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotSig, gotTS, gotBody = r.Header.Get("X-Oshirase-Signature"), r.Header.Get("X-Oshirase-Timestamp"), string(b)
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		w.Write([]byte(strings.Repeat("x", 100000)))
	}))
	defer srv.Close()
	c := New(Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 200 * time.Millisecond, MaxResponse: 1000})
	at := time.Unix(1764460800, 0)
	res, err := c.Post(context.Background(), srv.URL+"/hook", []byte(`{"incident":"i1"}`), "s3cret", at)
	if err != nil || res.Status != 200 || len(res.Body) != 1000 {
		t.Fatalf("post: %v %+v", err, res)
	}
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte("1764460800." + `{"incident":"i1"}`))
	if want := "v1=" + hex.EncodeToString(mac.Sum(nil)); gotSig != want || gotTS != "1764460800" || gotBody != `{"incident":"i1"}` {
		t.Fatalf("signature %q ts %q body %q; want %q", gotSig, gotTS, gotBody, want)
	}
	if _, err := c.Post(context.Background(), srv.URL+"/slow", []byte(`{}`), "", at); err == nil {
		t.Fatal("a slow endpoint did not time out")
	}
	if strict := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}); strict.CheckURL(srv.URL) == nil {
		t.Fatal("http:// allowed without AllowHTTP")
	}
}
