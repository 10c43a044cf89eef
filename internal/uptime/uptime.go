// Package uptime turns incident history, maintenance windows and the
// statuses operators set by hand into the per-day bars and uptime
// percentages of the public page.
// Days before a component's record starts are "no data": they are drawn
// as such and never counted, so a component added today does not claim
// ninety clean days.
package uptime

import (
	"math"
	"sort"
	"time"

	"github.com/oshirase/oshirase/data"
)

// Span is a stretch of time during which an incident, a maintenance
// window, or an operator's setting by hand (IncidentID and MaintenanceID
// 0) held a component in a status.
type Span struct {
	ComponentID   int64
	IncidentID    int64
	MaintenanceID int64
	Status        string
	From, To      time.Time
}

// Spans walks each incident's whole timeline: from the start (which an
// operator may have backdated) each update's component statuses hold
// until the next update, the resolution or now. A resolving update holds
// nothing, whatever it lists: the components are operational until a
// later update reopens the incident, and that update's statuses hold
// again. Nothing holds past the incident's resolution time.
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
				continue
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

// MaintenanceSpans holds each window's components under maintenance from
// the work's actual start until its actual end, or now while it runs (in
// progress or verifying). A completed window never marked started (the
// scheduler closed it after missing it whole) holds for its schedule, up
// to its completion. Windows scheduled or cancelled hold nothing: no work
// was done.
func MaintenanceSpans(maints []data.Maintenance, now time.Time) []Span {
	var out []Span
	for _, m := range maints {
		if !m.Active() && m.Status != data.Completed {
			continue
		}
		from, to := m.StartsAt, now
		if m.StartedAt != nil {
			from = *m.StartedAt
		}
		if m.Status == data.Completed {
			switch {
			case m.CompletedAt != nil && m.StartedAt != nil:
				to = *m.CompletedAt
			case m.CompletedAt != nil:
				to = minTime(m.EndsAt, *m.CompletedAt)
			default:
				to = m.EndsAt
			}
		}
		to = minTime(to, now)
		if !to.After(from) {
			continue
		}
		for _, c := range m.Components {
			out = append(out, Span{ComponentID: c.ComponentID, MaintenanceID: m.ID, Status: data.UnderMaintenance, From: from, To: to})
		}
	}
	return out
}

// ManualSpans turns the statuses operators set by hand (each component's
// changes, oldest first, the first possibly from before the window) into
// spans: each status holds from its change until the component's next
// change, or now.
func ManualSpans(changes []data.ComponentStatusChange, now time.Time) []Span {
	var out []Span
	for i, ch := range changes {
		if ch.Status == data.Operational {
			continue
		}
		to := now
		if i+1 < len(changes) && changes[i+1].ComponentID == ch.ComponentID && changes[i+1].At.Before(now) {
			to = changes[i+1].At
		}
		if to.After(ch.At) {
			out = append(out, Span{ComponentID: ch.ComponentID, Status: ch.Status, From: ch.At, To: to})
		}
	}
	return out
}

// NoData is the status of a day before a component's record starts.
const NoData = "no_data"

// Day is one bar: the worst status a component was in during a calendar day
// in the page's zone, how long each status other than operational held, and
// the incidents and maintenance windows that put it there.
type Day struct {
	Date         time.Time
	Status       string
	Minutes      []StatusMinutes
	Incidents    []int64
	Maintenances []int64
	// Manual: a status an operator set by hand held during the day.
	Manual bool
	// NoData: the day ended before the component's record started; its
	// Status is NoData.
	NoData bool
	down   float64 // weighted seconds of downtime
}

// StatusMinutes is how long a status held during a day, worst first.
type StatusMinutes struct {
	Status  string
	Minutes int
}

// ShortDays is the window a phone shows: the bar's last thirty days.
const ShortDays = 30

// Bar is a component's row of days, oldest first, and its uptime over them.
type Bar struct {
	Days []Day
	// Percent is the share of the period without outage, where a major
	// outage counts fully and a partial outage for 30% (Statuspage's rule);
	// degraded performance and maintenance do not count as downtime. The
	// period starts with the bar's first day, or at Since.
	Percent float64
	// Since is when the record starts, when that is after the bar's first
	// day began; zero when the record covers the whole bar.
	Since time.Time
	// ShortPercent is the same over the last ShortDays days, the part of
	// the bar a phone shows, from ShortSince when that is not zero.
	ShortPercent float64
	ShortDays    int
	ShortSince   time.Time
}

// Weights of each status in downtime.
var downtimeWeight = map[string]float64{data.MajorOutage: 1, data.PartialOutage: 0.3}

// Bars computes a bar of n days ending today (in loc) for every component
// of since, which says when each component's record starts (when it was
// created; a zero time: before the window). An earlier span (a backdated
// incident) starts the record earlier.
func Bars(spans []Span, since map[int64]time.Time, now time.Time, loc *time.Location, n int) map[int64]Bar {
	groups := make(map[int64][]int64, len(since))
	for id := range since {
		groups[id] = []int64{id}
	}
	return Group(spans, groups, since, now, loc, n)
}

