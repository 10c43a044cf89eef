package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// newLocalhostServer is newTestServer with the base URL at the listener
// itself, by name: WebAuthn ties passkeys to a host name and refuses an IP
// address, and browsers treat http://localhost as secure.
func newLocalhostServer(t *testing.T) (*testApp, string) {
	t.Helper()
	a := newTestServer(t)
	u, err := url.Parse(a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://localhost:" + u.Port())
	a.app.opts.BaseURL = base
	return a, base.String()
}

// addVirtualAuthenticator gives the browser a platform authenticator
// (as a laptop's fingerprint reader) that keeps passkeys and always
// verifies its user.
func addVirtualAuthenticator(t *testing.T, ctx context.Context) cdpwebauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// waitMain waits until the page's main text holds want (a new page may
// still be loading when asked).
func waitMain(want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(10 * time.Second)
		last := ""
		for time.Now().Before(deadline) {
			txt, err := chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`)(ctx, tg)
			if err == nil && strings.Contains(txt, want) {
				return chromedp.Void{}, nil
			}
			last = txt
			time.Sleep(100 * time.Millisecond)
		}
		return chromedp.Void{}, fmt.Errorf("the page never said %q; it says:\n%s", want, last)
	}
}

// pressEnterOn focuses a control and presses Enter: keyboard only.
func pressEnterOn(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(kb.Enter))
}

// TestPasskeyBrowser: in Chromium with a virtual authenticator, using the
// keyboard only, an admin registers a passkey on the account page, signs
// out, signs in with the passkey alone, then with the password and the
// passkey as second step, renames and removes it; in Japanese and in
// English, every page passing axe-core.
func TestPasskeyBrowser(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a, base := newLocalhostServer(t)
	run := browserRun(t, ctx)
	css := func(q string) chromedp.CSS { return chromedp.CSS(q) }
	addVirtualAuthenticator(t, ctx)
	id := operatorID(t, a, "admin@example.com")

	for _, lang := range []string{"ja", "en"} {
		m := map[string]map[string]string{
			"ja": {"added": "パスキーを登録しました。", "renamed": "パスキーの名前を変更しました。", "removed": "パスキーを削除しました。",
				"none": "登録されているパスキーはありません。", "second": "本人確認", "title": "パスキー"},
			"en": {"added": "The passkey has been registered.", "renamed": "The passkey has been renamed.", "removed": "The passkey has been removed.",
				"none": "No passkeys registered yet.", "second": "Verify it’s you", "title": "Passkeys"},
		}[lang]
		if err := a.store.SetOperatorLang(context.Background(), id, lang); err != nil {
			t.Fatal(err)
		}

		// Register, from the account page.
		signIn(t, ctx, base, "admin@example.com")
		run("account", chromedp.Navigate(base+"/admin/account"), chromedp.WaitVisible(css(`form[data-passkey="register"]`)), waitMain(m["none"]))
		checkA11y(t, ctx, axe, lang+" account page without passkeys")
		shoot(t, ctx, "passkey-account-empty-"+lang)
		name := map[string]string{"ja": "業務用ノートPC", "en": "Work laptop"}[lang]
		run("register", chromedp.Clear(formField("passkey_name")), chromedp.SendKeys(formField("passkey_name"), name),
			chromedp.SendKeys(formField("passkey_password"), "correct horse battery"), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css("li.card.passkey")), waitMain(m["added"]))
		mustContain(t, ctx, "after registering", name)
		// The first passkey, without an authenticator app, comes with
		// recovery codes, shown once: the way in if the device is lost.
		var codes []string
		if lang == "ja" {
			mustContain(t, ctx, "after registering", "リカバリーコード", "パスキーを使えなくなったとき")
			text, err := chromedp.Run(ctx, chromedp.Text(css("pre.sample")))
			if codes = strings.Fields(text); err != nil || len(codes) != 10 {
				t.Fatalf("recovery codes %q (%v)", text, err)
			}
		}
		checkA11y(t, ctx, axe, lang+" account page with a passkey")
		shoot(t, ctx, "passkey-account-"+lang)
		if !hasAudit(t, a, "account.passkey_added", name) {
			t.Fatalf("%s: the new passkey is not in the audit trail", lang)
		}

		// Sign out, then in with the passkey alone.
		run("sign out", pressEnterOn(`form[action="/admin/logout"] button`), chromedp.WaitVisible(formField("email")))
		run("login page", chromedp.Navigate(base+"/admin/login?lang="+lang), chromedp.WaitVisible(css(`[data-passkey="login"] button`)))
		checkA11y(t, ctx, axe, lang+" login page")
		shoot(t, ctx, "passkey-login-"+lang)
		run("passkey sign-in", pressEnterOn(`[data-passkey="login"] button`), chromedp.WaitVisible(css("nav.console-nav")))
		if !hasAudit(t, a, "login", `"method":"passkey"`) {
			t.Fatalf("%s: the passkey sign-in is not in the audit trail", lang)
		}

		// With the password, the passkey is the second step.
		run("sign out", pressEnterOn(`form[action="/admin/logout"] button`), chromedp.WaitVisible(formField("email")))
		run("password", chromedp.Navigate(base+"/admin/login?lang="+lang), chromedp.WaitVisible(formField("email")),
			chromedp.SendKeys(formField("email"), "admin@example.com"), chromedp.SendKeys(formField("password"), "correct horse battery"),
			chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css(`[data-passkey="second"] button`)), waitMain(m["second"]))
		checkA11y(t, ctx, axe, lang+" second step")
		shoot(t, ctx, "passkey-2fa-"+lang)
		run("second step", pressEnterOn(`[data-passkey="second"] button`), chromedp.WaitVisible(css("nav.console-nav")))
		if !hasAudit(t, a, "login", `"second_factor":true`) {
			t.Fatalf("%s: the second step is not in the audit trail", lang)
		}
		if len(codes) > 0 {
			// A lost device: a recovery code instead of the passkey.
			run("sign out", pressEnterOn(`form[action="/admin/logout"] button`), chromedp.WaitVisible(formField("email")))
			run("password again", chromedp.Navigate(base+"/admin/login?lang="+lang), chromedp.WaitVisible(formField("email")),
				chromedp.SendKeys(formField("email"), "admin@example.com"), chromedp.SendKeys(formField("password"), "correct horse battery"),
				chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css(`details.break-glass summary`)))
			run("open the recovery form", chromedp.Click(css("details.break-glass summary")), chromedp.WaitVisible(css(`details.break-glass [name=code]`)))
			checkA11y(t, ctx, axe, lang+" second step with the recovery form")
			shoot(t, ctx, "passkey-recovery-"+lang)
			run("recovery code", chromedp.SendKeys(css(`details.break-glass [name=code]`), codes[0]),
				chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css("nav.console-nav")))
			if !hasAudit(t, a, "login.recovery_code", "") {
				t.Fatal("the recovery code sign-in is not in the audit trail")
			}
		}

		// Rename and remove, from the list.
		renamed := name + " 2"
		run("rename", chromedp.Navigate(base+"/admin/account"), chromedp.WaitVisible(css(".passkey-rename input[name=name]")),
			chromedp.Focus(css(".passkey-rename input[name=name]")), chromedp.KeyEvent(kb.End), chromedp.KeyEvent(" 2"), chromedp.KeyEvent(kb.Enter),
			waitMain(m["renamed"]))
		mustContain(t, ctx, "after renaming", renamed)
		// The console asks first (window.confirm); the test says yes.
		run("remove", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
			pressEnterOn(`form[action$="/delete"] button`), waitMain(m["removed"]))
		mustContain(t, ctx, "after removing", m["none"])
		checkA11y(t, ctx, axe, lang+" account page after removing")
		if !hasAudit(t, a, "account.passkey_removed", renamed) {
			t.Fatalf("%s: the removal is not in the audit trail", lang)
		}
		// The authenticator still holds the passkey; the site no longer
		// knows it, and says so.
		run("sign out", pressEnterOn(`form[action="/admin/logout"] button`), chromedp.WaitVisible(formField("email")))
		run("removed passkey", chromedp.Navigate(base+"/admin/login?lang="+lang), chromedp.WaitVisible(css(`[data-passkey="login"] button`)),
			pressEnterOn(`[data-passkey="login"] button`),
			chromedp.Poll[chromedp.Void](`document.querySelector("[data-passkey-status]").classList.contains("form-error")`, chromedp.WithPollingTimeout(10*time.Second)))
		checkA11y(t, ctx, axe, lang+" login page with an error")
		shoot(t, ctx, "passkey-login-error-"+lang)
		msg, err := chromedp.Run(ctx, chromedp.Text(css("[data-passkey-status]")))
		if err != nil || !strings.Contains(msg, map[string]string{"ja": "登録されていません", "en": "not registered"}[lang]) {
			t.Fatalf("%s: the status says %q (%v)", lang, msg, err)
		}
		if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('[data-passkey="login"] button')`)); !focused {
			t.Errorf("%s: the button lost the focus after the error", lang)
		}
	}
}
