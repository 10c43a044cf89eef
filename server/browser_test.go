package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"net/url"

	"github.com/chromedp/chromedp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

// The browser tests drive a real headless Chromium through the flows that
// matter and run axe-core (the accessibility engine browsers' own tools
// use) on every page they pass. CI sets OSHIRASE_REQUIRE_BROWSER=1 and
// installs Chromium and axe-core, so there they can never be skipped; on a
// developer's machine without Chromium they are.

// axeScript finds axe.min.js: OSHIRASE_AXE, else the copy .ci/run installs.
func axeScript(t *testing.T) string {
	t.Helper()
	paths := []string{os.Getenv("OSHIRASE_AXE"), "../.ci/node/node_modules/axe-core/axe.min.js"}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
	}
	skipOrFail(t, "axe-core not found (npm install --prefix .ci/node axe-core@4, or set OSHIRASE_AXE)")
	return ""
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("OSHIRASE_REQUIRE_BROWSER") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// newBrowser starts headless Chromium for one test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("OSHIRASE_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		skipOrFail(t, "Chromium not found (apt-get install chromium, or set OSHIRASE_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// A bound for a hung browser, not a speed check: the demo walk visits
	// about 200 pages with axe on each, slower on PostgreSQL and on a
	// machine running other packages' tests at the same time.
	ctx, cancel3 := context.WithTimeout(ctx, 12*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

type axeResult struct {
	Violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	} `json:"violations"`
}

// checkA11y runs axe-core on the page shown and fails on any WCAG 2.1 A or
// AA violation.
func checkA11y(t *testing.T, ctx context.Context, axe, where string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axe)); err != nil {
		t.Fatalf("%s: load axe: %v", where, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r => JSON.stringify(r))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe: %v", where, err)
	}
	var res axeResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("%s: axe result: %v", where, err)
	}
	for _, v := range res.Violations {
		var targets []string
		for _, n := range v.Nodes {
			targets = append(targets, fmt.Sprint(n.Target...))
		}
		t.Errorf("%s: accessibility: %s (%s): %s — %s", where, v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
	}
}

// shoot saves a full-page screenshot at a desktop and a phone width when
// OSHIRASE_SCREENSHOTS names a folder (for people to look at; CI does not).
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("OSHIRASE_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, w := range []int64{1280, 390} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), img, 0o644)
	}
	chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900))
}

func textOfPage(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustContain(t *testing.T, ctx context.Context, where string, wants ...string) {
	t.Helper()
	s := textOfPage(t, ctx)
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Fatalf("%s: page lacks %q\n%s", where, w, s)
		}
	}
}

// browserRun returns a function that runs actions in the browser and stops
// the test, naming the step, when one fails.
func browserRun(t *testing.T, ctx context.Context) func(string, ...chromedp.Action[chromedp.Void]) {
	return func(where string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
	}
}

