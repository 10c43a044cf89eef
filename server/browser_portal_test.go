package server

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oshirase/oshirase/data"
)

// TestPortalInTheBrowser: on the demo's whole product, a primary contact
// signs in to the portal with the mailed link (in the browser that asked),
// reads their contracts, adds and removes an additional contact, and reads
// the month's availability report, in both languages; every page passes
// axe and is photographed at desktop and phone widths.
func TestPortalInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	a.seedDemo()
	rig := a.withSMTP()
	rig.deliver()
	contracts, _, err := a.store.Contracts(context.Background(), data.ContractFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var k *data.Contract
	email := ""
	for i := range contracts {
		for _, ct := range contracts[i].Contacts {
			if ct.Role == data.RolePrimary && contracts[i].Active && !contracts[i].PortalDisabled && email == "" {
				k, email = &contracts[i], ct.Email
			}
		}
	}
	if k == nil {
		t.Fatal("the demo has no primary contact")
	}
	id := strconv.FormatInt(k.ID, 10)
	run := browserRun(t, ctx)
	base := a.srv.URL

	run("sign-in form", chromedp.Navigate(base+"/my?lang=ja"), chromedp.WaitVisible(formField("email")))
	checkA11y(t, ctx, axe, "portal sign-in")
	shoot(t, ctx, "portal-login-ja")
	run("ask for a link", chromedp.SendKeys(formField("email"), email), chromedp.Submit(formField("email")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	mustContain(t, ctx, "link sent", "ログイン用のリンクをお送りしました")
	checkA11y(t, ctx, axe, "portal link sent")
	got := rig.deliver()[email]
	if len(got) != 1 {
		t.Fatalf("%s got %d emails", email, len(got))
	}
	link := portalLinkRe.FindStringSubmatch(textOf(t, got[0]))
	if link == nil {
		t.Fatal("no link in the email")
	}
	run("open the link", chromedp.Navigate(base+link[1]), chromedp.WaitVisible(chromedp.CSS(`form button.primary`)))
	checkA11y(t, ctx, axe, "portal link page")
	run("sign in", chromedp.Click(chromedp.CSS(`form button.primary`)), chromedp.WaitVisible(chromedp.CSS(`.portal-head`)))
	for _, lang := range []string{"ja", "en"} {
		run("home "+lang, chromedp.Navigate(base+"/my?lang="+lang), chromedp.WaitVisible(chromedp.CSS(`.portal-head`)))
		mustContain(t, ctx, "home "+lang, k.Name)
		checkA11y(t, ctx, axe, "portal home "+lang)
		shoot(t, ctx, "portal-home-"+lang)
		run("report "+lang, chromedp.Navigate(base+"/my/contracts/"+id+"/sla?lang="+lang), chromedp.WaitVisible(chromedp.CSS(`.report-head`)))
		checkA11y(t, ctx, axe, "portal report "+lang)
		shoot(t, ctx, "portal-report-"+lang)
	}
	run("contacts", chromedp.Navigate(base+"/my/contracts/"+id+"/contacts?lang=ja"), chromedp.WaitVisible(formField("email")),
		chromedp.SendKeys(formField("name"), "ブラウザ 太郎"), chromedp.SendKeys(formField("email"), "browser-added@example.com"),
		chromedp.Submit(formField("email")), chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	mustContain(t, ctx, "contact added", "browser-added@example.com", "メールアドレスの確認待ち")
	checkA11y(t, ctx, axe, "portal contacts")
	shoot(t, ctx, "portal-contacts-ja")
	run("remove asks", chromedp.Click(chromedp.CSS(`button.link.danger`)), chromedp.WaitReady(chromedp.CSS(`input[name="confirm"]`)))
	mustContain(t, ctx, "remove asks", "追加連絡先から削除しますか")
	checkA11y(t, ctx, axe, "portal remove confirmation")
	shoot(t, ctx, "portal-remove-ja")
}
