package server

import (
	"log/slog"
	"sync"
	"time"
)

// outageLog logs a stretch of database trouble as it changes, not per
// request: once when it starts, a summary at most once a minute while it
// lasts, and once when it ends.
type outageLog struct {
	log *slog.Logger

	mu          sync.Mutex
	down        bool
	since       time.Time
	lastFailure time.Time
	lastSummary time.Time
	failures    int
	staleServed int
}

func newOutageLog(log *slog.Logger) *outageLog { return &outageLog{log: log} }

// summaryEvery is how often a long outage is summed up in the log.
const summaryEvery = time.Minute

// fail notes a failure; what says what is affected.
func (o *outageLog) fail(what string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.failures++
	o.lastFailure = now
	if !o.down {
		o.down, o.since, o.lastSummary = true, now, now
		o.log.Warn(what, "err", err)
		return
	}
	if now.Sub(o.lastSummary) >= summaryEvery {
		o.log.Warn("the database is still unavailable", "since", o.since, "failures", o.failures, "stale_pages_served", o.staleServed, "err", err)
		o.lastSummary = now
	}
}

// stale counts a request answered with an out-of-date copy.
func (o *outageLog) stale() {
	o.mu.Lock()
	o.staleServed++
	o.mu.Unlock()
}

// recoveryQuiet is how long without a failure ends an outage: a render
// that slipped through while the database went down does not end it.
const recoveryQuiet = 5 * time.Second

// ok notes a success, ending an outage if there was one and nothing has
// failed for a little while.
func (o *outageLog) ok(what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down || time.Since(o.lastFailure) < recoveryQuiet {
		return
	}
	o.log.Info(what, "down_for", time.Since(o.since).Round(time.Second), "failures", o.failures, "stale_pages_served", o.staleServed)
	o.down, o.failures, o.staleServed = false, 0, 0
}
