package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
)

// TestRelayTroubleIsShownAndBouncesCanBeRetried: while the relay refuses
// mail every console page says what it said; bounced deliveries can be
// sent again, after a confirmation.
func TestRelayTroubleIsShownAndBouncesCanBeRetried(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"gone@example.com": "primary/ja", "ok@example.com": "additional/ja"})
	ctx := context.Background()
	op := a.client()
	op.login("editor@example.com")

	// The pause is seconds (2 s to 30 s): the next try is given to the second.
	retry := a.clock.Now().Add(7 * time.Second)
	if err := a.store.SetRelayTrouble(ctx, data.RelayTrouble{Stage: "AUTH", Code: 535, Message: "535 5.7.8 Authentication credentials invalid",
		Since: a.clock.Now(), RetryAt: retry}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/admin", "/admin/notifications"} {
		expect(t, op.get(path), http.StatusOK, "メールサーバーが送信を受け付けていません", "AUTH で 535", "送信待ちのまま保持されています",
			retry.In(a.app.opts.Location).Format("15:04:05"))
	}
	a.store.ClearRelayTrouble(ctx)
	expectNot(t, op.get("/admin"), "メールサーバーが送信を受け付けていません")

	var refuse atomic.Bool
	refuse.Store(true)
	rig.smtp.RefuseRcpt(func(rcpt string) *smtp.SMTPError {
		if refuse.Load() && rcpt == "gone@example.com" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	})
	declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, true, nil)
	rig.deliver()
	n, counts := a.latestNotification()
	if counts[data.DeliveryBounced] != 1 || counts[data.DeliverySent] != 1 {
		t.Fatalf("counts %v", counts)
	}
	nid := strconv.FormatInt(n.ID, 10)
	expect(t, op.get("/admin/notifications/"+nid), http.StatusOK, "宛先不明の1件を再送する", "この宛先に再送する", `name="delivery"`)
	expect(t, op.post("/admin/notifications/"+nid+"/retry-bounced", nil), http.StatusOK, `name="confirm" value="1"`)
	if _, c := a.latestNotification(); c[data.DeliveryBounced] != 1 {
		t.Fatal("retried without confirmation")
	}
	refuse.Store(false)
	expect(t, op.post("/admin/notifications/"+nid+"/retry-bounced", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if got := rig.deliver(); len(got["gone@example.com"]) != 1 || len(got["ok@example.com"]) != 0 {
		t.Fatalf("after the retry: %v", recipients(got))
	}
}

// hang makes every statement of the store block until the returned
// release is called, whatever its context says: a database that stops
// answering.
func (a *testApp) hang() (release func()) {
	gate := make(chan struct{})
	a.store.SetFault(func(context.Context, bool) error {
		<-gate
		return nil
	})
	var once sync.Once
	release = func() {
		once.Do(func() {
			a.store.SetFault(nil)
			close(gate)
		})
	}
	a.t.Cleanup(release)
	return release
}

// down makes every statement fail as a stopped database does.
func (a *testApp) down() {
	a.store.SetFault(func(context.Context, bool) error { return data.ErrUnavailable })
	a.t.Cleanup(func() { a.store.SetFault(nil) })
}

// TestHungDatabaseStillServesTheLastPage: after a change, with the
// database hung, every request gets the last good page at once; one
// render waits for the database, not every request.
func TestHungDatabaseStillServesTheLastPage(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	pub := a.client()
	expect(t, pub.get("/"), http.StatusOK, "すべてのサービスは正常に稼働しています")
	release := a.hang()
	a.app.changed()
	done := make(chan int)
	go func() {
		ok := 0
		for i := 0; i < 50; i++ {
			if r := pub.get("/"); r.code == http.StatusOK && strings.Contains(r.body, "すべてのサービスは正常に稼働しています") {
				ok++
			}
		}
		done <- ok
	}()
	select {
	case ok := <-done:
		if ok != 50 {
			t.Fatalf("%d of 50 requests got the last good page", ok)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("requests waited for the hung database")
	}
	release()
}

// TestDatabaseDownServesEveryPublicPage: every public representation is
// rendered ahead of time after a change, so with the database down none
// of them fails, in either language.
func TestDatabaseDownServesEveryPublicPage(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	a.app.changed()
	if err := a.app.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.down()
	pub := a.client()
	for _, path := range []string{"/", "/?lang=en", "/history", "/history?lang=en", "/news", "/api/v2/status.json", "/api/v2/summary.json",
		"/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json", "/feed.atom", "/feed.rss?lang=en", "/maintenance.ics", "/badge.svg"} {
		if r := pub.get(path); r.code != http.StatusOK {
			t.Errorf("%s with the database down: %d", path, r.code)
		}
	}
}

// TestOutageLogsOnce: a stopped database gives one line when it starts
// failing, not one per request.
func TestOutageLogsOnce(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	var lines atomic.Int64
	a.app.log = slog.New(slog.NewTextHandler(countingWriter{&lines}, nil))
	a.app.cache.log = a.app.log
	pub := a.client()
	pub.get("/")
	a.down()
	a.app.changed()
	for i := 0; i < 300; i++ {
		pub.get("/")
		pub.get("/healthz")
	}
	if n := lines.Load(); n > 5 {
		t.Fatalf("%d log lines for one outage", n)
	}
}

type countingWriter struct{ n *atomic.Int64 }

func (w countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(bytes.Count(b, []byte("\n"))))
	return len(b), nil
}

// TestHealthTellsTheTruth: /healthz is liveness (the process serves, even
// the last good page during an outage); /readyz says whether this
// instance can take writes. Operator actions during an outage get a 503
// in the operator's language, or JSON from the API.
func TestHealthTellsTheTruth(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "監視", "write")
	op := a.client()
	op.login("editor@example.com")
	op.speak("en")
	op.get("/admin/incidents/new")
	pub := a.client()
	pub.allow5xx = true
	expect(t, pub.get("/healthz"), http.StatusOK)
	expect(t, pub.get("/readyz"), http.StatusOK)

	// Read-only: reads work, writes do not.
	a.store.SetFault(func(_ context.Context, write bool) error {
		if write {
			return errors.New("attempt to write a readonly database")
		}
		return nil
	})
	expect(t, pub.get("/healthz"), http.StatusOK)
	expect(t, pub.get("/readyz"), http.StatusServiceUnavailable, "read-only")
	op.allow5xx = true
	r := op.post("/admin/incidents", url.Values{"title_ja": {"障害"}, "impact": {"minor"}, "status": {"investigating"},
		"body_ja": {"x"}, componentField(cdn): {data.PartialOutage}})
	expect(t, r, http.StatusServiceUnavailable, "The database is not available")
	if !strings.Contains(r.body, "console-nav") {
		t.Fatal("the 503 page is not the console's")
	}
	req, _ := http.NewRequest("POST", a.srv.URL+"/api/admin/incidents", strings.NewReader(`{"title_ja":"障害","impact":"minor","body_ja":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	apiClient := a.client()
	apiClient.allow5xx = true
	api := apiClient.do(req)
	if api.code != http.StatusServiceUnavailable || !strings.Contains(api.body, `"code":"database_unavailable"`) {
		t.Fatalf("API during an outage: %d %s", api.code, api.body)
	}

	// Down altogether.
	a.down()
	expect(t, pub.get("/healthz"), http.StatusOK)
	expect(t, pub.get("/readyz"), http.StatusServiceUnavailable)
	a.store.SetFault(nil)
	expect(t, pub.get("/readyz"), http.StatusOK)
}

// TestConsoleErrorsSpeakTheOperatorsLanguage: a 413 for an oversized
// console form is the console's page, in the operator's own language.
func TestConsoleErrorsSpeakTheOperatorsLanguage(t *testing.T) {
	a := newTestServer(t)
	op := a.client()
	op.login("editor@example.com")
	op.get("/admin/account")
	expect(t, op.post("/admin/account/lang", url.Values{"lang": {"en"}}), http.StatusSeeOther)
	op.get("/admin/incidents/new")
	big := url.Values{"csrf": {op.csrf}, "title_ja": {strings.Repeat("あ", 1<<20)}}
	expect(t, op.postRaw("/admin/incidents", big), http.StatusRequestEntityTooLarge, "What you sent is too large.", "console-nav")
	ja := a.client()
	ja.login("admin@example.com")
	ja.get("/admin/incidents/new")
	big.Set("csrf", ja.csrf)
	expect(t, ja.postRaw("/admin/incidents?lang=en", big), http.StatusRequestEntityTooLarge, "console-nav", `lang="ja"`)
}
