package server

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/chart"
	"github.com/oshirase/oshirase/internal/uptime"
)

// Days of history the public page shows.
const (
	barDays    = 90
	recentDays = 14
)

// catalogView is the products and components with the status each is shown
// in: the worst of the operator's setting, open incidents and running
// maintenance.
type catalogView struct {
	Products   []data.Product
	Status     map[int64]string
	components map[int64]*data.Component
	products   map[int64]*data.Product
	// order ranks components in display order (product, then position).
	order map[int64]int
}

// Catalog returns the view itself, for templates of pages that embed it.
func (v *catalogView) Catalog() *catalogView { return v }

// Component looks a component up by id for the templates.
func (v *catalogView) Component(id int64) *data.Component { return v.components[id] }

func newCatalogView(products []data.Product, open []data.Incident, maints []data.Maintenance) *catalogView {
	v := &catalogView{Products: products, Status: map[int64]string{}, components: map[int64]*data.Component{},
		products: map[int64]*data.Product{}, order: map[int64]int{}}
	for pi := range products {
		v.products[products[pi].ID] = &products[pi]
		for ci := range products[pi].Components {
			c := &products[pi].Components[ci]
			v.components[c.ID] = c
			v.order[c.ID] = len(v.order)
			v.Status[c.ID] = data.Worst(data.Operational, c.Status)
		}
	}
	for i := range open {
		if !open[i].Open() {
			continue
		}
		for id, st := range open[i].ComponentStatuses() {
			v.Status[id] = data.Worst(v.Status[id], st)
		}
	}
	for i := range maints {
		if maints[i].Active() {
			for _, id := range maints[i].ComponentIDs() {
				v.Status[id] = data.Worst(v.Status[id], data.UnderMaintenance)
			}
		}
	}
	return v
}

// qualifiedName is a component's name with its product's, as it must read
// wherever it is named away from its product's own block: two products
// may well each have a "CDN". sep is " / " on pages and in email, " - " in
// the Statuspage JSON (as Statuspage pages name them). Empty for an
// unknown component.
func (v *catalogView) qualifiedName(id int64, lang, sep string) string {
	c := v.components[id]
	if c == nil {
		return ""
	}
	name := pickLang(lang, c.NameJA, c.NameEN)
	if p := v.products[c.ProductID]; p != nil {
		name = pickLang(lang, p.NameJA, p.NameEN) + sep + name
	}
	return name
}

// affected lists every component an incident's timeline names, in display
// order.
func (v *catalogView) affected(inc *data.Incident) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, u := range inc.Updates {
		for _, c := range u.Components {
			if !seen[c.ComponentID] && v.components[c.ComponentID] != nil {
				seen[c.ComponentID] = true
				out = append(out, c.ComponentID)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return v.order[out[i]] < v.order[out[j]] })
	return out
}

func pickLang(lang, ja, en string) string {
	if lang == "en" && strings.TrimSpace(en) != "" {
		return en
	}
	return ja
}

// CName is a component's name qualified by its product, in the page's
// language.
func (p *page) CName(v *catalogView, id int64) string { return v.qualifiedName(id, p.Lang, " / ") }

// Affects names, qualified and in display order, what an incident affects
// (what its timeline names) or what a maintenance window covers.
func (p *page) Affects(v *catalogView, what any) string {
	var ids []int64
	switch x := what.(type) {
	case *data.Incident:
		ids = v.affected(x)
	case data.Incident:
		ids = v.affected(&x)
	case *data.Maintenance:
		ids = x.ComponentIDs()
	case data.Maintenance:
		ids = x.ComponentIDs()
	}
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if n := p.CName(v, id); n != "" {
			names = append(names, n)
		}
	}
	return strings.Join(names, p.T("list.sep"))
}

// Overall is the worst status of any component.
func (v *catalogView) Overall() string {
	worst := data.Operational
	for _, st := range v.Status {
		worst = data.Worst(worst, st)
	}
	return worst
}

