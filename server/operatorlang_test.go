package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/jobs"
)

// TestOperatorLanguageConsole: an operator chooses English on the account
// page (audited); the console then speaks English whatever the browser
// asks for, and still does after signing out and in again; hostile
// values are refused with a clear error and save nothing; the public page
// keeps following the visitor; no console page may be stored.
func TestOperatorLanguageConsole(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	ctx := context.Background()
	ed := a.client()
	ed.lang = "ja"
	ed.login("editor@example.com")
	r := ed.get("/admin/account")
	expect(t, r, http.StatusOK, `<html lang="ja">`, "表示言語", `<option value="ja" lang="ja" selected>日本語</option>`, `<option value="en" lang="en">English</option>`)

	// Hostile values: refused in the page's language, nothing saved.
	for _, bad := range []string{"fr", "EN", "en-US", " en", "en\x00", "<script>alert(1)</script>", "", strings.Repeat("e", 5000)} {
		r := ed.post("/admin/account/lang", url.Values{"lang": {bad}})
		expect(t, r, http.StatusBadRequest)
		if bad != "en\x00" { // a NUL is refused before the form by the input filter
			expect(t, r, http.StatusBadRequest, "この言語は選べません。「日本語」か「English」を選んでください。")
		}
		expectNot(t, r, "<script>alert(1)</script>")
		if op, _ := a.store.OperatorByEmail(ctx, "editor@example.com"); op.Lang != "ja" {
			t.Fatalf("%q saved as %q", bad, op.Lang)
		}
	}
	r = ed.post("/admin/account/lang", url.Values{"lang": {"en"}, "csrf": {"forged"}})
	if r.code != http.StatusForbidden {
		t.Fatalf("a forged CSRF token: %d", r.code)
	}
	if op, _ := a.store.OperatorByEmail(ctx, "editor@example.com"); op.Lang != "ja" {
		t.Fatalf("saved without CSRF: %q", op.Lang)
	}

	expect(t, ed.post("/admin/account/lang", url.Values{"lang": {"en"}}), http.StatusSeeOther)
	r = ed.get("/admin/account")
	expect(t, r, http.StatusOK, `<html lang="en">`, "Saved.", `<option value="en" lang="en" selected>English</option>`)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("console page Cache-Control %q", cc)
	}
	// The choice is audited with what it was before.
	admin := a.client()
	admin.login("admin@example.com")
	expect(t, admin.get("/admin/audit"), http.StatusOK, "account.lang")
	// The admin (Japanese) sees the editor's language in the list, and
	// their own console stays Japanese.
	r = admin.get("/admin/operators")
	expect(t, r, http.StatusOK, `<html lang="ja">`, "<th>言語</th>", "<td>English</td>")

	// Every console page in English, though the browser asks for Japanese
	// (Accept-Language) and even names it (?lang=ja in a cookie).
	ed.get("/?lang=ja")
	for _, p := range []string{"/admin", "/admin/incidents", "/admin/notifications", "/admin/account"} {
		r := ed.get(p)
		expect(t, r, http.StatusOK, `<html lang="en">`)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("%s: Cache-Control %q", p, cc)
		}
	}
	// Even an error page of the console.
	expect(t, ed.get("/admin/incidents/999999"), http.StatusNotFound, `<html lang="en">`)

	// The public page follows the visitor, signed in or not.
	expect(t, ed.get("/"), http.StatusOK, `<html lang="ja">`)
	expect(t, ed.get("/?lang=en"), http.StatusOK, `<html lang="en">`)
	ed.get("/?lang=ja")
	expect(t, ed.get("/"), http.StatusOK, `<html lang="ja">`)
	anon := a.client()
	anon.lang = "en"
	expect(t, anon.get("/"), http.StatusOK, `<html lang="en">`)

	// Signing out and in again keeps it; the sign-in page itself follows
	// the browser, as nobody is known yet.
	expect(t, ed.post("/admin/logout", nil), http.StatusSeeOther)
	expect(t, ed.get("/admin/login"), http.StatusOK, `<html lang="ja">`)
	ed.login("editor@example.com")
	expect(t, ed.get("/admin"), http.StatusOK, `<html lang="en">`)
	// A second browser of theirs too.
	other := a.client()
	other.lang = "ja"
	other.login("editor@example.com")
	expect(t, other.get("/admin"), http.StatusOK, `<html lang="en">`)

	// Back to Japanese, in the same way.
	expect(t, ed.post("/admin/account/lang", url.Values{"lang": {"ja"}}), http.StatusSeeOther)
	expect(t, ed.get("/admin"), http.StatusOK, `<html lang="ja">`)
	expect(t, other.get("/admin"), http.StatusOK, `<html lang="ja">`)
}

