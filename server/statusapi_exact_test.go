package server

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// strictJSON reads an /api/v2 document as a strict client would.
func strictJSON(t *testing.T, a *testApp, path string, header map[string]string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestNoEmptyGroups: a product created before its components is left out
// of the JSON; strict Statuspage clients reject a group without
// components, and with it the whole document.
func TestNoEmptyGroups(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	if _, err := a.store.CreateProduct(context.Background(), data.ProductInput{NameJA: "準備中の製品"}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	for _, path := range []string{"/api/v2/components.json", "/api/v2/summary.json"} {
		var doc struct{ Components []spComponent }
		strictJSON(t, a, path, nil, &doc)
		groups := 0
		for _, c := range doc.Components {
			if c.Group {
				groups++
				if len(c.Components) == 0 {
					t.Errorf("%s: group %s (%s) has no components", path, c.ID, c.Name)
				}
			}
		}
		if groups != 1 {
			t.Errorf("%s: %d groups, want 1", path, groups)
		}
	}
}

// TestUpdateIDsAreUnique: incident and maintenance updates come from two
// tables; their ids on a page never collide.
func TestUpdateIDsAreUnique(t *testing.T) {
	a := newTestServer(t)
	a.seedAll()
	seen := map[string]string{}
	for _, path := range []string{"/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json"} {
		var doc struct {
			Incidents             []spIncident `json:"incidents"`
			ScheduledMaintenances []spIncident `json:"scheduled_maintenances"`
		}
		strictJSON(t, a, path, nil, &doc)
		for _, inc := range append(doc.Incidents, doc.ScheduledMaintenances...) {
			for _, u := range inc.IncidentUpdates {
				if other, dup := seen[u.ID]; dup {
					t.Errorf("update id %s is used by %s and %s", u.ID, other, inc.ID)
				}
				seen[u.ID] = inc.ID
			}
		}
	}
	if len(seen) < 3 {
		t.Fatalf("the fixture proves nothing: %v", seen)
	}
}

// TestUnknownAPIPathsAre404JSON: a mistyped endpoint says so, in JSON.
func TestUnknownAPIPathsAre404JSON(t *testing.T) {
	a := newTestServer(t)
	for _, path := range []string{"/api/v2/nope.json", "/api/v2/incidents/i1.json", "/api/v2/"} {
		r := a.client().get(path)
		if r.code != http.StatusNotFound || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s", path, r.code, r.header.Get("Content-Type"), r.body)
		}
	}
}

// TestStatusIndicatorAndDescriptionAgree: the indicator and its words are
// Statuspage's fixed pairs, in English unless Japanese is asked for.
func TestStatusIndicatorAndDescriptionAgree(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		impact, indicator, en, ja string
	}{
		{"", "none", "All Systems Operational", "すべてのサービスは正常に稼働しています"},
		{"minor", "minor", "Minor Service Outage", "一部のサービスで軽微な障害が発生しています"},
		{"major", "major", "Partial System Outage", "一部のサービスで障害が発生しています"},
		{"critical", "critical", "Major Service Outage", "サービスで大規模な障害が発生しています"},
	}
	for _, c := range cases {
		a := newTestServer(t)
		_, cdn, _ := a.seedCatalog()
		if c.impact != "" {
			// The component's own status would say otherwise; the incident's
			// impact decides, and the words follow it.
			if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: c.impact, Status: data.Investigating,
				BodyJA: "調査中です。", Components: map[int64]string{cdn: data.DegradedPerformance}}); err != nil {
				t.Fatal(err)
			}
			a.app.changed()
		}
		for lang, want := range map[string]string{"": c.en, "en": c.en, "ja": c.ja} {
			var doc struct{ Status spStatus }
			h := map[string]string{}
			if lang != "" {
				h["Accept-Language"] = lang
			}
			strictJSON(t, a, "/api/v2/status.json", h, &doc)
			if doc.Status.Indicator != c.indicator || doc.Status.Description != want {
				t.Errorf("%s incident, lang %q: %+v, want %s / %s", c.impact, lang, doc.Status, c.indicator, want)
			}
		}
	}
}

