package jobs

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
)

// Job names, for the console and "oshirase jobs run NAME".
const (
	JobDispatch       = "dispatch"
	JobUpgradeNotices = "upgrade-notices"
	JobMaintenance    = "maintenance"
	JobRetention      = "retention"
	JobSLAReports     = "sla-reports"
)

// Tasks holds what the jobs need.
type Tasks struct {
	Store *data.Store
	// Dispatcher is nil when no SMTP server is configured: notices are
	// then held, and nothing is sent.
	Dispatcher *Dispatcher
	// Retention is how many months access-log entries are kept.
	Retention int
	// Location is where days begin, for the usage counters (default UTC).
	Location *time.Location
	Now      func() time.Time
	// Wake starts the dispatcher after notices are queued; nil is fine.
	Wake func()

	// The dispatcher's own alarm: a retry or a dead instance's claims come
	// due between minute ticks, and are not left waiting for the next one.
	alarmMu sync.Mutex
	alarmAt time.Time
	// after schedules fn in d; tests replace it (default time.AfterFunc).
	after func(d time.Duration, fn func())
}

func (t *Tasks) wake() {
	if t.Wake != nil && t.Dispatcher != nil {
		t.Wake()
	}
}

// Jobs lists Oshirase's scheduled jobs.
func (t *Tasks) Jobs() []Job {
	jobs := []Job{
		{Name: JobUpgradeNotices, Spec: "* * * * *", Run: t.upgradeNotices},
		{Name: JobMaintenance, Spec: "* * * * *", Run: t.maintenance},
		// Recurring maintenance: the coming occurrences made windows.
		{Name: JobSeries, Spec: "7 * * * *", Run: t.series},
		{Name: JobRetention, Spec: "30 3 * * *", Run: t.retention},
		// The month just ended, on the 1st at 9:00: each contract that asks
		// for it mails its primary contacts the report, once.
		{Name: JobSLAReports, Spec: "0 9 1 * *", Run: t.slaReports},
	}
	if t.Dispatcher != nil {
		jobs = append([]Job{{Name: JobDispatch, Spec: "* * * * *", Shared: true, Run: t.dispatch}}, jobs...)
	}
	return jobs
}

func (t *Tasks) notice() data.Notice { return data.Notice{Send: true, Hold: t.Dispatcher == nil} }

func (t *Tasks) dispatch(ctx context.Context) (string, error) {
	st, err := t.Dispatcher.Sweep(ctx)
	if err != nil {
		return "", err
	}
	t.setAlarm(ctx)
	if st.Sent+st.Retried+st.Failed+st.Bounced == 0 {
		return "", nil
	}
	return Summary("job.summary.dispatch", "Sent", st.Sent, "Retried", st.Retried, "Failed", st.Failed, "Bounced", st.Bounced), nil
}

// setAlarm wakes the dispatcher when its next work is due: the earliest
// retry, a claim that runs out, or the end of a relay pause.
func (t *Tasks) setAlarm(ctx context.Context) {
	if t.Wake == nil && t.after == nil {
		return
	}
	next, err := t.Store.NextDue(ctx)
	if err != nil || next.IsZero() {
		return
	}
	if p := t.Dispatcher.PausedUntil(); p.After(next) {
		next = p
	}
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	wait := next.Sub(now)
	if wait < time.Second {
		// Due already: the sweep just ended, so it is held elsewhere or
		// the relay is paused; look again shortly rather than spin.
		wait = time.Second
	}
	t.alarmMu.Lock()
	defer t.alarmMu.Unlock()
	if !t.alarmAt.IsZero() && t.alarmAt.After(now) && !t.alarmAt.After(now.Add(wait)) {
		return // an alarm at or before this one is set
	}
	t.alarmAt = now.Add(wait)
	after := t.after
	if after == nil {
		after = func(d time.Duration, fn func()) { time.AfterFunc(d, fn) }
	}
	after(wait, func() {
		t.alarmMu.Lock()
		t.alarmAt = time.Time{}
		t.alarmMu.Unlock()
		t.wake()
	})
}

