package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// idempotencyRequest is what the middleware stores for a declaration: the
// token's scope and the request's hash.
func (a *testApp) idempotencyRequest(name, path, body string) (scope, hash string) {
	a.t.Helper()
	toks, err := a.store.APITokens(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Name == name {
			sum := sha256.Sum256([]byte("POST " + path + "\n" + body))
			return "token:" + strconv.FormatInt(tok.ID, 10), hex.EncodeToString(sum[:])
		}
	}
	a.t.Fatalf("no token %q", name)
	return "", ""
}

// TestIdempotencyKeyAfterCrash: a declaration whose instance died (kill -9)
// after storing its key "in progress" leaves the key to a retry once the
// dead holder's lease lapses: the retry declares the incident once, a
// second retry replays that answer, and the dead holder's late answer (had
// it only stalled) does not overwrite it.
func TestIdempotencyKeyAfterCrash(t *testing.T) {
	a := newTestServer(t)
	a.withMail(true)
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"p@example.com": "primary/ja"})
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "監視", "write")
	ctx := context.Background()
	const path = "/api/admin/incidents"
	body := `{"title_ja":"CDNの障害","impact":"major","status":"investigating","body_ja":"調査中です。","components":{"c` +
		strconv.FormatInt(cdn, 10) + `":"major_outage"},"notify":true}`
	scope, hash := a.idempotencyRequest("監視", path, body)

	// The dead instance claimed the key, then died before doing the work.
	if old, err := a.store.BeginIdempotent(ctx, scope, "declare-9c1e", hash, "dead-host/4242/0", idempotencyLease); err != nil || old != nil {
		t.Fatalf("claim: %v %v", old, err)
	}
	// While its lease runs, a retry is told to wait.
	expect(t, a.apiCallKey(tok, "POST", path, "declare-9c1e", body), http.StatusConflict, `"code":"request_in_progress"`)
	a.clock.Advance(idempotencyLease + time.Second)

	first := a.apiCallKey(tok, "POST", path, "declare-9c1e", body)
	expect(t, first, http.StatusCreated)
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the retry that did the work says it replayed")
	}
	again := a.apiCallKey(tok, "POST", path, "declare-9c1e", body)
	expect(t, again, http.StatusCreated)
	if again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the second retry did not get the first answer:\n%s\n%s", first.body, again.body)
	}
	if _, total, _ := a.store.RecentIncidents(ctx, 10, 0); total != 1 || a.notificationCount() != 1 {
		t.Fatalf("%d incidents, %d notifications after a crash and two retries", total, a.notificationCount())
	}
	// A holder that only stalled cannot renew, store or forget the key now.
	if err := a.store.RenewIdempotent(ctx, scope, "declare-9c1e", "dead-host/4242/0", idempotencyLease); !errors.Is(err, data.ErrKeyLost) {
		t.Fatalf("a lapsed holder renewed: %v", err)
	}
	if err := a.store.FinishIdempotent(ctx, scope, "declare-9c1e", "dead-host/4242/0", 500, "text/plain", "late"); !errors.Is(err, data.ErrKeyLost) {
		t.Fatalf("a lapsed holder stored its answer: %v", err)
	}
	_ = a.store.ForgetIdempotent(ctx, scope, "declare-9c1e", "dead-host/4242/0")
	if r := a.apiCallKey(tok, "POST", path, "declare-9c1e", body); r.body != first.body {
		t.Fatalf("a lapsed holder changed the stored answer:\n%s", r.body)
	}
}

// TestIdempotencyKeyLiveHolder: a holder that renews its lease keeps its
// key however long the request runs; a concurrent retry answers 409 and
// does nothing; once the holder answers, the retry replays that answer.
func TestIdempotencyKeyLiveHolder(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "監視", "write")
	ctx := context.Background()
	const path = "/api/admin/incidents"
	body := `{"title_ja":"CDNの障害","impact":"major","status":"investigating","body_ja":"調査中です。","components":{"` +
		apiRef("c", cdn) + `":"major_outage"}}`
	scope, hash := a.idempotencyRequest("監視", path, body)
	const live = "live-host/7/0"
	if old, err := a.store.BeginIdempotent(ctx, scope, "declare-live", hash, live, idempotencyLease); err != nil || old != nil {
		t.Fatalf("claim: %v %v", old, err)
	}
	for i := 0; i < 5; i++ { // 5 renewals: well past one lease
		a.clock.Advance(idempotencyRenew)
		if err := a.store.RenewIdempotent(ctx, scope, "declare-live", live, idempotencyLease); err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		expect(t, a.apiCallKey(tok, "POST", path, "declare-live", body), http.StatusConflict, `"code":"request_in_progress"`)
	}
	if _, total, _ := a.store.RecentIncidents(ctx, 10, 0); total != 0 {
		t.Fatalf("%d incidents declared beside a live holder", total)
	}
	// Two retries racing for a lapsed key: one takes it, the other waits.
	a.clock.Advance(idempotencyLease + time.Second)
	one, err1 := a.store.BeginIdempotent(ctx, scope, "declare-live", hash, "retry-1", idempotencyLease)
	two, err2 := a.store.BeginIdempotent(ctx, scope, "declare-live", hash, "retry-2", idempotencyLease)
	if err1 != nil || err2 != nil || one != nil || two == nil || two.Status != 0 {
		t.Fatalf("racing retries: %v %v / %v %v", one, err1, two, err2)
	}
	// The answer the winner stored (an incident as the API shows one).
	stored, _ := json.Marshal(apiIncident{ID: "i1", TitleJA: "CDNの障害", Impact: "major", Status: "investigating", Components: []apiAffected{}, Updates: []apiIncidentUpdate{}})
	if err := a.store.FinishIdempotent(ctx, scope, "declare-live", "retry-1", http.StatusCreated, "application/json", string(stored)); err != nil {
		t.Fatal(err)
	}
	r := a.apiCallKey(tok, "POST", path, "declare-live", body)
	expect(t, r, http.StatusCreated)
	if r.body != string(stored) || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("not replayed: %s", r.body)
	}
}
