package data_test

import (
	"context"
	"errors"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
	"github.com/oshirase/oshirase/internal/sla"
)

// slaJST builds a moment in Tokyo.
func slaJST(y int, mo time.Month, d, h, mi, s int) time.Time {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return time.Date(y, mo, d, h, mi, s, 0, tokyo)
}

func slaNov(d, h, mi, s int) time.Time { return slaJST(2026, time.November, d, h, mi, s) }

type slaFixture struct {
	s                *data.Store
	clock            *datatest.Clock
	p1, p2           *data.Product
	a, b, c, d       *data.Component
	k1, k2, k3       *data.Contract
	inc1, inc2, inc3 int64
	w1, w2           int64
}

// slaIncident declares an incident at its first moment with the given
// statuses, then posts each later step at its stated time (backfilled:
// the clock stands after all of them).
func (f *slaFixture) incident(t *testing.T, title string, start time.Time, comps map[int64]string, steps ...slaStep) int64 {
	t.Helper()
	ctx := context.Background()
	inc, err := f.s.CreateIncident(ctx, data.NewIncident{TitleJA: title, Impact: "major", Status: data.Investigating, StartedAt: start,
		BodyJA: "調査中", Components: comps})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		status := data.Identified
		if st.resolve {
			status = data.Resolved
		}
		if _, err := f.s.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: status, BodyJA: "更新", Components: st.comps, At: st.at}); err != nil {
			t.Fatal(err)
		}
	}
	return inc.ID
}

type slaStep struct {
	at      time.Time
	comps   map[int64]string
	resolve bool
}

func resolveAt(at time.Time) slaStep { return slaStep{at: at, resolve: true} }

