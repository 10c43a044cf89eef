package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

const adminPageSize = 25

type incidentListPage struct {
	Incidents  []data.Incident
	Page, Last int
}

func pageParam(c echo.Context) int {
	n, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func lastPage(total int64) int { return int((total + adminPageSize - 1) / adminPageSize) }

func (s *Server) listIncidents(c echo.Context) error {
	n := pageParam(c)
	incs, total, err := s.store.RecentIncidents(c.Request().Context(), adminPageSize, (n-1)*adminPageSize)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "incidents", &view{Title: s.t(c, "incidents.title"),
		Data: &incidentListPage{Incidents: incs, Page: n, Last: lastPage(total)}})
}

// incidentFormPage serves both the declaration form and the update form:
// each lists every component with a choice of status.
type incidentFormPage struct {
	*catalogView
	Incident          *data.Incident
	Impacts, Statuses []string
	ComponentStatuses []string
	IncidentStatuses  []string
	// Audience is who the email would reach, for what the form holds now.
	Audience *audienceView
	// Templates fill the form in one step; Preview is what it would
	// publish, when asked.
	Templates []data.IncidentTemplate
	Preview   *publishPreview
}

func componentField(id int64) string { return "component_" + strconv.FormatInt(id, 10) }

// ComponentField names the form field holding a component's status.
func (v *incidentFormPage) ComponentField(id int64) string { return componentField(id) }

func (s *Server) incidentFormPage(c echo.Context, inc *data.Incident) (*incidentFormPage, error) {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return nil, err
	}
	templates, err := s.store.Templates(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &incidentFormPage{catalogView: newCatalogView(products, nil, nil), Incident: inc, Impacts: data.Impacts,
		ComponentStatuses: data.ComponentStatuses, IncidentStatuses: data.IncidentStatuses, Templates: templates}, nil
}

// applyTemplate fills a form from the template named by ?template=, if any:
// titles only on a declaration, bodies, status, impact and components.
func (s *Server) applyTemplate(c echo.Context, f *form, declaring bool) error {
	v := c.QueryParam("template")
	if v == "" {
		return nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	t, err := s.store.Template(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if declaring {
		f.Values.Set("title_ja", t.TitleJA)
		f.Values.Set("title_en", t.TitleEN)
		f.Values.Set("impact", t.Impact)
	}
	f.Values.Set("status", t.Status)
	f.Values.Set("body_ja", t.BodyJA)
	f.Values.Set("body_en", t.BodyEN)
	f.Values.Set("template", v)
	for id, st := range t.ComponentStatuses() {
		f.Values.Set(componentField(id), st)
	}
	return nil
}

// componentStatuses reads one status per component ("" = not affected).
func (f *form) componentStatuses(v *catalogView) map[int64]string {
	m := map[int64]string{}
	for _, p := range v.Products {
		for _, cp := range p.Components {
			st := f.Get(componentField(cp.ID))
			switch {
			case st == "":
			case data.StatusRank(st) == 0 && st != data.Operational:
				f.fail("components", "invalid_choice")
			default:
				m[cp.ID] = st
			}
		}
	}
	return m
}

func (s *Server) newIncident(c echo.Context) error {
	v, err := s.incidentFormPage(c, nil)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"impact": {"minor"}, "status": {data.Investigating}, "notify": {"1"}}}
	if c.QueryParam("backfill") != "" {
		// Writing up an incident that is over: customers are not emailed
		// about the past unless the operator ticks the box.
		f.Values.Del("notify")
		f.Values.Set("backfill", "1")
	}
	if err := s.applyTemplate(c, f, true); err != nil {
		return err
	}
	if err := s.draftInto(c, f, data.DraftOpen); err != nil {
		return err
	}
	if v.Audience, err = s.audience(c.Request().Context(), f.Get("impact"), ids(f.componentStatuses(v.catalogView))); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "incident_new", &view{Title: s.t(c, "incidents.new"), Form: f, Data: v})
}

