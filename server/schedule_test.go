package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestUpgradesThroughTheConsole schedules, reschedules and cancels an
// upgrade, and follows it onto the public pages.
func TestUpgradesThroughTheConsole(t *testing.T) {
	a := newTestServer(t)
	a.withMail(false)
	p, _, _ := a.seedCatalog()
	c := a.client()
	c.login("editor@example.com")
	c.get("/admin/upgrades/new")
	loc := a.app.opts.Location
	start := a.clock.Now().Add(10 * 24 * time.Hour).In(loc)
	form := url.Values{"product_id": {itoa(p)}, "version": {"3.2.0"}, "starts_at": {start.Format("2006-01-02T15:04")},
		"ends_at": {start.Add(2 * time.Hour).Format("2006-01-02T15:04")}, "lead_times": {"7d, 1d"},
		"summary_ja": {"グラフの種類を追加します。"}, "notes_ja": {"- 円グラフ\n- 散布図"}}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("lead_times", "next week")
	bad.Set("starts_at", a.clock.Now().Add(-time.Hour).In(loc).Format("2006-01-02T15:04"))
	expect(t, c.post("/admin/upgrades", bad), http.StatusBadRequest, "「7d, 1d」のように", `value="next week"`)
	bad.Set("lead_times", "7d")
	expect(t, c.post("/admin/upgrades", bad), http.StatusBadRequest, "過去の日時は指定できません。")
	id := idFromLocation(t, c.post("/admin/upgrades", form))
	page := c.get("/admin/upgrades/" + id)
	expect(t, page, http.StatusOK, "7日前", "1日前", "送信予定")

	pub := a.client()
	expect(t, pub.get("/"), http.StatusOK, "予定されているバージョンアップ", "krewDashboard 3.2.0", "グラフの種類を追加します。")
	expect(t, pub.get("/upgrades/"+id), http.StatusOK, "krewDashboard 3.2.0", "<li>円グラフ</li>", "リリースノート")
	expect(t, pub.get("/news"), http.StatusOK, "バージョンアップ", "krewDashboard 3.2.0")

	// Reschedule by a day, then cancel.
	form.Set("starts_at", start.Add(24*time.Hour).Format("2006-01-02T15:04"))
	form.Set("ends_at", start.Add(26*time.Hour).Format("2006-01-02T15:04"))
	expect(t, c.post("/admin/upgrades/"+id, form), http.StatusSeeOther)
	u, _ := a.store.Upgrade(context.Background(), mustInt(t, id))
	if u.Sequence != 1 || !u.StartsAt.Equal(start.Add(24*time.Hour).UTC().Truncate(time.Minute)) {
		t.Fatalf("after reschedule %+v", u)
	}
	c.get("/admin/upgrades/" + id)
	expect(t, c.post("/admin/upgrades/"+id+"/cancel", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expect(t, c.get("/admin/upgrades/"+id), http.StatusOK, "中止", "変更できません")
	expectNot(t, a.client().get("/"), "予定されているバージョンアップ")
}

func TestAnnouncementsAndNews(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	c.login("editor@example.com")
	c.get("/admin/announcements/new")
	expect(t, c.post("/admin/announcements", url.Values{"title_ja": {""}, "body_ja": {"本文"}}), http.StatusBadRequest, "入力してください。", ">本文</textarea>")
	expect(t, c.post("/admin/announcements", url.Values{"title_ja": {"年末年始のサポート体制について"}, "title_en": {"Support over the New Year"},
		"body_ja": {"12月29日から1月3日まではお休みをいただきます。"}}), http.StatusSeeOther)
	future := a.clock.Now().Add(48 * time.Hour).In(a.app.opts.Location).Format("2006-01-02T15:04")
	expect(t, c.post("/admin/announcements", url.Values{"title_ja": {"予約したお知らせ"}, "body_ja": {"まだ見えません"}, "publish_at": {future}}), http.StatusSeeOther)
	for i := 0; i < 25; i++ {
		a.store.CreateIncident(context.Background(), data.NewIncident{TitleJA: "過去の障害" + itoa(int64(i)), Impact: "minor", Status: data.Resolved,
			StartedAt: a.clock.Now().Add(-time.Duration(i+1) * time.Hour), BodyJA: "x"})
	}
	a.app.changed()
	r := a.client().get("/news")
	expect(t, r, http.StatusOK, "年末年始のサポート体制について", "12月29日から1月3日まではお休みをいただきます。", `href="/news?page=1"`)
	expectNot(t, r, "予約したお知らせ")
	expect(t, a.client().get("/news?lang=en"), http.StatusOK, "Support over the New Year")
	expect(t, a.client().get("/news?page=1"), http.StatusOK, "過去の障害")
	if r := a.client().get("/news?page=9"); r.code != http.StatusNotFound {
		t.Fatalf("page past the end: %d", r.code)
	}
	a.clock.Advance(49 * time.Hour)
	a.app.changed()
	expect(t, a.client().get("/news"), http.StatusOK, "予約したお知らせ")
}

func TestJobsPage(t *testing.T) {
	a := newTestServer(t)
	next := a.clock.Now().Add(time.Minute)
	a.app.opts.NextJobRuns = func() map[string]time.Time {
		return map[string]time.Time{"retention": next, "maintenance": next}
	}
	run, _ := a.store.StartRun(context.Background(), "retention", "host-a/1", nil)
	a.store.FinishRun(context.Background(), run.ID, data.RunFailed, "", "disk full")
	run, _ = a.store.StartRun(context.Background(), "maintenance", "host-a/1", nil)
	a.store.FinishRun(context.Background(), run.ID, data.RunOK, "job.summary.maintenance Reminded=1 Started=2 Completed=0", "")
	c := a.client()
	c.login("editor@example.com")
	r := c.get("/admin/jobs")
	expect(t, r, http.StatusOK, "保存期間を過ぎた記録の削除", "直近の失敗 1件", "disk full", "host-a/1", "メンテナンスの開始・終了とリマインダー",
		"事前のご案内 1件・開始 2件・完了 0件")
	if !regexp.MustCompile(`次回: <time datetime="[^"]+">2026年11月26日 15:31 JST</time>`).MatchString(r.body) || strings.Contains(r.body, "job.") {
		t.Fatalf("jobs page:\n%s", r.body)
	}
}

func itoa(n int64) string { return strconvItoa(n) }
