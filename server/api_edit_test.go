package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// editApp is a seeded server with a write and a read token.
func editApp(t *testing.T) (*testApp, fixture, string, string) {
	a := newTestServer(t)
	f := a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	return a, f, a.newToken(adm, "edit", data.ScopeWrite), a.newToken(adm, "edit-read", data.ScopeRead)
}

func editRFC(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// editCall is one call and what it must answer.
type editCall struct {
	name, method, path, body string
	code                     int
	contains                 []string
}

func runEditCalls(t *testing.T, a *testApp, tok string, calls []editCall) {
	t.Helper()
	for _, c := range calls {
		r := a.apiCall(tok, c.method, c.path, c.body)
		if r.code != c.code {
			t.Errorf("%s: %s %s: %d, want %d\n%s", c.name, c.method, c.path, r.code, c.code, r.body)
			continue
		}
		for _, s := range c.contains {
			if !strings.Contains(r.body, s) {
				t.Errorf("%s: %s %s lacks %q\n%s", c.name, c.method, c.path, s, r.body)
			}
		}
	}
}

// editSnapshot is what the edit calls can change, read through the API.
func editSnapshot(a *testApp, f fixture, tok string) string {
	var b strings.Builder
	for _, p := range []string{"/incidents/" + apiRef("i", f.incident), "/incidents/" + apiRef("i", f.incident) + "/postmortem",
		"/maintenance/" + apiRef("m", f.maintenance), "/templates"} {
		b.WriteString(a.apiCall(tok, "GET", "/api/admin"+p, "").body)
	}
	return b.String()
}

func TestAPIEditIncident(t *testing.T) {
	a, f, tok, ro := editApp(t)
	ctx := context.Background()
	inc := "/api/admin/incidents/" + apiRef("i", f.incident)
	started := a.clock.Now().Add(-2 * time.Hour).Truncate(time.Second)
	r := a.apiCall(tok, "PUT", inc, `{"title_ja": "改題した障害", "title_en": "Renamed", "impact": "major", "started_at": "`+editRFC(started)+`"}`)
	expect(t, r, http.StatusOK, `"title_ja":"改題した障害"`, `"impact":"major"`)
	// A change that leaves fields out keeps them.
	expect(t, a.apiCall(tok, "PUT", inc, `{"impact": "major"}`), http.StatusOK, `"title_en":"Renamed"`)
	if got, _ := a.store.Incident(ctx, f.incident); got.TitleJA != "改題した障害" || got.TitleEN != "Renamed" || got.Impact != "major" || !got.StartedAt.Equal(started) {
		t.Fatalf("not edited: %+v", got)
	}
	if es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "incident.update", Limit: 5}); len(es) != 2 || !strings.Contains(es[1].Changes, "改題した障害") ||
		es[1].OperatorEmail != "token:edit" || es[0].Changes != "{}" {
		t.Fatalf("audit: %+v", es)
	}

	before := editSnapshot(a, f, tok)
	future := editRFC(a.clock.Now().Add(time.Hour))
	runEditCalls(t, a, tok, []editCall{
		{"no title", "PUT", inc, `{"title_ja": " ", "impact": "minor", "started_at": "` + editRFC(started) + `"}`, 422, []string{`"title_ja"`}},
		{"bad impact", "PUT", inc, `{"title_ja": "x", "impact": "apocalyptic", "started_at": "` + editRFC(started) + `"}`, 422, []string{`"impact"`}},
		{"future start", "PUT", inc, `{"title_ja": "x", "impact": "minor", "started_at": "` + future + `"}`, 422, []string{`"started_at"`}},
		{"an empty title", "PUT", inc, `{"title_ja": ""}`, 422, []string{`"title_ja"`}},
		{"not a time", "PUT", inc, `{"title_ja": "x", "impact": "minor", "started_at": "yesterday"}`, 400, nil},
		{"not resolved", "PUT", inc, `{"title_ja": "x", "impact": "minor", "started_at": "` + editRFC(started) + `", "resolved_at": "` + editRFC(started) + `"}`, 422, []string{`"resolved_at"`}},
		{"unknown field", "PUT", inc, `{"title_ja": "x", "impact": "minor", "started_at": "` + editRFC(started) + `", "status": "resolved"}`, 400, []string{"status"}},
		{"wrong kind", "PUT", "/api/admin/incidents/" + apiRef("m", f.maintenance), `{"title_ja": "x", "impact": "minor", "started_at": "` + editRFC(started) + `"}`, 404, nil},
		{"bare number", "PUT", "/api/admin/incidents/" + apiRef("", f.incident), `{"title_ja": "x", "impact": "minor", "started_at": "` + editRFC(started) + `"}`, 404, nil},
		{"no such", "PUT", "/api/admin/incidents/i999999", `{"title_ja": "x", "impact": "minor", "started_at": "` + editRFC(started) + `"}`, 404, nil},
		{"not JSON", "PUT", inc, `{"title_ja": `, 400, nil},
		{"two objects", "PUT", inc, `{"title_ja": "x", "impact": "minor", "started_at": "` + editRFC(started) + `"} {}`, 400, nil},
	})
	expect(t, a.apiCall(ro, "PUT", inc, `{"title_ja": "x", "impact": "minor", "started_at": "`+editRFC(started)+`"}`), http.StatusForbidden)
	if after := editSnapshot(a, f, tok); after != before {
		t.Fatalf("a refused call changed something:\n%s\n%s", before, after)
	}

	// Resolved, its resolution time can be moved too, not before the start.
	expect(t, a.apiCall(tok, "POST", inc+"/resolve", `{}`), http.StatusCreated)
	resolved := a.clock.Now().Add(-time.Hour).Truncate(time.Second)
	expect(t, a.apiCall(tok, "PUT", inc, `{"title_ja": "改題した障害", "impact": "major", "started_at": "`+editRFC(started)+`", "resolved_at": "`+editRFC(started.Add(-time.Minute))+`"}`),
		http.StatusUnprocessableEntity, `"resolved_at"`)
	expect(t, a.apiCall(tok, "PUT", inc, `{"title_ja": "改題した障害", "impact": "major", "started_at": "`+editRFC(started)+`", "resolved_at": "`+editRFC(resolved)+`"}`),
		http.StatusOK, `"resolved_at":"`+editRFC(resolved)+`"`)
	// Omitted, it stays, and the start cannot pass it.
	expect(t, a.apiCall(tok, "PUT", inc, `{"title_ja": "改題した障害", "impact": "major", "started_at": "`+editRFC(resolved.Add(time.Minute))+`"}`),
		http.StatusUnprocessableEntity, `"resolved_at"`)
	expect(t, a.apiCall(tok, "PUT", inc, `{"title_ja": "もう一度", "impact": "minor", "started_at": "`+editRFC(started)+`"}`),
		http.StatusOK, `"resolved_at":"`+editRFC(resolved)+`"`, `"status":"resolved"`)
}

