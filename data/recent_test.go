package data_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// TestRecentIncidentsPagesOpenFirst: open incidents come first, newest
// first, then resolved ones; pages cut anywhere through both.
func TestRecentIncidentsPagesOpenFirst(t *testing.T) {
	ctx := context.Background()
	clock := datatest.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	store := datatest.Open(t, clock)
	p, _ := store.CreateProduct(ctx, data.ProductInput{NameJA: "製品"})
	c, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "API"})
	var open, resolved []string
	for i := range 8 {
		clock.Advance(time.Hour)
		title := fmt.Sprintf("障害%d", i)
		inc, err := store.CreateIncident(ctx, data.NewIncident{TitleJA: title, Impact: "minor", Status: data.Investigating,
			BodyJA: "調査中", Components: map[int64]string{c.ID: data.PartialOutage}})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			open = append([]string{title}, open...)
			continue
		}
		if _, err := store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧"}); err != nil {
			t.Fatal(err)
		}
		resolved = append([]string{title}, resolved...)
	}
	want := append(open, resolved...)
	for _, limit := range []int{1, 2, 3, 8, 20} {
		var got []string
		for offset := 0; offset < 10; offset += limit {
			incs, total, err := store.RecentIncidents(ctx, limit, offset)
			if err != nil || total != 8 || len(incs) > limit {
				t.Fatalf("limit %d offset %d: %d incidents of %d, %v", limit, offset, len(incs), total, err)
			}
			for _, inc := range incs {
				got = append(got, inc.TitleJA)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}
}
