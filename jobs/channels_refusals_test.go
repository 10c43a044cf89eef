package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// refusalRig is channelRig with an operator, who hears of a channel
// disabled, and an operators' channel that works.
func refusalRig(t *testing.T) (*fixture, *ChannelSender, *hookServer) {
	f, sender := channelRig(t)
	if _, err := f.store.CreateOperator(context.Background(), data.NewOperator{Email: "ops@example.com", Role: data.RoleAdmin, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	alerts := newHookServer(t, ok)
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: alerts.URL, Operator: true})
	return f, sender, alerts
}

// disabledNotices lists who the channel-disabled notices went to.
func disabledNotices(t *testing.T, f *fixture) [][]string {
	return recipients(t, f.store)[data.ChannelDisabledKind]
}

// TestChannelGoneIsDisabledAtOnce: a receiver answering 410 Gone is asked
// once, its channel disabled at once, its owner emailed and the operators
// alerted by email and on their channel; the next notice skips it.
func TestChannelGoneIsDisabledAtOnce(t *testing.T) {
	f, sender, alerts := refusalRig(t)
	ctx := context.Background()
	gone := newHookServer(t, func(int) int { return http.StatusGone })
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: gone.URL + "/hook", OwnerEmail: "owner@example.com"})
	f.declare(t, true)
	if st, err := sender.Sweep(ctx); err != nil || st.Failed != 1 || st.Retried != 0 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	got, _ := f.store.Channel(ctx, c.ID)
	if got.DisabledAt == nil {
		t.Fatal("a channel whose receiver is gone stays enabled")
	}
	told := disabledNotices(t, f)
	if len(told) != 2 || strings.Join(told[0], ",") != "owner@example.com" || !strings.Contains(strings.Join(told[1], ","), "ops@example.com") {
		t.Fatalf("channel-disabled notices went to %v, want the owner and the operators", told)
	}
	// The stop notice may already have gone in the first sweep (it is
	// queued while that sweep runs); after another, the operators' channel
	// has heard of both the incident and the stop.
	sender.Sweep(ctx)
	if after, _ := alerts.got(); len(after) < 2 {
		t.Fatalf("the operators' channel heard %d notices, want the incident and the disabled channel", len(after))
	}
	f.declare(t, true)
	f.clock.Advance(time.Hour)
	sender.Sweep(ctx)
	if b, _ := gone.got(); len(b) != 1 {
		t.Fatalf("the gone receiver was asked %d times, want once", len(b))
	}
}

// TestChannelRefusalRetriesThenDisables: a 404 is retried twice (a minute,
// then five minutes later) and the delivery then fails; after
// ChannelRefusalsToDisable deliveries refused in a row the channel is
// disabled and its owner and the operators told, once.
func TestChannelRefusalRetriesThenDisables(t *testing.T) {
	f, sender, _ := refusalRig(t)
	ctx := context.Background()
	missing := newHookServer(t, func(int) int { return http.StatusNotFound })
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelTeams, URL: missing.URL, OwnerEmail: "owner@example.com"})
	for i := 1; i <= data.ChannelRefusalsToDisable; i++ {
		f.declare(t, true)
		if st, _ := sender.Sweep(ctx); st.Retried != 1 {
			t.Fatalf("notice %d, first attempt: %+v", i, st)
		}
		f.clock.Advance(time.Minute)
		if st, _ := sender.Sweep(ctx); st.Retried != 1 {
			t.Fatalf("notice %d, second attempt: %+v", i, st)
		}
		f.clock.Advance(5 * time.Minute)
		if st, _ := sender.Sweep(ctx); st.Failed != 1 {
			t.Fatalf("notice %d, third attempt: %+v", i, st)
		}
		got, _ := f.store.Channel(ctx, c.ID)
		if disabled := got.DisabledAt != nil; disabled != (i == data.ChannelRefusalsToDisable) {
			t.Fatalf("after %d refused deliveries disabled=%v", i, disabled)
		}
	}
	if b, _ := missing.got(); len(b) != 3*data.ChannelRefusalsToDisable {
		t.Fatalf("%d posts, want %d", len(b), 3*data.ChannelRefusalsToDisable)
	}
	if told := disabledNotices(t, f); len(told) != 2 || strings.Join(told[0], ",") != "owner@example.com" {
		t.Fatalf("channel-disabled notices went to %v", told)
	}
}

