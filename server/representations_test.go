package server

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/jobs"
)

// Every representation of the status (feeds, the Statuspage JSON, the
// calendar, channel messages, the badge, the console banner) says what the
// page says.

// feedEntry is an Atom entry or an RSS item, whichever the document holds.
type feedEntry struct{ Title, Text, Link string }

func readFeed(t *testing.T, body string) (title string, entries []feedEntry) {
	t.Helper()
	var doc struct {
		Title   string `xml:"title"`
		Entries []struct {
			Title   string `xml:"title"`
			Summary string `xml:"summary"`
			Content string `xml:"content"`
			Link    struct {
				Href string `xml:"href,attr"`
			} `xml:"link"`
		} `xml:"entry"`
		Channel struct {
			Title string `xml:"title"`
			Items []struct {
				Title       string `xml:"title"`
				Description string `xml:"description"`
				Link        string `xml:"link"`
			} `xml:"item"`
		} `xml:"channel"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("feed: %v\n%s", err, body)
	}
	for _, e := range doc.Entries {
		entries = append(entries, feedEntry{e.Title, e.Summary + e.Content, e.Link.Href})
	}
	for _, i := range doc.Channel.Items {
		entries = append(entries, feedEntry{i.Title, i.Description, i.Link})
	}
	return doc.Title + doc.Channel.Title, entries
}

// TestRepresentationsCancelledUpgradeInFeeds: a cancelled upgrade says so
// in Atom and RSS, in both languages, as cancelled maintenance and /news do.
func TestRepresentationsCancelledUpgradeInFeeds(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	p, _, _ := a.seedCatalog()
	start := a.clock.Now().Add(10 * 24 * time.Hour)
	u, err := a.store.CreateUpgrade(ctx, data.UpgradeInput{ProductID: p, Version: "3.2.0", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		SummaryJA: "グラフの種類を追加します。", SummaryEN: "Adds chart types.", LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := a.store.CreateUpgrade(ctx, data.UpgradeInput{ProductID: p, Version: "3.3.0", StartsAt: start.Add(24 * time.Hour),
		EndsAt: start.Add(26 * time.Hour), SummaryJA: "予定どおりです。", LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Hour)
	if err := a.store.CancelUpgrade(ctx, u.ID, data.Notice{}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	expect(t, a.client().get("/news"), http.StatusOK, "中止")
	for _, c := range []struct{ path, status, note string }{
		{"/feed.atom", "(中止)", "このバージョンアップは中止されました。"},
		{"/feed.rss", "(中止)", "このバージョンアップは中止されました。"},
		{"/feed.atom?lang=en", "(Cancelled)", "This upgrade has been cancelled."},
		{"/feed.rss?lang=en", "(Cancelled)", "This upgrade has been cancelled."},
	} {
		_, entries := readFeed(t, a.client().get(c.path).body)
		found := 0
		for _, e := range entries {
			switch {
			case strings.HasSuffix(e.Link, "/upgrades/"+itoa(u.ID)):
				found++
				if !strings.HasSuffix(e.Title, c.status) || !strings.Contains(e.Text, c.note) {
					t.Errorf("%s: cancelled upgrade reads %q / %q", c.path, e.Title, e.Text)
				}
			case strings.HasSuffix(e.Link, "/upgrades/"+itoa(kept.ID)):
				found++
				if strings.Contains(e.Title, c.status) || strings.Contains(e.Text, c.note) {
					t.Errorf("%s: an upgrade still planned reads %q / %q", c.path, e.Title, e.Text)
				}
			}
		}
		if found != 2 {
			t.Errorf("%s: %d of the 2 upgrades", c.path, found)
		}
	}
}

// TestRepresentationsRecoveryDraftBanner: the console banner says a
// recovery waits when the waiting draft is a resolving update, and names
// both when problems and recoveries wait.
func TestRepresentationsRecoveryDraftBanner(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	_, cdn, api := a.seedCatalog()
	if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}}); err != nil {
		t.Fatal(err)
	}
	signal := func(comp int64, status string) *data.SignalOutcome {
		t.Helper()
		out, err := a.store.Signal(ctx, data.Signal{ComponentID: comp, Source: "monitor:test", Status: status, Detail: "HTTP 503"})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// The monitor saw the trouble the operator had already declared; the
	// operator dismissed that draft. Now the monitor sees the recovery.
	down := signal(cdn, data.PartialOutage)
	if down.Draft == nil {
		t.Fatalf("no draft: %+v", down)
	}
	if err := a.store.CloseDraft(ctx, down.Draft.ID, data.DraftDismissed, nil); err != nil {
		t.Fatal(err)
	}
	if up := signal(cdn, data.Operational); up.Action != "resolve_draft" {
		t.Fatalf("recovery: %+v", up)
	}
	op := a.client()
	op.login("editor@example.com")
	r := op.get("/admin")
	expect(t, r, http.StatusOK, "drafts-banner", "監視で復旧を確認しました。確認待ちの復旧の更新が1件あります。")
	expectNot(t, r, "監視が異常を検知しました")
	op.lang = "en"
	r = op.get("/admin?lang=en")
	expect(t, r, http.StatusOK, "Monitoring saw a recovery: a resolving update is waiting for you.")
	expectNot(t, r, "Monitoring detected a problem")

	// A problem on another component too: both are said.
	signal(api, data.MajorOutage)
	op.lang = ""
	r = op.get("/admin?lang=ja")
	expect(t, r, http.StatusOK, "監視が異常と復旧を検知しました。確認待ちの下書きが2件（うち復旧の更新1件）あります。")
}

// TestRepresentationsPageNameFollowsBranding: the Statuspage JSON's
// page.name is the branded title, in the JSON's language.
func TestRepresentationsPageNameFollowsBranding(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	a.seedCatalog()
	if err := a.store.SaveBranding(ctx, data.BrandingInput{TitleJA: "エグザンプル稼働状況", TitleEN: "Example Status"}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	for _, c := range []struct{ lang, want string }{{"", "Example Status"}, {"en", "Example Status"}, {"ja", "エグザンプル稼働状況"}} {
		for _, ep := range []string{"status", "summary", "components"} {
			var doc struct{ Page spPage }
			h := map[string]string{}
			if c.lang != "" {
				h["Accept-Language"] = c.lang
			}
			strictJSON(t, a, "/api/v2/"+ep+".json", h, &doc)
			if doc.Page.Name != c.want {
				t.Errorf("%s.json, lang %q: page.name %q, want %q", ep, c.lang, doc.Page.Name, c.want)
			}
		}
	}
	// The feeds are titled as the page is, too.
	for path, want := range map[string]string{"/feed.atom": "エグザンプル稼働状況", "/feed.rss?lang=en": "Example Status"} {
		if title, _ := readFeed(t, a.client().get(path).body); title != want {
			t.Errorf("%s: title %q, want %q", path, title, want)
		}
	}
}

// TestRepresentationsBadgeAgreesWithSummary: the badge says what
// summary.json's status says, in every state.
func TestRepresentationsBadgeAgreesWithSummary(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	_, cdn, api := a.seedCatalog()
	check := func(state, indicator string) {
		t.Helper()
		a.app.changed()
		for _, lang := range []string{"en", "ja"} {
			var doc struct{ Status spStatus }
			strictJSON(t, a, "/api/v2/summary.json?lang="+lang, nil, &doc)
			if doc.Status.Indicator != indicator {
				t.Errorf("%s: summary indicator %q, want %q", state, doc.Status.Indicator, indicator)
			}
			badge := a.client().get("/badge.svg?lang=" + lang).body
			if !strings.Contains(badge, ": "+doc.Status.Description+"</title>") {
				t.Errorf("%s (%s): summary says %q, the badge %s", state, lang, doc.Status.Description, badge)
			}
		}
	}
	check("healthy", "none")
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "作業", BodyJA: "予定です。",
		StartsAt: a.clock.Now().Add(time.Hour), EndsAt: a.clock.Now().Add(3 * time.Hour), ComponentIDs: []int64{api}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Hour)
	if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"}); err != nil {
		t.Fatal(err)
	}
	check("maintenance", "maintenance")
	// A critical incident whose component shows a partial outage: the
	// impact decides, on the badge as in the JSON.
	if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "critical", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}}); err != nil {
		t.Fatal(err)
	}
	check("critical incident", "critical")
	if badge := a.client().get("/badge.svg?lang=en").body; strings.Contains(badge, "Partial outage") || !strings.Contains(badge, indicatorColors["critical"]) {
		t.Errorf("critical badge %s", badge)
	}
	// A component's own badge still says the component's status.
	if badge := a.client().get("/badge.svg?lang=en&component=" + itoa(cdn)).body; !strings.Contains(badge, "Partial outage") {
		t.Errorf("component badge %s", badge)
	}
}

// TestRepresentationsDeliverNotifications: an update's
// deliver_notifications says whether that update was sent to anyone.
func TestRepresentationsDeliverNotifications(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	p, cdn, api := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"taro@example.com": "primary/ja"})
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}, Notice: data.Notice{Send: true}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Minute)
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Identified, BodyJA: "特定しました。",
		Components: map[int64]string{cdn: data.PartialOutage}}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Minute)
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。",
		Components: map[int64]string{cdn: data.Operational}, Notice: data.Notice{Send: true}}); err != nil {
		t.Fatal(err)
	}
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "作業", BodyJA: "予定です。", StartsAt: a.clock.Now().Add(time.Hour),
		EndsAt: a.clock.Now().Add(3 * time.Hour), ComponentIDs: []int64{api}, Notice: data.Notice{Send: true}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Hour)
	if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Minute)
	if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.Completed, BodyJA: "終了しました。",
		Notice: data.Notice{Send: true}}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	flags := func(ups []spUpdate) string {
		var s []string
		for _, u := range ups {
			s = append(s, u.Status+":"+strconv.FormatBool(u.DeliverNotifications))
		}
		return strings.Join(s, ",")
	}
	var incs struct{ Incidents []spIncident }
	strictJSON(t, a, "/api/v2/incidents.json", nil, &incs)
	if len(incs.Incidents) != 1 {
		t.Fatalf("%d incidents", len(incs.Incidents))
	}
	if got, want := flags(incs.Incidents[0].IncidentUpdates), "resolved:true,identified:false,investigating:true"; got != want {
		t.Errorf("incident updates %s, want %s", got, want)
	}
	var ms struct {
		ScheduledMaintenances []spIncident `json:"scheduled_maintenances"`
	}
	strictJSON(t, a, "/api/v2/scheduled-maintenances.json", nil, &ms)
	if got, want := flags(ms.ScheduledMaintenances[0].IncidentUpdates), "completed:true,in_progress:false,scheduled:true"; got != want {
		t.Errorf("maintenance updates %s, want %s", got, want)
	}
}

// TestRepresentationsComponentUpdatedAt: a component's updated_at is when
// what it shows last changed, not when its row was last written.
func TestRepresentationsComponentUpdatedAt(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	_, cdn, api := a.seedCatalog()
	created := a.clock.Now()
	ts := func(t time.Time) string { return t.In(a.app.opts.Location).Format("2006-01-02T15:04:05.000-07:00") }
	check := func(step string, want map[int64]time.Time) {
		t.Helper()
		a.app.changed()
		var doc struct{ Components []spComponent }
		strictJSON(t, a, "/api/v2/components.json", nil, &doc)
		for id, at := range want {
			for _, c := range doc.Components {
				if c.ID == componentID(id) && c.UpdatedAt != ts(at) {
					t.Errorf("%s: %s updated_at %s, want %s", step, c.Name, c.UpdatedAt, ts(at))
				}
			}
		}
	}
	a.clock.Advance(time.Hour)
	opened := a.clock.Now()
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}})
	if err != nil {
		t.Fatal(err)
	}
	check("incident opened", map[int64]time.Time{cdn: opened, api: created})

	// Writes that change nothing shown.
	a.clock.Advance(time.Hour)
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Identified, BodyJA: "特定しました。",
		Components: map[int64]string{cdn: data.PartialOutage}}); err != nil {
		t.Fatal(err)
	}
	check("same status again", map[int64]time.Time{cdn: opened, api: created})
	a.clock.Advance(time.Hour)
	if err := a.store.SetComponentStatus(ctx, api, data.Operational); err != nil {
		t.Fatal(err)
	}
	check("status set to what it was", map[int64]time.Time{cdn: opened, api: created})
	a.clock.Advance(time.Hour)
	if _, err := a.store.Signal(ctx, data.Signal{ComponentID: api, Source: "monitor:test", Status: data.MajorOutage, Detail: "timeout"}); err != nil {
		t.Fatal(err)
	}
	check("a monitor's draft", map[int64]time.Time{cdn: opened, api: created})
	a.clock.Advance(time.Hour)
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "作業", BodyJA: "予定です。", StartsAt: a.clock.Now().Add(time.Hour),
		EndsAt: a.clock.Now().Add(3 * time.Hour), ComponentIDs: []int64{api}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Minute)
	if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.Cancelled, BodyJA: "中止します。"}); err != nil {
		t.Fatal(err)
	}
	check("a window cancelled before it began", map[int64]time.Time{cdn: opened, api: created})

	// Changes of what is shown.
	a.clock.Advance(time.Hour)
	set := a.clock.Now()
	if err := a.store.SetComponentStatus(ctx, api, data.DegradedPerformance); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Hour)
	resolved := a.clock.Now()
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"}); err != nil {
		t.Fatal(err)
	}
	check("status changes", map[int64]time.Time{cdn: resolved, api: set})
}

// icsEvent reads the properties of one VEVENT of a calendar.
func icsEvent(t *testing.T, body, uid string) map[string]string {
	t.Helper()
	body = strings.ReplaceAll(body, "\r\n ", "")
	for _, ev := range strings.Split(body, "BEGIN:VEVENT")[1:] {
		props := map[string]string{}
		for _, line := range strings.Split(strings.Split(ev, "END:VEVENT")[0], "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				k, _, _ = strings.Cut(k, ";")
				props[k] = v
			}
		}
		if props["UID"] == uid {
			return props
		}
	}
	t.Fatalf("no event %s in\n%s", uid, body)
	return nil
}

// TestRepresentationsCalendarEndsWhenWorkEnds: a completed window ends in
// calendars when the work ended, as a new revision; a cancelled one is
// cancelled.
func TestRepresentationsCalendarEndsWhenWorkEnds(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	_, cdn, api := a.seedCatalog()
	planned := a.clock.Now().Add(time.Hour)
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "作業", BodyJA: "予定です。", StartsAt: planned,
		EndsAt: planned.Add(3 * time.Hour), ComponentIDs: []int64{cdn}})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "中止する作業", BodyJA: "予定です。", StartsAt: planned.Add(24 * time.Hour),
		EndsAt: planned.Add(25 * time.Hour), ComponentIDs: []int64{api}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Set(planned.Add(5 * time.Minute))
	started := a.clock.Now()
	if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(50 * time.Minute)
	ended := a.clock.Now()
	if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.Completed, BodyJA: "終了しました。"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.PostMaintenanceUpdate(ctx, gone.ID, data.NewMaintenanceUpdate{Status: data.Cancelled, BodyJA: "中止します。"}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	stamp := func(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
	for _, path := range []string{"/maintenance.ics", "/maintenance/" + itoa(m.ID) + "/event.ics"} {
		ev := icsEvent(t, a.client().get(path).body, "maintenance-"+itoa(m.ID)+"@status.example.com")
		if ev["STATUS"] != "CONFIRMED" || ev["DTSTART"] != stamp(started) || ev["DTEND"] != stamp(ended) ||
			ev["SEQUENCE"] != "1" || ev["LAST-MODIFIED"] != stamp(ended) {
			t.Errorf("%s: completed window %v, want %s–%s, sequence 1", path, ev, stamp(started), stamp(ended))
		}
	}
	ev := icsEvent(t, a.client().get("/maintenance.ics").body, "maintenance-"+itoa(gone.ID)+"@status.example.com")
	if ev["STATUS"] != "CANCELLED" || ev["SEQUENCE"] != "1" || ev["DTEND"] != stamp(planned.Add(25*time.Hour)) {
		t.Errorf("cancelled window %v", ev)
	}
}

// TestRepresentationsScheduledWindowToChannels: a window days ahead reads
// in Slack, Teams and webhooks as scheduled, with its time; nothing is
// under maintenance yet.
func TestRepresentationsScheduledWindowToChannels(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	okay := func(string) (int, string) { return 200, "ok" }
	slack, teams, hook := newEndpoint(t, okay), newEndpoint(t, okay), newEndpoint(t, okay)
	for _, in := range []data.ChannelInput{{Kind: data.ChannelSlack, URL: slack.URL, Lang: "ja"}, {Kind: data.ChannelTeams, URL: teams.URL, Lang: "en"},
		{Kind: data.ChannelWebhook, URL: hook.URL, Lang: "en", Secret: "whsec-test"}} {
		if _, err := a.store.CreateChannel(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	start := a.clock.Now().Add(3 * 24 * time.Hour)
	if _, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "配信基盤の更新", TitleEN: "CDN upgrade", BodyJA: "予定です。",
		BodyEN: "Planned.", StartsAt: start, EndsAt: start.Add(2 * time.Hour), ComponentIDs: []int64{cdn}, Notice: data.Notice{Send: true}}); err != nil {
		t.Fatal(err)
	}
	sender := jobs.NewChannelSender(a.store, a.app.opts.Outbound, a.app.opts.Channels, jobs.ChannelOptions{Now: a.clock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if st, err := sender.Sweep(ctx); err != nil || st.Sent != 3 {
		t.Fatalf("sweep %+v %v", st, err)
	}
	tokyo := a.app.opts.Location
	if b := slack.bodies[0]; strings.Contains(b, "メンテナンス中") || !strings.Contains(b, "予定") ||
		!strings.Contains(b, locale.FormatTime("ja", start, tokyo)) || !strings.Contains(b, locale.FormatTime("ja", start.Add(2*time.Hour), tokyo)) {
		t.Errorf("Slack reads %s", b)
	}
	if b := teams.bodies[0]; strings.Contains(strings.ToLower(b), "under maintenance") || !strings.Contains(b, "Scheduled") ||
		!strings.Contains(b, locale.FormatTime("en", start, tokyo)) {
		t.Errorf("Teams reads %s", b)
	}
	var wh struct {
		Incident struct {
			Status         string
			ScheduledFor   string `json:"scheduled_for"`
			ScheduledUntil string `json:"scheduled_until"`
			Components     []struct{ Status string }
		}
	}
	if err := json.Unmarshal([]byte(hook.bodies[0]), &wh); err != nil || wh.Incident.Status != data.Scheduled ||
		len(wh.Incident.Components) != 1 || wh.Incident.Components[0].Status != data.Operational ||
		wh.Incident.ScheduledFor != start.UTC().Format(time.RFC3339) || wh.Incident.ScheduledUntil != start.Add(2*time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("webhook reads %s (%v)", hook.bodies[0], err)
	}
}

// TestRepresentationsStartDate: components carry start_date, the day they
// were created in the page's zone, as Statuspage's do.
func TestRepresentationsStartDate(t *testing.T) {
	a := newTestServer(t)
	// 05:00 in Tokyo on the 27th, still the 26th in UTC.
	a.clock.Set(time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC))
	_, cdn, api := a.seedCatalog()
	var doc struct{ Components []spComponent }
	strictJSON(t, a, "/api/v2/components.json", nil, &doc)
	seen := 0
	for _, c := range doc.Components {
		if c.ID != componentID(cdn) && c.ID != componentID(api) {
			continue
		}
		seen++
		if c.StartDate == nil || *c.StartDate != "2026-11-27" {
			t.Errorf("%s: start_date %v, want 2026-11-27", c.Name, c.StartDate)
		}
	}
	if seen != 2 {
		t.Fatalf("%d components", seen)
	}
}
