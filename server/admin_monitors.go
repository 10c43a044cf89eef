package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// monitorsPage is a component's monitoring: its automation, what its
// monitors and webhooks report now, and its monitors.
type monitorsPage struct {
	Component *data.Component
	Product   *data.Product
	Monitors  []data.Monitor
	Signals   []data.Signal
	Impacts   []string
	// Shown is the status the page shows now, for the precedence note.
	Shown string
}

// loadComponent reads the component of the request's :id and its product.
func (s *Server) loadComponent(c echo.Context) (*data.Component, *data.Product, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, nil, err
	}
	comp, err := s.store.Component(c.Request().Context(), id)
	if err != nil {
		return nil, nil, err
	}
	prod, err := s.store.Product(c.Request().Context(), comp.ProductID)
	if err != nil {
		return nil, nil, err
	}
	return comp, prod, nil
}

func (s *Server) showMonitors(c echo.Context) error {
	comp, prod, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"auto_impact": {comp.AutoImpact}, "hook_key": {comp.HookKey},
		"auto_publish": {boolValue(comp.AutoPublish)}, "auto_notify": {boolValue(comp.AutoNotify)},
		"show_uptime": {boolValue(comp.ShowUptime)}, "show_latency": {boolValue(comp.ShowLatency)}}}
	return s.renderMonitors(c, http.StatusOK, f, comp, prod)
}

func (s *Server) renderMonitors(c echo.Context, code int, f *form, comp *data.Component, prod *data.Product) error {
	ctx := c.Request().Context()
	all, err := s.store.Monitors(ctx)
	if err != nil {
		return err
	}
	v := &monitorsPage{Component: comp, Product: prod, Impacts: data.Impacts}
	for _, m := range all {
		if m.ComponentID == comp.ID {
			v.Monitors = append(v.Monitors, m)
		}
	}
	if v.Signals, err = s.store.Signals(ctx, comp.ID); err != nil {
		return err
	}
	cv, _, _, err := s.liveCatalog(ctx)
	if err != nil {
		return err
	}
	v.Shown = cv.Status[comp.ID]
	title := s.t(c, "monitors.title") + ": " + comp.NameJA
	return s.render(c, code, "monitors", &view{Title: title, Form: f, Data: v})
}

func (s *Server) saveAutomation(c echo.Context) error {
	comp, prod, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	ctx, id := c.Request().Context(), comp.ID
	a := data.Automation{AutoPublish: f.Is("auto_publish", "1"), AutoImpact: f.Get("auto_impact"), AutoNotify: f.Is("auto_notify", "1"),
		ShowUptime: f.Is("show_uptime", "1"), ShowLatency: f.Is("show_latency", "1"), HookKey: f.Get("hook_key")}
	if err := s.store.SetAutomation(ctx, id, a); err != nil {
		if f.absorb(err) {
			return s.renderMonitors(c, http.StatusBadRequest, f, comp, prod)
		}
		return err
	}
	s.audit(c, "component.automation", "component="+strconv.FormatInt(id, 10), a)
	s.changed()
	return s.done(c, "flash.saved", "/admin/components/"+strconv.FormatInt(id, 10)+"/monitors")
}

// monitorFormPage is the form of one monitor.
type monitorFormPage struct {
	Component *data.Component
	Monitor   *data.Monitor
	Kinds     []string
	DNSTypes  []string
	Statuses  []string
	Methods   []string
}

func monitorForm(in data.MonitorInput) *form {
	itoa := strconv.Itoa
	return &form{Values: map[string][]string{"name": {in.Name}, "kind": {in.Kind}, "target": {in.Target}, "method": {in.Method},
		"expect_codes": {in.ExpectCodes}, "keyword": {in.Keyword}, "headers": {in.Headers}, "follow_redirects": {boolValue(in.FollowRedirects)},
		"warn_days": {itoa(in.WarnDays)}, "dns_type": {in.DNSType}, "dns_expect": {in.DNSExpect}, "dns_server": {in.DNSServer},
		"interval_s": {itoa(in.IntervalS)}, "timeout_s": {itoa(in.TimeoutS)}, "fail_threshold": {itoa(in.FailThreshold)},
		"ok_threshold": {itoa(in.OKThreshold)}, "failure_status": {in.FailureStatus}, "enabled": {boolValue(in.Enabled)}}}
}

