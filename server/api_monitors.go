package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// apiMonitorIn is a check as the operator API takes it; omitted fields
// take the console's defaults.
type apiMonitorIn struct {
	ComponentID     int64   `json:"component_id"`
	Name            string  `json:"name"`
	Kind            string  `json:"kind"`
	Target          string  `json:"target"`
	Method          *string `json:"method"`
	ExpectCodes     *string `json:"expect_codes"`
	Keyword         *string `json:"keyword"`
	Headers         *string `json:"headers"`
	FollowRedirects *bool   `json:"follow_redirects"`
	WarnDays        *int    `json:"warn_days"`
	DNSType         *string `json:"dns_type"`
	DNSExpect       *string `json:"dns_expect"`
	DNSServer       *string `json:"dns_server"`
	IntervalS       *int    `json:"interval_s"`
	TimeoutS        *int    `json:"timeout_s"`
	FailThreshold   *int    `json:"fail_threshold"`
	OKThreshold     *int    `json:"ok_threshold"`
	FailureStatus   *string `json:"failure_status"`
	Enabled         *bool   `json:"enabled"`
}

func (in apiMonitorIn) input() data.MonitorInput {
	m := data.DefaultMonitor
	m.ComponentID, m.Name, m.Kind, m.Target = in.ComponentID, in.Name, in.Kind, in.Target
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
	ID              int64      `json:"id"`
	ComponentID     int64      `json:"component_id"`
	Name            string     `json:"name"`
	Kind            string     `json:"kind"`
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
	FailureStatus   string     `json:"failure_status"`
	Enabled         bool       `json:"enabled"`
	State           string     `json:"state"`
	LastCheckedAt   *time.Time `json:"last_checked_at"`
	LastLatencyMS   int        `json:"last_latency_ms"`
	LastError       string     `json:"last_error"`
}

func toAPIMonitor(m *data.Monitor) apiMonitor {
	return apiMonitor{ID: m.ID, ComponentID: m.ComponentID, Name: m.Name, Kind: m.Kind, Target: m.Target, Method: m.Method,
		ExpectCodes: m.ExpectCodes, Keyword: m.Keyword, Headers: m.Headers, FollowRedirects: m.FollowRedirects, WarnDays: m.WarnDays,
		DNSType: m.DNSType, DNSExpect: m.DNSExpect, DNSServer: m.DNSServer, IntervalS: m.IntervalS, TimeoutS: m.TimeoutS,
		FailThreshold: m.FailThreshold, OKThreshold: m.OKThreshold, FailureStatus: m.FailureStatus, Enabled: m.Enabled,
		State: m.State, LastCheckedAt: m.LastCheckedAt, LastLatencyMS: m.LastLatencyMS, LastError: m.LastError}
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
	return c.JSON(http.StatusOK, map[string]any{"monitors": out})
}

func (s *Server) apiCreateMonitor(c echo.Context) error {
	var in apiMonitorIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.monitorReach(in.input()); err != nil {
		return s.apiInvalid(err)
	}
	m, err := s.store.CreateMonitor(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	return c.JSON(http.StatusCreated, map[string]any{"monitor": toAPIMonitor(m)})
}

func (s *Server) apiUpdateMonitor(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in apiMonitorIn
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
	if in.ComponentID == 0 {
		in.ComponentID = old.ComponentID
	}
	if err := s.monitorReach(in.input()); err != nil {
		return s.apiInvalid(err)
	}
	out, err := s.store.UpdateMonitor(ctx, id, in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	s.afterSignal(out)
	m, err := s.store.Monitor(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"monitor": toAPIMonitor(m)})
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
	return c.NoContent(http.StatusNoContent)
}
