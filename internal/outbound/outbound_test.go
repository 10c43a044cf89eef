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

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"10.1.2.3", "10.1.2.3/32", nil},
		{"10.1.2.0/24", "10.1.2.0/24", nil},
		{" 10.1.2.9/24 ", "10.1.2.0/24", nil},
		{"127.0.0.0/8", "127.0.0.0/8", nil},
		{"::1", "::1/128", nil},
		{"fd12:3456::/48", "fd12:3456::/48", nil},
		{"::ffff:192.168.1.0/120", "192.168.1.0/24", nil},
		{"8.8.8.0/24", "", ErrRangePublic},
		{"10.0.0.0/7", "", ErrRangeTooWide},
		{"0.0.0.0/0", "", ErrRangeTooWide},
		{"::/0", "", ErrRangeTooWide},
		{"169.254.0.0/16", "", ErrRangeMetadata},
		{"169.254.169.254", "", ErrRangeMetadata},
		{"100.100.100.0/24", "", ErrRangeMetadata},
		{"fd00:ec2::/64", "", ErrRangeMetadata},
		{"0.0.0.0", "", ErrRangeThisHost},
		{"0.0.0.0/8", "", ErrRangeThisHost},
		{"::", "", ErrRangeThisHost},
		{"fe80::1%eth0", "", ErrRangeZone},
	} {
		p, err := ParseRange(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.in, p, err, tc.want)
		}
	}
	if _, err := ParseRange("not a range"); err == nil {
		t.Error("garbage accepted")
	}
}

// TestAudiences: ranges opened for operators (configured or by an admin)
// never apply to an anonymous visitor's request; metadata addresses are
// refused whatever is opened.
func TestAudiences(t *testing.T) {
	c := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("0.0.0.0/8")}})
	c.SetOpened([]netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")})
	for _, tc := range []struct {
		addr       string
		op, anonOK bool
	}{
		{"10.2.3.4", true, false},
		{"192.168.5.7", true, false},
		{"192.168.6.7", false, false},
		{"169.254.10.1", true, false},
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"0.0.0.0", false, false},
		{"::", false, false},
		{"93.184.216.34", true, true},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := c.Allowed(a) == nil; got != tc.op {
			t.Errorf("operators %s: allowed %v, want %v", tc.addr, got, tc.op)
		}
		if got := c.Anonymous().Allowed(a) == nil; got != tc.anonOK {
			t.Errorf("anonymous %s: allowed %v, want %v", tc.addr, got, tc.anonOK)
		}
	}
	c.SetOpened(nil)
	if c.Allowed(netip.MustParseAddr("192.168.5.7")) == nil {
		t.Error("a closed range still reachable")
	}
}

// TestCheckerRedirects: a monitor's redirect to a refused address fails at
// that hop, whatever the first address was.
func TestCheckerRedirects(t *testing.T) {
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	defer internal.Close()
	open := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	front := httptest.NewServer(http.RedirectHandler(internal.URL, http.StatusFound))
	defer front.Close()
	if res, err := open.Checker(nil, true).Get(front.URL); err != nil || res.StatusCode != 200 {
		t.Fatalf("opened: %v %v", res, err)
	}
	// Refused at the dial of the first hop, and of a hop that names an
	// address ("localhost" is a name: refused where it is dialled).
	closed := New(Options{})
	for _, u := range []string{front.URL, strings.Replace(front.URL, "127.0.0.1", "localhost", 1)} {
		if _, err := closed.Checker(nil, true).Get(u); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if res, err := open.Checker(nil, false).Get(front.URL); err != nil || res.StatusCode != http.StatusFound {
		t.Errorf("not followed: %v %v", res, err)
	}
}
