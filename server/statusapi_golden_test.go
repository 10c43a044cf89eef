package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// The Statuspage v2 public API as its documentation describes it, written
// apart from the server's own types: a field the server adds that
// Statuspage does not have fails the strict decode below.
type (
	schemaPage struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		URL       string `json:"url"`
		TimeZone  string `json:"time_zone"`
		UpdatedAt string `json:"updated_at"`
	}
	schemaStatus struct {
		Indicator   string `json:"indicator"`
		Description string `json:"description"`
	}
	schemaComponent struct {
		ID                 string   `json:"id"`
		Name               string   `json:"name"`
		Status             string   `json:"status"`
		CreatedAt          string   `json:"created_at"`
		UpdatedAt          string   `json:"updated_at"`
		Position           int      `json:"position"`
		Description        *string  `json:"description"`
		Showcase           bool     `json:"showcase"`
		StartDate          *string  `json:"start_date"`
		GroupID            *string  `json:"group_id"`
		PageID             string   `json:"page_id"`
		Group              bool     `json:"group"`
		OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
		Components         []string `json:"components"`
	}
	schemaAffected struct {
		Code      string `json:"code"`
		Name      string `json:"name"`
		OldStatus string `json:"old_status"`
		NewStatus string `json:"new_status"`
	}
	schemaUpdate struct {
		ID                   string           `json:"id"`
		Status               string           `json:"status"`
		Body                 string           `json:"body"`
		IncidentID           string           `json:"incident_id"`
		CreatedAt            string           `json:"created_at"`
		UpdatedAt            string           `json:"updated_at"`
		DisplayAt            string           `json:"display_at"`
		AffectedComponents   []schemaAffected `json:"affected_components"`
		DeliverNotifications bool             `json:"deliver_notifications"`
		CustomTweet          *string          `json:"custom_tweet"`
		TweetID              *string          `json:"tweet_id"`
	}
	schemaIncident struct {
		ID              string            `json:"id"`
		Name            string            `json:"name"`
		Status          string            `json:"status"`
		CreatedAt       string            `json:"created_at"`
		UpdatedAt       string            `json:"updated_at"`
		MonitoringAt    *string           `json:"monitoring_at"`
		ResolvedAt      *string           `json:"resolved_at"`
		Impact          string            `json:"impact"`
		Shortlink       string            `json:"shortlink"`
		StartedAt       string            `json:"started_at"`
		PageID          string            `json:"page_id"`
		IncidentUpdates []schemaUpdate    `json:"incident_updates"`
		Components      []schemaComponent `json:"components"`
		ScheduledFor    *string           `json:"scheduled_for"`
		ScheduledUntil  *string           `json:"scheduled_until"`
		// incidents.json only.
		PostmortemBody        *string `json:"postmortem_body"`
		PostmortemPublishedAt *string `json:"postmortem_published_at"`
	}
	schemaDoc struct {
		Page                  schemaPage        `json:"page"`
		Status                *schemaStatus     `json:"status"`
		Components            []schemaComponent `json:"components"`
		Incidents             []schemaIncident  `json:"incidents"`
		ScheduledMaintenances []schemaIncident  `json:"scheduled_maintenances"`
	}
)

var (
	schemaIndicators = map[string]string{"none": "All Systems Operational", "minor": "Minor Service Outage",
		"major": "Partial System Outage", "critical": "Major Service Outage", "maintenance": "Service Under Maintenance"}
	schemaComponentStatuses = map[string]bool{"operational": true, "degraded_performance": true, "partial_outage": true,
		"major_outage": true, "under_maintenance": true}
	schemaIncidentStatuses = map[string]bool{"investigating": true, "identified": true, "monitoring": true, "resolved": true,
		"scheduled": true, "in_progress": true, "verifying": true, "completed": true}
	schemaImpacts = map[string]bool{"none": true, "minor": true, "major": true, "critical": true, "maintenance": true}
)

const schemaTime = "2006-01-02T15:04:05.000-07:00"

