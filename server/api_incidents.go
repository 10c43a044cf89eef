package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// Incidents through the operator API: declare, list, read, update and
// resolve, with the console's validation and notices.

// apiIncident is an incident as the operator API shows it, in both
// languages.
type apiIncident struct {
	ID         string     `json:"id" ref:"i"`
	TitleJA    string     `json:"title_ja"`
	TitleEN    string     `json:"title_en"`
	Impact     string     `json:"impact" enum:"none,minor,major,critical"`
	Status     string     `json:"status" enum:"investigating,identified,monitoring,resolved"`
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	Notify     bool       `json:"notify" doc:"The email choice made when it was declared."`
	URL        string     `json:"url" doc:"Its page on the status page."`
	// Components are the statuses its latest update puts components in.
	Components            []apiAffected       `json:"components"`
	Updates               []apiIncidentUpdate `json:"updates" doc:"Newest first."`
	PostmortemPublishedAt *time.Time          `json:"postmortem_published_at"`
}

// apiAffected is a component and the status something puts it in.
type apiAffected struct {
	ComponentID string `json:"component_id" ref:"c"`
	Status      string `json:"status" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance"`
}

type apiIncidentUpdate struct {
	ID         string        `json:"id" ref:"u"`
	Status     string        `json:"status" enum:"investigating,identified,monitoring,resolved"`
	BodyJA     string        `json:"body_ja"`
	BodyEN     string        `json:"body_en"`
	At         time.Time     `json:"at" doc:"The time the update describes (shown on the page)."`
	UpdatedAt  time.Time     `json:"updated_at"`
	Components []apiAffected `json:"components"`
	Notified   bool          `json:"notified" doc:"Whether an email notice went out (or is queued) for it."`
}

func affected(m map[int64]string) []apiAffected {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]apiAffected, len(ids))
	for i, id := range ids {
		out[i] = apiAffected{ComponentID: apiRef("c", id), Status: m[id]}
	}
	return out
}

func (s *Server) toAPIIncident(inc *data.Incident, notified data.NotifiedUpdates) apiIncident {
	out := apiIncident{ID: apiRef("i", inc.ID), TitleJA: inc.TitleJA, TitleEN: inc.TitleEN, Impact: inc.Impact, Status: inc.Status,
		StartedAt: inc.StartedAt.UTC(), ResolvedAt: utcp(inc.ResolvedAt), CreatedAt: inc.CreatedAt.UTC(), UpdatedAt: inc.UpdatedAt.UTC(),
		Notify: inc.Notify, URL: s.opts.BaseURL.String() + "/incidents/" + strconv.FormatInt(inc.ID, 10), Components: affected(inc.ComponentStatuses()),
		Updates: []apiIncidentUpdate{}, PostmortemPublishedAt: utcp(inc.PostmortemPublishedAt)}
	for _, u := range inc.Updates {
		comps := map[int64]string{}
		for _, uc := range u.Components {
			comps[uc.ComponentID] = uc.Status
		}
		out.Updates = append(out.Updates, apiIncidentUpdate{ID: apiRef("u", u.ID), Status: u.Status, BodyJA: u.BodyJA, BodyEN: u.BodyEN,
			At: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), Components: affected(comps), Notified: notified.Incident[u.ID]})
	}
	return out
}

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

var (
	incidentStatusParam = apiParam{Name: "status", Doc: "open (not resolved), or one status.",
		Schema: openapi3.NewStringSchema().WithEnum("open", "investigating", "identified", "monitoring", "resolved")}
	productParam = apiParam{Name: "product", Doc: "Only those naming one of this product's components.", Schema: refSchema("p")}
	sinceParam   = apiParam{Name: "since", Doc: "Only those at or after this time (see each list).", Schema: openapi3.NewDateTimeSchema()}
)

