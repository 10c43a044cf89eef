package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/oshirase/oshirase/data"
)

// Job is one piece of scheduled work.
type Job struct {
	Name string
	// Spec is a standard five-field cron spec, read in the scheduler's zone.
	Spec string
	// Shared jobs run on every instance at once; the dispatcher is one, as
	// its deliveries are claimed row by row. Other jobs run on one instance
	// per scheduled time, under a lease.
	Shared bool
	// Run does the work and says what it did, in a line for the console.
	Run func(ctx context.Context) (string, error)
}

// SchedulerOptions configures a Scheduler.
type SchedulerOptions struct {
	Location *time.Location
	Now      func() time.Time
	// Lease is how long a run holds its job before another instance may
	// take over; it is renewed while the run goes on (default 2 minutes).
	Lease time.Duration
	// Instance names this process in leases and run records.
	Instance string
}

// Scheduler runs jobs on robfig/cron in the configured zone. Every run is
// recorded; a panic is recovered and recorded as a failure; a run still
// going is not started again; and with several instances on one database
// each scheduled time runs on exactly one of them.
type Scheduler struct {
	store     *data.Store
	jobs      map[string]*jobState
	order     []string
	opts      SchedulerOptions
	log       *slog.Logger
	cron      *cron.Cron
	schedules map[string]cron.Schedule
	wg        sync.WaitGroup
}

type jobState struct {
	Job
	running atomic.Bool
	// again asks a shared job to run once more when the current run ends,
	// so a wake-up during a run is not lost.
	again atomic.Bool
}

// NewScheduler checks every job's spec.
func NewScheduler(store *data.Store, jobs []Job, opts SchedulerOptions, log *slog.Logger) (*Scheduler, error) {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Lease == 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.Instance == "" {
		host, _ := os.Hostname()
		opts.Instance = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	s := &Scheduler{store: store, jobs: map[string]*jobState{}, opts: opts, log: log, schedules: map[string]cron.Schedule{},
		cron: cron.New(cron.WithLocation(opts.Location))}
	for _, j := range jobs {
		sched, err := cron.ParseStandard(j.Spec)
		if err != nil {
			return nil, fmt.Errorf("jobs: %s: bad spec %q: %w", j.Name, j.Spec, err)
		}
		s.jobs[j.Name] = &jobState{Job: j}
		s.order = append(s.order, j.Name)
		s.schedules[j.Name] = sched
	}
	return s, nil
}

// Names lists the jobs in order.
func (s *Scheduler) Names() []string { return append([]string(nil), s.order...) }

// Start runs the jobs on their schedules until Stop. A minute tick also
// runs any job whose latest scheduled time is not done: one that came while
// the server was down, or whose holder died mid-run.
func (s *Scheduler) Start(ctx context.Context) {
	for _, name := range s.order {
		name := name
		s.cron.Schedule(s.schedules[name], cron.FuncJob(func() { s.runDue(ctx, name) }))
	}
	s.cron.AddFunc("* * * * *", func() { s.RunDue(ctx) })
	s.cron.Start()
	go s.RunDue(ctx)
}

// Stop stops scheduling and waits for running jobs to finish.
func (s *Scheduler) Stop() {
	<-s.cron.Stop().Done()
	s.wg.Wait()
}

// Trigger runs a shared job now (the dispatcher, when a notice is queued),
// or once more right after its current run.
func (s *Scheduler) Trigger(ctx context.Context, name string) {
	j, ok := s.jobs[name]
	if !ok {
		return
	}
	j.again.Store(true)
	go s.run(ctx, j, s.latestSlot(name), false)
}

// NextRuns says when each job runs next.
func (s *Scheduler) NextRuns() map[string]time.Time {
	m := map[string]time.Time{}
	now := s.opts.Now().In(s.opts.Location)
	for name, sched := range s.schedules {
		m[name] = sched.Next(now)
	}
	return m
}

// Spec returns a job's cron spec.
func (s *Scheduler) Spec(name string) string { return s.jobs[name].Spec }

// RunDue runs every job whose latest scheduled time is not done yet, and
// waits for them. Tests drive the scheduler through it with their clock.
func (s *Scheduler) RunDue(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range s.order {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			s.runDue(ctx, name)
		}(name)
	}
	wg.Wait()
}

func (s *Scheduler) runDue(ctx context.Context, name string) {
	s.run(ctx, s.jobs[name], s.latestSlot(name), false)
}

// RunNow runs one job at once, for "oshirase jobs run NAME": it still
// takes the lease, so it never runs beside the same job elsewhere.
func (s *Scheduler) RunNow(ctx context.Context, name string) (*data.JobRun, error) {
	j, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("jobs: no job %q (there are: %s)", name, strings.Join(s.order, ", "))
	}
	run := s.run(ctx, j, s.opts.Now().UTC(), true)
	if run == nil {
		return nil, fmt.Errorf("jobs: %s is running elsewhere; try again when it ends", name)
	}
	return run, nil
}

