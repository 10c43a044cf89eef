package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	omail "github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/jobs"
)

// contractOnlySentinels are in the names, descriptions, titles and bodies
// of the contract-only fixture: none may appear in any public answer.
var contractOnlySentinels = []string{"SECRET-COMP-JA", "SECRET-COMP-EN", "SECRET-DESC", "SECRET-PROD", "SECRET-INC", "SECRET-BODY", "SECRET-MAINT"}

// contractOnlyWorld is the fixture: a product with a public and a
// contract-only component, a product whose only component is
// contract-only, an open incident and two windows (one under way) on the
// contract-only component alone, an open incident on both, and a window
// on the public one. Without the secret, it is the same world as the
// public should see it: no contract-only component or product, and the
// mixed incident on the public component only.
type contractOnlyWorld struct {
	a                        *testApp
	product, secretProduct   int64
	pub, secret, secret2     int64
	hiddenInc, mixedInc      int64
	hiddenMaint, activeMaint int64
	pubMaint, subscriber     int64
}

func newContractOnlyWorld(t *testing.T, withSecret bool) *contractOnlyWorld {
	t.Helper()
	a := newTestServer(t)
	ctx := context.Background()
	w := &contractOnlyWorld{a: a}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "製品P", NameEN: "Product P"})
	must(err)
	w.product = p.ID
	pub, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "公開API", NameEN: "Public API",
		DescriptionJA: "誰でも使えます", DescriptionEN: "For everyone"})
	must(err)
	w.pub = pub.ID
	comps := map[int64]string{w.pub: data.DegradedPerformance}
	if withSecret {
		sec, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "SECRET-COMP-JA", NameEN: "SECRET-COMP-EN",
			DescriptionJA: "SECRET-DESC-JA", DescriptionEN: "SECRET-DESC-EN", ContractOnly: true})
		must(err)
		w.secret = sec.ID
		sp, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "SECRET-PROD-JA", NameEN: "SECRET-PROD-EN"})
		must(err)
		w.secretProduct = sp.ID
		sec2, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: sp.ID, NameJA: "SECRET-COMP-JA-2", NameEN: "SECRET-COMP-EN-2", ContractOnly: true})
		must(err)
		w.secret2 = sec2.ID
		// Its manual status is the worst: it must not drive the headline.
		must(a.store.SetComponentStatus(ctx, w.secret2, data.MajorOutage))
		inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "SECRET-INC-JA", TitleEN: "SECRET-INC-EN", Impact: "critical",
			Status: data.Investigating, BodyJA: "SECRET-BODY-JA", BodyEN: "SECRET-BODY-EN", Components: map[int64]string{w.secret: data.MajorOutage}})
		must(err)
		w.hiddenInc = inc.ID
		m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "SECRET-MAINT-JA", TitleEN: "SECRET-MAINT-EN",
			StartsAt: t0.Add(48 * time.Hour), EndsAt: t0.Add(50 * time.Hour), BodyJA: "SECRET-BODY-JA", BodyEN: "SECRET-BODY-EN", ComponentIDs: []int64{w.secret}})
		must(err)
		w.hiddenMaint = m.ID
		m2, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "SECRET-MAINT-JA-2", TitleEN: "SECRET-MAINT-EN-2",
			StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(2 * time.Hour), BodyJA: "SECRET-BODY-JA", ComponentIDs: []int64{w.secret, w.secret2}})
		must(err)
		_, err = a.store.PostMaintenanceUpdate(ctx, m2.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "SECRET-BODY-JA 作業中"})
		must(err)
		w.activeMaint = m2.ID
		comps[w.secret] = data.MajorOutage
	}
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "一部の遅延", TitleEN: "Some slowness", Impact: "minor",
		Status: data.Investigating, BodyJA: "調査中です。", BodyEN: "Investigating.", Components: comps})
	must(err)
	w.mixedInc = inc.ID
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "公開メンテナンス", TitleEN: "Public maintenance",
		StartsAt: t0.Add(72 * time.Hour), EndsAt: t0.Add(74 * time.Hour), BodyJA: "作業します。", BodyEN: "Work.", ComponentIDs: []int64{w.pub}})
	must(err)
	w.pubMaint = m.ID
	sub, err := a.store.Subscribe(ctx, "reader@example.com", "ja", nil, false)
	must(err)
	must(a.store.ConfirmSubscriber(ctx, sub.ID))
	w.subscriber = sub.ID
	a.app.changed()
	return w
}

