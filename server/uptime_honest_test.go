package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/jobs"
)

// componentBlock is the part of the public page that lists one component
// (its name, description, bar and measurements).
func componentBlock(t *testing.T, body, name string) string {
	t.Helper()
	for _, part := range strings.Split(body, `<li class="component">`)[1:] {
		if strings.Contains(part, `<span class="name">`+name+`</span>`) {
			part, _, _ = strings.Cut(part, "</ul>")
			return part
		}
	}
	t.Fatalf("no component %q on the page:\n%s", name, body)
	return ""
}

var noDataDay = regexp.MustCompile(`<li class="day st-no-data" tabindex="0">`)

// uptimeRig is a component whose checks show their uptime, watched by a
// real runner against an HTTP server that fails on cue.
type uptimeRig struct {
	a       *testApp
	cdn     int64
	failing atomic.Bool
	runner  *jobs.MonitorRunner
}

func newUptimeRig(t *testing.T, interval int) *uptimeRig {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	r := &uptimeRig{a: a, cdn: cdn}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if r.failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "healthy")
	}))
	t.Cleanup(target.Close)
	ctx := context.Background()
	if err := a.store.SetAutomation(ctx, cdn, data.Automation{AutoImpact: "major", ShowUptime: true}); err != nil {
		t.Fatal(err)
	}
	in := data.DefaultMonitor
	in.ComponentID, in.Name, in.Target, in.IntervalS = cdn, "トップページ", target.URL, interval
	if _, err := a.store.CreateMonitor(ctx, in); err != nil {
		t.Fatal(err)
	}
	a.openLoopback()
	r.runner = jobs.NewMonitorRunner(a.store, jobs.MonitorOptions{Instance: "test", Now: a.clock.Now, Location: a.app.opts.Location, Outbound: a.app.opts.Outbound},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	return r
}

