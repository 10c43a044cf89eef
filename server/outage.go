package server

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oshirase/oshirase/internal/faillog"
)

// outageLog logs a stretch of database trouble as it changes, not per
// request: once when it starts, a summary at most once a minute while it
// lasts, and once when it ends (faillog), with the number of out-of-date
// pages served meanwhile.
type outageLog struct {
	log         *faillog.Log
	staleServed atomic.Int64
}

func newOutageLog(log *slog.Logger) *outageLog {
	return &outageLog{log: faillog.New(log, "the database is still unavailable")}
}

// summaryEvery is how often a long stretch of trouble is summed up in the
// log (faillog's default, and the render health's).
const summaryEvery = time.Minute

// fail notes a failure; what says what is affected.
func (o *outageLog) fail(what string, err error) {
	o.log.Fail(what, err, "stale_pages_served", o.staleServed.Load())
}

// stale counts a request answered with an out-of-date copy.
func (o *outageLog) stale() { o.staleServed.Add(1) }

// ok notes a success, ending an outage if there was one and nothing has
// failed for a little while: a render that slipped through while the
// database went down does not end it.
func (o *outageLog) ok(what string) {
	if o.log.OK(what, "stale_pages_served", o.staleServed.Load()) {
		o.staleServed.Store(0)
	}
}
