package server

// Editing incidents, their updates and maintenance windows after the fact,
// postmortems and templates through the operator API.

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

func (s *Server) editOps() []apiOp {
	return []apiOp{
		{ID: "updateIncident", Method: http.MethodPut, Path: "/incidents/:id", IDs: []string{"i"}, Tag: "incidents",
			Summary:     "Edit an incident's title, impact and times",
			Description: "As the console's edit form: the titles, the impact, when it started and, once resolved, when it was resolved. Sends no notice.",
			In:          apiIncidentEdit{}, Out: apiIncident{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiEditIncident},
		{ID: "updateIncidentUpdate", Method: http.MethodPut, Path: "/incidents/:id/updates/:item", IDs: []string{"i", "u"}, Tag: "incidents",
			Summary:     "Correct an update's text",
			Description: "Only the text changes: an update's status, time and components stay as posted. Sends no notice.",
			In:          apiUpdateText{}, Out: apiIncident{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiEditIncidentUpdate},
		{ID: "deleteIncidentUpdate", Method: http.MethodDelete, Path: "/incidents/:id/updates/:item", IDs: []string{"i", "u"}, Tag: "incidents",
			Summary:     "Delete an update posted by mistake",
			Description: "The incident keeps its status and times; emails already sent are not taken back. Its only update cannot be deleted (422).",
			Out:         apiConsequence{}, Code: http.StatusOK, Destructive: true,
			Handle: s.destructive(s.apiDescribeDeleteIncidentUpdate, s.apiDeleteIncidentUpdate)},
		{ID: "updateMaintenance", Method: http.MethodPut, Path: "/maintenance/:id", IDs: []string{"m"}, Tag: "maintenance",
			Summary: "Reschedule or rename a maintenance window that has not ended",
			Description: "As the console's edit form. Moving the start re-arms the reminder, so those told are reminded of the new time; " +
				"a moved window's calendar entry is revised.",
			In: apiMaintenanceEdit{}, Out: apiMaintenance{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiEditMaintenance},
		{ID: "updateMaintenanceUpdate", Method: http.MethodPut, Path: "/maintenance/:id/updates/:item", IDs: []string{"m", "mu"}, Tag: "maintenance",
			Summary: "Correct a maintenance update's text", Description: "Only the text changes. Sends no notice.",
			In: apiUpdateText{}, Out: apiMaintenance{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiEditMaintenanceUpdate},
		{ID: "getPostmortem", Method: http.MethodGet, Path: "/incidents/:id/postmortem", IDs: []string{"i"}, Tag: "incidents",
			Summary: "An incident's postmortem, draft or published",
			Out:     apiPostmortem{}, Code: http.StatusOK, Handle: s.apiGetPostmortem},
		{ID: "savePostmortem", Method: http.MethodPut, Path: "/incidents/:id/postmortem", IDs: []string{"i"}, Tag: "incidents",
			Summary: "Write, publish or take back a resolved incident's postmortem",
			Description: "publish false keeps (or takes it back to) a draft only operators see. The first publication time stays through " +
				"corrections. notify with publish tells the incident's audience, at most once per incident: later saves never send a second notice.",
			In: apiPostmortemInput{}, Out: apiPostmortem{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiSavePostmortem},
		{ID: "listTemplates", Method: http.MethodGet, Path: "/templates", Tag: "templates", Summary: "List incident templates by name",
			Out: apiList[apiTemplate]{}, Code: http.StatusOK, Handle: s.apiListTemplates},
		{ID: "createTemplate", Method: http.MethodPost, Path: "/templates", Tag: "templates", Summary: "Add an incident template",
			In: apiTemplateInput{}, Out: apiTemplate{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiSaveTemplate},
		{ID: "getTemplate", Method: http.MethodGet, Path: "/templates/:id", IDs: []string{"t"}, Tag: "templates", Summary: "One incident template",
			Out: apiTemplate{}, Code: http.StatusOK, Handle: apiShow(s.apiTemplate)},
		{ID: "updateTemplate", Method: http.MethodPut, Path: "/templates/:id", IDs: []string{"t"}, Tag: "templates", Summary: "Replace an incident template",
			In: apiTemplateInput{}, Out: apiTemplate{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiSaveTemplate},
		{ID: "deleteTemplate", Method: http.MethodDelete, Path: "/templates/:id", IDs: []string{"t"}, Tag: "templates", Summary: "Delete an incident template",
			Description: "Incidents declared from it are not affected.",
			Out:         apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.apiDescribeDeleteTemplate, s.apiDeleteTemplate)},
	}
}

// apiRenamed is err with the store's field names given as the API's.
func apiRenamed(err error, names map[string]string) error {
	var v *data.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	out := &data.ValidationError{Fields: map[string]string{}}
	for k, key := range v.Fields {
		if n, ok := names[k]; ok {
			k = n
		}
		out.Fields[k] = key
	}
	return out
}

// Incidents.

// apiIncidentEdit changes an incident after the fact; what is left out is
// kept.
type apiIncidentEdit struct {
	TitleJA    *string    `json:"title_ja,omitempty" maxlen:"200"`
	TitleEN    *string    `json:"title_en,omitempty" maxlen:"200" doc:"Omitted: kept; empty: no English title."`
	Impact     *string    `json:"impact,omitempty" enum:"none,minor,major,critical"`
	StartedAt  *time.Time `json:"started_at,omitempty" doc:"When it started; not in the future."`
	ResolvedAt *time.Time `json:"resolved_at,omitempty" doc:"When it was resolved: only for a resolved incident; unchanged unless given. Not before the start, not in the future."`
}

func (s *Server) apiEditIncident(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiIncidentEdit
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	before, err := s.store.Incident(ctx, id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	edit := data.IncidentEdit{TitleJA: before.TitleJA, TitleEN: before.TitleEN, Impact: before.Impact, StartedAt: before.StartedAt}
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&edit.TitleJA, in.TitleJA}, {&edit.TitleEN, in.TitleEN}, {&edit.Impact, in.Impact}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if in.StartedAt != nil {
		edit.StartedAt = *in.StartedAt
	}
	if before.Status == data.Resolved {
		edit.ResolvedAt = before.ResolvedAt
		if in.ResolvedAt != nil {
			edit.ResolvedAt = in.ResolvedAt
		}
	} else if in.ResolvedAt != nil {
		return apiFields(map[string]string{"resolved_at": "Only a resolved incident has a resolution time."})
	}
	if err := s.store.UpdateIncident(ctx, id, edit); err != nil {
		return s.apiInvalid(notFoundJSON(err, "incident"))
	}
	if after, err := s.store.Incident(ctx, id); err == nil {
		s.apiAudit(c, "incident.update", "incident="+strconv.FormatInt(id, 10), diff(auditFields(before), auditFields(after)))
	}
	s.changed()
	return s.apiIncident(c, id, http.StatusOK)
}

// apiUpdateText is the corrected text of an update.
type apiUpdateText struct {
	BodyJA string `json:"body_ja"`
	BodyEN string `json:"body_en,omitempty" doc:"Empty: no English text."`
}

func (s *Server) apiEditIncidentUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	uid, err := apiID(c, "item")
	if err != nil {
		return err
	}
	var in apiUpdateText
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.EditIncidentUpdate(c.Request().Context(), id, uid, in.BodyJA, in.BodyEN); err != nil {
		return s.apiInvalid(notFoundJSON(err, "incident update"))
	}
	s.changed()
	return s.apiIncident(c, id, http.StatusOK)
}

// apiDescribeDeleteIncidentUpdate is the console's confirmation, for the
// API's path parameters.
func (s *Server) apiDescribeDeleteIncidentUpdate(c echo.Context) (*confirmPage, error) {
	id, err := apiID(c, "id")
	if err != nil {
		return nil, err
	}
	uid, err := apiID(c, "item")
	if err != nil {
		return nil, err
	}
	inc, err := s.store.Incident(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	found := false
	for _, u := range inc.Updates {
		found = found || u.ID == uid
	}
	if !found {
		return nil, data.ErrNotFound
	}
	names := c.ParamNames()
	c.SetParamNames("id", "uid")
	defer c.SetParamNames(names...)
	return s.describeDeleteIncidentUpdate(c)
}

func (s *Server) apiDeleteIncidentUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	uid, err := apiID(c, "item")
	if err != nil {
		return err
	}
	if err := s.store.DeleteIncidentUpdate(c.Request().Context(), id, uid); err != nil {
		return s.apiInvalid(notFoundJSON(err, "incident update"))
	}
	s.changed()
	return nil
}

// Maintenance.

type apiMaintenanceEdit struct {
	TitleJA    string    `json:"title_ja" maxlen:"200"`
	TitleEN    string    `json:"title_en,omitempty" maxlen:"200"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at" doc:"After starts_at."`
	Components []string  `json:"components" ref:"c"`
	ReminderS  *int64    `json:"reminder_lead_seconds,omitempty" min:"0" doc:"How long before the start contacts are reminded; 0: no reminder; unchanged unless given."`
}

func (s *Server) apiEditMaintenance(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiMaintenanceEdit
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	comps, err := bodyRefs("c", "components", in.Components)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := s.store.Maintenance(ctx, id)
	if err != nil {
		return notFoundJSON(err, "maintenance")
	}
	lead := m.ReminderLeadSeconds
	if in.ReminderS != nil {
		if lead = *in.ReminderS; lead < 0 {
			return apiFields(map[string]string{"reminder_lead_seconds": "Must be 0 (no reminder) or more."})
		}
	}
	edit := data.MaintenanceEdit{TitleJA: in.TitleJA, TitleEN: in.TitleEN, StartsAt: in.StartsAt, EndsAt: in.EndsAt, ComponentIDs: comps,
		ReminderLead: -1}
	if lead > 0 {
		edit.ReminderLead = time.Duration(lead) * time.Second
	}
	if err := s.store.UpdateMaintenance(ctx, id, edit); err != nil {
		return s.apiInvalid(notFoundJSON(err, "maintenance"))
	}
	s.changed()
	return s.apiMaintenance(c, id, http.StatusOK)
}

func (s *Server) apiEditMaintenanceUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	uid, err := apiID(c, "item")
	if err != nil {
		return err
	}
	var in apiUpdateText
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.EditMaintenanceUpdate(c.Request().Context(), id, uid, in.BodyJA, in.BodyEN); err != nil {
		return s.apiInvalid(notFoundJSON(err, "maintenance update"))
	}
	s.changed()
	return s.apiMaintenance(c, id, http.StatusOK)
}

// Postmortems.

// apiPostmortem is an incident's postmortem.
type apiPostmortem struct {
	IncidentID   string     `json:"incident_id" ref:"i"`
	PostmortemJA string     `json:"postmortem_ja" doc:"Markdown; empty: none written yet."`
	PostmortemEN string     `json:"postmortem_en"`
	Published    bool       `json:"published" doc:"false: a draft only operators see."`
	PublishedAt  *time.Time `json:"published_at"`
	UpdatedAt    *time.Time `json:"updated_at"`
	NotifiedAt   *time.Time `json:"notified_at" doc:"When its notice was queued; it is never queued twice."`
	URL          string     `json:"url" doc:"Where it is shown once published."`
}

type apiPostmortemInput struct {
	PostmortemJA string `json:"postmortem_ja" doc:"Markdown, up to 50,000 characters."`
	PostmortemEN string `json:"postmortem_en,omitempty"`
	Publish      bool   `json:"publish,omitempty" doc:"true: show it on the page; false: keep it (or take it back to) a draft."`
	Notify       bool   `json:"notify,omitempty" doc:"With publish: tell the incident's audience per the notice policy, unless they were told before."`
}

func (s *Server) toAPIPostmortem(inc *data.Incident) apiPostmortem {
	return apiPostmortem{IncidentID: apiRef("i", inc.ID), PostmortemJA: inc.PostmortemJA, PostmortemEN: inc.PostmortemEN,
		Published: inc.PostmortemPublishedAt != nil, PublishedAt: utcp(inc.PostmortemPublishedAt), UpdatedAt: utcp(inc.PostmortemUpdatedAt),
		NotifiedAt: utcp(inc.PostmortemNotifiedAt), URL: s.opts.BaseURL.String() + "/incidents/" + strconv.FormatInt(inc.ID, 10) + "#postmortem"}
}

func (s *Server) apiGetPostmortem(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	inc, err := s.store.Incident(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	return c.JSON(http.StatusOK, s.toAPIPostmortem(inc))
}

func (s *Server) apiSavePostmortem(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiPostmortemInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	pin := data.PostmortemInput{BodyJA: in.PostmortemJA, BodyEN: in.PostmortemEN, Publish: in.Publish, Notice: n}
	if tok, ok := c.Get("api_token").(*data.APIToken); ok {
		pin.OperatorID = tok.CreatedBy
	}
	ctx := c.Request().Context()
	res, err := s.store.SavePostmortem(ctx, id, pin)
	if err != nil {
		return s.apiInvalid(notFoundJSON(err, "incident"))
	}
	s.apiAudit(c, "incident.postmortem", "incident="+strconv.FormatInt(id, 10), map[string]any{"published": res.Published, "notified": res.Notified})
	s.changed()
	if res.Notified {
		s.afterNotice(n)
	}
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	return c.JSON(http.StatusOK, s.toAPIPostmortem(inc))
}

// Templates.

// apiTemplate is a prepared declaration: what the console's template
// form holds.
type apiTemplate struct {
	ID         string        `json:"id" ref:"t"`
	Name       string        `json:"name"`
	ProductID  *string       `json:"product_id" ref:"p" doc:"The product it is for; null: any product."`
	TitleJA    string        `json:"title_ja"`
	TitleEN    string        `json:"title_en"`
	BodyJA     string        `json:"body_ja"`
	BodyEN     string        `json:"body_en"`
	Impact     string        `json:"impact" enum:"none,minor,major,critical"`
	Status     string        `json:"status" enum:"investigating,identified,monitoring"`
	Components []apiAffected `json:"components" doc:"The statuses it puts components in."`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

type apiTemplateInput struct {
	Name       string            `json:"name" maxlen:"100"`
	ProductID  *string           `json:"product_id,omitempty" ref:"p" doc:"The product it is for; omitted or null: any product."`
	TitleJA    string            `json:"title_ja" maxlen:"200"`
	TitleEN    string            `json:"title_en,omitempty" maxlen:"200"`
	BodyJA     string            `json:"body_ja"`
	BodyEN     string            `json:"body_en,omitempty"`
	Impact     string            `json:"impact" enum:"none,minor,major,critical"`
	Status     string            `json:"status,omitempty" enum:"investigating,identified,monitoring" doc:"investigating unless given."`
	Components map[string]string `json:"components,omitempty" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance" doc:"Component id (\"c3\") → the status the template puts it in."`
}

func toAPITemplate(t *data.IncidentTemplate) apiTemplate {
	out := apiTemplate{ID: apiRef("t", t.ID), Name: t.Name, TitleJA: t.TitleJA, TitleEN: t.TitleEN, BodyJA: t.BodyJA, BodyEN: t.BodyEN,
		Impact: t.Impact, Status: t.Status, Components: affected(t.ComponentStatuses()), CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	if t.ProductID != nil {
		p := apiRef("p", *t.ProductID)
		out.ProductID = &p
	}
	return out
}

func (s *Server) apiListTemplates(c echo.Context) error {
	ts, err := s.store.Templates(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiTemplate, len(ts))
	for i := range ts {
		out[i] = toAPITemplate(&ts[i])
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

func (s *Server) apiTemplate(c echo.Context, id int64, code int) error {
	t, err := s.store.Template(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "template")
	}
	return c.JSON(code, toAPITemplate(t))
}

// apiSaveTemplate creates a template (no id in the path) or replaces one.
func (s *Server) apiSaveTemplate(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = apiID(c, "id"); err != nil {
			return err
		}
	}
	var in apiTemplateInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	comps, err := componentsMap(in.Components)
	if err != nil {
		return err
	}
	ti := data.TemplateInput{Name: in.Name, TitleJA: in.TitleJA, TitleEN: in.TitleEN, BodyJA: in.BodyJA, BodyEN: in.BodyEN,
		Impact: in.Impact, Status: in.Status, Components: comps}
	if ti.Status == "" {
		ti.Status = data.Investigating
	}
	if in.ProductID != nil {
		if ti.ProductID, err = bodyRef("p", "product_id", *in.ProductID); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	code := http.StatusOK
	if id == 0 {
		t, err := s.store.CreateTemplate(ctx, ti)
		if err != nil {
			return s.apiInvalid(apiRenamed(err, map[string]string{"product": "product_id"}))
		}
		id, code = t.ID, http.StatusCreated
	} else if err := s.store.UpdateTemplate(ctx, id, ti); err != nil {
		return s.apiInvalid(apiRenamed(notFoundJSON(err, "template"), map[string]string{"product": "product_id"}))
	}
	s.apiAudit(c, "template.save", "template="+strconv.FormatInt(id, 10), map[string]any{"name": ti.Name, "impact": ti.Impact,
		"title_ja": ti.TitleJA, "product": ti.ProductID})
	s.changed()
	return s.apiTemplate(c, id, code)
}

func (s *Server) apiDescribeDeleteTemplate(c echo.Context) (*confirmPage, error) {
	if _, err := apiID(c, "id"); err != nil {
		return nil, err
	}
	return s.describeDeleteTemplate(c)
}

func (s *Server) apiDeleteTemplate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	t, err := s.store.Template(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "template")
	}
	if err := s.store.DeleteTemplate(c.Request().Context(), id); err != nil {
		return notFoundJSON(err, "template")
	}
	s.apiAudit(c, "template.delete", "template="+strconv.FormatInt(id, 10), map[string]any{"name": t.Name})
	s.changed()
	return nil
}
