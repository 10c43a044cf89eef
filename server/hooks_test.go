package server

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
)

func postHook(t *testing.T, a *testApp, path, body string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return a.client().do(req)
}

func fixtureFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/hooks/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAlertWebhooks: an admin creates an integration (its address shown
// once); Alertmanager's and Grafana's documented payloads, mapped to
// components by label, prepare drafts exactly as a monitor does; resolved
// withdraws them; a replay changes nothing; a wrong secret is a 404 and a
// bad body a 400 with its reason; revoking withdraws what it reported.
func TestAlertWebhooks(t *testing.T) {
	a := newTestServer(t)
	ctx := context.Background()
	_, cdn, api := a.seedCatalog()
	a.store.SetAutomation(ctx, cdn, data.Automation{HookKey: "cdn"})
	a.store.SetAutomation(ctx, api, data.Automation{HookKey: "license-api"})
	admin := a.client()
	admin.login("admin@example.com")
	expect(t, admin.get("/admin/integrations"), http.StatusOK, "アラート連携")
	r := admin.post("/admin/integrations", url.Values{"name": {"Prometheus"}, "kind": {"alertmanager"}, "failure_status": {"partial_outage"}})
	expect(t, r, http.StatusOK, "/api/hooks/")
	hook := regexp.MustCompile(`http://status.example.com(/api/hooks/\d+/[A-Za-z0-9_-]+)`).FindStringSubmatch(r.body)
	if hook == nil {
		t.Fatalf("no webhook address shown:\n%s", r.body)
	}
	path := hook[1]
	if again := admin.get("/admin/integrations"); strings.Contains(again.body, path) {
		t.Fatal("the secret is shown twice")
	}
	expect(t, admin.post("/admin/integrations", url.Values{"name": {""}, "kind": {"nagios"}}), http.StatusBadRequest, "入力してください")

	// Wrong secret, unknown integration.
	expect(t, postHook(t, a, path+"x", fixtureFile(t, "alertmanager.json")), http.StatusNotFound)
	expect(t, postHook(t, a, "/api/hooks/999/abc", fixtureFile(t, "alertmanager.json")), http.StatusNotFound)
	// Bad bodies.
	expect(t, postHook(t, a, path, "{not json"), http.StatusBadRequest, "bad_payload")
	expect(t, postHook(t, a, path, `{"alerts": []}`), http.StatusBadRequest, `alerts`)
	expect(t, postHook(t, a, path, `{"alerts": [{"status": "maybe"}]}`), http.StatusBadRequest, `firing`)
	expect(t, postHook(t, a, path, `{"alerts": [{"status": "firing", "labels": {"component": "nope"}}]}`), http.StatusBadRequest, `no component with key`)
	if n, _ := a.store.WaitingDrafts(ctx); n != 0 {
		t.Fatal("a refused payload prepared a draft")
	}

	// Firing: two alerts, two components, two drafts; the second names
	// its status.
	r = postHook(t, a, path, fixtureFile(t, "alertmanager.json"))
	expect(t, r, http.StatusOK, `"accepted":2`, `"changed":2`)
	drafts, _ := a.store.IncidentDrafts(ctx, data.DraftWaiting, 10)
	statuses := map[int64]string{}
	for _, d := range drafts {
		statuses[d.ComponentID] = d.Status
	}
	if len(drafts) != 2 || statuses[cdn] != data.PartialOutage || statuses[api] != data.DegradedPerformance {
		t.Fatalf("drafts %+v", drafts)
	}
	if open, _ := a.store.OpenIncidents(ctx); len(open) != 0 {
		t.Fatal("a webhook published an incident")
	}
	// Replayed: nothing new.
	expect(t, postHook(t, a, path, fixtureFile(t, "alertmanager.json")), http.StatusOK, `"changed":0`)
	if d, _ := a.store.IncidentDrafts(ctx, "", 10); len(d) != 2 {
		t.Fatalf("a replay made %d drafts", len(d))
	}
	// Grafana, its own integration, on the CDN too: the CDN stays down
	// until both have resolved.
	r = admin.post("/admin/integrations", url.Values{"name": {"Grafana"}, "kind": {"grafana"}, "failure_status": {"major_outage"}})
	gpath := regexp.MustCompile(`http://status.example.com(/api/hooks/\d+/[A-Za-z0-9_-]+)`).FindStringSubmatch(r.body)[1]
	expect(t, postHook(t, a, gpath, fixtureFile(t, "grafana.json")), http.StatusOK, `"accepted":1`)
	if c := componentOf(t, a, cdn); c.AutoStatus != data.MajorOutage {
		t.Fatalf("CDN automatic status %s", c.AutoStatus)
	}
	expect(t, postHook(t, a, path, fixtureFile(t, "alertmanager-resolved.json")), http.StatusOK, `"accepted":2`)
	if c := componentOf(t, a, cdn); c.AutoStatus != data.MajorOutage {
		t.Fatalf("CDN recovered while Grafana still fires: %s", c.AutoStatus)
	}
	if c := componentOf(t, a, api); c.AutoStatus != data.Operational {
		t.Fatalf("API after resolved: %s", c.AutoStatus)
	}
	// Revoking Grafana's integration withdraws its alert: the CDN is
	// back, its draft withdrawn.
	gid := strings.Split(gpath, "/")[3]
	expect(t, admin.post("/admin/integrations/"+gid+"/revoke", nil), http.StatusSeeOther)
	if c := componentOf(t, a, cdn); c.AutoStatus != data.Operational {
		t.Fatalf("after revoking: %s", c.AutoStatus)
	}
	if n, _ := a.store.WaitingDrafts(ctx); n != 0 {
		t.Fatalf("%d drafts still waiting after every alert resolved", n)
	}
	expect(t, postHook(t, a, gpath, fixtureFile(t, "grafana.json")), http.StatusNotFound)

	// Generic JSON.
	r = admin.post("/admin/integrations", url.Values{"name": {"Cron"}, "kind": {"generic"}, "failure_status": {"major_outage"}})
	gen := regexp.MustCompile(`http://status.example.com(/api/hooks/\d+/[A-Za-z0-9_-]+)`).FindStringSubmatch(r.body)[1]
	expect(t, postHook(t, a, gen, `{"component": "`+strconv.FormatInt(api, 10)+`", "status": "firing", "summary": "backup failed"}`), http.StatusOK, `"changed":1`)
	expect(t, postHook(t, a, gen, `{"component": "license-api", "status": "firing"}`), http.StatusOK, `"changed":0`)
	expect(t, postHook(t, a, gen, `{"status": "firing"}`), http.StatusBadRequest, "component")
	expect(t, postHook(t, a, gen, `{"component": "license-api", "status": "resolved"}`), http.StatusOK, `"changed":1`)
}

func componentOf(t *testing.T, a *testApp, id int64) data.Component {
	t.Helper()
	ps, _ := a.store.Products(context.Background())
	for _, p := range ps {
		for _, c := range p.Components {
			if c.ID == id {
				return c
			}
		}
	}
	t.Fatalf("no component %d", id)
	return data.Component{}
}
