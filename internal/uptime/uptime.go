// Package uptime turns incident history into the per-day bars and uptime
// percentages of the public page.
package uptime

import (
	"sort"
	"time"

	"github.com/oshirase/oshirase/data"
)

// Span is a stretch of time during which an incident held a component in a
// status.
type Span struct {
	ComponentID int64
	IncidentID  int64
	Status      string
	From, To    time.Time
}

// Spans walks each incident's timeline: from the start (which an operator
// may have backdated) each update's component statuses hold until the next
// update, the resolution or now. Updates after resolution hold nothing.
func Spans(incidents []data.Incident, now time.Time) []Span {
	var out []Span
	for _, inc := range incidents {
		ups := append([]data.IncidentUpdate(nil), inc.Updates...)
		sort.SliceStable(ups, func(i, j int) bool { return ups[i].CreatedAt.Before(ups[j].CreatedAt) })
		end := now
		if inc.ResolvedAt != nil && inc.ResolvedAt.Before(now) {
			end = *inc.ResolvedAt
		}
		for i, u := range ups {
			if u.Status == data.Resolved {
				break
			}
			from := u.CreatedAt
			if i == 0 || from.Before(inc.StartedAt) {
				from = inc.StartedAt
			}
			to := end
			if i+1 < len(ups) && ups[i+1].CreatedAt.Before(to) {
				to = ups[i+1].CreatedAt
			}
			if !to.After(from) {
				continue
			}
			for _, c := range u.Components {
				if c.Status == data.Operational {
					continue
				}
				out = append(out, Span{ComponentID: c.ComponentID, IncidentID: inc.ID, Status: c.Status, From: from, To: to})
			}
		}
	}
	return out
}

// Day is one bar: the worst status a component was in during a calendar day
// in the page's zone, and the incidents that put it there.
type Day struct {
	Date      time.Time
	Status    string
	Incidents []int64
}

// Bar is a component's row of days, oldest first, and its uptime over them.
type Bar struct {
	Days []Day
	// Percent is the share of the period without outage, where a major
	// outage counts fully and a partial outage for 30% (Statuspage's rule);
	// degraded performance and maintenance do not count as downtime.
	Percent float64
}

// Weights of each status in downtime.
var downtimeWeight = map[string]float64{data.MajorOutage: 1, data.PartialOutage: 0.3}

// Bars computes a bar of n days ending today (in loc) for every component.
func Bars(spans []Span, componentIDs []int64, now time.Time, loc *time.Location, n int) map[int64]Bar {
	local := now.In(loc)
	y, m, d := local.Date()
	starts := make([]time.Time, n+1)
	for i := 0; i <= n; i++ {
		// time.Date per day rather than adding 24h keeps days right across
		// daylight-saving changes in zones that have them.
		starts[i] = time.Date(y, m, d-(n-1)+i, 0, 0, 0, 0, loc)
	}
	periodStart, periodEnd := starts[0], now
	period := periodEnd.Sub(periodStart).Seconds()

	byComponent := map[int64][]Span{}
	for _, sp := range spans {
		byComponent[sp.ComponentID] = append(byComponent[sp.ComponentID], sp)
	}
	out := make(map[int64]Bar, len(componentIDs))
	for _, id := range componentIDs {
		days := make([]Day, n)
		for i := range days {
			days[i] = Day{Date: starts[i], Status: data.Operational}
		}
		var down float64
		for _, sp := range byComponent[id] {
			from, to := maxTime(sp.From, periodStart), minTime(sp.To, periodEnd)
			if !to.After(from) {
				continue
			}
			down += to.Sub(from).Seconds() * downtimeWeight[sp.Status]
			for i := 0; i < n; i++ {
				if from.Before(starts[i+1]) && to.After(starts[i]) {
					days[i].Status = data.Worst(days[i].Status, sp.Status)
					days[i].Incidents = appendOnce(days[i].Incidents, sp.IncidentID)
				}
			}
		}
		pct := 100.0
		if period > 0 {
			pct = 100 * (1 - down/period)
		}
		out[id] = Bar{Days: days, Percent: pct}
	}
	return out
}

func appendOnce(ids []int64, id int64) []int64 {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
