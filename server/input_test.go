package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestBadFormInputIsShownAndNothingSaved sends forms with empty, overlong,
// broken and hostile values: each comes back 400 with the message next to
// the field, in the operator's language, with what was typed kept.
func TestBadFormInputIsShownAndNothingSaved(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	cdn := strconv.FormatInt(f.cdn, 10)
	c := a.client()
	c.login("editor@example.com")
	before := a.state()

	cases := []struct {
		name   string
		path   string
		form   url.Values
		want   []string
		wantEN []string
	}{
		{"empty incident", "/admin/incidents", url.Values{"impact": {"minor"}, "status": {"investigating"}},
			[]string{"入力してください。", "入力内容に誤りがあります"}, []string{"Please fill this in."}},
		{"unknown impact", "/admin/incidents", url.Values{"title_ja": {"題"}, "impact": {"apocalyptic"}, "status": {"investigating"}, "body_ja": {"本文"}},
			[]string{"選択肢から選んでください。", `value="題"`}, []string{"Please pick one of the choices."}},
		{"broken utf-8", "/admin/incidents", url.Values{"title_ja": {"壊れた\xff\xfe文字"}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"本文"}},
			[]string{"使用できない文字が含まれています。"}, []string{"characters that cannot be used"}},
		{"nul byte", "/admin/incidents", url.Values{"title_ja": {"a\x00b"}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"本文"}},
			[]string{"使用できない文字が含まれています。"}, nil},
		{"overlong title", "/admin/incidents", url.Values{"title_ja": {strings.Repeat("長", 201)}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"本文"}},
			[]string{"長すぎます。"}, []string{"too long"}},
		{"bad component status", "/admin/incidents", url.Values{"title_ja": {"題"}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"本文"}, "component_" + cdn: {"on_fire"}},
			[]string{"選択肢から選んでください。"}, nil},
		{"bad start", "/admin/incidents", url.Values{"title_ja": {"題"}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"本文"}, "started_at": {"yesterday-ish"}},
			[]string{"日時を正しく入力してください", `value="yesterday-ish"`}, []string{"Please enter a date and time"}},
		{"script in title kept as text", "/admin/incidents", url.Values{"title_ja": {`<script>alert(1)</script>`}, "impact": {"minor"}, "status": {"investigating"}},
			[]string{`value="&lt;script&gt;alert(1)&lt;/script&gt;"`}, nil},
		{"maintenance ends before start", "/admin/maintenance", url.Values{"title_ja": {"メンテ"}, "body_ja": {"本文"}, "starts_at": {"2026-12-01T10:00"}, "ends_at": {"2026-12-01T09:00"}, "components": {cdn}},
			[]string{"開始日時より後の日時を指定してください。"}, []string{"This must be after the start."}},
		{"maintenance without components", "/admin/maintenance", url.Values{"title_ja": {"メンテ"}, "body_ja": {"本文"}, "starts_at": {"2026-12-01T10:00"}, "ends_at": {"2026-12-01T11:00"}},
			[]string{"入力してください。"}, nil},
		{"maintenance with junk component", "/admin/maintenance", url.Values{"title_ja": {"メンテ"}, "body_ja": {"本文"}, "starts_at": {"2026-12-01T10:00"}, "ends_at": {"2026-12-01T11:00"}, "components": {"1; DROP TABLE components"}},
			[]string{"選択肢から選んでください。"}, nil},
		{"maintenance with unknown component", "/admin/maintenance", url.Values{"title_ja": {"メンテ"}, "body_ja": {"本文"}, "starts_at": {"2026-12-01T10:00"}, "ends_at": {"2026-12-01T11:00"}, "components": {"987654"}},
			[]string{"選択肢から選んでください。"}, nil},
		{"component of unknown product", "/admin/components", url.Values{"product_id": {"999999"}, "name_ja": {"x"}},
			[]string{"選択肢から選んでください。"}, nil},
		{"component with id overflow", "/admin/components", url.Values{"product_id": {"99999999999999999999999"}, "name_ja": {"x"}},
			[]string{"選択肢から選んでください。"}, nil},
		{"product without name", "/admin/products", url.Values{"name_en": {"only english"}},
			[]string{"入力してください。", `value="only english"`}, nil},
		{"update without message", "/admin/incidents/" + strconv.FormatInt(f.incident, 10) + "/updates", url.Values{"status": {"monitoring"}},
			[]string{"入力してください。"}, nil},
		{"maintenance update with bad status", "/admin/maintenance/" + strconv.FormatInt(f.maintenance, 10) + "/updates", url.Values{"status": {"exploded"}, "body_ja": {"x"}},
			[]string{"選択肢から選んでください。"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.speak("ja")
			c.get("/admin")
			expect(t, c.post(tc.path, tc.form), http.StatusBadRequest, tc.want...)
			if tc.wantEN != nil {
				c.speak("en")
				c.get("/admin")
				expect(t, c.post(tc.path, tc.form), http.StatusBadRequest, tc.wantEN...)
			}
		})
	}
	if after := a.state(); after != before {
		t.Fatalf("bad input changed state")
	}
}

