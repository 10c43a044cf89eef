package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/jobs"
	"github.com/oshirase/oshirase/static"
)

const polishHeader = "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\n"

// TestPolishImportExplainsProblems: an unaccepted value is reported under
// the column as the file's header names it, with the values the column
// takes, in the operator's language; the yes/no words of Japanese CRM
// exports are accepted.
func TestPolishImportExplainsProblems(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	c.login("editor@example.com")
	c.get("/admin/contracts/import")
	bad := polishHeader + "C-1,A社,krewDashboard,たぶん,山田,y@example.jp,fr,primary\n" +
		"C-2,B社,krewExcel,はい,佐藤,s@example.jp,ja,primary\n"
	r := upload(t, c, "/admin/contracts/import", []byte(bad))
	expect(t, r, http.StatusBadRequest, `<td class="nowrap">有効</td>`, `<td class="nowrap">言語</td>`, `<td class="nowrap">製品</td>`,
		"この値は使用できません。次のいずれかを指定してください: はい、いいえ、○、×、", "ja、en、日本語、英語",
		"登録されている製品: krewDashboard")
	expectNot(t, r, ">active<", ">contact_language<", ">products<", "選択肢から選んでください")

	c.speak("en")
	c.get("/admin/contracts/import")
	r = upload(t, c, "/admin/contracts/import", []byte(bad))
	expect(t, r, http.StatusBadRequest, `<td class="nowrap">有効</td>`, "This value is not accepted. Use one of: はい, いいえ, ○, ×, ", "Products: krewDashboard")
	expectNot(t, r, "次のいずれか", "登録されている製品")

	missing := "契約コード,契約名,製品,担当者名,メールアドレス,言語,区分\n"
	r = upload(t, c, "/admin/contracts/import", []byte(missing))
	expect(t, r, http.StatusBadRequest, "Name the column one of: active, 有効")

	c.speak("ja")
	c.get("/admin/contracts/import")
	crm := polishHeader + "C-1,A社,krewDashboard,はい,山田,y@example.jp,日本語,契約時の連絡先\n" +
		"C-2,B社,krewDashboard,×,佐藤,s@example.jp,英語,追加連絡先\n" +
		"C-3,C社,krewDashboard,○,鈴木,z@example.jp,en,additional\n" +
		"C-4,D社,krewDashboard,いいえ,高橋,t@example.jp,ja,primary\n" +
		"C-5,E社,krewDashboard,FALSE,田中,n@example.jp,ja,primary\n" +
		"C-6,F社,krewDashboard,1,伊藤,i@example.jp,ja,primary\n"
	r = upload(t, c, "/admin/contracts/import", []byte(crm))
	expect(t, r, http.StatusOK, "import/apply")
	expect(t, c.post("/admin/contracts/import/apply", url.Values{"import": {importID(t, r)}}), http.StatusOK, "新規6件")
	cs, _, _ := a.store.Contracts(context.Background(), data.ContractFilter{})
	active := map[string]bool{}
	for _, k := range cs {
		active[k.Code] = k.Active
	}
	if fmt.Sprint(active) != "map[C-1:true C-2:false C-3:true C-4:false C-5:false C-6:true]" {
		t.Fatalf("active %v", active)
	}
}