// TestChannelRefusalStreakEndsWithASuccess: refusals not in a row do not
// disable a channel.
func TestChannelRefusalStreakEndsWithASuccess(t *testing.T) {
	f, sender, _ := refusalRig(t)
	ctx := context.Background()
	// Refuses the first notice's three attempts, takes the second notice,
	// refuses the rest.
	fickle := newHookServer(t, func(n int) int {
		if n == 4 {
			return http.StatusOK
		}
		return http.StatusForbidden
	})
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: fickle.URL})
	for i := 0; i < data.ChannelRefusalsToDisable+1; i++ {
		f.declare(t, true)
		for range 3 {
			sender.Sweep(ctx)
			f.clock.Advance(10 * time.Minute)
		}
	}
	if got, _ := f.store.Channel(ctx, c.ID); got.DisabledAt != nil {
		t.Fatal("disabled though a delivery went through between the refusals")
	}
}

// TestChannelServerErrorsKeepTheRetrySchedule: 500 is the receiver's
// trouble, not a refusal: the delivery stays pending on the schedule and
// the channel enabled.
func TestChannelServerErrorsKeepTheRetrySchedule(t *testing.T) {
	f, sender, _ := refusalRig(t)
	ctx := context.Background()
	broken := newHookServer(t, func(int) int { return http.StatusInternalServerError })
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: broken.URL, OwnerEmail: "owner@example.com"})
	f.declare(t, true)
	for _, wait := range []time.Duration{0, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour} {
		f.clock.Advance(wait)
		if st, _ := sender.Sweep(ctx); st.Retried != 1 {
			t.Fatalf("after %v: %+v", wait, st)
		}
	}
	if got, _ := f.store.Channel(ctx, c.ID); got.DisabledAt != nil || got.FailingSince == nil {
		t.Fatalf("channel %+v", got)
	}
	if told := disabledNotices(t, f); len(told) != 0 {
		t.Fatalf("told %v", told)
	}
}

// TestChannelLoopLogsTheOutageNotEachSweep: while the database is down the
// channel sender sweeps every tick and logs the stretch once.
func TestChannelLoopLogsTheOutageNotEachSweep(t *testing.T) {
	f, _ := channelRig(t)
	var out syncBuffer
	sender := NewChannelSender(f.store, nil, nil, ChannelOptions{Instance: "a", Now: f.clock.Now}, slog.New(slog.NewTextHandler(&out, nil)))
	f.store.SetFault(func(context.Context, bool) error { return data.ErrUnavailable })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sender.Run(ctx, 2*time.Millisecond); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out.String(), "\n") == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if n := strings.Count(out.String(), "channel sweep failed"); n != 1 {
		t.Fatalf("%d lines for one outage, want 1:\n%s", n, out.String())
	}
}

// TestChannelErrorsShowTheHostOnly: a transport error quotes the URL, whose
// path is a Slack or Teams webhook's secret; what is recorded keeps the
// host only.
func TestChannelErrorsShowTheHostOnly(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	closed := newHookServer(t, ok)
	closed.Close()
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: closed.URL + "/services/T0SECRET"})
	f.declare(t, true)
	if st, _ := sender.Sweep(ctx); st.Retried != 1 {
		t.Fatalf("sweep %+v", st)
	}
	got, _ := f.store.Channel(ctx, c.ID)
	if got.LastError == "" || strings.Contains(got.LastError, "T0SECRET") || !strings.Contains(got.LastError, closed.URL) {
		t.Fatalf("last error %q", got.LastError)
	}
}

// TestChannelStoppedNoticesLinkWhereItCanBeSeen: the owner's notice
// links to the channel subscription page, the operators' alert to the
// channel's deliveries in the console (pages that exist).
func TestChannelStoppedNoticesLinkWhereItCanBeSeen(t *testing.T) {
	f, sender, _ := refusalRig(t)
	ctx := context.Background()
	gone := newHookServer(t, func(int) int { return http.StatusGone })
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: gone.URL + "/hook", OwnerEmail: "owner@example.com"})
	f.declare(t, true)
	sender.Sweep(ctx)
	ns, _, _, _ := f.store.Notifications(ctx, 100, 0)
	paths := map[string]bool{}
	for _, n := range ns {
		if n.Kind != data.ChannelDisabledKind {
			continue
		}
		content, err := n.Decode()
		if err != nil {
			t.Fatal(err)
		}
		paths[content.Path] = true
	}
	want := fmt.Sprintf("/admin/alerts?channel=%d#deliveries", c.ID)
	if !paths["/subscribe/channel"] || !paths[want] || len(paths) != 2 {
		t.Fatalf("the stop notices link to %v, want /subscribe/channel and %s", paths, want)
	}
}
