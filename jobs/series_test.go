package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestSeriesJobMakesOccurrencesAhead: the series job is registered, makes
// the occurrences that come within the horizon as the clock moves on, in
// the configured zone, never twice; the maintenance job then runs each
// occurrence's own lifecycle (reminder, start, end) with its notices.
func TestSeriesJobMakesOccurrencesAhead(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	tasks := &Tasks{Store: f.store, Retention: 13, Now: f.clock.Now, Location: tokyo}
	var job *Job
	for _, j := range tasks.Jobs() {
		if j.Name == JobSeries {
			job = &j
		}
	}
	if job == nil {
		t.Fatal("the series job is not registered")
	}
	first := f.clock.Now().In(tokyo).AddDate(0, 0, 1)
	first = time.Date(first.Year(), first.Month(), first.Day(), 1, 0, 0, 0, tokyo)
	ser, err := f.store.CreateSeries(ctx, data.SeriesInput{Freq: data.SeriesWeekly, Interval: 1, Weekdays: []string{data.SeriesWeekdays[(int(first.Weekday())+6)%7]},
		FirstStartsAt: first, Duration: time.Hour, Count: 20, TitleJA: "毎週の作業", BodyJA: "作業します。", ComponentIDs: []int64{f.comp},
		Notify: true, ReminderLead: 2 * time.Hour, Location: tokyo}, true)
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		ms, err := f.store.SeriesOccurrences(ctx, ser.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	if n := count(); n != 13 {
		t.Fatalf("%d occurrences at creation, want 13 (90 days of weeks)", n)
	}
	if out, err := job.Run(ctx); err != nil || out != "" {
		t.Fatalf("nothing new to make: %q %v", out, err)
	}
	f.clock.Advance(14 * 24 * time.Hour)
	out, err := job.Run(ctx)
	if err != nil || out == "" {
		t.Fatalf("two weeks on: %q %v", out, err)
	}
	if n := count(); n != 15 {
		t.Errorf("%d occurrences two weeks on, want 15", n)
	}
	f.clock.Advance(10 * 7 * 24 * time.Hour)
	job.Run(ctx)
	if n := count(); n != 20 {
		t.Errorf("%d occurrences in all, want the rule's 20", n)
	}
	// A year on, nothing more: the rule is spent, and no past occurrence is
	// ever made a window.
	f.clock.Advance(365 * 24 * time.Hour)
	if out, _ := job.Run(ctx); out != "" || count() != 20 {
		t.Errorf("a spent series made more: %q", out)
	}
	ms, _ := f.store.SeriesOccurrences(ctx, ser.ID)
	for _, m := range ms {
		if l := m.StartsAt.In(tokyo); l.Hour() != 1 || l.Weekday() != first.Weekday() {
			t.Errorf("occurrence at %s", l)
		}
	}
	// The maintenance job runs the occurrences like any window.
	var maint *Job
	for _, j := range tasks.Jobs() {
		if j.Name == JobMaintenance {
			maint = &j
		}
	}
	if _, err := maint.Run(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := f.store.Maintenance(ctx, ms[0].ID)
	if m.Status != data.Completed {
		t.Errorf("a past occurrence is %s", m.Status)
	}
}
