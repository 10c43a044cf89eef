package data

import (
	"context"
	"testing"
	"time"
)

// TestUpgradeInPlace builds a database at schema version 1 with rows in it,
// as an older build would have left it, then upgrades it.
func TestUpgradeInPlace(t *testing.T) {
	s, err := Open("sqlite:"+t.TempDir()+"/old.db", Options{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.migrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// A row as the old build wrote it (today's model has columns v1 lacks).
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.db.Exec("INSERT INTO products (name_ja, created_at, updated_at) VALUES (?, ?, ?)", "既存の製品", now, now).Error; err != nil {
		t.Fatal(err)
	}
	p := Product{ID: 1}
	if v, _ := s.AppliedVersion(ctx); v != 1 {
		t.Fatalf("version %d", v)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.AppliedVersion(ctx); v != SchemaVersion() || v < 2 {
		t.Fatalf("after upgrade: version %d", v)
	}
	if got, err := s.Product(ctx, p.ID); err != nil || got.NameJA != "既存の製品" {
		t.Fatalf("row lost in the upgrade: %v %v", got, err)
	}
	pol, err := s.Policy(ctx)
	if err != nil || len(pol) != len(PolicyRows) || !pol[0].NotifyAdditional || pol[2].NotifyAdditional || pol[3].NotifyPrimary {
		t.Fatalf("default policy %+v %v", pol, err)
	}
}