func (f *form) intField(name string) int {
	n, err := strconv.Atoi(f.Get(name))
	if err != nil {
		f.fail(name, "not_a_number")
	}
	return n
}

func (f *form) monitorInput(componentID int64) data.MonitorInput {
	return data.MonitorInput{ComponentID: componentID, Name: f.Get("name"), Kind: f.Get("kind"), Target: f.Get("target"),
		Method: f.Get("method"), ExpectCodes: f.Get("expect_codes"), Keyword: f.Get("keyword"), Headers: f.Get("headers"),
		FollowRedirects: f.Is("follow_redirects", "1"), WarnDays: f.intField("warn_days"), DNSType: f.Get("dns_type"),
		DNSExpect: f.Get("dns_expect"), DNSServer: f.Get("dns_server"), IntervalS: f.intField("interval_s"),
		TimeoutS: f.intField("timeout_s"), FailThreshold: f.intField("fail_threshold"), OKThreshold: f.intField("ok_threshold"),
		FailureStatus: f.Get("failure_status"), Enabled: f.Is("enabled", "1")}
}

func (s *Server) renderMonitorForm(c echo.Context, code int, f *form, comp *data.Component, m *data.Monitor) error {
	v := &monitorFormPage{Component: comp, Monitor: m, Kinds: data.MonitorKinds, DNSTypes: data.DNSTypes,
		Statuses: []string{data.MajorOutage, data.PartialOutage, data.DegradedPerformance}, Methods: []string{"GET", "HEAD", "POST", "OPTIONS"}}
	title := s.t(c, "monitors.new")
	if m != nil {
		title = s.t(c, "monitors.edit")
	}
	return s.render(c, code, "monitor_form", &view{Title: title, Form: f, Data: v})
}

func (s *Server) newMonitor(c echo.Context) error {
	comp, _, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	return s.renderMonitorForm(c, http.StatusOK, monitorForm(data.DefaultMonitor), comp, nil)
}

