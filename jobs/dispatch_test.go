package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

type fixture struct {
	store *data.Store
	clock *datatest.Clock
	smtp  *mailtest.Server
	comp  int64
}

// newFixture gives a store with one product, one component and n primary
// contacts at n contracts that use it, and an SMTP server.
func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	p, _ := s.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard"})
	c, _ := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "CDN"})
	for i := 0; i < n; i++ {
		k, err := s.CreateContract(ctx, data.ContractInput{Code: fmt.Sprintf("C%05d", i), Name: "顧客", Active: true, ProductIDs: []int64{p.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddContact(ctx, k.ID, data.ContactInput{Email: fmt.Sprintf("user%05d@example.com", i), Lang: "ja", Role: data.RolePrimary}); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{store: s, clock: clock, smtp: mailtest.Start(t), comp: c.ID}
}

func (f *fixture) declare(t testing.TB, hold bool) {
	t.Helper()
	_, err := f.store.CreateIncident(context.Background(), data.NewIncident{TitleJA: "CDNの障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{f.comp: data.MajorOutage}, Notice: data.Notice{Send: true, Hold: hold}})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) dispatcher(t testing.TB, opts DispatchOptions) *Dispatcher {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(f.smtp.URL())
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("https://status.example.com")
	from, _ := mail.ParseFrom("Status <status@example.com>")
	comp, err := mail.NewComposer(mail.ComposerOptions{BaseURL: base, From: from, Secret: "0123456789abcdef0123456789abcdef", Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts.Now = f.clock.Now
	if opts.Rate == 0 {
		opts.Rate = -1
	}
	return NewDispatcher(f.store, mail.NewSender(cfg, "localhost"), comp, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (f *fixture) counts(t testing.TB) map[string]int {
	ns, counts, _, err := f.store.Notifications(context.Background(), 10, 0)
	if err != nil || len(ns) == 0 {
		t.Fatalf("notifications: %v %v", ns, err)
	}
	return counts[ns[0].ID]
}

func exactlyOnce(t *testing.T, srv *mailtest.Server, n int) {
	t.Helper()
	got := srv.ByRecipient()
	if len(got) != n {
		t.Fatalf("%d recipients received mail, want %d", len(got), n)
	}
	for to, k := range got {
		if k != 1 {
			t.Fatalf("%s received %d copies", to, k)
		}
	}
}

// TestTemporaryFailuresAreRetried: the server answers 451 for a while and
// then accepts; every message arrives once.
func TestTemporaryFailuresAreRetried(t *testing.T) {
	f := newFixture(t, 20)
	f.declare(t, false)
	var busy atomic.Bool
	busy.Store(true)
	f.smtp.RefuseData(func([]string) *smtp.SMTPError {
		if busy.Load() {
			return mailtest.TempFail
		}
		return nil
	})
	d := f.dispatcher(t, DispatchOptions{Workers: 3})
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		st, err := d.Sweep(ctx)
		if err != nil || st.Retried != 20 {
			t.Fatalf("round %d: %v %v", round, st, err)
		}
		// Nothing is due again until the backoff has passed.
		if st, _ := d.Sweep(ctx); st.Retried+st.Sent != 0 {
			t.Fatalf("retried before the backoff: %v", st)
		}
		f.clock.Advance(3 * time.Minute * time.Duration(round+1))
	}
	busy.Store(false)
	st, err := d.Sweep(ctx)
	if err != nil || st.Sent != 20 {
		t.Fatalf("after the server recovered: %v %v", st, err)
	}
	exactlyOnce(t, f.smtp, 20)
	if c := f.counts(t); c[data.DeliverySent] != 20 {
		t.Fatalf("counts %v", c)
	}
	ds, _, _ := f.store.Deliveries(context.Background(), 1, "", 1, 0)
	_, attempts, _ := f.store.Delivery(context.Background(), ds[0].ID)
	if len(attempts) != 3 || attempts[0].Outcome != data.DeliverySent || attempts[1].Code != 451 {
		t.Fatalf("attempts %+v", attempts)
	}
}

// TestPermanentFailureBouncesOnlyThatAddress: 550 for one address.
func TestPermanentFailureBouncesOnlyThatAddress(t *testing.T) {
	f := newFixture(t, 5)
	f.declare(t, false)
	f.smtp.RefuseRcpt(func(rcpt string) *smtp.SMTPError {
		if rcpt == "user00002@example.com" {
			return mailtest.NoSuchUser
		}
		return nil
	})
	st, err := f.dispatcher(t, DispatchOptions{}).Sweep(context.Background())
	if err != nil || st.Sent != 4 || st.Bounced != 1 {
		t.Fatalf("%v %v", st, err)
	}
	if got := f.smtp.ByRecipient(); len(got) != 4 || got["user00002@example.com"] != 0 {
		t.Fatalf("received %v", got)
	}
	if c := f.counts(t); c[data.DeliveryBounced] != 1 || c[data.DeliverySent] != 4 {
		t.Fatalf("counts %v", c)
	}
}

// TestGivesUpAfterMaxAttemptsAndRetriesOnRequest: a server that never
// accepts fails the delivery after the last attempt; an operator's retry
// sends it once the server is back.
func TestGivesUpAfterMaxAttemptsAndRetriesOnRequest(t *testing.T) {
	f := newFixture(t, 2)
	f.declare(t, false)
	f.smtp.RefuseData(func([]string) *smtp.SMTPError { return mailtest.TempFail })
	d := f.dispatcher(t, DispatchOptions{MaxAttempts: 3})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		d.Sweep(ctx)
		f.clock.Advance(time.Hour)
	}
	if c := f.counts(t); c[data.DeliveryFailed] != 2 {
		t.Fatalf("counts %v", c)
	}
	f.smtp.RefuseData(nil)
	if n, err := f.store.RetryFailed(ctx, 1); err != nil || n != 2 {
		t.Fatalf("retry: %d %v", n, err)
	}
	if st, _ := d.Sweep(ctx); st.Sent != 2 {
		t.Fatalf("after retry: %v", st)
	}
	exactlyOnce(t, f.smtp, 2)
}

// TestHeldDeliveriesWaitForRelease: with no SMTP configured deliveries are
// held; nothing goes until an operator releases them.
func TestHeldDeliveriesWaitForRelease(t *testing.T) {
	f := newFixture(t, 3)
	f.declare(t, true)
	d := f.dispatcher(t, DispatchOptions{})
	if st, _ := d.Sweep(context.Background()); st.Sent != 0 || len(f.smtp.Messages()) != 0 {
		t.Fatalf("held deliveries were sent: %v", st)
	}
	if c := f.counts(t); c[data.DeliveryHeld] != 3 {
		t.Fatalf("counts %v", c)
	}
	f.store.ReleaseHeld(context.Background(), 1)
	if st, _ := d.Sweep(context.Background()); st.Sent != 3 {
		t.Fatalf("after release: %v", st)
	}
}

// TestStopAndRestartMidNotice stops a dispatcher in the middle of a
// 2,000-recipient notice and starts another: everyone gets exactly one.
func TestStopAndRestartMidNotice(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 recipients")
	}
	f := newFixture(t, 2000)
	f.declare(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	var received atomic.Int64
	f.smtp.RefuseData(func([]string) *smtp.SMTPError {
		if received.Add(1) == 700 {
			cancel() // the process is told to stop while messages are in flight
		}
		return nil
	})
	first := f.dispatcher(t, DispatchOptions{Workers: 4, Batch: 50})
	if _, err := first.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	sentFirst := len(f.smtp.Messages())
	if sentFirst < 700 || sentFirst >= 2000 {
		t.Fatalf("first dispatcher sent %d", sentFirst)
	}
	c := f.counts(t)
	if c[data.DeliverySending] != 0 || c[data.DeliverySent] != sentFirst {
		t.Fatalf("after a clean stop: %v (server has %d)", c, sentFirst)
	}

	// A dispatcher that dies without cleaning up: its claims come back
	// when the lease ends, not before.
	dead, err := f.store.ClaimDeliveries(context.Background(), "dead-worker", 100, time.Minute)
	if err != nil || len(dead) != 100 {
		t.Fatalf("dead claims: %d %v", len(dead), err)
	}
	second := f.dispatcher(t, DispatchOptions{Workers: 4, Batch: 50})
	st, err := second.Sweep(context.Background())
	if err != nil || int(st.Sent) != 2000-sentFirst-100 {
		t.Fatalf("second dispatcher: %v %v", st, err)
	}
	f.clock.Advance(2 * time.Minute)
	st, err = second.Sweep(context.Background())
	if err != nil || st.Sent != 100 {
		t.Fatalf("after the dead lease: %v %v", st, err)
	}
	exactlyOnce(t, f.smtp, 2000)
}

// TestTwoDispatchersShareTheQueue runs two dispatchers at once on one
// database: no delivery is sent twice.
func TestTwoDispatchersShareTheQueue(t *testing.T) {
	f := newFixture(t, 300)
	f.declare(t, false)
	a, b := f.dispatcher(t, DispatchOptions{Workers: 2, Batch: 20}), f.dispatcher(t, DispatchOptions{Workers: 2, Batch: 20})
	done := make(chan *Stats, 2)
	for _, d := range []*Dispatcher{a, b} {
		go func(d *Dispatcher) {
			st, err := d.Sweep(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- st
		}(d)
	}
	s1, s2 := <-done, <-done
	if s1.Sent+s2.Sent != 300 {
		t.Fatalf("sent %d + %d", s1.Sent, s2.Sent)
	}
	exactlyOnce(t, f.smtp, 300)
}