// ProductStatus is the worst status among a product's components.
func (v *catalogView) ProductStatus(p *data.Product) string {
	worst := data.Operational
	for _, c := range p.Components {
		worst = data.Worst(worst, v.Status[c.ID])
	}
	return worst
}

type statusPage struct {
	*catalogView
	Upgrades []data.Upgrade
	Open     []data.Incident
	Active   []data.Maintenance
	Upcoming []data.Maintenance
	// LaterOccurrences counts, by series, the scheduled occurrences after
	// the one Upcoming shows: a weekly series is one card, not a dozen.
	LaterOccurrences map[int64]int
	Bars             map[int64]uptime.Bar
	// ProductBars are the bars of products shown collapsed.
	ProductBars map[int64]uptime.Bar
	// Measured holds what the checks measured, for components that show it.
	Measured map[int64]*measured
	Recent   []recentDay
	// Upstreams are, by component, the upstream sources in trouble now
	// (shown beside the component with a link).
	Upstreams map[int64][]data.Upstream
	titles    map[int64]*data.Incident
	windows   map[int64]*data.Maintenance
}

type recentDay struct {
	Date      time.Time
	Incidents []data.Incident
}

// Incident looks up an incident shown in the bars, for their tooltips.
func (v *statusPage) Incident(id int64) *data.Incident { return v.titles[id] }

// Maintenance looks up a maintenance window shown in the bars, for their
// tooltips.
func (v *statusPage) Maintenance(id int64) *data.Maintenance { return v.windows[id] }

// Headline is the status the page's banner states: the same indicator as
// the JSON and the badge (pageIndicator), in the components' words.
func (v *statusPage) Headline() string {
	switch pageIndicator(v.Open, v.catalogView) {
	case "maintenance":
		return data.UnderMaintenance
	case "minor":
		return data.DegradedPerformance
	case "major":
		return data.PartialOutage
	case "critical":
		return data.MajorOutage
	}
	return data.Operational
}

// HasNoData reports whether any bar has a day without data, for the legend.
func (v *statusPage) HasNoData() bool {
	for _, bars := range []map[int64]uptime.Bar{v.Bars, v.ProductBars} {
		for _, b := range bars {
			if len(b.Days) > 0 && b.Days[0].NoData {
				return true
			}
		}
	}
	return false
}

