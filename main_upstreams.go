package main

import (
	"context"
	"log/slog"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/server"
)

// runUpstreams polls the upstream status sources components follow until
// ctx ends.
func runUpstreams(ctx context.Context, store *data.Store, opts server.Options, app *server.Server, wake func(), log *slog.Logger) {
	<-ctx.Done()
}
