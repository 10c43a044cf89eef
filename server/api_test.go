package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
)

// apiCall makes one API request with a bearer token.
func (a *testApp) apiCall(token, method, path, body string) response {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(path, "/api/admin/contracts/import"):
		req.Header.Set("Content-Type", "text/csv")
	case body != "" && body[0] != '{' && body[0] != '[':
		req.Header.Set("Content-Type", http.DetectContentType([]byte(body))) // an image
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.client().do(req)
}

func (a *testApp) newToken(c *client, name, scope string) string {
	a.t.Helper()
	c.get("/admin/tokens")
	r := c.post("/admin/tokens", url.Values{"name": {name}, "scope": {scope}})
	m := regexp.MustCompile(`osh_[A-Za-z0-9_-]+`).FindString(r.body)
	if m == "" {
		a.t.Fatalf("no token shown\n%s", r.body)
	}
	return m
}

func TestOperatorAPI(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	reader := a.newToken(adm, "監視（読み取り）", "read")
	writer := a.newToken(adm, "監視（書き込み）", "write")
	toks, _ := a.store.APITokens(context.Background())
	for _, tk := range toks {
		if strings.Contains(tk.TokenHash, "osh_") || strings.Contains(tk.TokenHash, strings.TrimPrefix(writer, "osh_")) {
			t.Fatal("token not stored as a hash")
		}
	}

	expect(t, a.apiCall("", "GET", "/api/admin/components", ""), http.StatusUnauthorized, `"code":"unauthorized"`)
	expect(t, a.apiCall("osh_nope", "GET", "/api/admin/components", ""), http.StatusUnauthorized)
	expect(t, a.apiCall(reader, "GET", "/api/admin/components", ""), http.StatusOK, `"items"`, "License API")
	expect(t, a.apiCall(reader, "POST", "/api/admin/incidents", `{"title_ja":"x","impact":"minor","body_ja":"x"}`), http.StatusForbidden, `"code":"forbidden"`)

	// Declare, update, resolve.
	r := a.apiCall(writer, "POST", "/api/admin/incidents", `{"title_ja":"監視で検知した障害","title_en":"Detected by monitoring","impact":"major",
		"body_ja":"自動検知しました。","components":{"`+apiRef("c", f.cdn)+`":"major_outage"}}`)
	expect(t, r, http.StatusCreated, `"title_en":"Detected by monitoring"`, `"status":"investigating"`, `"component_id":"`+apiRef("c", f.cdn)+`","status":"major_outage"`)
	var created apiIncident
	json.Unmarshal([]byte(r.body), &created)
	id := created.ID
	if !strings.HasPrefix(id, "i") {
		t.Fatalf("incident id %q", id)
	}
	expect(t, a.client().get("/"), http.StatusOK, "監視で検知した障害", "サービスで大規模な障害が発生しています")
	// The id the API hands out is the one it takes; a bare number or
	// another kind's id is no incident.
	expect(t, a.apiCall(writer, "POST", "/api/admin/incidents/"+id+"/updates", `{"status":"identified","body_ja":"原因を特定しました。"}`), http.StatusCreated, `"status":"identified"`)
	expect(t, a.apiCall(writer, "POST", "/api/admin/incidents/"+strings.TrimPrefix(id, "i")+"/updates", `{"status":"identified","body_ja":"x"}`), http.StatusNotFound, "i7")
	expect(t, a.apiCall(writer, "POST", "/api/admin/incidents/m"+strings.TrimPrefix(id, "i")+"/updates", `{"status":"identified","body_ja":"x"}`), http.StatusNotFound)
	expect(t, a.apiCall(reader, "GET", "/api/admin/incidents?status=open", ""), http.StatusOK, id, `"next_page":null`)
	expect(t, a.apiCall(writer, "POST", "/api/admin/incidents/"+id+"/resolve", `{}`), http.StatusCreated, `"status":"resolved"`, "This incident has been resolved.")
	expect(t, a.apiCall(reader, "GET", "/api/admin/incidents/"+id, ""), http.StatusOK, `"status":"resolved"`, `"component_id":"`+apiRef("c", f.cdn)+`","status":"operational"`)
	if r := a.apiCall(reader, "GET", "/api/admin/incidents?status=open", ""); strings.Contains(r.body, `"id":"`+id+`"`) {
		t.Fatalf("a resolved incident listed as open: %s", r.body)
	}
	expect(t, a.apiCall(writer, "PUT", "/api/admin/components/"+apiRef("c", f.api)+"/status", `{"status":"degraded_performance"}`), http.StatusOK, `"shown_status":"degraded_performance"`)
	expect(t, a.apiCall(writer, "POST", "/api/admin/maintenance", `{"title_ja":"API経由のメンテ","starts_at":"2026-12-01T01:00:00Z","ends_at":"2026-12-01T03:00:00Z","body_ja":"x","components":["`+apiRef("c", f.cdn)+`"]}`),
		http.StatusCreated, `"starts_at":"2026-12-01T01:00:00Z"`, `"components":["`+apiRef("c", f.cdn)+`"]`)
	expect(t, a.apiCall(writer, "POST", "/api/admin/maintenance", `{"title_ja":"x","starts_at":"2026-12-01T01:00:00Z","ends_at":"2026-12-01T03:00:00Z","body_ja":"x","components":["12"]}`),
		http.StatusUnprocessableEntity, `"components"`)
	expect(t, a.apiCall(reader, "GET", "/api/admin/incidents?page=0", ""), http.StatusBadRequest, "page")
	expect(t, a.apiCall(reader, "GET", "/api/admin/incidents?product=12", ""), http.StatusBadRequest, "product")
	expect(t, a.apiCall(reader, "GET", "/api/admin/maintenance?since=yesterday", ""), http.StatusBadRequest, "since")

	// Hostile JSON: 4xx JSON, never a 500, nothing written.
	before := a.state()
	for _, bad := range []struct{ method, path, body string }{
		{"POST", "/api/admin/incidents", `not json`},
		{"POST", "/api/admin/incidents", `{"title_ja": 42}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"x","impact":"major","body_ja":"x","evil":true}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"` + strings.Repeat("あ", 300) + `","impact":"major","body_ja":"x"}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"x","impact":"apocalyptic","body_ja":"x"}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"x","impact":"minor","body_ja":"x","components":{"abc":"major_outage"}}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"x","impact":"minor","body_ja":"x","components":{"12":"major_outage"}}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"x","impact":"minor","body_ja":"x"} {"again":1}`},
		{"POST", "/api/admin/incidents", `{"title_ja":"x","impact":"minor","body_ja":"` + strings.Repeat("x", 300<<10) + `"}`},
		{"POST", "/api/admin/incidents/999999/updates", `{"status":"identified","body_ja":"x"}`},
		{"POST", "/api/admin/incidents/abc/updates", `{"status":"identified","body_ja":"x"}`},
		{"PUT", "/api/admin/components/" + apiRef("c", f.cdn) + "/status", `{"status":"on_fire"}`},
		{"PUT", "/api/admin/components/" + itoa(f.cdn) + "/status", `{"status":"major_outage"}`},
		{"POST", "/api/admin/maintenance", `{"title_ja":"x","starts_at":"yesterday"}`},
		{"DELETE", "/api/admin/incidents", ``},
		{"GET", "/api/admin/nothing", ``},
	} {
		r := a.apiCall(writer, bad.method, bad.path, bad.body)
		var e apiError
		if r.code < 400 || r.code >= 500 || json.Unmarshal([]byte(r.body), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s %s %.40q: %d %s", bad.method, bad.path, bad.body, r.code, r.body)
		}
	}
	if a.state() != before {
		t.Fatal("hostile JSON changed state")
	}

	// A revoked token is refused; every use is audited.
	ts, _ := a.store.APITokens(context.Background())
	adm.get("/admin/tokens")
	for _, tk := range ts {
		if tk.Scope == data.ScopeWrite {
			expect(t, adm.post("/admin/tokens/"+itoa(tk.ID)+"/revoke", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
		}
	}
	expect(t, a.apiCall(writer, "GET", "/api/admin/components", ""), http.StatusUnauthorized)
	es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: "api POST /api/admin/incidents"})
	if len(es) < 2 || !strings.HasPrefix(es[0].OperatorEmail, "token:") {
		t.Fatalf("API calls not audited: %+v", es)
	}
}