func (s *Server) createMonitor(c echo.Context) error {
	comp, _, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	ctx, id := c.Request().Context(), comp.ID
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.monitorInput(id)
	var m *data.Monitor
	if err = s.monitorReach(in); err == nil && !f.Invalid() {
		m, err = s.store.CreateMonitor(ctx, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderMonitorForm(c, http.StatusBadRequest, f, comp, nil)
	}
	if err != nil {
		return err
	}
	s.audit(c, "monitor.create", "monitor="+strconv.FormatInt(m.ID, 10), in)
	return s.done(c, "flash.saved", "/admin/components/"+strconv.FormatInt(id, 10)+"/monitors")
}

// loadMonitor reads the monitor of the request's :id and its component.
func (s *Server) loadMonitor(c echo.Context) (*data.Monitor, *data.Component, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, nil, err
	}
	ctx := c.Request().Context()
	m, err := s.store.Monitor(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	comp, err := s.store.Component(ctx, m.ComponentID)
	if err != nil {
		return nil, nil, err
	}
	return m, comp, nil
}

func (s *Server) editMonitor(c echo.Context) error {
	m, comp, err := s.loadMonitor(c)
	if err != nil {
		return err
	}
	return s.renderMonitorForm(c, http.StatusOK, monitorForm(m.Input()), comp, m)
}

func (s *Server) updateMonitor(c echo.Context) error {
	m, comp, err := s.loadMonitor(c)
	if err != nil {
		return err
	}
	ctx, id := c.Request().Context(), m.ID
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.monitorInput(m.ComponentID)
	var out *data.SignalOutcome
	if err = s.monitorReach(in); err == nil && !f.Invalid() {
		out, err = s.store.UpdateMonitor(ctx, id, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderMonitorForm(c, http.StatusBadRequest, f, comp, m)
	}
	if err != nil {
		return err
	}
	s.audit(c, "monitor.update", "monitor="+strconv.FormatInt(id, 10), in)
	s.afterSignal(out)
	return s.done(c, "flash.saved", "/admin/components/"+strconv.FormatInt(m.ComponentID, 10)+"/monitors")
}

func (s *Server) deleteMonitor(c echo.Context) error {
	m, _, err := s.loadMonitor(c)
	if err != nil {
		return err
	}
	id := m.ID
	out, err := s.store.DeleteMonitor(c.Request().Context(), id)
	if err != nil {
		return err
	}
	s.audit(c, "monitor.delete", "monitor="+strconv.FormatInt(id, 10), map[string]any{"name": m.Name})
	s.afterSignal(out)
	return s.done(c, "flash.deleted", "/admin/components/"+strconv.FormatInt(m.ComponentID, 10)+"/monitors")
}

// afterSignal refreshes the pages and wakes the dispatcher when a signal
// changed something.
func (s *Server) afterSignal(out *data.SignalOutcome) {
	if out == nil {
		return
	}
	s.changed()
	s.afterNotice(data.Notice{Send: true, Hold: !s.opts.MailEnabled})
}

// draftsPage lists what monitors and webhooks prepared.
type draftsPage struct {
	Waiting, Recent []data.IncidentDraft
	names           map[int64]string
}

// ComponentName names a draft's component with its product.
func (v *draftsPage) ComponentName(id int64) string { return v.names[id] }

func (s *Server) listDrafts(c echo.Context) error {
	ctx := c.Request().Context()
	all, err := s.store.IncidentDrafts(ctx, "", 50)
	if err != nil {
		return err
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	cv := newCatalogView(products, nil, nil)
	v := &draftsPage{names: map[int64]string{}}
	for _, d := range all {
		v.names[d.ComponentID] = cv.qualifiedName(d.ComponentID, "ja", " / ")
		if d.State == data.DraftWaiting {
			v.Waiting = append(v.Waiting, d)
		} else {
			v.Recent = append(v.Recent, d)
		}
	}
	return s.render(c, http.StatusOK, "drafts", &view{Title: s.t(c, "drafts.title"), Data: v})
}

func (s *Server) dismissDraft(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.CloseDraft(c.Request().Context(), id, data.DraftDismissed, nil); err != nil {
		if f := (&form{}); f.absorb(err) {
			return s.done(c, "flash.draft_closed", "/admin/drafts")
		}
		return err
	}
	s.audit(c, "draft.dismiss", "draft="+strconv.FormatInt(id, 10), nil)
	return s.done(c, "flash.draft_dismissed", "/admin/drafts")
}

// draftInto fills an incident form from a waiting draft of kind.
func (s *Server) draftInto(c echo.Context, f *form, kind string) error {
	q := c.QueryParam("draft")
	if q == "" {
		return nil
	}
	id, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	d, err := s.store.IncidentDraft(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if d.Kind != kind || d.State != data.DraftWaiting {
		return echo.ErrNotFound
	}
	f.Values.Set("draft", q)
	f.Values.Set("body_ja", d.BodyJA)
	f.Values.Set("body_en", d.BodyEN)
	if kind == data.DraftOpen {
		f.Values.Set("title_ja", d.TitleJA)
		f.Values.Set("title_en", d.TitleEN)
		f.Values.Set("impact", d.Impact)
		f.Values.Set("status", data.Investigating)
		f.Values.Set(componentField(d.ComponentID), d.Status)
	} else {
		f.Values.Set("status", data.Resolved)
	}
	return nil
}

// closeDraftFrom marks the draft a published form came from.
func (s *Server) closeDraftFrom(ctx context.Context, f *form, incidentID int64) {
	id, err := strconv.ParseInt(f.Get("draft"), 10, 64)
	if err != nil {
		return
	}
	if err := s.store.CloseDraft(ctx, id, data.DraftPublished, &incidentID); err != nil {
		s.log.Info("a draft was published after it closed", "draft", id, "err", err)
	}
}