// upgradeNotices sends each advance notice of an upgrade at its lead time,
// once. A notice whose time passed while the server was down still goes,
// if the upgrade has not started; when several came due together only the
// one nearest the start goes, so nobody gets the same notice twice in a
// row. After the start a notice is never sent: it is marked missed.
func (t *Tasks) upgradeNotices(ctx context.Context) (string, error) {
	due, err := t.Store.DueUpgradeNotices(ctx)
	if err != nil {
		return "", err
	}
	byUpgrade := map[int64][]data.UpgradeNotice{}
	for _, n := range due {
		byUpgrade[n.UpgradeID] = append(byUpgrade[n.UpgradeID], n)
	}
	var sent, missed, skipped int
	for _, ns := range byUpgrade {
		// The notice nearest the start is the one with the shortest lead.
		best := ns[0]
		for _, n := range ns[1:] {
			if n.LeadSeconds < best.LeadSeconds {
				best = n
			}
		}
		state, err := t.Store.SendUpgradeNotice(ctx, best.ID, t.notice().Hold)
		if err != nil {
			return "", err
		}
		var others []int64
		for _, n := range ns {
			if n.ID != best.ID {
				others = append(others, n.ID)
			}
		}
		other := data.NoticeSkipped
		switch state {
		case data.NoticeSent:
			sent++
		case data.NoticeMissed:
			missed++
			other = data.NoticeMissed
		}
		if err := t.Store.SetUpgradeNoticeState(ctx, others, other); err != nil {
			return "", err
		}
		if other == data.NoticeMissed {
			missed += len(others)
		} else {
			skipped += len(others)
		}
	}
	if sent > 0 {
		t.wake()
	}
	if sent+missed+skipped == 0 {
		return "", nil
	}
	return Summary("job.summary.upgrade-notices", "Sent", sent, "Missed", missed, "Skipped", skipped), nil
}

// maintenance sends reminders, opens windows whose start has come and
// closes those whose end has come.
func (t *Tasks) maintenance(ctx context.Context) (string, error) {
	start, end, remind, err := t.Store.DueMaintenance(ctx)
	if err != nil {
		return "", err
	}
	var reminded, started, completed int
	for _, m := range remind {
		ok, err := t.Store.SendMaintenanceReminder(ctx, m.ID, t.notice().Hold)
		if err != nil {
			return "", err
		}
		if ok {
			reminded++
		}
	}
	for _, m := range append(start, end...) {
		moved, err := t.Store.AutoAdvanceMaintenance(ctx, m.ID, t.notice())
		if err != nil {
			return "", err
		}
		switch moved {
		case data.InProgress:
			started++
		case data.Completed:
			completed++
		}
	}
	if reminded+started+completed > 0 {
		t.wake()
	}
	if reminded+started+completed == 0 {
		return "", nil
	}
	return Summary("job.summary.maintenance", "Reminded", reminded, "Started", started, "Completed", completed), nil
}

// retention deletes access-log entries older than the retention period,
// job-run records as old, subscription requests never confirmed within
// their window, and API idempotency keys after 48 hours.
func (t *Tasks) retention(ctx context.Context) (string, error) {
	cutoff := RetentionCutoff(t.Now(), t.Retention)
	n, err := t.Store.PruneUsage(ctx, accesslog.KeepFrom(t.Now(), t.Retention, cmp.Or(t.Location, time.UTC)))
	if err != nil {
		return "", err
	}
	runs, err := t.Store.PruneRuns(ctx, cutoff)
	if err != nil {
		return "", err
	}
	subs, err := t.Store.PruneUnconfirmedSubscribers(ctx, t.Now().Add(-data.ConfirmWindow))
	if err != nil {
		return "", err
	}
	// Raw check results serve the 30-day chart; per-day counts last as
	// long as everything else.
	if _, err := t.Store.PruneMonitorResults(ctx, int(t.Now().Sub(cutoff).Hours()/24)+1, cmp.Or(t.Location, time.UTC)); err != nil {
		return "", err
	}
	// API answers are promised for 24 hours; kept for 48.
	if _, err := t.Store.PruneIdempotencyKeys(ctx, t.Now().Add(-48*time.Hour)); err != nil {
		return "", err
	}
	return Summary("job.summary.cleanup", "Entries", n, "Runs", runs, "Months", t.Retention, "Unconfirmed", subs), nil
}

// Summary writes what a run did as a message id and its counts, such as
// "job.summary.cleanup Entries=3 Runs=0 Months=13 Unconfirmed=1", so the console can
// say it in the operator's language.
func Summary(id string, kv ...any) string {
	s := id
	for i := 0; i+1 < len(kv); i += 2 {
		s += fmt.Sprintf(" %v=%v", kv[i], kv[i+1])
	}
	return s
}

// RetentionCutoff is the oldest moment kept: months calendar months ago.
func RetentionCutoff(now time.Time, months int) time.Time {
	return now.AddDate(0, -months, 0)
}

// slaReports queues last month's availability report of every contract
// that asked for it (Contract.SLAReportMail). Run twice, it writes nothing
// the second time.
func (t *Tasks) slaReports(ctx context.Context) (string, error) {
	loc := cmp.Or(t.Location, time.UTC)
	now := t.Now().In(loc)
	to := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	n, err := t.Store.QueueSLAReports(ctx, to.AddDate(0, -1, 0), to, t.Dispatcher == nil)
	if err != nil {
		return "", err
	}
	if n > 0 {
		t.wake()
	}
	return Summary("job.summary.sla-reports", "Count", n), nil
}
