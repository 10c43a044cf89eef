package server

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// importPost sends the import form as a browser does: multipart, with
// the files given.
func importPost(t *testing.T, c *client, fields url.Values, files map[string][]byte) response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", c.token())
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	for name, raw := range files {
		fw, _ := w.CreateFormFile("file", name)
		fw.Write(raw)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.a.srv.URL+"/admin/import/statuspage", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

var importToken = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// planRow finds a kind's row of the plan or result table.
func planRow(body, label string) string {
	i := strings.Index(body, "<td>"+label+"</td>")
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</tr>")
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.ReplaceAll(body[i:i+j], "</td><td>", "|")), "</td>"))
}

// TestImportFromAnotherOshirase: a second, real Oshirase is the source
// page over HTTP. An admin checks it (the dry run's counts, nothing
// saved), applies it (times kept, nobody emailed), checks again (all
// unchanged), then sees the source move on and imports the change.
func TestImportFromAnotherOshirase(t *testing.T) {
	ctx := context.Background()
	src := newTestServer(t)
	_, cdn, api := src.seedCatalog()
	start := t0.Add(-72 * time.Hour)
	inc, err := src.store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の遅延", TitleEN: "Slow delivery", Impact: "major", Status: data.Investigating,
		StartedAt: start, BodyJA: "調査しています。", Components: map[int64]string{cdn: data.PartialOutage}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。", At: start.Add(90 * time.Minute),
		Components: map[int64]string{cdn: data.Operational}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "APIの更新作業", StartsAt: t0.Add(48 * time.Hour), EndsAt: t0.Add(50 * time.Hour),
		BodyJA: "作業を予定しています。", ComponentIDs: []int64{api}}); err != nil {
		t.Fatal(err)
	}
	src.app.changed()

	a := newTestServer(t)
	a.openLoopback()
	rig := a.withSMTP()
	admin := a.client()
	admin.login("admin@example.com")
	expect(t, admin.get("/admin/import/statuspage"), 200, "Statuspage")
	r := importPost(t, admin, url.Values{"url": {src.srv.URL}, "lang": {"ja"}}, nil)
	expect(t, r, 200, `id="import-plan"`)
	if got := planRow(r.body, "障害"); got != "<td>障害|1|0|0" {
		t.Errorf("plan row %q", got)
	}
	if got := planRow(r.body, "コンポーネント"); got != "<td>コンポーネント|2|0|0" {
		t.Errorf("plan row %q", got)
	}
	if ps, _ := a.store.Products(ctx); len(ps) != 0 {
		t.Fatalf("the dry run saved %d products", len(ps))
	}
	m := importToken.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no apply form")
	}
	r = admin.post("/admin/import/statuspage/apply", url.Values{"token": {m[1]}})
	expect(t, r, 200, `id="import-result"`)
	if got := planRow(r.body, "障害の更新"); got != "<td>障害の更新|2|0|0" {
		t.Errorf("result row %q", got)
	}
	// The token works once.
	expect(t, admin.post("/admin/import/statuspage/apply", url.Values{"token": {m[1]}}), 400, "有効期限")

	incs, _, _ := a.store.FindIncidents(ctx, data.IncidentQuery{Limit: 10})
	if len(incs) != 1 || !incs[0].StartedAt.Equal(start) || incs[0].ResolvedAt == nil || !incs[0].ResolvedAt.Equal(start.Add(90*time.Minute)) {
		t.Fatalf("imported incidents %+v", incs)
	}
	got, _ := a.store.Incident(ctx, incs[0].ID)
	if len(got.Updates) != 2 || got.Updates[1].BodyJA != "調査しています。" || !got.Updates[1].CreatedAt.Equal(start) {
		t.Errorf("timeline %+v", got.Updates)
	}
	ms, _, _ := a.store.RecentMaintenances(ctx, 10, 0)
	if len(ms) != 1 || !ms[0].StartsAt.Equal(t0.Add(48*time.Hour)) || ms[0].Status != data.Scheduled || ms[0].Notify {
		t.Errorf("maintenance %+v", ms)
	}
	// The page shows it at once.
	pub := a.client()
	expect(t, pub.get("/"), 200, "APIの更新作業")
	if _, _, n, _ := a.store.Notifications(ctx, 10, 0); n != 0 {
		t.Errorf("%d notifications from an import", n)
	}
	if got := rig.deliver(); len(got) != 0 {
		t.Errorf("mail sent to %v", recipients(got))
	}

	// Again: nothing new.
	r = importPost(t, admin, url.Values{"url": {src.srv.URL}}, nil)
	if got := planRow(r.body, "障害"); got != "<td>障害|0|0|1" {
		t.Errorf("rerun plan %q", got)
	}
	// The source moves on: a new incident; the rerun creates only that.
	if _, err := src.store.CreateIncident(ctx, data.NewIncident{TitleJA: "API の障害", Impact: "critical", Status: data.Investigating,
		BodyJA: "確認しています。", Components: map[int64]string{api: data.MajorOutage}}); err != nil {
		t.Fatal(err)
	}
	src.app.changed()
	r = importPost(t, admin, url.Values{"url": {src.srv.URL}}, nil)
	if got := planRow(r.body, "障害"); got != "<td>障害|1|0|1" {
		t.Errorf("plan after the source moved %q", got)
	}
	m = importToken.FindStringSubmatch(r.body)
	expect(t, admin.post("/admin/import/statuspage/apply", url.Values{"token": {m[1]}}), 200, `id="import-result"`)
	open, _ := a.store.OpenIncidents(ctx)
	if len(open) != 1 || open[0].Impact != "critical" {
		t.Errorf("open %+v", open)
	}

	// The CSV export, and the same page reading it back (as another
	// source: new incidents, then unchanged).
	csvRes := admin.get("/admin/incidents/export.csv")
	expect(t, csvRes, 200, "incident_id,title_ja")
	if !strings.HasPrefix(csvRes.header.Get("Content-Type"), "text/csv") {
		t.Errorf("content type %q", csvRes.header.Get("Content-Type"))
	}
	r = importPost(t, admin, nil, map[string][]byte{"incidents.csv": []byte(csvRes.body)})
	if got := planRow(r.body, "障害"); got != "<td>障害|2|0|0" {
		t.Errorf("csv plan %q\n%s", got, r.body)
	}

	// Editors may export, not import.
	editor := a.client()
	editor.login("editor@example.com")
	expect(t, editor.get("/admin/import/statuspage"), 403)
	expect(t, editor.get("/admin/incidents/export.csv"), 200)
}

