package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type maintenanceListPage struct {
	Maintenances []data.Maintenance
	Page, Last   int
}

func (s *Server) listMaintenance(c echo.Context) error {
	n := pageParam(c)
	ms, total, err := s.store.RecentMaintenances(c.Request().Context(), adminPageSize, (n-1)*adminPageSize)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "maintenances", &view{Title: s.t(c, "maintenance.title"),
		Data: &maintenanceListPage{Maintenances: ms, Page: n, Last: lastPage(total)}})
}

type maintenanceFormPage struct {
	*catalogView
	Maintenance *data.Maintenance
	Statuses    []string
	Audience    *audienceView
	Reminders   []string
	// Preview is what the form would publish, when asked.
	Preview *publishPreview
	// EarlyStart: the update sets "in progress" before the planned start,
	// which the operator must confirm.
	EarlyStart bool
}

// renderMaintenanceForm shows a maintenance form with the audience for the
// components it holds.
func (s *Server) renderMaintenanceForm(c echo.Context, code int, name, title string, f *form, v *maintenanceFormPage, comps []int64) error {
	if v.Maintenance != nil && comps == nil {
		comps = v.Maintenance.ComponentIDs()
	}
	a, err := s.audience(c.Request().Context(), data.PolicyMaintenance, comps)
	if err != nil {
		return err
	}
	v.Audience = a
	return s.render(c, code, name, &view{Title: title, Form: f, Data: v})
}

func (s *Server) maintenanceFormPage(c echo.Context, m *data.Maintenance) (*maintenanceFormPage, error) {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &maintenanceFormPage{catalogView: newCatalogView(products, nil, nil), Maintenance: m, Reminders: reminderChoices,
		Statuses: []string{data.InProgress, data.Verifying, data.Completed, data.Cancelled, data.Scheduled}}, nil
}

func (s *Server) newMaintenance(c echo.Context) error {
	v, err := s.maintenanceFormPage(c, nil)
	if err != nil {
		return err
	}
	return s.renderMaintenanceForm(c, http.StatusOK, "maintenance_form", s.t(c, "maintenance.new"), &form{Values: map[string][]string{"notify": {"1"}, "reminder": {"1d"}}}, v, nil)
}

