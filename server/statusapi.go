package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// The public JSON API speaks the Statuspage v2 format, so the monitors,
// chat bots and aggregators that already read Statuspage pages read this
// one unchanged. Products are component groups.

type spPage struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type spStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type spComponent struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitempty"`
	// ContractOnly is for the operator API only (GET
	// /api/admin/components); the public JSON never has the field, nor
	// any contract-only component.
	ContractOnly *bool `json:"contract_only,omitempty"`
}

type spAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type spUpdate struct {
	ID                   string       `json:"id"`
	Status               string       `json:"status"`
	Body                 string       `json:"body"`
	IncidentID           string       `json:"incident_id"`
	CreatedAt            string       `json:"created_at"`
	UpdatedAt            string       `json:"updated_at"`
	DisplayAt            string       `json:"display_at"`
	AffectedComponents   []spAffected `json:"affected_components"`
	DeliverNotifications bool         `json:"deliver_notifications"`
	CustomTweet          *string      `json:"custom_tweet"`
	TweetID              *string      `json:"tweet_id"`
}

type spIncident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	MonitoringAt    *string       `json:"monitoring_at"`
	ResolvedAt      *string       `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       string        `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
	ScheduledFor    *string       `json:"scheduled_for,omitempty"`
	ScheduledUntil  *string       `json:"scheduled_until,omitempty"`
}

// spIncidentPostmortem is an incident as incidents.json lists it: with its
// postmortem (null until published), as Statuspage's.
type spIncidentPostmortem struct {
	spIncident
	PostmortemBody        *string `json:"postmortem_body"`
	PostmortemPublishedAt *string `json:"postmortem_published_at"`
}

const pageID = "oshirase"

// apiData is everything the JSON endpoints (and the badge) draw on,
// loaded once per render.
type apiData struct {
	s    *Server
	lang string
	// operator: the operator API's, which lists every component.
	operator     bool
	catalog      *catalogView
	incidents    []data.Incident
	maintenances []data.Maintenance
	// open are the unresolved incidents: what the page's status stands on.
	open      []data.Incident
	updatedAt time.Time
	// shownAt is when an incident or maintenance last changed what a
	// component shows.
	shownAt map[int64]time.Time
	// notified are the updates that were sent to someone.
	notified data.NotifiedUpdates
}

// apiSource is where loadAPI reads: the store's public view for every
// public representation, the store itself for the operator API.
type apiSource interface {
	Products(ctx context.Context) ([]data.Product, error)
	LatestIncidents(ctx context.Context, limit, offset int) ([]data.Incident, error)
	RecentMaintenances(ctx context.Context, limit, offset int) ([]data.Maintenance, int64, error)
}

// loadAPI loads what the public JSON and the badge draw on, as the public
// sees it: no contract-only component (see data.PublicView).
func (s *Server) loadAPI(ctx context.Context, lang string) (*apiData, error) {
	return s.loadAPIFrom(ctx, s.store.Public(), lang, false)
}

// loadOperatorAPI is loadAPI for the operator API: every component.
func (s *Server) loadOperatorAPI(ctx context.Context, lang string) (*apiData, error) {
	return s.loadAPIFrom(ctx, s.store, lang, true)
}

