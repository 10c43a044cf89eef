package data_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

var t0 = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

func fieldErr(t *testing.T, err error, field, key string) {
	t.Helper()
	var v *data.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("want validation error on %s, got %v", field, err)
	}
	if v.Fields[field] != key {
		t.Fatalf("field %s: want %q, got %v", field, key, v.Fields)
	}
}

func seed(t *testing.T, s *data.Store) (*data.Product, *data.Component, *data.Component) {
	t.Helper()
	ctx := context.Background()
	p, err := s.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard", NameEN: "krewDashboard"})
	if err != nil {
		t.Fatal(err)
	}
	cdn, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "CDN"})
	if err != nil {
		t.Fatal(err)
	}
	api, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "ライセンスAPI", NameEN: "License API"})
	if err != nil {
		t.Fatal(err)
	}
	return p, cdn, api
}

func TestMigrateIsIdempotent(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	v, err := s.AppliedVersion(ctx)
	if err != nil || v != data.SchemaVersion() {
		t.Fatalf("applied version %d, %v; want %d", v, err, data.SchemaVersion())
	}
}

func TestCatalogOrderAndValidation(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	p, cdn, api := seed(t, s)

	if err := s.MoveComponent(ctx, api.ID, -1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Product(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Components[0].ID != api.ID || got.Components[1].ID != cdn.ID {
		t.Fatalf("order after move: %+v", got.Components)
	}
	// Moving past the end is a no-op, not an error.
	if err := s.MoveComponent(ctx, api.ID, -1); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		in    data.ComponentInput
		field string
		key   string
	}{
		{"empty name", data.ComponentInput{ProductID: p.ID, NameJA: "  "}, "name_ja", "required"},
		{"broken utf8", data.ComponentInput{ProductID: p.ID, NameJA: "a\xffb"}, "name_ja", "bad_text"},
		{"nul byte", data.ComponentInput{ProductID: p.ID, NameJA: "a\x00b"}, "name_ja", "bad_text"},
		{"line break in name", data.ComponentInput{ProductID: p.ID, NameJA: "a\nb"}, "name_ja", "bad_text"},
		{"too long", data.ComponentInput{ProductID: p.ID, NameJA: strings.Repeat("あ", data.MaxName+1)}, "name_ja", "too_long"},
		{"unknown product", data.ComponentInput{ProductID: 999, NameJA: "x"}, "product_id", "invalid_choice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.CreateComponent(ctx, c.in)
			fieldErr(t, err, c.field, c.key)
		})
	}
	ps, _ := s.Products(ctx)
	if len(ps) != 1 || len(ps[0].Components) != 2 {
		t.Fatalf("invalid input wrote rows: %+v", ps)
	}
	if err := s.DeleteProduct(ctx, p.ID); err == nil {
		t.Fatal("deleted a product that still has components")
	}
	if err := s.SetComponentStatus(ctx, cdn.ID, "on_fire"); err == nil {
		t.Fatal("accepted an unknown status")
	}
	if err := s.SetComponentStatus(ctx, 12345, data.MajorOutage); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("unknown component: %v", err)
	}
}

