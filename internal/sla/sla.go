// Package sla computes a contract's availability over a period, product by
// product, against the commitments it was sold with. It is pure: callers
// (data.Store.SLAReport) load the status intervals and maintenance windows
// and pass them in.
//
// How a period is counted:
//
//   - The period is [From, To), cut to the service: it starts no earlier
//     than ServiceStart and ends no later than ServiceEnd, nor than AsOf
//     (the moment of the report: a month in progress is counted so far,
//     an open incident up to now, never into the future). A period that
//     lies wholly before the start (or wholly after AsOf) reads "not
//     started" (Verdict NotStarted), one wholly after the service ended
//     "ended" (Verdict Ended): no figures, no verdict, no credit.
//   - Time is counted in whole seconds (instants are truncated to the
//     second).
//   - At each moment a component is in the worst status any interval puts
//     it in, and a product is down by the worst weighted status over its
//     components: overlapping incidents on one component, or two of its
//     components down at once, never count twice. A second at
//     major_outage counts Weights.Major %, at partial_outage
//     Weights.Partial %, at degraded_performance Weights.Degraded %.
//   - A maintenance window announced at least NoticeDays×24h before its
//     scheduled start is excluded: while it runs on any of a product's
//     components, that product's time counts neither as down nor in the
//     denominator. A window announced later is listed but not excluded:
//     outages during it count as usual (the maintenance itself is not a
//     down status).
//   - Availability = (counted − weighted down) / counted, exact (a
//     big.Rat). A product with no components, or whose whole counted time
//     is excluded, is 100 %.
//   - AvailabilityText rounds the exact value DOWN to 3 decimals, so the
//     figure shown never reaches a commitment the product missed
//     (99.9499… reads "99.949", not "99.950").
//   - Met/missed compares the exact value with the commitment: equal is
//     met. A product with no commitment has Verdict NoTarget and earns no
//     credit.
//   - The credit is that of the lowest tier threshold the exact
//     availability is below (Tiers.Credit), for a missed commitment only.
package sla

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// The statuses that count as down; any other status counts as up.
const (
	MajorOutage         = "major_outage"
	PartialOutage       = "partial_outage"
	DegradedPerformance = "degraded_performance"
)

// Verdicts. NotStarted and Ended come with no figures.
const (
	Met        = "met"
	Missed     = "missed"
	NoTarget   = "no_target"
	NotStarted = "not_started"
	Ended      = "ended"
)

// Down reports whether a status is one of the three that can count as
// down (whatever its weight).
func Down(status string) bool { return rank(status) > 0 }

// Weights are how much of a second at each status counts as down, in
// percent (0–100).
type Weights struct {
	Major, Partial, Degraded int
}

// DefaultWeights are the migration's defaults.
var DefaultWeights = Weights{Major: 100, Partial: 30, Degraded: 0}

// Of returns the weight of a status; statuses that are not down weigh 0.
func (w Weights) Of(status string) int {
	switch status {
	case MajorOutage:
		return w.Major
	case PartialOutage:
		return w.Partial
	case DegradedPerformance:
		return w.Degraded
	}
	return 0
}

// Settings are the counting rules.
type Settings struct {
	Weights Weights
	// NoticeDays is how many days (of 24 hours) before its scheduled start
	// a window must have been announced to be excluded.
	NoticeDays int
	Tiers      Tiers
}

// DefaultSettings are the migration's defaults: no credit table.
var DefaultSettings = Settings{Weights: DefaultWeights, NoticeDays: 3}

// Validate checks the weights and the notice.
func (s Settings) Validate() error {
	for _, w := range []int{s.Weights.Major, s.Weights.Partial, s.Weights.Degraded} {
		if w < 0 || w > 100 {
			return fmt.Errorf("sla: weight %d is not between 0 and 100", w)
		}
	}
	if s.NoticeDays < 0 {
		return fmt.Errorf("sla: notice of %d days", s.NoticeDays)
	}
	return nil
}

