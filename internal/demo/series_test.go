package demo

import (
	"context"
	"testing"

	"github.com/oshirase/oshirase/data"
)

func init() {
	moreWalks = append(moreWalks, func(t *testing.T, ctx context.Context, store *data.Store, w *walker) {
		all, err := store.AllSeries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 2 {
			t.Errorf("the fixture makes %d recurring series, want a running and a stopped one", len(all))
		}
		w.walk(all)
	})
}