func TestAPIEditUpdates(t *testing.T) {
	a, f, tok, ro := editApp(t)
	ctx := context.Background()
	inc := "/api/admin/incidents/" + apiRef("i", f.incident)
	up := inc + "/updates/" + apiRef("u", f.incidentUpdate)
	expect(t, a.apiCall(tok, "PUT", up, `{"body_ja": "訂正しました。", "body_en": "Corrected."}`), http.StatusOK, `"body_ja":"訂正しました。"`, `"body_en":"Corrected."`)
	got, _ := a.store.Incident(ctx, f.incident)
	var edited *data.IncidentUpdate
	for i := range got.Updates {
		if got.Updates[i].ID == f.incidentUpdate {
			edited = &got.Updates[i]
		}
	}
	if edited == nil || edited.BodyJA != "訂正しました。" || edited.Status != data.Investigating {
		t.Fatalf("not edited: %+v", edited)
	}
	other, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "別の障害", Impact: "minor", Status: data.Investigating, BodyJA: "一つだけ。"})
	if err != nil {
		t.Fatal(err)
	}
	otherInc := "/api/admin/incidents/" + apiRef("i", other.ID)
	mnt := "/api/admin/maintenance/" + apiRef("m", f.maintenance)
	mup := mnt + "/updates/" + apiRef("mu", f.maintenanceUpdate)

	before := editSnapshot(a, f, tok)
	runEditCalls(t, a, tok, []editCall{
		{"no body", "PUT", up, `{"body_ja": ""}`, 422, []string{`"body_ja"`}},
		{"too long", "PUT", up, `{"body_ja": "` + strings.Repeat("あ", data.MaxBody+1) + `"}`, 422, []string{`"body_ja"`}},
		{"status is not editable", "PUT", up, `{"body_ja": "x", "status": "resolved"}`, 400, nil},
		{"at is not editable", "PUT", up, `{"body_ja": "x", "at": "2020-01-01T00:00:00Z"}`, 400, nil},
		{"another incident's update", "PUT", otherInc + "/updates/" + apiRef("u", f.incidentUpdate), `{"body_ja": "x"}`, 404, nil},
		{"wrong item kind", "PUT", inc + "/updates/" + apiRef("mu", f.maintenanceUpdate), `{"body_ja": "x"}`, 404, nil},
		{"wrong id kind", "PUT", "/api/admin/incidents/" + apiRef("m", f.maintenance) + "/updates/" + apiRef("u", f.incidentUpdate), `{"body_ja": "x"}`, 404, nil},
		{"no maintenance body", "PUT", mup, `{"body_ja": " "}`, 422, []string{`"body_ja"`}},
		{"maintenance wrong kind", "PUT", mnt + "/updates/" + apiRef("u", f.incidentUpdate), `{"body_ja": "x"}`, 404, nil},
		{"maintenance's other update", "PUT", mnt + "/updates/mu999999", `{"body_ja": "x"}`, 404, nil},
		{"dry run of another incident's update", "DELETE", otherInc + "/updates/" + apiRef("u", f.incidentUpdate) + "?dry_run=true", "", 404, nil},
		{"delete another incident's update", "DELETE", otherInc + "/updates/" + apiRef("u", f.incidentUpdate), "", 404, nil},
		{"delete wrong kind", "DELETE", inc + "/updates/" + apiRef("mu", f.maintenanceUpdate), "", 404, nil},
		{"bad dry_run", "DELETE", up + "?dry_run=maybe", "", 400, nil},
		{"dry run", "DELETE", up + "?dry_run=true", "", 200, []string{`"dry_run":true`, `"question":"`}},
	})
	expect(t, a.apiCall(ro, "PUT", up, `{"body_ja": "x"}`), http.StatusForbidden)
	expect(t, a.apiCall(ro, "DELETE", up, ""), http.StatusForbidden)
	expect(t, a.apiCall(ro, "PUT", mup, `{"body_ja": "x"}`), http.StatusForbidden)
	if after := editSnapshot(a, f, tok); after != before {
		t.Fatalf("a refused call or a dry run changed something:\n%s\n%s", before, after)
	}

	// Deleted, it is gone and the incident keeps its status.
	r := a.apiCall(tok, "DELETE", up, "")
	expect(t, r, http.StatusOK, `"dry_run":false`)
	var cons apiConsequence
	if err := json.Unmarshal([]byte(r.body), &cons); err != nil || cons.Question == "" || len(cons.Effects) == 0 {
		t.Fatalf("the consequence: %s", r.body)
	}
	got, _ = a.store.Incident(ctx, f.incident)
	for _, u := range got.Updates {
		if u.ID == f.incidentUpdate {
			t.Fatal("the update is still there")
		}
	}
	expect(t, a.apiCall(tok, "DELETE", up, ""), http.StatusNotFound)
	// An incident's only update cannot go.
	expect(t, a.apiCall(tok, "DELETE", otherInc+"/updates/"+apiRef("u", other.Updates[0].ID), ""), http.StatusUnprocessableEntity, `"update"`)
	if o, _ := a.store.Incident(ctx, other.ID); len(o.Updates) != 1 {
		t.Fatal("the only update went")
	}

	// A maintenance update's text.
	expect(t, a.apiCall(tok, "PUT", mup, `{"body_ja": "予定です（訂正）。", "body_en": "Planned."}`), http.StatusOK, `"body_ja":"予定です（訂正）。"`)
	m, _ := a.store.Maintenance(ctx, f.maintenance)
	if m.Updates[len(m.Updates)-1].BodyEN != "Planned." {
		t.Fatalf("not edited: %+v", m.Updates)
	}
}

