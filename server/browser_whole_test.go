package server

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oshirase/oshirase/data"
)

// TestStaleNoticesInTheBrowser: while the status page cannot be rendered,
// a customer sees the last good copy with its out-of-date notice, and an
// operator sees the red banner on every console page; both pass axe, in
// both languages, and are photographed.
func TestStaleNoticesInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	op := a.client()
	op.login("editor@example.com")
	for _, lang := range []string{"ja", "en"} {
		expect(t, a.client().get("/?lang="+lang), 200) // the good copies
	}
	restore := breakTemplate(t, a, "status")
	defer restore()
	declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, false, nil)
	run := browserRun(t, ctx)
	wants := map[string]string{"ja": "時点の情報です", "en": "This page shows the status as of"}
	for _, lang := range []string{"ja", "en"} {
		run("stale page", chromedp.Navigate(a.srv.URL+"/?lang="+lang), chromedp.WaitVisible(chromedp.CSS(".stale-banner")))
		mustContain(t, ctx, "stale page "+lang, wants[lang])
		checkA11y(t, ctx, axe, "stale page "+lang)
		shoot(t, ctx, "stale-status-"+lang)
	}
	signIn(t, ctx, a.srv.URL, "admin@example.com")
	banner := map[string]string{"ja": "公開ページを作成できていません", "en": "The public pages cannot be rendered"}
	for _, lang := range []string{"ja", "en"} {
		run("console", chromedp.Navigate(a.srv.URL+"/admin?lang="+lang), chromedp.WaitVisible(chromedp.CSS(".render-banner")))
		mustContain(t, ctx, "console "+lang, banner[lang])
		checkA11y(t, ctx, axe, "console render banner "+lang)
		shoot(t, ctx, "console-render-failing-"+lang)
	}
}

// TestDemoInTheBrowser: the demo's whole product, every feature in use,
// passes axe on every public page and on each console page (one of each
// route, in both languages); the publish preview shows the customer email
// of each language with every channel kind configured. The pages people
// judge first are photographed.
func TestDemoInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	f := a.seedDemo()
	run := browserRun(t, ctx)
	probe := a.client()
	probe.login(f.AdminEmail)
	html := func(p demoPage) bool {
		if p.code != http.StatusOK || strings.Contains(p.path, "/html/") {
			return false
		}
		r := probe.get(p.path)
		return r.code == http.StatusOK && strings.HasPrefix(r.header.Get("Content-Type"), "text/html")
	}
	// One page of each shape: ids and tokens stand for their route.
	shape := regexp.MustCompile(`/[0-9]+|/[A-Za-z0-9_-]{20,}`)
	seen := map[string]bool{}
	var public, console []string
	for _, p := range demoPublicPages(t, a, f) {
		if k := shape.ReplaceAllString(p.path, "/:x"); !seen[k] && html(p) {
			seen[k] = true
			public = append(public, p.path)
		}
	}
	for _, p := range demoConsolePages(t, a, f) {
		if k := shape.ReplaceAllString(p.path, "/:x"); !seen[k] && html(p) {
			seen[k] = true
			console = append(console, p.path)
		}
	}
	t.Logf("%d public and %d console pages, in each language", len(public), len(console))
	if len(public) < 10 || len(console) < 40 {
		t.Fatalf("only %d public and %d console pages", len(public), len(console))
	}
	with := func(p, lang string) string {
		if strings.Contains(p, "?") {
			return p + "&lang=" + lang
		}
		return p + "?lang=" + lang
	}
	for _, lang := range []string{"ja", "en"} {
		for _, p := range public {
			run(p, chromedp.Navigate(a.srv.URL+with(p, lang)), chromedp.WaitVisible(chromedp.CSS("main")))
			checkA11y(t, ctx, axe, "demo "+lang+" "+p)
		}
		run("status", chromedp.Navigate(a.srv.URL+"/?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		shoot(t, ctx, "demo-status-"+lang)
		run("incident", chromedp.Navigate(a.srv.URL+"/incidents/"+strconv.FormatInt(f.Postmortem, 10)+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		shoot(t, ctx, "demo-incident-"+lang)
	}
	signIn(t, ctx, a.srv.URL, f.AdminEmail)
	for _, lang := range []string{"ja", "en"} {
		for _, p := range console {
			run(p, chromedp.Navigate(a.srv.URL+with(p, lang)), chromedp.WaitVisible(chromedp.CSS("main")))
			checkA11y(t, ctx, axe, "demo console "+lang+" "+p)
		}
		run("dashboard", chromedp.Navigate(a.srv.URL+"/admin?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		shoot(t, ctx, "demo-dashboard-"+lang)
		// Opening a range: a hostile one refused in the admin's language.
		run("outbound", chromedp.Navigate(a.srv.URL+"/admin/outbound?lang="+lang), chromedp.WaitVisible(formField("prefix")),
			chromedp.SendKeys(formField("prefix"), "169.254.169.254"), chromedp.SendKeys(formField("note"), "metadata"),
			chromedp.Submit(formField("prefix")), chromedp.WaitVisible(chromedp.CSS("#e-prefix")))
		checkA11y(t, ctx, axe, "demo outbound refused "+lang)
		shoot(t, ctx, "demo-outbound-"+lang)
		run("account", chromedp.Navigate(a.srv.URL+"/admin/account?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		shoot(t, ctx, "demo-account-"+lang)
		// The publish preview, through the declaration form.
		run("declare", chromedp.Navigate(a.srv.URL+"/admin/incidents/new?lang="+lang), chromedp.WaitVisible(formField("title_ja")),
			chromedp.SendKeys(formField("title_ja"), "ライセンス認証がご利用いただけない状態です"),
			chromedp.SendKeys(formField("title_en"), "Licence checks are failing"),
			chromedp.SendKeys(formField("body_ja"), "現在、原因を調査しております。"),
			chromedp.SendKeys(formField("body_en"), "We are looking into the cause."),
			chromedp.SetValue(formField("component_"+strconv.FormatInt(f.LicenseAPI, 10)), data.MajorOutage),
			chromedp.Click(chromedp.CSS(`button[name="preview"]`)), chromedp.WaitVisible(chromedp.CSS(`pre.mail-text[lang="en"]`)))
		mustContain(t, ctx, "preview "+lang, "ライセンス認証がご利用いただけない状態です", "Licence checks are failing")
		checkA11y(t, ctx, axe, "demo preview "+lang)
		shoot(t, ctx, "demo-preview-"+lang)
	}
}