func (s *Server) createIncident(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	v, err := s.incidentFormPage(c, nil)
	if err != nil {
		return err
	}
	in := data.NewIncident{TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"), Impact: f.Get("impact"),
		Status: f.Get("status"), StartedAt: f.timeField("started_at", s.opts.Location, false), At: f.timeField("at", s.opts.Location, false),
		BodyJA: f.Get("body_ja"), BodyEN: f.Get("body_en"), Components: f.componentStatuses(v.catalogView),
		OperatorID: operatorOf(c).ID, Notice: s.notice(f)}
	if f.Get("preview") != "" {
		// Preview: the message and the email as they would go out, and
		// who would get it; nothing is saved.
		dry := in
		dry.Notice = data.Notice{Send: true, Hold: true}
		code, err := s.previewInto(c, f, &v.Preview, in.TitleJA, in.TitleEN, in.BodyJA, in.BodyEN, func(ctx context.Context, st *data.Store) error {
			_, err := st.CreateIncident(ctx, dry)
			return err
		})
		if err != nil {
			return err
		}
		return s.renderIncidentForm(c, code, "incident_new", s.t(c, "incidents.new"), f, v, in.Impact, ids(in.Components))
	}
	var inc *data.Incident
	since := s.opts.Now()
	if !f.Invalid() {
		inc, err = s.store.CreateIncident(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderIncidentForm(c, http.StatusBadRequest, "incident_new", s.t(c, "incidents.new"), f, v, in.Impact, ids(in.Components))
	}
	if err != nil {
		return err
	}
	s.closeDraftFrom(c.Request().Context(), f, inc.ID)
	return s.published(c, in.Notice, "flash.incident_declared", "/admin/incidents/"+strconv.FormatInt(inc.ID, 10), inc.ID, 0, since)
}

// renderIncidentForm shows a declaration or update form with the audience
// for what it holds; an unknown impact simply counts nobody.
func (s *Server) renderIncidentForm(c echo.Context, code int, name, title string, f *form, v *incidentFormPage, impact string, comps []int64) error {
	if v.Incident != nil {
		impact = v.Incident.Impact
		comps = append(comps, ids(v.Incident.ComponentStatuses())...)
	}
	a, err := s.audience(c.Request().Context(), impact, comps)
	if err != nil && !(&form{}).absorb(err) {
		return err
	}
	if a == nil {
		a = &audienceView{Held: !s.opts.MailEnabled}
	}
	v.Audience = a
	return s.render(c, code, name, &view{Title: title, Form: f, Data: v})
}

// updateForm pre-fills the update form with the incident as it stands; the
// email box starts as the operator chose when declaring.
func updateForm(inc *data.Incident) *form {
	f := &form{Values: map[string][]string{"status": {inc.Status}}}
	if inc.Notify {
		f.Values.Set("notify", "1")
	}
	for id, st := range inc.ComponentStatuses() {
		f.Values.Set(componentField(id), st)
	}
	return f
}

func (s *Server) loadIncidentForm(c echo.Context) (*incidentFormPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	inc, err := s.store.Incident(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return s.incidentFormPage(c, inc)
}

func (s *Server) manageIncident(c echo.Context) error {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return err
	}
	f := updateForm(v.Incident)
	if err := s.applyTemplate(c, f, false); err != nil {
		return err
	}
	if err := s.draftInto(c, f, data.DraftResolve); err != nil {
		return err
	}
	return s.renderIncidentForm(c, http.StatusOK, "incident_manage", v.Incident.TitleJA, f, v, "", nil)
}

func (s *Server) postIncidentUpdate(c echo.Context) error {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := data.NewIncidentUpdate{Status: f.Get("status"), BodyJA: f.Get("body_ja"), BodyEN: f.Get("body_en"),
		Components: f.componentStatuses(v.catalogView), OperatorID: operatorOf(c).ID, Notice: s.notice(f),
		Reopen: f.Get("reopen") == "1", At: f.timeField("at", s.opts.Location, false)}
	if in.Status == data.Resolved {
		// Resolving gives every affected component back: what the form said
		// about them no longer matters.
		in.Components = map[int64]string{}
		for id := range v.Incident.ComponentStatuses() {
			in.Components[id] = data.Operational
		}
	}
	if f.Get("preview") != "" {
		dry := in
		dry.Notice = data.Notice{Send: true, Hold: true}
		code, err := s.previewInto(c, f, &v.Preview, v.Incident.TitleJA, v.Incident.TitleEN, in.BodyJA, in.BodyEN, func(ctx context.Context, st *data.Store) error {
			_, err := st.PostIncidentUpdate(ctx, v.Incident.ID, dry)
			return err
		})
		if err != nil {
			return err
		}
		return s.renderIncidentForm(c, code, "incident_manage", v.Incident.TitleJA, f, v, "", ids(in.Components))
	}
	since := s.opts.Now()
	if !f.Invalid() {
		_, err = s.store.PostIncidentUpdate(c.Request().Context(), v.Incident.ID, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderIncidentForm(c, http.StatusBadRequest, "incident_manage", v.Incident.TitleJA, f, v, "", ids(in.Components))
	}
	if err != nil {
		return err
	}
	s.closeDraftFrom(c.Request().Context(), f, v.Incident.ID)
	flash := "flash.update_posted"
	if in.Status == data.Resolved {
		flash = "flash.incident_resolved"
	}
	return s.published(c, in.Notice, flash, "/admin/incidents/"+strconv.FormatInt(v.Incident.ID, 10), v.Incident.ID, 0, since)
}

func (s *Server) editIncident(c echo.Context) error {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return err
	}
	inc := v.Incident
	f := &form{Values: map[string][]string{"title_ja": {inc.TitleJA}, "title_en": {inc.TitleEN}, "impact": {inc.Impact},
		"started_at": {localInput(inc.StartedAt, s.opts.Location)}}}
	if inc.ResolvedAt != nil {
		f.Values.Set("resolved_at", localInput(*inc.ResolvedAt, s.opts.Location))
	}
	return s.render(c, http.StatusOK, "incident_edit", &view{Title: s.t(c, "incidents.edit"), Form: f, Data: v})
}

func (s *Server) updateIncident(c echo.Context) error {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := data.IncidentEdit{TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"), Impact: f.Get("impact"),
		StartedAt: f.timeField("started_at", s.opts.Location, true)}
	if v.Incident.Status == data.Resolved {
		t := f.timeField("resolved_at", s.opts.Location, true)
		in.ResolvedAt = &t
	}
	if !f.Invalid() {
		err = s.store.UpdateIncident(c.Request().Context(), v.Incident.ID, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "incident_edit", &view{Title: s.t(c, "incidents.edit"), Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	if after, err := s.store.Incident(c.Request().Context(), v.Incident.ID); err == nil {
		s.auditEdit(c, "incident.update", "incident="+strconv.FormatInt(v.Incident.ID, 10), v.Incident, after)
	}
	return s.done(c, "flash.saved", "/admin/incidents/"+strconv.FormatInt(v.Incident.ID, 10))
}

type updateEditPage struct {
	Back   string
	Action string
}

// findIncidentUpdate returns the update named in the route, or a 404.
func findIncidentUpdate(c echo.Context, inc *data.Incident) (*data.IncidentUpdate, error) {
	uid, err := idParam(c, "uid")
	if err != nil {
		return nil, err
	}
	for i := range inc.Updates {
		if inc.Updates[i].ID == uid {
			return &inc.Updates[i], nil
		}
	}
	return nil, echo.ErrNotFound
}

func (s *Server) editIncidentUpdate(c echo.Context) error {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return err
	}
	u, err := findIncidentUpdate(c, v.Incident)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"body_ja": {u.BodyJA}, "body_en": {u.BodyEN}}}
	return s.render(c, http.StatusOK, "update_edit", &view{Title: s.t(c, "updates.edit"), Form: f, Data: incidentUpdatePage(v.Incident, u)})
}

func incidentUpdatePage(inc *data.Incident, u *data.IncidentUpdate) *updateEditPage {
	base := "/admin/incidents/" + strconv.FormatInt(inc.ID, 10)
	return &updateEditPage{Back: base, Action: base + "/updates/" + strconv.FormatInt(u.ID, 10)}
}

func (s *Server) saveIncidentUpdate(c echo.Context) error {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return err
	}
	u, err := findIncidentUpdate(c, v.Incident)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	err = s.store.EditIncidentUpdate(c.Request().Context(), v.Incident.ID, u.ID, f.Get("body_ja"), f.Get("body_en"))
	if f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "update_edit", &view{Title: s.t(c, "updates.edit"), Form: f, Data: incidentUpdatePage(v.Incident, u)})
	}
	if err != nil {
		return err
	}
	return s.done(c, "flash.saved", "/admin/incidents/"+strconv.FormatInt(v.Incident.ID, 10))
}

func (s *Server) deleteIncidentUpdate(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	uid, err := idParam(c, "uid")
	if err != nil {
		return err
	}
	if err := s.store.DeleteIncidentUpdate(c.Request().Context(), id, uid); err != nil {
		return s.refusal(c, err)
	}
	return s.done(c, "flash.deleted", "/admin/incidents/"+strconv.FormatInt(id, 10))
}