func (s *Server) loadStatusPage(ctx context.Context) (*statusPage, error) {
	now := s.opts.Now()
	pub := s.store.Public()
	products, err := pub.Products(ctx)
	if err != nil {
		return nil, err
	}
	// The bar window starts at local midnight 89 days ago; a day's margin
	// covers any zone.
	incidents, err := pub.IncidentsSince(ctx, now.AddDate(0, 0, -barDays-1))
	if err != nil {
		return nil, err
	}
	maints, err := pub.CurrentMaintenances(ctx)
	if err != nil {
		return nil, err
	}
	upgrades, err := s.store.UpcomingUpgrades(ctx)
	if err != nil {
		return nil, err
	}
	v := &statusPage{catalogView: newCatalogView(products, incidents, maints), Upgrades: upgrades, titles: map[int64]*data.Incident{}}
	for i := range incidents {
		v.titles[incidents[i].ID] = &incidents[i]
		if incidents[i].Open() {
			v.Open = append(v.Open, incidents[i])
		}
	}
	v.LaterOccurrences = map[int64]int{}
	shown := map[int64]bool{} // series whose next occurrence is listed
	for _, m := range maints {
		switch {
		case m.Active():
			v.Active = append(v.Active, m)
		case m.SeriesID != nil && !m.Detached && shown[*m.SeriesID]:
			v.LaterOccurrences[*m.SeriesID]++
		default:
			if m.SeriesID != nil && !m.Detached {
				shown[*m.SeriesID] = true
			}
			v.Upcoming = append(v.Upcoming, m)
		}
	}
	// A component's record starts when it was created: the days before
	// are no data, not ninety clean days.
	since := map[int64]time.Time{}
	collapsed := map[int64][]int64{}
	for _, p := range products {
		for _, c := range p.Components {
			since[c.ID] = c.CreatedAt
			if p.Collapsed {
				collapsed[p.ID] = append(collapsed[p.ID], c.ID)
			}
		}
	}
	changes, err := pub.ComponentStatusChanges(ctx, now.AddDate(0, 0, -barDays-1))
	if err != nil {
		return nil, err
	}
	// Maintenance shows on the bars but is not downtime.
	windows, err := pub.MaintenanceWindowsSince(ctx, now.AddDate(0, 0, -barDays-1))
	if err != nil {
		return nil, err
	}
	v.windows = make(map[int64]*data.Maintenance, len(windows))
	for i := range windows {
		v.windows[windows[i].ID] = &windows[i]
	}
	spans := append(uptime.Spans(incidents, now), uptime.ManualSpans(changes, now)...)
	spans = append(spans, uptime.MaintenanceSpans(windows, now)...)
	v.Bars = uptime.Bars(spans, since, now, s.opts.Location, barDays)
	v.ProductBars = uptime.Group(spans, collapsed, since, now, s.opts.Location, barDays)
	if v.Measured, err = s.measuredFor(ctx, products, now); err != nil {
		return nil, err
	}
	if v.Upstreams, err = s.troubledUpstreams(ctx, v.catalogView); err != nil {
		return nil, err
	}

	local := now.In(s.opts.Location)
	for i := 0; i < recentDays; i++ {
		day := time.Date(local.Year(), local.Month(), local.Day()-i, 0, 0, 0, 0, s.opts.Location)
		rd := recentDay{Date: day}
		next := day.AddDate(0, 0, 1)
		for _, inc := range incidents {
			if !inc.StartedAt.Before(day) && inc.StartedAt.Before(next) {
				rd.Incidents = append(rd.Incidents, inc)
			}
		}
		v.Recent = append(v.Recent, rd)
	}
	return v, nil
}

func (s *Server) showStatusPage(c echo.Context) error {
	lang := langOf(c)
	return s.cache.serve(c, "status|"+lang, func(ctx context.Context) ([]byte, error) {
		v, err := s.loadStatusPage(ctx)
		if err != nil {
			return nil, err
		}
		return s.renderPublic(lang, "/", "status", &view{Title: s.catalog.T(lang, "status.title"), Data: v})
	})
}

type incidentPage struct {
	*catalogView
	Incident *data.Incident
}

func (s *Server) showIncident(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	lang := langOf(c)
	path := c.Request().URL.Path
	return s.cache.serve(c, "incident|"+strconv.FormatInt(id, 10)+"|"+lang, func(ctx context.Context) ([]byte, error) {
		pub := s.store.Public()
		inc, err := pub.Incident(ctx, id)
		if err != nil {
			return nil, err
		}
		products, err := pub.Products(ctx)
		if err != nil {
			return nil, err
		}
		v := &incidentPage{catalogView: newCatalogView(products, nil, nil), Incident: inc}
		title := (&page{s: s, Lang: lang}).L(inc.TitleJA, inc.TitleEN)
		return s.renderPublic(lang, path, "incident", &view{Title: title, Data: v})
	})
}

type maintenancePage struct {
	*catalogView
	Maintenance *data.Maintenance
}

func (s *Server) showMaintenance(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	lang := langOf(c)
	path := c.Request().URL.Path
	return s.cache.serve(c, "maintenance|"+strconv.FormatInt(id, 10)+"|"+lang, func(ctx context.Context) ([]byte, error) {
		pub := s.store.Public()
		m, err := pub.Maintenance(ctx, id)
		if err != nil {
			return nil, err
		}
		products, err := pub.Products(ctx)
		if err != nil {
			return nil, err
		}
		v := &maintenancePage{catalogView: newCatalogView(products, nil, nil), Maintenance: m}
		title := (&page{s: s, Lang: lang}).L(m.TitleJA, m.TitleEN)
		return s.renderPublic(lang, path, "maintenance", &view{Title: title, Data: v})
	})
}

