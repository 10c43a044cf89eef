package jobs

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestMaintenanceSuppressesMonitorDrafts: while a maintenance window that
// covers the component is in progress, failing checks prepare no draft,
// publish no incident and alert nobody, and are not counted in the day's
// results; once the window closes, a failure past the threshold is acted
// on as usual. A window over another component changes nothing.
func TestMaintenanceSuppressesMonitorDrafts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		autoPublish bool
		covered     bool
	}{
		{"draft, covered", false, true},
		{"auto-publish, covered", true, true},
		{"draft, another component", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newMonitorRig(t, 1, "a")
			ctx := context.Background()
			var failing atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if failing.Load() {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				io.WriteString(w, "all ok")
			}))
			defer srv.Close()
			if err := r.store.SetAutomation(ctx, r.comp, data.Automation{AutoPublish: tc.autoPublish, AutoImpact: "major"}); err != nil {
				t.Fatal(err)
			}
			covers := r.comp
			if !tc.covered {
				ps, _ := r.store.Products(ctx)
				other, err := r.store.CreateComponent(ctx, data.ComponentInput{ProductID: ps[0].ID, NameJA: "API"})
				if err != nil {
					t.Fatal(err)
				}
				covers = other.ID
			}
			m := r.monitor(httpMonitor(srv.URL))
			r.step(0)
			r.step(30 * time.Second)
			start := r.clock.Now().Add(time.Minute)
			mt, err := r.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "切り替え", StartsAt: start, EndsAt: start.Add(10 * time.Minute),
				BodyJA: "切り替えます。", ComponentIDs: []int64{covers}})
			if err != nil {
				t.Fatal(err)
			}
			r.clock.Set(start)
			if moved, err := r.store.AutoAdvanceMaintenance(ctx, mt.ID, data.Notice{}); err != nil || moved != data.InProgress {
				t.Fatalf("maintenance start: %q %v", moved, err)
			}
			failing.Store(true)
			for i := 0; i < 5; i++ {
				r.step(30 * time.Second)
			}
			drafts, _ := r.store.WaitingDrafts(ctx)
			open, _ := r.store.OpenIncidents(ctx)
			acted := drafts > 0 || len(open) > 0
			if acted == tc.covered {
				t.Fatalf("during maintenance: %d drafts, %d open incidents", drafts, len(open))
			}
			if tc.covered {
				if k := r.kinds(); len(k) != 0 {
					t.Fatalf("notifications during maintenance: %v", k)
				}
				if c := r.component(); c.AutoStatus != data.Operational && c.AutoStatus != "" {
					t.Fatalf("automatic status during maintenance: %s", c.AutoStatus)
				}
				days, _ := r.store.MonitorDays(ctx, []int64{m.ID}, t0.AddDate(0, 0, -1), time.UTC)
				if len(days) != 1 || days[0].Checks != 2 || days[0].Failures != 0 {
					t.Fatalf("checks during maintenance counted: %+v", days)
				}
			}
			if !tc.covered {
				return
			}

			// The window closes; the service is still down.
			r.clock.Set(start.Add(10 * time.Minute))
			if moved, err := r.store.AutoAdvanceMaintenance(ctx, mt.ID, data.Notice{}); err != nil || moved != data.Completed {
				t.Fatalf("maintenance end: %q %v", moved, err)
			}
			for i := 0; i < 3; i++ {
				r.step(30 * time.Second)
			}
			drafts, _ = r.store.WaitingDrafts(ctx)
			open, _ = r.store.OpenIncidents(ctx)
			if tc.autoPublish && len(open) != 1 || !tc.autoPublish && drafts != 1 {
				t.Fatalf("after maintenance: %d drafts, %d open incidents", drafts, len(open))
			}
			if k := r.kinds(); k[data.MonitorAlertDown] != 1 {
				t.Fatalf("operators not alerted after maintenance: %v", k)
			}
		})
	}
}
