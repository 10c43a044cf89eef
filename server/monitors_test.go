package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/jobs"
)

// TestMonitorConsoleFlow: an editor adds a check in the console (hostile
// input refused in Japanese, nothing saved); the check fails past its
// threshold; every console page says a draft waits; the editor reviews
// the draft in the declaration form, already filled in, and publishes it;
// on recovery the resolving update waits as a draft and is posted the same
// way. Customers hear nothing until the editor publishes.
func TestMonitorConsoleFlow(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"customer@example.com": "primary/ja"})
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "healthy")
	}))
	defer target.Close()
	a.openLoopback()
	runner := jobs.NewMonitorRunner(a.store, jobs.MonitorOptions{Instance: "test", Now: a.clock.Now, Location: a.app.opts.Location, Outbound: a.app.opts.Outbound},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	sweep := func() {
		t.Helper()
		a.clock.Advance(30 * time.Second)
		if _, err := runner.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ed := a.client()
	ed.login("editor@example.com")
	comp := "/admin/components/" + strconv.FormatInt(cdn, 10) + "/monitors"
	expect(t, ed.get("/admin/products"), http.StatusOK, `href="`+comp+`"`)
	expect(t, ed.get(comp), http.StatusOK, "監視項目はまだありません", "運用担当者が公開するまでお客様には表示・送信されません")
	expect(t, ed.get(comp+"/new"), http.StatusOK, `name="target"`, `name="fail_threshold"`)

	good := url.Values{"name": {"トップページ"}, "kind": {"http"}, "target": {target.URL}, "method": {"GET"}, "expect_codes": {"200-299"},
		"keyword": {"healthy"}, "follow_redirects": {"1"}, "warn_days": {"14"}, "dns_type": {"A"}, "interval_s": {"30"}, "timeout_s": {"5"},
		"fail_threshold": {"2"}, "ok_threshold": {"2"}, "failure_status": {"partial_outage"}, "enabled": {"1"}}
	bad := []struct{ field, value, want string }{
		{"target", "javascript:alert(1)", "http:// または https://"},
		{"interval_s", "5", "範囲外"},
		{"interval_s", "abc", "数字で入力"},
		{"expect_codes", "200-abc", "200-299"},
		{"headers", "no colon here", "名前: 値"},
		{"kind", "ping", "選択肢から"},
		{"failure_status", "operational", "選択肢から"},
	}
	for _, b := range bad {
		v := url.Values{}
		for k, x := range good {
			v[k] = x
		}
		v.Set(b.field, b.value)
		expect(t, ed.post(comp, v), http.StatusBadRequest, b.want)
	}
	if ms, _ := a.store.Monitors(context.Background()); len(ms) != 0 {
		t.Fatalf("a refused form saved %d monitors", len(ms))
	}
	expect(t, ed.post(comp, good), http.StatusSeeOther)
	expect(t, ed.post(comp[:len(comp)-len("/monitors")]+"/automation", url.Values{"auto_impact": {"major"}, "hook_key": {"Bad Key!"}}),
		http.StatusBadRequest, "英小文字")
	expect(t, ed.post(comp[:len(comp)-len("/monitors")]+"/automation", url.Values{"auto_impact": {"major"}, "hook_key": {"cdn"},
		"show_uptime": {"1"}, "show_latency": {"1"}}), http.StatusSeeOther)

	sweep()
	sweep()
	expect(t, ed.get(comp), http.StatusOK, "トップページ", "正常")
	// The page shows what the checks measured, drawn on the server.
	a.app.changed()
	expect(t, a.client().get("/"), http.StatusOK, "監視による稼働率は2026年11月26日 15:30 JSTから測定を始めたところです", `<svg class="latency-chart"`, "応答時間（過去24時間）: 平均")
	en := a.client()
	en.lang = "en"
	expect(t, en.get("/"), http.StatusOK, "Uptime measured by checks: measuring since Nov 26, 2026 15:30 JST", "Response time (last 7 days)")
	failing.Store(true)
	sweep()
	sweep()
	a.app.changed()
	// Only the operators were told.
	mails := rig.deliver()
	if len(mails["customer@example.com"]) != 0 || len(mails["editor@example.com"]) != 1 || len(mails["admin@example.com"]) != 1 {
		t.Fatalf("after detection: %v", recipients(mails))
	}
	if s := subject(t, mails["editor@example.com"][0]); !strings.Contains(s, "監視・異常") {
		t.Fatalf("operator alert subject %q", s)
	}
	expect(t, a.client().get("/"), http.StatusOK, "すべてのサービスは正常に稼働しています")
	dash := ed.get("/admin")
	expect(t, dash, http.StatusOK, "確認待ちの下書きが1件あります")
	list := ed.get("/admin/drafts")
	expect(t, list, http.StatusOK, "配信CDNで障害を検知しました", "status 502")
	draft := regexp.MustCompile(`/admin/incidents/new\?draft=(\d+)`).FindStringSubmatch(list.body)
	if draft == nil {
		t.Fatalf("no review link:\n%s", list.body)
	}
	form := ed.get("/admin/incidents/new?draft=" + draft[1])
	expect(t, form, http.StatusOK, `name="draft" value="`+draft[1]+`"`, `value="krewDashboard / 配信CDNで障害を検知しました"`,
		`<option value="partial_outage" selected>`)
	r := ed.post("/admin/incidents", url.Values{"draft": {draft[1]}, "title_ja": {"配信CDNの障害"}, "impact": {"major"},
		"status": {"investigating"}, "component_" + strconv.FormatInt(cdn, 10): {"partial_outage"}, "body_ja": {"調査中です。"}, "notify": {"1"}})
	expect(t, r, http.StatusSeeOther)
	inc := idFromLocation(t, r)
	if n, _ := a.store.WaitingDrafts(context.Background()); n != 0 {
		t.Fatal("the published draft still waits")
	}
	if got := rig.deliver(); len(got["customer@example.com"]) != 1 {
		t.Fatalf("publishing: %v", recipients(got))
	}

	// Recovery: the resolving update waits as a draft.
	failing.Store(false)
	sweep()
	sweep()
	list = ed.get("/admin/drafts")
	res := regexp.MustCompile(`/admin/incidents/` + inc + `\?draft=(\d+)`).FindStringSubmatch(list.body)
	if res == nil {
		t.Fatalf("no resolving draft:\n%s", list.body)
	}
	expect(t, ed.get("/admin/incidents/"+inc+"?draft="+res[1]), http.StatusOK, `<option value="resolved" selected>`, "監視で正常に戻ったことを確認しました。")
	expect(t, ed.post("/admin/incidents/"+inc+"/updates", url.Values{"draft": {res[1]}, "status": {"resolved"}, "body_ja": {"復旧しました。"}}), http.StatusSeeOther)
	if got, _ := a.store.Incident(context.Background(), mustID(t, inc)); got.Open() {
		t.Fatal("not resolved")
	}
	expect(t, ed.get("/admin/drafts"), http.StatusOK, "公開済み", "確認待ちの下書きはありません")
	// A dismissed draft, and a draft dismissed twice.
	expect(t, ed.get("/admin/incidents/new?draft="+res[1]), http.StatusNotFound)
	expect(t, ed.post("/admin/drafts/"+res[1]+"/dismiss", nil), http.StatusSeeOther)
	_ = data.DraftWaiting
}

// TestMonitorAPI: the operator API adds, lists, changes and deletes checks
// with the console's validation; a read token cannot change them.
func TestMonitorAPI(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	adm := a.client()
	adm.login("admin@example.com")
	write, read := a.newToken(adm, "ci", data.ScopeWrite), a.newToken(adm, "ro", data.ScopeRead)
	c := `"` + apiRef("c", cdn) + `"`
	expect(t, a.apiCall(read, http.MethodPost, "/api/admin/monitors", `{"component_id": `+c+`, "name": "x", "kind": "tcp", "target": "db:5432"}`), http.StatusForbidden)
	expect(t, a.apiCall(write, http.MethodPost, "/api/admin/monitors", `{"component_id": `+c+`, "name": "x", "kind": "http", "target": "ftp://x", "interval_s": 5}`),
		http.StatusUnprocessableEntity, "target", "interval_s")
	expect(t, a.apiCall(write, http.MethodPost, "/api/admin/monitors", `{"component_id": `+c+`, "name": "x", "kind": "tcp", "target": "db:5432", "extra": 1}`),
		http.StatusBadRequest)
	r := a.apiCall(write, http.MethodPost, "/api/admin/monitors", `{"component_id": `+c+`, "name": "DB", "kind": "tcp", "target": "db.internal:5432", "fail_threshold": 3}`)
	expect(t, r, http.StatusCreated, `"state":"unknown"`, `"interval_s":60`, `"fail_threshold":3`)
	id := regexp.MustCompile(`"id":"(mon\d+)"`).FindStringSubmatch(r.body)[1]
	expect(t, a.apiCall(read, http.MethodGet, "/api/admin/monitors", ""), http.StatusOK, `"name":"DB"`)
	expect(t, a.apiCall(write, http.MethodPut, "/api/admin/monitors/"+id, `{"name": "DB primary", "kind": "tcp", "target": "db.internal:5433"}`),
		http.StatusOK, `"name":"DB primary"`, `"component_id":`+c)
	expect(t, a.apiCall(write, http.MethodPut, "/api/admin/monitors/mon999", `{"name": "x", "kind": "tcp", "target": "a:1"}`), http.StatusNotFound)
	expect(t, a.apiCall(write, http.MethodDelete, "/api/admin/monitors/"+id+"?dry_run=true", ""), http.StatusOK, `"dry_run":true`)
	expect(t, a.apiCall(write, http.MethodDelete, "/api/admin/monitors/"+id, ""), http.StatusOK, `"dry_run":false`)
	expect(t, a.apiCall(write, http.MethodDelete, "/api/admin/monitors/"+id, ""), http.StatusNotFound)
	if doc := a.client().get("/api/admin/openapi.json"); !strings.Contains(doc.body, "/api/admin/monitors/{id}") {
		t.Fatal("the OpenAPI document lacks the monitors")
	}
}