// History pages hold three months each, newest first.
const historyMonths = 3

type historyPage struct {
	*catalogView
	Months       []historyMonth
	Page         int
	Newer, Older int
	HasOlder     bool
}

// historyMonth lists a month's incidents and maintenance together, newest
// first; each entry holds one or the other.
type historyMonth struct {
	Month   time.Time
	Entries []historyEntry
}

type historyEntry struct {
	At          time.Time
	Incident    *data.Incident
	Maintenance *data.Maintenance
	Upgrade     *data.Upgrade
}

func (s *Server) showHistory(c echo.Context) error {
	n := 0
	if q := c.QueryParam("page"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 0 || v > 1200 {
			return echo.ErrNotFound
		}
		n = v
	}
	lang := langOf(c)
	return s.cache.serve(c, "history|"+strconv.Itoa(n)+"|"+lang, func(ctx context.Context) ([]byte, error) {
		pub := s.store.Public()
		earliest, err := pub.EarliestActivity(ctx)
		if err != nil {
			return nil, err
		}
		local := s.opts.Now().In(s.opts.Location)
		top := time.Date(local.Year(), local.Month()-time.Month(n*historyMonths), 1, 0, 0, 0, 0, s.opts.Location)
		bottom := top.AddDate(0, -(historyMonths - 1), 0)
		// Pages older than the oldest record do not exist.
		if n > 0 && (earliest.IsZero() || !earliest.Before(top.AddDate(0, 1, 0))) {
			return nil, data.ErrNotFound
		}
		incs, err := pub.IncidentsBetween(ctx, bottom, top.AddDate(0, 1, 0))
		if err != nil {
			return nil, err
		}
		maints, err := pub.MaintenancesBetween(ctx, bottom, top.AddDate(0, 1, 0))
		if err != nil {
			return nil, err
		}
		upgrades, err := s.store.UpgradesBetween(ctx, bottom, top.AddDate(0, 1, 0))
		if err != nil {
			return nil, err
		}
		products, err := pub.Products(ctx)
		if err != nil {
			return nil, err
		}
		v := &historyPage{catalogView: newCatalogView(products, nil, nil), Page: n, Newer: n - 1, Older: n + 1,
			HasOlder: !earliest.IsZero() && earliest.Before(bottom)}
		for i := 0; i < historyMonths; i++ {
			from := top.AddDate(0, -i, 0)
			to := from.AddDate(0, 1, 0)
			hm := historyMonth{Month: from}
			for i := range incs {
				if at := incs[i].StartedAt; !at.Before(from) && at.Before(to) {
					hm.Entries = append(hm.Entries, historyEntry{At: at, Incident: &incs[i]})
				}
			}
			for i := range maints {
				if at := maints[i].StartsAt; !at.Before(from) && at.Before(to) {
					hm.Entries = append(hm.Entries, historyEntry{At: at, Maintenance: &maints[i]})
				}
			}
			for i := range upgrades {
				if at := upgrades[i].StartsAt; !at.Before(from) && at.Before(to) {
					hm.Entries = append(hm.Entries, historyEntry{At: at, Upgrade: &upgrades[i]})
				}
			}
			sort.SliceStable(hm.Entries, func(i, j int) bool { return hm.Entries[i].At.After(hm.Entries[j].At) })
			v.Months = append(v.Months, hm)
		}
		return s.renderPublic(lang, "/history", "history", &view{Title: s.catalog.T(lang, "history.title"), Data: v})
	})
}

