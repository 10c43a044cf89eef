package server

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
)

// Findings of an outside security test, each through real HTTP.

// TestHardeningMetricsLabelsBounded: made-up methods and paths do not add
// series to /metrics: unknown methods share the label "other", and a path
// no route matches is "unmatched".
func TestHardeningMetricsLabelsBounded(t *testing.T) {
	a := newTestServer(t)
	a.app.opts.MetricsToken = "metrics-secret-0123456789"
	r := rand.New(rand.NewPCG(1, 2))
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		return string(b)
	}
	paths := []string{"/", "/history", "/incidents/1", "/api/v2/status.json"}
	c := a.client()
	for i := range 300 {
		method := "X" + word(8)
		path := paths[i%len(paths)]
		switch i % 3 {
		case 1:
			path = "/" + strings.ToLower(word(10)) // no such route
		case 2:
			path = "/api/v2/" + strings.ToLower(word(6)) + ".json"
		}
		req, _ := http.NewRequest(method, a.srv.URL+path, nil)
		c.do(req)
	}
	routes := map[string]bool{"unmatched": true}
	for _, rt := range a.app.Echo().Routes() {
		routes[rt.Path] = true
	}
	methods := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"OPTIONS": true, "CONNECT": true, "TRACE": true, "other": true}
	series := 0
	for key := range scrape(t, a, a.app.opts.MetricsToken) {
		labels, ok := strings.CutPrefix(key, "oshirase_http_requests_total{")
		if !ok {
			continue
		}
		series++
		for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			name, value, _ := strings.Cut(l, "=")
			if name == "method" && !methods[value] || name == "route" && !routes[value] {
				t.Errorf("label %s=%q in %s", name, value, key)
			}
		}
	}
	if series == 0 || series > 20 {
		t.Fatalf("%d request series after 300 made-up requests", series)
	}
}

// TestHardeningHookRefusesBadText: an alert webhook whose JSON is not
// valid UTF-8 or holds a NUL (raw, or escaped as \u0000) is a 400 that
// says so, and nothing is stored; a good one still works.
func TestHardeningHookRefusesBadText(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	_, cdn, _ := a.seedCatalog()
	a.store.SetAutomation(ctx, cdn, data.Automation{HookKey: "cdn"})
	admin, _ := a.store.OperatorByEmail(ctx, "admin@example.com")
	am, err := a.store.CreateIntegration(ctx, "Prometheus", data.IntegrationAlertmanager, data.PartialOutage, hashToken("am-secret"), admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := a.store.CreateIntegration(ctx, "Generic", data.IntegrationGeneric, data.PartialOutage, hashToken("gen-secret"), admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	amPath := "/api/hooks/" + strconv.FormatInt(am.ID, 10) + "/am-secret"
	genPath := "/api/hooks/" + strconv.FormatInt(gen.ID, 10) + "/gen-secret"
	alert := func(summary string) string {
		return `{"alerts": [{"status": "firing", "labels": {"component": "cdn", "alertname": "Slow"}, "annotations": {"summary": "` + summary + `"}}]}`
	}
	for _, c := range []struct{ what, path, body string }{
		{"escaped NUL", amPath, alert(`slow\u0000down`)},
		{"raw NUL", amPath, alert("slow\x00down")},
		{"invalid UTF-8", amPath, alert("slow\xffdown")},
		{"escaped NUL in a label", amPath, `{"alerts": [{"status": "firing", "labels": {"component": "cdn", "alertname": "a\u0000b"}}]}`},
		{"escaped NUL, generic", genPath, `{"component": "cdn", "status": "firing", "summary": "slow\u0000down"}`},
		{"escaped NUL in the id, generic", genPath, `{"component": "cdn", "status": "firing", "id": "x\u0000"}`},
		{"invalid UTF-8, generic", genPath, "{\"component\": \"cdn\", \"status\": \"firing\", \"summary\": \"\xc3\x28\"}"},
	} {
		r := postHook(t, a, c.path, c.body)
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, `"bad_text"`) || !strings.Contains(r.body, "UTF-8") {
			t.Errorf("%s: %d %s", c.what, r.code, r.body)
		}
	}
	if n, _ := a.store.WaitingDrafts(ctx); n != 0 {
		t.Fatalf("a refused payload prepared %d drafts", n)
	}
	if sigs, _ := a.store.Signals(ctx, cdn); len(sigs) != 0 {
		t.Fatalf("a refused payload stored signals: %+v", sigs)
	}
	// Text that merely looks like an escape is fine.
	expect(t, postHook(t, a, amPath, alert(`path C:\\u0000 and 日本語`)), http.StatusOK, `"accepted":1`)
	if n, _ := a.store.WaitingDrafts(ctx); n != 1 {
		t.Fatalf("%d drafts after a good alert", n)
	}
}

// imgSources is the img-src directive of a response's CSP.
func imgSources(t *testing.T, r response) []string {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "img-src" {
			return f[1:]
		}
	}
	t.Fatalf("no img-src in %q", csp)
	return nil
}

