package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// freeze makes the store's statements block until their context ends, as
// a database that takes connections but never answers: only a deadline
// ends them. The first pass statements made for HTTP requests go through
// (background renders are neither counted nor frozen).
func (a *testApp) freeze(pass int64) {
	var n atomic.Int64
	a.store.SetFault(func(ctx context.Context, _ bool) error {
		if ctx.Value(http.ServerContextKey) == nil || n.Add(1) <= pass {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	})
	a.t.Cleanup(func() { a.store.SetFault(nil) })
}

// within fails the test when f has not returned by the test's own
// generous deadline: a request that hangs, not a slow one.
func within(t *testing.T, what string, f func() response) response {
	t.Helper()
	done := make(chan response, 1)
	go func() { done <- f() }()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still waiting for the frozen database", what)
		return response{}
	}
}

// TestFrozenDatabaseAnswers503: with the database frozen, console and API
// requests get the "database unavailable" answer, in the visitor's
// language, once the request deadline passes; the public pages still come
// from the cache; a write cut off mid-transaction leaves nothing behind.
func TestFrozenDatabaseAnswers503(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "監視", "write")
	op := a.client()
	op.login("editor@example.com")
	op.get("/admin/incidents/new")
	en := a.client()
	en.lang = "en"
	en.login("editor@example.com")
	pub := a.client()
	expect(t, pub.get("/"), http.StatusOK, "すべてのサービスは正常に稼働しています")
	incidents := func() int {
		list, err := a.store.OpenIncidents(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	// Set after the sign-ins, whose password hashing takes its time.
	a.app.opts.DBRequestTimeout = 300 * time.Millisecond
	a.freeze(0)
	op.allow5xx, en.allow5xx = true, true
	expect(t, within(t, "the console", func() response { return op.get("/admin") }), http.StatusServiceUnavailable, "データベースに接続できません")
	expect(t, within(t, "the console in English", func() response { return en.get("/admin") }), http.StatusServiceUnavailable, "The database is not available")
	expect(t, within(t, "a console form", func() response {
		return op.post("/admin/incidents", url.Values{"title_ja": {"障害"}, "impact": {"minor"}, "status": {"investigating"},
			"body_ja": {"x"}, componentField(cdn): {data.PartialOutage}})
	}), http.StatusServiceUnavailable, "データベースに接続できません")
	api := within(t, "the API", func() response {
		req, _ := http.NewRequest("GET", a.srv.URL+"/api/admin/components", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		c := a.client()
		c.allow5xx = true
		return c.do(req)
	})
	expect(t, api, http.StatusServiceUnavailable, `"code":"database_unavailable"`)
	// Public pages are the cache's, not under the deadline.
	for _, path := range []string{"/", "/api/v2/status.json"} {
		expect(t, within(t, path, func() response { return pub.get(path) }), http.StatusOK)
	}

	// A write frozen after each of its statements in turn: the
	// transaction is rolled back, the API says so, nothing is left
	// half-saved.
	a.store.SetFault(nil)
	declare := func() response {
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/admin/incidents", strings.NewReader(
			`{"title_ja":"凍結","impact":"major","body_ja":"x","components":{"`+apiRef("c", cdn)+`":"major_outage"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		c := a.client()
		c.allow5xx = true
		return c.do(req)
	}
	// Freeze on each of the request's writes in turn (reads pass): inside
	// the transaction that is a 503 and no incident; on the audit after the
	// answer, a 201 and the incident saved whole.
	var writes atomic.Int64
	a.store.SetFault(func(ctx context.Context, write bool) error {
		if write && ctx.Value(http.ServerContextKey) != nil {
			writes.Add(1)
		}
		return nil
	})
	expect(t, declare(), http.StatusCreated)
	a.store.SetFault(nil)
	refused := 0
	for k := int64(1); k <= writes.Load(); k++ {
		before := incidents()
		var n atomic.Int64
		a.store.SetFault(func(ctx context.Context, write bool) error {
			if !write || ctx.Value(http.ServerContextKey) == nil || n.Add(1) != k {
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		})
		r := within(t, "an API write", declare)
		a.store.SetFault(nil)
		after := incidents()
		switch {
		case r.code == http.StatusServiceUnavailable && strings.Contains(r.body, `"code":"database_unavailable"`) && after == before:
			refused++
		case r.code == http.StatusCreated && after == before+1:
		default:
			t.Fatalf("write %d frozen: %d %s; %d open incidents, %d before", k, r.code, r.body, after, before)
		}
	}
	if refused == 0 {
		t.Fatal("no frozen write was refused")
	}

	// Back: the console works again.
	a.store.SetFault(nil)
	op.allow5xx = false
	expect(t, op.get("/admin"), http.StatusOK)
}