func TestAPIEditMaintenance(t *testing.T) {
	a, f, tok, ro := editApp(t)
	ctx := context.Background()
	mnt := "/api/admin/maintenance/" + apiRef("m", f.maintenance)
	was, _ := a.store.Maintenance(ctx, f.maintenance)
	starts, ends := a.clock.Now().Add(24*time.Hour).Truncate(time.Second), a.clock.Now().Add(26*time.Hour).Truncate(time.Second)
	body := func(title, s, e, comps string) string {
		return `{"title_ja": "` + title + `", "starts_at": "` + s + `", "ends_at": "` + e + `", "components": [` + comps + `]}`
	}
	both := `"` + apiRef("c", f.api) + `", "` + apiRef("c", f.cdn) + `"`
	expect(t, a.apiCall(tok, "PUT", mnt, body("延期したメンテナンス", editRFC(starts), editRFC(ends), both)), http.StatusOK,
		`"title_ja":"延期したメンテナンス"`, `"starts_at":"`+editRFC(starts)+`"`, `"reminder_lead_seconds":`+editJSONInt(was.ReminderLeadSeconds))
	m, _ := a.store.Maintenance(ctx, f.maintenance)
	if !m.StartsAt.Equal(starts) || !m.EndsAt.Equal(ends) || len(m.ComponentIDs()) != 2 || m.Sequence != was.Sequence+1 || m.ReminderSentAt != nil {
		t.Fatalf("not moved as the console moves it: %+v", m)
	}
	// The reminder: 0 turns it off, a lead sets it.
	expect(t, a.apiCall(tok, "PUT", mnt, `{"title_ja": "延期したメンテナンス", "starts_at": "`+editRFC(starts)+`", "ends_at": "`+editRFC(ends)+`", "components": [`+both+`], "reminder_lead_seconds": 0}`),
		http.StatusOK, `"reminder_lead_seconds":0`)
	expect(t, a.apiCall(tok, "PUT", mnt, `{"title_ja": "延期したメンテナンス", "starts_at": "`+editRFC(starts)+`", "ends_at": "`+editRFC(ends)+`", "components": [`+both+`], "reminder_lead_seconds": 3600}`),
		http.StatusOK, `"reminder_lead_seconds":3600`)
	if m2, _ := a.store.Maintenance(ctx, f.maintenance); m2.Sequence != m.Sequence {
		t.Fatal("a rename without moving revised the calendar entry")
	}

	before := editSnapshot(a, f, tok)
	runEditCalls(t, a, tok, []editCall{
		{"ends before start", "PUT", mnt, body("x", editRFC(ends), editRFC(starts), both), 422, []string{`"ends_at"`}},
		{"no title", "PUT", mnt, body("", editRFC(starts), editRFC(ends), both), 422, []string{`"title_ja"`}},
		{"no components", "PUT", mnt, body("x", editRFC(starts), editRFC(ends), ""), 422, []string{`"components"`}},
		{"unknown component", "PUT", mnt, body("x", editRFC(starts), editRFC(ends), `"c999999"`), 422, []string{`"components"`}},
		{"component of another kind", "PUT", mnt, body("x", editRFC(starts), editRFC(ends), `"`+apiRef("p", f.product)+`"`), 422, []string{`"components"`}},
		{"bare component", "PUT", mnt, `{"title_ja": "x", "starts_at": "` + editRFC(starts) + `", "ends_at": "` + editRFC(ends) + `", "components": [1]}`, 400, nil},
		{"not a time", "PUT", mnt, body("x", "2026-13-45T00:00:00Z", editRFC(ends), both), 400, nil},
		{"no times", "PUT", mnt, `{"title_ja": "x", "components": [` + both + `]}`, 422, []string{`"starts_at"`, `"ends_at"`}},
		{"reminder not a number", "PUT", mnt, `{"title_ja": "x", "starts_at": "` + editRFC(starts) + `", "ends_at": "` + editRFC(ends) + `", "components": [` + both + `], "reminder_lead_seconds": "soon"}`, 400, nil},
		{"negative reminder", "PUT", mnt, `{"title_ja": "x", "starts_at": "` + editRFC(starts) + `", "ends_at": "` + editRFC(ends) + `", "components": [` + both + `], "reminder_lead_seconds": -60}`, 422, []string{`"reminder_lead_seconds"`}},
		{"unknown field", "PUT", mnt, `{"title_ja": "x", "starts_at": "` + editRFC(starts) + `", "ends_at": "` + editRFC(ends) + `", "components": [` + both + `], "status": "completed"}`, 400, nil},
		{"wrong kind", "PUT", "/api/admin/maintenance/" + apiRef("i", f.incident), body("x", editRFC(starts), editRFC(ends), both), 404, nil},
	})
	expect(t, a.apiCall(ro, "PUT", mnt, body("x", editRFC(starts), editRFC(ends), both)), http.StatusForbidden)
	if after := editSnapshot(a, f, tok); after != before {
		t.Fatalf("a refused call changed something:\n%s\n%s", before, after)
	}
	// An ended window cannot be moved.
	expect(t, a.apiCall(tok, "POST", mnt+"/updates", `{"status": "cancelled", "body_ja": "中止します。"}`), http.StatusCreated)
	expect(t, a.apiCall(tok, "PUT", mnt, body("x", editRFC(starts), editRFC(ends), both)), http.StatusUnprocessableEntity, `"status"`)
}

func editJSONInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAPIEditPostmortem(t *testing.T) {
	a, f, tok, ro := editApp(t)
	ctx := context.Background()
	inc := "/api/admin/incidents/" + apiRef("i", f.incident)
	pm := inc + "/postmortem"
	expect(t, a.apiCall(ro, "GET", pm, ""), http.StatusOK, `"postmortem_ja":""`, `"published":false`, `"notified_at":null`)
	// Only a resolved incident has one.
	expect(t, a.apiCall(tok, "PUT", pm, `{"postmortem_ja": "早すぎる", "publish": true}`), http.StatusUnprocessableEntity, `"postmortem_ja"`)
	expect(t, a.apiCall(tok, "POST", inc+"/resolve", `{}`), http.StatusCreated)

	before := editSnapshot(a, f, tok)
	runEditCalls(t, a, tok, []editCall{
		{"empty", "PUT", pm, `{"postmortem_ja": "", "publish": true, "notify": true}`, 422, []string{`"postmortem_ja"`}},
		{"too long", "PUT", pm, `{"postmortem_ja": "` + strings.Repeat("a", data.MaxPostmortem+1) + `"}`, 422, []string{`"postmortem_ja"`}},
		{"unknown field", "PUT", pm, `{"postmortem_ja": "x", "body_ja": "x"}`, 400, nil},
		{"wrong type", "PUT", pm, `{"postmortem_ja": "x", "publish": "yes"}`, 400, []string{"publish"}},
		{"wrong kind", "PUT", "/api/admin/incidents/" + apiRef("m", f.maintenance) + "/postmortem", `{"postmortem_ja": "x"}`, 404, nil},
		{"wrong kind read", "GET", "/api/admin/incidents/" + apiRef("t", f.template) + "/postmortem", "", 404, nil},
	})
	expect(t, a.apiCall(ro, "PUT", pm, `{"postmortem_ja": "x"}`), http.StatusForbidden)
	if after := editSnapshot(a, f, tok); after != before {
		t.Fatalf("a refused call changed something:\n%s\n%s", before, after)
	}

	postmortems := func() int {
		ns, _, _, err := a.store.Notifications(ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, x := range ns {
			if x.Kind == data.IncidentPostmortem {
				n++
			}
		}
		return n
	}
	// A draft is not on the page and tells nobody, even asked to.
	expect(t, a.apiCall(tok, "PUT", pm, `{"postmortem_ja": "# 下書き", "notify": true}`), http.StatusOK, `"published":false`, `"notified_at":null`)
	expect(t, a.apiCall(ro, "GET", pm, ""), http.StatusOK, `"postmortem_ja":"# 下書き"`)
	if postmortems() != 0 {
		t.Fatal("a draft was announced")
	}
	expectNot(t, a.client().get("/incidents/"+apiRef("", f.incident)), "# 下書き", "下書き")
	// Published with a notice: told once.
	r := a.apiCall(tok, "PUT", pm, `{"postmortem_ja": "# 振り返り\n\n原因は設定でした。", "postmortem_en": "# Review", "publish": true, "notify": true}`)
	expect(t, r, http.StatusOK, `"published":true`)
	var p apiPostmortem
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.PublishedAt == nil || p.NotifiedAt == nil {
		t.Fatalf("published: %s", r.body)
	}
	if postmortems() != 1 {
		t.Fatalf("%d postmortem notices, want 1", postmortems())
	}
	if es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "incident.postmortem", Limit: 5}); len(es) != 2 || !strings.Contains(es[0].Changes, `"notified":true`) {
		t.Fatalf("audit: %+v", es)
	}
	// Corrected, taken back and published again, asking each time: never a
	// second notice; the first publication time stays through corrections.
	a.clock.Advance(time.Minute)
	r = a.apiCall(tok, "PUT", pm, `{"postmortem_ja": "# 振り返り（訂正）", "publish": true, "notify": true}`)
	expect(t, r, http.StatusOK, `"published_at":"`+editRFC(*p.PublishedAt), `"notified_at":"`+editRFC(*p.NotifiedAt))
	expect(t, a.apiCall(tok, "PUT", pm, `{"postmortem_ja": "# 取り下げ"}`), http.StatusOK, `"published":false`, `"published_at":null`)
	expect(t, a.apiCall(tok, "PUT", pm, `{"postmortem_ja": "# 再公開", "publish": true, "notify": true}`), http.StatusOK, `"published":true`)
	if postmortems() != 1 {
		t.Fatalf("%d postmortem notices, want 1", postmortems())
	}
	got, _ := a.store.Incident(ctx, f.incident)
	if got.PostmortemJA != "# 再公開" || got.PostmortemPublishedAt == nil {
		t.Fatalf("not saved: %+v", got)
	}
}

