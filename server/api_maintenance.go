package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// Maintenance windows through the operator API: schedule, list, read and
// post their steps.

type apiMaintenance struct {
	ID                  string                 `json:"id" ref:"m"`
	TitleJA             string                 `json:"title_ja"`
	TitleEN             string                 `json:"title_en"`
	Status              string                 `json:"status" enum:"scheduled,in_progress,verifying,completed,cancelled"`
	StartsAt            time.Time              `json:"starts_at"`
	EndsAt              time.Time              `json:"ends_at"`
	StartedAt           *time.Time             `json:"started_at"`
	CompletedAt         *time.Time             `json:"completed_at"`
	ReminderLeadSeconds int64                  `json:"reminder_lead_seconds" doc:"How long before the start contacts are reminded; 0: no reminder."`
	ReminderSentAt      *time.Time             `json:"reminder_sent_at"`
	Notify              bool                   `json:"notify" doc:"false: no automatic step (reminder, start, end) emails."`
	URL                 string                 `json:"url"`
	Components          []string               `json:"components" ref:"c"`
	Updates             []apiMaintenanceUpdate `json:"updates" doc:"Newest first."`
	CreatedAt           time.Time              `json:"created_at"`
	UpdatedAt           time.Time              `json:"updated_at"`
}

type apiMaintenanceUpdate struct {
	ID        string    `json:"id" ref:"mu"`
	Status    string    `json:"status" enum:"scheduled,in_progress,verifying,completed,cancelled"`
	BodyJA    string    `json:"body_ja"`
	BodyEN    string    `json:"body_en"`
	At        time.Time `json:"at"`
	UpdatedAt time.Time `json:"updated_at"`
	Notified  bool      `json:"notified"`
}

func (s *Server) toAPIMaintenance(m *data.Maintenance, notified data.NotifiedUpdates) apiMaintenance {
	out := apiMaintenance{ID: apiRef("m", m.ID), TitleJA: m.TitleJA, TitleEN: m.TitleEN, Status: m.Status, StartsAt: m.StartsAt.UTC(), EndsAt: m.EndsAt.UTC(),
		StartedAt: utcp(m.StartedAt), CompletedAt: utcp(m.CompletedAt), ReminderLeadSeconds: m.ReminderLeadSeconds, ReminderSentAt: utcp(m.ReminderSentAt),
		Notify: m.Notify, URL: s.opts.BaseURL.String() + "/maintenance/" + strconv.FormatInt(m.ID, 10), Components: apiRefs("c", m.ComponentIDs()),
		Updates: []apiMaintenanceUpdate{}, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
	for _, u := range m.Updates {
		out.Updates = append(out.Updates, apiMaintenanceUpdate{ID: apiRef("mu", u.ID), Status: u.Status, BodyJA: u.BodyJA, BodyEN: u.BodyEN,
			At: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), Notified: notified.Maintenance[u.ID]})
	}
	return out
}

