package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/jobs"
)

// upstreamRunner polls under the server's outbound policy, on its clock.
func (a *testApp) upstreamRunner() *jobs.UpstreamRunner {
	return jobs.NewUpstreamRunner(a.store, jobs.UpstreamOptions{Now: a.clock.Now, Outbound: a.app.opts.Outbound, Timeout: 5 * time.Second,
		Changed: func(*data.SignalOutcome) { a.app.changed() }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (a *testApp) sweepUpstreams(t *testing.T) jobs.UpstreamStats {
	t.Helper()
	st, err := a.upstreamRunner().Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (a *testApp) onlyUpstream(t *testing.T) data.Upstream {
	t.Helper()
	us, err := a.store.Upstreams(context.Background(), 0)
	if err != nil || len(us) != 1 {
		t.Fatalf("upstreams %v %v", us, err)
	}
	return us[0]
}

func upstreamSignal(t *testing.T, a *testApp, comp int64) *data.Signal {
	t.Helper()
	sigs, err := a.store.Signals(context.Background(), comp)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sigs {
		if strings.HasPrefix(sigs[i].Source, "upstream:") {
			return &sigs[i]
		}
	}
	return nil
}

// TestUpstreamFollowsAnotherOshirase: a component follows a component of a
// second, real Oshirase through its /api/v2/summary.json; the upstream's
// outage prepares a draft and shows beside the component, its recovery
// withdraws both.
func TestUpstreamFollowsAnotherOshirase(t *testing.T) {
	ctx := context.Background()
	up := newTestServer(t)
	_, upCDN, _ := up.seedCatalog()

	a := newTestServer(t)
	a.openLoopback()
	_, _, api := a.seedCatalog()
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/components/"+strconvItoa(api)+"/edit"), http.StatusOK, "/admin/components/"+strconvItoa(api)+"/upstreams")
	expect(t, ed.get("/admin/components/"+strconvItoa(api)+"/upstreams"), http.StatusOK, "依存先はまだありません。")
	expect(t, ed.get("/admin/components/"+strconvItoa(api)+"/upstreams/new"), http.StatusOK, `name="match"`)
	// The upstream component is chosen by its id in the upstream's summary.
	var summary struct {
		Components []struct{ ID, Name string }
	}
	res, err := http.Get(up.srv.URL + "/api/v2/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&summary)
	res.Body.Close()
	upID := ""
	for _, c := range summary.Components {
		if strings.Contains(c.Name, "CDN") {
			upID = c.ID
		}
	}
	if upID == "" {
		t.Fatalf("no CDN in the upstream's summary %+v", summary)
	}
	r := ed.post("/admin/components/"+strconvItoa(api)+"/upstreams", url.Values{"kind": {"statuspage"}, "url": {up.srv.URL + "/api/v2/summary.json"},
		"match": {upID}, "name_ja": {"kintone"}, "name_en": {"kintone"}, "page_url": {up.srv.URL + "/"}, "interval_s": {"60"}, "enabled": {"1"}})
	expect(t, r, http.StatusSeeOther)

	if st := a.sweepUpstreams(t); st.Polls != 1 || st.Failures != 0 {
		u := a.onlyUpstream(t)
		t.Fatalf("first sweep %+v: %s", st, u.LastError)
	}
	u := a.onlyUpstream(t)
	if u.State != data.Operational || u.CheckedAt == nil || u.LastError != "" {
		t.Fatalf("after the first poll %+v", u)
	}
	if st := a.sweepUpstreams(t); st.Polls != 0 {
		t.Fatalf("polled again before its interval: %+v", st)
	}

	// The upstream's component goes down.
	if err := up.store.SetComponentStatus(ctx, upCDN, data.MajorOutage); err != nil {
		t.Fatal(err)
	}
	up.app.changed()
	a.clock.Advance(61 * time.Second)
	if st := a.sweepUpstreams(t); st.Polls != 1 || st.Changes != 1 {
		t.Fatalf("sweep after the outage %+v: %s", st, a.onlyUpstream(t).LastError)
	}
	u = a.onlyUpstream(t)
	if u.State != data.MajorOutage || u.ChangedAt == nil {
		t.Fatalf("after the outage %+v", u)
	}
	sig := upstreamSignal(t, a, api)
	if sig == nil || sig.Status != data.MajorOutage || sig.Source != u.Source() || !strings.Contains(sig.Detail, "kintone") {
		t.Fatalf("signal %+v", sig)
	}
	drafts, err := a.store.IncidentDrafts(ctx, data.DraftWaiting, 10)
	if err != nil || len(drafts) != 1 || drafts[0].ComponentID != api || drafts[0].Kind != data.DraftOpen {
		t.Fatalf("drafts %+v %v", drafts, err)
	}
	// Nothing was published: the component's public status is unchanged,
	// but the upstream's state shows beside it, with a link.
	pub := a.client()
	page := pub.get("/")
	expect(t, page, http.StatusOK, "kintone側で障害が発生しています", `href="`+up.srv.URL+`/"`, "kintoneの状況を見る")
	pub.lang = "en"
	expect(t, pub.get("/?lang=en"), http.StatusOK)
	en := pub.get("/")
	expect(t, en, http.StatusOK, "kintone is experiencing an outage", "Status of kintone")
	expect(t, ed.get("/admin/components/"+strconvItoa(api)+"/upstreams"), http.StatusOK, "kintone", "/admin/upstreams/"+strconvItoa(u.ID)+"/edit")

	// It recovers: the signal is withdrawn and the unpublished draft
	// superseded.
	if err := up.store.SetComponentStatus(ctx, upCDN, data.Operational); err != nil {
		t.Fatal(err)
	}
	up.app.changed()
	a.clock.Advance(61 * time.Second)
	a.sweepUpstreams(t)
	if u = a.onlyUpstream(t); u.State != data.Operational {
		t.Fatalf("after the recovery %+v", u)
	}
	if sig := upstreamSignal(t, a, api); sig != nil {
		t.Fatalf("signal still there: %+v", sig)
	}
	if drafts, _ := a.store.IncidentDrafts(ctx, data.DraftWaiting, 10); len(drafts) != 0 {
		t.Fatalf("waiting drafts after the recovery %+v", drafts)
	}
	pub.lang = ""
	expectNot(t, pub.get("/"), "kintone側で")

	// Removed: gone, and so is anything it reported.
	expect(t, ed.post("/admin/upstreams/"+strconvItoa(u.ID)+"/delete", nil), http.StatusSeeOther)
	if us, _ := a.store.Upstreams(ctx, 0); len(us) != 0 {
		t.Fatalf("still there: %+v", us)
	}
}

// feedServer serves a feed fixture with validators, answering 304 to a
// request that sends them back; fail makes it answer 503.
type feedServer struct {
	*httptest.Server
	mu                sync.Mutex
	body              []byte
	etag              string
	fail              bool
	full, notModified int
	lastINM, lastIMS  string
}

func newFeedServer(t *testing.T, fixture string) *feedServer {
	b, err := os.ReadFile("../internal/upstream/testdata/" + fixture)
	if err != nil {
		t.Fatal(err)
	}
	fs := &feedServer{body: b, etag: `"feed-1"`}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if fs.fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fs.lastINM, fs.lastIMS = r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		w.Header().Set("ETag", fs.etag)
		w.Header().Set("Last-Modified", "Sun, 06 Dec 2026 21:00:00 GMT")
		if fs.lastINM == fs.etag {
			fs.notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fs.full++
		w.Header().Set("Content-Type", "application/atom+xml")
		w.Write(fs.body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

// TestUpstreamFeed: a cloud provider's Atom feed, matched by rules; the
// next poll is conditional and a 304 changes nothing; a failing upstream
// is shown to the operator and keeps the last state.
func TestUpstreamFeed(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	a.openLoopback()
	a.clock.Set(time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC))
	_, cdn, _ := a.seedCatalog()
	feed := newFeedServer(t, "history.atom")
	made, err := a.store.CreateUpstream(ctx, data.UpstreamInput{ComponentID: cdn, Kind: data.UpstreamFeed, URL: feed.URL + "/history.atom",
		NameJA: "クラウド", NameEN: "the cloud", PageURL: "https://status.example.com/", Match: "major_outage: outage tokyo\npartial_outage: tokyo",
		IntervalS: 300, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	a.sweepUpstreams(t)
	u := a.onlyUpstream(t)
	if u.State != data.PartialOutage || u.StateDetail != "Elevated error rates in Tokyo region (ap-northeast-1)" ||
		u.StateURL != "https://status.example.com/incidents/3" || u.ETag != `"feed-1"` || u.LastModified == "" {
		t.Fatalf("after the first poll %+v (%s)", u, u.LastError)
	}
	if sig := upstreamSignal(t, a, cdn); sig == nil || sig.Status != data.PartialOutage {
		t.Fatalf("signal %+v", sig)
	}
	expect(t, a.client().get("/"), http.StatusOK, "クラウド側で一部の障害が発生しています", `href="https://status.example.com/incidents/3"`)

	// The next poll sends the validators back and a 304 changes nothing.
	changed := *u.ChangedAt
	a.clock.Advance(301 * time.Second)
	if st := a.sweepUpstreams(t); st.Polls != 1 || st.Changes != 0 {
		t.Fatalf("conditional sweep %+v", st)
	}
	if feed.notModified != 1 || feed.lastINM != `"feed-1"` || feed.lastIMS != "Sun, 06 Dec 2026 21:00:00 GMT" {
		t.Fatalf("304s %d, sent %q %q", feed.notModified, feed.lastINM, feed.lastIMS)
	}
	u = a.onlyUpstream(t)
	if u.State != data.PartialOutage || !u.ChangedAt.Equal(changed) || !u.CheckedAt.Equal(a.clock.Now()) {
		t.Fatalf("after a 304 %+v", u)
	}

	// It fails: the operator sees why, the state stays.
	feed.mu.Lock()
	feed.fail = true
	feed.mu.Unlock()
	a.clock.Advance(301 * time.Second)
	if st := a.sweepUpstreams(t); st.Failures != 1 {
		t.Fatalf("failing sweep %+v", st)
	}
	u = a.onlyUpstream(t)
	if u.State != data.PartialOutage || !strings.Contains(u.LastError, "503") {
		t.Fatalf("after a failure %+v", u)
	}
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/components/"+strconvItoa(cdn)+"/upstreams"), http.StatusOK, "確認に失敗しました", "503", "Elevated error rates")

	// Editing starts it afresh: the signal is withdrawn until it is polled.
	r := ed.post("/admin/upstreams/"+strconvItoa(made.ID), url.Values{"kind": {"feed"}, "url": {feed.URL + "/history.atom"},
		"match": {"major_outage: outage tokyo"}, "name_ja": {"クラウド"}, "interval_s": {"300"}, "enabled": {"1"}})
	expect(t, r, http.StatusSeeOther)
	if sig := upstreamSignal(t, a, cdn); sig != nil {
		t.Fatalf("signal after an edit %+v", sig)
	}
	feed.mu.Lock()
	feed.fail = false
	feed.mu.Unlock()
	a.sweepUpstreams(t)
	// The validators were forgotten with the edit: a full answer, and no
	// entry matches the new rule.
	if u = a.onlyUpstream(t); u.State != data.Operational || feed.full != 2 {
		t.Fatalf("after the edit %+v, full answers %d", u, feed.full)
	}
}

// TestUpstreamOutboundPolicy: an address the policy refuses is refused by
// the form, and one saved before is refused when polled, shown as an error.
func TestUpstreamOutboundPolicy(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t) // loopback not opened
	_, cdn, _ := a.seedCatalog()
	feed := newFeedServer(t, "history.atom")
	ed := a.client()
	ed.login("editor@example.com")
	path := "/admin/components/" + strconvItoa(cdn) + "/upstreams"
	form := func(u string) url.Values {
		return url.Values{"kind": {"statuspage"}, "url": {u}, "match": {"x"}, "name_ja": {"kintone"}, "interval_s": {"60"}, "enabled": {"1"}}
	}
	expect(t, ed.post(path, form(feed.URL+"/summary.json")), http.StatusBadRequest, "社内・ローカルのネットワーク")
	expect(t, ed.post(path, form("http://169.254.169.254/latest/meta-data")), http.StatusBadRequest, "メタデータ")
	if us, _ := a.store.Upstreams(ctx, 0); len(us) != 0 {
		t.Fatalf("saved %+v", us)
	}
	if _, err := a.store.CreateUpstream(ctx, data.UpstreamInput{ComponentID: cdn, Kind: data.UpstreamStatuspage, URL: feed.URL + "/summary.json",
		NameJA: "kintone", Match: "x", IntervalS: 60, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if st := a.sweepUpstreams(t); st.Failures != 1 {
		t.Fatalf("sweep %+v", st)
	}
	u := a.onlyUpstream(t)
	if !strings.Contains(u.LastError, "refused") || u.State != "" || feed.full+feed.notModified != 0 {
		t.Fatalf("refused poll %+v (hits %d)", u, feed.full)
	}
	expect(t, ed.get(path), http.StatusOK, "確認に失敗しました", "refused")
}

// TestUpstreamFormHostile: whatever is posted, a clear error in the
// operator's language and nothing saved; never a 500.
func TestUpstreamFormHostile(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	a.openLoopback()
	_, cdn, _ := a.seedCatalog()
	ed := a.client()
	ed.login("editor@example.com")
	path := "/admin/components/" + strconvItoa(cdn) + "/upstreams"
	good := func() url.Values {
		return url.Values{"kind": {"feed"}, "url": {"https://status.example.net/history.atom"}, "match": {"major_outage: tokyo"},
			"name_ja": {"クラウド"}, "interval_s": {"300"}, "enabled": {"1"}}
	}
	for _, tc := range []struct {
		field, value, want string
	}{
		{"kind", "evil", "選択肢から選んでください。"},
		{"url", "javascript:alert(1)", "http:// または https:// で始まる URL"},
		{"url", "", "入力してください。"},
		{"url", "https://user:pw@status.example.net/", "http:// または https:// で始まる URL"},
		{"url", "https://status.example.net/\x00", "使用できない文字"},
		{"url", "https://" + strings.Repeat("a", 3000) + ".example/", "長すぎます"},
		{"page_url", "javascript:alert(1)", "http:// または https:// で始まる URL"},
		{"name_ja", "", "入力してください。"},
		{"name_ja", strings.Repeat("名", 200), "長すぎます"},
		{"name_en", "\xff\xfe", "使用できない文字"},
		{"match", "", "入力してください。"},
		{"match", "please match tokyo", "状態: 語句"},
		{"match", "exploded: tokyo", "状態: 語句"},
		{"match", "recent: 1s\nmajor_outage: x", "状態: 語句"},
		{"interval_s", "59", "60秒から86400秒"},
		{"interval_s", "86401", "60秒から86400秒"},
		{"interval_s", "-1", "60秒から86400秒"},
		{"interval_s", "abc", "数字で入力してください。"},
		{"interval_s", "99999999999999999999999", "数字で入力してください。"},
	} {
		f := good()
		f.Set(tc.field, tc.value)
		r := ed.post(path, f)
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s=%.40q: %d, want 400 with %q", tc.field, tc.value, r.code, tc.want)
		}
	}
	// A statuspage upstream needs its component named; the form keeps what
	// was typed, escaped.
	f := good()
	f.Set("kind", "statuspage")
	f.Set("match", "")
	f.Set("name_ja", `<script>alert(1)</script>`)
	r := ed.post(path, f)
	expect(t, r, http.StatusBadRequest, "入力してください。", "&lt;script&gt;alert(1)&lt;/script&gt;")
	expectNot(t, r, "<script>alert(1)</script>")
	// In English for an operator who reads the console in English.
	op, err := a.store.OperatorByEmail(ctx, "editor@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetOperatorLang(ctx, op.ID, "en"); err != nil {
		t.Fatal(err)
	}
	f = good()
	f.Set("interval_s", "10")
	expect(t, ed.post(path, f), http.StatusBadRequest, "Enter between 60 and 86400 seconds.")
	f.Set("match", "nonsense")
	expect(t, ed.post(path, f), http.StatusBadRequest, "Enter one rule a line")
	if err := a.store.SetOperatorLang(ctx, op.ID, "ja"); err != nil {
		t.Fatal(err)
	}
	if us, _ := a.store.Upstreams(ctx, 0); len(us) != 0 {
		t.Fatalf("saved %+v", us)
	}
	// Unknown ids are 404s, malformed ones too.
	for _, p := range []string{"/admin/upstreams/99999/edit", "/admin/upstreams/abc/edit", "/admin/components/99999/upstreams",
		"/admin/components/99999/upstreams/new"} {
		if r := ed.get(p); r.code != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, r.code)
		}
	}
	for _, p := range []string{"/admin/upstreams/99999", "/admin/upstreams/99999/delete", "/admin/components/99999/upstreams"} {
		if r := ed.post(p, good()); r.code != http.StatusNotFound {
			t.Errorf("POST %s: %d", p, r.code)
		}
	}
	// Without a CSRF token nothing is saved.
	f = good()
	f.Set("csrf", "forged")
	if r := ed.postRaw(path, f); r.code < 400 {
		t.Errorf("forged CSRF: %d", r.code)
	}
	// The good form saves, and the edit form shows it back.
	expect(t, ed.post(path, good()), http.StatusSeeOther)
	u := a.onlyUpstream(t)
	expect(t, ed.get("/admin/upstreams/"+strconv.FormatInt(u.ID, 10)+"/edit"), http.StatusOK, "major_outage: tokyo", "status.example.net")
}

// TestUpstreamAutoPublish: with automatic publication chosen for the
// component, the upstream's outage is declared and its recovery resolves it.
func TestUpstreamAutoPublish(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	a.openLoopback()
	a.clock.Set(time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC))
	_, cdn, _ := a.seedCatalog()
	if err := a.store.SetAutomation(ctx, cdn, data.Automation{AutoPublish: true, AutoImpact: "minor"}); err != nil {
		t.Fatal(err)
	}
	feed := newFeedServer(t, "history.atom")
	if _, err := a.store.CreateUpstream(ctx, data.UpstreamInput{ComponentID: cdn, Kind: data.UpstreamFeed, URL: feed.URL + "/history.atom",
		NameJA: "クラウド", Match: "partial_outage: tokyo", IntervalS: 60, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	a.sweepUpstreams(t)
	incs, err := a.store.Public().IncidentsSince(ctx, a.clock.Now().Add(-time.Hour))
	if err != nil || len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("published %+v %v", incs, err)
	}
	// The upstream resolves its incident.
	feed.mu.Lock()
	feed.body = []byte(strings.Replace(string(feed.body), "Identified", "Resolved", 1))
	feed.etag = `"feed-2"`
	feed.mu.Unlock()
	a.clock.Advance(61 * time.Second)
	a.sweepUpstreams(t)
	incs, _ = a.store.Public().IncidentsSince(ctx, a.clock.Now().Add(-time.Hour))
	if len(incs) != 1 || incs[0].Open() {
		t.Fatalf("after the recovery %+v (state %s)", incs, a.onlyUpstream(t).State)
	}
}
