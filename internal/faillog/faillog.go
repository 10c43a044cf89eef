// Package faillog logs a stretch of failures as it changes, not each
// failure: once when it starts, a summary at most once a minute while it
// lasts, and once when it ends. A loop that retries every second against a
// database that is down writes three lines, not sixty a minute.
package faillog

import (
	"log/slog"
	"sync"
	"time"
)

// Log follows one kind of failure.
type Log struct {
	log *slog.Logger
	// Summary is the message of the summaries while the stretch lasts.
	summary string
	// Every is how often a long stretch is summed up (default a minute).
	Every time.Duration
	// Quiet is how long without a failure ends a stretch (default 5 s): a
	// success that slipped through while the failures go on does not end it.
	Quiet time.Duration

	mu          sync.Mutex
	down        bool
	since       time.Time
	lastFailure time.Time
	lastSummary time.Time
	failures    int
}

// New returns a Log whose summaries say summary.
func New(log *slog.Logger, summary string) *Log {
	return &Log{log: log, summary: summary, Every: time.Minute, Quiet: 5 * time.Second}
}

// Fail notes a failure: the first of a stretch is logged with msg, later
// ones are counted into the summaries. attrs go with either line.
func (l *Log) Fail(msg string, err error, attrs ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.failures++
	l.lastFailure = now
	if !l.down {
		l.down, l.since, l.lastSummary = true, now, now
		l.log.Warn(msg, append([]any{"err", err}, attrs...)...)
		return
	}
	if now.Sub(l.lastSummary) >= l.Every {
		l.log.Warn(l.summary, append([]any{"since", l.since, "failures", l.failures, "err", err}, attrs...)...)
		l.lastSummary = now
	}
}

// OK notes a success; it ends the stretch, with msg, once nothing has
// failed for Quiet. It reports whether it ended one.
func (l *Log) OK(msg string, attrs ...any) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down || time.Since(l.lastFailure) < l.Quiet {
		return false
	}
	l.log.Info(msg, append([]any{"down_for", time.Since(l.since).Round(time.Second), "failures", l.failures}, attrs...)...)
	l.down, l.failures = false, 0
	return true
}
