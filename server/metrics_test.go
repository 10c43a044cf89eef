package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oshirase/oshirase/data"
)

// scrape reads /metrics as Prometheus does and parses it with its text
// parser.
func scrape(t *testing.T, a *testApp, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestMetrics: /metrics is not public: without a token configured it is a
// 404, with one it needs it. Scraped, it says what the documented metrics
// say: requests by route and status class (the cache's fast path
// included), page renders, deliveries by state, the queue, job runs,
// access-log drops, the database pool, monitors and drafts.
func TestMetrics(t *testing.T) {
	a := newTestServer(t)
	expect(t, a.client().get("/metrics"), http.StatusNotFound)
	a.app.opts.MetricsToken = "metrics-secret-0123456789"
	expect(t, a.client().get("/metrics"), http.StatusUnauthorized)
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	if res, _ := http.DefaultClient.Do(req); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d", res.StatusCode)
	}

	f := a.seedAll()
	_ = f
	c := a.client()
	for i := 0; i < 3; i++ {
		c.get("/")
	}
	c.get("/no-such-page")
	ctx := context.Background()
	a.store.FinishRun(ctx, mustRun(t, a, "retention"), data.RunFailed, "", "disk full")
	m := scrape(t, a, a.app.opts.MetricsToken)
	want := []string{
		`oshirase_http_requests_total{class=2xx,method=GET,route=/}`,
		`oshirase_http_requests_total{class=4xx,method=GET,route=unmatched}`,
		`oshirase_page_renders_total`,
		`oshirase_page_cache_age_seconds`,
		`oshirase_deliveries{channel=email,state=held}`,
		`oshirase_queue_pending`,
		`oshirase_queue_oldest_pending_seconds`,
		`oshirase_job_runs{job=retention,outcome=failed}`,
		`oshirase_access_log_dropped_total{cause=queue_full}`,
		`oshirase_access_log_dropped_total{cause=write_error}`,
		`oshirase_relay_refusing`,
		`oshirase_monitors{state=unknown}`,
		`oshirase_drafts_waiting`,
		`go_sql_open_connections{db_name=oshirase}`,
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			var have []string
			for h := range m {
				if strings.HasPrefix(h, "oshirase_") || strings.HasPrefix(h, "go_sql") {
					have = append(have, h)
				}
			}
			t.Fatalf("no %s in the scrape; it has %v", k, have)
		}
	}
	if m[`oshirase_http_requests_total{class=2xx,method=GET,route=/}`] < 3 {
		t.Errorf("requests of / counted %v", m[`oshirase_http_requests_total{class=2xx,method=GET,route=/}`])
	}
	// Held: the fixture's incident notice and its subscriber's confirmation.
	if m[`oshirase_job_runs{job=retention,outcome=failed}`] != 1 || m[`oshirase_deliveries{channel=email,state=held}`] != 2 {
		t.Errorf("job runs %v, held deliveries %v", m[`oshirase_job_runs{job=retention,outcome=failed}`], m[`oshirase_deliveries{channel=email,state=held}`])
	}
	if m[`oshirase_monitors{state=unknown}`] != 1 {
		t.Errorf("monitors %v", m[`oshirase_monitors{state=unknown}`])
	}
}

func mustRun(t *testing.T, a *testApp, job string) int64 {
	t.Helper()
	run, err := a.store.StartRun(context.Background(), job, "host-a/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return run.ID
}
