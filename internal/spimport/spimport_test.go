package spimport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func readFixtures(t *testing.T, opts Options, names ...string) *data.HistoryImport {
	t.Helper()
	r := NewReader(opts)
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Add(n, raw); err != nil {
			t.Fatal(err)
		}
	}
	im, err := r.Import()
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func counts(r data.HistoryResult) map[string]data.ImportCount {
	out := map[string]data.ImportCount{}
	for k, c := range r.Counts {
		out[k] = *c
	}
	return out
}

func TestImportFixturesIdempotentAndDry(t *testing.T) {
	ctx := context.Background()
	store := datatest.Open(t, datatest.NewClock(now))
	im := readFixtures(t, Options{Lang: "en"}, Documents...)
	if im.Source != "statuspage:https://status.example.com" {
		t.Fatalf("source %q", im.Source)
	}

	// Dry run: the plan, and nothing changed.
	dry, err := store.ApplyHistoryImport(ctx, *im, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]data.ImportCount{
		data.RefProduct: {Created: 2}, data.RefComponent: {Created: 3}, data.RefIncident: {Created: 2},
		data.RefIncidentUpdate: {Created: 6}, data.RefMaintenance: {Created: 2}, data.RefMaintenanceUpdate: {Created: 4},
	}
	for k, w := range want {
		if got := counts(dry)[k]; got != w {
			t.Errorf("dry %s: %+v, want %+v", k, got, w)
		}
	}
	if ps, _ := store.Products(ctx); len(ps) != 0 {
		t.Fatalf("dry run made %d products", len(ps))
	}
	if refs, _ := store.ImportRefs(ctx); len(refs) != 0 {
		t.Fatalf("dry run left %d refs", len(refs))
	}

	res, err := store.ApplyHistoryImport(ctx, *im, false)
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		if got := counts(res)[k]; got != w {
			t.Errorf("%s: %+v, want %+v", k, got, w)
		}
	}
	incs, _, err := store.FindIncidents(ctx, data.IncidentQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 {
		t.Fatalf("%d incidents", len(incs))
	}
	var old *data.Incident
	for i := range incs {
		if incs[i].TitleEN == "CDN outage" {
			old, _ = store.Incident(ctx, incs[i].ID)
		}
	}
	if old == nil || old.Status != data.Resolved || old.Impact != "critical" || len(old.Updates) != 4 {
		t.Fatalf("old incident %+v", old)
	}
	if !old.StartedAt.Equal(time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC)) || old.ResolvedAt == nil ||
		!old.ResolvedAt.Equal(time.Date(2026, 10, 1, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("times %v %v", old.StartedAt, old.ResolvedAt)
	}
	// Newest first; the postmortem update became a resolved one, the
	// first kept its display time, the unknown component was left out.
	if u := old.Updates[0]; u.Status != data.Resolved || !u.CreatedAt.Equal(time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("newest update %+v", u)
	}
	if u := old.Updates[3]; !u.CreatedAt.Equal(time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC)) || len(u.Components) != 1 || u.Components[0].Status != data.MajorOutage {
		t.Errorf("first update %+v", u)
	}
	// An update without affected components keeps the previous ones.
	if u := old.Updates[0]; len(u.Components) != 1 || u.Components[0].Status != data.Operational {
		t.Errorf("postmortem update components %+v", u.Components)
	}
	ms, _, err := store.RecentMaintenances(ctx, 10, 0)
	if err != nil || len(ms) != 2 {
		t.Fatalf("maintenances %v %d", err, len(ms))
	}
	for _, m := range ms {
		switch m.TitleEN {
		case "Database upgrade":
			if m.Status != data.Completed || m.StartedAt == nil || m.CompletedAt == nil || len(m.Updates) != 3 || len(m.Components) != 1 {
				t.Errorf("completed window %+v", m)
			}
		case "Network work":
			if m.Status != data.Scheduled || m.Notify || len(m.Components) != 2 {
				t.Errorf("scheduled window %+v", m)
			}
		}
	}
	// History is history: no notice of any of it.
	if ns, _, n, err := store.Notifications(ctx, 10, 0); err != nil || n != 0 {
		t.Fatalf("notifications %v %d %v", ns, n, err)
	}

	// Rerun: everything unchanged, nothing new.
	again, err := store.ApplyHistoryImport(ctx, *im, false)
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		if got := counts(again)[k]; got != (data.ImportCount{Unchanged: w.Created}) {
			t.Errorf("rerun %s: %+v", k, got)
		}
	}

	// The page moved on: the open incident resolved. The rerun updates it.
	r := NewReader(Options{Lang: "en"})
	for _, n := range Documents {
		raw, _ := os.ReadFile(filepath.Join("testdata", n))
		s := string(raw)
		if n == "incidents.json" {
			s = strings.Replace(s, `"status": "identified", "created_at": "2026-11-20T09:00:00.000Z"`, `"status": "resolved", "created_at": "2026-11-20T09:00:00.000Z"`, 1)
			s = strings.Replace(s, `"incident_updates": [
       {"id": "u22"`, `"incident_updates": [
       {"id": "u23", "status": "resolved", "body": "Fixed.", "created_at": "2026-11-20T11:00:00.000Z", "display_at": "2026-11-20T11:00:00.000Z", "affected_components": [{"code": "cmpapi", "new_status": "operational"}]},
       {"id": "u22"`, 1)
		}
		if err := r.Add(n, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	im2, err := r.Import()
	if err != nil {
		t.Fatal(err)
	}
	third, err := store.ApplyHistoryImport(ctx, *im2, false)
	if err != nil {
		t.Fatal(err)
	}
	if c := counts(third); c[data.RefIncident] != (data.ImportCount{Updated: 1, Unchanged: 1}) || c[data.RefIncidentUpdate] != (data.ImportCount{Created: 1, Unchanged: 6}) {
		t.Errorf("third run %+v", c)
	}
	open, _ := store.OpenIncidents(ctx)
	if len(open) != 0 {
		t.Errorf("still open: %+v", open)
	}
	incs, _, _ = store.FindIncidents(ctx, data.IncidentQuery{Limit: 100})
	if len(incs) != 2 {
		t.Errorf("%d incidents after rerun", len(incs))
	}
}

func TestJapanesePageFillsJapaneseOnly(t *testing.T) {
	im := readFixtures(t, Options{}, "summary.json")
	if len(im.Incidents) != 1 || im.Incidents[0].TitleJA != "Elevated API latency" || im.Incidents[0].TitleEN != "" {
		t.Fatalf("%+v", im.Incidents)
	}
	// The Website component has no group: a product named after the page.
	var found bool
	for _, g := range im.Groups {
		if g.ExternalID == pageGroup && g.NameJA == "Example Cloud" {
			found = true
		}
	}
	if !found {
		t.Errorf("no page group: %+v", im.Groups)
	}
}

func TestHostileInput(t *testing.T) {
	ctx := context.Background()
	store := datatest.Open(t, datatest.NewClock(now))
	page := `"page": {"id": "p1", "name": "P"}`
	inc := func(fields string) string {
		return `{` + page + `, "incidents": [{"id": "i1", "name": "Down", "status": "resolved", "impact": "major", "started_at": "2026-10-01T00:00:00Z",
			"incident_updates": [{"id": "u1", "status": "resolved", "body": "ok", "created_at": "2026-10-01T01:00:00Z"}]` + fields + `}]}`
	}
	cases := []struct {
		name, doc, want string
		parse           bool // the reader itself refuses
	}{
		{"not json", `{"page": `, "not valid JSON", true},
		{"an array", `[1,2]`, "not valid JSON", true},
		{"other json", `{"hello": 1}`, "not a Statuspage", true},
		{"bad impact", strings.Replace(inc(""), `"major"`, `"apocalyptic"`, 1), "impact: invalid_choice", false},
		{"bad status", strings.Replace(inc(""), `"status": "resolved", "impact"`, `"status": "exploded", "impact"`, 1), "status: invalid_choice", false},
		{"bad time", strings.Replace(inc(""), `"2026-10-01T01:00:00Z"`, `"yesterday"`, 1), "bad_time", false},
		{"no updates", `{` + page + `, "incidents": [{"id": "i1", "name": "Down", "status": "resolved", "impact": "major", "started_at": "2026-10-01T00:00:00Z", "incident_updates": []}]}`, "updates: required", false},
		{"nul in title", strings.Replace(inc(""), `"Down"`, `"Do\u0000wn"`, 1), "bad_text", false},
		{"huge title", strings.Replace(inc(""), `"Down"`, `"`+strings.Repeat("x", 300)+`"`, 1), "too_long", false},
		{"empty name", strings.Replace(inc(""), `"Down"`, `""`, 1), "name: required", false},
		{"no id", strings.Replace(inc(""), `"id": "i1"`, `"id": ""`, 1), "id: required", false},
		{"window backwards", `{` + page + `, "scheduled_maintenances": [{"id": "m1", "name": "W", "status": "scheduled", "impact": "maintenance",
			"scheduled_for": "2026-10-02T00:00:00Z", "scheduled_until": "2026-10-01T00:00:00Z",
			"incident_updates": [{"id": "u1", "status": "scheduled", "body": "w", "created_at": "2026-09-01T00:00:00Z"}]}]}`, "before_start", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(Options{})
			err := r.Add("doc.json", []byte(c.doc))
			if c.parse {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("got %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Import()
			var ps data.ImportProblems
			if !errors.As(err, &ps) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// A store handed an invalid import saves nothing of it either.
	bad := data.HistoryImport{Source: "x", Groups: []data.ImportGroup{{ExternalID: "g", NameJA: "G"}},
		Incidents: []data.ImportIncident{{ExternalID: "i", TitleJA: "t", Impact: "major", Status: "resolved", StartedAt: now}}}
	if _, err := store.ApplyHistoryImport(ctx, bad, false); err == nil {
		t.Fatal("an incident without updates was accepted")
	}
	if ps, _ := store.Products(ctx); len(ps) != 0 {
		t.Fatalf("half-saved: %d products", len(ps))
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://status.example.com":                         "https://status.example.com/api/v2/",
		"https://status.example.com/":                        "https://status.example.com/api/v2/",
		"https://status.example.com/api/v2/summary.json?x=1": "https://status.example.com/api/v2/",
		"https://example.com/status/api/v2/incidents.json":   "https://example.com/status/api/v2/",
	} {
		if got, err := APIBase(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "ftp://x", "status.example.com", "https://"} {
		if _, err := APIBase(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
