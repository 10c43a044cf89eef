package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// embedFixture is a product with an open incident, a window under way, one
// starting soon and one far off, beside what must never show: a resolved
// incident, another product's incident and a contract-only one.
type embedFixture struct {
	product, other                  int64
	open, resolved, elsewhere, priv int64
	now, soon, far                  int64
}

func seedEmbed(a *testApp) embedFixture {
	a.t.Helper()
	ctx := context.Background()
	f := embedFixture{}
	var cdn, api int64
	f.product, cdn, api = a.seedCatalog()
	secret, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: f.product, NameJA: "専用回線", NameEN: "Private line", ContractOnly: true})
	if err != nil {
		a.t.Fatal(err)
	}
	q, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "別製品", NameEN: "Other product"})
	qc, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: q.ID, NameJA: "別のAPI", NameEN: "Other API"})
	f.other = q.ID
	incident := func(title string, comp int64) int64 {
		inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: title, TitleEN: title + " (en)", Impact: "major", Status: data.Investigating,
			BodyJA: "調査しています。", Components: map[int64]string{comp: data.PartialOutage}})
		if err != nil {
			a.t.Fatal(err)
		}
		return inc.ID
	}
	f.open = incident("配信が遅延しています", cdn)
	f.resolved = incident("解決済みの障害", cdn)
	if _, err := a.store.PostIncidentUpdate(ctx, f.resolved, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "解決しました。",
		Components: map[int64]string{cdn: data.Operational}}); err != nil {
		a.t.Fatal(err)
	}
	f.elsewhere = incident("別製品の障害", qc.ID)
	f.priv = incident("契約専用の障害", secret.ID)
	window := func(title string, start time.Duration) int64 {
		now := a.clock.Now()
		m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: title, TitleEN: title + " (en)", BodyJA: "予定です。",
			StartsAt: now.Add(start), EndsAt: now.Add(start + 2*time.Hour), ComponentIDs: []int64{api}})
		if err != nil {
			a.t.Fatal(err)
		}
		return m.ID
	}
	f.now = window("実施中のメンテナンス", time.Hour)
	if _, err := a.store.PostMaintenanceUpdate(ctx, f.now, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"}); err != nil {
		a.t.Fatal(err)
	}
	f.soon = window("まもなくのメンテナンス", 3*time.Hour)
	f.far = window("先のメンテナンス", 72*time.Hour)
	a.app.changed()
	return f
}

func readEmbed(t *testing.T, r response) embedDoc {
	t.Helper()
	var d embedDoc
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatalf("embed JSON: %v\n%s", err, r.body)
	}
	return d
}

