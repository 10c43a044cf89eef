package uptime

import (
	"math"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

func TestBarsForKnownHistory(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, tokyo) }
	now := at(26, 12)
	resolved := at(20, 2)
	cdn, api := int64(1), int64(2)

	incidents := []data.Incident{
		// Backdated to 23:00 on the 19th, posted at 01:00 on the 20th: the
		// partial outage covers both days (in Tokyo), then a major outage for
		// one hour, then resolved.
		{ID: 10, StartedAt: at(19, 23), ResolvedAt: &resolved, Status: data.Resolved, Updates: []data.IncidentUpdate{
			{CreatedAt: at(20, 1), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.PartialOutage}}},
			{CreatedAt: at(20, 1).Add(30 * time.Minute), Status: data.Identified, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.MajorOutage}, {ComponentID: api, Status: data.DegradedPerformance}}},
			{CreatedAt: at(20, 2), Status: data.Resolved, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.Operational}}},
		}},
		// Still open: degraded since 10:00 today.
		{ID: 11, StartedAt: at(26, 10), Status: data.Investigating, Updates: []data.IncidentUpdate{
			{CreatedAt: at(26, 10), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: api, Status: data.DegradedPerformance}}},
		}},
		// Older than the window: ignored.
		{ID: 12, StartedAt: at(1, 0).AddDate(0, -6, 0), Status: data.Resolved, ResolvedAt: ptr(at(1, 1).AddDate(0, -6, 0)), Updates: []data.IncidentUpdate{
			{CreatedAt: at(1, 0).AddDate(0, -6, 0), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.MajorOutage}}},
		}},
	}
	bars := Bars(Spans(incidents, now), map[int64]time.Time{cdn: {}, api: {}, 3: {}}, now, tokyo, 90)

	b := bars[cdn]
	if len(b.Days) != 90 {
		t.Fatalf("%d days", len(b.Days))
	}
	if last := b.Days[89].Date; !last.Equal(at(26, 0)) {
		t.Fatalf("last day %v", last)
	}
	want := map[int]string{19: data.PartialOutage, 20: data.MajorOutage}
	for _, d := range b.Days {
		day := d.Date.Day()
		w, ok := want[day]
		if !ok || d.Date.Month() != time.November {
			w = data.Operational
		}
		if d.Status != w {
			t.Errorf("cdn %s: %s, want %s", d.Date.Format("01-02"), d.Status, w)
		}
	}
	if got := b.Days[88-6].Incidents; len(got) != 1 || got[0] != 10 {
		t.Errorf("incidents on the 20th: %v", got)
	}
	// 2.5h partial (30%) + 0.5h major over 89.5 days.
	period := now.Sub(at(26, 0).AddDate(0, 0, -89)).Seconds()
	wantPct := 100 * (1 - (2.5*3600*0.3+0.5*3600)/period)
	if math.Abs(b.Percent-wantPct) > 1e-9 {
		t.Errorf("cdn uptime %.6f, want %.6f", b.Percent, wantPct)
	}
	if d := bars[api].Days[89]; d.Status != data.DegradedPerformance {
		t.Errorf("api today %s", d.Status)
	}
	if bars[api].Percent != 100 {
		t.Errorf("degraded counted as downtime: %v", bars[api].Percent)
	}
	if bars[3].Percent != 100 || bars[3].Days[0].Status != data.Operational {
		t.Errorf("untouched component: %+v", bars[3])
	}
}

func ptr(t time.Time) *time.Time { return &t }