// TestMalformedRequestsNeverFail throws malformed requests at every route;
// none may get a 500 (the client helper fails the test on any 5xx).
func TestMalformedRequestsNeverFail(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	c := a.client()
	c.login("admin@example.com")
	before := a.state()

	for _, path := range []string{"/incidents/abc", "/incidents/-1", "/incidents/0", "/incidents/99999999999999999999",
		"/incidents/424242", "/maintenance/1.5", "/maintenance/424242", "/admin/incidents/zzz", "/admin/incidents/424242",
		"/admin/maintenance/424242/edit", "/admin/products/424242/edit", "/admin/components/424242/edit",
		"/admin/incidents/" + strconv.FormatInt(f.incident, 10) + "/updates/424242/edit",
		"/history?page=-3", "/history?page=abc", "/history?page=999", "/nope", "/static/x/../../go.mod", "/static/x/nope.css",
		"/%ff%fe", "/incidents/%00"} {
		r := c.get(path)
		if r.code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.code)
		}
	}
	c.lang = "en"
	expect(t, c.get("/incidents/424242"), http.StatusNotFound, "could not be found")
	c.lang = ""
	expect(t, c.get("/incidents/424242"), http.StatusNotFound, "お探しのページは見つかりませんでした。")

	// Every POST route with junk ids, junk values and a body that is not a form.
	for _, pattern := range routes(a, http.MethodPost) {
		if pattern == "/admin/logout" {
			continue
		}
		paths := []string{strings.NewReplacer(":id", "x", ":uid", "99999999999999999999").Replace(pattern)}
		// Delete, disable, enable and unsubscribe take no input, so real ids
		// would act.
		if !strings.HasSuffix(pattern, "/delete") && !strings.HasSuffix(pattern, "able") && !strings.HasSuffix(pattern, "/cancel") &&
			!strings.HasPrefix(pattern, "/unsubscribe") && !strings.HasPrefix(pattern, "/subscribe/unsubscribe") {
			paths = append(paths, f.path(pattern))
		}
		for _, path := range paths {
			c.get("/admin")
			c.post(path, url.Values{"status": {"\xff"}, "direction": {"sideways"}, "role": {"root"}, "title_ja": {strings.Repeat("\x00", 10)},
				"starts_at": {"2026-13-45T99:99"}, "product_id": {"-1"}, "components": {"", "0", "x"}})
			req, _ := http.NewRequest(http.MethodPost, a.srv.URL+path+"?csrf="+c.csrf, strings.NewReader("%%%zz&&=="))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-CSRF-Token", c.csrf)
			c.do(req)
			req, _ = http.NewRequest(http.MethodPost, a.srv.URL+path, strings.NewReader("--b\r\ngarbage"))
			req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			req.Header.Set("X-CSRF-Token", c.csrf)
			c.do(req)
		}
	}

	// Wrong methods, TRACE and a huge body.
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, "TRACE"} {
		req, _ := http.NewRequest(m, a.srv.URL+"/", nil)
		if r := c.do(req); r.code != http.StatusMethodNotAllowed {
			t.Errorf("%s /: %d", m, r.code)
		}
		// In the console the CSRF check may refuse first; either way, refused.
		req, _ = http.NewRequest(m, a.srv.URL+"/admin/incidents", nil)
		if r := c.do(req); r.code != http.StatusMethodNotAllowed && r.code != http.StatusForbidden {
			t.Errorf("%s /admin/incidents: %d", m, r.code)
		}
	}
	big := url.Values{"csrf": {c.csrf}, "title_ja": {strings.Repeat("あ", 1<<20)}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"x"}}
	expect(t, c.postRaw("/admin/incidents", big), http.StatusRequestEntityTooLarge, "送信された内容が大きすぎます。")

	// A component with history cannot be deleted; a product with components neither.
	c.get("/admin/products")
	expect(t, c.post("/admin/components/"+strconv.FormatInt(f.cdn, 10)+"/delete", url.Values{"confirm": {"1"}}), http.StatusBadRequest, "履歴を保つため削除できません")
	expect(t, c.post("/admin/products/"+strconv.FormatInt(f.product, 10)+"/delete", url.Values{"confirm": {"1"}}), http.StatusBadRequest, "コンポーネントが残っている製品は削除できません")
	if after := a.state(); after != before {
		t.Fatalf("malformed requests changed state:\n%s\n%s", before, after)
	}
}