// TestEmbedJSON: the notice's JSON lists only the product's open incidents
// and its maintenance under way or soon, never anything contract-only, in
// the language of its path, with CORS open and no cookie.
func TestEmbedJSON(t *testing.T) {
	a := newTestServer(t)
	f := seedEmbed(a)
	c := a.client()
	base := "/embed/products/" + strconv.FormatInt(f.product, 10)
	for _, lang := range []string{"ja", "en"} {
		r := c.get(base + "/" + lang + ".json")
		expect(t, r, http.StatusOK)
		if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("%s: headers %v", lang, r.header)
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: content type %q", lang, r.header.Get("Content-Type"))
		}
		d := readEmbed(t, r)
		var ids []string
		for _, n := range d.Notices {
			ids = append(ids, n.ID+":"+n.State)
		}
		want := "i" + strconv.FormatInt(f.open, 10) + ":investigating m" + strconv.FormatInt(f.now, 10) + ":in_progress m" + strconv.FormatInt(f.soon, 10) + ":soon"
		sort.Strings(ids)
		if strings.Join(ids, " ") != want {
			t.Fatalf("%s: notices %v, want %s", lang, ids, want)
		}
		if d.Lang != lang || !strings.HasPrefix(d.CSS, "/static/") {
			t.Fatalf("%s: %+v", lang, d)
		}
		for _, bad := range []string{"解決済み", "別製品", "契約専用", "専用回線", "Private line", "先のメンテナンス"} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s: the JSON shows %q: %s", lang, bad, r.body)
			}
		}
		inc := d.Notices[0]
		if lang == "ja" {
			if inc.Title != "配信が遅延しています" || inc.Label != "障害が発生しています。" || inc.URL != "http://status.example.com/incidents/"+strconv.FormatInt(f.open, 10) {
				t.Errorf("ja incident: %+v", inc)
			}
			for _, n := range d.Notices {
				if n.State == "soon" && (!strings.Contains(n.When, "〜") || !strings.Contains(n.When, "JST")) {
					t.Errorf("ja window time: %q", n.When)
				}
			}
		} else if inc.Title != "配信が遅延しています (en)" || inc.Label != "We are experiencing a problem." || !strings.HasSuffix(inc.URL, "?lang=en") {
			t.Errorf("en incident: %+v", inc)
		}
		// Again: from memory (the fast path), the same headers.
		r2 := c.get(base + "/" + lang + ".json")
		if r2.body != r.body || r2.header.Get("Access-Control-Allow-Origin") != "*" || r2.header.Get("Set-Cookie") != "" {
			t.Fatalf("%s: second answer differs: %v", lang, r2.header)
		}
	}
	// The other product: its own incident only.
	d := readEmbed(t, c.get("/embed/products/"+strconv.FormatInt(f.other, 10)+"/ja.json"))
	if len(d.Notices) != 1 || d.Notices[0].ID != "i"+strconv.FormatInt(f.elsewhere, 10) {
		t.Errorf("other product: %+v", d.Notices)
	}
	// A product shown nowhere, spelled oddly, or hostile: a JSON 404, never a 500.
	for _, p := range []string{"/embed/products/999999/ja.json", "/embed/products/0" + strconv.FormatInt(f.product, 10) + "/ja.json",
		"/embed/products/-1/en.json", "/embed/products/1e3/en.json", "/embed/products/99999999999999999999/ja.json",
		"/embed/products/%00/ja.json", "/embed/products/" + strconv.FormatInt(f.product, 10) + "/fr.json"} {
		r := c.get(p)
		if (r.code != http.StatusNotFound && r.code != http.StatusMethodNotAllowed) || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %v", p, r.code, r.header)
		}
		if strings.HasSuffix(p, "ja.json") && !strings.Contains(r.body, `"not_found"`) {
			t.Errorf("%s: %s", p, r.body)
		}
	}
	if r := c.get(base + "/ja.json?lang=%ff"); r.code >= 500 || r.header.Get("Set-Cookie") != "" {
		t.Errorf("bad text: %d %v", r.code, r.header)
	}
	for _, q := range []string{"?lang=en", "?x=" + strings.Repeat("a", 4000), "?product=1&product=2"} {
		r := c.get(base + "/ja.json" + q)
		if r.code != http.StatusOK || r.header.Get("Set-Cookie") != "" || readEmbed(t, r).Lang != "ja" {
			t.Errorf("%s: %d %v", q, r.code, r.header)
		}
	}
	// Preflight.
	req, _ := http.NewRequest(http.MethodOptions, a.srv.URL+base+"/ja.json", nil)
	req.Header.Set("Origin", "https://customer.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if r := c.do(req); r.code != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", r.code, r.header)
	}
	// Nothing at all: resolved and ended, no notice.
	ctx := context.Background()
	a.store.PostIncidentUpdate(ctx, f.open, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "解決しました。"})
	a.store.PostMaintenanceUpdate(ctx, f.now, data.NewMaintenanceUpdate{Status: data.Completed, BodyJA: "終わりました。"})
	a.store.PostMaintenanceUpdate(ctx, f.soon, data.NewMaintenanceUpdate{Status: data.Cancelled, BodyJA: "中止します。"})
	a.app.changed()
	if d := readEmbed(t, c.get(base+"/en.json")); len(d.Notices) != 0 {
		t.Errorf("after the end: %+v", d.Notices)
	}
}

// TestEmbedScriptAndFrame: the script's stable address, the iframe page's
// policy (framable, this origin only) and the console's snippet page.
func TestEmbedScriptAndFrame(t *testing.T) {
	a := newTestServer(t)
	f := seedEmbed(a)
	c := a.client()
	r := c.get("/embed.js")
	expect(t, r, http.StatusOK, "data-product", "attachShadow")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") || r.header.Get("Set-Cookie") != "" {
		t.Errorf("embed.js: %v", r.header)
	}
	for _, bad := range []string{"eval(", "new Function", "innerHTML", ".style", "setAttribute(\"style"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("embed.js uses %s", bad)
		}
	}
	id := strconv.FormatInt(f.product, 10)
	for path, lang := range map[string]string{"/embed/products/" + id + "/en": "en", "/embed/products/" + id + "/ja": "ja", "/embed/products/" + id: "ja"} {
		r := c.get(path)
		expect(t, r, http.StatusOK, `<html lang="`+lang+`">`, `data-product="`+id+`"`, "/embed.js", "/embed.css")
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors *") || strings.Contains(csp, "unsafe") || r.header.Get("X-Frame-Options") != "" || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %v", path, r.header)
		}
	}
	c.lang = "en"
	expect(t, c.get("/embed/products/"+id), http.StatusOK, `<html lang="en">`)
	c.lang = ""
	for _, p := range []string{"/embed/products/x", "/embed/products/01", "/embed/products/" + id + "/fr"} {
		// (An unknown last part meets the preflight's route: 405.)
		if r := c.get(p); r.code != http.StatusNotFound && r.code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", p, r.code)
		}
	}
	c.login("editor@example.com")
	expect(t, c.get("/admin/products"), http.StatusOK, "/admin/products/"+id+"/embed")
	expect(t, c.get("/admin/products/"+id+"/embed"), http.StatusOK, "埋め込み用のお知らせ",
		`&lt;script src=&#34;http://status.example.com/embed.js&#34; data-product=&#34;`+id+`&#34; async&gt;&lt;/script&gt;`,
		`data-copy="embed-script"`, "/copy.js", "connect-src http://status.example.com")
}