// latestSlot is the latest time ≤ now at which the job was due.
func (s *Scheduler) latestSlot(name string) time.Time {
	now := s.opts.Now().In(s.opts.Location)
	sched := s.schedules[name]
	// Every job here runs at least daily; look back a little over a day.
	t := sched.Next(now.Add(-26 * time.Hour))
	last := t
	for !t.After(now) {
		last = t
		t = sched.Next(t)
	}
	return last.UTC()
}

// run runs one slot of a job and returns its record, or nil when the slot
// was not this instance's to run.
func (s *Scheduler) run(ctx context.Context, j *jobState, slot time.Time, manual bool) *data.JobRun {
	if slot.After(s.opts.Now()) {
		return nil // nothing due yet
	}
	if !j.running.CompareAndSwap(false, true) {
		return nil
	}
	s.wg.Add(1)
	defer s.wg.Done()
	defer j.running.Store(false)
	for {
		j.again.Store(false)
		run := s.runOnce(ctx, j, slot, manual)
		if !j.Shared || !j.again.Load() || ctx.Err() != nil {
			return run
		}
	}
}

func (s *Scheduler) runOnce(ctx context.Context, j *jobState, slot time.Time, manual bool) (rec *data.JobRun) {
	// Bookkeeping must outlive a shutdown that cancels ctx mid-run.
	book := context.WithoutCancel(ctx)
	if !j.Shared {
		ok, err := s.store.AcquireJob(book, j.Name, s.opts.Instance, slot, s.opts.Lease)
		if err != nil {
			s.log.Error("could not take a job lease", "job", j.Name, "err", err)
			return nil
		}
		if !ok {
			return nil
		}
	}
	if j.Shared {
		return s.runShared(ctx, j, slot)
	}
	runCtx, stopRenew := context.WithCancel(ctx)
	defer stopRenew()
	go s.renew(runCtx, j.Name)
	run, err := s.store.StartRun(book, j.Name, s.opts.Instance, &slot)
	if err != nil {
		s.log.Error("could not record a job run", "job", j.Name, "err", err)
		return nil
	}
	summary, runErr := s.call(runCtx, j)
	outcome, errText := data.RunOK, ""
	if runErr != nil {
		outcome, errText = data.RunFailed, runErr.Error()
		s.log.Error("job failed", "job", j.Name, "err", runErr)
	}
	if err := s.store.FinishRun(book, run.ID, outcome, summary, errText); err != nil {
		s.log.Error("could not record a job's end", "job", j.Name, "err", err)
	}
	if err := s.store.FinishJob(book, j.Name, s.opts.Instance, slot); err != nil {
		s.log.Error("could not release a job lease", "job", j.Name, "err", err)
	}
	run.Outcome, run.Summary, run.Error = outcome, summary, errText
	return run
}

// runShared runs a job that every instance runs (the dispatcher). It runs
// every minute and on every wake-up, so only runs that did something or
// failed are recorded.
func (s *Scheduler) runShared(ctx context.Context, j *jobState, slot time.Time) *data.JobRun {
	started := s.opts.Now()
	summary, err := s.call(ctx, j)
	run := &data.JobRun{Job: j.Name, Instance: s.opts.Instance, Slot: &slot, StartedAt: started, Outcome: data.RunOK, Summary: summary}
	if err != nil {
		run.Outcome, run.Error = data.RunFailed, err.Error()
		s.log.Error("job failed", "job", j.Name, "err", err)
	}
	if summary == "" && err == nil {
		return run
	}
	if err := s.store.RecordRun(context.WithoutCancel(ctx), run); err != nil {
		s.log.Error("could not record a job run", "job", j.Name, "err", err)
	}
	return run
}

// call runs the job's function and turns a panic into an error, so one bad
// run never takes the server down (robfig/cron does not recover by itself).
func (s *Scheduler) call(ctx context.Context, j *jobState) (summary string, err error) {
	defer func() {
		if r := recover(); r != nil {
			stack := string(debug.Stack())
			s.log.Error("job panicked", "job", j.Name, "panic", r, "stack", stack)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return j.Run(ctx)
}

func (s *Scheduler) renew(ctx context.Context, job string) {
	t := time.NewTicker(s.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ok, err := s.store.RenewJob(context.WithoutCancel(ctx), job, s.opts.Instance, s.opts.Lease); err != nil || !ok {
				s.log.Warn("job lease could not be renewed", "job", job, "err", err)
			}
		}
	}
}

// Status is what the console shows for a job.
type Status struct {
	Name     string
	Spec     string
	Next     time.Time
	Runs     []data.JobRun
	Failures int
}

// Statuses gathers each job's recent runs and next run.
func (s *Scheduler) Statuses(ctx context.Context, runs int) ([]Status, error) {
	next := s.NextRuns()
	var out []Status
	for _, name := range s.order {
		rs, err := s.store.JobRuns(ctx, name, runs)
		if err != nil {
			return nil, err
		}
		st := Status{Name: name, Spec: s.jobs[name].Spec, Next: next[name], Runs: rs}
		for _, r := range rs {
			if r.Outcome == data.RunFailed {
				st.Failures++
			}
		}
		out = append(out, st)
	}
	return out, nil
}
