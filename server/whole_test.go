package server

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/templates"
)

// TestPreviewWithEveryChannelKind: with an operators' alert channel and
// subscribers' webhook, Slack and Teams channels configured, and no relay
// (so the publish also alerts the operators that the notice is held), the
// preview still shows the customer email in each language, addressed to
// a contact, and never the operators' alert or a channel's pseudo-address.
func TestPreviewWithEveryChannelKind(t *testing.T) {
	a := newTestServer(t)
	a.withMail(false)
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"ja@example.com": "primary/ja", "en@example.com": "additional/en"})
	ctx := context.Background()
	for _, in := range []data.ChannelInput{
		{Kind: data.ChannelWebhook, URL: "https://hooks.example.net/ops", Lang: "ja", Operator: true, Secret: "s1"},
		{Kind: data.ChannelSlack, URL: "https://hooks.slack.com/services/T/B/X", Lang: "ja", OwnerEmail: "slack@example.com"},
		{Kind: data.ChannelTeams, URL: "https://example.webhook.office.com/x", Lang: "en", OwnerEmail: "teams@example.com"},
		{Kind: data.ChannelWebhook, URL: "https://hooks.example.net/sub", Lang: "en", OwnerEmail: "hook@example.com", Secret: "s2"},
	} {
		if _, err := a.store.CreateChannel(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	op := a.client()
	op.login("editor@example.com")
	op.get("/admin/incidents/new")
	cid := strconv.FormatInt(cdn, 10)
	form := url.Values{"title_ja": {"配信CDNで表示が遅くなっています"}, "title_en": {"Slow delivery CDN"}, "impact": {"major"}, "status": {"investigating"},
		"body_ja": {"現在、調査中です。"}, "body_en": {"We are investigating."}, "component_" + cid: {"degraded_performance"},
		"notify": {"1"}, "preview": {"1"}}
	r := op.post("/admin/incidents", form)
	expect(t, r, http.StatusOK,
		"Subject: 【障害・重大】krewDashboard: 配信CDNで表示が遅くなっています", "To: &#34;ja&#34; &lt;ja@example.com&gt;",
		"Subject: [Major incident] krewDashboard: Slow delivery CDN", "To: &#34;en&#34; &lt;en@example.com&gt;")
	expectNot(t, r, "channel:", "email.subject.", "notice_held")
}

// TestAutomaticTransitionsRefreshEveryRepresentation: a window the
// scheduler opens and closes, and an announcement whose publication time
// comes, are on the page, the window's page and the Statuspage JSON for
// the very next visitor, as an operator's change is.
func TestAutomaticTransitionsRefreshEveryRepresentation(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	ctx := context.Background()
	start := a.clock.Now().Add(time.Hour).Truncate(time.Minute)
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "CDN設備の更新", TitleEN: "CDN upgrade",
		StartsAt: start, EndsAt: start.Add(time.Hour), ReminderLead: -1, ComponentIDs: []int64{cdn},
		BodyJA: "配信設備を更新します。", BodyEN: "We will upgrade the delivery servers."})
	if err != nil {
		t.Fatal(err)
	}
	news, err := a.store.CreateAnnouncement(ctx, data.AnnouncementInput{TitleJA: "年末年始のサポート窓口", TitleEN: "Support over the holidays",
		BodyJA: "お知らせです。", BodyEN: "A notice.", PublishAt: start.Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	a.app.Changed() // as the console does after its own change
	pub := a.client()
	mpath := "/maintenance/" + strconv.FormatInt(m.ID, 10)
	jsonPath := "/api/v2/scheduled-maintenances.json"
	// One read: the first visitor after the change must see it.
	read := func(path string) string { return pub.get(path).body }
	statusOf := func() string {
		var doc struct {
			ScheduledMaintenances []struct {
				Status string `json:"status"`
			} `json:"scheduled_maintenances"`
		}
		if err := json.Unmarshal([]byte(read(jsonPath)), &doc); err != nil || len(doc.ScheduledMaintenances) != 1 {
			t.Fatalf("%s: %v %+v", jsonPath, err, doc)
		}
		return doc.ScheduledMaintenances[0].Status
	}
	if got := statusOf(); got != "scheduled" {
		t.Fatalf("before the window: %s", got)
	}
	for _, p := range []string{"/", mpath} {
		if !strings.Contains(read(p), "予定") {
			t.Fatalf("%s before the window does not say scheduled", p)
		}
	}

	// The window opens: the scheduler advances it.
	a.clock.Set(start.Add(time.Second))
	if moved, err := a.store.AutoAdvanceMaintenance(ctx, m.ID, data.Notice{}); err != nil || moved != data.InProgress {
		t.Fatalf("advance: %q %v", moved, err)
	}
	if got := statusOf(); got != "in_progress" {
		t.Fatalf("JSON after the start: %s", got)
	}
	for _, p := range []string{"/", mpath} {
		if body := read(p); !strings.Contains(body, "実施中") {
			t.Fatalf("%s after the start does not say in progress", p)
		}
	}
	// The announcement's time comes: nothing runs, time passes.
	if strings.Contains(read("/news"), "年末年始のサポート窓口") {
		t.Fatal("the announcement is on /news before its time")
	}
	a.clock.Set(news.PublishAt.Add(time.Second))
	if !strings.Contains(read("/news"), "年末年始のサポート窓口") {
		t.Fatal("the announcement is not on /news once its time has come")
	}
	// The window closes.
	a.clock.Set(start.Add(time.Hour + time.Second))
	if moved, err := a.store.AutoAdvanceMaintenance(ctx, m.ID, data.Notice{}); err != nil || moved != data.Completed {
		t.Fatalf("advance: %q %v", moved, err)
	}
	if got := statusOf(); got != "completed" {
		t.Fatalf("JSON after the end: %s", got)
	}
	if body := read(mpath); !strings.Contains(body, "完了") {
		t.Fatalf("%s after the end does not say completed", mpath)
	}
	if strings.Contains(read("/"), "実施中") {
		t.Fatal("/ still says in progress after the end")
	}
}

// TestProductDescriptionOnThePage: the first form a newcomer fills, with
// its descriptions, renders on the page in both languages (it once made
// every render fail, and the page froze on its copy from before).
func TestProductDescriptionOnThePage(t *testing.T) {
	a := newTestServer(t)
	op := a.client()
	op.login("editor@example.com")
	pub := a.client()
	expect(t, pub.get("/"), http.StatusOK) // a copy from before any product
	op.get("/admin/products/new")
	expect(t, op.post("/admin/products", url.Values{"name_ja": {"krewSheet"}, "name_en": {"krewSheet"},
		"description_ja": {"表形式で一覧・編集できるプラグインです。"}, "description_en": {"Edit records as a spreadsheet."}}), http.StatusSeeOther)
	r := pub.get("/")
	r.body = shown(r.body)
	expect(t, r, http.StatusOK, "krewSheet", "表形式で一覧・編集できるプラグインです。")
	expectNot(t, r, "この表示は")
	if r.header.Get("X-Oshirase-Stale") != "" {
		t.Fatal("the page is served stale")
	}
	expect(t, pub.get("/?lang=en"), http.StatusOK, "Edit records as a spreadsheet.")
	expect(t, pub.get("/readyz"), http.StatusOK)
}

// breakTemplate makes the named page's template fail to execute, as a bug
// in it would, and returns what puts it back.
func breakTemplate(t *testing.T, a *testApp, name string) (restore func()) {
	t.Helper()
	good, err := a.app.pages.set(name)
	if err != nil {
		t.Fatal(err)
	}
	broken, err := template.New("layout.html").Funcs(funcs).ParseFS(templates.FS, "layout.html", "partials/*.html")
	if err == nil {
		_, err = broken.Parse(`{{define "title"}}x{{end}}{{define "content"}}{{.Data.NoSuchField}}{{end}}`)
	}
	if err != nil {
		t.Fatal(err)
	}
	swap := func(tp *template.Template) {
		a.app.pages.mu.Lock()
		a.app.pages.sets[name] = tp
		a.app.pages.mu.Unlock()
	}
	swap(broken)
	return func() { swap(good) }
}

// TestRenderFailureIsVisible: a render that fails for a reason other than
// the database keeps the last good copy on the page, but the copy says on
// the page and in its header that it is old, /readyz fails with the
// reason, every console page shows it, /metrics counts it, and the
// operators are alerted once; when renders work again all of it clears.
func TestRenderFailureIsVisible(t *testing.T) {
	a := newTestServer(t)
	a.app.opts.MetricsToken = "metrics-secret-0123456789"
	_, cdn, _ := a.seedCatalog()
	op := a.client()
	op.login("editor@example.com")
	pub := a.client()
	expect(t, pub.get("/"), http.StatusOK, "すべてのサービスは正常に稼働しています")
	expect(t, pub.get("/?lang=en"), http.StatusOK, "All systems operational")
	expect(t, pub.get("/readyz"), http.StatusOK)

	// A page with no copy to fall back on says it cannot be shown: a 503,
	// never a 500.
	restoreHistory := breakTemplate(t, a, "history")
	a.app.cache.mu.Lock()
	for k := range a.app.cache.entries {
		if strings.Contains(k, "|history") {
			delete(a.app.cache.entries, k) // as if never rendered
		}
	}
	a.app.cache.mu.Unlock()
	pub.allow5xx = true
	expect(t, pub.get("/history?lang=ja"), http.StatusServiceUnavailable, "このページを表示できません。")
	pub.allow5xx = false
	restoreHistory()
	a.app.Changed()
	expect(t, pub.get("/history?lang=ja"), http.StatusOK)
	expect(t, pub.get("/readyz"), http.StatusOK)

	restore := breakTemplate(t, a, "status")
	declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, false, nil)
	for _, lang := range []string{"", "?lang=en"} {
		r := pub.get("/" + lang)
		if r.code != http.StatusOK || r.header.Get("X-Oshirase-Stale") == "" {
			t.Fatalf("GET /%s during the failure: %d, stale header %q", lang, r.code, r.header.Get("X-Oshirase-Stale"))
		}
		want := map[string]string{"": "この表示は", "?lang=en": "This page shows the status as of"}[lang]
		r.body = shown(r.body)
		expect(t, r, http.StatusOK, want, `class="stale-banner"`)
	}
	pub.get("/") // a second failure, in the same stretch
	pub.allow5xx = true
	r := pub.get("/readyz")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "cannot be rendered") || !strings.Contains(r.body, "NoSuchField") {
		t.Fatalf("readyz during the failure: %d %q", r.code, r.body)
	}
	expect(t, op.get("/admin"), http.StatusOK, `class="render-banner"`, "公開ページを作成できていません")
	expect(t, op.get("/admin/contracts"), http.StatusOK, `class="render-banner"`)
	m := scrape(t, a, a.app.opts.MetricsToken)
	if m["oshirase_page_render_failures_total{cause=render}"] < 1 || m["oshirase_page_render_failing"] != 1 {
		t.Fatalf("metrics do not count the failure: %v", m)
	}
	// One alert for each stretch (the history page's, then this one), to
	// every operator.
	var alerts int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if alerts = a.countKind(data.AlertRenderFailing); alerts > 1 {
			break
		}
	}
	if alerts != 2 {
		t.Fatalf("%d render alerts, want 2", alerts)
	}

	restore()
	a.app.Changed()
	r = pub.get("/?lang=ja")
	r.body = shown(r.body)
	expect(t, r, http.StatusOK, "重大な障害")
	expectNot(t, r, "この表示は", `class="stale-banner"`)
	r = pub.get("/?lang=en")
	r.body = shown(r.body)
	expectNot(t, r, "This page shows the status as of", `class="stale-banner"`)
	expect(t, pub.get("/readyz"), http.StatusOK)
	expectNot(t, op.get("/admin"), `class="render-banner"`)
	if n := a.countKind(data.AlertRenderFailing); n != 2 {
		t.Fatalf("%d render alerts after the recovery, want still 2", n)
	}
}