// TestDayMinutesAndOverlaps: a day's details say how long each status held;
// two incidents holding one component at once count the worst of them
// once, never twice; the short window's percentage counts only its days;
// a group's bar is the worst of its members at each moment.
func TestDayMinutesAndOverlaps(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, hour, min int) time.Time { return time.Date(2026, 11, day, hour, min, 0, 0, tokyo) }
	now := at(26, 12, 0)
	cdn, api := int64(1), int64(2)
	span := func(id, inc int64, st string, from, to time.Time) Span {
		return Span{ComponentID: id, IncidentID: inc, Status: st, From: from, To: to}
	}
	spans := []Span{
		// Two incidents overlap on the CDN on the 25th: 10:00–11:00 major
		// (incident 1) inside 09:30–12:00 partial (incident 2).
		span(cdn, 1, data.MajorOutage, at(25, 10, 0), at(25, 11, 0)),
		span(cdn, 2, data.PartialOutage, at(25, 9, 30), at(25, 12, 0)),
		// The API is degraded 23:00 on the 24th to 01:00 on the 25th, and
		// was down for an hour 40 days ago (outside the 30-day window).
		span(api, 3, data.DegradedPerformance, at(24, 23, 0), at(25, 1, 0)),
		span(api, 4, data.MajorOutage, at(26, 0, 0).AddDate(0, 0, -40), at(26, 1, 0).AddDate(0, 0, -40)),
	}
	whole := map[int64]time.Time{cdn: {}, api: {}}
	bars := Bars(spans, whole, now, tokyo, 90)
	day := bars[cdn].Days[88]
	if !day.Date.Equal(at(25, 0, 0)) || day.Status != data.MajorOutage {
		t.Fatalf("the 25th: %+v", day)
	}
	wantMinutes := []StatusMinutes{{data.MajorOutage, 60}, {data.PartialOutage, 90}}
	if len(day.Minutes) != len(wantMinutes) {
		t.Fatalf("minutes %+v, want %+v", day.Minutes, wantMinutes)
	}
	for i, w := range wantMinutes {
		if day.Minutes[i] != w {
			t.Errorf("minutes %+v, want %+v", day.Minutes, wantMinutes)
		}
	}
	if len(day.Incidents) != 2 {
		t.Errorf("incidents of the 25th: %v", day.Incidents)
	}
	// One hour major + 1.5 h partial at 30 %, counted once.
	start := at(26, 0, 0).AddDate(0, 0, -89)
	wantPct := 100 * (1 - (3600+1.5*3600*0.3)/now.Sub(start).Seconds())
	if math.Abs(bars[cdn].Percent-wantPct) > 1e-9 {
		t.Errorf("cdn %.6f, want %.6f (overlap counted twice?)", bars[cdn].Percent, wantPct)
	}
	if bars[cdn].ShortDays != 30 {
		t.Fatalf("short window %d days", bars[cdn].ShortDays)
	}
	shortStart := at(26, 0, 0).AddDate(0, 0, -29)
	wantShort := 100 * (1 - (3600+1.5*3600*0.3)/now.Sub(shortStart).Seconds())
	if math.Abs(bars[cdn].ShortPercent-wantShort) > 1e-9 {
		t.Errorf("cdn 30-day %.6f, want %.6f", bars[cdn].ShortPercent, wantShort)
	}
	if bars[api].ShortPercent != 100 || bars[api].Percent >= 100 {
		t.Errorf("api: 90-day %.4f, 30-day %.4f; the outage 40 days ago belongs to the first only", bars[api].Percent, bars[api].ShortPercent)
	}
	// Split at midnight: 60 minutes each side.
	if m := bars[api].Days[87].Minutes; len(m) != 1 || m[0] != (StatusMinutes{data.DegradedPerformance, 60}) {
		t.Errorf("api on the 24th: %+v", m)
	}

	group := Group(spans, map[int64][]int64{100: {cdn, api}}, whole, now, tokyo, 90)[100]
	if group.Days[88].Status != data.MajorOutage || group.Days[87].Status != data.DegradedPerformance {
		t.Errorf("group days: %s %s", group.Days[87].Status, group.Days[88].Status)
	}
	// The group is down when the CDN is (same moments) and when the API was.
	wantGroup := 100 * (1 - (3600+1.5*3600*0.3+3600)/now.Sub(start).Seconds())
	if math.Abs(group.Percent-wantGroup) > 1e-9 {
		t.Errorf("group %.6f, want %.6f", group.Percent, wantGroup)
	}
}