// TestImportPageRefusesHostileInput: every bad input is a clear 400 in
// the admin's language, nothing saved, never a 500.
func TestImportPageRefusesHostileInput(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	admin := a.client()
	admin.login("admin@example.com")
	fixtures := map[string][]byte{}
	for _, n := range []string{"summary.json", "incidents.json", "scheduled-maintenances.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "internal", "spimport", "testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		fixtures[n] = raw
	}
	for name, c := range map[string]struct {
		fields url.Values
		files  map[string][]byte
		want   string
	}{
		"nothing":        {nil, nil, "URL を入力するか"},
		"both":           {url.Values{"url": {"https://status.example.com"}}, map[string][]byte{"a.json": fixtures["summary.json"]}, "どちらか一方"},
		"not json":       {nil, map[string][]byte{"a.json": []byte("<html>")}, "読み込めませんでした"},
		"other json":     {nil, map[string][]byte{"a.json": []byte(`{"a": 1}`)}, "読み込めませんでした"},
		"bad impact":     {nil, map[string][]byte{"a.json": []byte(strings.Replace(string(fixtures["incidents.json"]), `"impact": "critical"`, `"impact": "<script>"`, 1))}, "対応していない値です"},
		"loopback":       {url.Values{"url": {"http://127.0.0.1:1/"}}, nil, "このアドレスには接続できません"},
		"metadata":       {url.Values{"url": {"https://169.254.169.254/"}}, nil, "このアドレスには接続できません"},
		"not a url":      {url.Values{"url": {"javascript:alert(1)"}}, nil, "ページを読み込めませんでした"},
		"different page": {nil, map[string][]byte{"a.json": fixtures["summary.json"], "b.json": []byte(`{"page": {"id": "other"}, "incidents": []}`)}, "読み込めませんでした"},
		"bad csv":        {nil, map[string][]byte{"a.csv": []byte("incident_id,title_ja\n1,\"x\n")}, "読み込めませんでした"},
	} {
		t.Run(name, func(t *testing.T) {
			r := importPost(t, admin, c.fields, c.files)
			expect(t, r, 400, c.want)
			expectNot(t, r, "<script>")
		})
	}
	if ps, _ := a.store.Products(ctx); len(ps) != 0 {
		t.Fatalf("half-saved: %d products", len(ps))
	}
	// Without the CSRF token, refused.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("url", "https://status.example.com")
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/admin/import/statuspage", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if r := admin.do(req); r.code != http.StatusForbidden && r.code != http.StatusBadRequest {
		t.Errorf("without CSRF: %d", r.code)
	}
	// The fixtures as files: the plan, then applied.
	r := importPost(t, admin, url.Values{"lang": {"en"}}, fixtures)
	expect(t, r, 200, `id="import-plan"`, "statuspage:https://status.example.com")
	m := importToken.FindStringSubmatch(r.body)
	expect(t, admin.post("/admin/import/statuspage/apply", url.Values{"token": {m[1]}}), 200, `id="import-result"`)
	// A forged token: nothing.
	expect(t, admin.post("/admin/import/statuspage/apply", url.Values{"token": {"00"}}), 400)
}