func (s *Server) loadAPIFrom(ctx context.Context, src apiSource, lang string, operator bool) (*apiData, error) {
	products, err := src.Products(ctx)
	if err != nil {
		return nil, err
	}
	// Both list what is unresolved or not yet over first, so what the page
	// shows now is drawn from these.
	incs, err := src.LatestIncidents(ctx, 50, 0)
	if err != nil {
		return nil, err
	}
	ms, _, err := src.RecentMaintenances(ctx, 50, 0)
	if err != nil {
		return nil, err
	}
	notified, err := s.store.NotifiedUpdates(ctx, incs, ms)
	if err != nil {
		return nil, err
	}
	d := &apiData{s: s, lang: lang, operator: operator, catalog: newCatalogView(products, incs, ms), incidents: incs, maintenances: ms,
		shownAt: shownChanges(products, incs, ms), notified: notified}
	for _, i := range incs {
		if i.Open() {
			d.open = append(d.open, i)
		}
	}
	for _, p := range products {
		d.touch(p.UpdatedAt)
		for _, c := range p.Components {
			d.touch(c.UpdatedAt)
		}
	}
	for _, i := range incs {
		d.touch(i.UpdatedAt)
	}
	for _, m := range ms {
		d.touch(m.UpdatedAt)
	}
	if d.updatedAt.IsZero() {
		// Nothing posted yet: the page dates from when it was set up.
		if d.updatedAt, err = s.store.SetUpAt(ctx); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// shownChanges replays the timelines of incidents and windows, oldest
// first, and returns when each changed what a component shows: the worst
// of its own status, the newest update of each unresolved incident, and
// the windows under way (as newCatalogView reckons it now). An update
// that repeats a status, a window's step that keeps it under maintenance,
// or a window cancelled before it began changes nothing, so it does not
// date the component. Its own status counts as it is now; when that last
// changed is the component's own updated_at.
func shownChanges(products []data.Product, incs []data.Incident, ms []data.Maintenance) map[int64]time.Time {
	type step struct {
		at     time.Time
		source string
		// puts is what the source shows each component in from then on.
		puts map[int64]string
	}
	var steps []step
	for _, inc := range incs {
		src := "i" + strconv.FormatInt(inc.ID, 10)
		for k := len(inc.Updates) - 1; k >= 0; k-- {
			u := inc.Updates[k]
			puts := map[int64]string{}
			if u.Status != data.Resolved {
				for _, c := range u.Components {
					puts[c.ComponentID] = c.Status
				}
			}
			steps = append(steps, step{u.CreatedAt, src, puts})
		}
	}
	for _, m := range ms {
		src := "m" + strconv.FormatInt(m.ID, 10)
		for k := len(m.Updates) - 1; k >= 0; k-- {
			u := m.Updates[k]
			puts := map[int64]string{}
			if u.Status == data.InProgress || u.Status == data.Verifying {
				for _, id := range m.ComponentIDs() {
					puts[id] = data.UnderMaintenance
				}
			}
			steps = append(steps, step{u.CreatedAt, src, puts})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	own := map[int64]string{}
	for _, p := range products {
		for _, c := range p.Components {
			own[c.ID] = data.Worst(data.Operational, c.Status)
		}
	}
	sources := map[string]map[int64]string{}
	shown := func(id int64) string {
		st := own[id]
		for _, puts := range sources {
			if v, ok := puts[id]; ok {
				st = data.Worst(st, v)
			}
		}
		return st
	}
	last := map[int64]string{}
	for id, st := range own {
		last[id] = st
	}
	out := map[int64]time.Time{}
	for _, st := range steps {
		before := sources[st.source]
		sources[st.source] = st.puts
		for _, puts := range []map[int64]string{before, st.puts} {
			for id := range puts {
				if _, known := own[id]; !known {
					continue
				}
				if now := shown(id); now != last[id] {
					last[id], out[id] = now, st.at
				}
			}
		}
	}
	return out
}

func (d *apiData) touch(t time.Time) {
	if t.After(d.updatedAt) {
		d.updatedAt = t
	}
}

// ts writes a time as Statuspage does: ISO 8601 with milliseconds and the
// page zone's offset.
func (d *apiData) ts(t time.Time) string {
	return t.In(d.s.opts.Location).Format("2006-01-02T15:04:05.000-07:00")
}

func (d *apiData) tsp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := d.ts(*t)
	return &s
}

func (d *apiData) text(ja, en string) string { return pickLang(d.lang, ja, en) }

func (d *apiData) page() spPage {
	// Named as the page is: the branded title in the JSON's language.
	return spPage{ID: pageID, Name: (&page{s: d.s, Lang: d.lang}).SiteName(), URL: d.s.opts.BaseURL.String(),
		TimeZone: d.s.opts.Location.String(), UpdatedAt: d.ts(d.updatedAt)}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func componentID(id int64) string { return "c" + strconv.FormatInt(id, 10) }
func groupID(id int64) string     { return "p" + strconv.FormatInt(id, 10) }

func (d *apiData) component(c *data.Component) spComponent {
	gid := groupID(c.ProductID)
	var desc *string
	if v := d.text(c.DescriptionJA, c.DescriptionEN); v != "" {
		desc = &v
	}
	// Statuspage's start_date is a calendar day: the day the component
	// came into being, in the page's zone.
	start := c.CreatedAt.In(d.s.opts.Location).Format(time.DateOnly)
	out := spComponent{ID: componentID(c.ID), Name: d.text(c.NameJA, c.NameEN), Status: d.catalog.Status[c.ID],
		CreatedAt: d.ts(c.CreatedAt), UpdatedAt: d.ts(maxTime(c.UpdatedAt, d.shownAt[c.ID])), Position: c.Position + 1, Description: desc,
		Showcase: true, StartDate: &start, GroupID: &gid, PageID: pageID}
	if d.operator {
		only := c.ContractOnly
		out.ContractOnly = &only
	}
	return out
}

func (d *apiData) components() []spComponent {
	var out []spComponent
	for _, p := range d.catalog.Products {
		if len(p.Components) == 0 {
			// Statuspage has no empty groups; strict clients reject a
			// document with one. The product appears with its first component.
			continue
		}
		var desc *string
		if v := d.text(p.DescriptionJA, p.DescriptionEN); v != "" {
			desc = &v
		}
		updated := p.UpdatedAt
		for _, c := range p.Components {
			updated = maxTime(updated, maxTime(c.UpdatedAt, d.shownAt[c.ID]))
		}
		g := spComponent{ID: groupID(p.ID), Name: d.text(p.NameJA, p.NameEN), Status: d.catalog.ProductStatus(&p),
			CreatedAt: d.ts(p.CreatedAt), UpdatedAt: d.ts(updated), Position: p.Position + 1, Description: desc,
			PageID: pageID, Group: true, Components: []string{}}
		for i := range p.Components {
			g.Components = append(g.Components, componentID(p.Components[i].ID))
		}
		out = append(out, g)
		for i := range p.Components {
			out = append(out, d.component(&p.Components[i]))
		}
	}
	if out == nil {
		out = []spComponent{}
	}
	return out
}

func (d *apiData) incident(inc *data.Incident) spIncident {
	id := "i" + strconv.FormatInt(inc.ID, 10)
	out := spIncident{ID: id, Name: d.text(inc.TitleJA, inc.TitleEN), Status: inc.Status, CreatedAt: d.ts(inc.CreatedAt),
		UpdatedAt: d.ts(inc.UpdatedAt), ResolvedAt: d.tsp(inc.ResolvedAt), Impact: inc.Impact,
		Shortlink: d.s.opts.BaseURL.String() + "/incidents/" + strconv.FormatInt(inc.ID, 10), StartedAt: d.ts(inc.StartedAt),
		PageID: pageID, IncidentUpdates: []spUpdate{}, Components: []spComponent{}}
	// Updates come newest first; old_status is what the previous update said.
	prev := map[int64]string{}
	ups := make([]spUpdate, len(inc.Updates))
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		if u.Status == data.Monitoring && out.MonitoringAt == nil {
			out.MonitoringAt = d.tsp(&u.CreatedAt)
		}
		su := spUpdate{ID: "u" + strconv.FormatInt(u.ID, 10), Status: u.Status, Body: d.text(u.BodyJA, u.BodyEN), IncidentID: id,
			CreatedAt: d.ts(u.CreatedAt), UpdatedAt: d.ts(u.UpdatedAt), DisplayAt: d.ts(u.CreatedAt), AffectedComponents: []spAffected{},
			DeliverNotifications: d.notified.Incident[u.ID]}
		if i == len(inc.Updates)-1 {
			su.DisplayAt = d.ts(inc.StartedAt)
		}
		for _, uc := range u.Components {
			old := prev[uc.ComponentID]
			if old == "" {
				old = data.Operational
			}
			name := d.catalog.qualifiedName(uc.ComponentID, d.lang, " - ")
			su.AffectedComponents = append(su.AffectedComponents, spAffected{Code: componentID(uc.ComponentID), Name: name, OldStatus: old, NewStatus: uc.Status})
			prev[uc.ComponentID] = uc.Status
		}
		ups[len(inc.Updates)-1-i] = su
	}
	// Newest first, as Statuspage lists them.
	for i := len(ups) - 1; i >= 0; i-- {
		out.IncidentUpdates = append(out.IncidentUpdates, ups[i])
	}
	seen := map[int64]bool{}
	for _, u := range inc.Updates {
		for _, uc := range u.Components {
			if c := d.catalog.Component(uc.ComponentID); c != nil && !seen[c.ID] {
				seen[c.ID] = true
				out.Components = append(out.Components, d.component(c))
			}
		}
	}
	return out
}

func (d *apiData) maintenance(m *data.Maintenance) spIncident {
	id := "m" + strconv.FormatInt(m.ID, 10)
	status := m.Status
	if status == data.Cancelled {
		status = data.Completed // Statuspage has no "cancelled"; the last update says so
	}
	// A window starts when it started; before that (and when cancelled
	// before it began) it is reported from when it was posted, so started_at
	// never lies in the future nor after resolved_at.
	started := m.CreatedAt
	if m.StartedAt != nil {
		started = *m.StartedAt
	}
	out := spIncident{ID: id, Name: d.text(m.TitleJA, m.TitleEN), Status: status, CreatedAt: d.ts(m.CreatedAt), UpdatedAt: d.ts(m.UpdatedAt),
		ResolvedAt: d.tsp(m.CompletedAt), Impact: "maintenance", Shortlink: d.s.opts.BaseURL.String() + "/maintenance/" + strconv.FormatInt(m.ID, 10),
		StartedAt: d.ts(started), PageID: pageID, IncidentUpdates: []spUpdate{}, Components: []spComponent{},
		ScheduledFor: d.tsp(&m.StartsAt), ScheduledUntil: d.tsp(&m.EndsAt)}
	var comps []*data.Component
	for _, cid := range m.ComponentIDs() {
		if c := d.catalog.Component(cid); c != nil {
			out.Components = append(out.Components, d.component(c))
			comps = append(comps, c)
		}
	}
	// Every update names the window's components, as Statuspage does:
	// operational while scheduled, under maintenance from the start, back
	// to operational at the end. Updates come newest first; the state is
	// followed oldest first.
	state := data.Operational
	ups := make([]spUpdate, len(m.Updates))
	for i := len(m.Updates) - 1; i >= 0; i-- {
		u := m.Updates[i]
		st := u.Status
		if st == data.Cancelled {
			st = data.Completed
		}
		next := state
		switch u.Status {
		case data.InProgress, data.Verifying:
			next = data.UnderMaintenance
		case data.Completed, data.Cancelled:
			next = data.Operational
		}
		if u.Status == data.Verifying && out.MonitoringAt == nil {
			out.MonitoringAt = d.tsp(&u.CreatedAt)
		}
		// "mu": maintenance updates are another table than incident updates
		// ("u"), and every id on a page is unique.
		su := spUpdate{ID: "mu" + strconv.FormatInt(u.ID, 10), Status: st, Body: d.text(u.BodyJA, u.BodyEN), IncidentID: id,
			CreatedAt: d.ts(u.CreatedAt), UpdatedAt: d.ts(u.UpdatedAt), DisplayAt: d.ts(u.CreatedAt), AffectedComponents: []spAffected{},
			DeliverNotifications: d.notified.Maintenance[u.ID]}
		for _, c := range comps {
			su.AffectedComponents = append(su.AffectedComponents, spAffected{Code: componentID(c.ID),
				Name: d.catalog.qualifiedName(c.ID, d.lang, " - "), OldStatus: state, NewStatus: next})
		}
		state = next
		ups[i] = su
	}
	out.IncidentUpdates = append(out.IncidentUpdates, ups...)
	return out
}

// status is the page's status (see pageStatus).
func (d *apiData) status() spStatus { return d.s.pageStatus(d.lang, d.open, d.catalog) }

// indicatorRank orders Statuspage's incident impacts.
var indicatorRank = map[string]int{"none": 0, "minor": 1, "major": 2, "critical": 3}

// pageStatus is the page's status as status.json, summary.json and the
// badge all state it (see pageIndicator), described in Statuspage's fixed
// words for that indicator, so the pair always agrees.
func (s *Server) pageStatus(lang string, open []data.Incident, v *catalogView) spStatus {
	worst := pageIndicator(open, v)
	return spStatus{Indicator: worst, Description: s.catalog.T(lang, "api.indicator."+worst)}
}

// pageIndicator is the one answer to "how bad is it now" that the page's
// headline, the JSON and the badge share: the worst of the unresolved
// incidents' impacts and of what the components show (degraded → minor,
// partial → major, major outage → critical); maintenance only when
// nothing is worse. open are the unresolved incidents, v the catalogue
// with what it shows now.
func pageIndicator(open []data.Incident, v *catalogView) string {
	worst := "none"
	for _, i := range open {
		if i.Open() && indicatorRank[i.Impact] > indicatorRank[worst] {
			worst = i.Impact
		}
	}
	shown := "none"
	switch v.Overall() {
	case data.UnderMaintenance:
		shown = "maintenance"
	case data.DegradedPerformance:
		shown = "minor"
	case data.PartialOutage:
		shown = "major"
	case data.MajorOutage:
		shown = "critical"
	}
	if shown == "maintenance" {
		if worst == "none" {
			return shown
		}
		return worst
	}
	if indicatorRank[shown] > indicatorRank[worst] {
		return shown
	}
	return worst
}

func (d *apiData) incidentsWhere(keep func(*data.Incident) bool) []spIncident {
	out := []spIncident{}
	for i := range d.incidents {
		if keep(&d.incidents[i]) {
			out = append(out, d.incident(&d.incidents[i]))
		}
	}
	return out
}

func (d *apiData) incidentsWithPostmortems() []spIncidentPostmortem {
	out := make([]spIncidentPostmortem, len(d.incidents))
	for i := range d.incidents {
		inc := &d.incidents[i]
		out[i] = spIncidentPostmortem{spIncident: d.incident(inc)}
		if inc.PostmortemPublishedAt != nil {
			body := d.text(inc.PostmortemJA, inc.PostmortemEN)
			out[i].PostmortemBody, out[i].PostmortemPublishedAt = &body, d.tsp(inc.PostmortemPublishedAt)
		}
	}
	return out
}

func (d *apiData) maintenancesWhere(keep func(*data.Maintenance) bool) []spIncident {
	out := []spIncident{}
	for i := range d.maintenances {
		if keep(&d.maintenances[i]) {
			out = append(out, d.maintenance(&d.maintenances[i]))
		}
	}
	return out
}

var (
	allIncidents    = func(*data.Incident) bool { return true }
	openIncidents   = func(i *data.Incident) bool { return i.Open() }
	allMaintenance  = func(*data.Maintenance) bool { return true }
	upcomingMaint   = func(m *data.Maintenance) bool { return m.Status == data.Scheduled }
	activeMaint     = func(m *data.Maintenance) bool { return m.Active() }
	upcomingOrActve = func(m *data.Maintenance) bool { return m.Status == data.Scheduled || m.Active() }
)

// apiNotFound answers a path under /api/v2/ that is no endpoint, in JSON.
func apiNotFound(c echo.Context) error {
	return apiFail(http.StatusNotFound, "not_found", "No such endpoint; see /api/v2/summary.json.")
}

// statusJSON serves /api/v2/*.json from the page cache, with CORS open for
// reading from any site.
func (s *Server) statusJSON(c echo.Context) error {
	name := strings.TrimSuffix(strings.TrimPrefix(c.Request().URL.Path, "/api/v2/"), ".json")
	lang := langOf(c)
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	return s.cache.serveType(c, "api|"+name+"|"+lang, echo.MIMEApplicationJSON, func(ctx context.Context) ([]byte, error) {
		d, err := s.loadAPI(ctx, lang)
		if err != nil {
			return nil, err
		}
		body := map[string]any{"page": d.page()}
		switch name {
		case "status":
			body["status"] = d.status()
		case "summary":
			body["components"] = d.components()
			body["incidents"] = d.incidentsWhere(openIncidents)
			body["scheduled_maintenances"] = d.maintenancesWhere(upcomingOrActve)
			body["status"] = d.status()
		case "components":
			body["components"] = d.components()
		case "incidents":
			body["incidents"] = d.incidentsWithPostmortems()
		case "incidents/unresolved":
			body["incidents"] = d.incidentsWhere(openIncidents)
		case "scheduled-maintenances":
			body["scheduled_maintenances"] = d.maintenancesWhere(allMaintenance)
		case "scheduled-maintenances/upcoming":
			body["scheduled_maintenances"] = d.maintenancesWhere(upcomingMaint)
		case "scheduled-maintenances/active":
			body["scheduled_maintenances"] = d.maintenancesWhere(activeMaint)
		default:
			return nil, data.ErrNotFound
		}
		return json.Marshal(body)
	})
}

// corsPreflight answers browsers that ask before a cross-site GET.
func corsPreflight(c echo.Context) error {
	h := c.Response().Header()
	h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	h.Set(echo.HeaderAccessControlAllowMethods, "GET, HEAD, OPTIONS")
	h.Set(echo.HeaderAccessControlAllowHeaders, "If-None-Match, If-Modified-Since")
	h.Set(echo.HeaderAccessControlMaxAge, "86400")
	return c.NoContent(204)
}