// TestStatuspageGolden reads every endpoint in every state a page goes
// through as a strict Statuspage client would, and checks the invariants
// clients rely on.
func TestStatuspageGolden(t *testing.T) {
	ctx := context.Background()
	a := newTestServer(t)
	endpoints := []string{"status", "summary", "components", "incidents", "incidents/unresolved",
		"scheduled-maintenances", "scheduled-maintenances/upcoming", "scheduled-maintenances/active"}
	check := func(state string) {
		t.Helper()
		a.app.changed()
		for _, ep := range endpoints {
			res, err := http.Get(a.srv.URL + "/api/v2/" + ep + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var raw bytes.Buffer
			raw.ReadFrom(res.Body)
			res.Body.Close()
			where := state + " /api/v2/" + ep + ".json"
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", where, res.StatusCode)
			}
			dec := json.NewDecoder(bytes.NewReader(raw.Bytes()))
			dec.DisallowUnknownFields()
			var doc schemaDoc
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("%s: a strict client rejects it: %v\n%s", where, err, raw.String())
			}
			schemaInvariants(t, where, &doc)
			if ep != "incidents" && bytes.Contains(raw.Bytes(), []byte("postmortem_")) {
				t.Errorf("%s: postmortem fields belong to incidents.json only", where)
			}
		}
	}
	check("empty page")
	p, cdn, api := a.seedCatalog()
	check("healthy")
	if _, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "準備中"}); err != nil {
		t.Fatal(err)
	}
	check("empty product")
	if err := a.store.SetComponentStatus(ctx, cdn, data.DegradedPerformance); err != nil {
		t.Fatal(err)
	}
	check("degraded")
	a.store.SetComponentStatus(ctx, cdn, data.Operational)
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "メンテナンス", BodyJA: "予定です。",
		StartsAt: a.clock.Now().Add(time.Hour), EndsAt: a.clock.Now().Add(3 * time.Hour), ComponentIDs: []int64{api}})
	if err != nil {
		t.Fatal(err)
	}
	check("maintenance scheduled")
	a.clock.Advance(time.Hour)
	a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"})
	check("maintenance in progress")
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn: data.PartialOutage, api: data.MajorOutage}})
	if err != nil {
		t.Fatal(err)
	}
	check("incident during maintenance")
	a.clock.Advance(time.Hour)
	a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Monitoring, BodyJA: "監視中です。"})
	a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.Completed, BodyJA: "終了しました。"})
	a.clock.Advance(time.Hour)
	a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"})
	check("all resolved")
	if _, err := a.store.SavePostmortem(ctx, inc.ID, data.PostmortemInput{BodyJA: "## 原因\n設定の誤りです。", Publish: true}); err != nil {
		t.Fatal(err)
	}
	check("postmortem published")
	_ = p
}

func schemaInvariants(t *testing.T, where string, doc *schemaDoc) {
	t.Helper()
	fail := func(format string, args ...any) { t.Helper(); t.Errorf(where+": "+format, args...) }
	parse := func(what, s string) time.Time {
		ts, err := time.Parse(schemaTime, s)
		if err != nil {
			fail("%s %q is not Statuspage's time format", what, s)
		}
		return ts
	}
	if doc.Page.ID == "" || doc.Page.URL == "" || parse("page.updated_at", doc.Page.UpdatedAt).Year() < 2000 {
		fail("page %+v", doc.Page)
	}
	if st := doc.Status; st != nil && schemaIndicators[st.Indicator] != st.Description {
		fail("status %+v is not one of Statuspage's pairs", *st)
	}
	ids := map[string]bool{}
	unique := func(id string) {
		if ids[id] {
			fail("id %s used twice", id)
		}
		ids[id] = true
	}
	known := map[string]bool{}
	for _, c := range doc.Components {
		unique(c.ID)
		known[c.ID] = true
		if !schemaComponentStatuses[c.Status] {
			fail("component %s status %q", c.ID, c.Status)
		}
		parse("component.updated_at", c.UpdatedAt)
		if c.Group && len(c.Components) == 0 {
			fail("group %s has no components", c.ID)
		}
		if !c.Group && c.GroupID == nil {
			fail("component %s has no group", c.ID)
		}
	}
	for _, c := range doc.Components {
		for _, id := range c.Components {
			if !known[id] {
				fail("group %s lists unknown component %s", c.ID, id)
			}
		}
	}
	for _, inc := range append(doc.Incidents, doc.ScheduledMaintenances...) {
		unique(inc.ID)
		if !schemaIncidentStatuses[inc.Status] || !schemaImpacts[inc.Impact] {
			fail("incident %s status %q impact %q", inc.ID, inc.Status, inc.Impact)
		}
		started := parse("started_at", inc.StartedAt)
		if inc.ResolvedAt != nil && parse("resolved_at", *inc.ResolvedAt).Before(started) {
			fail("%s resolved before it started", inc.ID)
		}
		if (inc.ScheduledFor != nil) != (inc.Impact == "maintenance") {
			fail("%s: scheduled_for only for maintenance", inc.ID)
		}
		if len(inc.IncidentUpdates) == 0 {
			fail("%s has no updates", inc.ID)
		}
		for _, u := range inc.IncidentUpdates {
			unique(u.ID)
			if u.IncidentID != inc.ID || !schemaIncidentStatuses[u.Status] {
				fail("update %s: incident %s, status %q", u.ID, u.IncidentID, u.Status)
			}
			for _, ac := range u.AffectedComponents {
				if !schemaComponentStatuses[ac.OldStatus] || !schemaComponentStatuses[ac.NewStatus] || !strings.HasPrefix(ac.Code, "c") {
					fail("update %s affects %+v", u.ID, ac)
				}
			}
		}
	}
}
