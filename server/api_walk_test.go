package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
)

// walkCall is one call of TestOpenAPIWalk: doc is the documented path.
type walkCall struct {
	method, doc, path, body string
}

// TestOpenAPIWalk reads the OpenAPI document and calls every operation it
// describes, in an order that makes sense, expecting the success code it
// documents. An operation in the document but not here (or here but not
// there) fails the test, so the two cannot drift apart.
func TestOpenAPIWalk(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "walk", data.ScopeWrite)
	ctx := context.Background()
	spare, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "予備の製品"})
	spareComp, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: f.product, NameJA: "予備のコンポーネント"})
	mon := f.monitor
	sig, err := a.store.Signal(ctx, data.Signal{ComponentID: f.api, Source: "walk", Status: data.MajorOutage, Detail: "connection refused"})
	if err != nil || sig.Draft == nil {
		t.Fatalf("no draft: %+v %v", sig, err)
	}

	r := apiRef
	calls := []walkCall{
		{"GET", "/api/admin/components", "/api/admin/components", ""},
		{"POST", "/api/admin/components", "/api/admin/components", `{"product_id": "` + r("p", f.product) + `", "name_ja": "新しいコンポーネント"}`},
		{"PUT", "/api/admin/components/{id}", "/api/admin/components/" + r("c", spareComp.ID), `{"name_ja": "改名したコンポーネント"}`},
		{"POST", "/api/admin/components/{id}/move", "/api/admin/components/" + r("c", spareComp.ID) + "/move", `{"direction": "up"}`},
		{"PUT", "/api/admin/components/{id}/status", "/api/admin/components/" + r("c", f.cdn) + "/status", `{"status": "degraded_performance"}`},
		{"DELETE", "/api/admin/components/{id}", "/api/admin/components/" + r("c", spareComp.ID), ""},
		{"GET", "/api/admin/components/{id}", "/api/admin/components/" + r("c", f.cdn), ""},
		{"GET", "/api/admin/products", "/api/admin/products", ""},
		{"GET", "/api/admin/products/{id}", "/api/admin/products/" + r("p", f.product), ""},
		{"POST", "/api/admin/products", "/api/admin/products", `{"name_ja": "新製品", "collapsed": true}`},
		{"PUT", "/api/admin/products/{id}", "/api/admin/products/" + r("p", spare.ID), `{"name_ja": "改名した製品"}`},
		{"POST", "/api/admin/products/{id}/move", "/api/admin/products/" + r("p", spare.ID) + "/move", `{"direction": "up"}`},
		{"DELETE", "/api/admin/products/{id}", "/api/admin/products/" + r("p", spare.ID), ""},
		{"POST", "/api/admin/incidents", "/api/admin/incidents", `{"title_ja": "API の障害", "impact": "minor", "body_ja": "調査中です。", "components": {"` + r("c", f.api) + `": "partial_outage"}}`},
		{"GET", "/api/admin/incidents", "/api/admin/incidents?status=open&product=" + r("p", f.product) + "&since=2026-01-01T00:00:00Z&per_page=5", ""},
		{"GET", "/api/admin/incidents/{id}", "/api/admin/incidents/" + r("i", f.incident), ""},
		{"POST", "/api/admin/incidents/{id}/updates", "/api/admin/incidents/" + r("i", f.incident) + "/updates", `{"status": "monitoring", "body_ja": "監視中です。"}`},
		{"POST", "/api/admin/incidents/{id}/resolve", "/api/admin/incidents/" + r("i", f.incident) + "/resolve", `{"body_ja": "復旧しました。"}`},
		{"POST", "/api/admin/maintenance", "/api/admin/maintenance", `{"title_ja": "API のメンテナンス", "starts_at": "2026-12-24T01:00:00Z", "ends_at": "2026-12-24T02:00:00Z", "body_ja": "予定です。", "components": ["` + r("c", f.api) + `"]}`},
		{"GET", "/api/admin/maintenance", "/api/admin/maintenance?status=open&page=1", ""},
		{"GET", "/api/admin/maintenance/{id}", "/api/admin/maintenance/" + r("m", f.maintenance), ""},
		{"POST", "/api/admin/maintenance/{id}/updates", "/api/admin/maintenance/" + r("m", f.maintenance) + "/updates", `{"status": "in_progress", "body_ja": "開始しました。"}`},
		{"GET", "/api/admin/contracts", "/api/admin/contracts?q=K-1", ""},
		{"GET", "/api/admin/contracts/{id}", "/api/admin/contracts/" + r("k", f.contract), ""},
		{"POST", "/api/admin/contracts", "/api/admin/contracts", `{"code": "K-API", "name": "API 顧客", "active": true, "product_ids": ["` + r("p", f.product) + `"]}`},
		{"PUT", "/api/admin/contracts/{id}", "/api/admin/contracts/" + r("k", f.contract), `{"code": "K-1", "name": "既存の契約（改名）", "active": true, "product_ids": ["` + r("p", f.product) + `"]}`},
		{"PUT", "/api/admin/contracts/{id}/portal", "/api/admin/contracts/" + r("k", f.contract) + "/portal", `{"open": false}`},
		{"PUT", "/api/admin/contracts/{id}/sla", "/api/admin/contracts/" + r("k", f.contract) + "/sla", `{"sla_target": "99.95", "started_at": "2026-01-01T00:00:00+09:00", "report_mail": true}`},
		{"POST", "/api/admin/contracts/{id}/contacts", "/api/admin/contracts/" + r("k", f.contract) + "/contacts", `{"name": "追加 次郎", "email": "jiro@example.com", "lang": "ja", "role": "additional"}`},
		{"PUT", "/api/admin/contacts/{id}", "/api/admin/contacts/" + r("ct", f.contact), `{"name": "追加 花子", "email": "hanako@example.com", "lang": "en", "role": "additional"}`},
		{"DELETE", "/api/admin/contacts/{id}", "/api/admin/contacts/" + r("ct", f.contact), ""},
		{"POST", "/api/admin/contracts/import", "/api/admin/contracts/import?dry_run=true",
			"contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\nK-CSV,CSV 顧客,krewDashboard,true,山田,yamada@example.jp,ja,primary\n"},
		{"GET", "/api/admin/subscribers", "/api/admin/subscribers", ""},
		{"DELETE", "/api/admin/subscribers/{id}", "/api/admin/subscribers/" + r("s", f.subscriber), ""},
		{"GET", "/api/admin/policy", "/api/admin/policy", ""},
		{"PUT", "/api/admin/policy", "/api/admin/policy", `{"policy": [{"impact": "minor", "notify_primary": true, "notify_additional": true}]}`},
		{"GET", "/api/admin/monitors", "/api/admin/monitors", ""},
		{"POST", "/api/admin/monitors", "/api/admin/monitors", `{"component_id": "` + r("c", f.cdn) + `", "name": "TCP", "kind": "tcp", "target": "db.internal:5432"}`},
		{"GET", "/api/admin/monitors/{id}", "/api/admin/monitors/" + r("mon", mon), ""},
		{"GET", "/api/admin/drafts", "/api/admin/drafts", ""},
		{"POST", "/api/admin/drafts/{id}/dismiss", "/api/admin/drafts/" + r("dr", sig.Draft.ID) + "/dismiss", ""},
		{"PUT", "/api/admin/monitors/{id}", "/api/admin/monitors/" + r("mon", mon), `{"name": "API health", "kind": "http", "target": "https://api.example.com/healthz"}`},
		{"DELETE", "/api/admin/monitors/{id}", "/api/admin/monitors/" + r("mon", mon), ""},
		{"GET", "/api/admin/openapi.json", "/api/admin/openapi.json", ""},
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(a.client().get("/api/admin/openapi.json").body), &doc); err != nil {
		t.Fatal(err)
	}
	var documented, walked []string
	success := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			for code := range op.Responses {
				if strings.HasPrefix(code, "2") {
					success[key] = code
				}
			}
		}
	}
	// Each area's operations are walked by its own file (walkEdits and so
	// on), on the same fixture, after the core ones.
	for _, more := range []func(*testApp, fixture, string) []walkCall{walkEdits, walkNotices, walkSettings} {
		calls = append(calls, more(a, f, tok)...)
	}
	for _, c := range calls {
		walked = append(walked, c.method+" "+c.doc)
	}
	sort.Strings(documented)
	sort.Strings(walked)
	if strings.Join(documented, "\n") != strings.Join(walked, "\n") {
		t.Fatalf("documented operations:\n%s\n\nwalked:\n%s", strings.Join(documented, "\n"), strings.Join(walked, "\n"))
	}
	for _, c := range calls {
		r := a.apiCall(tok, c.method, c.path, c.body)
		want := success[c.method+" "+c.doc]
		if strconv.Itoa(r.code) != want {
			t.Errorf("%s %s: %d, the document says %s\n%s", c.method, c.path, r.code, want, r.body)
		}
	}
	// The same validation as the console: a product without a name.
	expect(t, a.apiCall(tok, "POST", "/api/admin/products", `{"name_ja": ""}`), http.StatusUnprocessableEntity, "name_ja")
	expect(t, a.apiCall(tok, "POST", "/api/admin/products/"+r("p", f.product)+"/move", `{"direction": "sideways"}`), http.StatusUnprocessableEntity)
	expect(t, a.apiCall(tok, "DELETE", "/api/admin/products/"+r("p", f.product), ""), http.StatusUnprocessableEntity)
	expect(t, a.apiCall(tok, "PUT", "/api/admin/policy", `{"policy": [{"impact": "apocalyptic"}]}`), http.StatusUnprocessableEntity)
	// The CSV import: a bad file names its lines and changes nothing; the
	// dry run above created nothing; applied, it does.
	bad := "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\nK-X,X,NoSuch,true,a,not-an-address,ja,primary\n"
	expect(t, a.apiCall(tok, "POST", "/api/admin/contracts/import", bad), http.StatusUnprocessableEntity, `"line":2`)
	if cs, _, _ := a.store.Contracts(ctx, data.ContractFilter{Query: "K-CSV"}); len(cs) != 0 {
		t.Fatal("the dry run imported")
	}
	good := "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\nK-CSV,CSV 顧客,krewDashboard,true,山田,yamada@example.jp,ja,primary\n"
	expect(t, a.apiCall(tok, "POST", "/api/admin/contracts/import", good), http.StatusOK, `"created":1`)
	expect(t, a.apiCall(tok, "POST", "/api/admin/contracts", `{"code": "", "name": ""}`), http.StatusUnprocessableEntity, "code")
}
