package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

// hangServer is a receiver that holds every request open until the test
// lets go (then answers 200) or the sender gives up on it.
type hangServer struct {
	*httptest.Server
	inFlight, answered atomic.Int64
	release            chan struct{}
	once               sync.Once
}

func newHangServer(t *testing.T) *hangServer {
	h := &hangServer{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		select {
		case <-h.release:
			h.answered.Add(1)
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}))
	// Cleanups run last first: let go of the handlers, then close.
	t.Cleanup(h.Close)
	t.Cleanup(h.letGo)
	return h
}

func (h *hangServer) letGo() { h.once.Do(func() { close(h.release) }) }

// eventually polls cond until it holds or a generous deadline passes; the
// deadline only keeps a broken build from hanging, it measures nothing.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !eventually(cond) {
		t.Fatalf("gave up waiting for %s", what)
	}
}

func channelDeliveries(t *testing.T, f *fixture) []data.Delivery {
	t.Helper()
	ctx := context.Background()
	ns, _, _, err := f.store.Notifications(ctx, 10, 0)
	if err != nil || len(ns) == 0 {
		t.Fatalf("notifications: %v %v", ns, err)
	}
	ds, _, err := f.store.Deliveries(ctx, ns[0].ID, "", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []data.Delivery
	for _, d := range ds {
		if d.ChannelID != nil {
			out = append(out, d)
		}
	}
	return out
}

// TestHangingReceiversDelayOnlyThemselves: three receivers that hang come
// first in the queue; the forty healthy ones behind them are all delivered
// while the hanging ones are still in flight, and the hanging ones are
// delivered once they answer.
func TestChannelHangingReceiversDelayOnlyThemselves(t *testing.T) {
	f, proto := channelRig(t)
	// A timeout longer than the test: the hanging receivers hang until
	// they are let go, whatever the machine's speed.
	client := outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: time.Minute})
	sender := NewChannelSender(f.store, client, proto.writer, proto.opts, proto.log)
	ctx := context.Background()
	var hanging []*hangServer
	for i := 0; i < 3; i++ {
		h := newHangServer(t)
		hanging = append(hanging, h)
		addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: h.URL})
	}
	var healthy []*hookServer
	for i := 0; i < 40; i++ {
		h := newHookServer(t, ok)
		healthy = append(healthy, h)
		addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: h.URL})
	}
	f.declare(t, true)

	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := sender.Sweep(ctx)
		done <- result{st, err}
	}()
	delivered := func() int {
		n := 0
		for _, h := range healthy {
			if b, _ := h.got(); len(b) > 0 {
				n++
			}
		}
		return n
	}
	if !eventually(func() bool { return delivered() == len(healthy) || len(done) > 0 }) {
		t.Errorf("%d of %d healthy channels delivered while 3 receivers hang", delivered(), len(healthy))
	}
	for i, h := range hanging {
		if h.inFlight.Load() != 1 || h.answered.Load() != 0 {
			t.Errorf("hanging receiver %d: %d in flight, %d answered, when the healthy ones were delivered (%d of %d): it held them up",
				i, h.inFlight.Load(), h.answered.Load(), delivered(), len(healthy))
		}
	}
	for _, h := range hanging {
		h.letGo()
	}
	res := <-done
	if res.err != nil || res.st.Sent != int64(len(healthy)+len(hanging)) {
		t.Fatalf("sweep: %+v %v", res.st, res.err)
	}
	for i, h := range healthy {
		if b, _ := h.got(); len(b) != 1 {
			t.Errorf("healthy receiver %d got %d posts", i, len(b))
		}
	}
}

