package server

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var locationID = regexp.MustCompile(`/(\d+)$`)

func idFromLocation(t *testing.T, r response) string {
	t.Helper()
	m := locationID.FindStringSubmatch(r.header.Get("Location"))
	if r.code != http.StatusSeeOther || m == nil {
		t.Fatalf("expected a redirect to a new resource, got %d %q\n%s", r.code, r.header.Get("Location"), r.body)
	}
	return m[1]
}

// TestOperatorFlow walks the whole slice through real HTTP with cookies and
// CSRF: log in, build the catalogue, declare an incident, update it, resolve
// it, then schedule and run maintenance, looking at the public page after
// every step as a customer would.
func TestOperatorFlow(t *testing.T) {
	a := newTestServer(t)
	op := a.client()
	public := a.client()

	op.login("editor@example.com")

	// Catalogue.
	expect(t, op.post("/admin/products", url.Values{"name_ja": {"krewDashboard"}, "name_en": {"krewDashboard"}}), http.StatusSeeOther)
	list := op.get("/admin/products")
	expect(t, list, http.StatusOK, "krewDashboard")
	pid := regexp.MustCompile(`/admin/products/(\d+)/edit`).FindStringSubmatch(list.body)[1]
	expect(t, op.post("/admin/components", url.Values{"product_id": {pid}, "name_ja": {"配信CDN"}, "name_en": {"Delivery CDN"}}), http.StatusSeeOther)
	expect(t, op.post("/admin/components", url.Values{"product_id": {pid}, "name_ja": {"ライセンスAPI"}, "name_en": {"License API"}}), http.StatusSeeOther)
	list = op.get("/admin/products")
	ids := regexp.MustCompile(`/admin/components/(\d+)/edit`).FindAllStringSubmatch(list.body, -1)
	if len(ids) != 2 {
		t.Fatalf("components listed: %v", ids)
	}
	cdn, api := ids[0][1], ids[1][1]
	// Reorder: the API goes first.
	expect(t, op.post("/admin/components/"+api+"/move", url.Values{"direction": {"up"}}), http.StatusSeeOther)
	page := public.get("/")
	expect(t, page, http.StatusOK, "すべてのサービスは正常に稼働しています", "配信CDN", "ライセンスAPI")
	if strings.Index(page.body, "ライセンスAPI") > strings.Index(page.body, "配信CDN") {
		t.Fatal("component order on the public page does not follow the console")
	}

	// Declare an incident, backdated by 20 minutes.
	started := a.clock.Now().Add(-20 * time.Minute).In(a.app.opts.Location).Format("2006-01-02T15:04")
	r := op.post("/admin/incidents", url.Values{
		"title_ja": {"配信CDNで遅延が発生しています"}, "title_en": {"Delivery CDN is slow"},
		"impact": {"major"}, "status": {"investigating"}, "started_at": {started},
		"component_" + cdn: {"partial_outage"},
		"body_ja":          {"現在、**原因を調査しています**。"}, "body_en": {"We are **investigating**."},
	})
	inc := idFromLocation(t, r)
	page = public.get("/")
	expect(t, page, http.StatusOK, "一部のサービスで障害が発生しています", "配信CDNで遅延が発生しています",
		"<strong>原因を調査しています</strong>", "調査中", "発生: <time datetime=", ">2026年11月26日 15:10 JST</time>")
	detail := public.get("/incidents/" + inc)
	expect(t, detail, http.StatusOK, "配信CDNで遅延が発生しています", "重大", "配信CDN: 一部障害")
	public.lang = "en"
	expect(t, public.get("/incidents/"+inc), http.StatusOK, "Delivery CDN is slow", "We are <strong>investigating</strong>", "Nov 26, 2026 15:10 JST")
	public.lang = ""

	// Update: identified, the outage gets worse and spreads.
	a.clock.Advance(15 * time.Minute)
	op.get("/admin/incidents/" + inc)
	expect(t, op.post("/admin/incidents/"+inc+"/updates", url.Values{"status": {"identified"},
		"component_" + cdn: {"major_outage"}, "component_" + api: {"degraded_performance"},
		"body_ja": {"原因を特定しました。"}}), http.StatusSeeOther)
	page = public.get("/")
	expect(t, page, http.StatusOK, "サービスで大規模な障害が発生しています", "原因特定", "原因を特定しました。")
	expectNot(t, page, "現在、<strong>原因を調査しています</strong>") // only the latest update shows

	// Resolve.
	a.clock.Advance(25 * time.Minute)
	expect(t, op.post("/admin/incidents/"+inc+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}}), http.StatusSeeOther)
	page = public.get("/")
	expect(t, page, http.StatusOK, "すべてのサービスは正常に稼働しています", "配信CDNで遅延が発生しています")
	expectNot(t, page, "発生中の障害")
	detail = public.get("/incidents/" + inc)
	expect(t, detail, http.StatusOK, "復旧済み", "復旧しました。", "原因を特定しました。", "調査中", "1時間0分")
	// The 90-day bar of today shows the worst the CDN went through.
	if !regexp.MustCompile(`<li class="day st-major-outage" tabindex="0"><span class="tip"><strong>2026年11月26日</strong> <span class="tip-status">重大な障害</span>[^€]*?>配信CDNで遅延が発生しています</a></span></li>\s*</ol>`).MatchString(page.body) {
		t.Fatalf("today's bar for the CDN does not show the major outage\n%s", page.body)
	}

	// Schedule maintenance for tomorrow, then run it.
	tomorrow := a.clock.Now().Add(24 * time.Hour).In(a.app.opts.Location)
	r = op.post("/admin/maintenance", url.Values{"title_ja": {"データベースの定期メンテナンス"},
		"starts_at": {tomorrow.Format("2006-01-02T15:04")}, "ends_at": {tomorrow.Add(2 * time.Hour).Format("2006-01-02T15:04")},
		"components": {api}, "body_ja": {"定期メンテナンスを実施します。"}})
	mid := idFromLocation(t, r)
	expect(t, public.get("/"), http.StatusOK, "予定されているメンテナンス", "データベースの定期メンテナンス", "24時間後")
	a.clock.Advance(24 * time.Hour)
	// A day without a request ends the session (idle timeout): sign in again.
	expect(t, op.get("/admin/maintenance/"+mid), http.StatusSeeOther)
	op.login("editor@example.com")
	op.get("/admin/maintenance/" + mid)
	expect(t, op.post("/admin/maintenance/"+mid+"/updates", url.Values{"status": {"in_progress"}, "body_ja": {"作業を開始しました。"}}), http.StatusSeeOther)
	page = public.get("/")
	expect(t, page, http.StatusOK, "実施中のメンテナンス", "一部のサービスでメンテナンスを実施しています", "メンテナンス中")
	expect(t, op.post("/admin/maintenance/"+mid+"/updates", url.Values{"status": {"completed"}, "body_ja": {"作業が完了しました。"}}), http.StatusSeeOther)
	page = public.get("/")
	expect(t, page, http.StatusOK, "すべてのサービスは正常に稼働しています")
	expectNot(t, page, "実施中のメンテナンス", "予定されているメンテナンス")
	expect(t, public.get("/maintenance/"+mid), http.StatusOK, "完了", "作業が完了しました。", "作業を開始しました。")

	// History lists both under this month.
	expect(t, public.get("/history"), http.StatusOK, "2026年11月", "配信CDNで遅延が発生しています", "データベースの定期メンテナンス")

	// A component set by hand shows, and an open incident can make it worse.
	expect(t, op.post("/admin/components/"+cdn+"/status", url.Values{"status": {"degraded_performance"}}), http.StatusSeeOther)
	expect(t, public.get("/"), http.StatusOK, "一部のサービスで動作が遅くなっています")
}