// TestOperatorLanguageAlerts: a monitor's alert reaches an operator who
// reads English in English and one who reads Japanese in Japanese, by
// email through a real SMTP server; an operators' channel is written in
// the language set for it.
func TestOperatorLanguageAlerts(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	_, cdn, _ := a.seedCatalog()
	ctx := context.Background()
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.post("/admin/account/lang", url.Values{"lang": {"en"}}), http.StatusSeeOther)

	// Operators' channels, one per language (they have no owner: each is
	// given its language when added).
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	enHook := newEndpoint(t, func(string) (int, string) { return 202, "" })
	jaHook := newEndpoint(t, func(string) (int, string) { return 202, "" })
	admin := a.client()
	admin.login("admin@example.com")
	// The form offers the admin's own language first.
	expect(t, admin.get("/admin/alerts"), http.StatusOK, `<html lang="ja">`)
	expect(t, admin.post("/admin/alerts", url.Values{"kind": {"teams"}, "url": {enHook.URL}, "lang": {"en"}}), http.StatusSeeOther)
	expect(t, admin.post("/admin/alerts", url.Values{"kind": {"teams"}, "url": {jaHook.URL}, "lang": {"ja"}}), http.StatusSeeOther)

	if _, err := a.store.Signal(ctx, data.Signal{ComponentID: cdn, Source: "monitor:test", Status: data.MajorOutage, Detail: "HTTP 503"}); err != nil {
		t.Fatal(err)
	}
	got := rig.deliver()
	en, ja := got["editor@example.com"], got["admin@example.com"]
	if len(en) != 1 || len(ja) != 1 {
		t.Fatalf("alert emails: %d to the editor, %d to the admin (%v)", len(en), len(ja), got)
	}
	enSubj, enBody := decodedMail(t, en[0])
	jaSubj, jaBody := decodedMail(t, ja[0])
	if enSubj != "[Monitoring: down] Delivery CDN: major outage" && !strings.Contains(enSubj, "Delivery CDN") {
		t.Fatalf("English operator's subject %q", enSubj)
	}
	for _, want := range []string{"The automatic status went from operational to major outage.", "You receive this as an operator"} {
		if !strings.Contains(enBody, want) {
			t.Fatalf("English operator's alert lacks %q:\n%s", want, enBody)
		}
	}
	if regexp.MustCompile(`[ぁ-んァ-ン]`).MatchString(enSubj) {
		t.Fatalf("English operator's subject is Japanese: %q", enSubj)
	}
	if !strings.Contains(jaSubj, "配信CDN") || !strings.Contains(jaBody, "自動判定の状態が「正常」から「重大な障害」に変わりました。") {
		t.Fatalf("Japanese operator's alert %q:\n%s", jaSubj, jaBody)
	}

	sender := jobs.NewChannelSender(a.store, a.app.opts.Outbound, a.app.opts.Channels, jobs.ChannelOptions{Now: a.clock.Now, Manage: a.app.ChannelManageURL},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if st, err := sender.Sweep(ctx); err != nil || st.Sent != 2 {
		t.Fatalf("channel sweep %+v %v", st, err)
	}
	// Each got its verification message, then the alert.
	if len(enHook.bodies) != 2 || !strings.Contains(enHook.bodies[1], "Delivery CDN: major outage") || strings.Contains(enHook.bodies[1], "配信CDN") {
		t.Fatalf("English operators' channel: %v", enHook.bodies)
	}
	if len(jaHook.bodies) != 2 || !strings.Contains(jaHook.bodies[1], "配信CDN") || !strings.Contains(jaHook.bodies[1], "自動判定の状態") {
		t.Fatalf("Japanese operators' channel: %v", jaHook.bodies)
	}

	// The editor goes back to Japanese: the next alert follows.
	expect(t, ed.post("/admin/account/lang", url.Values{"lang": {"ja"}}), http.StatusSeeOther)
	if _, err := a.store.Signal(ctx, data.Signal{ComponentID: cdn, Source: "monitor:test", Status: data.Operational}); err != nil {
		t.Fatal(err)
	}
	got = rig.deliver()
	if len(got["editor@example.com"]) != 1 {
		t.Fatalf("recovery alerts %v", got)
	}
	if subj, _ := decodedMail(t, got["editor@example.com"][0]); !strings.Contains(subj, "配信CDN") {
		t.Fatalf("the editor's recovery alert after choosing Japanese: %q", subj)
	}
}

