package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// apiCallKey is apiCall with an Idempotency-Key.
func (a *testApp) apiCallKey(token, method, path, key, body string) response {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	return a.client().do(req)
}

// TestIdempotentAPI: a client that retries a creating call after losing
// the answer gets the first result and causes no second incident, update
// or fanout; the same key with another body is refused.
func TestIdempotentAPI(t *testing.T) {
	a := newTestServer(t)
	a.withMail(true)
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"p@example.com": "primary/ja"})
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "監視", "write")
	other := a.newToken(adm, "別の監視", "write")
	ctx := context.Background()
	body := `{"title_ja":"CDNの障害","impact":"major","status":"investigating","body_ja":"調査中です。","components":{"c` +
		strconv.FormatInt(cdn, 10) + `":"major_outage"},"notify":true}`

	first := a.apiCallKey(tok, "POST", "/api/admin/incidents", "declare-7f3a", body)
	expect(t, first, http.StatusCreated)
	a.clock.Advance(23 * time.Hour)
	again := a.apiCallKey(tok, "POST", "/api/admin/incidents", "declare-7f3a", body)
	expect(t, again, http.StatusCreated)
	if again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retry did not get the first answer:\n%s\n%s", first.body, again.body)
	}
	incs, total, _ := a.store.RecentIncidents(ctx, 10, 0)
	if total != 1 || a.notificationCount() != 1 {
		t.Fatalf("%d incidents, %d notifications after a retried declaration", total, a.notificationCount())
	}
	// Same key, another body: refused, nothing done.
	expect(t, a.apiCallKey(tok, "POST", "/api/admin/incidents", "declare-7f3a", strings.Replace(body, "major", "minor", 1)),
		http.StatusUnprocessableEntity, `"code":"idempotency_key_reused"`)
	// Keys belong to a token: another client may use the same one.
	expect(t, a.apiCallKey(other, "POST", "/api/admin/incidents", "declare-7f3a", body), http.StatusCreated)
	// Updates and maintenance too.
	path := "/api/admin/incidents/" + apiRef("i", incs[0].ID) + "/updates"
	up := `{"status":"identified","body_ja":"特定しました。","notify":true}`
	expect(t, a.apiCallKey(tok, "POST", path, "update-1", up), http.StatusCreated)
	expect(t, a.apiCallKey(tok, "POST", path, "update-1", up), http.StatusCreated)
	inc, _ := a.store.Incident(ctx, incs[0].ID)
	if len(inc.Updates) != 2 {
		t.Fatalf("%d updates after a retried update", len(inc.Updates))
	}
	// A bad key is a clear 400.
	expect(t, a.apiCallKey(tok, "POST", path, strings.Repeat("k", 300), up), http.StatusBadRequest, `"code":"bad_idempotency_key"`)
	// Kept at least 24 hours; the retention job forgets them after 48.
	if n, err := a.store.PruneIdempotencyKeys(ctx, a.clock.Now().Add(-48*time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruned %d fresh keys (%v)", n, err)
	}
	a.clock.Advance(49 * time.Hour)
	if n, _ := a.store.PruneIdempotencyKeys(ctx, a.clock.Now().Add(-48*time.Hour)); n == 0 {
		t.Fatal("old keys were not pruned")
	}
	expect(t, a.client().get("/api/admin/openapi.json"), http.StatusOK, "Idempotency-Key")
	_ = data.ScopeWrite
}
