package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestBarsSayMoreThanColour: each day of a bar can be reached from the
// keyboard and holds its details (date, worst status, minutes per status,
// links to its incidents) in the page itself; statuses carry a pattern the
// legend shows; the phone's 30-day view has its own percentage; a
// collapsed product is one row with its worst state and its own bar.
func TestBarsSayMoreThanColour(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	product, cdn, api := a.seedCatalog()
	other, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "決済", NameEN: "Payments", Collapsed: true})
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: other.ID, NameJA: "決済ゲートウェイ", NameEN: "Payment gateway"})
	a.store.CreateComponent(ctx, data.ComponentInput{ProductID: other.ID, NameJA: "請求書", NameEN: "Invoices"})

	// Two days ago: the CDN partly down for 90 minutes, then resolved.
	a.clock.Advance(-48 * time.Hour)
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の遅延", TitleEN: "Slow delivery", Impact: "major",
		Status: data.Investigating, BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(90 * time.Minute)
	a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"})
	a.clock.Advance(48*time.Hour - 90*time.Minute)
	// Now the gateway is down: the collapsed product shows it.
	if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "決済の障害", TitleEN: "Payments down", Impact: "critical",
		Status: data.Investigating, BodyJA: "調査中です。", Components: map[int64]string{gw.ID: data.MajorOutage}}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	_ = product
	_ = api

	for _, lang := range []string{"ja", "en"} {
		c := a.client()
		c.lang = lang
		r := c.get("/")
		expect(t, r, http.StatusOK)
		body := r.body
		days := regexp.MustCompile(`<li class="day st-[a-z-]+" tabindex="0">`).FindAllStringIndex(body, -1)
		// Two components of the open product, and the collapsed product's
		// own bar plus its two components.
		if len(days) != 5*90 {
			t.Fatalf("%s: %d focusable days, want %d", lang, len(days), 5*90)
		}
		want := map[string][]string{
			"ja": {"一部障害: 1時間30分", `href="/incidents/` + strconv.FormatInt(inc.ID, 10) + `">配信の遅延</a>`,
				"障害はありませんでした", "11月24日からの稼働率", "記録なし", "各日の色と模様は、その日のもっとも重い状態を示します"},
			"en": {"Partial outage: 1h 30m", `>Slow delivery</a>`, "No incidents", "uptime since Nov 24",
				"No data", "colour and pattern show the worst state it was in"},
		}[lang]
		expect(t, r, http.StatusOK, want...)
		// Every status in the legend has a swatch of its own pattern.
		for _, st := range data.ComponentStatuses {
			if !strings.Contains(body, `<span class="swatch `+statusClassName(st)+`" aria-hidden="true"></span>`) {
				t.Errorf("%s: legend lacks a swatch for %s", lang, st)
			}
		}
		// The collapsed product: one row with its worst state and its own
		// bar, its components behind a disclosure.
		coll := regexp.MustCompile(`(?s)<div class="product collapsed">.*?</details>`).FindString(body)
		worst := map[string]string{"ja": "重大な障害", "en": "Major outage"}[lang]
		head, group, ok := strings.Cut(coll, `<details class="group">`)
		if !ok || !strings.Contains(head, worst) || strings.Count(head, `<ol class="bars"`) != 1 {
			t.Fatalf("%s: collapsed product row %q", lang, head)
		}
		if !strings.Contains(group, map[string]string{"ja": "決済ゲートウェイ", "en": "Payment gateway"}[lang]) || strings.Count(group, `<ol class="bars"`) != 2 {
			t.Errorf("%s: the collapsed product's components %q", lang, group)
		}
	}
}

func statusClassName(s string) string { return "st-" + strings.ReplaceAll(s, "_", "-") }

// TestProductCollapsedFromTheConsole: the operator's choice per product,
// set in the product form, changes the page.
func TestProductCollapsedFromTheConsole(t *testing.T) {
	a := newTestServer(t)
	product, _, _ := a.seedCatalog()
	op := a.client()
	op.login("editor@example.com")
	path := "/admin/products/" + strconv.FormatInt(product, 10)
	expect(t, op.get(path+"/edit"), http.StatusOK, `name="collapsed"`, "まとめて表示")
	expect(t, op.post(path, url.Values{"name_ja": {"krewDashboard"}, "collapsed": {"1"}}), http.StatusSeeOther)
	expect(t, op.get(path+"/edit"), http.StatusOK, `value="1" checked`)
	expect(t, a.client().get("/"), http.StatusOK, `<div class="product collapsed">`)
	expect(t, op.post(path, url.Values{"name_ja": {"krewDashboard"}}), http.StatusSeeOther)
	expectNot(t, a.client().get("/"), `<div class="product collapsed">`)
}