// TestOperatorLanguageInvitation: the admin chooses the new operator's
// language when inviting; the invitation page speaks it and offers it;
// the operator created reads it; a hostile value creates nothing.
func TestOperatorLanguageInvitation(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	admin := a.client()
	admin.login("admin@example.com")
	r := admin.get("/admin/operators/new")
	expect(t, r, http.StatusOK, `name="lang"`, `<option value="ja" selected>日本語</option>`, `<option value="en">English</option>`)
	for _, bad := range []string{"de", "ja'--", "english", "EN"} {
		r := admin.post("/admin/operators", url.Values{"email": {"new@example.com"}, "role": {"editor"}, "lang": {bad}})
		expect(t, r, http.StatusBadRequest, "この言語は選べません。")
	}
	if invs, _ := a.store.Invitations(ctx); len(invs) != 0 {
		t.Fatalf("a refused invitation was saved: %+v", invs)
	}
	r = admin.post("/admin/operators", url.Values{"email": {"new@example.com"}, "role": {"editor"}, "lang": {"en"}})
	expect(t, r, http.StatusOK)
	m := regexp.MustCompile(`http://status.example.com(/admin/invite/[A-Za-z0-9_.-]+)`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no invitation link:\n%s", r.body)
	}
	link := m[1]
	if invs, _ := a.store.Invitations(ctx); len(invs) != 1 || invs[0].Lang != "en" {
		t.Fatalf("invitations %+v", invs)
	}
	// The invitee's browser asks for Japanese: the page is in the chosen
	// English, and English is preselected.
	inv := a.client()
	inv.lang = "ja"
	r = inv.get(link)
	expect(t, r, http.StatusOK, `<html lang="en">`, `<option value="en" selected>English</option>`)
	// A hostile value on the acceptance uses nothing up.
	r = inv.post(link, url.Values{"name": {"New"}, "new": {"a long enough passphrase 42"}, "confirm": {"a long enough passphrase 42"}, "lang": {"xx"}})
	expect(t, r, http.StatusBadRequest, "That language is not available.")
	if _, err := a.store.OperatorByEmail(ctx, "new@example.com"); err == nil {
		t.Fatal("an operator was created with a refused language")
	}
	r = inv.post(link, url.Values{"name": {"New"}, "new": {"a long enough passphrase 42"}, "confirm": {"a long enough passphrase 42"}, "lang": {"en"}})
	expect(t, r, http.StatusSeeOther)
	op, err := a.store.OperatorByEmail(ctx, "new@example.com")
	if err != nil || op.Lang != "en" {
		t.Fatalf("new operator %+v %v", op, err)
	}
	expect(t, inv.get("/admin"), http.StatusOK, `<html lang="en">`)
	expect(t, admin.get("/admin/operators"), http.StatusOK, "<td>English</td>")
}

// decodedMail is a received message's subject and text, decoded.
func decodedMail(t *testing.T, m *mail.Message) (string, string) {
	t.Helper()
	return subject(t, m), textOf(t, m)
}