// TestHostileMarkdownIsInertOnThePage posts hostile markdown through the
// console and reads the public page: no script, handler or frame survives.
func TestHostileMarkdownIsInertOnThePage(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	c.login("editor@example.com")
	body := "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n<iframe src=https://evil.example></iframe>\n\n<svg onload=alert(1)>\n\n**ok** [docs](https://example.com/docs)"
	id := idFromLocation(t, c.post("/admin/incidents", url.Values{"title_ja": {"<b onmouseover=alert(1)>件名</b>"}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {body}}))
	for _, path := range []string{"/", "/incidents/" + id} {
		r := a.client().get(path)
		expect(t, r, http.StatusOK, "<strong>ok</strong>", `href="https://example.com/docs"`, "&lt;b onmouseover=alert(1)&gt;件名&lt;/b&gt;")
		expectNot(t, r, "<script", "onerror=", "javascript:", "<iframe", "<svg", "onload=", "<b onmouseover")
	}
}

func TestLanguageNegotiationAndTimeZone(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	if _, err := a.store.CreateIncident(context.Background(), data.NewIncident{TitleJA: "遅延", TitleEN: "Slowness", Impact: "minor",
		Status: data.Investigating, BodyJA: "調査中です。", StartedAt: a.clock.Now().Add(-2 * 3600e9),
		Components: map[int64]string{cdn: data.DegradedPerformance}}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()

	c := a.client()
	r := c.get("/")
	expect(t, r, http.StatusOK, `<html lang="ja">`, "遅延", "発生: <time datetime=", ">2026年11月26日 13:30 JST</time>", "JST (Asia/Tokyo)", `href="/?lang=en"`)
	r = c.get("/?lang=en")
	expect(t, r, http.StatusOK, `<html lang="en">`, "Slowness", "Started <time datetime=", ">Nov 26, 2026 13:30 JST</time>", "Degraded performance")
	// The choice sticks through the cookie, on public pages and the console.
	expect(t, c.get("/"), http.StatusOK, `<html lang="en">`)
	expect(t, c.get("/admin/login"), http.StatusOK, "Sign in")
	expect(t, c.get("/?lang=ja"), http.StatusOK, `<html lang="ja">`)

	b := a.client()
	b.lang = "en-GB,en;q=0.8"
	expect(t, b.get("/"), http.StatusOK, `<html lang="en">`, "All times are shown in JST (Asia/Tokyo).")
	b.lang = "fr"
	expect(t, b.get("/"), http.StatusOK, `<html lang="ja">`)

	// An English title left empty falls back to the Japanese one.
	a.store.CreateIncident(context.Background(), data.NewIncident{TitleJA: "日本語のみの件名", Impact: "none", Status: data.Investigating, BodyJA: "本文"})
	a.app.changed()
	expect(t, a.client().get("/?lang=en"), http.StatusOK, "日本語のみの件名")
}

func TestPublicPageCaching(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "identity")
	r := c.do(req)
	etag := r.header.Get("ETag")
	if etag == "" || r.header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Fatalf("headers %v", r.header)
	}
	req, _ = http.NewRequest(http.MethodGet, a.srv.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("If-None-Match", etag)
	if r := c.do(req); r.code != http.StatusNotModified || r.body != "" {
		t.Fatalf("conditional GET: %d", r.code)
	}
	// gzip is served to clients that ask, from the same render.
	tr := &http.Transport{DisableCompression: true}
	req, _ = http.NewRequest(http.MethodGet, a.srv.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("ETag") == etag {
		t.Fatalf("gzip response headers %v", res.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != r.body {
		t.Fatal("gzip body differs from the plain one")
	}
	// A change made through the console shows at once, with a new ETag.
	op := a.client()
	op.login("editor@example.com")
	op.post("/admin/incidents", url.Values{"title_ja": {"新しい障害"}, "impact": {"minor"}, "status": {"investigating"}, "body_ja": {"x"}})
	req, _ = http.NewRequest(http.MethodGet, a.srv.URL+"/", nil)
	req.Header.Set("If-None-Match", etag)
	r = c.do(req)
	expect(t, r, http.StatusOK, "新しい障害")

	// A change made elsewhere (another instance) shows once the TTL passes,
	// and the stale copy is served meanwhile.
	a.store.CreateIncident(context.Background(), data.NewIncident{TitleJA: "別インスタンスの障害", Impact: "minor", Status: data.Investigating, BodyJA: "x"})
	expectNot(t, c.get("/"), "別インスタンスの障害")
	a.clock.Advance(a.app.opts.PageTTL + 1)
	c.get("/") // starts the background refresh
	// Waits on the refresh itself (the page changing), for as long as a
	// busy machine needs, never a fixed sleep.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); <-timeAfter() {
		if strings.Contains(c.get("/").body, "別インスタンスの障害") {
			return
		}
	}
	t.Fatal("stale page never refreshed")
}

func TestHealthz(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	expect(t, c.get("/healthz"), http.StatusOK, "ok")
	expect(t, c.get("/readyz"), http.StatusOK, "ready")
	a.store.Close()
	c.allow5xx = true
	// Liveness stays up (the last good pages are still served); readiness
	// does not.
	expect(t, c.get("/healthz"), http.StatusOK)
	if r := c.get("/readyz"); r.code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d", r.code)
	}
}

func TestHeadAndStalePages(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	req, _ := http.NewRequest(http.MethodHead, a.srv.URL+"/", nil)
	if r := c.do(req); r.code != http.StatusOK || r.body != "" || r.header.Get("ETag") == "" {
		t.Fatalf("HEAD /: %d %q", r.code, r.body)
	}
	first := c.get("/")
	expect(t, first, http.StatusOK, "配信CDN")

	// The database goes away: the page everyone opens keeps being served,
	// both after the TTL and after a local change.
	a.store.Close()
	a.clock.Advance(time.Minute)
	expect(t, c.get("/"), http.StatusOK, "配信CDN")
	a.app.changed()
	expect(t, c.get("/"), http.StatusOK, "配信CDN")
}

func TestHistoryPaging(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	now := a.clock.Now()
	// One incident this month, one four months ago, one seven months ago.
	for i, monthsAgo := range []int{0, 4, 7} {
		a.clock.Set(now.AddDate(0, -monthsAgo, 0))
		if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害" + strconv.Itoa(i), Impact: "minor", Status: data.Resolved, BodyJA: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	a.clock.Set(now)
	c := a.client()
	r := c.get("/history")
	expect(t, r, http.StatusOK, "2026年11月", "2026年10月", "2026年9月", "障害0", `href="/history?page=1"`)
	expectNot(t, r, "障害1")
	r = c.get("/history?page=1")
	expect(t, r, http.StatusOK, "2026年8月", "2026年7月", "2026年6月", "障害1", `href="/history"`, `href="/history?page=2"`)
	r = c.get("/history?page=2")
	expect(t, r, http.StatusOK, "2026年4月", "障害2")
	expectNot(t, r, `href="/history?page=3"`)
	if r := c.get("/history?page=3"); r.code != http.StatusNotFound {
		t.Fatalf("page past the oldest record: %d", r.code)
	}
}
