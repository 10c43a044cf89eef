package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/oshirase/oshirase/data"
)

// TestEmbedInTheBrowser: a customer's site on another origin, with a strict
// policy of its own, includes the script; in each state (nothing, an open
// incident, maintenance under way, maintenance soon), in Japanese and
// English, the banner shows what it should, passes axe, is reachable by
// keyboard, links to the page, and stays dismissed once closed.
func TestEmbedInTheBrowser(t *testing.T) {
	axe := axeScript(t)
	ctx := newBrowser(t)
	a := newTestServer(t)
	dbctx := context.Background()
	product, cdn, api := a.seedCatalog()
	status := a.srv.URL
	// The host: no inline anything, this origin's script, the status
	// origin for the rest; violations are counted by its own script.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self' "+status+"; style-src 'self' "+status+
			"; connect-src "+status+"; frame-src "+status+"; img-src 'none'; base-uri 'none'; form-action 'none'")
		if r.URL.Path == "/host.js" {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `window.violations = []; document.addEventListener("securitypolicyviolation", function (e) { window.violations.push(e.violatedDirective + " " + e.blockedURI); });`)
			return
		}
		lang := r.URL.Query().Get("hl")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="%s"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Customer app</title><script src="/host.js"></script></head>
<body><main><h1>kintone</h1><p>Customer application content.</p>
<script src="%s/embed.js" data-product="%d" async></script></main></body></html>`, lang, status, product)
	}))
	defer host.Close()
	run := browserRun(t, ctx)
	banner := `(() => { const h = document.querySelector("[data-oshirase]"); if (!h) return ""; const r = h.shadowRoot.querySelector(".osh"); return r && !r.hidden ? r.innerText : "" })()`
	visit := func(lang string, want bool) string {
		t.Helper()
		run("open the host", chromedp.Navigate(host.URL+"/?hl="+lang), chromedp.WaitReady(chromedp.CSS("main")))
		var text string
		for i := 0; i < 40; i++ {
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](banner))
			if err != nil {
				t.Fatal(err)
			}
			if text = s; text != "" || !want && i >= 10 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.violations.join(", ")`)); v != "" {
			t.Fatalf("%s: the host's policy was violated: %s", lang, v)
		}
		return text
	}
	check := func(state string, wants map[string][]string) {
		t.Helper()
		for _, lang := range []string{"ja", "en"} {
			text := visit(lang, len(wants[lang]) > 0)
			if len(wants[lang]) == 0 && text != "" {
				t.Fatalf("%s %s: a banner with nothing to say: %q", state, lang, text)
			}
			for _, w := range wants[lang] {
				if !strings.Contains(text, w) {
					t.Fatalf("%s %s: banner %q lacks %q", state, lang, text, w)
				}
			}
			checkA11y(t, ctx, axe, state+" "+lang)
			shoot(t, ctx, "embed-"+state+"-"+lang)
		}
	}
	check("none", nil)

	inc, err := a.store.CreateIncident(dbctx, data.NewIncident{TitleJA: "配信が遅延しています", TitleEN: "Delivery is slow", Impact: "major",
		Status: data.Investigating, BodyJA: "調査しています。", Components: map[int64]string{cdn: data.PartialOutage}})
	if err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	check("incident", map[string][]string{"ja": {"障害が発生しています。", "配信が遅延しています", "詳細を見る"}, "en": {"We are experiencing a problem.", "Delivery is slow", "View details"}})
	// The keyboard reaches the link, then the close button; Enter closes it
	// and it stays closed for this incident.
	visit("en", true)
	run("tab", chromedp.KeyEvent(kb.Tab))
	focus := `(() => { const a = document.activeElement; return a && a.shadowRoot && a.shadowRoot.activeElement ? a.shadowRoot.activeElement.className + " " + (a.shadowRoot.activeElement.getAttribute("href") || a.shadowRoot.activeElement.getAttribute("aria-label")) : String(a && a.tagName) })()`
	if f, _ := chromedp.Run(ctx, chromedp.Evaluate[string](focus)); f != "osh-link http://status.example.com/incidents/"+strconv.FormatInt(inc.ID, 10)+"?lang=en" {
		t.Fatalf("first tab stop: %q", f)
	}
	run("tab", chromedp.KeyEvent(kb.Tab))
	if f, _ := chromedp.Run(ctx, chromedp.Evaluate[string](focus)); f != "osh-close Dismiss this notice: Delivery is slow" {
		t.Fatalf("second tab stop: %q", f)
	}
	run("close", chromedp.KeyEvent(kb.Enter))
	if s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](banner)); s != "" {
		t.Fatalf("still shown after closing: %q", s)
	}
	if s := visit("ja", false); s != "" {
		t.Fatalf("shown again after closing: %q", s)
	}
	if ck, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); ck != "" {
		t.Fatalf("cookies: %q", ck)
	}
	run("forget", chromedp.Evaluate[chromedp.Void](`localStorage.clear()`))

	a.store.PostIncidentUpdate(dbctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "解決しました。", Components: map[int64]string{cdn: data.Operational}})
	now := a.clock.Now()
	m, err := a.store.CreateMaintenance(dbctx, data.NewMaintenance{TitleJA: "データベースの更新", TitleEN: "Database upgrade", BodyJA: "予定です。",
		StartsAt: now.Add(time.Hour), EndsAt: now.Add(3 * time.Hour), ComponentIDs: []int64{api}})
	if err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	check("soon", map[string][]string{"ja": {"メンテナンスを予定しています。", "データベースの更新", "JST"}, "en": {"Maintenance scheduled.", "Database upgrade", "JST"}})
	if _, err := a.store.PostMaintenanceUpdate(dbctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	check("now", map[string][]string{"ja": {"メンテナンス中です。", "データベースの更新", "まで"}, "en": {"Maintenance in progress.", "Database upgrade", "until"}})

	// The iframe alternative, framed by the host's origin.
	run("frame", chromedp.Navigate(status+"/embed/products/"+strconv.FormatInt(product, 10)+"/en"), chromedp.WaitReady(chromedp.CSS("main")))
	var text string
	for i := 0; i < 40 && text == ""; i++ {
		text, _ = chromedp.Run(ctx, chromedp.Evaluate[string](banner))
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(text, "Maintenance in progress.") {
		t.Fatalf("frame page: %q", text)
	}
	checkA11y(t, ctx, axe, "frame en")
	shoot(t, ctx, "embed-frame-en")
}
