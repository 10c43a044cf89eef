package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// renewer keeps a sweep's claims alive every third of the lease, and knows
// until when they surely hold. The email dispatcher and the channel sender
// share it; each gives the store call that renews its own claims.
type renewer struct {
	lease time.Duration
	now   func() time.Time

	mu    sync.Mutex
	until time.Time
	done  chan struct{}
	wg    sync.WaitGroup
}

// startRenewing renews with renew every third of lease until stop. what
// names the claims in the log ("delivery claims", "channel claims").
func startRenewing(lease time.Duration, now func() time.Time, renew func(ctx context.Context) error, log *slog.Logger, what string) *renewer {
	r := &renewer{lease: lease, now: now, done: make(chan struct{})}
	r.wg.Go(func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-r.done:
				return
			case <-t.C:
				start := now()
				// Not the sweep's context: renewing must go on while the
				// work in flight finishes after a stop.
				if err := renew(context.Background()); err != nil {
					log.Warn("could not renew "+what+"; no new send starts until they are", "err", err)
					continue
				}
				r.mu.Lock()
				r.until = start.Add(lease)
				r.mu.Unlock()
			}
		}
	})
	return r
}

// claimed notes a fresh claim: it holds for a whole lease from now.
func (r *renewer) claimed() {
	r.mu.Lock()
	r.until = r.now().Add(r.lease)
	r.mu.Unlock()
}

// holds reports whether a claim surely holds long enough to start a send:
// until the last renewal (or claimedUntil, the claim's own expiry, when
// later), with a third of the lease kept in hand.
func (r *renewer) holds(claimedUntil *time.Time) bool {
	r.mu.Lock()
	until := r.until
	r.mu.Unlock()
	if claimedUntil != nil && claimedUntil.After(until) {
		until = *claimedUntil
	}
	return r.now().Add(r.lease / 3).Before(until)
}

func (r *renewer) stop() {
	close(r.done)
	r.wg.Wait()
}