// newSLAFixture builds, through the store's own calls, the November 2026
// (JST) the tests read. Product 1 (commitment 99.9) has components A, B and
// the contract-only C; product 2 (99.95) has D.
//
//   - A: incident 1 major 10th 10:00–11:00 and incident 2 major
//     10:30–11:30 (overlap: 90 min).
//   - B partial from the 12th 10:00; at 11:00 also C major; at 11:30 C
//     no longer listed; resolved 12:00: 60×30 % + 30 + 30×30 % = 57 min.
//   - A major from 31 October 23:30 to 1 November 00:30 JST: 30 min each
//     side.
//   - Window 1 on A, scheduled 20th 01:30–04:30, saved on the 15th 01:30
//     (5 days ahead), run 02:00–04:00: 120 min excluded. A major
//     03:00–05:00 counts 60 min.
//   - Window 2 on A, 25th 02:00–03:00, saved on the 24th (1 day ahead),
//     never started: not excluded. A major 02:30–03:30 counts 60 min.
//   - Window 3 on A, 27th, cancelled: not counted.
//   - D major 5th 00:00:00–00:21:36: 21.6 min.
//
// Contract K1 uses both products; K2 uses product 1 from the 16th with its
// own commitment 99.4; K3 starts in December.
func newSLAFixture(t *testing.T) *slaFixture {
	t.Helper()
	ctx := context.Background()
	clock := datatest.NewClock(slaNov(1, 9, 0, 0))
	s := datatest.Open(t, clock)
	f := &slaFixture{s: s, clock: clock}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	f.p1, err = s.CreateProduct(ctx, data.ProductInput{NameJA: "krewSheet"})
	must(err)
	f.p2, err = s.CreateProduct(ctx, data.ProductInput{NameJA: "krewData"})
	must(err)
	must(s.SetProductSLATarget(ctx, f.p1.ID, "99.9"))
	must(s.SetProductSLATarget(ctx, f.p2.ID, " 99.95 "))
	comp := func(p *data.Product, name string, contractOnly bool) *data.Component {
		c, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: name, ContractOnly: contractOnly})
		must(err)
		return c
	}
	f.a, f.b, f.c, f.d = comp(f.p1, "A", false), comp(f.p1, "B", false), comp(f.p1, "C", true), comp(f.p2, "D", false)
	contract := func(code string, products ...int64) *data.Contract {
		k, err := s.CreateContract(ctx, data.ContractInput{Code: code, Name: code, Active: true, ProductIDs: products})
		must(err)
		return k
	}
	f.k1 = contract("K1", f.p1.ID, f.p2.ID)
	f.k2 = contract("K2", f.p1.ID)
	f.k3 = contract("K3", f.p1.ID)
	must(s.SetContractSLA(ctx, f.k2.ID, data.ContractSLA{StartedAt: ptrTime(slaNov(16, 0, 0, 0)), SLATarget: "99.4", ReportMail: true}))
	must(s.SetContractSLA(ctx, f.k3.ID, data.ContractSLA{StartedAt: ptrTime(slaJST(2026, time.December, 1, 0, 0, 0))}))
	must(s.SaveSLASettings(ctx, data.SLASettings{MajorWeight: 100, PartialWeight: 30, DegradedWeight: 0, NoticeDays: 3, CreditTiers: "99.9:10,99.0:25,95.0:50"}))

	// Maintenance, each saved at its announcement.
	mw := func(title string, saved, starts, ends time.Time) int64 {
		clock.Set(saved)
		m, err := s.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: title, StartsAt: starts, EndsAt: ends, BodyJA: "作業", ComponentIDs: []int64{f.a.ID}})
		must(err)
		return m.ID
	}
	step := func(id int64, at time.Time, status string) {
		clock.Set(at)
		_, err := s.PostMaintenanceUpdate(ctx, id, data.NewMaintenanceUpdate{Status: status, BodyJA: status})
		must(err)
	}
	f.w1 = mw("W1", slaNov(15, 1, 30, 0), slaNov(20, 1, 30, 0), slaNov(20, 4, 30, 0))
	f.w2 = mw("W2", slaNov(24, 2, 0, 0), slaNov(25, 2, 0, 0), slaNov(25, 3, 0, 0))
	w3 := mw("W3", slaNov(1, 10, 0, 0), slaNov(27, 0, 0, 0), slaNov(27, 6, 0, 0))
	step(f.w1, slaNov(20, 2, 0, 0), data.InProgress)
	step(f.w1, slaNov(20, 4, 0, 0), data.Completed)
	step(w3, slaNov(26, 0, 0, 0), data.Cancelled)

	// Incidents, written up afterwards.
	clock.Set(slaJST(2026, time.December, 2, 9, 0, 0))
	major := func(c *data.Component) map[int64]string { return map[int64]string{c.ID: data.MajorOutage} }
	f.inc1 = f.incident(t, "inc1", slaNov(10, 10, 0, 0), major(f.a), resolveAt(slaNov(10, 11, 0, 0)))
	f.inc2 = f.incident(t, "inc2", slaNov(10, 10, 30, 0), major(f.a), resolveAt(slaNov(10, 11, 30, 0)))
	f.inc3 = f.incident(t, "inc3", slaNov(12, 10, 0, 0), map[int64]string{f.b.ID: data.PartialOutage},
		slaStep{at: slaNov(12, 11, 0, 0), comps: map[int64]string{f.b.ID: data.PartialOutage, f.c.ID: data.MajorOutage}},
		slaStep{at: slaNov(12, 11, 30, 0), comps: map[int64]string{f.b.ID: data.PartialOutage}},
		resolveAt(slaNov(12, 12, 0, 0)))
	f.incident(t, "inc4", slaJST(2026, time.October, 31, 23, 30, 0), major(f.a), resolveAt(slaNov(1, 0, 30, 0)))
	f.incident(t, "inc5", slaNov(20, 3, 0, 0), major(f.a), resolveAt(slaNov(20, 5, 0, 0)))
	f.incident(t, "inc6", slaNov(25, 2, 30, 0), major(f.a), resolveAt(slaNov(25, 3, 30, 0)))
	f.incident(t, "inc7", slaNov(5, 0, 0, 0), major(f.d), resolveAt(slaNov(5, 0, 21, 36)))
	// Resolved long before November: never loaded into it.
	f.incident(t, "old", slaJST(2026, time.September, 3, 0, 0, 0), major(f.a), resolveAt(slaJST(2026, time.September, 3, 1, 0, 0)))
	return f
}

func ptrTime(t time.Time) *time.Time { return &t }

func slaProduct(t *testing.T, r *sla.Report, id int64) sla.ProductReport {
	t.Helper()
	for _, p := range r.Products {
		if p.ProductID == id {
			return p
		}
	}
	t.Fatalf("product %d not in the report", id)
	return sla.ProductReport{}
}