// Input is everything one report needs.
type Input struct {
	// From and To bound the period, [From, To): callers pass month
	// boundaries in JST.
	From, To time.Time
	// ServiceStart and ServiceEnd (optional) cut the period to the
	// contract's service.
	ServiceStart, ServiceEnd *time.Time
	// AsOf (optional) is the moment of the report: a period not over yet
	// is counted up to it, and what is still going on lasts until it.
	AsOf     time.Time
	Settings Settings
	Products []Product
	// Maintenance lists the windows on any of the products' components.
	Maintenance []Window
}

// Product is one product of the contract and its commitment.
type Product struct {
	ID             int64
	NameJA, NameEN string
	// Target is the committed availability, a percentage ("99.9"); ""
	// commits to none.
	Target     string
	Components []Component
}

// Component is one component and the intervals it spent in a down status.
type Component struct {
	ID        int64
	Intervals []Interval
}

// Interval is a stretch of time an incident held a component in a status.
type Interval struct {
	IncidentID int64
	// Impact is the incident's impact ("minor", "major", "critical"),
	// copied to the report.
	Impact string
	Status string
	Start  time.Time
	// End nil: still going on, counted up to the end of the period.
	End *time.Time
}

// Window is a maintenance window.
type Window struct {
	ID           int64
	TitleJA      string
	TitleEN      string
	ComponentIDs []int64
	Start, End   time.Time
	// Scheduled is the start announced, which the notice is measured
	// against; zero means Start.
	Scheduled   time.Time
	AnnouncedAt time.Time
}

// Report is a contract's availability over a period.
type Report struct {
	From, To time.Time
	// Start and End are the period counted, cut to the service and to
	// AsOf; equal when nothing is counted.
	Start, End time.Time
	// NotStarted: the service (or the period itself) had not begun by
	// the end of the period (or AsOf); Ended: the service ended before
	// the period began. Either way there are no figures.
	NotStarted, Ended bool
	// InProgress: the period was cut at AsOf, the figures are so far.
	InProgress bool
	Products   []ProductReport
}

// Missed returns the products that missed their commitment.
func (r *Report) Missed() []ProductReport {
	var out []ProductReport
	for _, p := range r.Products {
		if p.Verdict == Missed {
			out = append(out, p)
		}
	}
	return out
}

// ProductReport is one product's figures.
type ProductReport struct {
	ProductID      int64
	NameJA, NameEN string
	// Target is the commitment as given ("" none), TargetPPM as read.
	Target    string
	TargetPPM PPM
	// Verdict is Met, Missed, NoTarget or NotStarted.
	Verdict string
	// Period is the time counted after the cut to the service; Excluded
	// the part of it under excluded maintenance; Measured the rest, the
	// denominator.
	Period, Excluded, Measured time.Duration
	// Downtime is the weighted time down (30 minutes at a 30 % weight is 9
	// minutes); DowntimeMinutes writes it in minutes to one decimal,
	// rounded half up.
	Downtime        time.Duration
	DowntimeMinutes string
	// Availability is exact, in percent (nil when not started);
	// AvailabilityText rounds it down to 3 decimals ("99.950").
	Availability     *big.Rat
	AvailabilityText string
	// Credit is the service credit earned, a share of the fee.
	Credit     PPM
	CreditText string
	Incidents  []IncidentReport
	// Maintenance lists every window on its components that overlaps
	// the period, excluded or not.
	Maintenance []WindowReport
}

// IncidentReport is an incident that touched the product in the period.
type IncidentReport struct {
	ID     int64
	Impact string
	// WorstStatus is the worst status it put a component of the product
	// in, within the period.
	WorstStatus string
	// Start and End are its first and last moments on the product, cut to
	// the period; Duration is the time it held some component of the
	// product in a down status (gaps left out).
	Start, End time.Time
	Duration   time.Duration
	// Downtime is its own weighted time down outside excluded
	// maintenance, as if it were the only incident; incidents that
	// overlap each count it in full, so these may sum to more than the
	// product's Downtime.
	Downtime time.Duration
}

// WindowReport is a maintenance window on the product.
type WindowReport struct {
	ID               int64
	TitleJA, TitleEN string
	// Start and End are cut to the period.
	Start, End  time.Time
	AnnouncedAt time.Time
	// Notice is how long before its scheduled start it was announced.
	Notice time.Duration
	// Excluded: announced early enough, so its time is not counted.
	Excluded bool
}