// securityTxt is RFC 9116's /.well-known/security.txt: where to report a
// vulnerability, until when this file holds, in which languages.
func (s *Server) securityTxt(c echo.Context) error {
	contact := s.opts.SecurityContact
	if contact == "" {
		return echo.ErrNotFound
	}
	if !strings.HasPrefix(contact, "https://") {
		contact = "mailto:" + contact
	}
	// RFC 9116 asks for an expiry less than a year ahead; the file is made
	// on every request, so it never goes stale.
	expires := s.opts.Now().UTC().AddDate(0, 6, 0).Truncate(24 * time.Hour)
	body := "Contact: " + contact + "\n" +
		"Expires: " + expires.Format(time.RFC3339) + "\n" +
		"Preferred-Languages: ja, en\n" +
		"Canonical: " + strings.TrimRight(s.opts.BaseURL.String(), "/") + "/.well-known/security.txt\n"
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
	return c.String(http.StatusOK, body)
}

// barView is what the "bars" template draws: one bar and the page it is on.
type barView struct {
	Page *page
	Data *statusPage
	Bar  uptime.Bar
}

// BarOf hands a bar to the "bars" template.
func (p *page) BarOf(d *statusPage, b uptime.Bar) barView { return barView{Page: p, Data: d, Bar: b} }

// ShortDate shows a calendar day without its year, such as "12月2日" or
// "Dec 2": the start of a record inside the bar's ninety days.
func (p *page) ShortDate(t time.Time) string {
	t = p.local(t)
	if p.Lang == "en" {
		return t.Format("Jan 2")
	}
	return t.Format("1月2日")
}

// componentsView is what the "components" template lists.
type componentsView struct {
	Page    *page
	Data    *statusPage
	Product *data.Product
}

// ComponentsOf hands a product's components to the "components" template.
func (p *page) ComponentsOf(d *statusPage, pr *data.Product) componentsView {
	return componentsView{Page: p, Data: d, Product: pr}
}

// ComponentStatuses lists the statuses, for the legend.
func (p *page) ComponentStatuses() []string { return data.ComponentStatuses }

// measured is what a component's checks measured: uptime over the bar's
// days (or since the checks' record starts, when later), and response
// times over three ranges.
type measured struct {
	ShowUptime, ShowLatency bool
	Uptime                  float64
	Checks                  int
	// Since is when the checks' record starts (their first result), or
	// when the first check was added while there is no result yet.
	Since time.Time
	// Full: the record covers the bar's ninety days.
	Full bool
	// Ready: the record spans measuredMinSpan, enough for a percentage.
	Ready  bool
	Now    time.Time
	Series map[string][]data.LatencyPoint
}

// measuredMinSpan is how long checks must have run before the page shows
// their uptime: a percentage over a few minutes says nothing about a
// service (ten minutes of one failing check read as "15% over 90 days"),
// and a day covers the daily cycle of load, batches and deploys.
const measuredMinSpan = 24 * time.Hour

// MinHours is measuredMinSpan in hours, for the page's words.
func (m *measured) MinHours() int { return int(measuredMinSpan / time.Hour) }

// latencyRanges are the charts' ranges and the stretch each point covers.
var latencyRanges = []struct {
	Name   string
	Span   time.Duration
	Bucket time.Duration
}{{"24h", 24 * time.Hour, 15 * time.Minute}, {"7d", 7 * 24 * time.Hour, 2 * time.Hour}, {"30d", 30 * 24 * time.Hour, 8 * time.Hour}}

// measuredEntry is what the checks measured, as last read.
type measuredEntry struct {
	change uint64
	at     time.Time
	v      map[int64]*measured
}

// measuredMaxAge is how long the charts may lag the checks: reading a
// month of results takes tens of milliseconds, and the page re-renders
// every few seconds, in each language.
const measuredMaxAge = time.Minute

// measuredFor is loadMeasured, read at most once a minute (and again
// after a change through this instance), shared by every language.
func (s *Server) measuredFor(ctx context.Context, products []data.Product, now time.Time) (map[int64]*measured, error) {
	change := s.changeNo.Load()
	if e := s.measuredCache.Load(); e != nil && e.change == change && now.Sub(e.at) < measuredMaxAge && !now.Before(e.at) {
		return e.v, nil
	}
	v, err := s.loadMeasured(ctx, products, now)
	if err != nil {
		return nil, err
	}
	s.measuredCache.Store(&measuredEntry{change: change, at: now, v: v})
	return v, nil
}

