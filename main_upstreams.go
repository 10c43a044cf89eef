package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/jobs"
	"github.com/oshirase/oshirase/server"
)

// runUpstreams polls the upstream status sources components follow until
// ctx ends: a sweep every few seconds takes the sources that are due (each
// at its own interval, at least a minute), under the operators' outbound
// policy. A move refreshes the page and wakes the dispatcher for any
// operators' alert or automatic notice.
func runUpstreams(ctx context.Context, store *data.Store, opts server.Options, app *server.Server, wake func(), log *slog.Logger) {
	r := jobs.NewUpstreamRunner(store, jobs.UpstreamOptions{Now: opts.Now, Outbound: opts.Outbound,
		Hold: func() bool { return !opts.MailEnabled },
		Changed: func(out *data.SignalOutcome) {
			app.Changed()
			if out != nil {
				wake()
			}
		}}, log)
	r.Run(ctx, 5*time.Second)
}