// Compute builds the report. It fails on a bad commitment or bad settings.
func Compute(in Input) (*Report, error) {
	if err := in.Settings.Validate(); err != nil {
		return nil, err
	}
	if !in.To.After(in.From) {
		return nil, fmt.Errorf("sla: period %s – %s is empty", in.From, in.To)
	}
	r := &Report{From: in.From, To: in.To, Start: in.From, End: in.To}
	if in.ServiceStart != nil && in.ServiceStart.After(r.Start) {
		r.Start = *in.ServiceStart
	}
	if in.ServiceEnd != nil && in.ServiceEnd.Before(r.End) {
		r.End = *in.ServiceEnd
	}
	if !in.AsOf.IsZero() && in.AsOf.Before(r.End) {
		r.End, r.InProgress = in.AsOf, true
	}
	if !r.End.After(r.Start) {
		if in.ServiceEnd != nil && !in.ServiceEnd.After(in.From) && (in.ServiceStart == nil || in.ServiceStart.Before(in.To)) {
			r.Ended = true
		} else {
			r.NotStarted = true
		}
		r.End, r.InProgress = r.Start, false
	}
	start, end := r.Start.Unix(), r.End.Unix()
	notice := int64(in.Settings.NoticeDays) * 24 * 3600
	for _, p := range in.Products {
		pr := ProductReport{ProductID: p.ID, NameJA: p.NameJA, NameEN: p.NameEN, Target: p.Target}
		if p.Target != "" {
			t, err := ParsePercent(p.Target)
			if err != nil {
				return nil, fmt.Errorf("sla: product %d: commitment: %w", p.ID, err)
			}
			pr.TargetPPM = t
		}
		if r.NotStarted || r.Ended {
			pr.Verdict = NotStarted
			if r.Ended {
				pr.Verdict = Ended
			}
			r.Products = append(r.Products, pr)
			continue
		}
		comps := map[int64]bool{}
		var ivs []span
		for _, c := range p.Components {
			comps[c.ID] = true
			for _, iv := range c.Intervals {
				s, e := iv.Start.Unix(), end
				if iv.End != nil {
					e = iv.End.Unix()
				}
				s, e = max(s, start), min(e, end)
				if e > s {
					ivs = append(ivs, span{s: s, e: e, w: in.Settings.Weights.Of(iv.Status), rank: rank(iv.Status), status: iv.Status, incident: iv.IncidentID, impact: iv.Impact})
				}
			}
		}
		var excl []span
		for _, w := range in.Maintenance {
			if !touches(w.ComponentIDs, comps) {
				continue
			}
			s, e := max(w.Start.Unix(), start), min(w.End.Unix(), end)
			if e <= s {
				continue
			}
			sched := w.Scheduled
			if sched.IsZero() {
				sched = w.Start
			}
			wr := WindowReport{ID: w.ID, TitleJA: w.TitleJA, TitleEN: w.TitleEN, Start: time.Unix(s, 0).In(r.From.Location()), End: time.Unix(e, 0).In(r.From.Location()),
				AnnouncedAt: w.AnnouncedAt, Notice: sched.Sub(w.AnnouncedAt)}
			wr.Excluded = sched.Unix()-w.AnnouncedAt.Unix() >= notice
			if wr.Excluded {
				excl = append(excl, span{s: s, e: e})
			}
			pr.Maintenance = append(pr.Maintenance, wr)
		}
		sort.SliceStable(pr.Maintenance, func(i, j int) bool { return pr.Maintenance[i].Start.Before(pr.Maintenance[j].Start) })

		period := end - start
		excluded := covered(excl, start, end)
		measured := period - excluded
		down := weighted(ivs, excl, start, end) // seconds × percent
		pr.Period, pr.Excluded, pr.Measured = secs(period), secs(excluded), secs(measured)
		pr.Downtime = time.Duration(down) * time.Second / 100
		pr.DowntimeMinutes = decimal(big.NewRat(down, 6000), 1, true)
		if measured == 0 {
			pr.Availability = big.NewRat(100, 1)
		} else {
			pr.Availability = big.NewRat(measured*100-down, measured)
		}
		pr.AvailabilityText = decimal(pr.Availability, 3, false)
		switch {
		case p.Target == "":
			pr.Verdict = NoTarget
		case pr.Availability.Cmp(pr.TargetPPM.Rat()) >= 0:
			pr.Verdict = Met
		default:
			pr.Verdict = Missed
		}
		// A credit makes up for a commitment missed: none while it is met,
		// whatever tier the figure falls in.
		if pr.Verdict == Missed {
			pr.Credit = in.Settings.Tiers.Credit(pr.Availability)
		}
		pr.CreditText = pr.Credit.String()
		pr.Incidents = incidents(ivs, excl, start, end, r.From.Location())
		r.Products = append(r.Products, pr)
	}
	return r, nil
}

