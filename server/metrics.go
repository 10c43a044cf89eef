package server

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
)

// serverMetrics are the Prometheus metrics of one instance (see README,
// "Metrics", for the list).
type serverMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	renders  prometheus.Counter
	// renderFailures counts failed renders by cause: database or render.
	renderFailures *prometheus.CounterVec
	handler        http.Handler
	// s is the server, for its router's routes (see knownRoute).
	s          *Server
	routesOnce sync.Once
	routes     map[string]bool
}

func newServerMetrics(s *Server) *serverMetrics {
	m := &serverMetrics{reg: prometheus.NewRegistry(), s: s}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oshirase_http_requests_total",
		Help: "HTTP requests answered, by route, method and status class."}, []string{"route", "method", "class"})
	m.renders = prometheus.NewCounter(prometheus.CounterOpts{Name: "oshirase_page_renders_total",
		Help: "Public pages rendered into the page cache."})
	m.renderFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oshirase_page_render_failures_total",
		Help: "Public page renders that failed, by cause: database (the last good copy is served) or render (a bug: readiness fails)."}, []string{"cause"})
	m.reg.MustRegister(m.requests, m.renders, m.renderFailures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "oshirase_page_render_failing",
			Help: "1 while some public page fails to render for a reason other than the database."}, func() float64 {
			if s.health.trouble() != nil {
				return 1
			}
			return 0
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "oshirase_page_cache_age_seconds",
			Help: "Age of the oldest page in the cache."}, func() float64 { return s.cache.oldestAge().Seconds() }),
		accessLogDropped(s, "queue_full", func(r *accesslog.Recorder) int64 { return r.Dropped() }),
		accessLogDropped(s, "write_error", func(r *accesslog.Recorder) int64 { return r.Failed() }),
		&gaugeCollector{s: s})
	if db, err := s.store.SQLDB(); err == nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, "oshirase"))
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// accessLogDropped counts access-log entries lost for one cause: a full
// queue (the writer falls behind) or a write error (a full disk); the
// usage page shows the same two numbers.
func accessLogDropped(s *Server, cause string, n func(*accesslog.Recorder) int64) prometheus.CounterFunc {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "oshirase_access_log_dropped_total",
		Help:        "Access-log entries lost, by cause: queue_full (the writer fell behind) or write_error (such as a full disk).",
		ConstLabels: prometheus.Labels{"cause": cause}}, func() float64 {
		if s.opts.AccessLog == nil {
			return 0
		}
		return float64(n(s.opts.AccessLog))
	})
}

// request counts an answered request. Every label is drawn from a fixed
// set, so that no client can grow the series without end (each series
// costs memory here and in Prometheus): a route is one of the router's
// patterns (never a raw path; anything else, such as a catch-all or a
// partial match of the router's tree, is "unmatched"), a method one of
// the standard ones (anything made up is "other").
func (m *serverMetrics) request(route, method string, status int) {
	if route == "" || strings.HasSuffix(route, "/*") && route != "/static/:version/*" || !m.knownRoute(route) {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, metricMethod(method), strconv.Itoa(status/100)+"xx").Inc()
}

// knownRoute reports whether route is a pattern the router was given.
// The set is read from the router once, at the first request (the router
// is built after the metrics).
func (m *serverMetrics) knownRoute(route string) bool {
	if m.s == nil || m.s.echo == nil {
		return true // no router yet: nothing was routed
	}
	m.routesOnce.Do(func() {
		m.routes = map[string]bool{}
		for _, r := range m.s.echo.Routes() {
			m.routes[r.Path] = true
		}
	})
	return m.routes[route]
}

// metricMethod is a request's method as a label: the standard methods as
// they are, anything else "other".
func metricMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// gaugeCollector reads the shared numbers from the database at each
// scrape.
type gaugeCollector struct{ s *Server }

var (
	descDeliveries = prometheus.NewDesc("oshirase_deliveries", "Deliveries by state and channel.", []string{"state", "channel"}, nil)
	descPending    = prometheus.NewDesc("oshirase_queue_pending", "Deliveries waiting to be sent.", nil, nil)
	descOldest     = prometheus.NewDesc("oshirase_queue_oldest_pending_seconds", "How long the oldest pending delivery has been due.", nil, nil)
	descJobRuns    = prometheus.NewDesc("oshirase_job_runs", "Recorded job runs by job and outcome.", []string{"job", "outcome"}, nil)
	descMonitors   = prometheus.NewDesc("oshirase_monitors", "Enabled monitors by state.", []string{"state"}, nil)
	descDrafts     = prometheus.NewDesc("oshirase_drafts_waiting", "Draft incidents waiting for an operator.", nil, nil)
	descRelay      = prometheus.NewDesc("oshirase_relay_refusing", "1 while the mail relay refuses mail.", nil, nil)
	descRefused    = prometheus.NewDesc("oshirase_channel_payloads_refused", "Channel deliveries Slack or Teams refused as malformed or too large (our bug), by channel.", []string{"channel"}, nil)
	descScrapeErr  = prometheus.NewDesc("oshirase_database_gauges_up", "1 when the database answered this scrape.", nil, nil)
)

func (g *gaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeliveries, descPending, descOldest, descJobRuns, descMonitors, descDrafts, descRelay, descRefused, descScrapeErr} {
		ch <- d
	}
}

func (g *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	if g.s.store == nil {
		ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 0)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	v, err := g.s.store.ReadGauges(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 1)
	pending := 0.0
	for _, channel := range append([]string{"email"}, data.ChannelKinds...) {
		for _, st := range data.DeliveryStates {
			n := float64(v.Deliveries[[2]string{st, channel}])
			ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.GaugeValue, n, st, channel)
			if st == data.DeliveryPending {
				pending += n
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, pending)
	oldest := 0.0
	if v.OldestPending != nil {
		oldest = max(0, g.s.opts.Now().Sub(*v.OldestPending).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, oldest)
	for k, n := range v.JobRuns {
		ch <- prometheus.MustNewConstMetric(descJobRuns, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for _, st := range []string{data.MonitorUnknown, data.MonitorUp, data.MonitorDown} {
		ch <- prometheus.MustNewConstMetric(descMonitors, prometheus.GaugeValue, float64(v.Monitors[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(descDrafts, prometheus.GaugeValue, float64(v.DraftsWaiting))
	relay := 0.0
	if v.RelayRefusing {
		relay = 1
	}
	ch <- prometheus.MustNewConstMetric(descRelay, prometheus.GaugeValue, relay)
	for _, kind := range []string{data.ChannelSlack, data.ChannelTeams} {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.GaugeValue, float64(v.PayloadsRefused[kind]), kind)
	}
}

// serveMetrics answers /metrics on the main listener: a 404 unless
// OSHIRASE_METRICS_TOKEN is set, then only with that bearer token.
func (s *Server) serveMetrics(c echo.Context) error {
	if s.opts.MetricsToken == "" {
		return echo.ErrNotFound
	}
	got := strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.MetricsToken)) != 1 {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		return c.String(http.StatusUnauthorized, "a bearer token is needed\n")
	}
	s.metrics.handler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// MetricsHandler serves the metrics without a token, for
// OSHIRASE_METRICS_ADDR (a listener of its own, not the public one).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }
