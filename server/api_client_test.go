package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/apiclient"
)

// generatedClientFile is the client oapi-codegen makes from the served
// document, committed so the tests build and run it.
var generatedClientFile = filepath.Join("..", "internal", "apiclient", "client.gen.go")

// generateClient runs oapi-codegen on the document a test server serves.
func (a *testApp) generateClient() []byte {
	a.t.Helper()
	r := a.client().get("/api/admin/openapi.json")
	doc, err := openapi3.NewLoader().LoadFromData([]byte(r.body))
	if err != nil {
		a.t.Fatal(err)
	}
	// The address is the test server's; a client takes its own.
	doc.Servers = nil
	code, err := codegen.Generate(doc, codegen.Configuration{PackageName: "apiclient",
		Generate: codegen.GenerateOptions{Client: true, Models: true}})
	if err != nil {
		a.t.Fatalf("oapi-codegen refused the document: %v", err)
	}
	return []byte(code)
}

// TestGeneratedClientIsCurrent: the committed client is what oapi-codegen
// makes of the document today, so the flow below runs what a customer
// would generate.
func TestGeneratedClientIsCurrent(t *testing.T) {
	a := newTestServer(t)
	code := a.generateClient()
	if os.Getenv("OSHIRASE_UPDATE_CLIENT") == "1" {
		if err := os.WriteFile(generatedClientFile, code, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(generatedClientFile)
	if err != nil || !bytes.Equal(committed, code) {
		t.Fatalf("internal/apiclient/client.gen.go is not what oapi-codegen makes of the served document (%v); regenerate it: OSHIRASE_UPDATE_CLIENT=1 go test ./server -run TestGeneratedClient", err)
	}
}

// TestGeneratedClient runs an operator's automation through the client
// oapi-codegen made of the document, against the real server: every
// answer typed, and (through validatingTransport) checked against the
// document as well.
func TestGeneratedClient(t *testing.T) {
	a := newTestServer(t)
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "自動化", data.ScopeWrite)
	ctx := context.Background()
	api, err := apiclient.NewClientWithResponses(a.srv.URL,
		apiclient.WithHTTPClient(&http.Client{Transport: &validatingTransport{a: a, next: http.DefaultTransport}}),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	must := func(what string, code int, body []byte, ok bool) {
		t.Helper()
		if !ok {
			t.Fatalf("%s: %d %s", what, code, body)
		}
	}

	// The catalogue.
	p, err := api.CreateProductWithResponse(ctx, &apiclient.CreateProductParams{}, apiclient.ProductInput{NameJa: "krewSheet", NameEn: str("krewSheet")})
	if err != nil {
		t.Fatal(err)
	}
	must("create product", p.StatusCode(), p.Body, p.JSON201 != nil)
	c, err := api.CreateComponentWithResponse(ctx, &apiclient.CreateComponentParams{}, apiclient.ComponentInput{ProductId: &p.JSON201.Id,
		NameJa: "編集画面", NameEn: str("Editor")})
	if err != nil {
		t.Fatal(err)
	}
	must("create component", c.StatusCode(), c.Body, c.JSON201 != nil && c.JSON201.ProductId == p.JSON201.Id)
	comp := c.JSON201.Id

	// Declare with an Idempotency-Key, and again as a client that lost the
	// answer: one incident, the same answer.
	key := "declare-" + comp
	declare := apiclient.NewIncident{TitleJa: "編集画面が開きません", TitleEn: str("The editor does not open"), Impact: "major", BodyJa: "調査中です。",
		Components: &map[string]apiclient.ComponentStatus{comp: apiclient.ComponentStatusMajorOutage}}
	first, err := api.CreateIncidentWithResponse(ctx, &apiclient.CreateIncidentParams{IdempotencyKey: &key}, declare)
	if err != nil {
		t.Fatal(err)
	}
	must("declare", first.StatusCode(), first.Body, first.JSON201 != nil && first.JSON201.Status == "investigating")
	again, err := api.CreateIncidentWithResponse(ctx, &apiclient.CreateIncidentParams{IdempotencyKey: &key}, declare)
	if err != nil {
		t.Fatal(err)
	}
	must("replay", again.StatusCode(), again.Body, again.JSON201 != nil && again.JSON201.Id == first.JSON201.Id &&
		again.HTTPResponse.Header.Get("Idempotent-Replayed") == "true")
	inc := first.JSON201.Id

	// Update, list the open ones, resolve.
	up, err := api.PostIncidentUpdateWithResponse(ctx, inc, &apiclient.PostIncidentUpdateParams{}, apiclient.NewIncidentUpdate{Status: "identified", BodyJa: "原因を特定しました。"})
	if err != nil {
		t.Fatal(err)
	}
	must("update", up.StatusCode(), up.Body, up.JSON201 != nil && len(up.JSON201.Updates) == 2 && up.JSON201.Updates[0].Status == "identified")
	open := apiclient.ListIncidentsParamsStatus("open")
	list, err := api.ListIncidentsWithResponse(ctx, &apiclient.ListIncidentsParams{Status: &open, Product: &p.JSON201.Id})
	if err != nil {
		t.Fatal(err)
	}
	must("list", list.StatusCode(), list.Body, list.JSON200 != nil && list.JSON200.Total == 1 && list.JSON200.Items[0].Id == inc && list.JSON200.NextPage == nil)
	res, err := api.ResolveIncidentWithResponse(ctx, inc, &apiclient.ResolveIncidentParams{}, apiclient.ResolveIncident{BodyJa: str("復旧しました。")})
	if err != nil {
		t.Fatal(err)
	}
	must("resolve", res.StatusCode(), res.Body, res.JSON201 != nil && res.JSON201.Status == "resolved" && res.JSON201.ResolvedAt != nil &&
		res.JSON201.Components[0].Status == "operational")
	list, _ = api.ListIncidentsWithResponse(ctx, &apiclient.ListIncidentsParams{Status: &open})
	must("list after", list.StatusCode(), list.Body, list.JSON200 != nil && list.JSON200.Total == 0)
	if _, total, _ := a.store.RecentIncidents(ctx, 10, 0); total != 1 {
		t.Fatalf("%d incidents after a replayed declaration", total)
	}

	// Maintenance, then a version upgrade of the product.
	start := a.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	m, err := api.CreateMaintenanceWithResponse(ctx, &apiclient.CreateMaintenanceParams{}, apiclient.NewMaintenance{TitleJa: "定期メンテナンス",
		StartsAt: start, EndsAt: start.Add(time.Hour), BodyJa: "編集画面を停止します。", Components: []string{comp}})
	if err != nil {
		t.Fatal(err)
	}
	must("maintenance", m.StatusCode(), m.Body, m.JSON201 != nil && m.JSON201.Status == "scheduled" && m.JSON201.StartsAt.Equal(start))
	mu, err := api.PostMaintenanceUpdateWithResponse(ctx, m.JSON201.Id, &apiclient.PostMaintenanceUpdateParams{}, apiclient.NewMaintenanceUpdate{Status: "cancelled", BodyJa: "中止します。"})
	if err != nil {
		t.Fatal(err)
	}
	must("cancel maintenance", mu.StatusCode(), mu.Body, mu.JSON201 != nil && mu.JSON201.Status == "cancelled")
	u, err := api.CreateUpgradeWithResponse(ctx, &apiclient.CreateUpgradeParams{}, apiclient.UpgradeInput{ProductId: p.JSON201.Id, Version: "5.0.0",
		StartsAt: start.Add(7 * 24 * time.Hour), EndsAt: start.Add(7*24*time.Hour + 2*time.Hour), SummaryJa: "新しい版です。"})
	if err != nil {
		t.Fatal(err)
	}
	must("upgrade", u.StatusCode(), u.Body, u.JSON201 != nil && u.JSON201.Version == "5.0.0")

	// An error comes back typed too: an id of another kind is no incident.
	bad, err := api.GetIncidentWithResponse(ctx, m.JSON201.Id)
	if err != nil {
		t.Fatal(err)
	}
	must("wrong kind", bad.StatusCode(), bad.Body, bad.JSON404 != nil && bad.JSON404.Error.Code == "not_found")
}