type span struct {
	s, e     int64
	w, rank  int
	status   string
	incident int64
	impact   string
}

func rank(status string) int {
	switch status {
	case MajorOutage:
		return 3
	case PartialOutage:
		return 2
	case DegradedPerformance:
		return 1
	}
	return 0
}

func touches(ids []int64, comps map[int64]bool) bool {
	for _, id := range ids {
		if comps[id] {
			return true
		}
	}
	return false
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }

// cuts returns the sorted distinct boundaries of the spans inside [start, end].
func cuts(start, end int64, sets ...[]span) []int64 {
	pts := []int64{start, end}
	for _, set := range sets {
		for _, sp := range set {
			pts = append(pts, sp.s, sp.e)
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	out := pts[:0]
	for _, p := range pts {
		if p >= start && p <= end && (len(out) == 0 || out[len(out)-1] != p) {
			out = append(out, p)
		}
	}
	return out
}

func inside(set []span, a, b int64) bool {
	for _, sp := range set {
		if sp.s <= a && b <= sp.e {
			return true
		}
	}
	return false
}

// covered is the length of the union of the spans.
func covered(set []span, start, end int64) int64 {
	var n int64
	pts := cuts(start, end, set)
	for i := 1; i < len(pts); i++ {
		if inside(set, pts[i-1], pts[i]) {
			n += pts[i] - pts[i-1]
		}
	}
	return n
}

// weighted sums, over the time outside the excluded spans, the worst
// weight in force at each moment, in seconds × percent.
func weighted(ivs, excl []span, start, end int64) int64 {
	var n int64
	pts := cuts(start, end, ivs, excl)
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if inside(excl, a, b) {
			continue
		}
		w := 0
		for _, sp := range ivs {
			if sp.s <= a && b <= sp.e {
				w = max(w, sp.w)
			}
		}
		n += int64(w) * (b - a)
	}
	return n
}

func incidents(ivs, excl []span, start, end int64, loc *time.Location) []IncidentReport {
	by := map[int64][]span{}
	var order []int64
	for _, sp := range ivs {
		if _, ok := by[sp.incident]; !ok {
			order = append(order, sp.incident)
		}
		by[sp.incident] = append(by[sp.incident], sp)
	}
	var out []IncidentReport
	for _, id := range order {
		set := by[id]
		ir := IncidentReport{ID: id, Impact: set[0].impact}
		first, last, worst := set[0].s, set[0].e, set[0]
		for _, sp := range set {
			first, last = min(first, sp.s), max(last, sp.e)
			if sp.rank > worst.rank {
				worst = sp
			}
		}
		ir.WorstStatus = worst.status
		ir.Start, ir.End = time.Unix(first, 0).In(loc), time.Unix(last, 0).In(loc)
		ir.Duration = secs(covered(set, start, end))
		ir.Downtime = time.Duration(weighted(set, excl, start, end)) * time.Second / 100
		out = append(out, ir)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// decimal writes a non-negative rational with n decimals, rounded half up
// or down.
func decimal(x *big.Rat, n int, halfUp bool) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	num := new(big.Int).Mul(x.Num(), scale)
	den := x.Denom()
	if halfUp {
		num.Mul(num, big.NewInt(2)).Add(num, den)
		den = new(big.Int).Mul(den, big.NewInt(2))
	}
	q := new(big.Int).Quo(num, den)
	s := q.String()
	if len(s) <= n {
		s = strings.Repeat("0", n+1-len(s)) + s
	}
	return s[:len(s)-n] + "." + s[len(s)-n:]
}