// TestOpenAPIListsEveryRoute.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	a := newTestServer(t)
	r := a.client().get("/api/admin/openapi.json")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("%v %s", err, r.body)
	}
	n := 0
	for _, rt := range a.app.Echo().Routes() {
		if !strings.HasPrefix(rt.Path, "/api/admin") || strings.HasSuffix(rt.Path, "*") || strings.HasPrefix(rt.Method, "echo_") {
			continue
		}
		n++
		p := regexp.MustCompile(`:(\w+)`).ReplaceAllString(rt.Path, "{$1}")
		ops, ok := doc.Paths[p]
		if !ok || ops[strings.ToLower(rt.Method)] == nil {
			t.Errorf("%s %s is not in the OpenAPI document", rt.Method, p)
		}
	}
	if n < 8 {
		t.Fatalf("only %d API routes found", n)
	}
}

// TestOperatorAPIDoesWhatItSays: what a customer's engineer tripped over
// when trying the API — a dry_run sent where there is none, a change that
// dropped what it left out, a key spent on a refused call, a second
// resolve — each does what the document says.
func TestOperatorAPIDoesWhatItSays(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "自動化", data.ScopeWrite)
	ctx := context.Background()
	inc := "/api/admin/incidents/" + apiRef("i", f.incident)

	// A query parameter the call does not take is refused, never ignored:
	// a dry run sent to a call without one changes nothing.
	before := a.state()
	for _, c := range []struct{ method, path, body string }{
		{"POST", inc + "/resolve?dry_run=true", `{}`},
		{"POST", "/api/admin/components/" + apiRef("c", f.cdn) + "/move?dry_run=true", `{"direction":"down"}`},
		{"POST", "/api/admin/notifications/" + apiRef("n", f.notification) + "/retry?dry_run=true", ``},
		{"GET", "/api/admin/incidents?foo=1", ``},
	} {
		expect(t, a.apiCall(tok, c.method, c.path, c.body), http.StatusBadRequest, "takes no query parameter")
	}
	if a.state() != before {
		t.Fatal("a refused query parameter changed something")
	}

	// A change keeps what it leaves out where the document says so: a
	// contract stays active with its products, a contact keeps its name.
	k := "/api/admin/contracts/" + apiRef("k", f.contract)
	expect(t, a.apiCall(tok, "PUT", k, `{"code": "K-1", "name": "改名した契約"}`), http.StatusOK, `"active":true`, `"product_ids":["`+apiRef("p", f.product)+`"]`)
	ct, _ := a.store.Contact(ctx, f.contact)
	expect(t, a.apiCall(tok, "PUT", "/api/admin/contacts/"+apiRef("ct", f.contact), `{"email": "`+ct.Email+`", "lang": "en", "role": "additional"}`),
		http.StatusOK, `"name":"`+ct.Name+`"`)
	expect(t, a.apiCall(tok, "POST", "/api/admin/contracts", `{"code": "K-X", "name": "x", "product_ids": ["p99999"]}`), http.StatusUnprocessableEntity, `"product_ids"`)

	// A refused call does not spend its Idempotency-Key: the corrected
	// payload with the same key is done.
	bad := `{"title_ja":"再試行","impact":"apocalyptic","body_ja":"x"}`
	expect(t, a.apiCallKey(tok, "POST", "/api/admin/incidents", "alert-42", bad), http.StatusUnprocessableEntity, `"impact"`)
	expect(t, a.apiCallKey(tok, "POST", "/api/admin/incidents", "alert-42", strings.Replace(bad, "apocalyptic", "minor", 1)), http.StatusCreated)
	// Every changing call takes one: a move retried is a move once.
	pos := func() int { c, _ := a.store.Component(ctx, f.cdn); return c.Position }
	p0 := pos()
	for range 2 {
		expect(t, a.apiCallKey(tok, "POST", "/api/admin/components/"+apiRef("c", f.cdn)+"/move", "move-1", `{"direction":"down"}`), http.StatusOK)
	}
	if p := pos(); p != p0+1 {
		t.Fatalf("a retried move moved from %d to %d", p0, p)
	}

	// A second resolve is refused, not a second 復旧しました。.
	expect(t, a.apiCall(tok, "POST", inc+"/resolve", `{}`), http.StatusCreated)
	n := len(must(a.store.Incident(ctx, f.incident)).Updates)
	expect(t, a.apiCall(tok, "POST", inc+"/resolve", `{}`), http.StatusUnprocessableEntity, "already resolved")
	if m := len(must(a.store.Incident(ctx, f.incident)).Updates); m != n {
		t.Fatalf("a second resolve posted an update (%d → %d)", n, m)
	}

	// Errors say what is wrong in JSON's words.
	for _, c := range []struct{ body, want string }{
		{`[]`, "must be a JSON object"},
		{`{"title_ja":"x","impact":"minor","body_ja":"x","components":["c1"]}`, `"components\" must be an object`},
		{`{"title_ja":"x","impact":"minor","body_ja":"x","started_at":"2026-13-01"}`, "RFC 3339"},
	} {
		expect(t, a.apiCall(tok, "POST", "/api/admin/incidents", c.body), http.StatusBadRequest, c.want)
	}
	expect(t, a.apiCall(tok, "GET", "/api/admin/incidents/m1", ""), http.StatusNotFound, "Incident ids look like i7.")

	// Every call is audited, with the ids as the API hands them out, even
	// when the client hangs up at once.
	es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "api POST /api/admin/incidents/:id/resolve"})
	if len(es) == 0 || es[0].Target != "id="+apiRef("i", f.incident) {
		t.Fatalf("audit: %+v", es)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