// TestIncidentUpdatesCanBeCorrected edits and deletes updates and backfills
// the incident's times.
func TestIncidentUpdatesCanBeCorrected(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	op := a.client()
	op.login("editor@example.com")
	inc := idFromLocation(t, op.post("/admin/incidents", url.Values{"title_ja": {"障害"}, "impact": {"minor"},
		"status": {"investigating"}, "body_ja": {"誤字あり"}, "component_" + strconv.FormatInt(cdn, 10): {"degraded_performance"}}))
	a.clock.Advance(time.Minute)
	expect(t, op.post("/admin/incidents/"+inc+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"間違えて復旧"}}), http.StatusSeeOther)

	page := op.get("/admin/incidents/" + inc)
	uids := regexp.MustCompile(`/updates/(\d+)/edit`).FindAllStringSubmatch(page.body, -1)
	if len(uids) != 2 {
		t.Fatalf("updates: %v", uids)
	}
	latest, first := uids[0][1], uids[1][1]
	expect(t, op.post("/admin/incidents/"+inc+"/updates/"+latest+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	// Deleting the mistaken resolution leaves the incident resolved: only
	// an explicit reopening changes that.
	expect(t, a.client().get("/incidents/"+inc), http.StatusOK, "調査中", "復旧済み")
	expect(t, op.post("/admin/incidents/"+inc+"/updates/"+first, url.Values{"body_ja": {"誤字なし"}}), http.StatusSeeOther)
	expect(t, a.client().get("/incidents/"+inc), http.StatusOK, "誤字なし")
	// The last update cannot go.
	r := op.post("/admin/incidents/"+inc+"/updates/"+first+"/delete", url.Values{"confirm": {"1"}})
	expect(t, r, http.StatusBadRequest, "最後の1件の更新は削除できません。")

	// Backfill the start; a start in the future is refused with the value kept.
	future := a.clock.Now().Add(3 * time.Hour).In(a.app.opts.Location).Format("2006-01-02T15:04")
	op.get("/admin/incidents/" + inc + "/edit")
	now := a.clock.Now().In(a.app.opts.Location).Format("2006-01-02T15:04")
	r = op.post("/admin/incidents/"+inc, url.Values{"title_ja": {"障害（修正）"}, "impact": {"major"}, "started_at": {future}, "resolved_at": {now}})
	expect(t, r, http.StatusBadRequest, "未来の日時は指定できません。", `value="`+future+`"`, `value="障害（修正）"`)
	expect(t, a.client().get("/incidents/"+inc), http.StatusOK, "障害</h1>")
	past := a.clock.Now().Add(-3 * time.Hour).In(a.app.opts.Location).Format("2006-01-02T15:04")
	expect(t, op.post("/admin/incidents/"+inc, url.Values{"title_ja": {"障害（修正）"}, "impact": {"major"}, "started_at": {past}, "resolved_at": {now}}), http.StatusSeeOther)
	expect(t, a.client().get("/incidents/"+inc), http.StatusOK, "障害（修正）", fmt.Sprintf("%s JST", past[11:]))
}
