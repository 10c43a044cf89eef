package server

import (
	"context"
	"time"

	"github.com/oshirase/oshirase/data"
)

// walkEdits calls every operation for editing incidents, updates and windows, postmortems and templates, for TestOpenAPIWalk.
func walkEdits(a *testApp, f fixture, tok string) []walkCall {
	a.t.Helper()
	inc := "/api/admin/incidents/" + apiRef("i", f.incident)
	mnt := "/api/admin/maintenance/" + apiRef("m", f.maintenance)
	started := a.clock.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	starts := a.clock.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	ends := a.clock.Now().Add(5 * time.Hour).UTC().Format(time.RFC3339)
	// A template of its own to delete, so f.template stays for others.
	spare, err := a.store.CreateTemplate(context.Background(), data.TemplateInput{Name: "消す雛形", TitleJA: "消す雛形", BodyJA: "本文",
		Impact: "minor", Status: data.Investigating})
	if err != nil {
		a.t.Fatal(err)
	}
	tpl := "/api/admin/templates/" + apiRef("t", f.template)
	return []walkCall{
		{"PUT", "/api/admin/incidents/{id}", inc, `{"title_ja": "既存の障害（改題）", "impact": "major", "started_at": "` + started + `"}`},
		{"PUT", "/api/admin/incidents/{id}/updates/{item}", inc + "/updates/" + apiRef("u", f.incidentUpdate), `{"body_ja": "調査を始めました。", "body_en": "Investigating."}`},
		{"GET", "/api/admin/incidents/{id}/postmortem", inc + "/postmortem", ""},
		{"PUT", "/api/admin/incidents/{id}/postmortem", inc + "/postmortem", `{"postmortem_ja": "# 振り返り\n\n原因は設定でした。", "publish": true, "notify": true}`},
		{"DELETE", "/api/admin/incidents/{id}/updates/{item}", inc + "/updates/" + apiRef("u", f.incidentUpdate), ""},
		{"PUT", "/api/admin/maintenance/{id}", mnt, `{"title_ja": "既存のメンテナンス（延長）", "starts_at": "` + starts + `", "ends_at": "` + ends + `", "components": ["` + apiRef("c", f.api) + `"]}`},
		{"PUT", "/api/admin/maintenance/{id}/updates/{item}", mnt + "/updates/" + apiRef("mu", f.maintenanceUpdate), `{"body_ja": "予定です（訂正）。"}`},
		{"GET", "/api/admin/templates", "/api/admin/templates", ""},
		{"POST", "/api/admin/templates", "/api/admin/templates", `{"name": "API 雛形", "title_ja": "API の遅延", "body_ja": "調査中です。", "impact": "minor", "components": {"` + apiRef("c", f.api) + `": "degraded_performance"}}`},
		{"GET", "/api/admin/templates/{id}", tpl, ""},
		{"PUT", "/api/admin/templates/{id}", tpl, `{"name": "CDN遅延", "product_id": "` + apiRef("p", f.product) + `", "title_ja": "配信CDNの遅延", "body_ja": "調査中です。", "impact": "major", "status": "identified"}`},
		{"DELETE", "/api/admin/templates/{id}", "/api/admin/templates/" + apiRef("t", spare.ID), ""},
	}
}
