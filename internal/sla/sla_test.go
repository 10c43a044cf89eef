package sla

import (
	"math/big"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

var jst = mustLoad("Asia/Tokyo")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// nov builds a moment of November 2026, JST; the period the tests count is
// the JST month: 30 days = 43200 minutes = 2592000 s.
func nov(day, h, m, s int) time.Time { return time.Date(2026, 11, day, h, m, s, 0, jst) }

var (
	novFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, jst)
	novTo   = time.Date(2026, 12, 1, 0, 0, 0, 0, jst)
	octFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, jst)
)

func iv(inc int64, status string, from, to time.Time) Interval {
	return Interval{IncidentID: inc, Impact: "major", Status: status, Start: from, End: &to}
}

func ptr(t time.Time) *time.Time { return &t }

type want struct {
	avail, downMin, verdict, credit string
	excludedMin                     float64
	incidents                       int
	windows                         int
}

func TestCompute(t *testing.T) {
	tiers, err := ParseTiers("99.9:10,99.0:25,95.0:50")
	if err != nil {
		t.Fatal(err)
	}
	settings := Settings{Weights: DefaultWeights, NoticeDays: 3, Tiers: tiers}
	one := func(target string, ivs ...Interval) []Product {
		return []Product{{ID: 1, Target: target, Components: []Component{{ID: 10, Intervals: ivs}}}}
	}
	cases := []struct {
		name string
		in   Input
		want want
	}{
		{
			// Incident 1 10:00–11:00 and incident 2 10:30–11:30, both
			// major on one component: the union, 90 min, not 120.
			// (43200 − 90) / 43200 = 99.7916…% → "99.791"; below 99.9 → 10 %.
			name: "overlapping incidents on one component",
			in: Input{Products: one("99.9",
				iv(1, MajorOutage, nov(10, 10, 0, 0), nov(10, 11, 0, 0)),
				iv(2, MajorOutage, nov(10, 10, 30, 0), nov(10, 11, 30, 0)))},
			want: want{avail: "99.791", downMin: "90.0", verdict: Missed, credit: "10", incidents: 2},
		},
		{
			// Component 10 major 10:00–11:00, component 11 major
			// 10:30–11:30: the product is down 90 min.
			// 43110 / 43200 = 99.7916…% → "99.791".
			name: "two components down at once",
			in: Input{Products: []Product{{ID: 1, Target: "99.9", Components: []Component{
				{ID: 10, Intervals: []Interval{iv(1, MajorOutage, nov(10, 10, 0, 0), nov(10, 11, 0, 0))}},
				{ID: 11, Intervals: []Interval{iv(2, MajorOutage, nov(10, 10, 30, 0), nov(10, 11, 30, 0))}},
			}}}},
			want: want{avail: "99.791", downMin: "90.0", verdict: Missed, credit: "10", incidents: 2},
		},
		{
			// Component 10 partial 10:00–12:00, component 11 major
			// 11:00–11:30; the worst status wins each minute:
			// 60×30 % + 30×100 % + 30×30 % = 18 + 30 + 9 = 57 min.
			// 43143 / 43200 = 99.8680…% → "99.868".
			name: "partial and major on two components",
			in: Input{Products: []Product{{ID: 1, Target: "99.9", Components: []Component{
				{ID: 10, Intervals: []Interval{iv(1, PartialOutage, nov(10, 10, 0, 0), nov(10, 12, 0, 0))}},
				{ID: 11, Intervals: []Interval{iv(1, MajorOutage, nov(10, 11, 0, 0), nov(10, 11, 30, 0))}},
			}}}},
			want: want{avail: "99.868", downMin: "57.0", verdict: Missed, credit: "10", incidents: 1},
		},
		{
			// 100 min partial at 30 % = 30 min. 43170 / 43200 = 99.9305…%.
			name: "partial outage weighted 30 %",
			in:   Input{Products: one("99.9", iv(1, PartialOutage, nov(3, 0, 0, 0), nov(3, 1, 40, 0)))},
			want: want{avail: "99.930", downMin: "30.0", verdict: Met, credit: "0", incidents: 1},
		},
		{
			// Degraded weighs 0 by default: 500 min, no downtime. The
			// incident is listed all the same.
			name: "degraded weighs nothing",
			in:   Input{Products: one("99.9", iv(1, DegradedPerformance, nov(3, 0, 0, 0), nov(3, 8, 20, 0)))},
			want: want{avail: "100.000", downMin: "0.0", verdict: Met, credit: "0", incidents: 1},
		},
		{
			// 23:30 JST on 31 October to 00:30 JST on 1 November: 30 min
			// in November. 43170 / 43200 = 99.9305…% → "99.930".
			name: "JST month boundary, November side",
			in: Input{Products: one("99.9",
				iv(1, MajorOutage, time.Date(2026, 10, 31, 23, 30, 0, 0, jst), time.Date(2026, 11, 1, 0, 30, 0, 0, jst)))},
			want: want{avail: "99.930", downMin: "30.0", verdict: Met, credit: "0", incidents: 1},
		},
		{
			// The same incident seen from October (31 days = 44640 min):
			// 30 min. 44610 / 44640 = 99.9327…% → "99.932".
			name: "JST month boundary, October side",
			in: Input{From: octFrom, To: novFrom, Products: one("99.9",
				iv(1, MajorOutage, time.Date(2026, 10, 31, 23, 30, 0, 0, jst), time.Date(2026, 11, 1, 0, 30, 0, 0, jst)))},
			want: want{avail: "99.932", downMin: "30.0", verdict: Met, credit: "0", incidents: 1},
		},
		{
			// Still open at the end of the period: 23:00–24:00 on the 30th,
			// 60 min. 43140 / 43200 = 99.8611…%.
			name: "open interval clipped to the period",
			in:   Input{Products: one("99.9", Interval{IncidentID: 1, Status: MajorOutage, Start: nov(30, 23, 0, 0)})},
			want: want{avail: "99.861", downMin: "60.0", verdict: Missed, credit: "10", incidents: 1},
		},
		{
			// Window 1, 10th 02:00–04:00, announced on the 5th (5 days
			// ahead ≥ 3): excluded, 120 min out of the denominator. The
			// outage 03:00–05:00 counts 04:00–05:00 only: 60 min.
			// Window 2, 20th 02:00–03:00, announced on the 19th (1 day):
			// not excluded; the outage 02:30–03:30 counts in full, 60 min.
			// Down 120 min over 43200 − 120 = 43080:
			// 42960 / 43080 = 99.7214…% → "99.721".
			name: "excluded and non-excluded maintenance",
			in: Input{Products: one("99.9",
				iv(1, MajorOutage, nov(10, 3, 0, 0), nov(10, 5, 0, 0)),
				iv(2, MajorOutage, nov(20, 2, 30, 0), nov(20, 3, 30, 0))),
				Maintenance: []Window{
					{ID: 1, ComponentIDs: []int64{10}, Start: nov(10, 2, 0, 0), End: nov(10, 4, 0, 0), AnnouncedAt: nov(5, 2, 0, 0)},
					{ID: 2, ComponentIDs: []int64{10}, Start: nov(20, 2, 0, 0), End: nov(20, 3, 0, 0), AnnouncedAt: nov(19, 2, 0, 0)},
					{ID: 3, ComponentIDs: []int64{99}, Start: nov(21, 2, 0, 0), End: nov(21, 3, 0, 0), AnnouncedAt: nov(1, 2, 0, 0)},
				}},
			want: want{avail: "99.721", downMin: "120.0", verdict: Missed, credit: "10", excludedMin: 120, incidents: 2, windows: 2},
		},
		{
			// Service from the 16th: 15 days = 21600 min. An outage on the
			// 10th is before it; one from 23:00 on the 15th to 00:24 on the
			// 16th counts 24 min; one on the 20th 10:00–10:36, 36 min.
			// 21540 / 21600 = 99.7222…% → "99.722".
			name: "contract started mid-month",
			in: Input{ServiceStart: ptr(nov(16, 0, 0, 0)), Products: one("99.9",
				iv(1, MajorOutage, nov(10, 10, 0, 0), nov(10, 11, 0, 0)),
				iv(2, MajorOutage, nov(15, 23, 0, 0), nov(16, 0, 24, 0)),
				iv(3, MajorOutage, nov(20, 10, 0, 0), nov(20, 10, 36, 0)))},
			want: want{avail: "99.722", downMin: "60.0", verdict: Missed, credit: "10", incidents: 2},
		},
		{
			// 600 min: 42600 / 43200 = 98.6111…%: below 99.0 → 25 %.
			name: "credit tier 25",
			in:   Input{Products: one("99.9", iv(1, MajorOutage, nov(3, 0, 0, 0), nov(3, 10, 0, 0)))},
			want: want{avail: "98.611", downMin: "600.0", verdict: Missed, credit: "25", incidents: 1},
		},
		{
			// 3000 min: 40200 / 43200 = 93.0555…%: below 95.0 → 50 %.
			name: "credit tier 50",
			in:   Input{Products: one("99.9", iv(1, MajorOutage, nov(3, 0, 0, 0), nov(5, 2, 0, 0)))},
			want: want{avail: "93.055", downMin: "3000.0", verdict: Missed, credit: "50", incidents: 1},
		},
		{
			// 43.2 min = 2592 s is exactly 0.1 % of the month: 99.9 %
			// exactly, which is not below 99.9, so no credit, and met.
			name: "exactly at the first threshold",
			in:   Input{Products: one("99.9", iv(1, MajorOutage, nov(3, 0, 0, 0), nov(3, 0, 43, 12)))},
			want: want{avail: "99.900", downMin: "43.2", verdict: Met, credit: "0", incidents: 1},
		},
		{
			// 1296 s = 0.05 % of 2592000 s: 99.950 exactly, meets "99.95".
			// (No credit in these: 99.95 is not below the 99.9 tier.)
			name: "99.95 met by 99.950 exactly",
			in:   Input{Products: one("99.95", iv(1, MajorOutage, nov(3, 0, 0, 0), nov(3, 0, 21, 36)))},
			want: want{avail: "99.950", downMin: "21.6", verdict: Met, credit: "0", incidents: 1},
		},
		{
			// One second more, 1297 s: 2590703 / 2592000 = 99.94996…%,
			// shown rounded down as "99.949": missed.
			name: "99.95 missed by a second",
			in:   Input{Products: one("99.95", iv(1, MajorOutage, nov(3, 0, 0, 0), nov(3, 0, 21, 37)))},
			want: want{avail: "99.949", downMin: "21.6", verdict: Missed, credit: "0", incidents: 1},
		},
		{
			// A period of 100000 s: 51 s down is 99.949 % exactly.
			name: "99.95 missed by 99.949 exactly",
			in: Input{From: nov(3, 0, 0, 0), To: nov(3, 0, 0, 0).Add(100000 * time.Second),
				Products: one("99.95", iv(1, MajorOutage, nov(3, 1, 0, 0), nov(3, 1, 0, 51)))},
			want: want{avail: "99.949", downMin: "0.9", verdict: Missed, credit: "0", incidents: 1},
		},
		{
			// 50 s of 100000 s: 99.950 % exactly, met.
			name: "99.95 met in a short period",
			in: Input{From: nov(3, 0, 0, 0), To: nov(3, 0, 0, 0).Add(100000 * time.Second),
				Products: one("99.95", iv(1, MajorOutage, nov(3, 1, 0, 0), nov(3, 1, 0, 50)))},
			want: want{avail: "99.950", downMin: "0.8", verdict: Met, credit: "0", incidents: 1},
		},
		{
			name: "no commitment, no credit",
			in:   Input{Products: one("", iv(1, MajorOutage, nov(3, 0, 0, 0), nov(3, 10, 0, 0)))},
			want: want{avail: "98.611", downMin: "600.0", verdict: NoTarget, credit: "0", incidents: 1},
		},
		{
			name: "no components is 100 %",
			in:   Input{Products: []Product{{ID: 1, Target: "99.9"}}},
			want: want{avail: "100.000", downMin: "0.0", verdict: Met, credit: "0"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if in.From.IsZero() {
				in.From, in.To = novFrom, novTo
			}
			in.Settings = settings
			r, err := Compute(in)
			if err != nil {
				t.Fatal(err)
			}
			p := r.Products[0]
			got := want{avail: p.AvailabilityText, downMin: p.DowntimeMinutes, verdict: p.Verdict, credit: p.CreditText,
				excludedMin: p.Excluded.Minutes(), incidents: len(p.Incidents), windows: len(p.Maintenance)}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestComputeDetails(t *testing.T) {
	// The excluded-window case in detail.
	r, err := Compute(Input{From: novFrom, To: novTo, Settings: DefaultSettings,
		Products: []Product{{ID: 1, Target: "99.5", Components: []Component{{ID: 10, Intervals: []Interval{
			iv(7, MajorOutage, nov(10, 3, 0, 0), nov(10, 5, 0, 0)),
			iv(7, PartialOutage, nov(10, 5, 0, 0), nov(10, 6, 0, 0)),
		}}}}},
		Maintenance: []Window{{ID: 1, ComponentIDs: []int64{10}, Start: nov(10, 2, 0, 0), End: nov(10, 4, 0, 0), AnnouncedAt: nov(5, 2, 0, 0)}}})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Products[0]
	// Down: 04:00–05:00 major 60 + 05:00–06:00 partial 18 = 78 min, over
	// 43200 − 120 = 43080: 43002 / 43080 = 99.8189…%.
	if p.AvailabilityText != "99.818" || p.Downtime != 78*time.Minute || p.Measured != 43080*time.Minute || p.Period != 43200*time.Minute {
		t.Errorf("figures: %+v", p)
	}
	if exact := big.NewRat(43002*100, 43080); p.Availability.Cmp(exact) != 0 {
		t.Errorf("exact availability %s, want %s", p.Availability.RatString(), exact.RatString())
	}
	if len(p.Incidents) != 1 {
		t.Fatalf("incidents: %+v", p.Incidents)
	}
	in := p.Incidents[0]
	if in.ID != 7 || in.WorstStatus != MajorOutage || !in.Start.Equal(nov(10, 3, 0, 0)) || !in.End.Equal(nov(10, 6, 0, 0)) ||
		in.Duration != 3*time.Hour || in.Downtime != 78*time.Minute || in.Impact != "major" {
		t.Errorf("incident: %+v", in)
	}
	w := p.Maintenance[0]
	if !w.Excluded || w.Notice != 5*24*time.Hour || !w.Start.Equal(nov(10, 2, 0, 0)) {
		t.Errorf("window: %+v", w)
	}

	// An incident across the month boundary, as October's report shows it:
	// cut to 23:30–24:00.
	r, err = Compute(Input{From: octFrom, To: novFrom, Settings: DefaultSettings,
		Products: []Product{{ID: 1, Components: []Component{{ID: 10, Intervals: []Interval{
			iv(7, MajorOutage, time.Date(2026, 10, 31, 23, 30, 0, 0, jst), time.Date(2026, 11, 1, 0, 30, 0, 0, jst))}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	in = r.Products[0].Incidents[0]
	if !in.End.Equal(novFrom) || in.Duration != 30*time.Minute || in.End.Location() != jst {
		t.Errorf("October side: %+v", in)
	}

	// Notice is measured against the scheduled start: a window announced
	// 3 days before its scheduled start that began an hour early is
	// still excluded; one announced 3 days less a second before is not.
	for _, c := range []struct {
		announced time.Time
		excluded  bool
	}{{nov(7, 2, 0, 0), true}, {nov(7, 2, 0, 1), false}} {
		r, err = Compute(Input{From: novFrom, To: novTo, Settings: DefaultSettings,
			Products: []Product{{ID: 1, Components: []Component{{ID: 10}}}},
			Maintenance: []Window{{ID: 1, ComponentIDs: []int64{10}, Start: nov(10, 1, 0, 0), Scheduled: nov(10, 2, 0, 0), End: nov(10, 4, 0, 0),
				AnnouncedAt: c.announced}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Products[0].Maintenance[0].Excluded; got != c.excluded {
			t.Errorf("announced %s: excluded %v", c.announced, got)
		}
	}
}

func TestNotStarted(t *testing.T) {
	r, err := Compute(Input{From: novFrom, To: novTo, ServiceStart: ptr(time.Date(2026, 12, 5, 0, 0, 0, 0, jst)), Settings: DefaultSettings,
		Products: []Product{{ID: 1, Target: "99.9", Components: []Component{{ID: 10, Intervals: []Interval{
			iv(1, MajorOutage, nov(3, 0, 0, 0), nov(3, 1, 0, 0))}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Products[0]
	if !r.NotStarted || p.Verdict != NotStarted || p.Availability != nil || p.AvailabilityText != "" || len(p.Incidents) != 0 || p.Credit != 0 {
		t.Errorf("not started: %+v %+v", r, p)
	}
	// A start exactly at the end of the period: nothing to count either.
	r, _ = Compute(Input{From: novFrom, To: novTo, ServiceStart: ptr(novTo), Settings: DefaultSettings, Products: []Product{{ID: 1}}})
	if !r.NotStarted {
		t.Error("start at the end of the period should read not started")
	}
}

func TestAsOfAndEnded(t *testing.T) {
	open := []Product{{ID: 1, Target: "99.9", Components: []Component{{ID: 10, Intervals: []Interval{
		{IncidentID: 1, Status: MajorOutage, Start: nov(20, 10, 0, 0)}}}}}}
	// On the 20th at 10:36 JST: 19 days 10 h 36 min = 27996 min counted,
	// 36 min down: 27960 / 27996 = 99.8714…%.
	r, err := Compute(Input{From: novFrom, To: novTo, AsOf: nov(20, 10, 36, 0), Settings: DefaultSettings, Products: open})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Products[0]
	if !r.InProgress || !r.End.Equal(nov(20, 10, 36, 0)) || p.Period != 27996*time.Minute || p.DowntimeMinutes != "36.0" || p.AvailabilityText != "99.871" {
		t.Errorf("so far: %+v %+v", r, p)
	}
	// Before the month: nothing counted yet.
	r, _ = Compute(Input{From: novFrom, To: novTo, AsOf: nov(1, 0, 0, 0).Add(-time.Hour), Settings: DefaultSettings, Products: open})
	if !r.NotStarted || r.InProgress || r.Products[0].Verdict != NotStarted {
		t.Errorf("month to come: %+v", r)
	}
	// Service ended on 31 October: November reads "ended".
	r, _ = Compute(Input{From: novFrom, To: novTo, ServiceEnd: ptr(novFrom.Add(-time.Hour)), Settings: DefaultSettings, Products: open})
	if !r.Ended || r.NotStarted || r.Products[0].Verdict != Ended || r.Products[0].Availability != nil {
		t.Errorf("ended: %+v", r)
	}
	// Ended on the 10th: counted to then, 9 days = 12960 min, and the
	// incident of the 20th is not in it.
	r, _ = Compute(Input{From: novFrom, To: novTo, ServiceEnd: ptr(nov(10, 0, 0, 0)), Settings: DefaultSettings, Products: open})
	if p := r.Products[0]; p.Period != 12960*time.Minute || p.AvailabilityText != "100.000" || len(p.Incidents) != 0 {
		t.Errorf("ended mid-month: %+v", p)
	}
}

func TestComputeRejects(t *testing.T) {
	if _, err := Compute(Input{From: novFrom, To: novTo, Settings: DefaultSettings, Products: []Product{{ID: 1, Target: "99,9"}}}); err == nil {
		t.Error("bad commitment accepted")
	}
	if _, err := Compute(Input{From: novFrom, To: novTo, Settings: Settings{Weights: Weights{Major: 101}}}); err == nil {
		t.Error("weight 101 accepted")
	}
	if _, err := Compute(Input{From: novTo, To: novFrom, Settings: DefaultSettings}); err == nil {
		t.Error("empty period accepted")
	}
}

func TestParsePercent(t *testing.T) {
	good := map[string]PPM{"99.9": 999000, "99.95": 999500, "100": 1000000, "99.9999": 999999, " 50 ": 500000, "0.0001": 1, "099.9": 999000}
	for s, want := range good {
		if got, err := ParsePercent(s); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "abc", "99.", ".9", "99.99999", "100.0001", "0", "-1", "1e2", "99,9", "1.2.3", "1000"} {
		if _, err := ParsePercent(s); err == nil {
			t.Errorf("ParsePercent(%q) accepted", s)
		}
	}
	for p, want := range map[PPM]string{999500: "99.95", 1000000: "100", 125000: "12.5", 1: "0.0001", 0: "0"} {
		if got := p.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", p, got, want)
		}
	}
}

func TestParseTiers(t *testing.T) {
	ts, err := ParseTiers(" 95.0:50, 99.9:10 ,99.0:25")
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.String(); got != "99.9:10,99:25,95:50" {
		t.Errorf("tiers %q", got)
	}
	if ts, err := ParseTiers("  "); err != nil || ts != nil {
		t.Errorf("empty: %v %v", ts, err)
	}
	for s, key := range map[string]string{
		"99.9":             "bad_format",
		"99.9:10,x:20":     "bad_threshold",
		"99.9:ten":         "bad_credit",
		"99.9:10,99.9:20":  "duplicate_threshold",
		"99.9:50,99.0:25":  "credit_order",
		"99.9:10,,99.0:25": "bad_format",
		"101:10":           "bad_threshold",
	} {
		_, err := ParseTiers(s)
		te, ok := err.(*TierError)
		if !ok || te.Key != key {
			t.Errorf("ParseTiers(%q): %v, want %s", s, err, key)
			continue
		}
		if !strings.Contains(err.Error(), "credit tiers") {
			t.Errorf("message %q", err)
		}
	}
	// Credit by exact availability.
	ts, _ = ParseTiers("99.9:10,99.0:25,95.0:50")
	for a, want := range map[string]PPM{"100": 0, "99.9": 0, "99.8999": 100000, "99": 100000, "98.5": 250000, "94.99": 500000} {
		r, _ := new(big.Rat).SetString(a)
		if got := ts.Credit(r); got != want {
			t.Errorf("credit at %s = %s, want %s", a, got, want)
		}
	}
}
