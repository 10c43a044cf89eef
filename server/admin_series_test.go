package server

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"

	"github.com/oshirase/oshirase/data"
)

// seriesForm is a valid series form: weekly on Tuesdays at 02:00 Tokyo,
// an hour long, four times, from the first Tuesday after t0 (2026-12-01).
func seriesForm(comp int64) url.Values {
	return url.Values{"title_ja": {"定期メンテナンス"}, "title_en": {"Weekly maintenance"}, "freq": {"weekly"}, "interval": {"1"},
		"weekdays": {"TU"}, "starts_at": {"2026-12-01T02:00"}, "duration": {"60"}, "end": {"count"}, "count": {"4"},
		"reminder": {"1d"}, "components": {strconv.FormatInt(comp, 10)}, "body_ja": {"毎週の作業です。"}, "body_en": {"Weekly work."},
		"notify": {"1"}}
}

// seriesApp is a server with a product of two components, a contract
// using it with a primary contact, and an editor signed in.
func seriesApp(t *testing.T) (a *testApp, c *client, cdn, api int64) {
	a = newTestServer(t)
	product, cdn, api := a.seedCatalog()
	a.contractWith("S-1", []int64{product}, map[string]string{"primary@example.com": "primary/ja"})
	c = a.client()
	c.login("editor@example.com")
	return a, c, cdn, api
}

// seriesSignIn is a fresh sign-in, after the clock moved past the session.
func seriesSignIn(a *testApp) *client {
	c := a.client()
	c.login("editor@example.com")
	return c
}

