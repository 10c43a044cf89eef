package server

import (
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