// TestMaintenanceAsStatuspageTellsIt: every update of a window names its
// components (operational → operational while scheduled, → under
// maintenance when it starts, back to operational when it ends), the
// window starts when it started (or when it was posted, before), verifying
// is its monitoring time, and a cancelled window never starts after it ended.
func TestMaintenanceAsStatuspageTellsIt(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	_, cdn, api := a.seedCatalog()
	posted := a.clock.Now()
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "定期メンテナンス", BodyJA: "予定です。",
		StartsAt: posted.Add(time.Hour), EndsAt: posted.Add(3 * time.Hour), ComponentIDs: []int64{cdn, api}})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "中止するメンテナンス", BodyJA: "予定です。",
		StartsAt: posted.Add(5 * time.Hour), EndsAt: posted.Add(6 * time.Hour), ComponentIDs: []int64{api}})
	if err != nil {
		t.Fatal(err)
	}
	window := func(id int64) spIncident {
		t.Helper()
		a.app.changed()
		var doc struct {
			ScheduledMaintenances []spIncident `json:"scheduled_maintenances"`
		}
		strictJSON(t, a, "/api/v2/scheduled-maintenances.json", nil, &doc)
		for _, w := range doc.ScheduledMaintenances {
			if w.ID == "m"+strconv.FormatInt(id, 10) {
				return w
			}
		}
		t.Fatalf("window %d missing", id)
		return spIncident{}
	}
	transitions := func(u spUpdate) string {
		var s []string
		for _, c := range u.AffectedComponents {
			s = append(s, c.Code+":"+c.OldStatus+">"+c.NewStatus)
		}
		return strings.Join(s, ",")
	}
	w := window(m.ID)
	if w.StartedAt != w.CreatedAt || transitions(w.IncidentUpdates[0]) != fmt.Sprintf("c%d:operational>operational,c%d:operational>operational", cdn, api) {
		t.Fatalf("scheduled: started %s (created %s), %q", w.StartedAt, w.CreatedAt, transitions(w.IncidentUpdates[0]))
	}
	steps := []struct{ status, want string }{
		{data.InProgress, "operational>under_maintenance"},
		{data.Verifying, "under_maintenance>under_maintenance"},
		{data.Completed, "under_maintenance>operational"},
	}
	for i, st := range steps {
		a.clock.Set(posted.Add(time.Hour + time.Duration(i)*time.Hour))
		if _, err := a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: st.status, BodyJA: "更新です。"}); err != nil {
			t.Fatal(err)
		}
		w = window(m.ID)
		if got := transitions(w.IncidentUpdates[0]); !strings.Contains(got, fmt.Sprintf("c%d:%s", cdn, st.want)) {
			t.Errorf("%s: %q", st.status, got)
		}
		if st.status == data.Verifying && (w.MonitoringAt == nil || *w.MonitoringAt != w.IncidentUpdates[0].CreatedAt) {
			t.Errorf("verifying: monitoring_at %v", w.MonitoringAt)
		}
	}
	if len(w.IncidentUpdates) != 4 || w.StartedAt != w.IncidentUpdates[2].CreatedAt {
		t.Errorf("completed: %d updates, started %s", len(w.IncidentUpdates), w.StartedAt)
	}
	if _, err := a.store.PostMaintenanceUpdate(ctx, cancelled.ID, data.NewMaintenanceUpdate{Status: data.Cancelled, BodyJA: "中止します。"}); err != nil {
		t.Fatal(err)
	}
	c := window(cancelled.ID)
	if c.ResolvedAt == nil || c.StartedAt > *c.ResolvedAt || transitions(c.IncidentUpdates[0]) != fmt.Sprintf("c%d:operational>operational", api) {
		t.Errorf("cancelled: started %s, resolved %v, %q", c.StartedAt, c.ResolvedAt, transitions(c.IncidentUpdates[0]))
	}
}

// TestAtomHasAuthorsAndOwnIDs: RFC 4287 wants an author for every entry
// (here, the feed's), and each feed its own id.
func TestAtomHasAuthorsAndOwnIDs(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	type atom struct {
		ID     string `xml:"id"`
		Author *struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Entries []struct {
			ID string `xml:"id"`
		} `xml:"entry"`
	}
	ids := map[string]bool{}
	for _, path := range []string{"/feed.atom", "/products/" + strconv.FormatInt(f.product, 10) + "/feed.atom", "/feed.atom?lang=en"} {
		r := a.client().get(path)
		var doc atom
		if err := xml.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc.Author == nil || strings.TrimSpace(doc.Author.Name) == "" {
			t.Errorf("%s: no author\n%s", path, r.body)
		}
		if len(doc.Entries) == 0 {
			t.Errorf("%s: no entries", path)
		}
		if !strings.Contains(path, "?") {
			if ids[doc.ID] {
				t.Errorf("%s: feed id %s is another feed's", path, doc.ID)
			}
			ids[doc.ID] = true
		}
	}
}

// TestUpdatedAtFollowsWhatIsShown: a component's updated_at moves when an
// incident changes the status it shows, and an empty page is not dated
// 1970.
func TestUpdatedAtFollowsWhatIsShown(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	var empty struct{ Page spPage }
	strictJSON(t, a, "/api/v2/status.json", nil, &empty)
	if strings.HasPrefix(empty.Page.UpdatedAt, "1970") || empty.Page.UpdatedAt == "" {
		t.Errorf("empty page updated_at %q", empty.Page.UpdatedAt)
	}
	_, cdn, api := a.seedCatalog()
	a.clock.Advance(2 * time.Hour)
	if _, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage}}); err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	var doc struct{ Components []spComponent }
	strictJSON(t, a, "/api/v2/components.json", nil, &doc)
	at := map[string]string{}
	for _, c := range doc.Components {
		at[c.ID] = c.UpdatedAt
	}
	now := a.clock.Now().In(a.app.opts.Location).Format("2006-01-02T15:04:05.000-07:00")
	if at[componentID(cdn)] != now || at[componentID(api)] == now {
		t.Errorf("updated_at: affected %s, untouched %s, incident at %s", at[componentID(cdn)], at[componentID(api)], now)
	}
}
