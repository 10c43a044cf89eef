package server

import (
	"net"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSSOBrowserSignIn signs an operator in through the provider's own
// login form in headless Chromium, in Japanese and in English; the login
// page passes axe with single sign-on, with break-glass (folded and
// open), and while the provider cannot be reached.
func TestSSOBrowserSignIn(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	run := browserRun(t, ctx)
	css := func(q string) chromedp.CSS { return chromedp.CSS(q) }
	idp := newTestIdP(t)
	idp.user("u-editor", "editor@example.com", true, nil)

	for _, tc := range []struct{ lang, button, console string }{
		{"ja", "Example ID でログイン", "ダッシュボード"},
		{"en", "Sign in with Example ID", "Dashboard"},
	} {
		a := newSSOTestServer(t, idp, nil)
		base := a.srv.URL
		if tc.lang == "en" {
			a.store.SetOperatorLang(t.Context(), a.operator("editor@example.com").ID, "en")
		}
		run("login page "+tc.lang, chromedp.Navigate(base+"/admin/login?lang="+tc.lang+"&next=/admin"), chromedp.WaitVisible(css(".sso-button")))
		mustContain(t, ctx, "login page "+tc.lang, tc.button)
		checkA11y(t, ctx, axe, "login page with single sign-on, "+tc.lang)
		shoot(t, ctx, "sso-login-"+tc.lang)
		run("to the provider "+tc.lang, chromedp.Click(css(".sso-button")), chromedp.WaitVisible(css("#username")))
		run("sign in at the provider "+tc.lang, chromedp.SendKeys(css("#username"), "u-editor"), chromedp.SendKeys(css("#password"), idpPassword),
			chromedp.Submit(css("#password")), chromedp.WaitVisible(css("nav.console-nav")))
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil || !strings.HasPrefix(loc, base+"/admin") {
			t.Fatalf("%s: signed in at %q (%v)", tc.lang, loc, err)
		}
		mustContain(t, ctx, "console "+tc.lang, tc.console)
		checkA11y(t, ctx, axe, "console after single sign-on, "+tc.lang)
		shoot(t, ctx, "sso-console-"+tc.lang)
	}

	// Break-glass: the password form folded under the provider's button.
	for _, lang := range []string{"ja", "en"} {
		a := newSSOTestServer(t, idp, func(o *SSOOptions) { o.BreakGlass = []string{"admin@example.com"} })
		base := a.srv.URL
		run("break-glass "+lang, chromedp.Navigate(base+"/admin/login?lang="+lang), chromedp.WaitVisible(css(".sso-button")))
		checkA11y(t, ctx, axe, "login page with break-glass, "+lang)
		shoot(t, ctx, "sso-break-glass-"+lang)
		run("open break-glass "+lang, chromedp.Click(css("details.break-glass > summary")), chromedp.WaitVisible(css(`[name="password"]`)))
		checkA11y(t, ctx, axe, "login page with break-glass open, "+lang)
		shoot(t, ctx, "sso-break-glass-open-"+lang)
		// An editor's password is refused, saying why, the form left open.
		run("editor refused "+lang, chromedp.SendKeys(css(`[name="email"]`), "editor@example.com"),
			chromedp.SendKeys(css(`[name="password"]`), "correct horse battery"), chromedp.Submit(css(`[name="password"]`)),
			chromedp.WaitVisible(css(`details.break-glass[open] .form-error`)))
		checkA11y(t, ctx, axe, "break-glass refusal, "+lang)
		shoot(t, ctx, "sso-break-glass-refused-"+lang)
		run("break-glass admin "+lang, chromedp.SetValue(css(`[name="email"]`), "admin@example.com"),
			chromedp.SetValue(css(`[name="password"]`), "correct horse battery"), chromedp.Submit(css(`[name="password"]`)),
			chromedp.WaitVisible(css("nav.console-nav")))
		if es := a.audits("login"); len(es) != 1 || es[0].Changes != `{"break_glass":true,"method":"password"}` {
			t.Fatalf("break-glass sign-in audited as %+v", es)
		}
		run("sign out "+lang, chromedp.Click(css(`form[action="/admin/logout"] button`)), chromedp.WaitVisible(css(".sso-button")))
	}

	// The provider cannot be reached: the page says so, the break-glass
	// way still there.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(idp.issuer, "http://"))
	for _, lang := range []string{"ja", "en"} {
		a := newSSOTestServer(t, idp, func(o *SSOOptions) {
			o.Issuer = "http://localhost:" + port
			o.BreakGlass = []string{"admin@example.com"}
		})
		run("unavailable "+lang, chromedp.Navigate(a.srv.URL+"/admin/login?lang="+lang), chromedp.WaitVisible(css(".sso-button")),
			chromedp.Click(css(".sso-button")), chromedp.WaitVisible(css(".sso-down")))
		checkA11y(t, ctx, axe, "login page while single sign-on is unavailable, "+lang)
		shoot(t, ctx, "sso-unavailable-"+lang)
	}
}