// formField selects a form control by name.
func formField(name string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[name="%s"]`, name)) }

// signIn signs an operator in through the sign-in form.
func signIn(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	browserRun(t, ctx)("sign in", chromedp.Navigate(base+"/admin/login?lang=ja"), chromedp.WaitVisible(formField("email")),
		chromedp.SendKeys(formField("email"), email), chromedp.SendKeys(formField("password"), "correct horse battery"),
		chromedp.Submit(formField("password")), chromedp.WaitVisible(chromedp.CSS("nav.console-nav")))
}

// TestBrowserFlows: an operator declares, updates and resolves an incident;
// a customer reads it in both languages, subscribes, and a contract contact
// sets their preferences; every page passes axe-core.
func TestBrowserFlows(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	a.withMail(true)
	// The flows run on the whole product, every feature in use, with the
	// flow's own product and contract added to it.
	a.seedDemo()
	p, cdn, _ := a.seedCatalog()
	k := a.contractWith("K-012", []int64{p}, map[string]string{"both@example.com": "primary/ja", "extra@example.com": "additional/ja"})
	base := a.srv.URL
	run := func(where string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
	}
	// waitText waits until the page's main text holds want: after a form is
	// sent, the old page (with its own flash) is still there for a moment,
	// and while the new one loads evaluating anything fails; so it asks again.
	waitText := func(want string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				txt, err := chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`)(ctx, tg)
				if err == nil && strings.Contains(txt, want) {
					return chromedp.Void{}, nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			return chromedp.Void{}, fmt.Errorf("the page never said %q", want)
		}
	}
	field := func(name string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[name="%s"]`, name)) }
	css := func(q string) chromedp.CSS { return chromedp.CSS(q) }

	// Sign in.
	run("sign in", chromedp.Navigate(base+"/admin/login?lang=ja"), chromedp.WaitVisible(field("email")))
	checkA11y(t, ctx, axe, "sign-in page")
	run("sign in", chromedp.SendKeys(field("email"), "editor@example.com"),
		chromedp.SendKeys(field("password"), "correct horse battery"),
		chromedp.Submit(field("password")), chromedp.WaitVisible(css(".console-nav")))
	checkA11y(t, ctx, axe, "dashboard")
	shoot(t, ctx, "dashboard-ja")

	// While the relay refuses mail, every console page says so.
	a.store.SetRelayTrouble(context.Background(), data.RelayTrouble{Stage: "AUTH", Code: 535, Message: "535 5.7.8 Authentication credentials invalid",
		Since: a.clock.Now(), RetryAt: a.clock.Now().Add(30 * time.Second)})
	run("relay banner", chromedp.Navigate(base+"/admin"), waitText("メールサーバーが送信を受け付けていません"))
	checkA11y(t, ctx, axe, "dashboard with the relay banner")
	shoot(t, ctx, "dashboard-relay-ja")
	a.store.ClearRelayTrouble(context.Background())

	// With the database down, the console answers with a clear 503.
	a.store.SetFault(func(context.Context, bool) error { return data.ErrUnavailable })
	run("database down", chromedp.Navigate(base+"/admin/incidents/new"), waitText("データベースに接続できません"))
	checkA11y(t, ctx, axe, "console while the database is down")
	shoot(t, ctx, "console-503-ja")
	a.store.SetFault(nil)

	// An incident template, made in the console and used in one choice.
	run("template", chromedp.Navigate(base+"/admin/templates/new"), chromedp.WaitVisible(field("name")),
		chromedp.SendKeys(field("name"), "CDN遅延"),
		chromedp.SendKeys(field("title_ja"), "配信CDNで表示が遅くなっています"),
		chromedp.SendKeys(field("body_ja"), "現在、原因を調査しています。"),
		chromedp.Click(css(`form[action="/admin/templates"] button.primary`)), waitText("テンプレートを保存しました"))
	checkA11y(t, ctx, axe, "template form")
	shoot(t, ctx, "template-ja")
	run("templates", chromedp.Navigate(base+"/admin/templates"), waitText("CDN遅延"))
	checkA11y(t, ctx, axe, "templates list")
	shoot(t, ctx, "templates-ja")

	// Usage, counted from an access log of a few public requests.
	rec := a.withAccessLog(nil)
	for _, path := range []string{"/", "/", "/history", "/api/v2/summary.json", "/feed.atom", "/incidents/999"} {
		if res, err := http.Get(base + path); err == nil {
			res.Body.Close()
		}
	}
	rec.Flush()
	run("usage", chromedp.Navigate(base+"/admin/usage"), waitText("よく見られているページ"))
	mustContain(t, ctx, "usage", "日ごとのファイルで保存しています", "GET /api/v2/summary.json")
	checkA11y(t, ctx, axe, "usage")
	shoot(t, ctx, "usage-ja")
	run("usage in English", chromedp.Navigate(base+"/admin/usage?lang=en"), waitText("Top pages"))
	checkA11y(t, ctx, axe, "usage in English")
	shoot(t, ctx, "usage-en")
	run("back to Japanese", chromedp.Navigate(base+"/admin?lang=ja"), chromedp.WaitVisible(css(".console-nav")))

	// Declare: the form counts who will be emailed as it is filled in.
	run("declare", chromedp.Navigate(base+"/admin/incidents/new"), chromedp.WaitVisible(field("title_ja")),
		chromedp.SendKeys(field("title_ja"), "配信CDNで表示が遅くなっています"),
		chromedp.SendKeys(field("title_en"), "The delivery CDN is slow"),
		chromedp.SetValue(field("impact"), "major"),
		chromedp.SetValue(field(componentField(cdn)), data.DegradedPerformance),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[name="`+componentField(cdn)+`"]').dispatchEvent(new Event("change", {bubbles: true}))`),
		chromedp.SendKeys(field("body_ja"), "現在、**原因を調査中**です。"),
		chromedp.SendKeys(field("body_en"), "We are **investigating**."))
	run("audience", chromedp.Poll[chromedp.Void](`document.querySelector("[data-audience-text]").textContent.includes("連絡先2名")`,
		chromedp.WithPollingTimeout(5*time.Second)))
	checkA11y(t, ctx, axe, "declaration form")
	shoot(t, ctx, "incident-new-ja")
	notices := a.notificationCount()
	run("preview", chromedp.Click(css(`button[name="preview"]`)), chromedp.WaitVisible(css("#preview")))
	checkA11y(t, ctx, axe, "declaration preview")
	shoot(t, ctx, "incident-preview-ja")
	if a.notificationCount() != notices {
		t.Fatal("the preview queued a notice")
	}
	run("publish", chromedp.Click(css(`button.primary.danger`)), waitText("障害を公開しました"))
	// The two contract contacts, and the demo's subscribers of every product.
	ns, _, _, err := a.store.Notifications(context.Background(), 1, 0)
	if err != nil || len(ns) == 0 {
		t.Fatalf("no notice after declaring (%v)", err)
	}
	emails, channels := tally(t, a, ns[0].ID)
	if emails[data.DeliveryPending] < 2 {
		t.Fatalf("the notice emails %v", emails)
	}
	// Emails and channel posts are counted apart (see told_test.go).
	mustContain(t, ctx, "after declaring", fmt.Sprintf("%d件の宛先にメールを送信しています", emails[data.DeliveryPending]))
	if channels > 0 {
		mustContain(t, ctx, "after declaring", fmt.Sprintf("通知チャネル%d件に投稿しています", channels))
	}
	checkA11y(t, ctx, axe, "incident console page")
	shoot(t, ctx, "incident-manage-ja")
	path, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}

	// Update, then resolve.
	run("update", chromedp.SetValue(field("status"), data.Identified),
		chromedp.SendKeys(field("body_ja"), "原因を特定しました。"),
		chromedp.Click(css(`form[action$="/updates"] button.primary`)), waitText("更新を投稿しました"))
	run("resolve", chromedp.SetValue(field("status"), data.Resolved),
		chromedp.SendKeys(field("body_ja"), "復旧しました。"),
		chromedp.Click(css(`form[action$="/updates"] button.primary`)), waitText("障害を復旧済みにしました"))
	checkA11y(t, ctx, axe, "resolved incident, console")
	id := path[strings.LastIndex(path, "/")+1:]

	// Deleting an update asks first and says the status stays. Sent with
	// form.submit(), which skips the script's dialog: the server's own
	// confirmation page is what a browser without script gets.
	run("delete update", chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action$="/delete"]').submit()`),
		waitText("ステータスは変わりません"))
	checkA11y(t, ctx, axe, "confirmation page")
	shoot(t, ctx, "confirm-delete-update-ja")
	run("confirm", chromedp.Click(css(`.confirm button.primary`)), waitText("削除しました"))
	if inc, _ := a.store.Incident(context.Background(), mustInt(t, path[strings.LastIndex(path, "/")+1:])); inc.Status != data.Resolved {
		t.Fatalf("deleting an update changed the incident to %s", inc.Status)
	}

	// The console's page for an address.
	run("address", chromedp.Navigate(base+"/admin/contacts/"+fmt.Sprint(a.contactID(k, "both@example.com"))+"/address"), waitText("K-012"))
	checkA11y(t, ctx, axe, "address page")
	shoot(t, ctx, "address-ja")

	// A backfilled incident reads with the times it describes.
	old := declareVia(t, func() *client { c := a.client(); c.login("editor@example.com"); return c }(), "minor",
		map[int64]string{cdn: data.PartialOutage}, false, url.Values{"started_at": {"2026-09-21T10:00"}, "at": {"2026-09-21T10:05"}})
	for _, lang := range []string{"ja", "en"} {
		run("backfilled", chromedp.Navigate(base+"/incidents/"+old+"?lang="+lang), chromedp.WaitVisible(css("h1")))
		checkA11y(t, ctx, axe, "backfilled incident "+lang)
		shoot(t, ctx, "incident-backfilled-"+lang)
	}
	mustContain(t, ctx, "backfilled incident", "Sep 21, 2026 10:05")

	// The public page, in both languages.
	for _, lang := range []string{"ja", "en"} {
		run("public", chromedp.Navigate(base+"/incidents/"+id+"?lang="+lang), chromedp.WaitVisible(css("h1")))
		want := map[string]string{"ja": "krewDashboard / 配信CDN", "en": "krewDashboard / Delivery CDN"}[lang]
		mustContain(t, ctx, "public incident "+lang, want)
		checkA11y(t, ctx, axe, "public incident page "+lang)
		shoot(t, ctx, "incident-public-"+lang)
		run("home", chromedp.Navigate(base+"/?lang="+lang), chromedp.WaitVisible(css("h1")))
		checkA11y(t, ctx, axe, "status page "+lang)
	}

	// A customer subscribes.
	run("subscribe", chromedp.Navigate(base+"/subscribe?lang=ja"), chromedp.WaitVisible(field("email")))
	checkA11y(t, ctx, axe, "subscribe form")
	run("subscribe", chromedp.SendKeys(field("email"), "reader@example.com"),
		chromedp.Submit(field("email")), chromedp.WaitVisible(css(".flash")))
	checkA11y(t, ctx, axe, "subscribed")
	shoot(t, ctx, "subscribed-ja")

	// A contract contact opens the preferences link from an email.
	tok := mail.ContactToken(testSecret, a.contactID(k, "extra@example.com"))
	for _, lang := range []string{"ja", "en"} {
		run("preferences", chromedp.Navigate(base+"/preferences/"+tok+"?lang="+lang), chromedp.WaitVisible(field("lang")))
		checkA11y(t, ctx, axe, "preferences "+lang)
		shoot(t, ctx, "preferences-"+lang)
	}
	run("preferences", chromedp.Navigate(base+"/preferences/"+tok+"?lang=ja"), chromedp.WaitVisible(field("lang")),
		chromedp.SetValue(field("lang"), "en"), chromedp.Click(field("opt_out")),
		chromedp.Submit(field("lang")), waitText("設定を保存しました"))
	mustContain(t, ctx, "preferences saved", "K-012")
	checkA11y(t, ctx, axe, "preferences saved")
	addr, err := a.store.Address(context.Background(), "extra@example.com")
	if err != nil || addr.Lang() != "en" || !addr.Person.OptedOut {
		t.Fatalf("preferences not saved: %+v %v", addr, err)
	}
}

