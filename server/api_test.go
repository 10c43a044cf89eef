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