// loadMeasured reads the checks of components that show them.
func (s *Server) loadMeasured(ctx context.Context, products []data.Product, now time.Time) (map[int64]*measured, error) {
	out := map[int64]*measured{}
	for _, p := range products {
		for _, c := range p.Components {
			if c.ShowUptime || c.ShowLatency {
				out[c.ID] = &measured{ShowUptime: c.ShowUptime, ShowLatency: c.ShowLatency, Now: now, Series: map[string][]data.LatencyPoint{}}
			}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	monitors, err := s.store.Monitors(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[int64][]int64{}
	added := map[int64]time.Time{}
	for _, m := range monitors {
		if out[m.ComponentID] != nil && m.Enabled {
			ids[m.ComponentID] = append(ids[m.ComponentID], m.ID)
			if a, ok := added[m.ComponentID]; !ok || m.CreatedAt.Before(a) {
				added[m.ComponentID] = m.CreatedAt
			}
		}
	}
	local := now.In(s.opts.Location)
	windowStart := time.Date(local.Year(), local.Month(), local.Day()-(barDays-1), 0, 0, 0, 0, s.opts.Location)
	for cid, m := range out {
		if len(ids[cid]) == 0 {
			delete(out, cid)
			continue
		}
		if m.ShowUptime {
			days, err := s.store.MonitorDays(ctx, ids[cid], windowStart, s.opts.Location)
			if err != nil {
				return nil, err
			}
			fails := 0
			for _, d := range days {
				m.Checks += d.Checks
				fails += d.Failures
			}
			m.Uptime = 100
			if m.Checks > 0 {
				m.Uptime = 100 * float64(m.Checks-fails) / float64(m.Checks)
			}
			first, err := s.store.FirstMonitorResult(ctx, ids[cid], s.opts.Location)
			if err != nil {
				return nil, err
			}
			m.Since = first
			if first.IsZero() {
				m.Since = added[cid]
			}
			if !m.Since.After(windowStart) {
				m.Since, m.Full = windowStart, true
			}
			m.Ready = m.Checks > 0 && !first.IsZero() && now.Sub(m.Since) >= measuredMinSpan
		}
		if m.ShowLatency {
			windows := make([]data.LatencyWindow, len(latencyRanges))
			for i, r := range latencyRanges {
				windows[i] = data.LatencyWindow{Span: r.Span, Bucket: r.Bucket}
			}
			series, err := s.store.LatencySeries(ctx, ids[cid], now, windows)
			if err != nil {
				return nil, err
			}
			for i, r := range latencyRanges {
				m.Series[r.Name] = series[i]
			}
		}
	}
	return out, nil
}

// LatencyChart draws a component's response times over a range.
func (p *page) LatencyChart(m *measured, rangeName string) template.HTML {
	var span time.Duration
	for _, r := range latencyRanges {
		if r.Name == rangeName {
			span = r.Span
		}
	}
	pts := m.Series[rangeName]
	cp := make([]chart.Point, len(pts))
	total, n, peak := 0, 0, 0
	for i, pt := range pts {
		cp[i] = chart.Point{At: pt.At, MeanMS: pt.MeanMS, Failures: pt.Failures}
		if pt.Checks > pt.Failures {
			total += pt.MeanMS
			n++
			peak = max(peak, pt.MeanMS)
		}
	}
	mean := 0
	if n > 0 {
		mean = total / n
	}
	label := p.T("latency.aria", "Range", p.T("latency.range_"+rangeName), "Mean", mean, "Peak", peak)
	return template.HTML(chart.Latency(cp, m.Now.Add(-span), m.Now, label, p.T("latency.from_"+rangeName), p.T("latency.now")))
}