// TestPolishImportListsRemovals: the preview names every contact the
// import deletes (name, address, contract) before the operator applies it.
func TestPolishImportListsRemovals(t *testing.T) {
	a := newTestServer(t)
	p, _, _ := a.seedCatalog()
	ctx := context.Background()
	k, err := a.store.CreateContract(ctx, data.ContractInput{Code: "K-1", Name: "株式会社いろは", Active: true, ProductIDs: []int64{p}})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []data.ContactInput{{Name: "山田 花子", Email: "hanako@example.jp", Lang: "ja", Role: data.RolePrimary},
		{Name: "退職 太郎", Email: "taishoku@example.jp", Lang: "ja", Role: data.RoleAdditional}} {
		if _, err := a.store.AddContact(ctx, k.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := a.store.CreateContract(ctx, data.ContractInput{Code: "K-2", Name: "ファイルにない会社", Active: true, ProductIDs: []int64{p}})
	a.store.AddContact(ctx, other.ID, data.ContactInput{Name: "残る人", Email: "stays@example.jp", Lang: "ja", Role: data.RolePrimary})

	c := a.client()
	c.login("editor@example.com")
	c.get("/admin/contracts/import")
	r := upload(t, c, "/admin/contracts/import", []byte(polishHeader+"K-1,株式会社いろは,krewDashboard,はい,山田 花子,hanako@example.jp,ja,primary\n"))
	expect(t, r, http.StatusOK, "import/apply", `id="import-removals"`, "この取り込みで削除される連絡先（1名）")
	section := r.body[strings.Index(r.body, `id="import-removals"`):]
	section = section[:strings.Index(section, "</section>")]
	for _, want := range []string{"退職 太郎", "taishoku@example.jp", "K-1", "株式会社いろは"} {
		if !strings.Contains(section, want) {
			t.Errorf("removals lack %q:\n%s", want, section)
		}
	}
	for _, absent := range []string{"hanako@example.jp", "stays@example.jp"} {
		if strings.Contains(section, absent) {
			t.Errorf("removals list %q:\n%s", absent, section)
		}
	}
	expect(t, c.post("/admin/contracts/import/apply", url.Values{"import": {importID(t, r)}}), http.StatusOK, "削除された連絡先: 1名")

	c.get("/admin/contracts/import")
	r = upload(t, c, "/admin/contracts/import", []byte(polishHeader+"K-1,株式会社いろは,krewDashboard,はい,山田 花子,hanako@example.jp,ja,primary\n"))
	expect(t, r, http.StatusOK, "import/apply")
	expectNot(t, r, `id="import-removals"`)
}

// TestPolishChannelDeliveryShowsPayload: a channel delivery in the
// console shows the body that was posted, not an email made up for it.
func TestPolishChannelDeliveryShowsPayload(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	ctx := context.Background()
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	ops := newEndpoint(t, func(string) (int, string) { return 200, "ok" })
	hook := newEndpoint(t, func(string) (int, string) { return 200, "ok" })
	if _, err := a.store.CreateChannel(ctx, data.ChannelInput{Kind: data.ChannelSlack, URL: ops.URL + "/services/T000/B000/secretpart", Lang: "ja", Operator: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.CreateChannel(ctx, data.ChannelInput{Kind: data.ChannelWebhook, URL: hook.URL, Lang: "en", OwnerEmail: "ops@customer.example", Secret: "whsec_test"}); err != nil {
		t.Fatal(err)
	}
	op := a.client()
	op.login("editor@example.com")
	declareVia(t, op, "major", map[int64]string{cdn: data.PartialOutage}, true, nil)
	sender := jobs.NewChannelSender(a.store, a.app.opts.Outbound, a.app.opts.Channels, jobs.ChannelOptions{Now: a.clock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if st, err := sender.Sweep(ctx); err != nil || st.Sent != 2 {
		t.Fatalf("sweep %+v %v", st, err)
	}
	if len(ops.bodies) != 1 || len(hook.bodies) != 1 {
		t.Fatalf("bodies: %d to operators, %d to the webhook", len(ops.bodies), len(hook.bodies))
	}
	sent := map[string]string{data.ChannelSlack: ops.bodies[0], data.ChannelWebhook: hook.bodies[0]}
	seen := 0
	for nid := int64(1); nid < 10; nid++ {
		if _, err := a.store.Notification(ctx, nid); err != nil {
			continue
		}
		ds, _, _ := a.store.Deliveries(ctx, nid, "", 100, 0)
		for _, d := range ds {
			if d.ChannelID == nil {
				continue
			}
			seen++
			path := fmt.Sprintf("/admin/notifications/%d?delivery=%d", nid, d.ID)
			r := op.get(path)
			expect(t, r, http.StatusOK)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, []byte(sent[d.Name]), "", "  "); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(html.UnescapeString(r.body), pretty.String()) {
				t.Errorf("%s: the page does not show the %s body that was sent:\n%s\n--- page:\n%s", path, d.Name, pretty.String(), r.body)
			}
			expectNot(t, r, "email.subject.", "email.kind.", "contact_role.channel", "Message-ID:", "/html/"+strconv.FormatInt(d.ID, 10), "secretpart")
			expect(t, r, http.StatusOK, "127.0.0.1")
			expect(t, op.get(fmt.Sprintf("/admin/notifications/%d/html/%d", nid, d.ID)), http.StatusNotFound)
		}
	}
	if seen != 2 {
		t.Fatalf("%d channel deliveries, want 2", seen)
	}
}

// TestPolishChannelSettingsLink: the settings link shown once after
// subscribing a channel is in large selectable text with a copy button
// that a static script (the CSP forbids inline script) brings to life.
func TestPolishChannelSettingsLink(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	hook := newEndpoint(t, echoChallenge)
	pub := a.client()
	pub.get("/subscribe/channel")
	r := pub.post("/subscribe/channel", url.Values{"kind": {"webhook"}, "url": {hook.URL}, "lang": {"ja"}, "owner_email": {"ops@customer.example"}})
	expect(t, r, http.StatusOK, "登録しました")
	link := regexp.MustCompile(`<code id="manage-url" class="once-link">http://status\.example\.com/subscribe/channel/[0-9]+\.[A-Za-z0-9_=-]+</code>`)
	if !link.MatchString(r.body) {
		t.Fatalf("the settings link is not shown as text:\n%s", r.body)
	}
	expect(t, r, http.StatusOK, `data-copy="manage-url"`, `data-copy="secret"`, `data-copied="コピーしました"`, "/copy.js")
	script := regexp.MustCompile(`<script src="(/static/[^"]+/copy\.js)" defer></script>`).FindStringSubmatch(r.body)
	if script == nil {
		t.Fatalf("no copy script:\n%s", r.body)
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Fatal("inline script")
	}
	// Without script the button stays hidden: the link is there to select.
	if !regexp.MustCompile(`<button type="button" class="copy-button" data-copy="manage-url"[^>]* hidden>`).MatchString(r.body) {
		t.Fatalf("the copy button shows without script:\n%s", r.body)
	}
	js := pub.get(script[1])
	expect(t, js, http.StatusOK, "navigator.clipboard", "data-copy")
	if ct := js.header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("copy.js served as %q", ct)
	}
}

// TestPolishAuditTableScrollsWithTheKeyboard: on a phone the audit table
// scrolls inside a region the keyboard can focus.
func TestPolishAuditTableScrollsWithTheKeyboard(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	c.login("admin@example.com")
	r := c.get("/admin/audit")
	expect(t, r, http.StatusOK)
	if !regexp.MustCompile(`<div class="table-scroll" tabindex="0" role="region" aria-label="[^"]+">\s*<table class="grid audit">`).MatchString(r.body) {
		t.Fatalf("no focusable scroll region around the audit table:\n%s", r.body)
	}
	rules := cssRules(t)
	if decl(rules, ".table-scroll", "overflow-x") != "auto" {
		t.Fatal(".table-scroll does not scroll")
	}
	if decl(rules, ".table-scroll:focus-visible", "outline") == "" {
		t.Fatal(".table-scroll shows no focus")
	}
}

// TestPolishConsoleStatusContrast: the console's status and error text
// reaches WCAG AA (4.5:1) on the card and on the page background.
func TestPolishConsoleStatusContrast(t *testing.T) {
	rules := cssRules(t)
	vars := map[string]string{}
	for _, r := range rules {
		if r.selector == ":root" {
			for k, v := range r.decls {
				vars[k] = v
			}
		}
	}
	resolve := func(v string) string {
		for strings.HasPrefix(v, "var(") {
			name := strings.TrimSuffix(strings.TrimPrefix(v, "var("), ")")
			if i := strings.Index(name, ","); i >= 0 {
				name = name[:i]
			}
			v = vars[strings.TrimSpace(name)]
		}
		return v
	}
	for _, c := range []struct {
		selector string
		on       []string
	}{
		{".dstate.sent", []string{"#fff", vars["--bg"]}},
		{".dstate.failed", []string{"#fff", vars["--bg"]}},
		{".dstate.bounced", []string{"#fff", vars["--bg"]}},
		{".notice-state.sent", []string{"#fff", vars["--bg"]}},
		{".notice-state.missed", []string{"#fff", vars["--bg"]}},
		{".monitor-state.up", []string{"#fff", vars["--bg"]}},
		{".monitor-state.down", []string{"#fff", vars["--bg"]}},
		{".c-failed", []string{"#fff", vars["--bg"]}},
		{".error-text", []string{"#fff", vars["--bg"]}},
		{".form-error", []string{resolve(decl(rules, ".form-error", "background"))}},
		{".status-chip", []string{resolve(decl(rules, ".status-chip", "background"))}},
		{".status-chip.ended", []string{resolve(decl(rules, ".status-chip.ended", "background"))}},
	} {
		fg := resolve(decl(rules, c.selector, "color"))
		for _, bg := range c.on {
			if ratio := contrast(t, fg, bg); ratio < 4.5 {
				t.Errorf("%s: %s on %s is %.2f:1", c.selector, fg, bg, ratio)
			}
		}
	}
}

// TestPolishChartTextIsLegible: the response-time chart's labels are at
// least 11 px however wide the chart is drawn.
func TestPolishChartTextIsLegible(t *testing.T) {
	rules := cssRules(t)
	size := decl(rules, ".latency-chart .axis", "font-size")
	px, err := strconv.ParseFloat(strings.TrimSuffix(size, "px"), 64)
	if err != nil || !strings.HasSuffix(size, "px") || px < 11 {
		t.Fatalf(".latency-chart .axis font-size %q", size)
	}
}

type cssRule struct {
	selector string
	decls    map[string]string
}

// cssRules reads the stylesheet as flat rules, one per selector, in order
// (rules in media queries included): enough for these checks.
func cssRules(t *testing.T) []cssRule {
	t.Helper()
	b, err := fs.ReadFile(static.FS, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
	var out []cssRule
	for _, m := range regexp.MustCompile(`([^{}]+)\{([^{}]*)\}`).FindAllStringSubmatch(text, -1) {
		decls := map[string]string{}
		for _, d := range strings.Split(m[2], ";") {
			if k, v, ok := strings.Cut(d, ":"); ok {
				decls[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		for _, sel := range strings.Split(m[1], ",") {
			out = append(out, cssRule{selector: strings.Join(strings.Fields(sel), " "), decls: decls})
		}
	}
	return out
}

// decl is the last value the stylesheet gives property for selector.
func decl(rules []cssRule, selector, property string) string {
	v := ""
	for _, r := range rules {
		if r.selector == selector {
			if x, ok := r.decls[property]; ok {
				v = x
			}
		}
	}
	return v
}

func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	lum := func(hex string) float64 {
		hex = strings.TrimPrefix(hex, "#")
		if len(hex) == 3 {
			hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
		}
		if len(hex) != 6 {
			t.Fatalf("colour %q", hex)
		}
		var ch [3]float64
		for i := range ch {
			n, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
			if err != nil {
				t.Fatalf("colour %q", hex)
			}
			c := float64(n) / 255
			if c <= 0.03928 {
				ch[i] = c / 12.92
			} else {
				ch[i] = math.Pow((c+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
	}
	la, lb := lum(a), lum(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// TestPolishInTheBrowser, at 390 px in headless Chromium: the chart's
// labels are at least 11 px as drawn; the copy button appears with script
// and selects the whole settings link; the audit table scrolls from the
// keyboard.
func TestPolishInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	a := newTestServer(t)
	c := context.Background()
	_, cdn, _ := a.seedCatalog()
	if err := a.store.SetAutomation(c, cdn, data.Automation{ShowUptime: true, ShowLatency: true, HookKey: "cdn"}); err != nil {
		t.Fatal(err)
	}
	in := data.DefaultMonitor
	in.ComponentID, in.Name, in.Target = cdn, "トップページ", "https://www.example.com/"
	m, err := a.store.CreateMonitor(c, in)
	if err != nil {
		t.Fatal(err)
	}
	start := a.clock.Now()
	for i := 0; i < 48; i++ {
		res := data.CheckResult{At: start.Add(time.Duration(i) * 30 * time.Minute), OK: true, Latency: time.Duration(100+i*7) * time.Millisecond}
		if _, err := a.store.RecordCheck(c, m.ID, "nobody", res, a.app.opts.Location); err != nil {
			t.Fatal(err)
		}
	}
	a.clock.Advance(24 * time.Hour)
	a.app.changed()
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	hook := newEndpoint(t, echoChallenge)
	run := browserRun(t, ctx)
	run("phone", chromedp.EmulateViewport(390, 844))

	run("status page", chromedp.Navigate(a.srv.URL+"/?lang=ja"), chromedp.WaitVisible(chromedp.CSS(".latency-chart")))
	sizes, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("details[open] .latency-chart text")].map(
		el => parseFloat(getComputedStyle(el).fontSize) * el.getScreenCTM().a)`))
	if err != nil || len(sizes) < 5 {
		t.Fatalf("chart labels %v %v", sizes, err)
	}
	for _, px := range sizes {
		if px < 11 {
			t.Fatalf("a chart label is drawn at %.1f px at 390 px wide: %v", px, sizes)
		}
	}
	shoot(t, ctx, "polish-chart")
	run("phone", chromedp.EmulateViewport(390, 844))

	run("subscribe a channel", chromedp.Navigate(a.srv.URL+"/subscribe/channel?lang=ja"), chromedp.WaitVisible(formField("url")),
		chromedp.SetValue(formField("kind"), "webhook"), chromedp.SendKeys(formField("url"), hook.URL),
		chromedp.SendKeys(formField("owner_email"), "ops@customer.example"), chromedp.Submit(formField("url")),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy="manage-url"]`)), chromedp.Click(chromedp.CSS(`button[data-copy="manage-url"]`)))
	var got []string
	// The clipboard answers asynchronously: wait for the status to say.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`[window.getSelection().toString(), document.getElementById("manage-url").textContent,
			document.querySelector(".copy-status").textContent]`))
		if err != nil || len(got) == 3 && got[2] != "" {
			break
		}
	}
	if err != nil || len(got) != 3 || got[0] != got[1] || !strings.HasPrefix(got[1], "http://status.example.com/subscribe/channel/") || got[2] == "" {
		t.Fatalf("copy: %q %v", got, err)
	}
	t.Logf("copy status: %s", got[2])
	shoot(t, ctx, "polish-channel-link")

	signIn(t, ctx, a.srv.URL, "admin@example.com")
	run("phone", chromedp.EmulateViewport(390, 844)) // shoot leaves the desktop width
	run("audit", chromedp.Navigate(a.srv.URL+"/admin/audit?lang=ja"), chromedp.WaitVisible(chromedp.CSS(".table-scroll")),
		chromedp.Focus(chromedp.CSS(".table-scroll")), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.End))
	var scroll []float64
	// Keyboard scrolling is animated: wait for it to move.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		scroll, err = chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector(".table-scroll");
			return [r.scrollLeft, r.scrollWidth - r.clientWidth, document.activeElement === r ? 1 : 0] })()`))
		if err != nil || len(scroll) == 3 && scroll[0] > 0 {
			break
		}
	}
	if err != nil || len(scroll) != 3 || scroll[1] <= 0 || scroll[0] <= 0 || scroll[2] != 1 {
		t.Fatalf("audit table at 390 px: scrollLeft, overflow, focused = %v %v", scroll, err)
	}
	shoot(t, ctx, "polish-audit")
}