// shown is a page without its HTML comments: what a reader sees.
func shown(body string) string {
	return htmlComment.ReplaceAllString(body, "")
}

var htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)

// countKind counts the notifications of one kind.
func (a *testApp) countKind(kind string) int64 {
	a.t.Helper()
	ns, _, _, err := a.store.Notifications(context.Background(), 100, 0)
	if err != nil {
		a.t.Fatal(err)
	}
	var n int64
	for _, x := range ns {
		if x.Kind == kind {
			n++
		}
	}
	return n
}

// TestOneAnswerToHowBadItIs: the page's headline, summary.json and the
// badge state the same thing, whether the incident's impact or what the
// components show is worse.
func TestOneAnswerToHowBadItIs(t *testing.T) {
	cases := []struct {
		name      string
		impact    string
		component string
		indicator string
		headline  string // overall.* on the page, in English
	}{
		{"critical incident, partial component", "critical", data.PartialOutage, "critical", "Major outage"},
		{"minor incident, major component", "minor", data.MajorOutage, "critical", "Major outage"},
		{"major incident, degraded component", "major", data.DegradedPerformance, "major", "Partial outage"},
		{"no impact, operational", "none", data.Operational, "none", "All systems operational"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestServer(t)
			_, cdn, _ := a.seedCatalog()
			op := a.client()
			op.login("editor@example.com")
			declareVia(t, op, tc.impact, map[int64]string{cdn: tc.component}, false, nil)
			pub := a.client()
			var summary struct {
				Status struct{ Indicator, Description string }
			}
			if err := json.Unmarshal([]byte(pub.get("/api/v2/summary.json?lang=en").body), &summary); err != nil {
				t.Fatal(err)
			}
			if summary.Status.Indicator != tc.indicator {
				t.Fatalf("summary.json says %q, want %q", summary.Status.Indicator, tc.indicator)
			}
			expect(t, pub.get("/badge.svg?lang=en"), http.StatusOK, summary.Status.Description)
			page := pub.get("/?lang=en")
			expect(t, page, http.StatusOK, "<h1>"+tc.headline+"</h1>")
		})
	}
}
