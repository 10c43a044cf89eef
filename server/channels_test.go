package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/jobs"
)

type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	heads  []http.Header
}

// newEndpoint answers with answer(body) (status, response body).
func newEndpoint(t *testing.T, answer func(body string) (int, string)) *endpoint {
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.bodies, e.heads = append(e.bodies, string(b)), append(e.heads, r.Header.Clone())
		e.mu.Unlock()
		code, out := answer(string(b))
		w.WriteHeader(code)
		io.WriteString(w, out)
	}))
	t.Cleanup(e.Close)
	return e
}

func echoChallenge(body string) (int, string) {
	var v struct{ Challenge string }
	json.Unmarshal([]byte(body), &v)
	return 200, `{"challenge":"` + v.Challenge + `"}`
}

// TestChannelSubscription: a webhook is registered only once it echoes the
// verification challenge; local and private addresses are refused (unless
// an admin allowed the range, as this test then does for loopback); the
// secret shown once verifies the signature of the incident sent later;
// the signed settings link cancels it; admins add operators' channels.
func TestChannelSubscription(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	pub := a.client()
	expect(t, pub.get("/subscribe"), http.StatusOK, `href="/subscribe/channel"`)
	expect(t, pub.get("/subscribe/channel"), http.StatusOK, "Webhook", `name="url"`)
	hook := newEndpoint(t, echoChallenge)
	form := func(kind, u string) url.Values {
		return url.Values{"kind": {kind}, "url": {u}, "lang": {"ja"}, "owner_email": {"ops@customer.example"}}
	}
	// Refused before anything is sent: loopback, private ranges, http.
	for _, u := range []string{hook.URL, "https://127.0.0.1:1/", "https://10.0.0.1/", "https://169.254.169.254/", "https://[::1]/"} {
		expect(t, pub.post("/subscribe/channel", form("webhook", u)), http.StatusBadRequest, "この URL には送信できません")
	}
	if len(hook.bodies) != 0 {
		t.Fatal("a refused address was sent to")
	}
	expect(t, pub.post("/subscribe/channel", form("pager", "https://example.com/")), http.StatusBadRequest, "選択肢から")
	expect(t, pub.post("/subscribe/channel", url.Values{"kind": {"webhook"}, "url": {"https://example.com/"}, "lang": {"ja"}, "owner_email": {"not an address"}}),
		http.StatusBadRequest, "メールアドレスを正しく")

	// The admin allows loopback (OSHIRASE_OUTBOUND_ALLOW) and http for the test.
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	silent := newEndpoint(t, func(string) (int, string) { return 200, "ok" })
	expect(t, pub.post("/subscribe/channel", form("webhook", silent.URL)), http.StatusBadRequest, "challenge の値を含む正常な応答")
	broken := newEndpoint(t, func(string) (int, string) { return 500, "" })
	expect(t, pub.post("/subscribe/channel", form("slack", broken.URL)), http.StatusBadRequest, "正常な応答がありませんでした")
	if cs, _ := a.store.Channels(context.Background(), false); len(cs) != 0 {
		t.Fatalf("an unverified channel was saved: %+v", cs)
	}

	r := pub.post("/subscribe/channel", form("webhook", hook.URL))
	expect(t, r, http.StatusOK, "登録しました", "whsec_")
	manage := regexp.MustCompile(`http://status.example.com(/subscribe/channel/[0-9]+\.[A-Za-z0-9_=-]+)`).FindStringSubmatch(r.body)
	secret := regexp.MustCompile(`value="(whsec_[A-Za-z0-9_-]+)"`).FindStringSubmatch(r.body)
	if manage == nil || secret == nil {
		t.Fatalf("no settings link or secret:\n%s", r.body)
	}
	slack := newEndpoint(t, func(string) (int, string) { return 200, "ok" })
	expect(t, pub.post("/subscribe/channel", form("slack", slack.URL)), http.StatusOK, "登録しました")
	if !strings.Contains(slack.bodies[0], "障害・メンテナンス情報") {
		t.Fatalf("Slack verification message %q", slack.bodies[0])
	}

	// An incident reaches the webhook, signed with the secret shown.
	op := a.client()
	op.login("editor@example.com")
	ps, _ := a.store.Products(context.Background())
	declareVia(t, op, "major", map[int64]string{ps[0].Components[0].ID: data.PartialOutage}, true, nil)
	sender := jobs.NewChannelSender(a.store, a.app.opts.Outbound, a.app.opts.Channels, jobs.ChannelOptions{Now: a.clock.Now, Manage: a.app.ChannelManageURL},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if st, err := sender.Sweep(context.Background()); err != nil || st.Sent != 2 {
		t.Fatalf("sweep %+v %v", st, err)
	}
	last, head := hook.bodies[len(hook.bodies)-1], hook.heads[len(hook.heads)-1]
	// Its meta.unsubscribe is the owner's own settings link, as Statuspage's.
	if !strings.Contains(last, `"unsubscribe":"http://status.example.com`+manage[1]+`"`) {
		t.Fatalf("the webhook's meta.unsubscribe is not the channel's settings link %q:\n%s", manage[1], last)
	}
	mac := hmac.New(sha256.New, []byte(secret[1]))
	mac.Write([]byte(head.Get("X-Oshirase-Timestamp") + "." + last))
	if head.Get("X-Oshirase-Signature") != "v1="+hex.EncodeToString(mac.Sum(nil)) || !strings.Contains(last, `"status":"investigating"`) {
		t.Fatalf("incident webhook %s %v", last, head)
	}

	// The settings link shows and cancels it.
	expect(t, pub.get(manage[1]), http.StatusOK, "配信中", hook.URL)
	expect(t, pub.post(manage[1]+"/delete", nil), http.StatusOK, "登録を解除しました")
	expect(t, pub.get(manage[1]), http.StatusNotFound)
	expect(t, pub.get("/subscribe/channel/1.forged"), http.StatusNotFound)

	// Operators' own channel, admins only.
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/alerts"), http.StatusForbidden)
	admin := a.client()
	admin.login("admin@example.com")
	expect(t, admin.get("/admin/alerts"), http.StatusOK, "運用者への通知")
	teams := newEndpoint(t, func(string) (int, string) { return 202, "" })
	expect(t, admin.post("/admin/alerts", url.Values{"kind": {"teams"}, "url": {teams.URL}, "lang": {"ja"}}), http.StatusSeeOther)
	if cs, _ := a.store.Channels(context.Background(), true); len(cs) != 1 || cs[0].Kind != data.ChannelTeams {
		t.Fatalf("operator channels %+v", cs)
	}
	if !strings.Contains(teams.bodies[0], "AdaptiveCard") {
		t.Fatalf("Teams verification %s", teams.bodies[0])
	}
}
