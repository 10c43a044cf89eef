package data

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// JobLease says which instance runs a job and which of its scheduled
// slots are done. One row per job.
type JobLease struct {
	Job         string `gorm:"primaryKey"`
	Holder      string
	LeaseUntil  *time.Time
	RunningSlot *time.Time
	DoneSlot    *time.Time
}

// JobRun records one run of a job.
type JobRun struct {
	ID         int64
	Job        string
	Slot       *time.Time
	Instance   string
	StartedAt  time.Time
	FinishedAt *time.Time
	Outcome    string
	Summary    string
	Error      string
}

// Job run outcomes.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
)

// AcquireJob takes the lease of a job for one scheduled slot, until
// now+ttl. It fails (false) when that slot is already done, or when another
// instance holds a live lease: a run still going is never started twice,
// and a holder that died is taken over once its lease has run out.
func (s *Store) AcquireJob(ctx context.Context, job, holder string, slot time.Time, ttl time.Duration) (bool, error) {
	now := s.now()
	slot = slot.UTC()
	var got bool
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&JobLease{Job: job}).Error; err != nil {
			return err
		}
		res := tx.Model(&JobLease{}).
			Where("job = ? AND (done_slot IS NULL OR done_slot < ?) AND (lease_until IS NULL OR lease_until < ? OR holder = ?)", job, slot, now, holder).
			Updates(map[string]any{"holder": holder, "lease_until": now.Add(ttl), "running_slot": slot})
		got = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("data: acquire job %s: %w", job, err)
	}
	return got, nil
}

// RenewJob extends a held lease; false means it was lost.
func (s *Store) RenewJob(ctx context.Context, job, holder string, ttl time.Duration) (bool, error) {
	res := s.db.WithContext(ctx).Model(&JobLease{}).Where("job = ? AND holder = ?", job, holder).Update("lease_until", s.now().Add(ttl))
	return res.RowsAffected == 1, res.Error
}

// FinishJob marks the slot done and gives the lease up.
func (s *Store) FinishJob(ctx context.Context, job, holder string, slot time.Time) error {
	return s.db.WithContext(ctx).Model(&JobLease{}).Where("job = ? AND holder = ?", job, holder).
		Updates(map[string]any{"lease_until": nil, "done_slot": slot.UTC(), "running_slot": nil}).Error
}

// JobLeases returns every job's lease row.
func (s *Store) JobLeases(ctx context.Context) (map[string]JobLease, error) {
	var rows []JobLease
	if err := s.db.WithContext(ctx).Find(&rows).Error; err != nil {
		return nil, err
	}
	m := map[string]JobLease{}
	for _, r := range rows {
		m[r.Job] = r
	}
	return m, nil
}

// StartRun records the start of a run.
func (s *Store) StartRun(ctx context.Context, job, instance string, slot *time.Time) (*JobRun, error) {
	r := JobRun{Job: job, Instance: instance, Slot: slot, StartedAt: s.now(), Outcome: RunRunning}
	if err := s.db.WithContext(ctx).Create(&r).Error; err != nil {
		return nil, fmt.Errorf("data: start run of %s: %w", job, err)
	}
	return &r, nil
}

// RecordRun stores a finished run in one write.
func (s *Store) RecordRun(ctx context.Context, r *JobRun) error {
	now := s.now()
	r.FinishedAt = &now
	return s.db.WithContext(ctx).Create(r).Error
}

// FinishRun records how a run ended.
func (s *Store) FinishRun(ctx context.Context, id int64, outcome, summary, errText string) error {
	if err := s.db.WithContext(ctx).Model(&JobRun{}).Where("id = ?", id).
		Updates(map[string]any{"finished_at": s.now(), "outcome": outcome, "summary": summary, "error": errText}).Error; err != nil {
		return err
	}
	if outcome != RunFailed {
		return nil
	}
	// A job that starts failing is told to the operators' channels, once
	// (not again while it keeps failing).
	var run JobRun
	if err := s.db.WithContext(ctx).First(&run, id).Error; err != nil {
		return err
	}
	var prev []JobRun
	if err := s.db.WithContext(ctx).Where("job = ? AND id < ? AND finished_at IS NOT NULL", run.Job, id).Order("id DESC").Limit(1).Find(&prev).Error; err != nil {
		return err
	}
	if len(prev) > 0 && prev[0].Outcome == RunFailed {
		return nil
	}
	return s.alertOperatorChannels(s.db.WithContext(ctx), AlertJobFailed, "ジョブ「"+run.Job+"」が失敗しました", "Job "+run.Job+" failed",
		truncate(errText, 500), truncate(errText, 500), "/admin/jobs")
}

