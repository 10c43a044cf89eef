package jobs

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestRefusedPayloadIsOurBug: Slack or Teams answering 400 or 413 refuses
// the payload Oshirase built. The delivery fails at once (asking again
// would be refused again), the channel stays on and is not marked
// failing, the operators hear of it once an hour however many notices
// fail, and the metrics count it. A webhook's 400 stays the receiver's.
func TestRefusedPayloadIsOurBug(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		status int
	}{{data.ChannelSlack, http.StatusBadRequest}, {data.ChannelTeams, http.StatusRequestEntityTooLarge}} {
		t.Run(tc.kind, func(t *testing.T) {
			f, sender, _ := refusalRig(t)
			ctx := context.Background()
			refusing := newHookServer(t, func(int) int { return tc.status })
			c := addChannel(t, f, data.ChannelInput{Kind: tc.kind, URL: refusing.URL + "/services/x", OwnerEmail: "owner@example.com"})
			for range 3 {
				f.declare(t, true)
				sender.Sweep(ctx)
			}
			got, _ := f.store.Channel(ctx, c.ID)
			if got.DisabledAt != nil || got.FailingSince != nil {
				t.Fatalf("the channel was held responsible: %+v", got)
			}
			if b, _ := refusing.got(); len(b) != 3 {
				t.Fatalf("the service was asked %d times for 3 notices, want 3 (no retries)", len(b))
			}
			if n := len(recipients(t, f.store)[data.AlertPayloadRefused]); n != 1 {
				t.Fatalf("%d operator alerts, want 1 within the hour", n)
			}
			g, err := f.store.ReadGauges(ctx)
			if err != nil || g.PayloadsRefused[tc.kind] != 3 {
				t.Fatalf("gauges %v (%v), want 3 refused %s payloads", g.PayloadsRefused, err, tc.kind)
			}
			f.clock.Advance(2 * time.Hour)
			f.declare(t, true)
			sender.Sweep(ctx)
			if n := len(recipients(t, f.store)[data.AlertPayloadRefused]); n != 2 {
				t.Fatalf("%d operator alerts after an hour, want 2", n)
			}
		})
	}
}