// TestNoDataAndStatusesSetByHand: days before a component's record starts
// are NoData and count for nothing; a backdated incident or an earlier
// group member starts the record earlier; a status set by hand colours its
// days and counts, from the change before the window on.
func TestNoDataAndStatusesSetByHand(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, tokyo) }
	now := at(26, 12)
	cdn, api, old := int64(1), int64(2), int64(3)
	changes := []data.ComponentStatusChange{
		// Set to partial outage long ago, back to operational on the 20th
		// at 06:00: the window's first days are partial.
		{ComponentID: old, Status: data.PartialOutage, At: at(1, 0).AddDate(0, -6, 0)},
		{ComponentID: old, Status: data.Operational, At: at(20, 6)},
		// Major outage since 10:00 today, still.
		{ComponentID: cdn, Status: data.MajorOutage, At: at(26, 10)},
	}
	spans := ManualSpans(changes, now)
	if len(spans) != 2 {
		t.Fatalf("spans %+v", spans)
	}
	since := map[int64]time.Time{cdn: at(24, 15), api: at(26, 9), old: {}}
	bars := Bars(spans, since, now, tokyo, 90)

	b := bars[cdn]
	for i, d := range b.Days {
		if want := i < 87; d.NoData != want || (d.Status == NoData) != want {
			t.Fatalf("cdn day %d (%s): no data %v, status %s", i, d.Date.Format("01-02"), d.NoData, d.Status)
		}
	}
	if d := b.Days[89]; d.Status != data.MajorOutage || !d.Manual || len(d.Incidents) != 0 {
		t.Errorf("cdn today: %+v", d)
	}
	// Two hours down since 15:00 on the 24th.
	if want := 100 * (1 - 2.0/45); math.Abs(b.Percent-want) > 1e-9 || !b.Since.Equal(at(24, 15)) {
		t.Errorf("cdn %.6f since %v, want %.6f since the 24th", b.Percent, b.Since, want)
	}
	if !b.ShortSince.Equal(at(24, 15)) || math.Abs(b.ShortPercent-b.Percent) > 1e-9 {
		t.Errorf("cdn short %.6f since %v", b.ShortPercent, b.ShortSince)
	}
	if a := bars[api]; a.Percent != 100 || !a.Since.Equal(at(26, 9)) || a.Days[89].NoData || !a.Days[88].NoData {
		t.Errorf("api %+v", a.Days[88:])
	}
	o := bars[old]
	if !o.Since.IsZero() || o.Days[0].NoData || o.Days[0].Status != data.PartialOutage || o.Days[85].Status != data.Operational {
		t.Errorf("old component: since %v, first day %+v", o.Since, o.Days[0])
	}

	// A backdated incident before the component was created.
	inc := Span{ComponentID: api, IncidentID: 9, Status: data.MajorOutage, From: at(20, 12), To: at(20, 13)}
	if a := Bars([]Span{inc}, since, now, tokyo, 90)[api]; !a.Since.Equal(at(20, 12)) || a.Days[83].NoData || !a.Days[82].NoData {
		t.Errorf("backdated incident: since %v", a.Since)
	}
	// A group starts with its earliest member.
	g := Group(spans, map[int64][]int64{100: {cdn, api}}, since, now, tokyo, 90)[100]
	if !g.Since.Equal(at(24, 15)) || g.Days[86].NoData != true || g.Days[87].NoData {
		t.Errorf("group since %v", g.Since)
	}
}