// sweep runs the checks due now.
func (r *uptimeRig) sweep(t *testing.T) {
	t.Helper()
	if _, err := r.runner.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// page is the public page as a reader in lang sees it now.
func (r *uptimeRig) page(t *testing.T, lang string) string {
	t.Helper()
	r.a.app.changed()
	c := r.a.client()
	c.lang = lang
	res := c.get("/")
	expect(t, res, http.StatusOK)
	return res.body
}

// TestUptimeHonestMeasuredSpan: ten minutes of failing checks are not
// "uptime over 90 days": until a day of results is in, the page says
// measurement has just started and shows no percentage; then it names the
// day measurement started.
func TestUptimeHonestMeasuredSpan(t *testing.T) {
	r := newUptimeRig(t, 60)
	r.failing.Store(true)
	for i := 0; i < 10; i++ {
		r.sweep(t)
		r.a.clock.Advance(time.Minute)
	}
	for _, lang := range []string{"ja", "en"} {
		block := componentBlock(t, r.page(t, lang), map[string]string{"ja": "配信CDN", "en": "Delivery CDN"}[lang])
		want := map[string]string{"ja": "監視による稼働率は2026年11月26日 15:30 JSTから測定を始めたところです。24時間分の結果がそろうと表示します。",
			"en": "Uptime measured by checks: measuring since Nov 26, 2026 15:30 JST; the figure is shown once 24 hours of results are in."}[lang]
		if !strings.Contains(block, want) {
			t.Errorf("%s: the measured uptime does not say it is starting:\n%s", lang, block)
		}
		if _, m, _ := strings.Cut(block, `<div class="measured">`); strings.Contains(m, "%") {
			t.Errorf("%s: a percentage over ten minutes:\n%s", lang, block)
		}
	}

	// A day and more of results, every ten minutes, two of them failed.
	r.failing.Store(false)
	ctx := context.Background()
	ms, _ := r.a.store.Monitors(ctx)
	for i := 0; i < 150; i++ {
		res := data.CheckResult{At: r.a.clock.Now(), OK: i != 40 && i != 41, Latency: 100 * time.Millisecond}
		if _, err := r.a.store.RecordCheck(ctx, ms[0].ID, "elsewhere", res, r.a.app.opts.Location); err != nil {
			t.Fatal(err)
		}
		r.a.clock.Advance(10 * time.Minute)
	}
	// 160 checks, 12 failed.
	for lang, want := range map[string]string{"ja": "監視による稼働率（11月26日から） 92.50%", "en": "92.50% uptime measured by checks since Nov 26"} {
		block := componentBlock(t, r.page(t, lang), map[string]string{"ja": "配信CDN", "en": "Delivery CDN"}[lang])
		if !strings.Contains(block, want) || strings.Contains(block, "（過去90日間）") || strings.Contains(block, "checks, last 90 days") {
			t.Errorf("%s: want %q:\n%s", lang, want, block)
		}
	}
}

// TestUptimeHonestNoDataBeforeComponent: a component created today has
// no history before today: those days are "no data" (their own class,
// pattern, legend entry and words), and the percentage names the day it
// counts from. A backdated incident moves the start back to it.
func TestUptimeHonestNoDataBeforeComponent(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	_, cdn, _ := a.seedCatalog()

	for _, lang := range []string{"ja", "en"} {
		c := a.client()
		c.lang = lang
		r := c.get("/")
		w := map[string][]string{
			"ja": {"配信CDN", "記録なし", "この日はまだ掲載前のため、記録がありません。稼働率には含めていません。", "11月26日からの稼働率 100.00%"},
			"en": {"Delivery CDN", "No data", "Not yet listed on this day, so nothing was recorded. It is not counted in the uptime.", "100.00% uptime since Nov 26"},
		}[lang]
		expect(t, r, http.StatusOK, `<li><span class="swatch st-no-data" aria-hidden="true"></span>`+w[1]+`</li>`, w[2])
		block := componentBlock(t, r.body, w[0])
		if n := len(noDataDay.FindAllString(block, -1)); n != 89 {
			t.Errorf("%s: %d days without data, want 89", lang, n)
		}
		if !strings.Contains(block, w[3]) || strings.Contains(block, "過去90日間の稼働率") || strings.Contains(block, "last 90 days") {
			t.Errorf("%s: the percentage does not name its start:\n%s", lang, block)
		}
		if strings.Count(block, "障害はありませんでした")+strings.Count(block, "No incidents") != 1 {
			t.Errorf("%s: days before the component say there were no incidents", lang)
		}
	}

	// An incident an operator backdated ten days: the history starts there.
	a.clock.Advance(-10 * 24 * time.Hour)
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の停止", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.MajorOutage}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Hour)
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(10*24*time.Hour - time.Hour)
	a.app.changed()
	body := a.client().get("/").body
	block := componentBlock(t, body, "配信CDN")
	if n := len(noDataDay.FindAllString(block, -1)); n != 79 {
		t.Errorf("cdn: %d days without data, want 79", n)
	}
	// One hour down in ten days.
	if want := "11月16日からの稼働率 99.58%"; !strings.Contains(block, want) {
		t.Errorf("cdn: want %q:\n%s", want, block)
	}
	if n := len(noDataDay.FindAllString(componentBlock(t, body, "ライセンスAPI"), -1)); n != 89 {
		t.Errorf("api: %d days without data, want 89", n)
	}
}

// TestUptimeHonestManualStatusCounts: a status an operator sets by hand,
// with no incident, colours its day and counts in the uptime.
func TestUptimeHonestManualStatusCounts(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	a.clock.Advance(3 * 24 * time.Hour) // Nov 29, 15:30 in Tokyo
	op := a.client()
	op.login("editor@example.com")
	path := "/admin/components/" + strconv.FormatInt(cdn, 10) + "/status"
	expect(t, op.post(path, url.Values{"status": {data.MajorOutage}}), http.StatusSeeOther)
	a.clock.Advance(2 * time.Hour)
	expect(t, op.post(path, url.Values{"status": {data.Operational}}), http.StatusSeeOther)
	a.app.changed()

	for lang, want := range map[string][]string{
		"ja": {"配信CDN", "重大な障害: 2時間0分", "運用担当者が設定した状態です", "11月26日からの稼働率 97.30%"},
		"en": {"Delivery CDN", "Major outage: 2h 0m", "Status set by our staff", "97.30% uptime since Nov 26"},
	} {
		c := a.client()
		c.lang = lang
		block := componentBlock(t, c.get("/").body, want[0])
		days := regexp.MustCompile(`<li class="day (st-[a-z-]+)"`).FindAllStringSubmatch(block, -1)
		if len(days) != 90 || days[89][1] != "st-major-outage" {
			t.Fatalf("%s: today is not shown as a major outage: %v", lang, days[len(days)-1])
		}
		for _, w := range want[1:] {
			if !strings.Contains(block, w) {
				t.Errorf("%s: lacks %q:\n%s", lang, w, block)
			}
		}
	}

	// A status set before the bar's window still holds on its first day.
	expect(t, op.post(path, url.Values{"status": {data.PartialOutage}}), http.StatusSeeOther)
	a.clock.Advance(95 * 24 * time.Hour)
	a.app.changed()
	block := componentBlock(t, a.client().get("/").body, "配信CDN")
	if n := strings.Count(block, `<li class="day st-partial-outage"`); n != 90 {
		t.Errorf("%d of 90 days in partial outage", n)
	}
	if !strings.Contains(block, "過去90日間の稼働率 70.00%") {
		t.Errorf("a partial outage counts for 30%%:\n%s", block)
	}
}

// TestUptimeHonestMaintenanceExcluded: checks failing inside a maintenance
// window covering the component count neither as down nor at all, and
// prepare no draft.
func TestUptimeHonestMaintenanceExcluded(t *testing.T) {
	r := newUptimeRig(t, 600)
	ctx := context.Background()
	start := r.a.clock.Now().Add(2 * time.Hour)
	m, err := r.a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "CDNの切り替え", StartsAt: start, EndsAt: start.Add(3 * time.Hour),
		BodyJA: "切り替えます。", ComponentIDs: []int64{r.cdn}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 26*6; i++ {
		now := r.a.clock.Now()
		if _, err := r.a.store.AutoAdvanceMaintenance(ctx, m.ID, data.Notice{}); err != nil {
			t.Fatal(err)
		}
		r.failing.Store(!now.Before(start) && now.Before(start.Add(3*time.Hour)))
		r.sweep(t)
		if r.failing.Load() {
			if n, _ := r.a.store.WaitingDrafts(ctx); n != 0 {
				t.Fatalf("a draft during maintenance at %v", now)
			}
		}
		r.a.clock.Advance(10 * time.Minute)
	}
	if got, _ := r.a.store.Maintenance(ctx, m.ID); got.Status != data.Completed {
		t.Fatalf("maintenance %s", got.Status)
	}
	if n, _ := r.a.store.WaitingDrafts(ctx); n != 0 {
		t.Fatalf("%d drafts after a failure only during maintenance", n)
	}
	if open, _ := r.a.store.OpenIncidents(ctx); len(open) != 0 {
		t.Fatalf("open incidents %v", open)
	}
	block := componentBlock(t, r.page(t, "ja"), "配信CDN")
	if !strings.Contains(block, "監視による稼働率（11月26日から） 100.00%") {
		t.Errorf("maintenance counted as downtime:\n%s", block)
	}
}

// TestUptimeHonestComponentDescription: the description an operator wrote
// shows under the component's name, in the reader's language.
func TestUptimeHonestComponentDescription(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	p, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard", NameEN: "krewDashboard"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "配信CDN", NameEN: "Delivery CDN",
		DescriptionJA: "プラグインのファイルを配信します。", DescriptionEN: "Serves the plugin files."}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "ライセンスAPI", DescriptionJA: "ライセンスを確認します。"}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	for lang, want := range map[string][2]string{
		"ja": {"プラグインのファイルを配信します。", "ライセンスを確認します。"},
		"en": {"Serves the plugin files.", "ライセンスを確認します。"},
	} {
		c := a.client()
		c.lang = lang
		body := c.get("/").body
		name := map[string]string{"ja": "配信CDN", "en": "Delivery CDN"}[lang]
		if block := componentBlock(t, body, name); !strings.Contains(block, `<p class="component-desc small muted">`+want[0]+`</p>`) {
			t.Errorf("%s: no description under %s:\n%s", lang, name, block)
		}
		if block := componentBlock(t, body, "ライセンスAPI"); !strings.Contains(block, `<p class="component-desc small muted">`+want[1]+`</p>`) {
			t.Errorf("%s: no description under the license API:\n%s", lang, block)
		}
	}
	if strings.Contains(a.client().get("/").body, "Serves the plugin files.") {
		t.Error("the English description on the Japanese page")
	}
}
