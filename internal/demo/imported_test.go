package demo

import (
	"context"
	"testing"

	"github.com/oshirase/oshirase/data"
)

func init() {
	moreWalks = append(moreWalks, func(t *testing.T, ctx context.Context, store *data.Store, w *walker) {
		refs, err := store.ImportRefs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) == 0 {
			t.Error("the demo imported nothing from its former Statuspage page")
		}
		w.walk(refs)
	})
}

// TestDemoRemembersItsImport: every kind the former page brought in is
// remembered in import_refs, so a rerun would update, not duplicate.
func TestDemoRemembersItsImport(t *testing.T) {
	store, _ := seeded(t)
	ctx := context.Background()
	refs, err := store.ImportRefs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range refs {
		kinds[r.Kind]++
	}
	for _, k := range data.ImportKinds {
		if kinds[k] == 0 {
			t.Errorf("no %s came from the import", k)
		}
	}
}
