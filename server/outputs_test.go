package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/mail"
)

// demoComponent finds a component of the demo by its product's and its own
// English names.
func (a *testApp) demoComponent(product, component string) int64 {
	a.t.Helper()
	ps, err := a.store.Products(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	for _, p := range ps {
		for _, c := range p.Components {
			if p.NameEN == product && c.NameEN == component {
				return c.ID
			}
		}
	}
	a.t.Fatalf("the demo has no %s / %s", product, component)
	return 0
}

// section is what follows the first heading that says title, up to the
// next heading: one box of the preview.
func section(t *testing.T, body, title string) string {
	t.Helper()
	i := strings.Index(body, ">"+title+"</h3>")
	if i < 0 {
		t.Fatalf("no section %q\n%s", title, body)
	}
	rest := body[i+len(title)+6:]
	if j := strings.Index(rest, "<h3"); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestOutputsPreviewShowsTheEnglishFallback: a step written only in
// Japanese shows in the preview's English box what the English page shows
// (the Japanese text, marked as Japanese), and the preview warns, in the
// operator's language, when English-speaking recipients would be sent the
// Japanese text.
func TestOutputsPreviewShowsTheEnglishFallback(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	catalog, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	signin := strconv.FormatInt(a.demoComponent("Shared services", "Accounts and sign-in"), 10)
	for _, lang := range locale.Languages {
		op := a.client()
		op.login(f.EditorEmail)
		op.speak(lang)
		T := func(id string) string { return catalog.T(lang, id) }

		// A minor incident on shared services emails the registered
		// contacts: one of them reads English.
		op.get("/admin/incidents/new")
		r := op.post("/admin/incidents", url.Values{"title_ja": {"テスト障害"}, "impact": {"minor"}, "status": {"investigating"},
			"body_ja": {"ただいま**調査中**です。"}, "component_" + signin: {"partial_outage"}, "notify": {"1"}, "preview": {"1"}})
		expect(t, r, http.StatusOK, T("preview.title"), "Subject: [Minor incident] Shared services: テスト障害",
			T("preview.fallback_title_mail"), T("preview.fallback_body_mail"))
		en := section(t, r.body, T("preview.message_en"))
		if !strings.Contains(en, "テスト障害") || !strings.Contains(en, "<strong>調査中</strong>") || !strings.Contains(en, `lang="ja"`) {
			t.Errorf("%s: the English box does not show the Japanese title and message as Japanese:\n%s", lang, en)
		}
		expectNot(t, r, T("preview.fallback_title")+"<", T("preview.fallback_body")+"<")

		// Written in both languages: no warning, the English box in English.
		r = op.post("/admin/incidents", url.Values{"title_ja": {"テスト障害"}, "title_en": {"Test incident"}, "impact": {"minor"},
			"status": {"investigating"}, "body_ja": {"調査中です。"}, "body_en": {"We are looking into it."},
			"component_" + signin: {"partial_outage"}, "notify": {"1"}, "preview": {"1"}})
		expect(t, r, http.StatusOK, "Subject: [Minor incident] Shared services: Test incident")
		expectNot(t, r, T("preview.fallback_title_mail"), T("preview.fallback_body_mail"), T("preview.fallback_title"), T("preview.fallback_body"))
		if en := section(t, r.body, T("preview.message_en")); !strings.Contains(en, "We are looking into it.") || !strings.Contains(en, "Test incident") {
			t.Errorf("%s: the English box:\n%s", lang, en)
		}

		// A maintenance step written only in Japanese: the window has an
		// English title, so only the message falls back.
		mid := strconv.FormatInt(f.InProgress, 10)
		op.get("/admin/maintenance/" + mid)
		r = op.post("/admin/maintenance/"+mid+"/updates", url.Values{"status": {"completed"}, "body_ja": {"作業が完了しました。"},
			"notify": {"1"}, "preview": {"1"}})
		expect(t, r, http.StatusOK, T("preview.title"), T("preview.fallback_body_mail"))
		expectNot(t, r, T("preview.fallback_title_mail"), T("preview.fallback_title"))
		if en := section(t, r.body, T("preview.message_en")); !strings.Contains(en, "作業が完了しました。") || !strings.Contains(en, `lang="ja"`) {
			t.Errorf("%s: the English box of the maintenance step is not the Japanese message:\n%s", lang, en)
		}
		// A step that emails nobody still says what the English page shows.
		r = op.post("/admin/maintenance/"+mid+"/updates", url.Values{"status": {"verifying"}, "body_ja": {"確認中です。"},
			"notify": {"1"}, "preview": {"1"}})
		expect(t, r, http.StatusOK, T("preview.silent"), T("preview.fallback_body"))
		expectNot(t, r, T("preview.fallback_body_mail"))
		if en := section(t, r.body, T("preview.message_en")); !strings.Contains(en, "確認中です。") {
			t.Errorf("%s: the English box of a silent step:\n%s", lang, en)
		}
	}
}

// TestOutputsBadgeNamesTheProduct: two products each have a "Plugin
// delivery (CDN)"; their badges must not read alike.
func TestOutputsBadgeNamesTheProduct(t *testing.T) {
	a := newTestServer(t)
	a.seedDemo()
	cal := a.demoComponent("Hidamari Calendar", "Plugin delivery (CDN)")
	rep := a.demoComponent("Hidamari Reports", "Plugin delivery (CDN)")
	c := a.client()
	for _, tc := range []struct {
		lang string
		id   int64
		want string
	}{
		{"ja", cal, "ひだまりカレンダー / プラグイン配信（CDN）: 正常"},
		{"ja", rep, "ひだまり帳票 / プラグイン配信（CDN）: 正常"},
		{"en", cal, "Hidamari Calendar / Plugin delivery (CDN): Operational"},
		{"en", rep, "Hidamari Reports / Plugin delivery (CDN): Operational"},
	} {
		r := c.get("/badge.svg?lang=" + tc.lang + "&component=" + itoa(tc.id))
		expect(t, r, http.StatusOK, `aria-label="`+tc.want+`"`, "<title>"+tc.want+"</title>")
	}
}

// TestOutputsFeedManagingEditor: RSS 2.0's managingEditor is an email
// address (with the name in parentheses); without an address there is
// none, rather than a name alone.
func TestOutputsFeedManagingEditor(t *testing.T) {
	parser := gofeed.NewParser()
	a := newTestServer(t)
	a.seedDemo()
	for _, tc := range []struct {
		contact, want string
	}{
		{"security@example.com", "<managingEditor>security@example.com (ひだまりソフト 障害・メンテナンス情報)</managingEditor>"},
		{"Security Desk <psirt@example.com>", "<managingEditor>psirt@example.com (ひだまりソフト 障害・メンテナンス情報)</managingEditor>"},
		{"https://example.com/security", ""},
		{"", ""},
	} {
		a.app.opts.SecurityContact = tc.contact // between requests, as configuration changes on a restart
		a.app.Changed()
		r := a.client().get("/feed.rss")
		if tc.want == "" {
			expect(t, r, http.StatusOK, "<channel>")
			expectNot(t, r, "managingEditor")
		} else {
			expect(t, r, http.StatusOK, tc.want)
		}
		feed, err := parser.ParseString(r.body)
		if err != nil {
			t.Fatalf("%q: the RSS does not parse: %v", tc.contact, err)
		}
		if tc.want != "" && (len(feed.Authors) == 0 || !strings.Contains(feed.Authors[0].Email, "@")) {
			t.Errorf("%q: the parsed feed has no editor's address: %+v", tc.contact, feed.Authors)
		}
		// Atom still names the site as every entry's author.
		atom, err := parser.ParseString(a.client().get("/feed.atom").body)
		if err != nil || len(atom.Authors) == 0 || atom.Authors[0].Name != "ひだまりソフト 障害・メンテナンス情報" {
			t.Errorf("%q: Atom author: %v %+v", tc.contact, err, atom)
		}
	}
}

var icsDescription = regexp.MustCompile(`(?m)^DESCRIPTION:[^\r\n]*(\r\n [^\r\n]*)*`)

// TestOutputsCalendarDescriptionsArePlainText: iCalendar descriptions are
// plain text (RFC 5545), so the operators' markdown is rendered to text.
func TestOutputsCalendarDescriptionsArePlainText(t *testing.T) {
	a := newTestServer(t)
	a.seedDemo()
	// The database upgrade was announced with "**最大5分程度**".
	for _, tc := range []struct{ lang, want string }{
		{"ja", "ライセンスを確認できないため、最大5分程度、起動に時間がかかる場合がございます。"},
		{"en", "the plugin may take up to about five minutes longer to start."},
	} {
		r := a.client().get("/maintenance.ics?lang=" + tc.lang)
		expect(t, r, http.StatusOK, "BEGIN:VCALENDAR")
		unfolded := strings.ReplaceAll(r.body, "\r\n ", "")
		if !strings.Contains(unfolded, tc.want) {
			t.Errorf("%s: no plain-text description %q:\n%s", tc.lang, tc.want, unfolded)
		}
		for _, d := range icsDescription.FindAllString(r.body, -1) {
			d = strings.ReplaceAll(d, "\r\n ", "")
			if strings.Contains(d, "**") || strings.Contains(d, "](") || strings.Contains(d, "`") {
				t.Errorf("%s: markdown in a calendar description: %s", tc.lang, d)
			}
		}
	}
}

// TestOutputsPreferencesSpeakTheContactsLanguage: a contact's links open in
// the contact's language whatever the browser asks for, unless the visitor
// switches; the unsubscribe page names the address it stops.
func TestOutputsPreferencesSpeakTheContactsLanguage(t *testing.T) {
	a := newTestServer(t)
	a.seedDemo()
	catalog, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tokenOf := func(email string) string {
		addr, err := a.store.Address(ctx, email)
		if err != nil || len(addr.Memberships) == 0 {
			t.Fatalf("%s: %v", email, err)
		}
		return mail.ContactToken(testSecret, addr.Memberships[0].ContactID)
	}
	for _, tc := range []struct {
		email, contactLang, browser string
	}{
		{"e.carter@kaede-shoji.example", "en", "ja"},
		// Chose English for itself, though listed as Japanese.
		{"y.nakamura@blueharbor.example", "en", "ja,en;q=0.5"},
		{"it-support@kaede-shoji.example", "ja", "en-US,en;q=0.9"},
	} {
		tok := tokenOf(tc.email)
		other := "ja"
		if tc.contactLang == "ja" {
			other = "en"
		}
		T := func(lang, id string, args ...any) string { return catalog.T(lang, id, args...) }
		c := a.client()
		c.lang = tc.browser
		// A cookie left by the status page does not decide either.
		u, _ := url.Parse(a.srv.URL)
		c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "lang", Value: other, Path: "/"}})

		r := c.get("/preferences/" + tok)
		expect(t, r, http.StatusOK, `<html lang="`+tc.contactLang+`"`, T(tc.contactLang, "preferences.title"), tc.email)
		r = c.get("/unsubscribe/" + tok)
		expect(t, r, http.StatusOK, `<html lang="`+tc.contactLang+`"`, T(tc.contactLang, "unsubscribe.confirm_address", "Email", tc.email),
			T(tc.contactLang, "unsubscribe.button"))

		// Switching with the language links holds for the page and the
		// form it posts.
		r = c.get("/preferences/" + tok + "?lang=" + other)
		expect(t, r, http.StatusOK, `<html lang="`+other+`"`, T(other, "preferences.title"), `action="/preferences/`+tok+`?lang=`+other+`"`)
		r = c.post("/preferences/"+tok+"?lang="+other, url.Values{"lang": {tc.contactLang}})
		expect(t, r, http.StatusOK, `<html lang="`+other+`"`, T(other, "preferences.saved"))
		expect(t, c.get("/unsubscribe/"+tok+"?lang="+other), http.StatusOK, `<html lang="`+other+`"`,
			T(other, "unsubscribe.confirm_address", "Email", tc.email))

		// Saved without switching: the page answers in the language it was
		// shown in.
		fresh := a.client()
		fresh.lang = tc.browser
		fresh.get("/preferences/" + tok)
		expect(t, fresh.post("/preferences/"+tok, url.Values{"lang": {tc.contactLang}}), http.StatusOK,
			`<html lang="`+tc.contactLang+`"`, T(tc.contactLang, "preferences.saved"))
	}

	// The one-click POST from a mail client, and the page it answers with,
	// in the contact's language, naming the address.
	tok := tokenOf("e.carter@kaede-shoji.example")
	c := a.client()
	c.lang = "ja"
	r := c.postRaw("/unsubscribe/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}})
	expect(t, r, http.StatusOK, `<html lang="en"`, catalog.T("en", "unsubscribe.done_address", "Email", "e.carter@kaede-shoji.example"))
	expect(t, c.get("/unsubscribe/"+tok), http.StatusOK, `<html lang="en"`,
		catalog.T("en", "unsubscribe.done_address", "Email", "e.carter@kaede-shoji.example"))
}
