package jobs

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newScheduler(t *testing.T, f *fixture, instance string, jobs []Job) *Scheduler {
	t.Helper()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	s, err := NewScheduler(f.store, jobs, SchedulerOptions{Location: tokyo, Now: f.clock.Now, Instance: instance, Lease: 2 * time.Minute}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func counter(name, spec string, n *atomic.Int64) Job {
	return Job{Name: name, Spec: spec, Run: func(context.Context) (string, error) {
		n.Add(1)
		return "counted", nil
	}}
}

// TestEachDueRunExecutesOnce runs two schedulers on one database (SQLite
// file or PostgreSQL): each scheduled time runs once between them.
func TestEachDueRunExecutesOnce(t *testing.T) {
	f := newFixture(t, 0)
	var n atomic.Int64
	a := newScheduler(t, f, "a", []Job{counter("count", "* * * * *", &n)})
	b := newScheduler(t, f, "b", []Job{counter("count", "* * * * *", &n)})
	ctx := context.Background()
	for minute := 1; minute <= 5; minute++ {
		var wg sync.WaitGroup
		for _, s := range []*Scheduler{a, b, a, b} {
			wg.Add(1)
			go func(s *Scheduler) { defer wg.Done(); s.RunDue(ctx) }(s)
		}
		wg.Wait()
		if got := n.Load(); got != int64(minute) {
			t.Fatalf("after minute %d: %d runs", minute, got)
		}
		f.clock.Advance(time.Minute)
	}
	runs, _ := f.store.JobRuns(ctx, "count", 100)
	if len(runs) != 5 || runs[0].Outcome != data.RunOK || runs[0].Summary != "counted" || runs[0].FinishedAt == nil {
		t.Fatalf("runs %+v", runs)
	}
}

// TestDeadHolderIsTakenOver: an instance that stops mid-run keeps its
// lease until it expires; then another runs the same scheduled time.
func TestDeadHolderIsTakenOver(t *testing.T) {
	f := newFixture(t, 0)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	f.clock.Set(time.Date(2026, 11, 26, 3, 40, 0, 0, tokyo))
	var n atomic.Int64
	s := newScheduler(t, f, "alive", []Job{counter("daily", "30 3 * * *", &n)})
	slot := time.Date(2026, 11, 26, 3, 30, 0, 0, tokyo)
	ctx := context.Background()
	if ok, err := f.store.AcquireJob(ctx, "daily", "dead", slot, 2*time.Minute); !ok || err != nil {
		t.Fatalf("dead instance's lease: %v %v", ok, err)
	}
	s.RunDue(ctx)
	if n.Load() != 0 {
		t.Fatal("ran beside a live lease")
	}
	f.clock.Advance(3 * time.Minute)
	s.RunDue(ctx)
	if n.Load() != 1 {
		t.Fatalf("not taken over after the lease expired: %d", n.Load())
	}
	runs, _ := f.store.JobRuns(ctx, "daily", 10)
	if len(runs) != 1 || !runs[0].Slot.Equal(slot) || runs[0].Instance != "alive" {
		t.Fatalf("runs %+v", runs)
	}
	// Done: the same slot never runs again, on any instance.
	s.RunDue(ctx)
	newScheduler(t, f, "other", []Job{counter("daily", "30 3 * * *", &n)}).RunDue(ctx)
	if n.Load() != 1 {
		t.Fatalf("a done slot ran again: %d", n.Load())
	}
}

// TestPanicIsRecordedAndSchedulingGoesOn.
func TestPanicIsRecordedAndSchedulingGoesOn(t *testing.T) {
	f := newFixture(t, 0)
	var n atomic.Int64
	s := newScheduler(t, f, "a", []Job{
		{Name: "bad", Spec: "* * * * *", Run: func(context.Context) (string, error) { panic("boom") }},
		counter("good", "* * * * *", &n),
	})
	ctx := context.Background()
	s.RunDue(ctx)
	f.clock.Advance(time.Minute)
	s.RunDue(ctx)
	if n.Load() != 2 {
		t.Fatalf("good job ran %d times", n.Load())
	}
	runs, _ := f.store.JobRuns(ctx, "bad", 10)
	if len(runs) != 2 || runs[0].Outcome != data.RunFailed || !strings.Contains(runs[0].Error, "panic: boom") {
		t.Fatalf("runs %+v", runs)
	}
	st, _ := s.Statuses(ctx, 10)
	if st[0].Name != "bad" || st[0].Failures != 2 || st[0].Next.IsZero() {
		t.Fatalf("statuses %+v", st)
	}
}

// TestRunStillGoingIsNotStartedTwice.
func TestRunStillGoingIsNotStartedTwice(t *testing.T) {
	f := newFixture(t, 0)
	release := make(chan struct{})
	var n atomic.Int64
	s := newScheduler(t, f, "a", []Job{{Name: "slow", Spec: "* * * * *", Run: func(context.Context) (string, error) {
		n.Add(1)
		<-release
		return "", nil
	}}})
	ctx := context.Background()
	done := make(chan struct{})
	go func() { s.RunDue(ctx); close(done) }()
	for n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.clock.Advance(time.Minute) // the next slot comes while the run goes on
	s.RunDue(ctx)
	if n.Load() != 1 {
		t.Fatalf("started twice: %d", n.Load())
	}
	close(release)
	<-done
}

func TestRunNow(t *testing.T) {
	f := newFixture(t, 0)
	var n atomic.Int64
	s := newScheduler(t, f, "a", []Job{counter("count", "30 3 * * *", &n)})
	run, err := s.RunNow(context.Background(), "count")
	if err != nil || run.Outcome != data.RunOK || n.Load() != 1 {
		t.Fatalf("%+v %v", run, err)
	}
	if _, err := s.RunNow(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "count") {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestZoneAndNextRun(t *testing.T) {
	f := newFixture(t, 0)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	f.clock.Set(time.Date(2026, 11, 26, 3, 31, 0, 0, tokyo))
	var n atomic.Int64
	s := newScheduler(t, f, "a", []Job{counter("daily", "30 3 * * *", &n)})
	s.RunDue(context.Background())
	runs, _ := f.store.JobRuns(context.Background(), "daily", 1)
	if want := time.Date(2026, 11, 26, 3, 30, 0, 0, tokyo); len(runs) != 1 || !runs[0].Slot.Equal(want) {
		t.Fatalf("slot %v, want 03:30 JST", runs[0].Slot)
	}
	if next := s.NextRuns()["daily"]; !next.Equal(time.Date(2026, 11, 27, 3, 30, 0, 0, tokyo)) {
		t.Fatalf("next %v", next)
	}
}
