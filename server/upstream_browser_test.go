package server

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/upstream"
)

// TestUpstreamPagesAccessible: the upstream's note beside a component on
// the public page, and the console's list (with a failing upstream) and
// form, in both languages, pass axe.
func TestUpstreamPagesAccessible(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	a := newTestServer(t)
	c := context.Background()
	_, cdn, api := a.seedCatalog()
	kintone, err := a.store.CreateUpstream(c, data.UpstreamInput{ComponentID: api, Kind: data.UpstreamStatuspage,
		URL: "https://status.kintone.example.com/api/v2/summary.json", PageURL: "https://status.kintone.example.com/",
		NameJA: "kintone", NameEN: "kintone", Match: "kintone", IntervalS: 120, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.store.RecordUpstream(c, kintone.ID, data.UpstreamResult{At: a.clock.Now(), State: upstream.State{Status: data.MajorOutage,
		Detail: "kintone に接続しづらい事象", URL: "https://status.kintone.example.com/incidents/42"}, ETag: `"x"`}, true); err != nil {
		t.Fatal(err)
	}
	cloud, err := a.store.CreateUpstream(c, data.UpstreamInput{ComponentID: cdn, Kind: data.UpstreamFeed,
		URL: "https://status.cloud.example.net/history.atom", NameJA: "クラウド基盤", NameEN: "the cloud provider",
		Match: "major_outage: outage tokyo\npartial_outage: tokyo", IntervalS: 300, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.store.RecordUpstream(c, cloud.ID, data.UpstreamResult{At: a.clock.Now(), Error: "outbound: address refused: 10.0.0.8 is in 10.0.0.0/8 (local or private)"}, true); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	run := browserRun(t, ctx)
	signIn(t, ctx, a.srv.URL, "editor@example.com")
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, lang := range []string{"ja", "en"} {
		for _, pg := range []struct{ name, path string }{
			{"status-upstream", "/"},
			{"console-upstreams", "/admin/components/" + id(api) + "/upstreams"},
			{"console-upstreams-failing", "/admin/components/" + id(cdn) + "/upstreams"},
			{"console-upstream-form", "/admin/upstreams/" + id(cloud.ID) + "/edit"},
		} {
			run(pg.name, chromedp.Navigate(a.srv.URL+pg.path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
			checkA11y(t, ctx, axe, pg.name+" "+lang)
			shoot(t, ctx, pg.name+"-"+lang)
		}
	}
	run("public page", chromedp.Navigate(a.srv.URL+"/?lang=ja"), chromedp.WaitVisible(chromedp.CSS("main")))
	mustContain(t, ctx, "public page", "kintone側で障害が発生しています", "kintoneの状況を見る")
}