func (s *Server) incidentOps() []apiOp {
	return []apiOp{
		{ID: "listIncidents", Method: http.MethodGet, Path: "/incidents", Tag: "incidents", Summary: "List incidents, newest first",
			Description: "since keeps incidents that started at or after it, and those still open.",
			Query:       append([]apiParam{incidentStatusParam, productParam, sinceParam}, pagingParams...),
			Out:         apiPage[apiIncident]{}, Code: http.StatusOK, Handle: s.apiListIncidents},
		{ID: "createIncident", Method: http.MethodPost, Path: "/incidents", Tag: "incidents", Summary: "Declare an incident",
			In: apiNewIncident{}, Out: apiIncident{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiCreateIncident},
		{ID: "getIncident", Method: http.MethodGet, Path: "/incidents/:id", IDs: []string{"i"}, Tag: "incidents", Summary: "One incident and its timeline",
			Out: apiIncident{}, Code: http.StatusOK, Handle: apiShow(s.apiIncident)},
		{ID: "postIncidentUpdate", Method: http.MethodPost, Path: "/incidents/:id/updates", IDs: []string{"i"}, Tag: "incidents", Summary: "Post an update",
			In: apiNewIncidentUpdate{}, Out: apiIncident{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiPostUpdate},
		{ID: "resolveIncident", Method: http.MethodPost, Path: "/incidents/:id/resolve", IDs: []string{"i"}, Tag: "incidents",
			Summary: "Resolve an incident (its components go back to operational)",
			In:      apiResolveIncident{}, Out: apiIncident{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiResolve},
	}
}

// apiSince reads the since parameter.
func apiSince(c echo.Context) (time.Time, error) {
	v := c.QueryParam("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apiFail(http.StatusBadRequest, "bad_request", `"since" must be a date-time such as 2026-12-01T00:00:00Z.`)
	}
	return t, nil
}

// apiProductFilter reads the product parameter.
func apiProductFilter(c echo.Context) (int64, error) {
	v := c.QueryParam("product")
	if v == "" {
		return 0, nil
	}
	id, ok := parseRef("p", v)
	if !ok {
		return 0, apiFail(http.StatusBadRequest, "bad_request", `"product": `+refHint("p"))
	}
	return id, nil
}

func (s *Server) apiListIncidents(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	q := data.IncidentQuery{Limit: per, Offset: (page - 1) * per}
	switch st := c.QueryParam("status"); st {
	case "":
	case "open":
		q.Statuses = []string{data.Investigating, data.Identified, data.Monitoring}
	case data.Investigating, data.Identified, data.Monitoring, data.Resolved:
		q.Statuses = []string{st}
	default:
		return apiFail(http.StatusBadRequest, "bad_request", `"status" must be open, investigating, identified, monitoring or resolved.`)
	}
	if q.ProductID, err = apiProductFilter(c); err != nil {
		return err
	}
	if q.Since, err = apiSince(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	incs, total, err := s.store.FindIncidents(ctx, q)
	if err != nil {
		return err
	}
	notified, err := s.store.NotifiedUpdates(ctx, incs, nil)
	if err != nil {
		return err
	}
	out := make([]apiIncident, len(incs))
	for i := range incs {
		out[i] = s.toAPIIncident(&incs[i], notified)
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

// apiIncident answers with one incident.
func (s *Server) apiIncident(c echo.Context, id int64, code int) error {
	ctx := c.Request().Context()
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	notified, err := s.store.NotifiedUpdates(ctx, []data.Incident{*inc}, nil)
	if err != nil {
		return err
	}
	return c.JSON(code, s.toAPIIncident(inc, notified))
}

type apiNewIncident struct {
	TitleJA    string            `json:"title_ja" maxlen:"200"`
	TitleEN    string            `json:"title_en,omitempty" maxlen:"200"`
	Impact     string            `json:"impact" enum:"none,minor,major,critical"`
	Status     string            `json:"status,omitempty" enum:"investigating,identified,monitoring,resolved" doc:"investigating unless given."`
	BodyJA     string            `json:"body_ja"`
	BodyEN     string            `json:"body_en,omitempty"`
	Components map[string]string `json:"components,omitempty" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance" doc:"Component id (\"c3\") → the status the incident puts it in."`
	StartedAt  *time.Time        `json:"started_at,omitempty" doc:"When it started, if before now (a backfill)."`
	Notify     bool              `json:"notify,omitempty" doc:"Email the contracts' contacts per the notice policy."`
}

func (s *Server) apiCreateIncident(c echo.Context) error {
	var in apiNewIncident
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	comps, err := componentsMap(in.Components)
	if err != nil {
		return err
	}
	if in.Status == "" {
		in.Status = data.Investigating
	}
	ni := data.NewIncident{TitleJA: in.TitleJA, TitleEN: in.TitleEN, Impact: in.Impact, Status: in.Status, BodyJA: in.BodyJA,
		BodyEN: in.BodyEN, Components: comps, Notice: s.apiNotice(in.Notify)}
	if in.StartedAt != nil {
		ni.StartedAt = *in.StartedAt
	}
	inc, err := s.store.CreateIncident(c.Request().Context(), ni)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.afterNotice(ni.Notice)
	return s.apiIncident(c, inc.ID, http.StatusCreated)
}

type apiNewIncidentUpdate struct {
	Status     string            `json:"status" enum:"investigating,identified,monitoring,resolved"`
	BodyJA     string            `json:"body_ja"`
	BodyEN     string            `json:"body_en,omitempty"`
	Components map[string]string `json:"components,omitempty" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance" doc:"Component id → status; omitted: unchanged. A resolving update puts every component back to operational."`
	Notify     bool              `json:"notify,omitempty" doc:"Email this update per the notice policy; false unless given, whatever was chosen when it was declared."`
	Reopen     bool              `json:"reopen,omitempty" doc:"Must be true to post a non-resolved update to a resolved incident."`
	At         *time.Time        `json:"at,omitempty" doc:"The time the update describes, if before now (a backfill)."`
}

func (s *Server) apiPostUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiNewIncidentUpdate
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	return s.apiUpdateIncident(c, id, in)
}

func (s *Server) apiUpdateIncident(c echo.Context, id int64, in apiNewIncidentUpdate) error {
	ctx := c.Request().Context()
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	comps, err := componentsMap(in.Components)
	if err != nil {
		return err
	}
	if in.Components == nil {
		comps = inc.ComponentStatuses() // unchanged unless given
	}
	if in.Status == data.Resolved {
		comps = map[int64]string{}
		for cid := range inc.ComponentStatuses() {
			comps[cid] = data.Operational
		}
	}
	n := s.apiNotice(in.Notify)
	up := data.NewIncidentUpdate{Status: in.Status, BodyJA: in.BodyJA, BodyEN: in.BodyEN, Components: comps, Notice: n, Reopen: in.Reopen}
	if in.At != nil {
		up.At = *in.At
	}
	if _, err := s.store.PostIncidentUpdate(ctx, id, up); err != nil {
		return s.apiInvalid(notFoundJSON(err, "incident"))
	}
	s.changed()
	s.afterNotice(n)
	return s.apiIncident(c, id, http.StatusCreated)
}

type apiResolveIncident struct {
	BodyJA string `json:"body_ja,omitempty" doc:"「復旧しました。」 unless given."`
	BodyEN string `json:"body_en,omitempty" doc:"\"This incident has been resolved.\" when body_ja is not given either."`
	Notify bool   `json:"notify,omitempty" doc:"Email the resolution per the notice policy; false unless given."`
}

func (s *Server) apiResolve(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiResolveIncident
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	inc, err := s.store.Incident(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	if !inc.Open() {
		// A second resolve (a retry without an Idempotency-Key, say) would
		// post a second 復旧しました。 to the page and the contacts.
		return apiFields(map[string]string{"status": "The incident is already resolved."})
	}
	if strings.TrimSpace(in.BodyJA) == "" {
		in.BodyJA = "復旧しました。"
		if in.BodyEN == "" {
			in.BodyEN = "This incident has been resolved."
		}
	}
	return s.apiUpdateIncident(c, id, apiNewIncidentUpdate{Status: data.Resolved, BodyJA: in.BodyJA, BodyEN: in.BodyEN, Notify: in.Notify})
}
