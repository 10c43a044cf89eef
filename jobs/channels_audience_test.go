package jobs

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/channelmsg"
	"github.com/oshirase/oshirase/internal/outbound"
)

// TestVisitorsChannelsNeverReachOperatorRanges: with loopback opened for
// the operators only (OSHIRASE_OUTBOUND_ALLOW), a visitor's channel stored
// with a loopback address — saved before the range rules, or by a name
// that later resolved there — is refused at the dial and never reached;
// the operators' channel on the same host gets the notice.
func TestVisitorsChannelsNeverReachOperatorRanges(t *testing.T) {
	f := newFixture(t, 0)
	client := outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 2 * time.Second})
	w, err := channelmsg.New("http://status.example.com", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	sender := NewChannelSender(f.store, client, w, ChannelOptions{Instance: "test", Now: f.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	visitor, ops := newHookServer(t, ok), newHookServer(t, ok)
	vc := addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: visitor.URL + "/hook", OwnerEmail: "visitor@example.com"})
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: ops.URL + "/hook", Operator: true})
	f.declare(t, true)
	if _, err := sender.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := visitor.got(); len(b) != 0 {
		t.Fatalf("a visitor's channel on an operators' range got %d requests", len(b))
	}
	if b, _ := ops.got(); len(b) == 0 {
		t.Fatal("the operators' channel got nothing")
	}
	ds, err := f.store.ChannelDeliveries(context.Background(), vc.ID, 10)
	if err != nil || len(ds) == 0 || ds[0].State != data.DeliveryFailed {
		t.Fatalf("the visitor's delivery: %+v %v, want failed (refused)", ds, err)
	}
}