// Group computes a bar for each group of components (a product shown
// collapsed): at each moment the group is in the worst status any member
// is in, and its record starts with its earliest member's.
func Group(spans []Span, groups map[int64][]int64, since map[int64]time.Time, now time.Time, loc *time.Location, n int) map[int64]Bar {
	local := now.In(loc)
	y, m, d := local.Date()
	starts := make([]time.Time, n+1)
	for i := 0; i <= n; i++ {
		// time.Date per day rather than adding 24h keeps days right across
		// daylight-saving changes in zones that have them.
		starts[i] = time.Date(y, m, d-(n-1)+i, 0, 0, 0, 0, loc)
	}
	byComponent := map[int64][]Span{}
	for _, sp := range spans {
		byComponent[sp.ComponentID] = append(byComponent[sp.ComponentID], sp)
	}
	out := make(map[int64]Bar, len(groups))
	for key, members := range groups {
		var own []Span
		var from time.Time
		for i, id := range members {
			// A zero time already reaches before any span.
			f := since[id]
			for _, sp := range byComponent[id] {
				if sp.From.Before(f) {
					f = sp.From
				}
			}
			if i == 0 || f.Before(from) {
				from = f
			}
			own = append(own, byComponent[id]...)
		}
		out[key] = bar(own, starts, from, now)
	}
	return out
}

// bar lays one row's spans over the days. Spans may overlap (two incidents
// on one component, or two members of a group): the time between any two
// consecutive span edges is in the worst status covering it, counted once.
// Days that ended before known (when the record starts) are NoData; the
// percentages count from it.
func bar(spans []Span, starts []time.Time, known, now time.Time) Bar {
	n := len(starts) - 1
	days := make([]Day, n)
	for i := range days {
		days[i] = Day{Date: starts[i], Status: data.Operational}
		if !starts[i+1].After(known) {
			days[i].Status, days[i].NoData = NoData, true
		}
	}
	periodStart := starts[0]
	var edges []time.Time
	for i, sp := range spans {
		sp.From, sp.To = maxTime(sp.From, periodStart), minTime(sp.To, now)
		spans[i] = sp
		if sp.To.After(sp.From) {
			edges = append(edges, sp.From, sp.To)
		}
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].Before(edges[j]) })
	minutes := make([]map[string]float64, n)
	day := 0
	for e := 0; e+1 < len(edges); e++ {
		from, to := edges[e], edges[e+1]
		if !to.After(from) {
			continue
		}
		worst := ""
		for _, sp := range spans {
			if !sp.From.After(from) && !sp.To.Before(to) {
				worst = data.Worst(worst, sp.Status)
			}
		}
		if worst == "" {
			continue
		}
		for i := day; i < n && starts[i].Before(to); i++ {
			f, t := maxTime(from, starts[i]), minTime(to, starts[i+1])
			if !t.After(f) {
				continue
			}
			day = i
			secs := t.Sub(f).Seconds()
			days[i].Status = data.Worst(days[i].Status, worst)
			days[i].down += secs * downtimeWeight[worst]
			if minutes[i] == nil {
				minutes[i] = map[string]float64{}
			}
			minutes[i][worst] += secs / 60
			for _, sp := range spans {
				if !sp.From.After(from) && !sp.To.Before(to) {
					switch {
					case sp.MaintenanceID != 0:
						days[i].Maintenances = appendOnce(days[i].Maintenances, sp.MaintenanceID)
					case sp.IncidentID != 0:
						days[i].Incidents = appendOnce(days[i].Incidents, sp.IncidentID)
					default:
						days[i].Manual = true
					}
				}
			}
		}
	}
	for i := range days {
		for st, mins := range minutes[i] {
			days[i].Minutes = append(days[i].Minutes, StatusMinutes{Status: st, Minutes: int(math.Round(mins))})
		}
		sort.Slice(days[i].Minutes, func(a, b int) bool {
			return data.Worst(days[i].Minutes[a].Status, days[i].Minutes[b].Status) == days[i].Minutes[a].Status &&
				days[i].Minutes[a].Status != days[i].Minutes[b].Status
		})
	}
	short := min(ShortDays, n)
	b := Bar{Days: days, ShortDays: short}
	b.Percent, b.Since = percent(days, starts[0], known, now)
	b.ShortPercent, b.ShortSince = percent(days[n-short:], starts[n-short], known, now)
	return b
}

// percent is the uptime over days from start, or from known when that is
// later (and then known too), until now.
func percent(days []Day, start, known, now time.Time) (float64, time.Time) {
	var since time.Time
	if known.After(start) {
		start, since = known, known
	}
	period := now.Sub(start).Seconds()
	if period <= 0 {
		return 100, since
	}
	var down float64
	for _, d := range days {
		down += d.down
	}
	return 100 * (1 - down/period), since
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
