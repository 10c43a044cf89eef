package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// apiMonitorInput is a check as the operator API takes it; omitted fields
// take the console's defaults.
type apiMonitorInput struct {
	ComponentID     string  `json:"component_id,omitempty" ref:"c" doc:"Required to create; omitted on a change: kept."`
	Name            string  `json:"name" maxlen:"100"`
	Kind            string  `json:"kind" enum:"http,tcp,tls,dns"`
	Target          string  `json:"target" doc:"A URL (http), host:port (tcp, tls) or a name (dns)."`
	Method          *string `json:"method,omitempty" enum:"GET,HEAD,POST,OPTIONS"`
	ExpectCodes     *string `json:"expect_codes,omitempty" doc:"Status codes that count as up, such as 200-299,301."`
	Keyword         *string `json:"keyword,omitempty"`
	Headers         *string `json:"headers,omitempty" doc:"Request headers, one Name: value per line."`
	FollowRedirects *bool   `json:"follow_redirects,omitempty"`
	WarnDays        *int    `json:"warn_days,omitempty" doc:"tls: days before the certificate expires to report degraded."`
	DNSType         *string `json:"dns_type,omitempty" enum:"A,AAAA,CNAME,MX,TXT"`
	DNSExpect       *string `json:"dns_expect,omitempty"`
	DNSServer       *string `json:"dns_server,omitempty"`
	IntervalS       *int    `json:"interval_s,omitempty" min:"30"`
	TimeoutS        *int    `json:"timeout_s,omitempty"`
	FailThreshold   *int    `json:"fail_threshold,omitempty"`
	OKThreshold     *int    `json:"ok_threshold,omitempty"`
	FailureStatus   *string `json:"failure_status,omitempty" enum:"degraded_performance,partial_outage,major_outage"`
	Enabled         *bool   `json:"enabled,omitempty"`
}

func (in apiMonitorInput) input(component int64) data.MonitorInput {
	m := data.DefaultMonitor
	m.ComponentID, m.Name, m.Kind, m.Target = component, in.Name, in.Kind, in.Target
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&m.Method, in.Method)
	set(&m.ExpectCodes, in.ExpectCodes)
	set(&m.Keyword, in.Keyword)
	set(&m.Headers, in.Headers)
	setB(&m.FollowRedirects, in.FollowRedirects)
	setI(&m.WarnDays, in.WarnDays)
	set(&m.DNSType, in.DNSType)
	set(&m.DNSExpect, in.DNSExpect)
	set(&m.DNSServer, in.DNSServer)
	setI(&m.IntervalS, in.IntervalS)
	setI(&m.TimeoutS, in.TimeoutS)
	setI(&m.FailThreshold, in.FailThreshold)
	setI(&m.OKThreshold, in.OKThreshold)
	set(&m.FailureStatus, in.FailureStatus)
	setB(&m.Enabled, in.Enabled)
	return m
}

// apiMonitor is a check as the operator API shows it.
type apiMonitor struct {
	ID              string     `json:"id" ref:"mon"`
	ComponentID     string     `json:"component_id" ref:"c"`
	Name            string     `json:"name"`
	Kind            string     `json:"kind" enum:"http,tcp,tls,dns"`
	Target          string     `json:"target"`
	Method          string     `json:"method"`
	ExpectCodes     string     `json:"expect_codes"`
	Keyword         string     `json:"keyword"`
	Headers         string     `json:"headers"`
	FollowRedirects bool       `json:"follow_redirects"`
	WarnDays        int        `json:"warn_days"`
	DNSType         string     `json:"dns_type"`
	DNSExpect       string     `json:"dns_expect"`
	DNSServer       string     `json:"dns_server"`
	IntervalS       int        `json:"interval_s"`
	TimeoutS        int        `json:"timeout_s"`
	FailThreshold   int        `json:"fail_threshold"`
	OKThreshold     int        `json:"ok_threshold"`
	FailureStatus   string     `json:"failure_status" enum:"degraded_performance,partial_outage,major_outage"`
	Enabled         bool       `json:"enabled"`
	State           string     `json:"state" doc:"What its checks say now (empty until the first check)."`
	LastCheckedAt   *time.Time `json:"last_checked_at"`
	LastLatencyMS   int        `json:"last_latency_ms"`
	LastError       string     `json:"last_error"`
}

