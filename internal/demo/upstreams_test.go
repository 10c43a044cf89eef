package demo

import (
	"context"
	"testing"

	"github.com/oshirase/oshirase/data"
)

func init() {
	moreWalks = append(moreWalks, func(t *testing.T, ctx context.Context, store *data.Store, w *walker) {
		us, err := store.Upstreams(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) < 3 {
			t.Fatalf("the fixture follows %d upstreams, want 3", len(us))
		}
		w.walk(us)
	})
}
