package server

import (
	"bytes"
	"context"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
)

// pngPixel is a real 1×1 PNG.
var pngPixel = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

// brandingPost sends the branding form as a browser does (multipart, with
// the logo file when given).
func brandingPost(t *testing.T, c *client, fields url.Values, logo []byte) response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", c.token())
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	if logo != nil {
		fw, _ := w.CreateFormFile("logo", "logo.png")
		fw.Write(logo)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.a.srv.URL+"/admin/branding", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

// TestBranding: an admin sets the title, company, logo, accent colour and
// footer links; they show on every page, in both languages, and in email
// (the From name, the header, the footer); editors cannot change them;
// bad input is refused in the admin's language and nothing is half-saved.
func TestBranding(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"ja@example.com": "primary/ja", "en@example.com": "primary/en"})
	pub := a.client()
	// Defaults until set.
	expect(t, pub.get("/"), http.StatusOK, "<title>現在の稼働状況 | 障害・メンテナンス情報</title>")

	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/branding"), http.StatusForbidden)
	admin := a.client()
	admin.login("admin@example.com")
	expect(t, admin.get("/admin/branding"), http.StatusOK, `name="accent"`, `name="logo"`, "ブランド")

	good := url.Values{"title_ja": {"エグザンプル稼働状況"}, "title_en": {"Example Status"}, "company_ja": {"株式会社エグザンプル"},
		"company_en": {"Example Inc."}, "accent": {"#0b5cad"},
		"link_label_ja": {"サポート", "", "利用規約"}, "link_label_en": {"Support", "", ""},
		"link_url": {"https://example.com/support", "", "https://example.com/terms"}}
	bad := []struct {
		mod  func(url.Values)
		logo []byte
		want string
	}{
		{func(v url.Values) { v.Set("accent", "#ffee00") }, nil, "白い文字とのコントラスト"},
		{func(v url.Values) { v.Set("accent", "red;}body{display:none") }, nil, "#rrggbb"},
		{func(v url.Values) {}, []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "PNG、JPEG、GIF、WebP"},
		{func(v url.Values) { v.Set("logo_url", "javascript:alert(1)") }, nil, "https://"},
		{func(v url.Values) { v["link_url"] = []string{"javascript:alert(1)", "", ""} }, nil, "リンク"},
	}
	for _, b := range bad {
		v := url.Values{}
		for k, x := range good {
			v[k] = append([]string(nil), x...)
		}
		b.mod(v)
		expect(t, brandingPost(t, admin, v, b.logo), http.StatusBadRequest, b.want)
	}
	if br, _ := a.store.Branding(t.Context()); br.TitleJA != "" {
		t.Fatalf("a refused form saved %+v", br)
	}

	expect(t, brandingPost(t, admin, good, pngPixel), http.StatusSeeOther)
	a.app.changed()
	page := pub.get("/")
	expect(t, page, http.StatusOK, "<title>現在の稼働状況 | エグザンプル稼働状況</title>", `<img class="logo" src="/brand/logo?v=`,
		"株式会社エグザンプル", `href="https://example.com/support">サポート</a>`, `href="https://example.com/terms">利用規約</a>`,
		`<link rel="stylesheet" href="/brand.css?v=`)
	pub.lang = "en"
	expect(t, pub.get("/"), http.StatusOK, "Example Status", "Example Inc.", `>Support</a>`, `>利用規約</a>`)
	logoURL := regexp1(t, page.body, `src="(/brand/logo\?v=[^"]+)"`)
	logo := pub.get(strings.ReplaceAll(logoURL, "&amp;", "&"))
	if logo.code != http.StatusOK || logo.header.Get("Content-Type") != "image/png" || logo.body != string(pngPixel) ||
		logo.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("logo: %d %v", logo.code, logo.header)
	}
	css := pub.get(strings.ReplaceAll(regexp1(t, page.body, `href="(/brand.css\?v=[^"]+)"`), "&amp;", "&"))
	if css.code != http.StatusOK || !strings.Contains(css.body, "--accent: #0b5cad") || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("brand.css: %d %q", css.code, css.body)
	}
	// The console carries the title too.
	expect(t, admin.get("/admin"), http.StatusOK, "エグザンプル稼働状況")
	// Saving again without a file keeps the logo.
	expect(t, brandingPost(t, admin, good, nil), http.StatusSeeOther)
	if br, _ := a.store.Branding(t.Context()); br.LogoType != "image/png" {
		t.Fatal("the logo was lost")
	}

	// Email: the From name (OSHIRASE_MAIL_FROM has none in tests) in the
	// reader's language, the title and the company in the body.
	op := a.client()
	op.login("editor@example.com")
	declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, true, nil)
	mails := rig.deliver()
	ja, en := mails["ja@example.com"], mails["en@example.com"]
	if len(ja) != 1 || len(en) != 1 {
		t.Fatalf("mail: %v", recipients(mails))
	}
	if from := ja[0].Header.Get("From"); !strings.Contains(decodeHeader(t, from), "エグザンプル稼働状況") {
		t.Errorf("From %q", from)
	}
	if from := en[0].Header.Get("From"); !strings.Contains(from, "Example Status") {
		t.Errorf("From %q", from)
	}
	if body := textOf(t, en[0]); !strings.Contains(body, "Example Inc.") {
		t.Errorf("English mail lacks the company:\n%s", body)
	}
}

func regexp1(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in\n%s", pattern, s)
	}
	return m[1]
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOneLogoAtATime: the logo just given is the one shown: an upload
// replaces a logo URL, a URL replaces an upload, an emptied URL field
// removes the URL, and saving other fields keeps an uploaded logo.
func TestOneLogoAtATime(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	admin := a.client()
	admin.login("admin@example.com")
	base := url.Values{"title_ja": {"ひだまりソフト"}, "accent": {"#a04a00"}}
	with := func(k, v string) url.Values {
		out := cloneValues(base)
		out.Set(k, v)
		return out
	}
	src := func() string {
		t.Helper()
		b, err := a.store.Branding(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case b.LogoURL != "" && len(b.Logo) > 0:
			return "both"
		case b.LogoURL != "":
			return "url"
		case len(b.Logo) > 0:
			return "upload"
		}
		return "none"
	}
	steps := []struct {
		name   string
		fields url.Values
		logo   []byte
		want   string
	}{
		{"a URL", with("logo_url", "https://cdn.example/logo.png"), nil, "url"},
		{"an upload with the URL still in its field", with("logo_url", "https://cdn.example/logo.png"), pngPixel, "upload"},
		{"other fields saved", base, nil, "upload"},
		{"a URL again", with("logo_url", "https://cdn.example/new.png"), nil, "url"},
		{"the URL field emptied", base, nil, "none"},
	}
	for _, s := range steps {
		admin.get("/admin/branding")
		expect(t, brandingPost(t, admin, s.fields, s.logo), http.StatusSeeOther)
		if got := src(); got != s.want {
			t.Fatalf("after %s: the logo is %s, want %s", s.name, got, s.want)
		}
	}
}
