package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/demo"
)

// seedRealistic builds a page of the size a vendor would have: 3 products
// with 4 components each and 60 incidents spread over 90 days.
func seedRealistic(b testing.TB, a *testApp) {
	ctx := context.Background()
	var comps []int64
	for p := 0; p < 3; p++ {
		prod, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: fmt.Sprintf("製品%d", p)})
		for c := 0; c < 4; c++ {
			cp, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: prod.ID, NameJA: fmt.Sprintf("コンポーネント%d-%d", p, c)})
			comps = append(comps, cp.ID)
		}
	}
	start := a.clock.Now()
	for i := 0; i < 60; i++ {
		a.clock.Set(start.Add(-time.Duration(i) * 36 * time.Hour))
		inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: fmt.Sprintf("障害 %d", i), Impact: "major", Status: data.Investigating,
			BodyJA: "調査しています。**詳細**は追ってお知らせします。", Components: map[int64]string{comps[i%len(comps)]: data.PartialOutage}})
		if err != nil {
			b.Fatal(err)
		}
		if i > 0 {
			a.clock.Advance(90 * time.Minute)
			a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"})
		}
	}
	a.clock.Set(start)
	a.app.changed()
}

// BenchmarkStatusPageServed is what a visitor costs: the page comes from
// memory, gzipped.
func BenchmarkStatusPageServed(b *testing.B) {
	a := newTestServer(b)
	seedRealistic(b, a)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Encoding", "gzip, deflate, br")
			w := httptest.NewRecorder()
			a.app.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// BenchmarkStatusPageRendered is the baseline: what every visitor would
// cost without the page cache (queries, uptime bars, templates).
func BenchmarkStatusPageRendered(b *testing.B) {
	a := newTestServer(b)
	seedRealistic(b, a)
	benchRender(b, a)
}

// BenchmarkLoadMeasured reads a month of results of one check every 30 s
// (86,400 rows) into the page's uptime and three charts: the cost of one
// read, which the page makes at most once a minute (measuredFor).
func BenchmarkLoadMeasured(b *testing.B) {
	a := newTestServer(b)
	ctx := context.Background()
	_, cdn, _ := a.seedCatalog()
	a.store.SetAutomation(ctx, cdn, data.Automation{ShowUptime: true, ShowLatency: true})
	in := data.DefaultMonitor
	in.ComponentID, in.Name, in.Target = cdn, "x", "https://x.example.com/"
	m, _ := a.store.CreateMonitor(ctx, in)
	start := a.clock.Now().Add(-30 * 24 * time.Hour)
	for i := 0; i < 30*24*120; i++ { // every 30 s
		a.store.RecordCheck(ctx, m.ID, "x", data.CheckResult{At: start.Add(time.Duration(i) * 30 * time.Second), OK: true, Latency: 100 * time.Millisecond}, time.UTC)
	}
	ps, _ := a.store.Products(ctx)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.app.loadMeasured(ctx, ps, a.clock.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatusPageRenderedDemo renders the demo's whole product (every
// feature in use, monitors with history) without the page cache: against
// BenchmarkStatusPageRendered, what a full page costs.
func BenchmarkStatusPageRenderedDemo(b *testing.B) {
	a := newTestServer(b)
	if _, err := demo.Seed(context.Background(), a.store, t0, demo.Options{Password: "correct horse battery", SetClock: a.clock.Set,
		Location: a.app.opts.Location}); err != nil {
		b.Fatal(err)
	}
	a.app.changed()
	benchRender(b, a)
}

// benchRender renders the status page b.N times, as a refresh does.
func benchRender(b *testing.B, a *testApp) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := a.app.loadStatusPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.app.renderPublic("ja", "/", "status", &view{Title: "x", Data: v}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOperatorAPI is what an automation's calls cost: the fixed part
// of every call (the token's check and its audit entry, on /policy) is the
// baseline for a page of 50 incidents with their timelines and for the
// document itself.
func BenchmarkOperatorAPI(b *testing.B) {
	a := newTestServer(b)
	seedRealistic(b, a)
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "bench", data.ScopeRead)
	for _, bc := range []struct{ name, path string }{
		{"policy (baseline)", "/api/admin/policy"},
		{"incidents page of 50", "/api/admin/incidents?per_page=50"},
		{"open incidents", "/api/admin/incidents?status=open"},
		{"openapi.json", "/api/admin/openapi.json"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, bc.path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				a.app.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", bc.path, w.Code, w.Body)
				}
			}
		})
	}
}