// JobRuns returns the newest runs of a job (all jobs when job is empty).
func (s *Store) JobRuns(ctx context.Context, job string, limit int) ([]JobRun, error) {
	q := s.db.WithContext(ctx).Order("started_at DESC, id DESC").Limit(limit)
	if job != "" {
		q = q.Where("job = ?", job)
	}
	var rs []JobRun
	if err := q.Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("data: job runs: %w", err)
	}
	return rs, nil
}

// PruneRuns deletes run records older than before.
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("started_at < ?", before.UTC()).Delete(&JobRun{})
	return res.RowsAffected, res.Error
}

// AccessLogEntry is one row of the access_log table of schema 3 to 8. The
// access log is now kept in daily files (internal/accesslog); these rows
// are read once, to move them there, and the table is then dropped.
type AccessLogEntry struct {
	ID         int64
	At         time.Time
	Method     string
	Route      string
	Path       string
	Status     int
	Bytes      int64
	LatencyUS  int64 `gorm:"column:latency_us"`
	IP         string
	UserAgent  string
	OperatorID *int64
	Visitor    string
}

// TableName names the access log table.
func (AccessLogEntry) TableName() string { return "access_log" }

// HasLegacyAccessLog reports whether the access_log table is still there.
func (s *Store) HasLegacyAccessLog(ctx context.Context) bool {
	return s.db.WithContext(ctx).Migrator().HasTable("access_log")
}

// AddLegacyAccessLog writes rows to the old table; only tests of the move
// need it.
func (s *Store) AddLegacyAccessLog(ctx context.Context, entries []AccessLogEntry) error {
	return s.db.WithContext(ctx).CreateInBatches(&entries, 500).Error
}

// LegacyAccessLogSpan says when the oldest and newest rows were recorded and
// how many there are.
func (s *Store) LegacyAccessLogSpan(ctx context.Context) (first, last time.Time, n int64, err error) {
	if err = s.db.WithContext(ctx).Model(&AccessLogEntry{}).Count(&n).Error; err != nil || n == 0 {
		return
	}
	var e AccessLogEntry
	if err = s.db.WithContext(ctx).Order("at, id").Take(&e).Error; err != nil {
		return
	}
	var l AccessLogEntry // a fresh row: gorm would look for e's id
	if err = s.db.WithContext(ctx).Order("at DESC, id DESC").Take(&l).Error; err != nil {
		return
	}
	return e.At, l.At, n, nil
}

// LegacyAccessLog reads up to limit rows recorded in [from, to) with ids
// above after, in id order.
func (s *Store) LegacyAccessLog(ctx context.Context, from, to time.Time, after int64, limit int) ([]AccessLogEntry, error) {
	var es []AccessLogEntry
	err := s.db.WithContext(ctx).Where("at >= ? AND at < ? AND id > ?", from.UTC(), to.UTC(), after).
		Order("id").Limit(limit).Find(&es).Error
	return es, err
}

// ErrMovedMeanwhile says another instance moved the same rows first.
var ErrMovedMeanwhile = errors.New("data: access-log rows were moved by another instance meanwhile")

// RetireLegacyAccessLog deletes the want rows recorded in [from, to) and
// adds their counts, in one transaction: rows are counted once, whoever
// moves them.
func (s *Store) RetireLegacyAccessLog(ctx context.Context, from, to time.Time, want int64, u *Usage) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("at >= ? AND at < ?", from.UTC(), to.UTC()).Delete(&AccessLogEntry{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != want {
			return ErrMovedMeanwhile
		}
		return s.inTx(tx).AddUsage(ctx, u)
	})
	if err != nil {
		return fmt.Errorf("data: retire access log: %w", err)
	}
	return nil
}

// DropLegacyAccessLog drops the emptied table.
func (s *Store) DropLegacyAccessLog(ctx context.Context) error {
	return s.db.WithContext(ctx).Migrator().DropTable("access_log")
}

// inTx is the store working inside tx.
func (s *Store) inTx(tx *gorm.DB) *Store {
	c := *s
	c.db = tx
	return &c
}