func (s *Server) maintenanceOps() []apiOp {
	return []apiOp{
		{ID: "listMaintenance", Method: http.MethodGet, Path: "/maintenance", Tag: "maintenance", Summary: "List maintenance windows, latest start first",
			Description: "since keeps windows that end at or after it.",
			Query: append([]apiParam{{Name: "status", Doc: "open (not ended), or one status.",
				Schema: openapi3.NewStringSchema().WithEnum("open", "scheduled", "in_progress", "verifying", "completed", "cancelled")},
				productParam, sinceParam}, pagingParams...),
			Out: apiPage[apiMaintenance]{}, Code: http.StatusOK, Handle: s.apiListMaintenance},
		{ID: "createMaintenance", Method: http.MethodPost, Path: "/maintenance", Tag: "maintenance", Summary: "Schedule maintenance",
			In: apiNewMaintenance{}, Out: apiMaintenance{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiCreateMaintenance},
		{ID: "getMaintenance", Method: http.MethodGet, Path: "/maintenance/:id", IDs: []string{"m"}, Tag: "maintenance", Summary: "One maintenance window and its timeline",
			Out: apiMaintenance{}, Code: http.StatusOK, Handle: apiShow(s.apiMaintenance)},
		{ID: "postMaintenanceUpdate", Method: http.MethodPost, Path: "/maintenance/:id/updates", IDs: []string{"m"}, Tag: "maintenance",
			Summary: "Post a maintenance step (start, verify, complete, cancel, or a note)",
			In:      apiNewMaintenanceUpdate{}, Out: apiMaintenance{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiPostMaintenanceUpdate},
	}
}

func (s *Server) apiListMaintenance(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	q := data.MaintenanceQuery{Limit: per, Offset: (page - 1) * per}
	switch st := c.QueryParam("status"); st {
	case "":
	case "open":
		q.Statuses = []string{data.Scheduled, data.InProgress, data.Verifying}
	case data.Scheduled, data.InProgress, data.Verifying, data.Completed, data.Cancelled:
		q.Statuses = []string{st}
	default:
		return apiFail(http.StatusBadRequest, "bad_request", `"status" must be open, scheduled, in_progress, verifying, completed or cancelled.`)
	}
	if q.ProductID, err = apiProductFilter(c); err != nil {
		return err
	}
	if q.Since, err = apiSince(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	ms, total, err := s.store.FindMaintenances(ctx, q)
	if err != nil {
		return err
	}
	notified, err := s.store.NotifiedUpdates(ctx, nil, ms)
	if err != nil {
		return err
	}
	out := make([]apiMaintenance, len(ms))
	for i := range ms {
		out[i] = s.toAPIMaintenance(&ms[i], notified)
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

// apiMaintenance answers with one window.
func (s *Server) apiMaintenance(c echo.Context, id int64, code int) error {
	ctx := c.Request().Context()
	m, err := s.store.Maintenance(ctx, id)
	if err != nil {
		return notFoundJSON(err, "maintenance")
	}
	notified, err := s.store.NotifiedUpdates(ctx, nil, []data.Maintenance{*m})
	if err != nil {
		return err
	}
	return c.JSON(code, s.toAPIMaintenance(m, notified))
}

type apiNewMaintenance struct {
	TitleJA    string    `json:"title_ja" maxlen:"200"`
	TitleEN    string    `json:"title_en,omitempty" maxlen:"200"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	BodyJA     string    `json:"body_ja"`
	BodyEN     string    `json:"body_en,omitempty"`
	Components []string  `json:"components" ref:"c"`
	Notify     bool      `json:"notify,omitempty"`
	ReminderS  *int64    `json:"reminder_lead_seconds,omitempty" min:"0" max:"7776000" doc:"How long before the start contacts are reminded: a day unless given; 0: no reminder."`
}

func (s *Server) apiCreateMaintenance(c echo.Context) error {
	var in apiNewMaintenance
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	comps, err := bodyRefs("c", "components", in.Components)
	if err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	nm := data.NewMaintenance{TitleJA: in.TitleJA, TitleEN: in.TitleEN, StartsAt: in.StartsAt, EndsAt: in.EndsAt, BodyJA: in.BodyJA, BodyEN: in.BodyEN,
		ComponentIDs: comps, Notice: n}
	if in.ReminderS != nil {
		if *in.ReminderS < 0 || *in.ReminderS > 90*24*3600 {
			return apiFields(map[string]string{"reminder_lead_seconds": "From 0 (no reminder) to 7776000 (90 days)."})
		}
		if *in.ReminderS == 0 {
			nm.ReminderLead = -1
		} else {
			nm.ReminderLead = time.Duration(*in.ReminderS) * time.Second
		}
	}
	m, err := s.store.CreateMaintenance(c.Request().Context(), nm)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.afterNotice(n)
	return s.apiMaintenance(c, m.ID, http.StatusCreated)
}

type apiNewMaintenanceUpdate struct {
	Status string `json:"status" enum:"scheduled,in_progress,verifying,completed,cancelled"`
	BodyJA string `json:"body_ja"`
	BodyEN string `json:"body_en,omitempty"`
	Notify bool   `json:"notify,omitempty"`
}

func (s *Server) apiPostMaintenanceUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiNewMaintenanceUpdate
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	if _, err := s.store.PostMaintenanceUpdate(c.Request().Context(), id, data.NewMaintenanceUpdate{Status: in.Status, BodyJA: in.BodyJA,
		BodyEN: in.BodyEN, Notice: n}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "maintenance"))
	}
	s.changed()
	s.afterNotice(n)
	return s.apiMaintenance(c, id, http.StatusCreated)
}
