package demo

import (
	"context"
	"testing"
	"time"
)

// TestDemoSLAReports: the demo's contracts have reports with figures for
// the last whole month (JST), and the one whose service began this month
// reads "not started" for it.
func TestDemoSLAReports(t *testing.T) {
	store, f := seeded(t)
	ctx := context.Background()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	l := t0.In(tokyo)
	this := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, tokyo)
	last := this.AddDate(0, -1, 0)
	counted, incidents := 0, 0
	for _, id := range f.Contracts {
		for _, from := range []time.Time{last, this} {
			r, err := store.SLAReport(ctx, id, from, from.AddDate(0, 1, 0))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Products {
				t.Logf("contract %d %s %s: %s %s %s (down %s min, %d incidents, %d windows)", id, from.Format("2006-01"), p.NameEN,
					p.Verdict, p.AvailabilityText, p.Target, p.DowntimeMinutes, len(p.Incidents), len(p.Maintenance))
				if p.Target != "" && p.Availability != nil {
					counted++
				}
				incidents += len(p.Incidents)
			}
		}
	}
	if counted == 0 || incidents == 0 {
		t.Errorf("the demo's reports say nothing: %d committed products counted, %d incidents", counted, incidents)
	}
	if _, err := store.SLABreaches(ctx, last, this); err != nil {
		t.Fatal(err)
	}
}