// TestHardeningCSPImages: the pages load images from their own origin,
// data: URIs and the branding's logo URL's origin only: a markdown image
// from another host in an incident is not loaded on the public page.
func TestHardeningCSPImages(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	_, cdn, _ := a.seedCatalog()
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の遅延", TitleEN: "Slow delivery", Impact: "major",
		Status: data.Investigating, BodyJA: "調査中です。\n\n![](https://tracker.example/pixel.png)", Components: map[int64]string{cdn: data.PartialOutage}})
	if err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	visitor := a.client()
	check := func(path string, want ...string) {
		t.Helper()
		// Three times: the later ones come from the page cache's fast path
		// (serveCached), which must set pagePolicy as securityHeaders does.
		for i := range 3 {
			path := path
			if i > 0 && !strings.HasPrefix(path, "/admin") {
				path += " (fast path)"
			}
			r := visitor.get(strings.TrimSuffix(path, " (fast path)"))
			expect(t, r, http.StatusOK)
			src := imgSources(t, r)
			got := map[string]bool{}
			for _, s := range src {
				got[s] = true
				if s == "https:" || s == "*" || strings.Contains(s, "tracker.example") {
					t.Fatalf("%s: img-src %v lets the tracker's image load", path, src)
				}
			}
			for _, w := range append([]string{"'self'", "data:"}, want...) {
				if !got[w] {
					t.Fatalf("%s: img-src %v lacks %s", path, src, w)
				}
			}
			if len(src) != 2+len(want) {
				t.Fatalf("%s: img-src %v, want 'self' data: %v", path, src, want)
			}
		}
	}
	incident := "/incidents/" + strconv.FormatInt(inc.ID, 10)
	check("/")
	check(incident)
	check("/admin/login")

	// A logo URL: its origin, and nothing else, joins the policy.
	admin := a.client()
	admin.login("admin@example.com")
	admin.get("/admin/branding")
	expect(t, brandingPost(t, admin, url.Values{"logo_url": {"https://cdn.example/img/logo.png"}}, nil), http.StatusSeeOther)
	check("/", "https://cdn.example")
	check(incident, "https://cdn.example")
	if !strings.Contains(visitor.get("/").body, "https://cdn.example/img/logo.png") {
		t.Fatal("the page does not show the logo")
	}
	expect(t, brandingPost(t, admin, url.Values{"logo_url": {"https://cdn.example:8443/logo.png"}}, nil), http.StatusSeeOther)
	check("/", "https://cdn.example:8443")
	// An uploaded logo is served from the page's own origin.
	expect(t, brandingPost(t, admin, url.Values{"logo_url": {""}, "remove_logo": {"1"}}, pngPixel), http.StatusSeeOther)
	check("/")
	check(incident)
}

// pngHeader is a PNG that declares w×h pixels: its signature, a valid
// IHDR chunk and IEND, no image data (a few bytes, "too large" only once
// decoded).
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, no interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
	return append(b, "\x00\x00\x00\x00IEND\xaeB`\x82"...)
}