func (s *Server) createMaintenance(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	v, err := s.maintenanceFormPage(c, nil)
	if err != nil {
		return err
	}
	in := data.NewMaintenance{TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"),
		StartsAt: f.timeField("starts_at", s.opts.Location, true), EndsAt: f.timeField("ends_at", s.opts.Location, true),
		BodyJA: f.Get("body_ja"), BodyEN: f.Get("body_en"), ComponentIDs: f.idsField("components"), OperatorID: operatorOf(c).ID,
		Notice: s.notice(f), ReminderLead: f.reminderLead()}
	if f.Get("preview") != "" {
		dry := in
		dry.Notice = data.Notice{Send: true, Hold: true}
		code, err := s.previewInto(c, f, &v.Preview, in.TitleJA, in.TitleEN, in.BodyJA, in.BodyEN, func(ctx context.Context, st *data.Store) error {
			_, err := st.CreateMaintenance(ctx, dry)
			return err
		})
		if err != nil {
			return err
		}
		return s.renderMaintenanceForm(c, code, "maintenance_form", s.t(c, "maintenance.new"), f, v, in.ComponentIDs)
	}
	var m *data.Maintenance
	since := s.opts.Now()
	if !f.Invalid() {
		m, err = s.store.CreateMaintenance(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderMaintenanceForm(c, http.StatusBadRequest, "maintenance_form", s.t(c, "maintenance.new"), f, v, in.ComponentIDs)
	}
	if err != nil {
		return err
	}
	return s.published(c, in.Notice, "flash.maintenance_scheduled", "/admin/maintenance/"+strconv.FormatInt(m.ID, 10), 0, m.ID, since)
}

func (s *Server) loadMaintenanceForm(c echo.Context) (*maintenanceFormPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	m, err := s.store.Maintenance(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return s.maintenanceFormPage(c, m)
}

func (s *Server) manageMaintenance(c echo.Context) error {
	v, err := s.loadMaintenanceForm(c)
	if err != nil {
		return err
	}
	// The form starts at the window's own status: a step is the operator's
	// choice, and starting a window a week early by default would announce
	// a start that has not happened.
	f := &form{Values: map[string][]string{"status": {v.Maintenance.Status}}}
	if v.Maintenance.Notify {
		f.Values.Set("notify", "1")
	}
	return s.renderMaintenanceStep(c, http.StatusOK, f, v, f.Get("status"))
}

// renderMaintenanceStep shows a window's update form with the audience of
// the step it holds.
func (s *Server) renderMaintenanceStep(c echo.Context, code int, f *form, v *maintenanceFormPage, status string) error {
	a, err := s.maintenanceStepAudience(c.Request().Context(), v.Maintenance, status)
	if err != nil {
		return err
	}
	v.Audience = a
	return s.render(c, code, "maintenance_manage", &view{Title: v.Maintenance.TitleJA, Form: f, Data: v})
}

func (s *Server) postMaintenanceUpdate(c echo.Context) error {
	v, err := s.loadMaintenanceForm(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := data.NewMaintenanceUpdate{Status: f.Get("status"), BodyJA: f.Get("body_ja"), BodyEN: f.Get("body_en"), OperatorID: operatorOf(c).ID,
		Notice: s.notice(f)}
	m := v.Maintenance
	v.EarlyStart = in.Status == data.InProgress && m.Status == data.Scheduled && s.opts.Now().Before(m.StartsAt)
	if f.Get("preview") != "" {
		// The count for this step, the message and the email; nothing saved.
		dry := in
		dry.Notice = data.Notice{Send: true, Hold: true}
		code, err := s.previewInto(c, f, &v.Preview, v.Maintenance.TitleJA, v.Maintenance.TitleEN, in.BodyJA, in.BodyEN, func(ctx context.Context, st *data.Store) error {
			_, err := st.PostMaintenanceUpdate(ctx, v.Maintenance.ID, dry)
			return err
		})
		if err != nil {
			return err
		}
		return s.renderMaintenanceStep(c, code, f, v, in.Status)
	}
	if v.EarlyStart && !f.Is("confirm_early", "1") {
		f.fail("confirm_early", "early_start_unconfirmed")
		return s.renderMaintenanceStep(c, http.StatusBadRequest, f, v, in.Status)
	}
	since := s.opts.Now()
	_, err = s.store.PostMaintenanceUpdate(c.Request().Context(), v.Maintenance.ID, in)
	if f.absorb(err) {
		return s.renderMaintenanceStep(c, http.StatusBadRequest, f, v, in.Status)
	}
	if err != nil {
		return err
	}
	return s.published(c, in.Notice, "flash.update_posted", "/admin/maintenance/"+strconv.FormatInt(v.Maintenance.ID, 10), 0, v.Maintenance.ID, since)
}

func (s *Server) editMaintenance(c echo.Context) error {
	v, err := s.loadMaintenanceForm(c)
	if err != nil {
		return err
	}
	m := v.Maintenance
	f := &form{Values: map[string][]string{"title_ja": {m.TitleJA}, "title_en": {m.TitleEN},
		"starts_at": {localInput(m.StartsAt, s.opts.Location)}, "ends_at": {localInput(m.EndsAt, s.opts.Location)}}}
	for _, id := range m.ComponentIDs() {
		f.Values.Add("components", strconv.FormatInt(id, 10))
	}
	f.Values.Set("reminder", "none")
	if m.ReminderLeadSeconds > 0 {
		f.Values.Set("reminder", data.FormatLeads([]time.Duration{time.Duration(m.ReminderLeadSeconds) * time.Second}))
	}
	return s.renderMaintenanceForm(c, http.StatusOK, "maintenance_form", s.t(c, "maintenance.edit"), f, v, nil)
}

func (s *Server) updateMaintenance(c echo.Context) error {
	v, err := s.loadMaintenanceForm(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := data.MaintenanceEdit{TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"),
		StartsAt: f.timeField("starts_at", s.opts.Location, true), EndsAt: f.timeField("ends_at", s.opts.Location, true),
		ComponentIDs: f.idsField("components"), ReminderLead: f.reminderLead()}
	if !f.Invalid() {
		err = s.store.UpdateMaintenance(c.Request().Context(), v.Maintenance.ID, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderMaintenanceForm(c, http.StatusBadRequest, "maintenance_form", s.t(c, "maintenance.edit"), f, v, in.ComponentIDs)
	}
	if err != nil {
		return err
	}
	return s.done(c, "flash.saved", "/admin/maintenance/"+strconv.FormatInt(v.Maintenance.ID, 10))
}

func findMaintenanceUpdate(c echo.Context, m *data.Maintenance) (*data.MaintenanceUpdate, error) {
	uid, err := idParam(c, "uid")
	if err != nil {
		return nil, err
	}
	for i := range m.Updates {
		if m.Updates[i].ID == uid {
			return &m.Updates[i], nil
		}
	}
	return nil, echo.ErrNotFound
}

func maintenanceUpdatePage(m *data.Maintenance, u *data.MaintenanceUpdate) *updateEditPage {
	base := "/admin/maintenance/" + strconv.FormatInt(m.ID, 10)
	return &updateEditPage{Back: base, Action: base + "/updates/" + strconv.FormatInt(u.ID, 10)}
}

func (s *Server) editMaintenanceUpdate(c echo.Context) error {
	v, err := s.loadMaintenanceForm(c)
	if err != nil {
		return err
	}
	u, err := findMaintenanceUpdate(c, v.Maintenance)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"body_ja": {u.BodyJA}, "body_en": {u.BodyEN}}}
	return s.render(c, http.StatusOK, "update_edit", &view{Title: s.t(c, "updates.edit"), Form: f, Data: maintenanceUpdatePage(v.Maintenance, u)})
}

func (s *Server) saveMaintenanceUpdate(c echo.Context) error {
	v, err := s.loadMaintenanceForm(c)
	if err != nil {
		return err
	}
	u, err := findMaintenanceUpdate(c, v.Maintenance)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	err = s.store.EditMaintenanceUpdate(c.Request().Context(), v.Maintenance.ID, u.ID, f.Get("body_ja"), f.Get("body_en"))
	if f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "update_edit", &view{Title: s.t(c, "updates.edit"), Form: f, Data: maintenanceUpdatePage(v.Maintenance, u)})
	}
	if err != nil {
		return err
	}
	return s.done(c, "flash.saved", "/admin/maintenance/"+strconv.FormatInt(v.Maintenance.ID, 10))
}

// reminderChoices are the reminder times the maintenance form offers.
var reminderChoices = []string{"none", "1h", "3h", "12h", "1d", "2d", "3d", "7d"}

// reminderLead reads the reminder choice; "none" turns the reminder off.
func (f *form) reminderLead() time.Duration {
	v := f.Get("reminder")
	switch v {
	case "":
		return 0 // the default
	case "none":
		return -1
	}
	for _, c := range reminderChoices {
		if c == v {
			leads, _ := data.ParseLeads(v)
			return leads[0]
		}
	}
	f.fail("reminder", "invalid_choice")
	return 0
}