// TestBarsFollowTheWholeTimeline: an incident's bars follow every update,
// each holding its components' statuses until the next one: a resolution
// holds nothing (operational) until a reopening update, and the time after
// the reopening counts in the day's minutes and in the uptime.
func TestBarsFollowTheWholeTimeline(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(hour, min int) time.Time { return time.Date(2026, 11, 20, hour, min, 0, 0, tokyo) }
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, tokyo)
	const renderer = int64(1)
	up := func(h, m int, status, comp string) data.IncidentUpdate {
		return data.IncidentUpdate{CreatedAt: at(h, m), Status: status, Components: []data.IncidentUpdateComponent{{ComponentID: renderer, Status: comp}}}
	}
	po, dp, mo, op := data.PartialOutage, data.DegradedPerformance, data.MajorOutage, data.Operational
	cases := []struct {
		name    string
		inc     data.Incident
		minutes []StatusMinutes
		// down is the weighted minutes of downtime.
		down float64
	}{
		{"reopened and resolved again (the demo's PDF incident)",
			data.Incident{StartedAt: at(10, 5), ResolvedAt: ptr(at(16, 0)), Status: data.Resolved, Updates: []data.IncidentUpdate{
				up(10, 5, data.Investigating, po), up(10, 35, data.Identified, po), up(11, 20, data.Resolved, op),
				up(13, 40, data.Identified, po), up(14, 30, data.Monitoring, dp), up(16, 0, data.Resolved, op)}},
			[]StatusMinutes{{po, 125}, {dp, 90}}, 125 * 0.3},
		{"reopened and still open",
			data.Incident{StartedAt: at(10, 0), Status: data.Identified, Updates: []data.IncidentUpdate{
				up(10, 0, data.Investigating, po), up(11, 0, data.Resolved, op), up(23, 0, data.Identified, mo)}},
			[]StatusMinutes{{mo, 60}, {po, 60}}, 60*0.3 + 5*24*60 + 16*60 + 30},
		{"the updates come unordered",
			data.Incident{StartedAt: at(10, 5), ResolvedAt: ptr(at(16, 0)), Status: data.Resolved, Updates: []data.IncidentUpdate{
				up(16, 0, data.Resolved, op), up(14, 30, data.Monitoring, dp), up(13, 40, data.Identified, po),
				up(11, 20, data.Resolved, op), up(10, 5, data.Investigating, po)}},
			[]StatusMinutes{{po, 125}, {dp, 90}}, 125 * 0.3},
		{"a resolution holds nothing, whatever it lists",
			data.Incident{StartedAt: at(10, 0), ResolvedAt: ptr(at(11, 0)), Status: data.Resolved, Updates: []data.IncidentUpdate{
				up(10, 0, data.Investigating, po), up(11, 0, data.Resolved, po), up(12, 0, data.Resolved, mo)}},
			[]StatusMinutes{{po, 60}}, 60 * 0.3},
		{"a resolution moved earlier by hand ends the record there",
			data.Incident{StartedAt: at(10, 0), ResolvedAt: ptr(at(10, 30)), Status: data.Resolved, Updates: []data.IncidentUpdate{
				up(10, 0, data.Investigating, mo), up(11, 0, data.Resolved, op)}},
			[]StatusMinutes{{mo, 30}}, 30},
		{"a backdated start",
			data.Incident{StartedAt: at(9, 0), ResolvedAt: ptr(at(11, 0)), Status: data.Resolved, Updates: []data.IncidentUpdate{
				up(10, 0, data.Investigating, mo), up(11, 0, data.Resolved, op)}},
			[]StatusMinutes{{mo, 120}}, 120},
	}
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, tokyo).AddDate(0, 0, -89)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.inc.ID = 7
			b := Bars(Spans([]data.Incident{c.inc}, now), map[int64]time.Time{renderer: {}}, now, tokyo, 90)[renderer]
			day := b.Days[83]
			if !day.Date.Equal(at(0, 0)) {
				t.Fatalf("day %v", day.Date)
			}
			if len(day.Minutes) != len(c.minutes) {
				t.Fatalf("minutes %+v, want %+v", day.Minutes, c.minutes)
			}
			for i := range c.minutes {
				if day.Minutes[i] != c.minutes[i] {
					t.Errorf("minutes %+v, want %+v", day.Minutes, c.minutes)
				}
			}
			if day.Status != c.minutes[0].Status || len(day.Incidents) != 1 || day.Incidents[0] != 7 {
				t.Errorf("day %s, incidents %v", day.Status, day.Incidents)
			}
			want := 100 * (1 - c.down*60/now.Sub(start).Seconds())
			if math.Abs(b.Percent-want) > 1e-9 {
				t.Errorf("uptime %.6f, want %.6f", b.Percent, want)
			}
		})
	}
}