func createSeriesHTTP(t *testing.T, c *client, form url.Values) int64 {
	t.Helper()
	c.get("/admin/series/new")
	r := c.post("/admin/series", form)
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/admin/series/") {
		t.Fatalf("create series: %d %s\n%s", r.code, r.header.Get("Location"), r.body)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(r.header.Get("Location"), "/admin/series/"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func occurrences(t *testing.T, a *testApp, id int64) []data.Maintenance {
	t.Helper()
	ms, err := a.store.SeriesOccurrences(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func notificationKinds(t *testing.T, a *testApp) map[string]int {
	t.Helper()
	ns, _, _, err := a.store.Notifications(context.Background(), 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, n := range ns {
		out[n.Kind]++
	}
	return out
}

// calendarOf fetches the public calendar and parses it with golang-ical.
func calendarOf(t *testing.T, c *client) *ics.Calendar {
	t.Helper()
	r := c.get("/maintenance.ics")
	expect(t, r, http.StatusOK)
	cal, err := ics.ParseCalendar(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("calendar does not parse: %v\n%s", err, r.body)
	}
	return cal
}

func prop(e *ics.VEvent, p ics.ComponentProperty) *ics.IANAProperty {
	return e.GetProperty(p)
}

// expandEvent expands a recurring VEVENT with rrule-go: DTSTART in its
// TZID (resolved from the zone database), the RRULE, minus EXDATE.
func expandEvent(t *testing.T, e *ics.VEvent) []time.Time {
	t.Helper()
	start := prop(e, ics.ComponentPropertyDtStart)
	tzid := start.ICalParameters["TZID"]
	if len(tzid) != 1 {
		t.Fatalf("DTSTART has no TZID: %v", start)
	}
	loc, err := time.LoadLocation(tzid[0])
	if err != nil {
		t.Fatal(err)
	}
	dt, err := time.ParseInLocation("20060102T150405", start.Value, loc)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := rrule.StrToROption(prop(e, ics.ComponentPropertyRrule).Value)
	if err != nil {
		t.Fatal(err)
	}
	opt.Dtstart = dt
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		t.Fatal(err)
	}
	set := rrule.Set{}
	set.RRule(r)
	if ex := prop(e, ics.ComponentPropertyExdate); ex != nil {
		for _, v := range strings.Split(ex.Value, ",") {
			d, err := time.ParseInLocation("20060102T150405", v, loc)
			if err != nil {
				t.Fatal(err)
			}
			set.ExDate(d)
		}
	}
	return set.All()
}

func seriesEvents(cal *ics.Calendar, uidPrefix string) (master *ics.VEvent, overrides []*ics.VEvent) {
	for _, e := range cal.Events() {
		if !strings.HasPrefix(e.Id(), uidPrefix) {
			continue
		}
		if e.GetProperty(ics.ComponentPropertyRecurrenceId) != nil {
			overrides = append(overrides, e)
		} else {
			master = e
		}
	}
	return
}

func TestSeriesWeeklyMaterializedAnnouncedAndOnCalendar(t *testing.T) {
	a, c, cdn, _ := seriesApp(t)
	id := createSeriesHTTP(t, c, seriesForm(cdn))

	ms := occurrences(t, a, id)
	if len(ms) != 4 {
		t.Fatalf("%d occurrences made, want all 4 (within 90 days)", len(ms))
	}
	tokyo := a.app.opts.Location
	for i, m := range ms {
		want := time.Date(2026, 12, 1+7*i, 2, 0, 0, 0, tokyo)
		if !m.StartsAt.Equal(want) || !m.EndsAt.Equal(want.Add(time.Hour)) || m.OccurrenceAt == nil || !m.OccurrenceAt.Equal(want) {
			t.Errorf("occurrence %d: %s–%s (occurrence %v), want %s", i, m.StartsAt, m.EndsAt, m.OccurrenceAt, want)
		}
		if m.Status != data.Scheduled || !m.Notify || m.ReminderLeadSeconds != 86400 || m.SeriesID == nil || *m.SeriesID != id || m.Detached {
			t.Errorf("occurrence %d: %+v", i, m)
		}
	}
	// One announcement for the series, not one per occurrence.
	if k := notificationKinds(t, a); k[data.MaintenanceScheduled] != 1 {
		t.Errorf("notifications %v, want one scheduled notice", k)
	}
	// Each occurrence has its own lifecycle: the maintenance job reminds,
	// opens and closes the first as any window.
	a.clock.Set(time.Date(2026, 11, 30, 3, 0, 0, 0, tokyo))
	if _, err := a.store.SendMaintenanceReminder(context.Background(), ms[0].ID, true); err != nil {
		t.Fatal(err)
	}
	a.clock.Set(time.Date(2026, 12, 1, 2, 1, 0, 0, tokyo))
	if moved, err := a.store.AutoAdvanceMaintenance(context.Background(), ms[0].ID, data.Notice{Send: true, Hold: true}); err != nil || moved != data.InProgress {
		t.Fatalf("advance: %q %v", moved, err)
	}
	if k := notificationKinds(t, a); k[data.MaintenanceReminder] != 1 || k[data.MaintenanceStarted] != 1 {
		t.Errorf("notifications %v, want a reminder and a start of the first occurrence", k)
	}

	// The console and the public page say how it repeats, in both languages.
	c = seriesSignIn(a)
	expect(t, c.get("/admin/series/"+strconv.FormatInt(id, 10)), http.StatusOK, "毎週火曜 02:00〜03:00", "全4回")
	expect(t, c.get("/admin/maintenance/"+strconv.FormatInt(ms[1].ID, 10)), http.StatusOK, "定期メンテナンスの1回です", "毎週火曜")
	pub := a.client()
	expect(t, pub.get("/maintenance/"+strconv.FormatInt(ms[1].ID, 10)), http.StatusOK, "毎週火曜 02:00〜03:00")
	pub.lang = "en"
	expect(t, pub.get("/maintenance/"+strconv.FormatInt(ms[1].ID, 10)+"?lang=en"), http.StatusOK, "Every Tuesday, 02:00–03:00")
	// The status page lists the series once among what is coming (its next
	// occurrence, with the rule and how many follow), beside the one under
	// way.
	home := a.client().get("/")
	if n := strings.Count(home.body, ">定期メンテナンス</a>"); n != 2 {
		t.Errorf("the status page lists %d occurrences of one series", n)
	}
	expect(t, home, http.StatusOK, "毎週火曜 02:00〜03:00", "このあと2回を予定しています")
	expect(t, pub.get("/?lang=en"), http.StatusOK, "(2 more planned after this)")

	// The calendar: one recurring event, whose expansion is the windows.
	cal := calendarOf(t, pub)
	master, overrides := seriesEvents(cal, "series-")
	if master == nil {
		t.Fatalf("no recurring event in the calendar")
	}
	if len(overrides) != 0 {
		// The first occurrence is under way, as planned: no override.
		t.Errorf("%d overrides, want none", len(overrides))
	}
	if os.Getenv("SERIES_DUMP_ICS") != "" {
		t.Log(pub.get("/maintenance.ics").body)
	}
	for _, e := range cal.Events() {
		if strings.HasPrefix(e.Id(), "maintenance-") {
			t.Errorf("an occurrence is a separate event too: %s", e.Id())
		}
	}
	got := expandEvent(t, master)
	if len(got) != 4 {
		t.Fatalf("the rule expands to %v, want 4 occurrences", got)
	}
	for i, g := range got {
		if !g.Equal(ms[i].StartsAt) {
			t.Errorf("expanded occurrence %d = %s, want %s", i, g, ms[i].StartsAt)
		}
	}
	if tz := cal.Timezones(); len(tz) != 1 || tz[0].GetProperty(ics.ComponentPropertyTzid).Value != "Asia/Tokyo" {
		t.Errorf("VTIMEZONE: %v", tz)
	}
}

func TestSeriesMonthlySecondTuesdayUntilAndJob(t *testing.T) {
	a, c, cdn, _ := seriesApp(t)
	form := seriesForm(cdn)
	form.Set("freq", "monthly")
	form.Del("weekdays")
	form.Set("ordinal", "2")
	form.Set("month_weekday", "TU")
	// The 1st of December is the first Tuesday; the series starts on the
	// second, at the time given.
	form.Set("starts_at", "2026-12-01T22:00")
	form.Set("end", "until")
	form.Set("until", "2027-03-31")
	form.Del("notify")
	id := createSeriesHTTP(t, c, form)
	tokyo := a.app.opts.Location
	want := []time.Time{time.Date(2026, 12, 8, 22, 0, 0, 0, tokyo), time.Date(2027, 1, 12, 22, 0, 0, 0, tokyo), time.Date(2027, 2, 9, 22, 0, 0, 0, tokyo)}
	ms := occurrences(t, a, id)
	if len(ms) != len(want) {
		t.Fatalf("%d occurrences, want %d within 90 days", len(ms), len(want))
	}
	for i := range want {
		if !ms[i].StartsAt.Equal(want[i]) {
			t.Errorf("occurrence %d at %s, want %s", i, ms[i].StartsAt.In(tokyo), want[i])
		}
	}
	if k := notificationKinds(t, a); len(k) != 0 {
		t.Errorf("notify off, but notifications %v", k)
	}
	// A month on, the job makes March's; never more than the rule holds.
	a.clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, tokyo))
	for range 2 {
		if _, err := a.store.MaterializeSeries(context.Background(), tokyo); err != nil {
			t.Fatal(err)
		}
	}
	ms = occurrences(t, a, id)
	if len(ms) != 4 || !ms[3].StartsAt.Equal(time.Date(2027, 3, 9, 22, 0, 0, 0, tokyo)) {
		t.Fatalf("after the job: %d occurrences, last %s", len(ms), ms[len(ms)-1].StartsAt.In(tokyo))
	}
	ser, _ := a.store.Series(context.Background(), id)
	if !strings.Contains(ser.RRule, "BYDAY=2TU") || !strings.Contains(ser.RRule, "UNTIL=20270331T145959Z") {
		t.Errorf("rule %q", ser.RRule)
	}
	c = seriesSignIn(a)
	expect(t, c.get("/admin/series/"+strconv.FormatInt(id, 10)), http.StatusOK, "毎月第2火曜", "2027年3月31日まで")
	// Reminders and starts email nobody when the series does not notify.
	a.clock.Set(time.Date(2026, 12, 8, 22, 1, 0, 0, tokyo))
	a.store.SendMaintenanceReminder(context.Background(), ms[0].ID, true)
	a.store.AutoAdvanceMaintenance(context.Background(), ms[0].ID, data.Notice{Send: true, Hold: true})
	if k := notificationKinds(t, a); len(k) != 0 {
		t.Errorf("notify off, but notifications %v", k)
	}
}

func TestSeriesEditSeriesVersusOneOccurrence(t *testing.T) {
	a, c, cdn, api := seriesApp(t)
	id := createSeriesHTTP(t, c, seriesForm(cdn))
	ms := occurrences(t, a, id)
	tokyo := a.app.opts.Location
	sid := strconv.FormatInt(id, 10)

	// One occurrence moved on its own, through the window's own form.
	moved := ms[1]
	c.get("/admin/maintenance/" + strconv.FormatInt(moved.ID, 10) + "/edit")
	r := c.post("/admin/maintenance/"+strconv.FormatInt(moved.ID, 10), url.Values{"title_ja": {"定期メンテナンス（延長）"}, "title_en": {"Weekly maintenance (longer)"},
		"starts_at": {"2026-12-08T03:00"}, "ends_at": {"2026-12-08T05:00"}, "components": {strconv.FormatInt(cdn, 10)}, "reminder": {"1d"}})
	expect(t, r, http.StatusSeeOther)
	// Another cancelled on its own.
	cancelled := ms[2]
	r = c.post("/admin/maintenance/"+strconv.FormatInt(cancelled.ID, 10)+"/updates", url.Values{"status": {"cancelled"},
		"body_ja": {"この回は中止します。"}, "confirm": {"1"}})
	expect(t, r, http.StatusSeeOther)

	// The series edited: new title, 90 minutes, another component.
	form := seriesForm(cdn)
	form.Set("title_ja", "定期メンテナンス（改）")
	form.Set("duration", "90")
	form.Add("components", strconv.FormatInt(api, 10))
	form.Del("notify")
	c.get("/admin/series/" + sid + "/edit")
	expect(t, c.post("/admin/series/"+sid, form), http.StatusSeeOther)

	after := occurrences(t, a, id)
	if len(after) != 4 {
		t.Fatalf("%d occurrences after the edit, want 4", len(after))
	}
	for _, m := range after {
		switch m.ID {
		case moved.ID:
			if !m.Detached || m.TitleJA != "定期メンテナンス（延長）" || !m.StartsAt.Equal(time.Date(2026, 12, 8, 3, 0, 0, 0, tokyo)) {
				t.Errorf("the occurrence edited on its own was changed: %+v", m)
			}
		case cancelled.ID:
			if m.Status != data.Cancelled || m.TitleJA != "定期メンテナンス" {
				t.Errorf("the cancelled occurrence was touched: %+v", m)
			}
		default:
			if m.TitleJA != "定期メンテナンス（改）" || m.EndsAt.Sub(m.StartsAt) != 90*time.Minute || len(m.Components) != 2 || m.Detached {
				t.Errorf("occurrence %d does not follow the series: %+v", m.ID, m)
			}
		}
	}
	expect(t, c.get("/admin/series/"+sid), http.StatusOK, "個別に変更済み")
	// Materializing again never makes the cancelled occurrence again.
	if n, err := a.store.MaterializeSeries(context.Background(), tokyo); err != nil || n != 0 {
		t.Errorf("materialize again: %d %v", n, err)
	}

	// The calendar: EXDATE for the cancelled one, an override with
	// RECURRENCE-ID for the moved one, the master with the new duration.
	cal := calendarOf(t, a.client())
	master, overrides := seriesEvents(cal, "series-")
	if master == nil {
		t.Fatal("no recurring event")
	}
	ex := prop(master, ics.ComponentPropertyExdate)
	if ex == nil || ex.Value != "20261215T020000" || ex.ICalParameters["TZID"][0] != "Asia/Tokyo" {
		t.Errorf("EXDATE %v, want the cancelled 15 December", ex)
	}
	if len(overrides) != 1 {
		t.Fatalf("%d overrides, want the moved occurrence", len(overrides))
	}
	o := overrides[0]
	if rid := prop(o, ics.ComponentPropertyRecurrenceId); rid.Value != "20261208T020000" {
		t.Errorf("RECURRENCE-ID %s", rid.Value)
	}
	if st := prop(o, ics.ComponentPropertyDtStart); st.Value != "20261208T030000" {
		t.Errorf("override DTSTART %s", st.Value)
	}
	if o.Id() != master.Id() {
		t.Errorf("override UID %s, master %s", o.Id(), master.Id())
	}
	got := expandEvent(t, master)
	if len(got) != 3 {
		t.Errorf("expansion %v, want 3 (4 less the cancelled one)", got)
	}
	if e := prop(master, ics.ComponentPropertyDtEnd); e.Value != "20261201T033000" {
		t.Errorf("master DTEND %s, want 90 minutes", e.Value)
	}
	if d := prop(master, ics.ComponentPropertyDescription); d == nil || !strings.Contains(d.Value, "毎週火曜 02:00〜03:30") {
		t.Errorf("the recurring event does not say how it repeats: %v", d)
	}
	// One occurrence's own .ics is the series' recurring event, same UID.
	r = a.client().get("/maintenance/" + strconv.FormatInt(after[0].ID, 10) + "/event.ics")
	expect(t, r, http.StatusOK)
	one, err := ics.ParseCalendar(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if m, o := seriesEvents(one, "series-"); m == nil || m.Id() != master.Id() || len(o) != 1 || len(expandEvent(t, m)) != 3 {
		t.Errorf("an occurrence's .ics:\n%s", r.body)
	}
}

func TestSeriesStopCancelsFutureWithNotices(t *testing.T) {
	a, c, cdn, _ := seriesApp(t)
	id := createSeriesHTTP(t, c, seriesForm(cdn))
	sid := strconv.FormatInt(id, 10)
	tokyo := a.app.opts.Location
	// The first is under way when the series is stopped.
	ms := occurrences(t, a, id)
	a.clock.Set(time.Date(2026, 12, 1, 2, 10, 0, 0, tokyo))
	a.store.AutoAdvanceMaintenance(context.Background(), ms[0].ID, data.Notice{Send: true, Hold: true})
	before := notificationKinds(t, a)
	c = seriesSignIn(a)
	c.get("/admin/series/" + sid)
	r := c.post("/admin/series/"+sid+"/stop", url.Values{"notify": {"1"}})
	expect(t, r, http.StatusOK, "この定期メンテナンスを終了しますか", "まだ開始していない3回が中止されます")
	if ser, _ := a.store.Series(context.Background(), id); ser.EndedAt != nil {
		t.Fatal("stopped without confirmation")
	}
	r = c.post("/admin/series/"+sid+"/stop", url.Values{"notify": {"1"}, "confirm": {"1"}})
	expect(t, r, http.StatusSeeOther)
	ser, _ := a.store.Series(context.Background(), id)
	if ser.EndedAt == nil {
		t.Fatal("not stopped")
	}
	for _, m := range occurrences(t, a, id) {
		want := data.Cancelled
		if m.ID == ms[0].ID {
			want = data.InProgress
		}
		if m.Status != want {
			t.Errorf("occurrence %d: %s, want %s", m.ID, m.Status, want)
		}
	}
	if k := notificationKinds(t, a); k[data.MaintenanceCancelled]-before[data.MaintenanceCancelled] != 3 {
		t.Errorf("notifications %v, want 3 cancellations", k)
	}
	// Stopped: no more occurrences, no edit, a second stop says so.
	a.clock.Set(time.Date(2027, 6, 1, 0, 0, 0, 0, tokyo))
	if n, _ := a.store.MaterializeSeries(context.Background(), tokyo); n != 0 {
		t.Errorf("a stopped series made %d windows", n)
	}
	c = seriesSignIn(a)
	c.get("/admin/series/" + sid + "/edit")
	r = c.post("/admin/series/"+sid, seriesForm(cdn))
	expect(t, r, http.StatusBadRequest, "終了した定期メンテナンスは変更できません")
	expect(t, c.post("/admin/series/"+sid+"/stop", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expect(t, c.get("/admin/series/"+sid), http.StatusOK, "終了済み")
	cal := calendarOf(t, a.client())
	if master, _ := seriesEvents(cal, "series-"); master != nil {
		if got := expandEvent(t, master); len(got) != 1 {
			t.Errorf("a stopped series expands to %v, want only the one held", got)
		}
	}
}

func TestSeriesStopWithoutNotice(t *testing.T) {
	a, c, cdn, _ := seriesApp(t)
	id := createSeriesHTTP(t, c, seriesForm(cdn))
	before := notificationKinds(t, a)
	c.get("/admin/series/" + strconv.FormatInt(id, 10))
	expect(t, c.post("/admin/series/"+strconv.FormatInt(id, 10)+"/stop", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if k := notificationKinds(t, a); k[data.MaintenanceCancelled] != before[data.MaintenanceCancelled] {
		t.Errorf("email not asked for, but %v", k)
	}
}

func TestSeriesHostileInput(t *testing.T) {
	a, c, cdn, _ := seriesApp(t)
	c.get("/admin/series/new")
	cases := []struct {
		name  string
		edit  func(url.Values)
		field string
		msg   string
	}{
		{"no title", func(f url.Values) { f.Set("title_ja", "") }, "title_ja", "入力してください"},
		{"bad freq", func(f url.Values) { f.Set("freq", "daily") }, "freq", ""},
		{"no weekday", func(f url.Values) { f.Del("weekdays") }, "weekdays", ""},
		{"bad weekday", func(f url.Values) { f.Set("weekdays", "XX") }, "weekdays", ""},
		{"injected weekday", func(f url.Values) { f.Set("weekdays", "TU;COUNT=100000") }, "weekdays", ""},
		{"interval 0", func(f url.Values) { f.Set("interval", "0") }, "interval", "間隔は1〜12"},
		{"interval huge", func(f url.Values) { f.Set("interval", "99999999999999999999") }, "interval", "間隔は1〜12"},
		{"duration negative", func(f url.Values) { f.Set("duration", "-5") }, "duration", "1回の長さ"},
		{"duration too long", func(f url.Values) { f.Set("duration", "20000") }, "duration", "1回の長さ"},
		{"count 0", func(f url.Values) { f.Set("count", "0") }, "count", "回数は1〜200"},
		{"count huge", func(f url.Values) { f.Set("count", "1000000") }, "count", "回数は1〜200"},
		{"no end", func(f url.Values) { f.Set("end", "") }, "until", "回数か最終日"},
		{"until bad", func(f url.Values) { f.Set("end", "until"); f.Set("until", "2026-13-45") }, "until", ""},
		{"until before", func(f url.Values) { f.Set("end", "until"); f.Set("until", "2026-11-01") }, "until", "最終日は初回より後"},
		{"until far", func(f url.Values) { f.Set("end", "until"); f.Set("until", "2099-01-01") }, "until", "3年以内"},
		{"bad start", func(f url.Values) { f.Set("starts_at", "<script>") }, "starts_at", ""},
		{"all past", func(f url.Values) { f.Set("starts_at", "2020-01-07T02:00") }, "starts_at", "今後の回がありません"},
		{"bad ordinal", func(f url.Values) { f.Set("freq", "monthly"); f.Set("ordinal", "9"); f.Set("month_weekday", "TU") }, "ordinal", ""},
		{"bad month weekday", func(f url.Values) { f.Set("freq", "monthly"); f.Set("ordinal", "2"); f.Set("month_weekday", "2TU") }, "month_weekday", ""},
		{"no components", func(f url.Values) { f.Del("components") }, "components", ""},
		{"unknown component", func(f url.Values) { f.Set("components", "999999") }, "components", ""},
		{"bad component", func(f url.Values) { f.Set("components", "x'); DROP TABLE x;--") }, "components", ""},
		{"bad reminder", func(f url.Values) { f.Set("reminder", "1y") }, "reminder", ""},
		// Refused before the form, by the console's own check of the text.
		{"broken utf-8", func(f url.Values) { f.Set("title_ja", "\xff\xfe") }, "", "使用できない文字"},
		{"nul", func(f url.Values) { f.Set("body_ja", "a\x00b") }, "", "使用できない文字"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := seriesForm(cdn)
			tc.edit(f)
			r := c.post("/admin/series", f)
			if tc.field == "" {
				expect(t, r, http.StatusBadRequest, tc.msg)
				return
			}
			expect(t, r, http.StatusBadRequest, "has-error", tc.msg)
			if !strings.Contains(r.body, `class="form-error"`) {
				t.Errorf("no error summary")
			}
			if !strings.Contains(r.body, `value="`+f.Get("title_en")+`"`) {
				t.Errorf("the form lost what was typed")
			}
		})
	}
	if all, _ := a.store.AllSeries(context.Background()); len(all) != 0 {
		t.Errorf("%d series half-saved", len(all))
	}
	if ms, _, _ := a.store.RecentMaintenances(context.Background(), 100, 0); len(ms) != 0 {
		t.Errorf("%d windows half-saved", len(ms))
	}
	// An operator who chose English reads the errors in English.
	ops, _ := a.store.Operators(context.Background())
	for _, op := range ops {
		if op.Email == "editor@example.com" {
			if err := a.store.SetOperatorLang(context.Background(), op.ID, "en"); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.get("/admin/series/new")
	f := seriesForm(cdn)
	f.Set("count", "0")
	expect(t, c.post("/admin/series?lang=en", f), http.StatusBadRequest, "Enter a number of times from 1 to 200.")
	// Not a form, unknown ids, and the wrong method: no 500.
	r := c.do(mustRequest(t, http.MethodPost, c.a.srv.URL+"/admin/series", "%%%", c.token()))
	if r.code >= 500 {
		t.Errorf("garbage body: %d", r.code)
	}
	for _, p := range []string{"/admin/series/999999", "/admin/series/abc", "/admin/series/999999/edit", "/admin/series/-1"} {
		if r := c.get(p); r.code != http.StatusNotFound && r.code != http.StatusBadRequest {
			t.Errorf("GET %s: %d", p, r.code)
		}
	}
	if r := c.post("/admin/series/999999/stop", url.Values{"confirm": {"1"}}); r.code != http.StatusNotFound {
		t.Errorf("stop unknown: %d", r.code)
	}
	// Without CSRF, and signed out.
	if r := c.postRaw("/admin/series", seriesForm(cdn)); r.code != http.StatusForbidden && r.code != http.StatusBadRequest {
		t.Errorf("no CSRF: %d", r.code)
	}
	anon := a.client()
	if r := anon.get("/admin/series"); r.code != http.StatusSeeOther && r.code != http.StatusUnauthorized && r.code != http.StatusFound {
		t.Errorf("signed out: %d", r.code)
	}
}

func mustRequest(t *testing.T, method, u, body, csrf string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", csrf)
	return req
}

// TestRecurrenceOverMidnight: a window that crosses midnight ends 翌 (the
// next day), in both languages.
func TestRecurrenceOverMidnight(t *testing.T) {
	a := newTestServer(t)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, c := range []struct {
		lang     string
		hours    int
		want     string
		duration time.Duration
	}{
		{"ja", 23, "23:00〜翌01:00", 2 * time.Hour},
		{"en", 23, "23:00–01:00 the next day", 2 * time.Hour},
		{"ja", 22, "22:00〜23:30", 90 * time.Minute},
		{"ja", 22, "22:00〜2日後の00:00", 26 * time.Hour},
	} {
		ser := &data.MaintenanceSeries{RRule: "FREQ=WEEKLY;BYDAY=TU;COUNT=4", DurationSeconds: int64(c.duration / time.Second),
			FirstStartsAt: time.Date(2026, 12, 8, c.hours, 0, 0, 0, tokyo)}
		p := a.app.newPage(c.lang, "/", &view{})
		if got := p.Recurrence(ser); !strings.Contains(got, c.want) {
			t.Errorf("%s %v: %q, want %q in it", c.lang, c.duration, got, c.want)
		}
	}
}