func TestIncidentLifecycle(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	_, cdn, api := seed(t, s)

	inc, err := s.CreateIncident(ctx, data.NewIncident{
		TitleJA: "CDNの遅延", Impact: "major", Status: data.Investigating,
		StartedAt: t0.Add(-30 * time.Minute), BodyJA: "調査中です。",
		Components: map[int64]string{cdn.ID: data.PartialOutage},
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	if _, err := s.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Identified, BodyJA: "原因を特定しました。",
		Components: map[int64]string{cdn.ID: data.MajorOutage, api.ID: data.DegradedPerformance}}); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenIncidents(ctx)
	if err != nil || len(open) != 1 {
		t.Fatalf("open incidents: %v %v", open, err)
	}
	if st := open[0].ComponentStatuses(); st[cdn.ID] != data.MajorOutage || st[api.ID] != data.DegradedPerformance {
		t.Fatalf("component statuses: %v", st)
	}
	if !open[0].StartedAt.Equal(t0.Add(-30 * time.Minute)) {
		t.Fatalf("backdated start lost: %v", open[0].StartedAt)
	}

	clock.Advance(10 * time.Minute)
	res, err := s.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Incident(ctx, inc.ID)
	if got.Status != data.Resolved || got.ResolvedAt == nil || !got.ResolvedAt.Equal(clock.Now()) {
		t.Fatalf("after resolve: %+v", got)
	}
	if len(got.Updates) != 3 || got.Updates[0].ID != res.ID {
		t.Fatalf("timeline: %+v", got.Updates)
	}
	// Deleting the resolving update changes nothing but the timeline: the
	// incident stays resolved (reopening is an explicit step).
	resolvedAt := *got.ResolvedAt
	if err := s.DeleteIncidentUpdate(ctx, inc.ID, res.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Incident(ctx, inc.ID)
	if got.Status != data.Resolved || got.ResolvedAt == nil || !got.ResolvedAt.Equal(resolvedAt) {
		t.Fatalf("after deleting resolution: %s %v", got.Status, got.ResolvedAt)
	}
	for _, u := range got.Updates[:1] {
		if err := s.DeleteIncidentUpdate(ctx, inc.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	err = s.DeleteIncidentUpdate(ctx, inc.ID, got.Updates[1].ID)
	fieldErr(t, err, "update", "last_update")

	// Hostile and wrong input writes nothing.
	_, err = s.CreateIncident(ctx, data.NewIncident{TitleJA: "x", Impact: "apocalyptic", Status: data.Investigating, BodyJA: "x"})
	fieldErr(t, err, "impact", "invalid_choice")
	_, err = s.CreateIncident(ctx, data.NewIncident{TitleJA: "x", Impact: "minor", Status: data.Investigating, BodyJA: "x",
		Components: map[int64]string{99999: data.MajorOutage}})
	fieldErr(t, err, "components", "invalid_choice")
	_, err = s.CreateIncident(ctx, data.NewIncident{TitleJA: "x", Impact: "minor", Status: data.Investigating, BodyJA: "x",
		StartedAt: clock.Now().Add(time.Hour)})
	fieldErr(t, err, "started_at", "in_future")
	if _, err := s.PostIncidentUpdate(ctx, 424242, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "x"}); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("update on unknown incident: %v", err)
	}
	all, total, _ := s.RecentIncidents(ctx, 10, 0)
	if total != 1 || len(all) != 1 {
		t.Fatalf("invalid input wrote incidents: %d", total)
	}
}

func TestMaintenanceLifecycle(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	_, cdn, _ := seed(t, s)

	_, err := s.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "x", BodyJA: "x", StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(time.Hour), ComponentIDs: []int64{cdn.ID}})
	fieldErr(t, err, "ends_at", "before_start")
	_, err = s.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "x", BodyJA: "x", StartsAt: t0, EndsAt: t0.Add(time.Hour)})
	fieldErr(t, err, "components", "required")

	m, err := s.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "定期メンテナンス", BodyJA: "作業を行います。",
		StartsAt: t0.Add(24 * time.Hour), EndsAt: t0.Add(26 * time.Hour), ComponentIDs: []int64{cdn.ID, cdn.ID}})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := s.CurrentMaintenances(ctx)
	if len(cur) != 1 || len(cur[0].Components) != 1 || cur[0].Active() {
		t.Fatalf("current: %+v", cur)
	}
	clock.Advance(24 * time.Hour)
	if _, err := s.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.Completed, BodyJA: "完了しました。"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Maintenance(ctx, m.ID)
	if got.Status != data.Completed || got.StartedAt == nil || got.CompletedAt == nil || len(got.Updates) != 3 {
		t.Fatalf("after completion: %+v", got)
	}
	_, err = s.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "x"})
	fieldErr(t, err, "status", "final_status")
	cur, _ = s.CurrentMaintenances(ctx)
	if len(cur) != 0 {
		t.Fatalf("completed maintenance still current: %+v", cur)
	}
}

func TestOperatorsAndSessions(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	admin, err := s.CreateOperator(ctx, data.NewOperator{Email: " Admin@Example.COM ", Role: data.RoleAdmin, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if admin.Email != "admin@example.com" {
		t.Fatalf("email not normalised: %q", admin.Email)
	}
	_, err = s.CreateOperator(ctx, data.NewOperator{Email: "ADMIN@example.com", Role: data.RoleEditor, PasswordHash: "h"})
	fieldErr(t, err, "email", "email_taken")
	_, err = s.CreateOperator(ctx, data.NewOperator{Email: "a@b.c\r\nBcc: x@y.z", Role: data.RoleEditor, PasswordHash: "h"})
	fieldErr(t, err, "email", "bad_email")

	fieldErr(t, s.SetOperatorRole(ctx, admin.ID, data.RoleEditor), "operator", "last_admin")
	fieldErr(t, s.SetOperatorDisabled(ctx, admin.ID, true), "operator", "last_admin")

	ed, err := s.CreateOperator(ctx, data.NewOperator{Email: "ed@example.com", Role: data.RoleEditor, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, "sess-1", ed.ID, 24*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if _, op, err := s.SessionOperator(ctx, "sess-1", time.Hour); err != nil || op.ID != ed.ID {
		t.Fatalf("session: %v %v", op, err)
	}
	clock.Advance(2 * time.Hour)
	if _, _, err := s.SessionOperator(ctx, "sess-1", time.Hour); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("idle session still valid: %v", err)
	}
	if err := s.CreateSession(ctx, "sess-2", ed.ID, 24*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOperatorDisabled(ctx, ed.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionOperator(ctx, "sess-2", time.Hour); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("disabled operator's session still valid: %v", err)
	}
}