// TestMaintenanceShowsAndIsNotDowntime: a maintenance window under way or
// done shows on its components' days, from its actual start to its actual
// end (now while it runs), with its minutes and the window itself; an
// outage at the same moment outranks it; windows scheduled or cancelled
// show nothing; and maintenance never lowers the uptime.
func TestMaintenanceShowsAndIsNotDowntime(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, hour, min int) time.Time { return time.Date(2026, 11, day, hour, min, 0, 0, tokyo) }
	now := at(26, 15, 30)
	const connectors, editor = int64(1), int64(2)
	window := func(id int64, status string, starts, ends time.Time, started, completed *time.Time, comps ...int64) data.Maintenance {
		m := data.Maintenance{ID: id, Status: status, StartsAt: starts, EndsAt: ends, StartedAt: started, CompletedAt: completed}
		for _, c := range comps {
			m.Components = append(m.Components, data.MaintenanceComponent{MaintenanceID: id, ComponentID: c})
		}
		return m
	}
	um, po := data.UnderMaintenance, data.PartialOutage
	cases := []struct {
		name      string
		maint     data.Maintenance
		incidents []data.Incident
		comp      int64
		day       int
		status    string
		minutes   []StatusMinutes
		maints    []int64
		down      float64 // weighted minutes
	}{
		{"in progress: from its start until now",
			window(5, data.InProgress, at(26, 14, 50), at(26, 16, 10), ptr(at(26, 14, 50)), nil, connectors),
			nil, connectors, 26, um, []StatusMinutes{{um, 40}}, []int64{5}, 0},
		{"verifying, under an outage that began during it",
			window(6, data.Verifying, at(26, 14, 0), at(26, 16, 30), ptr(at(26, 14, 0)), nil, editor),
			[]data.Incident{{ID: 9, StartedAt: at(26, 15, 5), Status: data.Identified, Updates: []data.IncidentUpdate{
				{CreatedAt: at(26, 15, 5), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: editor, Status: po}}}}}},
			editor, 26, po, []StatusMinutes{{po, 25}, {um, 65}}, []int64{6}, 25 * 0.3},
		{"completed early: its actual times, on each of its components",
			window(7, data.Completed, at(17, 2, 0), at(17, 4, 0), ptr(at(17, 2, 0)), ptr(at(17, 3, 40)), connectors, editor),
			nil, editor, 17, um, []StatusMinutes{{um, 100}}, []int64{7}, 0},
		{"started early and closed late, across midnight",
			window(8, data.Completed, at(17, 23, 30), at(18, 1, 0), ptr(at(17, 23, 0)), ptr(at(18, 1, 20)), connectors),
			nil, connectors, 18, um, []StatusMinutes{{um, 80}}, []int64{8}, 0},
		{"missed whole and closed later: its schedule",
			window(10, data.Completed, at(17, 2, 0), at(17, 4, 0), nil, ptr(at(17, 9, 0)), connectors),
			nil, connectors, 17, um, []StatusMinutes{{um, 120}}, []int64{10}, 0},
		{"scheduled, its start come and gone: nothing",
			window(11, data.Scheduled, at(26, 14, 0), at(26, 15, 0), nil, nil, connectors),
			nil, connectors, 26, data.Operational, nil, nil, 0},
		{"cancelled: nothing",
			window(12, data.Cancelled, at(17, 2, 0), at(17, 4, 0), nil, ptr(at(16, 18, 0)), connectors),
			nil, connectors, 17, data.Operational, nil, nil, 0},
	}
	start := at(26, 0, 0).AddDate(0, 0, -89)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spans := append(Spans(c.incidents, now), MaintenanceSpans([]data.Maintenance{c.maint}, now)...)
			b := Bars(spans, map[int64]time.Time{connectors: {}, editor: {}}, now, tokyo, 90)[c.comp]
			day := b.Days[89-(26-c.day)]
			if !day.Date.Equal(at(c.day, 0, 0)) {
				t.Fatalf("day %v", day.Date)
			}
			if day.Status != c.status || day.Manual {
				t.Errorf("status %s (manual %v), want %s", day.Status, day.Manual, c.status)
			}
			if len(day.Minutes) != len(c.minutes) || len(day.Maintenances) != len(c.maints) {
				t.Fatalf("minutes %+v, maintenance %v; want %+v, %v", day.Minutes, day.Maintenances, c.minutes, c.maints)
			}
			for i := range c.minutes {
				if day.Minutes[i] != c.minutes[i] {
					t.Errorf("minutes %+v, want %+v", day.Minutes, c.minutes)
				}
			}
			for i := range c.maints {
				if day.Maintenances[i] != c.maints[i] {
					t.Errorf("maintenance %v, want %v", day.Maintenances, c.maints)
				}
			}
			want := 100 * (1 - c.down*60/now.Sub(start).Seconds())
			if math.Abs(b.Percent-want) > 1e-9 || math.Abs(b.ShortPercent-100*(1-c.down*60/now.Sub(at(26, 0, 0).AddDate(0, 0, -29)).Seconds())) > 1e-9 {
				t.Errorf("uptime %.6f (30 days %.6f), want %.6f: maintenance is not downtime", b.Percent, b.ShortPercent, want)
			}
		})
	}
}