func TestAPIEditTemplates(t *testing.T) {
	a, f, tok, ro := editApp(t)
	ctx := context.Background()
	expect(t, a.apiCall(ro, "GET", "/api/admin/templates", ""), http.StatusOK, `"name":"CDN遅延"`, `"id":"`+apiRef("t", f.template)+`"`,
		`"component_id":"`+apiRef("c", f.cdn)+`"`, `"product_id":null`)
	expect(t, a.apiCall(ro, "GET", "/api/admin/templates/"+apiRef("t", f.template), ""), http.StatusOK, `"status":"investigating"`)

	r := a.apiCall(tok, "POST", "/api/admin/templates", `{"name": "API 停止", "product_id": "`+apiRef("p", f.product)+`", "title_ja": "API の停止", "title_en": "API down",
		"body_ja": "調査中です。", "body_en": "Investigating.", "impact": "critical", "status": "identified", "components": {"`+apiRef("c", f.api)+`": "major_outage"}}`)
	expect(t, r, http.StatusCreated, `"product_id":"`+apiRef("p", f.product)+`"`, `"impact":"critical"`, `"status":"major_outage"`)
	var created apiTemplate
	if err := json.Unmarshal([]byte(r.body), &created); err != nil {
		t.Fatal(err)
	}
	id, _ := parseRef("t", created.ID)
	tp, err := a.store.Template(ctx, id)
	if err != nil || tp.Name != "API 停止" || tp.ProductID == nil || *tp.ProductID != f.product || tp.ComponentStatuses()[f.api] != data.MajorOutage || tp.Status != data.Identified {
		t.Fatalf("not created: %+v %v", tp, err)
	}
	// Replaced: what is left out goes (any product, no components, investigating).
	path := "/api/admin/templates/" + created.ID
	expect(t, a.apiCall(tok, "PUT", path, `{"name": "API 停止（改）", "title_ja": "API の停止", "body_ja": "調査中です。", "impact": "major"}`), http.StatusOK,
		`"product_id":null`, `"components":[]`, `"status":"investigating"`)
	if tp, _ = a.store.Template(ctx, id); tp.Name != "API 停止（改）" || tp.ProductID != nil || len(tp.Components) != 0 {
		t.Fatalf("not replaced: %+v", tp)
	}
	if es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "template.save", Limit: 5}); len(es) != 2 {
		t.Fatalf("audit: %+v", es)
	}

	good := func(extra string) string {
		return `{"name": "x", "title_ja": "x", "body_ja": "x", "impact": "minor"` + extra + `}`
	}
	before := editSnapshot(a, f, tok)
	var calls []editCall
	for _, target := range []struct{ method, path string }{{"POST", "/api/admin/templates"}, {"PUT", path}} {
		calls = append(calls,
			editCall{"no name", target.method, target.path, `{"name": "", "title_ja": "x", "body_ja": "x", "impact": "minor"}`, 422, []string{`"name"`}},
			editCall{"no title or body", target.method, target.path, `{"name": "x", "impact": "minor"}`, 422, []string{`"title_ja"`, `"body_ja"`}},
			editCall{"bad impact", target.method, target.path, `{"name": "x", "title_ja": "x", "body_ja": "x", "impact": "huge"}`, 422, []string{`"impact"`}},
			editCall{"resolved status", target.method, target.path, good(`, "status": "resolved"`), 422, []string{`"status"`}},
			editCall{"unknown product", target.method, target.path, good(`, "product_id": "p999999"`), 422, []string{`"product_id"`}},
			editCall{"product of another kind", target.method, target.path, good(`, "product_id": "` + apiRef("c", f.cdn) + `"`), 422, []string{`"product_id"`}},
			editCall{"bare product", target.method, target.path, good(`, "product_id": 1`), 400, nil},
			editCall{"unknown component", target.method, target.path, good(`, "components": {"c999999": "major_outage"}`), 422, []string{`"components"`}},
			editCall{"component of another kind", target.method, target.path, good(`, "components": {"` + apiRef("p", f.product) + `": "major_outage"}`), 422, []string{`"components"`}},
			editCall{"bad component status", target.method, target.path, good(`, "components": {"` + apiRef("c", f.cdn) + `": "on_fire"}`), 422, []string{`"components"`}},
			editCall{"unknown field", target.method, target.path, good(`, "notify": true`), 400, nil},
		)
	}
	calls = append(calls,
		editCall{"wrong kind", "PUT", "/api/admin/templates/" + apiRef("i", f.incident), good(""), 404, nil},
		editCall{"no such", "PUT", "/api/admin/templates/t999999", good(""), 404, nil},
		editCall{"wrong kind read", "GET", "/api/admin/templates/" + apiRef("m", f.maintenance), "", 404, nil},
		editCall{"wrong kind delete", "DELETE", "/api/admin/templates/" + apiRef("i", f.incident), "", 404, nil},
		editCall{"no such delete", "DELETE", "/api/admin/templates/t999999?dry_run=true", "", 404, nil},
		editCall{"dry run", "DELETE", path + "?dry_run=true", "", 200, []string{`"dry_run":true`, "API 停止（改）"}},
	)
	runEditCalls(t, a, tok, calls)
	expect(t, a.apiCall(ro, "POST", "/api/admin/templates", good("")), http.StatusForbidden)
	expect(t, a.apiCall(ro, "PUT", path, good("")), http.StatusForbidden)
	expect(t, a.apiCall(ro, "DELETE", path, ""), http.StatusForbidden)
	if after := editSnapshot(a, f, tok); after != before {
		t.Fatalf("a refused call or a dry run changed something:\n%s\n%s", before, after)
	}

	expect(t, a.apiCall(tok, "DELETE", path, ""), http.StatusOK, `"dry_run":false`)
	expect(t, a.apiCall(tok, "GET", path, ""), http.StatusNotFound)
	expect(t, a.apiCall(tok, "DELETE", path, ""), http.StatusNotFound)
	if es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "template.delete", Limit: 5}); len(es) != 1 || !strings.Contains(es[0].Changes, "API 停止（改）") {
		t.Fatalf("audit: %+v", es)
	}
}
