package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/templates"
)

// phoneWidth is the narrowest phone the pages are laid out for.
const phoneWidth = 390

// TestLayoutPhone opens a handful of the demo's public and console pages
// in both languages at 390 px: none is wider than the screen; the console's
// tables of notices and drafts show every cell at a readable width with its
// label; and the header breaks Japanese between phrases, never inside a
// word.
func TestLayoutPhone(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	f := a.seedDemo()
	base := a.srv.URL
	run := browserRun(t, ctx)
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	public := []string{"/", "/incidents/" + id(f.Critical), "/incidents/" + id(f.Postmortem), "/maintenance/" + id(f.Scheduled),
		"/maintenance/" + id(f.InProgress), "/history", "/news", "/subscribe", "/upgrades/" + id(f.NextUpgrade)}
	console := []string{"/admin", "/admin/incidents", "/admin/incidents/" + id(f.Critical), "/admin/notifications", "/admin/drafts",
		"/admin/products", "/admin/maintenance/" + id(f.Scheduled), "/admin/contracts", "/admin/contracts/import",
		"/admin/subscribers", "/admin/policy"}
	// Words of the header that must never be split over two lines.
	words := map[string][]string{"ja": {"ひだまりソフト", "障害", "メンテナンス", "情報", "管理画面"}, "en": {"Console"}}

	open := func(path, lang string) {
		t.Helper()
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		run(path, chromedp.EmulateViewport(phoneWidth, 844), chromedp.Navigate(base+path+sep+"lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
	}
	check := func(path, lang string) {
		t.Helper()
		where := path + " (" + lang + ")"
		width, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if width > phoneWidth {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter(el => {
				for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (getComputedStyle(p).overflowX !== "visible") return false;
				const r = el.getBoundingClientRect(); return r.right > innerWidth + 0.5 && ![...el.children].some(c => c.getBoundingClientRect().right > innerWidth + 0.5) })
				.slice(0, 8).map(el => el.tagName.toLowerCase() + "." + el.className + " " + JSON.stringify(el.textContent.trim().slice(0, 40)) + " right=" + Math.round(el.getBoundingClientRect().right))`))
			t.Errorf("%s: the page is %.0f px wide at %d px; too wide: %s", where, width, phoneWidth, strings.Join(wide, "; "))
		}
		// Each word on one line: the top of every character of it is the same.
		split, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(words => {
			const split = [];
			const header = document.querySelector("header.site");
			const w = document.createTreeWalker(header, NodeFilter.SHOW_TEXT);
			const lines = (node, from, to) => { const tops = new Set();
				for (let k = from; k < to; k++) { const r = document.createRange(); r.setStart(node, k); r.setEnd(node, k + 1);
					const b = r.getClientRects()[0]; if (b && b.width > 0) tops.add(Math.round(b.top)); }
				return tops.size };
			for (let n; (n = w.nextNode());) {
				for (const word of words) for (let i = n.data.indexOf(word); i >= 0; i = n.data.indexOf(word, i + 1))
					if (lines(n, i, i + word.length) > 1) split.push(word);
			}
			for (const a of header.querySelectorAll("nav.console-nav a, nav.public-nav a")) {
				const t = a.firstChild; if (t && t.nodeType === 3 && lines(t, 0, t.data.length) > 1) split.push(t.data);
			}
			return split })(`+jsonList(words[lang])+`)`))
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if len(split) > 0 {
			t.Errorf("%s: the header breaks inside %q", where, split)
		}
	}
	for _, lang := range []string{"ja", "en"} {
		for _, p := range public {
			open(p, lang)
			check(p, lang)
		}
	}
	shootPhone(t, ctx, run, "layout-status-en", base+"/?lang=en")
	shootPhone(t, ctx, run, "layout-status-ja", base+"/?lang=ja")

	signIn(t, ctx, base, f.AdminEmail)
	for _, lang := range []string{"ja", "en"} {
		for _, p := range console {
			open(p, lang)
			check(p, lang)
		}
	}

	// The tables of notices and drafts: at 390 px each row is a card, each
	// cell as wide as the card and named by its column's label.
	for _, lang := range []string{"ja", "en"} {
		for _, p := range []string{"/admin/notifications", "/admin/drafts"} {
			open(p, lang)
			cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main table.grid td")].filter(td => td.offsetParent !== null)
				.map(td => { const r = td.getBoundingClientRect(); const before = getComputedStyle(td, "::before").content;
					return Math.round(r.width) + "|" + Math.round(r.right) + "|" + (td.dataset.label || "") + "|" + before })`))
			if err != nil {
				t.Fatal(err)
			}
			if len(cells) < 3 {
				t.Fatalf("%s (%s): %d cells", p, lang, len(cells))
			}
			for _, c := range cells {
				parts := strings.SplitN(c, "|", 4)
				w, _ := strconv.Atoi(parts[0])
				right, _ := strconv.Atoi(parts[1])
				if w < 250 || right > phoneWidth || parts[2] == "" || !strings.Contains(parts[3], parts[2]) {
					t.Fatalf("%s (%s): a cell %d px wide ending at %d px, labelled %q, shows %s; want the card's width, inside the screen, with its label",
						p, lang, w, right, parts[2], parts[3])
				}
			}
			checkA11y(t, ctx, axe, p+" at 390 px "+lang)
		}
	}
	// Starting a window before its time asks first, at any width.
	open("/admin/maintenance/"+id(f.Scheduled), "ja")
	run("early start", chromedp.SetValue(formField("status"), data.InProgress), chromedp.SendKeys(formField("body_ja"), "作業を開始しました。"),
		chromedp.Click(chromedp.CSS(`button[name="preview"]`)), chromedp.WaitVisible(chromedp.CSS("#preview")))
	if txt := textOfPage(t, ctx); !strings.Contains(txt, "予定より前に開始しようとしています") {
		t.Fatalf("no warning:\n%s", txt)
	}
	check("/admin/maintenance/"+id(f.Scheduled)+" early start", "ja")
	checkA11y(t, ctx, axe, "early start warning")
	shoot(t, ctx, "layout-maintenance-early-start")
	for _, p := range []string{"/admin/notifications", "/admin/drafts", "/admin/products", "/admin/maintenance/" + id(f.Scheduled)} {
		shootPhone(t, ctx, run, "layout"+strings.NewReplacer("/admin", "", "/", "-").Replace(p), base+p+"?lang=ja")
	}
	shootPhone(t, ctx, run, "layout-dashboard-en", base+"/admin?lang=en")
}

// shootPhone opens a page and photographs it (see shoot).
func shootPhone(t *testing.T, ctx context.Context, run func(string, ...chromedp.Action[chromedp.Void]), name, u string) {
	t.Helper()
	run(name, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("main")))
	shoot(t, ctx, name)
}

func jsonList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestLayoutProductsShowBothStatuses: the products page names its status
// column as the one set by hand and shows beside it what the public page
// shows, which an open incident can make worse.
func TestLayoutProductsShowBothStatuses(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	ctx := context.Background()
	if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の停止", Impact: "critical", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.MajorOutage}}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	op := a.client()
	op.login("editor@example.com")
	r := op.get("/admin/products?lang=ja")
	expect(t, r, http.StatusOK, "手動設定", "公開ページでの表示")
	row := regexp.MustCompile(`(?s)<tr>\s*<td[^>]*>配信CDN.*?</tr>`).FindString(r.body)
	if !strings.Contains(row, "重大な障害") || !strings.Contains(row, "正常") {
		t.Fatalf("the CDN's row does not show both the shown and the hand-set status:\n%s", row)
	}
	if strings.Index(row, "重大な障害") > strings.Index(row, "正常") {
		t.Fatalf("the shown status comes after the hand-set one:\n%s", row)
	}
	expect(t, op.get("/admin/products?lang=en"), http.StatusOK, "Set by hand", "Shown on public page", "Major outage")
}

// TestLayoutMaintenanceStepDefault: the update form of a window that has not
// started offers its current status, not "in progress", so a hurried
// operator does not announce the start a week early.
func TestLayoutMaintenanceStepDefault(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	op := a.client()
	op.login(f.EditorEmail)
	id := strconv.FormatInt(f.Scheduled, 10)
	r := op.get("/admin/maintenance/" + id + "?lang=ja")
	expect(t, r, http.StatusOK)
	if sel := selectedOption(r.body, "status"); sel != data.Scheduled {
		t.Fatalf("the status select defaults to %q, want %q", sel, data.Scheduled)
	}
	r = op.get("/admin/maintenance/" + strconv.FormatInt(f.InProgress, 10))
	if sel := selectedOption(r.body, "status"); sel != data.InProgress {
		t.Fatalf("a running window's status select defaults to %q, want %q", sel, data.InProgress)
	}
}

var selectRe = regexp.MustCompile(`(?s)<select id="f-status" name="status">(.*?)</select>`)
var selectedRe = regexp.MustCompile(`<option value="([^"]+)" selected>`)

func selectedOption(body, _ string) string {
	m := selectRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	if s := selectedRe.FindStringSubmatch(m[1]); s != nil {
		return s[1]
	}
	return ""
}

// TestLayoutMaintenanceEarlyStart: choosing "in progress" before a window's
// planned start shows a warning, in the preview and on sending; the update
// is saved only once the operator ticks that they mean it.
func TestLayoutMaintenanceEarlyStart(t *testing.T) {
	a := newTestServer(t)
	a.withMail(true)
	f := a.seedDemo()
	ctx := context.Background()
	op := a.client()
	op.login(f.EditorEmail)
	id := strconv.FormatInt(f.Scheduled, 10)
	path := "/admin/maintenance/" + id
	op.get(path + "?lang=ja")
	notices := func() int {
		ns, _, _, err := a.store.Notifications(ctx, 10000, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ns)
	}
	before := notices()
	const warning = "予定より前に開始しようとしています"
	form := url.Values{"status": {data.InProgress}, "body_ja": {"作業を開始しました。"}, "notify": {"1"}}

	preview := url.Values{"preview": {"1"}}
	for k, v := range form {
		preview[k] = v
	}
	r := op.post(path+"/updates", preview)
	expect(t, r, http.StatusOK, warning, `name="confirm_early"`, "【メンテナンス開始】")

	r = op.post(path+"/updates", form)
	expect(t, r, http.StatusBadRequest, warning, `name="confirm_early"`, "作業を開始しました。")
	if m, _ := a.store.Maintenance(ctx, f.Scheduled); m.Status != data.Scheduled || notices() != before {
		t.Fatalf("an unconfirmed early start was saved: %s, %d notices (was %d)", m.Status, notices(), before)
	}
	// Any other step needs no confirmation.
	expectNot(t, op.get(path), warning)

	form.Set("confirm_early", "1")
	expect(t, op.post(path+"/updates", form), http.StatusSeeOther)
	if m, _ := a.store.Maintenance(ctx, f.Scheduled); m.Status != data.InProgress || notices() != before+1 {
		t.Fatalf("a confirmed early start: %s, %d notices (was %d)", m.Status, notices(), before)
	}

	r = op.get("/admin/maintenance/" + id + "?lang=en")
	expectNot(t, r, "before the planned start")
}

// TestLayoutImportExample: the import page's example rows name this
// instance's first two products, or generic ones when it has none.
func TestLayoutImportExample(t *testing.T) {
	a := newTestServer(t)
	op := a.client()
	op.login("admin@example.com")
	r := op.get("/admin/contracts/import?lang=ja")
	expect(t, r, http.StatusOK, "製品A;製品B")
	expectNot(t, r, "krewSheet")

	a.seedDemo()
	products, err := a.store.Products(context.Background())
	if err != nil || len(products) < 2 {
		t.Fatalf("%d products %v", len(products), err)
	}
	want := products[0].NameJA + ";" + products[1].NameJA
	r = op.get("/admin/contracts/import?lang=ja")
	expect(t, r, http.StatusOK, "C-001,株式会社サンプル,"+want+",true,山田 太郎")
	expectNot(t, r, "krewDashboard", "製品A")
}

// TestLayoutCopy: the console's words match the public pages' (お客様),
// the maintenance notify box says once when email goes, the subscribers
// are in the console's menu, and the demo spells License one way.
func TestLayoutCopy(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		b, err := templates.FS.ReadFile("locales/" + lang + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "お客さま") {
			t.Errorf("%s.toml says お客さま; the public pages say お客様", lang)
		}
	}
	a := newTestServer(t)
	f := a.seedDemo()
	op := a.client()
	op.login(f.EditorEmail)
	r := op.get("/admin/maintenance/" + strconv.FormatInt(f.InProgress, 10) + "?lang=ja")
	if n := strings.Count(r.body, "メールは「実施中」（開始）・「完了」・「中止」のときに送信されます。"); n != 1 {
		t.Errorf("the notify box says when email goes %d times", n)
	}
	nav := regexp.MustCompile(`(?s)<nav class="wrap console-nav".*?</nav>`).FindString(op.get("/admin?lang=ja").body)
	if !strings.Contains(nav, `<a href="/admin/subscribers">メール配信の登録者</a>`) {
		t.Errorf("the console menu lacks the subscribers:\n%s", nav)
	}
	if i, j := strings.Index(nav, "/admin/contracts\""), strings.Index(nav, "/admin/subscribers\""); i < 0 || j < i {
		t.Errorf("the subscribers do not follow the contracts in the menu:\n%s", nav)
	}
	anon := a.client()
	var pages []string
	pages = append(pages, "/", "/history", "/news")
	for _, n := range append(append([]int64{}, f.Incidents...), f.Maintenances...) {
		pages = append(pages, fmt.Sprintf("/incidents/%d", n), fmt.Sprintf("/maintenance/%d", n))
	}
	for _, p := range pages {
		r := anon.get(p + "?lang=en")
		if r.code != http.StatusOK {
			continue
		}
		if m := regexp.MustCompile(`(?i)licen[cs]e`).FindAllString(r.body, -1); m != nil {
			for _, w := range m {
				if strings.EqualFold(w, "licence") {
					t.Errorf("%s in English spells %q", p, w)
					break
				}
			}
		}
	}
}
