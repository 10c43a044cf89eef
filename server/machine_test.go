package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/mmcdole/gofeed"

	"github.com/oshirase/oshirase/data"
)

// seedEveryState makes incidents in every status and maintenance in every
// status, for the golden-shape tests.
func (a *testApp) seedEveryState() fixture {
	f := a.seedAll()
	ctx := context.Background()
	for _, st := range []string{data.Investigating, data.Identified, data.Monitoring, data.Resolved} {
		inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害 " + st, TitleEN: "Incident " + st, Impact: "major",
			Status: data.Investigating, BodyJA: "調査中", Components: map[int64]string{f.api: data.PartialOutage}})
		if err != nil {
			a.t.Fatal(err)
		}
		a.clock.Advance(time.Minute)
		if st != data.Investigating {
			a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: st, BodyJA: st, Components: map[int64]string{f.api: data.DegradedPerformance}})
		}
	}
	for _, st := range []string{data.InProgress, data.Verifying, data.Completed, data.Cancelled} {
		m, _ := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "メンテ " + st, BodyJA: "予定", StartsAt: a.clock.Now().Add(time.Hour),
			EndsAt: a.clock.Now().Add(2 * time.Hour), ComponentIDs: []int64{f.cdn}})
		a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: st, BodyJA: st})
	}
	a.app.changed()
	return f
}

type shape map[string]string // key → "string", "number", "bool", "array", "object", "null", "string|null"

func checkShape(t *testing.T, where string, obj map[string]any, want shape) {
	t.Helper()
	for k, kinds := range want {
		v, ok := obj[k]
		if !ok {
			t.Errorf("%s: no %q", where, k)
			continue
		}
		kind := "null"
		switch v.(type) {
		case string:
			kind = "string"
		case float64:
			kind = "number"
		case bool:
			kind = "bool"
		case []any:
			kind = "array"
		case map[string]any:
			kind = "object"
		}
		if !strings.Contains("|"+kinds+"|", "|"+kind+"|") {
			t.Errorf("%s.%s is %s, want %s", where, k, kind, kinds)
		}
	}
}

func oneOf(t *testing.T, where string, v any, allowed ...string) {
	t.Helper()
	s, _ := v.(string)
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	t.Errorf("%s = %q, not one of %v", where, s, allowed)
}

func isoTime(t *testing.T, where string, v any) {
	t.Helper()
	s, _ := v.(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000-07:00", s); err != nil {
		t.Errorf("%s = %q is not ISO 8601 with an offset", where, s)
	}
}

var (
	pageShape      = shape{"id": "string", "name": "string", "url": "string", "time_zone": "string", "updated_at": "string"}
	componentShape = shape{"id": "string", "name": "string", "status": "string", "created_at": "string", "updated_at": "string",
		"position": "number", "description": "string|null", "showcase": "bool", "start_date": "string|null", "group_id": "string|null",
		"page_id": "string", "group": "bool", "only_show_if_degraded": "bool"}
	incidentShape = shape{"id": "string", "name": "string", "status": "string", "created_at": "string", "updated_at": "string",
		"monitoring_at": "string|null", "resolved_at": "string|null", "impact": "string", "shortlink": "string", "started_at": "string",
		"page_id": "string", "incident_updates": "array", "components": "array"}
	updateShape = shape{"id": "string", "status": "string", "body": "string", "incident_id": "string", "created_at": "string",
		"updated_at": "string", "display_at": "string", "affected_components": "array", "deliver_notifications": "bool",
		"custom_tweet": "null", "tweet_id": "null"}
	componentStatuses = []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
)

func getJSON(t *testing.T, c *client, path string) map[string]any {
	t.Helper()
	r := c.get(path)
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%s: %d %v", path, r.code, r.header)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	checkShape(t, path+" page", m["page"].(map[string]any), pageShape)
	return m
}

func checkIncident(t *testing.T, where string, inc map[string]any, maintenance bool) {
	checkShape(t, where, inc, incidentShape)
	isoTime(t, where+".created_at", inc["created_at"])
	if maintenance {
		checkShape(t, where, inc, shape{"scheduled_for": "string", "scheduled_until": "string"})
		oneOf(t, where+".status", inc["status"], "scheduled", "in_progress", "verifying", "completed")
		oneOf(t, where+".impact", inc["impact"], "maintenance")
	} else {
		oneOf(t, where+".status", inc["status"], "investigating", "identified", "monitoring", "resolved", "postmortem")
		oneOf(t, where+".impact", inc["impact"], "none", "minor", "major", "critical")
	}
	for _, u := range inc["incident_updates"].([]any) {
		um := u.(map[string]any)
		checkShape(t, where+" update", um, updateShape)
		isoTime(t, where+" update.display_at", um["display_at"])
		for _, ac := range um["affected_components"].([]any) {
			acm := ac.(map[string]any)
			checkShape(t, where+" affected", acm, shape{"code": "string", "name": "string", "old_status": "string", "new_status": "string"})
			oneOf(t, where+" affected.new_status", acm["new_status"], componentStatuses...)
		}
	}
	for _, c := range inc["components"].([]any) {
		checkShape(t, where+" component", c.(map[string]any), componentShape)
	}
}

