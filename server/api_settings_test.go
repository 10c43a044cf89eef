package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

// tinyPNG is a valid 2×2 PNG.
func tinyPNG(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// settingsState is what the settings calls may change.
func (a *testApp) settingsState() string {
	a.t.Helper()
	ctx := context.Background()
	b, _ := a.store.Branding(ctx)
	var out strings.Builder
	fmt.Fprintf(&out, "%s|%s|%s|%s|%s|%s|%s|%d|%s\n", b.TitleJA, b.TitleEN, b.CompanyJA, b.CompanyEN, b.Accent, b.LogoURL, b.LogoType, len(b.Logo), b.FooterLinks)
	for _, op := range []bool{true, false} {
		cs, _ := a.store.Channels(ctx, op)
		for _, c := range cs {
			fmt.Fprintf(&out, "ch %d %s %s\n", c.ID, c.Kind, c.URL)
		}
	}
	ins, _ := a.store.Integrations(ctx)
	for _, in := range ins {
		fmt.Fprintf(&out, "in %d %s %v\n", in.ID, in.Name, in.RevokedAt != nil)
	}
	return out.String()
}

func (a *testApp) apiRaw(token, method, path, ctype string, body []byte) response {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	return a.client().do(req)
}

func TestAPISettingsBranding(t *testing.T) {
	a := newTestServer(t)
	a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "branding", data.ScopeWrite)
	reader := a.newToken(adm, "branding-read", data.ScopeRead)

	expectNot(t, expect2(t, a.apiCall(reader, "GET", "/api/admin/branding", ""), http.StatusOK, `"footer_links":[]`), `"logo"`)
	r := a.apiCall(tok, "PUT", "/api/admin/branding", `{"title_ja": " 株式会社例のお知らせ ", "title_en": "Example status", "company_ja": "株式会社例",
		"accent": "#1A4F8B", "footer_links": [{"label_ja": "会社情報", "label_en": "About", "url": "https://example.com/about"}]}`)
	expect(t, r, http.StatusOK, `"title_ja":"株式会社例のお知らせ"`, `"accent":"#1a4f8b"`, `"label_en":"About"`)
	expect(t, a.apiCall(reader, "GET", "/api/admin/branding", ""), http.StatusOK, `"title_en":"Example status"`, `"url":"https://example.com/about"`)
	expect(t, a.client().get("/"), http.StatusOK, "株式会社例のお知らせ", "会社情報")
	expect(t, a.client().get("/brand.css"), http.StatusOK, "--accent: #1a4f8b")

	// The logo: uploaded as the body, served by the page, removed.
	img := tinyPNG(t)
	expect(t, a.apiRaw(tok, "PUT", "/api/admin/branding/logo", "image/png", img), http.StatusOK, `"type":"image/png"`, fmt.Sprintf(`"bytes":%d`, len(img)))
	lr := a.client().get("/brand/logo")
	if lr.code != http.StatusOK || lr.body != string(img) {
		t.Fatalf("logo served %d %d bytes", lr.code, len(lr.body))
	}
	expect(t, a.client().get("/"), http.StatusOK, "/brand/logo?v=")
	// Another PUT of the settings keeps the upload.
	expect(t, a.apiCall(tok, "PUT", "/api/admin/branding", `{"title_ja": "お知らせ"}`), http.StatusOK, `"type":"image/png"`, `"accent":""`, `"footer_links":[]`)

	// Bad input: 422 naming the field, 400 for the malformed; nothing changed.
	before := a.settingsState()
	for _, c := range []struct {
		method, path, ctype string
		body                []byte
		code                int
		field               string
	}{
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"accent": "red"}`), 422, `"accent"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"accent": "#ffff00"}`), 422, `"accent"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"logo_url": "http://example.com/logo.png"}`), 422, `"logo_url"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"title_ja": "` + strings.Repeat("あ", 101) + `"}`), 422, `"title_ja"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"footer_links": [{"label_ja": "x", "url": "javascript:alert(1)"}]}`), 422, `"footer_links"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"footer_links": [{"label_ja": "", "url": "https://example.com"}]}`), 422, `"footer_links"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"footer_links": [` + strings.Repeat(`{"label_ja": "x", "url": "https://example.com"},`, 8) + `{"label_ja": "x", "url": "https://example.com"}]}`), 422, `"footer_links"`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"title": "x"}`), 400, `Unknown field`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"title_ja": 7}`), 400, `title_ja`},
		{"PUT", "/api/admin/branding", "application/json", []byte(`{"logo": "x"}`), 400, `Unknown field`},
		{"PUT", "/api/admin/branding/logo", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 422, `"logo"`},
		{"PUT", "/api/admin/branding/logo", "image/png", []byte("not an image at all"), 422, `"logo"`},
		{"PUT", "/api/admin/branding/logo", "image/png", append(append([]byte{}, img...), make([]byte, data.MaxLogo)...), 422, `"logo"`},
		{"PUT", "/api/admin/branding/logo", "image/png", nil, 422, `"logo"`},
		{"PUT", "/api/admin/branding/logo", "image/png", make([]byte, 2<<20), 413, ``},
		{"DELETE", "/api/admin/branding/logo?dry_run=maybe", "application/json", nil, 400, `dry_run`},
	} {
		r := a.apiRaw(tok, c.method, c.path, c.ctype, c.body)
		if r.code != c.code || !strings.Contains(r.body, c.field) {
			t.Errorf("%s %s %.40q: %d %s", c.method, c.path, c.body, r.code, r.body)
		}
	}
	// A read token changes nothing.
	expect(t, a.apiCall(reader, "PUT", "/api/admin/branding", `{"title_ja": "読み取り"}`), http.StatusForbidden)
	expect(t, a.apiRaw(reader, "PUT", "/api/admin/branding/logo", "image/png", img), http.StatusForbidden)
	expect(t, a.apiCall(reader, "DELETE", "/api/admin/branding/logo", ""), http.StatusForbidden)
	// A dry run says what it would do and does nothing.
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/branding/logo?dry_run=true", ""), http.StatusOK, `"dry_run":true`)
	if a.settingsState() != before {
		t.Fatalf("refused calls changed the branding:\n%s\n%s", before, a.settingsState())
	}
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/branding/logo", ""), http.StatusOK, `"dry_run":false`)
	expectNot(t, expect2(t, a.apiCall(tok, "GET", "/api/admin/branding", ""), http.StatusOK), `"logo"`)
	expect(t, a.client().get("/brand/logo"), http.StatusNotFound)
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/branding/logo", ""), http.StatusNotFound)
	// A logo URL, then removed.
	expect(t, a.apiCall(tok, "PUT", "/api/admin/branding", `{"logo_url": "https://cdn.example.com/logo.png"}`), http.StatusOK, `"logo_url":"https://cdn.example.com/logo.png"`)
	expect(t, a.client().get("/"), http.StatusOK, "https://cdn.example.com/logo.png")
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/branding/logo", ""), http.StatusOK)
	expect(t, a.apiCall(tok, "GET", "/api/admin/branding", ""), http.StatusOK, `"logo_url":""`)

	// Audited as the console does, by the token, and as API calls.
	es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: "branding.update"})
	if len(es) < 4 || es[0].OperatorEmail != "token:branding" || !strings.Contains(es[len(es)-1].Changes, "株式会社例") {
		t.Fatalf("branding not audited: %+v", es)
	}
	for _, action := range []string{"api PUT /api/admin/branding", "api PUT /api/admin/branding/logo", "api DELETE /api/admin/branding/logo"} {
		if es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: action}); len(es) == 0 {
			t.Errorf("%s not audited", action)
		}
	}
}

func TestAPISettingsAlertsAndIntegrations(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	a.addAlertChannel(&f)
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "alerts", data.ScopeWrite)
	reader := a.newToken(adm, "alerts-read", data.ScopeRead)
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

	// The list shows the operators' channels only, and no secret address.
	r := a.apiCall(reader, "GET", "/api/admin/alert-channels", "")
	expect(t, r, http.StatusOK, `"id":"ch`+itoa(f.alertChannel)+`"`, `"address":"https://hooks.slack.com"`, `"state":"working"`)
	expectNot(t, r, "/services/x", `"ch`+itoa(f.channel)+`"`)

	teams := newEndpoint(t, func(string) (int, string) { return 202, "" })
	hook := newEndpoint(t, echoChallenge)
	silent := newEndpoint(t, func(string) (int, string) { return 200, "ok" })
	down := newEndpoint(t, func(string) (int, string) { return 500, "" })
	r = a.apiCall(tok, "POST", "/api/admin/alert-channels", `{"kind": "teams", "url": "`+teams.URL+`/T0SECRET", "lang": "en"}`)
	expect(t, r, http.StatusCreated, `"kind":"teams"`, `"lang":"en"`)
	expectNot(t, r, "T0SECRET", "last_delivery")
	if len(teams.bodies) != 1 || !strings.Contains(teams.bodies[0], "AdaptiveCard") {
		t.Fatalf("no Teams verification: %q", teams.bodies)
	}
	r = a.apiCall(tok, "POST", "/api/admin/alert-channels", `{"kind": "webhook", "url": "`+hook.URL+`/hook", "lang": "ja"}`)
	expect(t, r, http.StatusCreated, `"kind":"webhook"`)
	expectNot(t, r, "whsec_", "/hook")
	var made apiAlertChannel
	json.Unmarshal([]byte(r.body), &made)
	expect(t, a.apiCall(reader, "GET", "/api/admin/alert-channels", ""), http.StatusOK, made.ID)

	before := a.settingsState()
	for _, c := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/api/admin/alert-channels", `{"kind": "pager", "url": "https://x.example.com", "lang": "ja"}`, 422, `"kind"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "slack", "url": "", "lang": "ja"}`, 422, `"url"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "slack", "url": "https://x.example.com", "lang": "fr"}`, 422, `"lang"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "webhook", "url": "http://169.254.169.254/", "lang": "ja"}`, 422, `"url"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "webhook", "url": "http://10.9.9.9/hook", "lang": "ja"}`, 422, `"url"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "webhook", "url": "` + silent.URL + `", "lang": "ja"}`, 422, `"url"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "slack", "url": "` + down.URL + `", "lang": "ja"}`, 422, `"url"`},
		{"POST", "/api/admin/alert-channels", `{"kind": "slack", "url": "https://x.example.com", "lang": "ja", "products": [1]}`, 400, `Unknown field`},
		{"DELETE", "/api/admin/alert-channels/ch" + itoa(f.channel), "", 404, `not_found`},
		{"DELETE", "/api/admin/alert-channels/in" + itoa(f.alertChannel), "", 404, `not_found`},
		{"DELETE", "/api/admin/alert-channels/" + itoa(f.alertChannel), "", 404, `not_found`},
		{"DELETE", "/api/admin/alert-channels/ch999999", "", 404, `not_found`},
		{"DELETE", "/api/admin/alert-channels/ch" + itoa(f.alertChannel) + "?dry_run=true", "", 200, `"dry_run":true`},
		{"POST", "/api/admin/integrations", `{"name": "", "kind": "grafana", "failure_status": "major_outage"}`, 422, `"name"`},
		{"POST", "/api/admin/integrations", `{"name": "x", "kind": "nagios", "failure_status": "operational"}`, 422, `"failure_status"`},
		{"POST", "/api/admin/integrations", `{"name": "x", "kind": "grafana", "failure_status": "major_outage", "secret": "mine"}`, 400, `Unknown field`},
		{"DELETE", "/api/admin/integrations/ch" + itoa(f.integration), "", 404, `not_found`},
		{"DELETE", "/api/admin/integrations/in999999", "", 404, `not_found`},
		{"DELETE", "/api/admin/integrations/in" + itoa(f.integration) + "?dry_run=true", "", 200, "既存の連携"},
		{"DELETE", "/api/admin/integrations/in" + itoa(f.integration) + "?dry_run=1", "", 400, `dry_run`},
	} {
		r := a.apiCall(tok, c.method, c.path, c.body)
		if r.code != c.code || !strings.Contains(r.body, c.want) {
			t.Errorf("%s %s %.60s: %d %s", c.method, c.path, c.body, r.code, r.body)
		}
	}
	expect(t, a.apiCall(reader, "POST", "/api/admin/alert-channels", `{"kind": "teams", "url": "`+teams.URL+`", "lang": "ja"}`), http.StatusForbidden)
	expect(t, a.apiCall(reader, "DELETE", "/api/admin/alert-channels/ch"+itoa(f.alertChannel), ""), http.StatusForbidden)
	expect(t, a.apiCall(reader, "POST", "/api/admin/integrations", `{"name": "x", "kind": "grafana", "failure_status": "major_outage"}`), http.StatusForbidden)
	expect(t, a.apiCall(reader, "DELETE", "/api/admin/integrations/in"+itoa(f.integration), ""), http.StatusForbidden)
	if a.settingsState() != before {
		t.Fatalf("refused calls changed something:\n%s\n%s", before, a.settingsState())
	}

	expect(t, a.apiCall(tok, "DELETE", "/api/admin/alert-channels/"+made.ID, ""), http.StatusOK, `"dry_run":false`, "http://127.0.0.1")
	expectNot(t, a.apiCall(reader, "GET", "/api/admin/alert-channels", ""), made.ID)
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/alert-channels/"+made.ID, ""), http.StatusNotFound)

	// Integrations: the hook URL once, which then works; revoked, it stops.
	r = a.apiCall(tok, "POST", "/api/admin/integrations", `{"name": "Alertmanager (本番)", "kind": "alertmanager", "failure_status": "partial_outage"}`)
	expect(t, r, http.StatusCreated, `"hook_url":"`, `"revoked_at":null`)
	var ni apiNewIntegration
	json.Unmarshal([]byte(r.body), &ni)
	secret := ni.HookURL[strings.LastIndexByte(ni.HookURL, '/')+1:]
	l := a.apiCall(reader, "GET", "/api/admin/integrations", "")
	expect(t, l, http.StatusOK, ni.Integration.ID, "既存の連携")
	expectNot(t, l, secret, "hook_url")
	hookPath := strings.TrimPrefix(ni.HookURL, a.app.opts.BaseURL.String())
	alert := fixtureFile(t, "alertmanager.json")
	if r := postHook(t, a, hookPath, alert); r.code == http.StatusNotFound || r.code >= 500 {
		t.Fatalf("the hook does not work: %d %s", r.code, r.body)
	}
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/integrations/"+ni.Integration.ID, ""), http.StatusOK, "Alertmanager (本番)")
	if r := postHook(t, a, hookPath, alert); r.code != http.StatusNotFound {
		t.Fatalf("a revoked hook still works: %d", r.code)
	}
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/integrations/"+ni.Integration.ID, ""), http.StatusNotFound)
	expect(t, a.apiCall(reader, "GET", "/api/admin/integrations", ""), http.StatusOK, `"revoked_at":"`)

	for _, action := range []string{"channel.create", "channel.delete", "integration.create", "integration.revoke",
		"api POST /api/admin/alert-channels", "api DELETE /api/admin/alert-channels/:id", "api GET /api/admin/alert-channels",
		"api POST /api/admin/integrations", "api DELETE /api/admin/integrations/:id", "api GET /api/admin/integrations"} {
		if es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: action}); len(es) == 0 {
			t.Errorf("%s not audited", action)
		}
	}
}

