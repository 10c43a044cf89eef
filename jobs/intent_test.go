package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestAutomaticStepsFollowTheOperatorsChoice: the scheduler's reminder,
// start and end of a window email only when the operator chose to notify
// for the window, and only for a moment that was still ahead when the
// window was saved.
func TestAutomaticStepsFollowTheOperatorsChoice(t *testing.T) {
	f, s, _ := taskFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	window := func(title string, start, end time.Duration, send bool) int64 {
		m, err := f.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: title, BodyJA: "実施します。",
			StartsAt: now.Add(start), EndsAt: now.Add(end), ComponentIDs: []int64{f.comp}, Notice: data.Notice{Send: send, Hold: true}})
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	quiet := window("通知なし", 30*time.Hour, 32*time.Hour, false)
	past := window("過去に入力した作業", -3*time.Hour, -time.Hour, true)
	running := window("開始後に入力した作業", -time.Hour, 3*time.Hour, true)
	soon := window("リマインダーの時刻を過ぎて入力", 2*time.Hour, 4*time.Hour, true)
	told := window("通知あり", 30*time.Hour, 32*time.Hour, true)

	for i := 0; i < 40; i++ {
		f.clock.Advance(time.Hour)
		s.RunDue(ctx)
	}
	kinds := map[int64][]string{}
	ns, _, _, _ := f.store.Notifications(ctx, 1000, 0)
	for _, n := range ns {
		if n.MaintenanceID != nil {
			kinds[*n.MaintenanceID] = append([]string{n.Kind}, kinds[*n.MaintenanceID]...)
		}
	}
	for _, id := range []int64{quiet, past, running, soon, told} {
		if m, _ := f.store.Maintenance(ctx, id); m.Status != data.Completed {
			t.Errorf("window %d (%s) is %s, want completed", id, m.TitleJA, m.Status)
		}
	}
	want := map[int64][]string{
		quiet:   nil,
		past:    {data.MaintenanceScheduled},
		running: {data.MaintenanceScheduled, data.MaintenanceCompleted},
		soon:    {data.MaintenanceScheduled, data.MaintenanceStarted, data.MaintenanceCompleted},
		told:    {data.MaintenanceScheduled, data.MaintenanceReminder, data.MaintenanceStarted, data.MaintenanceCompleted},
	}
	for id, w := range want {
		if len(kinds[id]) != len(w) {
			t.Errorf("window %d: notices %v, want %v", id, kinds[id], w)
			continue
		}
		for i := range w {
			if kinds[id][i] != w[i] {
				t.Errorf("window %d: notices %v, want %v", id, kinds[id], w)
			}
		}
	}
}
