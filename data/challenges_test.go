package data_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// TestChallengesAreTakenOnce: a sign-in in flight is good for one answer —
// taken twice, taken as another kind, taken after it expired, or taken by
// two requests at once, it is there at most once — and a flood of sign-ins
// begun stops at the cap while those under way still finish.
func TestChallengesAreTakenOnce(t *testing.T) {
	clock := datatest.NewClock(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC))
	store := datatest.Open(t, clock)
	ctx := context.Background()
	put := func(id, kind string, ttl time.Duration) {
		t.Helper()
		if err := store.PutChallenge(ctx, data.AuthChallenge{ID: id, Kind: kind, Browser: "b-" + id, Payload: `{"n":1}`}, ttl); err != nil {
			t.Fatal(err)
		}
	}
	put("a", data.ChallengeSSO, 10*time.Minute)
	if _, err := store.TakeChallenge(ctx, "a", data.ChallengePasskeyLogin); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("taken as another kind: %v", err)
	}
	c, err := store.TakeChallenge(ctx, "a", data.ChallengeSSO)
	if err != nil || c.Browser != "b-a" || c.Payload != `{"n":1}` {
		t.Fatalf("take: %+v, %v", c, err)
	}
	if _, err := store.TakeChallenge(ctx, "a", data.ChallengeSSO); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("taken twice: %v", err)
	}

	put("late", data.ChallengeSSO, time.Minute)
	clock.Advance(2 * time.Minute)
	if _, err := store.TakeChallenge(ctx, "late", data.ChallengeSSO); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("taken after expiry: %v", err)
	}

	put("race", data.ChallengePasskeyLogin, time.Minute)
	var wg sync.WaitGroup
	var won atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := store.TakeChallenge(ctx, "race", data.ChallengePasskeyLogin); err == nil {
				won.Add(1)
			} else if !errors.Is(err, data.ErrNotFound) && !data.Unavailable(err) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won.Load() > 1 {
		t.Fatalf("one challenge taken %d times", won.Load())
	}

	defer data.LowerChallengeLimit(3)()
	put("f1", data.ChallengeSSO, time.Minute)
	put("f2", data.ChallengeSSO, time.Minute)
	put("f3", data.ChallengeSSO, time.Minute)
	if err := store.PutChallenge(ctx, data.AuthChallenge{ID: "f4", Kind: data.ChallengeSSO}, time.Minute); !errors.Is(err, data.ErrSignInBusy) {
		t.Fatalf("past the cap: %v", err)
	}
	if _, err := store.TakeChallenge(ctx, "f1", data.ChallengeSSO); err != nil {
		t.Fatalf("a sign-in under way cannot finish at the cap: %v", err)
	}
	put("f4", data.ChallengeSSO, time.Minute)
	// Expired ones make room.
	clock.Advance(2 * time.Minute)
	put("f5", data.ChallengeSSO, time.Minute)
}