// TestHardeningLogoDimensions: a tiny PNG that declares 100000×100000
// pixels is refused as the logo, with a message in the admin's language,
// and the branding stays as it was.
func TestHardeningLogoDimensions(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	admin := a.client()
	admin.login("admin@example.com")
	admin.get("/admin/branding")
	expect(t, brandingPost(t, admin, url.Values{"title_ja": {"例のステータス"}}, pngPixel), http.StatusSeeOther)
	before, _ := a.store.Branding(ctx)

	huge := pngHeader(100000, 100000)
	if len(huge) > 100 {
		t.Fatalf("the crafted PNG has %d bytes", len(huge))
	}
	admin.get("/admin/branding")
	r := brandingPost(t, admin, url.Values{"title_ja": {"別のタイトル"}}, huge)
	expect(t, r, http.StatusBadRequest, "縦横4096ピクセル以内の画像を指定してください。")
	admin.speak("en")
	admin.get("/admin/branding?lang=en")
	expect(t, brandingPost(t, admin, url.Values{"title_ja": {"別のタイトル"}}, pngHeader(4097, 1)), http.StatusBadRequest,
		"keep it within 4096 × 4096 pixels")
	// Zero pixels, or a header that does not decode, is not an image.
	expect(t, brandingPost(t, admin, url.Values{"title_ja": {"別のタイトル"}}, pngHeader(0, 10)), http.StatusBadRequest,
		"Choose a PNG, JPEG, GIF or WebP image.")
	if after, _ := a.store.Branding(ctx); after.TitleJA != before.TitleJA || string(after.Logo) != string(pngPixel) ||
		!after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("a refused logo changed the branding: %+v", after)
	}
	// The largest allowed is fine.
	expect(t, brandingPost(t, admin, url.Values{"title_ja": {"別のタイトル"}}, pngHeader(4096, 4096)), http.StatusSeeOther)
}

// TestHardeningTokensOfDisabledCreator: disabling an admin revokes their
// API tokens for good: refused while disabled, and still refused once the
// account is enabled again, even a token nobody presented meanwhile
// (docs/access-matrix.md says so).
func TestHardeningTokensOfDisabledCreator(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	ed, _ := a.store.OperatorByEmail(ctx, "editor@example.com")
	if err := a.store.SetOperatorRole(ctx, ed.ID, data.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	boss := a.client()
	boss.login("admin@example.com")
	leaver := a.client()
	leaver.login("editor@example.com")
	used := a.newToken(leaver, "監視1", "read")
	idle := a.newToken(leaver, "監視2", "read")
	expect(t, a.apiCall(used, "GET", "/api/admin/components", ""), http.StatusOK)
	expect(t, a.apiCall(idle, "GET", "/api/admin/components", ""), http.StatusOK)

	id := strconv.FormatInt(ed.ID, 10)
	boss.get("/admin/operators")
	expect(t, boss.post("/admin/operators/"+id+"/disable", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expect(t, a.apiCall(used, "GET", "/api/admin/components", ""), http.StatusUnauthorized, `"unauthorized"`)
	boss.get("/admin/operators")
	expect(t, boss.post("/admin/operators/"+id+"/enable", nil), http.StatusSeeOther)
	for _, tok := range []string{used, idle} {
		expect(t, a.apiCall(tok, "GET", "/api/admin/components", ""), http.StatusUnauthorized, `"unauthorized"`)
	}
	toks, _ := a.store.APITokens(ctx)
	for _, tk := range toks {
		if tk.RevokedAt == nil {
			t.Errorf("token %q of a disabled operator is not revoked", tk.Name)
		}
	}
	// Enabled again, the operator makes new tokens that work.
	leaver = a.client()
	leaver.login("editor@example.com")
	expect(t, a.apiCall(a.newToken(leaver, "監視3", "read"), "GET", "/api/admin/components", ""), http.StatusOK)
}