func toAPIMonitor(m *data.Monitor) apiMonitor {
	return apiMonitor{ID: apiRef("mon", m.ID), ComponentID: apiRef("c", m.ComponentID), Name: m.Name, Kind: m.Kind, Target: m.Target, Method: m.Method,
		ExpectCodes: m.ExpectCodes, Keyword: m.Keyword, Headers: m.Headers, FollowRedirects: m.FollowRedirects, WarnDays: m.WarnDays,
		DNSType: m.DNSType, DNSExpect: m.DNSExpect, DNSServer: m.DNSServer, IntervalS: m.IntervalS, TimeoutS: m.TimeoutS,
		FailThreshold: m.FailThreshold, OKThreshold: m.OKThreshold, FailureStatus: m.FailureStatus, Enabled: m.Enabled,
		State: m.State, LastCheckedAt: utcp(m.LastCheckedAt), LastLatencyMS: m.LastLatencyMS, LastError: m.LastError}
}

func (s *Server) apiListMonitors(c echo.Context) error {
	ms, err := s.store.Monitors(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiMonitor, len(ms))
	for i := range ms {
		out[i] = toAPIMonitor(&ms[i])
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

func (s *Server) monitorOps() []apiOp {
	return []apiOp{
		{ID: "listMonitors", Method: http.MethodGet, Path: "/monitors", Tag: "monitors", Summary: "List monitors (checks) and their state",
			Out: apiList[apiMonitor]{}, Code: http.StatusOK, Handle: s.apiListMonitors},
		{ID: "createMonitor", Method: http.MethodPost, Path: "/monitors", Tag: "monitors", Summary: "Add a monitor to a component",
			Description: "Omitted optional fields take the console's defaults. The target must be reachable under the outbound policy.",
			In:          apiMonitorInput{}, Out: apiMonitor{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiCreateMonitor},
		{ID: "getMonitor", Method: http.MethodGet, Path: "/monitors/:id", IDs: []string{"mon"}, Tag: "monitors", Summary: "One monitor and its state",
			Out: apiMonitor{}, Code: http.StatusOK, Handle: s.apiGetMonitor},
		{ID: "updateMonitor", Method: http.MethodPut, Path: "/monitors/:id", IDs: []string{"mon"}, Tag: "monitors", Summary: "Change a monitor (it starts afresh)",
			In: apiMonitorInput{}, Out: apiMonitor{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiUpdateMonitor},
		{ID: "deleteMonitor", Method: http.MethodDelete, Path: "/monitors/:id", IDs: []string{"mon"}, Tag: "monitors", Summary: "Delete a monitor, its results and its report",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteMonitor, s.apiDeleteMonitor)},
		{ID: "listDrafts", Method: http.MethodGet, Path: "/drafts", Tag: "monitors", Summary: "Incidents monitors and alert hooks prepared for an operator to confirm",
			Description: "A component without automatic publishing gets a draft when its signals say it went down or came back. Declare it with createIncident (or postIncidentUpdate) and dismiss it, or dismiss it.",
			Query:       []apiParam{{Name: "state", Doc: "waiting (the default), or all.", Schema: openapi3.NewStringSchema().WithEnum("waiting", "all")}},
			Out:         apiList[apiDraft]{}, Code: http.StatusOK, Handle: s.apiListDrafts},
		{ID: "dismissDraft", Method: http.MethodPost, Path: "/drafts/:id/dismiss", IDs: []string{"dr"}, Tag: "monitors", Summary: "Dismiss a waiting draft",
			Out: apiDraft{}, Code: http.StatusOK, Handle: s.apiDismissDraft},
	}
}

func (s *Server) apiGetMonitor(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	m, err := s.store.Monitor(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "monitor")
	}
	return c.JSON(http.StatusOK, toAPIMonitor(m))
}

// apiDraft is an incident a signal prepared.
type apiDraft struct {
	ID          string    `json:"id" ref:"dr"`
	Kind        string    `json:"kind" enum:"open,resolve" doc:"open: declare an incident; resolve: resolve the one named."`
	State       string    `json:"state" enum:"waiting,published,dismissed,superseded"`
	ComponentID string    `json:"component_id" ref:"c"`
	IncidentID  *string   `json:"incident_id" doc:"The incident a resolve draft would resolve."`
	Status      string    `json:"status"`
	Impact      string    `json:"impact"`
	TitleJA     string    `json:"title_ja"`
	TitleEN     string    `json:"title_en"`
	BodyJA      string    `json:"body_ja"`
	BodyEN      string    `json:"body_en"`
	Detail      string    `json:"detail" doc:"What the checks saw."`
	PublishedID *string   `json:"published_incident_id"`
	CreatedAt   time.Time `json:"created_at"`
}

func toAPIDraft(d *data.IncidentDraft) apiDraft {
	return apiDraft{ID: apiRef("dr", d.ID), Kind: d.Kind, State: d.State, ComponentID: apiRef("c", d.ComponentID), IncidentID: optRef("i", d.IncidentID),
		Status: d.Status, Impact: d.Impact, TitleJA: d.TitleJA, TitleEN: d.TitleEN, BodyJA: d.BodyJA, BodyEN: d.BodyEN, Detail: d.Detail,
		PublishedID: optRef("i", d.PublishedIncidentID), CreatedAt: d.CreatedAt.UTC()}
}

func (s *Server) apiListDrafts(c echo.Context) error {
	state := data.DraftWaiting
	switch c.QueryParam("state") {
	case "", "waiting":
	case "all":
		state = ""
	default:
		return apiFail(http.StatusBadRequest, "bad_request", `"state" must be waiting or all.`)
	}
	ds, err := s.store.IncidentDrafts(c.Request().Context(), state, 100)
	if err != nil {
		return err
	}
	out := make([]apiDraft, len(ds))
	for i := range ds {
		out[i] = toAPIDraft(&ds[i])
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

func (s *Server) apiDismissDraft(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.store.CloseDraft(ctx, id, data.DraftDismissed, nil); err != nil {
		return s.apiInvalid(notFoundJSON(err, "draft"))
	}
	s.apiAudit(c, "draft.dismiss", "draft="+apiRef("dr", id), nil)
	d, err := s.store.IncidentDraft(ctx, id)
	if err != nil {
		return notFoundJSON(err, "draft")
	}
	return c.JSON(http.StatusOK, toAPIDraft(d))
}

func (s *Server) describeDeleteMonitor(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	m, err := s.store.Monitor(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_monitor", "Name", m.Name), Lines: []string{s.t(c, "confirm.delete_monitor_effect")}}, nil
}

func (s *Server) apiCreateMonitor(c echo.Context) error {
	var in apiMonitorInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.ComponentID == "" {
		return apiFields(map[string]string{"component_id": "A monitor belongs to a component: give its id."})
	}
	component, err := bodyRef("c", "component_id", in.ComponentID)
	if err != nil {
		return err
	}
	if err := s.monitorReach(in.input(component)); err != nil {
		return s.apiInvalid(err)
	}
	m, err := s.store.CreateMonitor(c.Request().Context(), in.input(component))
	if err != nil {
		return s.apiInvalid(err)
	}
	return c.JSON(http.StatusCreated, toAPIMonitor(m))
}

func (s *Server) apiUpdateMonitor(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in apiMonitorInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	old, err := s.store.Monitor(ctx, id)
	if errors.Is(err, data.ErrNotFound) {
		return apiFail(http.StatusNotFound, "not_found", "No such monitor.")
	}
	if err != nil {
		return err
	}
	component := old.ComponentID
	if in.ComponentID != "" {
		if component, err = bodyRef("c", "component_id", in.ComponentID); err != nil {
			return err
		}
	}
	if err := s.monitorReach(in.input(component)); err != nil {
		return s.apiInvalid(err)
	}
	out, err := s.store.UpdateMonitor(ctx, id, in.input(component))
	if err != nil {
		return s.apiInvalid(err)
	}
	s.afterSignal(out)
	m, err := s.store.Monitor(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIMonitor(m))
}

func (s *Server) apiDeleteMonitor(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	out, err := s.store.DeleteMonitor(c.Request().Context(), id)
	if errors.Is(err, data.ErrNotFound) {
		return apiFail(http.StatusNotFound, "not_found", "No such monitor.")
	}
	if err != nil {
		return err
	}
	s.afterSignal(out)
	return nil
}