// TestPublicPagesAccessible: every public page, in each state a banner can
// be in and in both languages, has no WCAG 2.1 AA violation axe can find
// (contrast above all: status words and times are read by everyone).
func TestPublicPagesAccessible(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	a.seedDemo() // beside everything else the product holds
	f := a.seedAll()
	ctx2 := context.Background()
	base := a.srv.URL
	pages := []string{"/", "/history", "/news", "/subscribe", "/subscribe/channel", "/incidents/" + strconv.FormatInt(f.incident, 10),
		"/maintenance/" + strconv.FormatInt(f.maintenance, 10)}
	states := []struct {
		name   string
		status string
	}{
		{"partial outage", ""},
		{"degraded", data.DegradedPerformance},
		{"major outage", data.MajorOutage},
		{"maintenance", data.UnderMaintenance},
	}
	for _, st := range states {
		if st.status != "" {
			if err := a.store.SetComponentStatus(ctx2, f.api, st.status); err != nil {
				t.Fatal(err)
			}
			a.app.changed()
		}
		for _, lang := range []string{"ja", "en"} {
			for _, p := range pages {
				if err := chromedp.Do(ctx, chromedp.Navigate(base+p+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				checkA11y(t, ctx, axe, st.name+" "+lang+" "+p)
				if lang == "ja" && st.status == "" {
					wb, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("main h1, main h2")).wordBreak`))
					if err != nil || wb != "auto-phrase" {
						t.Errorf("%s: Japanese headings break with %q (%v), not at phrases", p, wb, err)
					}
				}
				if p == "/subscribe" && st.status == "" {
					shoot(t, ctx, "subscribe-"+lang)
				}
				if p == "/subscribe/channel" && st.status == "" {
					shoot(t, ctx, "subscribe-channel-"+lang)
				}
			}
		}
		if st.status == data.DegradedPerformance {
			shoot(t, ctx, "status-degraded-en")
		}
	}
}

// TestBarDetailsOpenWithoutAMouse: a day's details open when the day gets
// keyboard focus and when it is clicked or tapped, not only on hover; a
// collapsed product opens to show its components.
func TestBarDetailsOpenWithoutAMouse(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	c := context.Background()
	_, cdn, _ := a.seedCatalog()
	other, _ := a.store.CreateProduct(c, data.ProductInput{NameJA: "決済", NameEN: "Payments", Collapsed: true})
	gw, _ := a.store.CreateComponent(c, data.ComponentInput{ProductID: other.ID, NameJA: "決済ゲートウェイ", NameEN: "Payment gateway"})
	a.store.CreateComponent(c, data.ComponentInput{ProductID: other.ID, NameJA: "請求書", NameEN: "Invoices"})
	a.clock.Advance(-50 * time.Hour)
	inc, _ := a.store.CreateIncident(c, data.NewIncident{TitleJA: "配信の遅延", TitleEN: "Slow delivery", Impact: "major",
		Status: data.Investigating, BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}})
	a.clock.Advance(2 * time.Hour)
	a.store.PostIncidentUpdate(c, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"})
	a.clock.Advance(48 * time.Hour)
	a.store.CreateIncident(c, data.NewIncident{TitleJA: "決済の遅延", TitleEN: "Slow payments", Impact: "minor",
		Status: data.Investigating, BodyJA: "調査中です。", Components: map[int64]string{gw.ID: data.DegradedPerformance}})
	a.app.changed()

	shown := func(sel string) bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const t = document.querySelector(`+strconv.Quote(sel)+`);
			const r = t.getBoundingClientRect(); return getComputedStyle(t).clipPath === "none" && r.width > 40 && r.height > 20 })()`))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// The day of the CDN's outage: two days ago, the 88th of 90.
	day := `.product:not(.collapsed) .components li:first-child .bars li:nth-child(88)`
	for _, lang := range []string{"ja", "en"} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(a.srv.URL+"/?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		if shown(day + " .tip") {
			t.Fatal("details shown before anything was chosen")
		}
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(day))); err != nil {
			t.Fatal(err)
		}
		if !shown(day + " .tip") {
			t.Fatalf("%s: focus does not open the day's details", lang)
		}
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(day+" .tip")))
		if !strings.Contains(text, map[string]string{"ja": "配信の遅延", "en": "Slow delivery"}[lang]) ||
			!strings.Contains(text, map[string]string{"ja": "一部障害: 2時間0分", "en": "Partial outage: 2h 0m"}[lang]) {
			t.Fatalf("%s: details read %q", lang, text)
		}
		checkA11y(t, ctx, axe, "status page with a day's details open "+lang)
		shoot(t, ctx, "bar-details-open-"+lang)
		// A click (a tap on a phone) on another day opens that one.
		other := `.product:not(.collapsed) .components li:first-child .bars li:nth-child(89)`
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(other))); err != nil {
			t.Fatal(err)
		}
		if !shown(other+" .tip") || shown(day+" .tip") {
			t.Fatalf("%s: a click does not move the details", lang)
		}
		// The collapsed product opens on a click of its row.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".collapsed details.group > summary"))); err != nil {
			t.Fatal(err)
		}
		open, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(".collapsed details.group").open`))
		if !open {
			t.Fatalf("%s: the collapsed product does not open", lang)
		}
		checkA11y(t, ctx, axe, "status page with a product opened "+lang)
		shoot(t, ctx, "status-collapsed-open-"+lang)
		if err := chromedp.Do(ctx, chromedp.Navigate(a.srv.URL+"/?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		shoot(t, ctx, "status-degraded-collapsed-"+lang)
		// The phone shows thirty days and their own percentage.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 900)); err != nil {
			t.Fatal(err)
		}
		vis, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const b = document.querySelector(".product:not(.collapsed) .bars");
			const n = [...b.children].filter(li => getComputedStyle(li).display !== "none").length;
			const s = [...b.nextElementSibling.querySelectorAll("span")].filter(x => getComputedStyle(x).display !== "none").map(x => x.textContent).join("|");
			return n + "|" + s })()`))
		want := map[string]string{"ja": "30|30日前||11月24日からの稼働率", "en": "30|30 days ago||"}[lang]
		if !strings.HasPrefix(vis, want) || !strings.Contains(vis, "30") {
			t.Fatalf("%s: phone view %q", lang, vis)
		}
		if lang == "en" && !strings.Contains(vis, "uptime since Nov 24") {
			t.Fatalf("phone view %q", vis)
		}
		chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900))
	}
}