// publicRoute is one public GET, with the fixture's ids filled in: id
// names the role the id plays, so that both worlds ask the same.
type publicRoute struct {
	route, path, role string
	// hidden: only the world with the secret has it, and it is not found.
	hidden bool
}

// publicRoutes derives the public GETs from the router, filling ids.
func (w *contractOnlyWorld) publicRoutes(t *testing.T) []publicRoute {
	t.Helper()
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	manage := "/subscribe/manage/" + omail.SubscriberToken(testSecret, omail.PurposeManage, w.subscriber)
	var out []publicRoute
	seen := map[string]bool{}
	for _, r := range w.a.app.Echo().Routes() {
		if r.Method != http.MethodGet || strings.HasPrefix(r.Path, "/admin") || strings.HasPrefix(r.Path, "/api/admin") || seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		role := ""
		add := func(path string, hidden bool) {
			out = append(out, publicRoute{route: r.Path, path: path, role: role, hidden: hidden})
		}
		switch {
		case r.Path == "/static/:version/*":
			continue
		case r.Path == "/api/v2/*":
			add("/api/v2/unknown.json", false)
		case strings.HasPrefix(r.Path, "/incidents/:id"):
			role = "mixed"
			add(strings.Replace(r.Path, ":id", id(w.mixedInc), 1), false)
			role = "hidden"
			add(strings.Replace(r.Path, ":id", id(w.hiddenInc), 1), true)
		case strings.HasPrefix(r.Path, "/maintenance/:id"):
			role = "pubmaint"
			add(strings.Replace(r.Path, ":id", id(w.pubMaint), 1), false)
			role = "hiddenmaint"
			add(strings.Replace(r.Path, ":id", id(w.hiddenMaint), 1), true)
			role = "activemaint"
			add(strings.Replace(r.Path, ":id", id(w.activeMaint), 1), true)
		case strings.Contains(r.Path, ":product"):
			role = "product"
			add(strings.Replace(r.Path, ":product", id(w.product), 1), false)
			role = "secretproduct"
			add(strings.Replace(r.Path, ":product", id(w.secretProduct), 1), true)
		case r.Path == "/subscribe/manage/:token":
			add(manage, false)
		case r.Path == "/badge.svg":
			add(r.Path, false)
			role = "pub"
			add(r.Path+"?component="+id(w.pub), false)
			role = "secret"
			add(r.Path+"?component="+id(w.secret), true)
			role = "secret2"
			add(r.Path+"?component="+id(w.secret2), true)
		case r.Path == "/history":
			add(r.Path, false)
			role = "page1"
			add(r.Path+"?page=1", false)
		default:
			add(strings.NewReplacer(":id", "1", ":token", "x", ":integration", "1", ":secret", "x").Replace(r.Path), false)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// countMarkers are what a count of components, incidents or windows, or a
// status driven by them, shows as.
var countMarkers = []string{"/incidents/", "/maintenance/", "<entry>", "<item>", "BEGIN:VEVENT", `"group":true`, `"group":false`,
	"st-operational", "st-under-maintenance", "st-degraded-performance", "st-partial-outage", "st-major-outage", `class="component`,
	"under_maintenance", "major_outage", "partial_outage", "degraded_performance", `"impact":`}

// TestContractOnlyNeverPublic asks every public route, in both languages,
// of a world with contract-only components and of the same world as the
// public should see it: no sentinel appears, what is hidden is not found,
// and every count matches.
func TestContractOnlyNeverPublic(t *testing.T) {
	secret := newContractOnlyWorld(t, true)
	plain := newContractOnlyWorld(t, false)
	routes := secret.publicRoutes(t)
	plainRoutes := map[string]string{}
	for _, r := range plain.publicRoutes(t) {
		if !r.hidden {
			plainRoutes[r.route+"|"+r.role] = r.path
		}
	}
	if len(routes) < 30 {
		t.Fatalf("only %d public routes found", len(routes))
	}
	for _, lang := range []string{"ja", "en"} {
		sc, pc := secret.a.client(), plain.a.client()
		sc.lang, pc.lang = lang, lang
		for _, r := range routes {
			t.Run(lang+" "+r.path, func(t *testing.T) {
				got := sc.get(r.path)
				for _, s := range contractOnlySentinels {
					if strings.Contains(got.body, s) {
						t.Fatalf("%s (%s) shows %q:\n%s", r.path, lang, s, got.body)
					}
				}
				if r.hidden {
					if got.code != http.StatusNotFound {
						t.Fatalf("%s: %d, want 404 for what only contracts see", r.path, got.code)
					}
					return
				}
				pp, ok := plainRoutes[r.route+"|"+r.role]
				if !ok {
					t.Fatalf("no twin of %s", r.path)
				}
				want := pc.get(pp)
				if got.code != want.code {
					t.Fatalf("%s: %d, the public world answers %d", r.path, got.code, want.code)
				}
				for _, m := range countMarkers {
					if g, w := strings.Count(got.body, m), strings.Count(want.body, m); g != w {
						t.Errorf("%s: %d × %q, the public world has %d", r.path, g, m, w)
					}
				}
				if r.route == "/badge.svg" && got.body != want.body {
					t.Errorf("badge %s differs from the public world's:\n%s\n%s", r.path, got.body, want.body)
				}
			})
		}
	}

	// The Statuspage JSON, read: the same lengths and indicator.
	for _, p := range []string{"/api/v2/summary.json", "/api/v2/components.json", "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
		"/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/active.json", "/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/status.json"} {
		got, want := statuspageShape(t, secret.a.client().get(p).body), statuspageShape(t, plain.a.client().get(p).body)
		if got != want {
			t.Errorf("%s: %+v, the public world %+v", p, got, want)
		}
	}
	if s := statuspageShape(t, secret.a.client().get("/api/v2/summary.json").body); s.Components != 2 || s.Groups != 1 || s.Incidents != 1 || s.Maintenances != 1 || s.Indicator != "minor" {
		t.Errorf("summary: %+v, want the public component and its group, one incident, one window, minor", s)
	}

	// The operators still see and manage it.
	op := secret.a.client()
	op.login("editor@example.com")
	expect(t, op.get("/admin/products"), http.StatusOK, "SECRET-COMP-JA", "契約ユーザーのみ")
	expect(t, op.get("/admin/components/"+strconv.FormatInt(secret.secret, 10)+"/edit"), http.StatusOK, `name="contract_only" value="1" checked`, "契約ユーザーのみに表示")
}

type spShape struct {
	Components, Groups, Incidents, Maintenances int
	Indicator                                   string
}

func statuspageShape(t *testing.T, body string) spShape {
	t.Helper()
	var v struct {
		Components []struct {
			Group bool `json:"group"`
		} `json:"components"`
		Incidents             []json.RawMessage `json:"incidents"`
		ScheduledMaintenances []json.RawMessage `json:"scheduled_maintenances"`
		Status                struct {
			Indicator string `json:"indicator"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v:\n%s", err, body)
	}
	s := spShape{Incidents: len(v.Incidents), Maintenances: len(v.ScheduledMaintenances), Indicator: v.Status.Indicator}
	for _, c := range v.Components {
		if c.Group {
			s.Groups++
		}
		s.Components++
	}
	return s
}

// TestContractOnlyNotices: an incident on a contract-only component alone
// reaches the contacts of a contract using its product, not a public
// subscriber nor a public webhook; one that also touches a public
// component reaches them all, and the public ones read no contract-only
// name while the contact's email names it.
func TestContractOnlyNotices(t *testing.T) {
	cases := []struct {
		name        string
		comps       func(pub, sec int64) map[int64]string
		wantPublic  bool
		contactSees bool
	}{
		{"contract-only alone", func(pub, sec int64) map[int64]string { return map[int64]string{sec: data.MajorOutage} }, false, true},
		{"public and contract-only", func(pub, sec int64) map[int64]string {
			return map[int64]string{pub: data.PartialOutage, sec: data.MajorOutage}
		}, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestServer(t)
			a.openLoopback()
			rig := a.withSMTP()
			ctx := context.Background()
			p, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "製品P", NameEN: "Product P"})
			pub, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "公開API", NameEN: "Public API"})
			sec, err := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "SECRET-COMP-JA", NameEN: "SECRET-COMP-EN", ContractOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			a.contractWith("K-1", []int64{p.ID}, map[string]string{"contact@customer.example": "primary/ja"})
			sub, err := a.store.Subscribe(ctx, "reader@example.com", "ja", nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.store.ConfirmSubscriber(ctx, sub.ID); err != nil {
				t.Fatal(err)
			}
			hook := newEndpoint(t, func(string) (int, string) { return 200, "ok" })
			if _, err := a.store.CreateChannel(ctx, data.ChannelInput{Kind: data.ChannelWebhook, URL: hook.URL, Lang: "ja", Secret: "whsec_test"}); err != nil {
				t.Fatal(err)
			}
			rig.deliver() // the subscription's own mail, if any

			if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", TitleEN: "Outage", Impact: "critical",
				Status: data.Investigating, BodyJA: "調査中です。", Components: tc.comps(pub.ID, sec.ID), Notice: data.Notice{Send: true}}); err != nil {
				t.Fatal(err)
			}
			got := rig.deliver()
			want := []string{"contact@customer.example"}
			if tc.wantPublic {
				want = append(want, "reader@example.com")
				sort.Strings(want)
			}
			if r := recipients(got); strings.Join(r, ",") != strings.Join(want, ",") {
				t.Fatalf("emailed %v, want %v", r, want)
			}
			if body := textOf(t, got["contact@customer.example"][0]); !strings.Contains(body, "SECRET-COMP-JA") {
				t.Errorf("the contract contact's email does not name the contract-only component:\n%s", body)
			}
			for _, m := range got["reader@example.com"] {
				if body := textOf(t, m); strings.Contains(body, "SECRET-COMP") || !strings.Contains(body, "公開API") {
					t.Errorf("the public subscriber's email:\n%s", body)
				}
			}
			sender := jobs.NewChannelSender(a.store, a.app.opts.Outbound, a.app.opts.Channels, jobs.ChannelOptions{Now: a.clock.Now, Manage: a.app.ChannelManageURL},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			if _, err := sender.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			hook.mu.Lock()
			bodies := append([]string(nil), hook.bodies...)
			hook.mu.Unlock()
			if !tc.wantPublic && len(bodies) != 0 {
				t.Fatalf("the public webhook was told of a contract-only incident:\n%s", bodies)
			}
			if tc.wantPublic && len(bodies) != 1 {
				t.Fatalf("the public webhook got %d posts, want 1", len(bodies))
			}
			for _, b := range bodies {
				if strings.Contains(b, "SECRET-COMP") || !strings.Contains(b, "Public API") && !strings.Contains(b, "公開API") {
					t.Errorf("public webhook payload:\n%s", b)
				}
			}
			// What the console counts before publishing agrees.
			aud, err := a.store.NoticeAudienceCount(ctx, "critical", []int64{sec.ID})
			if err != nil || aud.Subscribers != 0 || aud.Channels != 0 || aud.Contacts != 1 {
				t.Errorf("audience of the contract-only component: %+v %v", aud, err)
			}
		})
	}
}

// TestContractOnlyAPI: the operator API takes and returns contract_only,
// and an update that leaves it out keeps it.
func TestContractOnlyAPI(t *testing.T) {
	a := newTestServer(t)
	product, _, _ := a.seedCatalog()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "契約のみ", "write")
	r := a.apiCall(tok, http.MethodPost, "/api/admin/components", `{"product_id":"`+apiRef("p", product)+`","name_ja":"専用","contract_only":true}`)
	if r.code != http.StatusCreated || !strings.Contains(r.body, `"contract_only":true`) {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var created apiComponent
	json.Unmarshal([]byte(r.body), &created)
	id := created.ID
	cid, _ := parseRef("c", id)
	if r := a.apiCall(tok, http.MethodPut, "/api/admin/components/"+id, `{"name_ja":"専用環境"}`); r.code != http.StatusOK {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	if c, _ := a.store.Component(context.Background(), cid); !c.ContractOnly || c.NameJA != "専用環境" {
		t.Fatalf("after an update without contract_only: %+v", c)
	}
	if r := a.apiCall(tok, http.MethodGet, "/api/admin/components", ""); !strings.Contains(r.body, `"contract_only":true`) || !strings.Contains(r.body, "専用環境") {
		t.Fatalf("list: %s", r.body)
	}
	if r := a.apiCall(tok, http.MethodGet, "/api/admin/products", ""); !strings.Contains(r.body, `"contract_only":true`) {
		t.Fatalf("products: %s", r.body)
	}
	if r := a.apiCall(tok, http.MethodPut, "/api/admin/components/"+id, `{"name_ja":"専用環境","contract_only":false}`); r.code != http.StatusOK {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	if c, _ := a.store.Component(context.Background(), cid); c.ContractOnly {
		t.Fatal("contract_only false did not take")
	}
	// The public sees it now.
	expect(t, a.client().get("/api/v2/components.json"), http.StatusOK, "専用環境")
}