func TestSLAReport(t *testing.T) {
	f := newSLAFixture(t)
	ctx := context.Background()
	novFrom, novTo := slaNov(1, 0, 0, 0), slaJST(2026, time.December, 1, 0, 0, 0)
	octFrom := slaJST(2026, time.October, 1, 0, 0, 0)
	type fig struct {
		avail, down, verdict, credit, target string
		excludedMin                          float64
		incidents                            int
	}
	cases := []struct {
		name     string
		contract int64
		product  int64
		from, to time.Time
		want     fig
	}{
		// Down 90 + 57 + 30 + 60 + 60 = 297 min over 43200 − 120 = 43080:
		// 42783 / 43080 = 99.3105…% → "99.310"; below 99.9 → 10 % credit.
		// Without C (contract-only) the 12th would count 36, not 57.
		{"K1 product 1, November", f.k1.ID, f.p1.ID, novFrom, novTo,
			fig{"99.310", "297.0", sla.Missed, "10", "99.9", 120, 6}},
		// 21.6 min = 1296 s of 2592000 s: 99.950 exactly, meets 99.95.
		{"K1 product 2, November", f.k1.ID, f.p2.ID, novFrom, novTo,
			fig{"99.950", "21.6", sla.Met, "0", "99.95", 0, 1}},
		// October (44640 min): the 30 min before midnight JST.
		// 44610 / 44640 = 99.9327…% → "99.932".
		{"K1 product 1, October", f.k1.ID, f.p1.ID, octFrom, novFrom,
			fig{"99.932", "30.0", sla.Met, "0", "99.9", 0, 1}},
		// From the 16th: 21600 min; window 1 excluded (120), down 60 + 60:
		// (21480 − 120) / 21480 = 99.4413…% → "99.441", meets the
		// contract's 99.4 (the product's 99.9 it would miss); met, so no
		// credit, whatever tier the figure falls in.
		{"K2 from the 16th, own commitment", f.k2.ID, f.p1.ID, novFrom, novTo,
			fig{"99.441", "120.0", sla.Met, "0", "99.4", 120, 2}}, // met: no credit, whatever the tier
		{"K3 not started", f.k3.ID, f.p1.ID, novFrom, novTo,
			fig{"", "", sla.NotStarted, "", "99.9", 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := f.s.SLAReport(ctx, c.contract, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			p := slaProduct(t, r, c.product)
			got := fig{p.AvailabilityText, p.DowntimeMinutes, p.Verdict, p.CreditText, p.Target, p.Excluded.Minutes(), len(p.Incidents)}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}

	r, err := f.s.SLAReport(ctx, f.k1.ID, novFrom, novTo)
	if err != nil {
		t.Fatal(err)
	}
	p := slaProduct(t, r, f.p1.ID)
	// Windows: 1 (excluded, its actual 02:00–04:00), 2 (not excluded, its
	// scheduled times); the cancelled one is absent.
	if len(p.Maintenance) != 2 {
		t.Fatalf("windows: %+v", p.Maintenance)
	}
	w1, w2 := p.Maintenance[0], p.Maintenance[1]
	if w1.ID != f.w1 || !w1.Excluded || !w1.Start.Equal(slaNov(20, 2, 0, 0)) || !w1.End.Equal(slaNov(20, 4, 0, 0)) || w1.Notice != 5*24*time.Hour {
		t.Errorf("window 1: %+v", w1)
	}
	if w2.ID != f.w2 || w2.Excluded || !w2.Start.Equal(slaNov(25, 2, 0, 0)) || w2.Notice != 24*time.Hour {
		t.Errorf("window 2: %+v", w2)
	}
	// Incident 3 on B and C: worst major, 10:00–12:00, 57 min of its own.
	var inc3 *sla.IncidentReport
	for i := range p.Incidents {
		if p.Incidents[i].ID == f.inc3 {
			inc3 = &p.Incidents[i]
		}
	}
	if inc3 == nil || inc3.WorstStatus != sla.MajorOutage || inc3.Impact != "major" || !inc3.Start.Equal(slaNov(12, 10, 0, 0)) ||
		!inc3.End.Equal(slaNov(12, 12, 0, 0)) || inc3.Duration != 2*time.Hour || inc3.Downtime != 57*time.Minute {
		t.Errorf("incident 3: %+v", inc3)
	}
	// The boundary incident appears in November cut at midnight JST.
	first := p.Incidents[0]
	if !first.Start.Equal(novFrom) || first.Duration != 30*time.Minute {
		t.Errorf("boundary incident: %+v", first)
	}

	if _, err := f.s.SLAReport(ctx, 9999, novFrom, novTo); !errors.Is(err, data.ErrNotFound) {
		t.Errorf("unknown contract: %v", err)
	}

	// Breaches: K1 × product 1 only (K2 meets its own 99.4, K3 has not
	// started).
	bs, err := f.s.SLABreaches(ctx, novFrom, novTo)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ContractID != f.k1.ID || bs[0].ContractCode != "K1" || bs[0].Product.ProductID != f.p1.ID || bs[0].Product.AvailabilityText != "99.310" {
		t.Errorf("breaches: %+v", bs)
	}
	// October: none.
	if bs, err := f.s.SLABreaches(ctx, octFrom, novFrom); err != nil || len(bs) != 0 {
		t.Errorf("October breaches: %+v, %v", bs, err)
	}
}

// TestSLAOpenIncident: an incident still open counts up to now, a month
// in progress is counted so far, and an incident reopened counts both
// stretches.
func TestSLAOpenIncident(t *testing.T) {
	ctx := context.Background()
	clock := datatest.NewClock(slaNov(30, 23, 0, 0))
	s := datatest.Open(t, clock)
	p, err := s.CreateProduct(ctx, data.ProductInput{NameJA: "P"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "C"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateContract(ctx, data.ContractInput{Code: "K", Name: "K", Active: true, ProductIDs: []int64{p.ID}})
	if err != nil {
		t.Fatal(err)
	}
	comps := map[int64]string{c.ID: data.MajorOutage}
	// Reopened: major 1st 10:00–10:10, resolved, reopened 10:20–10:30.
	inc, err := s.CreateIncident(ctx, data.NewIncident{TitleJA: "x", Impact: "major", Status: data.Investigating, StartedAt: slaNov(1, 10, 0, 0), BodyJA: "x", Components: comps})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []data.NewIncidentUpdate{
		{Status: data.Resolved, BodyJA: "x", Components: comps, At: slaNov(1, 10, 10, 0)},
		{Status: data.Investigating, BodyJA: "x", Components: comps, At: slaNov(1, 10, 20, 0), Reopen: true},
		{Status: data.Resolved, BodyJA: "x", At: slaNov(1, 10, 30, 0)},
	} {
		if _, err := s.PostIncidentUpdate(ctx, inc.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	// Open from 23:00 on the 30th (now): 60 min to the month's end.
	if _, err := s.CreateIncident(ctx, data.NewIncident{TitleJA: "y", Impact: "critical", Status: data.Investigating, BodyJA: "y", Components: comps}); err != nil {
		t.Fatal(err)
	}
	from, to := slaNov(1, 0, 0, 0), slaJST(2026, time.December, 1, 0, 0, 0)
	// At 23:40 the month is counted so far, 43180 min, the open incident
	// up to now: 10 + 10 + 40 = 60 min. 43120 / 43180 = 99.8610…%.
	clock.Set(slaNov(30, 23, 40, 0))
	r, err := s.SLAReport(ctx, k.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	pr := r.Products[0]
	if !r.InProgress || pr.AvailabilityText != "99.861" || pr.DowntimeMinutes != "60.0" || pr.Measured != 43180*time.Minute {
		t.Errorf("so far: %+v %+v", r, pr)
	}
	// Once the month is over, to its end: 10 + 10 + 60 = 80 min:
	// 43120 / 43200 = 99.8148…%; no commitment, default settings.
	clock.Set(slaJST(2026, time.December, 2, 9, 0, 0))
	if r, err = s.SLAReport(ctx, k.ID, from, to); err != nil {
		t.Fatal(err)
	}
	pr = r.Products[0]
	if r.InProgress || pr.AvailabilityText != "99.814" || pr.DowntimeMinutes != "80.0" || pr.Verdict != sla.NoTarget || len(pr.Incidents) != 2 || pr.Incidents[0].Duration != 20*time.Minute {
		t.Errorf("got %+v", pr)
	}
	// December has not begun on 30 November.
	clock.Set(slaNov(30, 23, 40, 0))
	if r, err = s.SLAReport(ctx, k.ID, to, to.AddDate(0, 1, 0)); err != nil || !r.NotStarted {
		t.Errorf("a month to come: %+v, %v", r, err)
	}
}

func TestSLASettings(t *testing.T) {
	ctx := context.Background()
	s := datatest.Open(t, datatest.NewClock(t0))
	got, err := s.SLASettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if *got != data.DefaultSLASettings() {
		t.Errorf("defaults: %+v", got)
	}
	if r := got.Rules(); r.Weights != sla.DefaultWeights || r.NoticeDays != 3 || r.Tiers != nil {
		t.Errorf("default rules: %+v", r)
	}
	in := data.SLASettings{MajorWeight: 100, PartialWeight: 50, DegradedWeight: 10, NoticeDays: 7, CreditTiers: " 99.9:10,99.0:25 "}
	if err := s.SaveSLASettings(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.PartialWeight = 40
	if err := s.SaveSLASettings(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err = s.SLASettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 1 || got.PartialWeight != 40 || got.DegradedWeight != 10 || got.NoticeDays != 7 || got.CreditTiers != "99.9:10,99.0:25" || got.UpdatedAt == nil {
		t.Errorf("saved: %+v", got)
	}
	if r := got.Rules(); len(r.Tiers) != 2 || r.Tiers[1].Credit != 250000 {
		t.Errorf("rules: %+v", r)
	}
	for _, c := range []struct {
		in         data.SLASettings
		field, key string
	}{
		{data.SLASettings{MajorWeight: 101}, "major_weight", "out_of_range"},
		{data.SLASettings{MajorWeight: 100, PartialWeight: -1}, "partial_weight", "out_of_range"},
		{data.SLASettings{MajorWeight: 100, DegradedWeight: 200}, "degraded_weight", "out_of_range"},
		{data.SLASettings{MajorWeight: 100, NoticeDays: 61}, "notice_days", "out_of_range"},
		{data.SLASettings{MajorWeight: 100, NoticeDays: -1}, "notice_days", "out_of_range"},
		{data.SLASettings{MajorWeight: 100, CreditTiers: "99.9:50,99.0:25"}, "credit_tiers", "bad_tiers"},
		{data.SLASettings{MajorWeight: 100, CreditTiers: "99.9"}, "credit_tiers", "bad_tiers"},
	} {
		fieldErr(t, s.SaveSLASettings(ctx, c.in), c.field, c.key)
	}

	p, err := s.CreateProduct(ctx, data.ProductInput{NameJA: "P"})
	if err != nil {
		t.Fatal(err)
	}
	fieldErr(t, s.SetProductSLATarget(ctx, p.ID, "99,9"), "sla_target", "bad_percent")
	if err := s.SetProductSLATarget(ctx, 9999, "99.9"); !errors.Is(err, data.ErrNotFound) {
		t.Errorf("unknown product: %v", err)
	}
	k, err := s.CreateContract(ctx, data.ContractInput{Code: "K", Name: "K", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	fieldErr(t, s.SetContractSLA(ctx, k.ID, data.ContractSLA{SLATarget: "101"}), "sla_target", "bad_percent")
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	if err := s.SetContractSLA(ctx, k.ID, data.ContractSLA{StartedAt: &start, SLATarget: "99.95", ReportMail: true}); err != nil {
		t.Fatal(err)
	}
	got2, err := s.Contract(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got2.StartedAt == nil || !got2.StartedAt.Equal(start) || got2.SLATarget != "99.95" || !got2.SLAReportMail {
		t.Errorf("contract terms: %+v", got2)
	}
	if err := s.SetContractSLA(ctx, k.ID, data.ContractSLA{}); err != nil {
		t.Fatal(err)
	}
	if got2, _ = s.Contract(ctx, k.ID); got2.StartedAt != nil || got2.SLATarget != "" || got2.SLAReportMail {
		t.Errorf("cleared terms: %+v", got2)
	}
}