// TestConsolePagesAccessible: every page of the console an admin can open,
// with every kind of row in it and the page branded, has no WCAG 2.1 AA
// violation axe finds; and the pages this issue added are photographed.
func TestConsolePagesAccessible(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	a.seedDemo() // beside everything else the product holds
	f := a.seedAll()
	c := context.Background()
	if err := a.store.SaveBranding(c, data.BrandingInput{TitleJA: "エグザンプル稼働状況", TitleEN: "Example Status",
		CompanyJA: "株式会社エグザンプル", CompanyEN: "Example Inc.", Accent: "#0b5cad", Logo: pngPixel,
		FooterLinks: []data.FooterLink{{LabelJA: "サポート", LabelEN: "Support", URL: "https://example.com/support"},
			{LabelJA: "利用規約", LabelEN: "Terms", URL: "https://example.com/terms"}}}); err != nil {
		t.Fatal(err)
	}
	// A resolved incident with a published postmortem.
	a.clock.Advance(time.Hour)
	a.store.PostIncidentUpdate(c, f.incident, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。", BodyEN: "Resolved."})
	if _, err := a.store.SavePostmortem(c, f.incident, data.PostmortemInput{Publish: true,
		BodyJA: "## 原因\n配信設定の誤りにより、一部の地域でコンテンツを取得できない状態になりました。\n\n## 再発防止策\n- 設定変更の二重確認を必須にします。\n- 監視項目を追加します。",
		BodyEN: "## Cause\nA wrong delivery setting left some regions unable to fetch content.\n\n## Prevention\n- Every setting change is now checked by a second person.\n- New monitoring checks."}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	probe := a.client()
	probe.login("admin@example.com")
	run := browserRun(t, ctx)
	signIn(t, ctx, a.srv.URL, "admin@example.com")
	checked := 0
	for _, route := range routes(a, http.MethodGet) {
		// The email preview is the message itself, shown sandboxed.
		if !strings.HasPrefix(route, "/admin") || route == "/admin/login" || strings.Contains(route, "/invite/") || strings.HasSuffix(route, "/html/:delivery") {
			continue
		}
		p := f.path(route)
		if strings.Contains(p, ":") || strings.Contains(p, "*") {
			continue
		}
		r := probe.get(p)
		if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			continue
		}
		run(p, chromedp.Navigate(a.srv.URL+p), chromedp.WaitVisible(chromedp.CSS("main")))
		checkA11y(t, ctx, axe, "console "+p)
		checked++
	}
	t.Logf("%d console pages checked", checked)
	if checked < 40 {
		t.Fatalf("only %d console pages checked", checked)
	}
	inc := strconv.FormatInt(f.incident, 10)
	for _, lang := range []string{"ja", "en"} {
		run("branding", chromedp.Navigate(a.srv.URL+"/admin/branding?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		shoot(t, ctx, "console-branding-"+lang)
		run("alerts", chromedp.Navigate(a.srv.URL+"/admin/alerts?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		shoot(t, ctx, "console-alerts-"+lang)
		run("postmortem form", chromedp.Navigate(a.srv.URL+"/admin/incidents/"+inc+"/postmortem?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
		checkA11y(t, ctx, axe, "postmortem form "+lang)
		shoot(t, ctx, "console-postmortem-"+lang)
		for _, pg := range []struct{ name, path string }{{"branded-status", "/"}, {"incident-postmortem", "/incidents/" + inc},
			{"announcement", "/news/" + strconv.FormatInt(f.announcement, 10)}, {"maintenance-calendar", "/maintenance/" + strconv.FormatInt(f.maintenance, 10)}} {
			run(pg.name, chromedp.Navigate(a.srv.URL+pg.path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
			checkA11y(t, ctx, axe, pg.name+" "+lang)
			shoot(t, ctx, pg.name+"-"+lang)
		}
	}
}

// TestMonitoringPagesAccessible: the monitor settings, a draft waiting for
// confirmation and the public page with response-time charts pass axe, in
// both languages, and are photographed.
func TestMonitoringPagesAccessible(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	a.seedDemo() // beside everything else the product holds
	c := context.Background()
	_, cdn, api := a.seedCatalog()
	if err := a.store.SetAutomation(c, cdn, data.Automation{ShowUptime: true, ShowLatency: true, HookKey: "cdn"}); err != nil {
		t.Fatal(err)
	}
	in := data.DefaultMonitor
	in.ComponentID, in.Name, in.Target = cdn, "トップページ", "https://www.example.com/"
	m, err := a.store.CreateMonitor(c, in)
	if err != nil {
		t.Fatal(err)
	}
	// Three days of results every 10 minutes: ~120 ms with a slow patch and
	// two failed checks.
	start := a.clock.Now()
	for i := 0; i < 3*24*6; i++ {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		ms := 110 + (i*37)%40
		if i%144 > 60 && i%144 < 80 {
			ms += 250
		}
		res := data.CheckResult{At: at, OK: i != 200 && i != 201, Latency: time.Duration(ms) * time.Millisecond}
		if !res.OK {
			res.Error = "status 502, expected 200-299"
		}
		if _, err := a.store.RecordCheck(c, m.ID, "nobody", res, a.app.opts.Location); err != nil {
			t.Fatal(err)
		}
	}
	a.clock.Advance(3 * 24 * time.Hour)
	if _, err := a.store.Signal(c, data.Signal{ComponentID: api, Source: "monitor:test", Status: data.PartialOutage,
		Detail: "ライセンスAPI: status 503, expected 200-299", Hold: true}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	run := browserRun(t, ctx)
	signIn(t, ctx, a.srv.URL, "editor@example.com")
	for _, lang := range []string{"ja", "en"} {
		for _, pg := range []struct{ name, path string }{
			{"console-monitors", "/admin/components/" + strconv.FormatInt(cdn, 10) + "/monitors"},
			{"console-monitor-form", "/admin/monitors/" + strconv.FormatInt(m.ID, 10) + "/edit"},
			{"console-drafts", "/admin/drafts"},
			{"status-latency", "/"},
		} {
			run(pg.name, chromedp.Navigate(a.srv.URL+pg.path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
			checkA11y(t, ctx, axe, pg.name+" "+lang)
			shoot(t, ctx, pg.name+"-"+lang)
		}
	}
	mustContain(t, ctx, "public page", "Response time")
}