// TestStatuspageShapes checks every JSON endpoint against the Statuspage
// v2 object shapes, field names and value sets.
func TestStatuspageShapes(t *testing.T) {
	a := newTestServer(t)
	a.seedEveryState()
	c := a.client()
	c.lang = "en"

	st := getJSON(t, c, "/api/v2/status.json")
	checkShape(t, "status", st["status"].(map[string]any), shape{"indicator": "string", "description": "string"})
	oneOf(t, "indicator", st["status"].(map[string]any)["indicator"], "none", "minor", "major", "critical", "maintenance")

	comps := getJSON(t, c, "/api/v2/components.json")["components"].([]any)
	groups := 0
	for _, x := range comps {
		cm := x.(map[string]any)
		checkShape(t, "component", cm, componentShape)
		oneOf(t, "component.status", cm["status"], componentStatuses...)
		if cm["group"] == true {
			groups++
			if _, ok := cm["components"].([]any); !ok {
				t.Error("group without components")
			}
		} else if cm["group_id"] == nil {
			t.Error("component without group_id")
		}
	}
	if groups != 1 || len(comps) != 3 {
		t.Fatalf("components %v", comps)
	}

	incs := getJSON(t, c, "/api/v2/incidents.json")["incidents"].([]any)
	seen := map[string]bool{}
	for _, x := range incs {
		checkIncident(t, "incident", x.(map[string]any), false)
		seen[x.(map[string]any)["status"].(string)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("incident statuses %v", seen)
	}
	unresolved := getJSON(t, c, "/api/v2/incidents/unresolved.json")["incidents"].([]any)
	for _, x := range unresolved {
		if x.(map[string]any)["status"] == "resolved" {
			t.Fatal("resolved incident in unresolved.json")
		}
	}
	if len(unresolved) != 4 { // three new ones and the seeded one
		t.Fatalf("%d unresolved", len(unresolved))
	}
	for path, want := range map[string]int{"/api/v2/scheduled-maintenances.json": 5, "/api/v2/scheduled-maintenances/upcoming.json": 1,
		"/api/v2/scheduled-maintenances/active.json": 2} {
		ms := getJSON(t, c, path)["scheduled_maintenances"].([]any)
		if len(ms) != want {
			t.Errorf("%s: %d, want %d", path, len(ms), want)
		}
		for _, x := range ms {
			checkIncident(t, path, x.(map[string]any), true)
		}
	}
	sum := getJSON(t, c, "/api/v2/summary.json")
	for _, k := range []string{"components", "incidents", "scheduled_maintenances", "status"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %s", k)
		}
	}
	if sum["status"].(map[string]any)["indicator"] != "major" {
		t.Errorf("indicator with open major incidents: %v", sum["status"])
	}
	// The incident's updates carry old → new statuses.
	found := false
	for _, x := range incs {
		for _, u := range x.(map[string]any)["incident_updates"].([]any) {
			for _, ac := range u.(map[string]any)["affected_components"].([]any) {
				acm := ac.(map[string]any)
				if acm["old_status"] == "partial_outage" && acm["new_status"] == "degraded_performance" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("no update shows the partial → degraded transition")
	}
}

func TestFeedsCalendarBadgeAndConditionalGet(t *testing.T) {
	a := newTestServer(t)
	f := a.seedEveryState()
	ctx := context.Background()
	a.store.CreateAnnouncement(ctx, data.AnnouncementInput{TitleJA: "年末年始のお知らせ", TitleEN: "Holiday notice", BodyJA: "休業します"})
	a.app.changed()
	c := a.client()
	parser := gofeed.NewParser()
	for _, path := range []string{"/feed.atom", "/feed.rss", "/products/" + itoa(f.product) + "/feed.atom", "/feed.atom?lang=en"} {
		r := c.get(path)
		if r.code != http.StatusOK {
			t.Fatalf("%s: %d", path, r.code)
		}
		feed, err := parser.ParseString(r.body)
		if err != nil {
			t.Fatalf("%s does not parse: %v", path, err)
		}
		if len(feed.Items) < 10 {
			t.Fatalf("%s: %d items", path, len(feed.Items))
		}
		titles := ""
		for _, it := range feed.Items {
			titles += it.Title + "\n"
			if it.Link == "" || (it.GUID == "" && feed.FeedType == "atom") {
				t.Errorf("%s: item without link or id: %+v", path, it)
			}
		}
		want := "年末年始のお知らせ"
		if strings.Contains(path, "lang=en") {
			want = "Holiday notice"
		}
		if !strings.Contains(titles, want) || !strings.Contains(titles, "メンテ") && !strings.Contains(titles, "Maintenance") {
			t.Errorf("%s titles:\n%s", path, titles)
		}
	}
	if r := c.get("/products/999/feed.atom"); r.code != http.StatusNotFound {
		t.Errorf("unknown product feed: %d", r.code)
	}

	// Calendar: stable UIDs, a reschedule raises SEQUENCE, cancelled marked.
	m, _ := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "日程変更するメンテ", BodyJA: "x", StartsAt: a.clock.Now().Add(48 * time.Hour),
		EndsAt: a.clock.Now().Add(50 * time.Hour), ComponentIDs: []int64{f.cdn}})
	a.app.changed()
	event := func() *ics.VEvent {
		r := c.get("/maintenance.ics")
		if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar") {
			t.Fatalf("ics: %d %v", r.code, r.header)
		}
		cal, err := ics.ParseCalendar(strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range cal.Events() {
			if e.Id() == "maintenance-"+itoa(m.ID)+"@status.example.com" {
				return e
			}
		}
		t.Fatalf("event missing:\n%s", r.body)
		return nil
	}
	if e := event(); e.GetProperty(ics.ComponentPropertySequence).Value != "0" {
		t.Fatal("new event sequence")
	}
	a.store.UpdateMaintenance(ctx, m.ID, data.MaintenanceEdit{TitleJA: "日程変更するメンテ", StartsAt: a.clock.Now().Add(72 * time.Hour),
		EndsAt: a.clock.Now().Add(74 * time.Hour), ComponentIDs: []int64{f.cdn}})
	a.app.changed()
	e := event()
	if e.GetProperty(ics.ComponentPropertySequence).Value != "1" {
		t.Fatalf("rescheduled sequence %v", e.GetProperty(ics.ComponentPropertySequence))
	}
	if st, _ := e.GetStartAt(); !st.Equal(a.clock.Now().Add(72 * time.Hour).Truncate(time.Second)) {
		t.Fatalf("start %v", st)
	}
	a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.Cancelled, BodyJA: "中止します"})
	a.app.changed()
	e = event()
	if e.GetProperty(ics.ComponentPropertyStatus).Value != "CANCELLED" || e.GetProperty(ics.ComponentPropertySequence).Value != "2" {
		t.Fatal("cancellation not in the calendar")
	}
	if r := c.get("/products/" + itoa(f.product) + "/maintenance.ics"); !strings.Contains(r.body, "maintenance-"+itoa(m.ID)) {
		t.Fatal("per-product calendar lacks the product's maintenance")
	}

	// Badge.
	r := c.get("/badge.svg")
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "image/svg+xml") || !strings.Contains(r.body, "<svg") {
		t.Fatalf("badge: %d %v", r.code, r.header)
	}
	c.lang = "en"
	if r := c.get("/badge.svg?component=" + itoa(f.api)); !strings.Contains(r.body, "License API") || !strings.Contains(r.body, "Partial outage") {
		t.Fatalf("component badge: %d %v\n%q", r.code, r.header, r.body)
	}
	if r := c.get("/badge.svg?component=99999"); r.code != http.StatusNotFound {
		t.Fatalf("unknown component badge: %d", r.code)
	}

	// Conditional GET everywhere.
	for _, path := range []string{"/api/v2/summary.json", "/feed.atom", "/maintenance.ics", "/badge.svg"} {
		r := c.get(path)
		etag, lm := r.header.Get("ETag"), r.header.Get("Last-Modified")
		if etag == "" || lm == "" {
			t.Fatalf("%s: no validators %v", path, r.header)
		}
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
		req.Header.Set("If-None-Match", etag)
		if r := c.do(req); r.code != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d", path, r.code)
		}
		req, _ = http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
		req.Header.Set("If-Modified-Since", lm)
		if r := c.do(req); r.code != http.StatusNotModified {
			t.Errorf("%s with If-Modified-Since: %d", path, r.code)
		}
	}
	// CORS preflight.
	req, _ := http.NewRequest(http.MethodOptions, a.srv.URL+"/api/v2/status.json", nil)
	req.Header.Set("Origin", "https://monitor.example")
	if r := c.do(req); r.code != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", r.code, r.header)
	}
}