func TestAPISettingsAuditAndUsage(t *testing.T) {
	a := newTestServer(t)
	a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "audit", data.ScopeRead)
	expect(t, a.apiCall(tok, "GET", "/api/admin/branding", ""), http.StatusOK)
	expect(t, a.apiCall(tok, "GET", "/api/admin/usage", ""), http.StatusOK, `"period":"month"`, `"days":`, `"months":`, `"statuses":`)
	expect(t, a.apiCall(tok, "GET", "/api/admin/usage?period=year", ""), http.StatusOK, `"period":"year"`)

	r := a.apiCall(tok, "GET", "/api/admin/audit?action=api+GET+/api/admin/branding&per_page=1", "")
	expect(t, r, http.StatusOK, `"operator":"token:audit"`, `"action":"api GET /api/admin/branding"`, `"status":200`)
	var p apiPage[apiAuditEntry]
	json.Unmarshal([]byte(r.body), &p)
	if len(p.Items) != 1 || !strings.HasPrefix(p.Items[0].ID, "ae") {
		t.Fatalf("%+v", p)
	}
	at := p.Items[0].At
	expect(t, a.apiCall(tok, "GET", "/api/admin/audit?operator=ADMIN@example.com&action=api+GET", ""), http.StatusOK, `"operator":"token:audit"`)
	expect(t, a.apiCall(tok, "GET", "/api/admin/audit?operator=editor@example.com&action=api", ""), http.StatusOK, `"total":0`)
	expect(t, a.apiCall(tok, "GET", "/api/admin/audit?action=api+GET+/api/admin/branding&until="+at.Format("2006-01-02T15:04:05Z"), ""), http.StatusOK, `"total":0`)
	expect(t, a.apiCall(tok, "GET", "/api/admin/audit?action=api+GET+/api/admin/branding&since="+at.Format("2006-01-02T15:04:05Z"), ""), http.StatusOK, `"total":1`)
	for _, q := range []string{"since=yesterday", "until=2026-13-01T00:00:00Z", "since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
		"operator=nobody@example.com", "page=0", "per_page=101", "action=" + strings.Repeat("x", 201)} {
		expect(t, a.apiCall(tok, "GET", "/api/admin/audit?"+q, ""), http.StatusBadRequest, `"bad_request"`)
	}
	expect(t, a.apiCall(tok, "GET", "/api/admin/usage?period=week", ""), http.StatusBadRequest, "period")
	expect(t, a.apiCall(tok, "GET", "/api/admin/audit?action=%25%27%3B--", ""), http.StatusOK, `"total":0`)
	if es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: "api GET /api/admin/usage"}); len(es) != 3 {
		t.Fatalf("usage calls audited %d times", len(es))
	}
}

// expect2 is expect that hands the response on.
func expect2(t *testing.T, r response, code int, contains ...string) response {
	t.Helper()
	expect(t, r, code, contains...)
	return r
}