// TestTwoChannelSendersPostEachOnce: two senders on one database with a
// short real lease, receivers slower than the lease per batch: the claims
// are renewed while their holder works, so each channel gets the notice
// exactly once.
func TestTwoChannelSendersPostEachOnce(t *testing.T) {
	f, proto := channelRig(t)
	f.store = f.store.WithClock(time.Now)
	var mu sync.Mutex
	posts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		posts[r.URL.Path]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	const n = 48
	for i := 0; i < n; i++ {
		addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: fmt.Sprintf("%s/hook/%d", srv.URL, i)})
	}
	f.declare(t, true)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := ChannelOptions{Lease: 300 * time.Millisecond, Now: time.Now}
	opts.Instance = "a"
	a := NewChannelSender(f.store, proto.client, proto.writer, opts, log)
	opts.Instance = "b"
	b := NewChannelSender(f.store, proto.client, proto.writer, opts, log)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Sweep(ctx)
	}()
	// b keeps looking for claims that ran out while a works.
	sent := func() int {
		k := 0
		for _, d := range channelDeliveries(t, f) {
			if d.State == data.DeliverySent {
				k++
			}
		}
		return k
	}
	waitFor(t, "every channel delivered", func() bool {
		b.Sweep(ctx)
		return sent() == n
	})
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != n {
		t.Errorf("%d channels got the notice, want %d", len(posts), n)
	}
	for p, k := range posts {
		if k != 1 {
			t.Errorf("%s got the notice %d times", p, k)
		}
	}
}

// TestStrandedChannelClaimsComeBackInSeconds: a sender that died holding
// a batch (kill -9) leaves claims that another takes over once the short
// lease runs out: seconds, not minutes.
func TestStrandedChannelClaimsComeBackInSeconds(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	var hooks []*hookServer
	for i := 0; i < 30; i++ {
		h := newHookServer(t, ok)
		hooks = append(hooks, h)
		addChannel(t, f, data.ChannelInput{Kind: data.ChannelTeams, URL: h.URL})
	}
	f.declare(t, true)
	lease := sender.opts.Lease
	if lease > 20*time.Second {
		t.Fatalf("the default channel lease is %s: a crash would strand a batch that long", lease)
	}
	if claims, err := f.store.ClaimChannelDeliveries(ctx, "dead-instance", 100, lease); err != nil || len(claims) != 30 {
		t.Fatalf("claim: %d %v", len(claims), err)
	}
	if st, _ := sender.Sweep(ctx); st.Sent != 0 {
		t.Fatalf("took live claims: %+v", st)
	}
	f.clock.Advance(lease + time.Second)
	if st, _ := sender.Sweep(ctx); st.Sent != 30 {
		t.Fatalf("after the lease: %+v", st)
	}
	for i, h := range hooks {
		if b, _ := h.got(); len(b) != 1 {
			t.Errorf("receiver %d got %d posts", i, len(b))
		}
	}
}

// TestChannelStopHandsClaimsBack: a stop while receivers hang returns,
// leaves nothing "sending", and does not count the stop as an attempt
// against the deliveries or a failure against the channels: the next
// start sends at once.
func TestChannelStopHandsClaimsBack(t *testing.T) {
	f, sender := channelRig(t)
	var hanging []*hangServer
	var chans []*data.Channel
	for i := 0; i < 24; i++ {
		h := newHangServer(t)
		hanging = append(hanging, h)
		chans = append(chans, addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: h.URL}))
	}
	f.declare(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		sender.Sweep(ctx)
		close(done)
	}()
	waitFor(t, "a post in flight", func() bool {
		for _, h := range hanging {
			if h.inFlight.Load() > 0 {
				return true
			}
		}
		return false
	})
	cancel()
	waitFor(t, "the sweep to stop", func() bool { return isClosed(done) })
	for _, d := range channelDeliveries(t, f) {
		if d.State != data.DeliveryPending || d.Attempts != 0 || d.ClaimedBy != "" {
			t.Errorf("delivery %d after the stop: %s, %d attempts, claimed by %q", d.ID, d.State, d.Attempts, d.ClaimedBy)
		}
	}
	for _, c := range chans {
		if got, _ := f.store.Channel(context.Background(), c.ID); got.FailingSince != nil {
			t.Errorf("channel %d counts the stop as a failure: %q", c.ID, got.LastError)
		}
	}
	for _, h := range hanging {
		h.letGo()
	}
	if st, _ := sender.Sweep(context.Background()); st.Sent != int64(len(hanging)) {
		t.Fatalf("after the restart: %+v", st)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
