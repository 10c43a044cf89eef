package jobs

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

// withAuth points the fixture's dispatcher at its server with a user name,
// so the sender authenticates.
func (f *fixture) authDispatcher(t *testing.T, opts DispatchOptions) *Dispatcher {
	t.Helper()
	u, _ := url.Parse(f.smtp.URL())
	u.User = url.UserPassword("oshirase", "rotated-password")
	cfg, err := mail.ParseSMTPURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	d := f.dispatcher(t, opts)
	d.sender = mail.NewSender(cfg, "localhost")
	return d
}

// TestRelayRefusalsPauseInsteadOfBouncing: a relay that refuses at EHLO,
// MAIL FROM or AUTH says nothing about the recipients. Nothing bounces,
// nothing uses up an attempt, the trouble is recorded for operators, and
// sending resumes by itself once the relay accepts again.
func TestRelayRefusalsPauseInsteadOfBouncing(t *testing.T) {
	cases := []struct {
		name   string
		refuse func(f *fixture, on *atomic.Bool)
		auth   bool
		stage  string
	}{
		{"554 at EHLO", func(f *fixture, on *atomic.Bool) {
			f.smtp.RefuseSession(func() *smtp.SMTPError {
				if on.Load() {
					return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Service unavailable; client blocked"}
				}
				return nil
			})
		}, false, "EHLO"},
		{"550 5.7.1 at MAIL FROM", func(f *fixture, on *atomic.Bool) {
			f.smtp.RefuseMail(func(string) *smtp.SMTPError {
				if on.Load() {
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender not allowed"}
				}
				return nil
			})
		}, false, "MAIL FROM"},
		{"535 at AUTH", func(f *fixture, on *atomic.Bool) {
			f.smtp.RefuseAuth(func(string) *smtp.SMTPError {
				if on.Load() {
					return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
				}
				return nil
			})
		}, true, "AUTH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 40)
			f.declare(t, false)
			var on atomic.Bool
			on.Store(true)
			tc.refuse(f, &on)
			d := f.dispatcher(t, DispatchOptions{Workers: 2})
			if tc.auth {
				d = f.authDispatcher(t, DispatchOptions{Workers: 2})
			}
			ctx := context.Background()
			// Refused for a while: several sweeps, with time passing.
			for i := 0; i < 4; i++ {
				if _, err := d.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
				if c := f.counts(t); c[data.DeliveryBounced]+c[data.DeliveryFailed]+c[data.DeliverySent] != 0 || c[data.DeliveryPending] != 40 {
					t.Fatalf("sweep %d while the relay refuses: %v", i, c)
				}
				f.clock.Advance(10 * time.Second)
			}
			trouble, err := f.store.RelayTrouble(ctx)
			if err != nil || trouble == nil || trouble.Stage != tc.stage || trouble.Code == 0 {
				t.Fatalf("relay trouble not recorded: %+v %v", trouble, err)
			}
			// No attempt was used up against the recipients.
			ds, _, _ := f.store.Deliveries(ctx, 1, "", 100, 0)
			for _, d := range ds {
				if d.Attempts != 0 {
					t.Fatalf("%s: %d attempts counted against the recipient", d.Email, d.Attempts)
				}
			}
			// The relay accepts again: everything goes once the pause is over.
			on.Store(false)
			f.clock.Advance(10 * time.Minute)
			if _, err := d.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			exactlyOnce(t, f.smtp, 40)
			if trouble, _ := f.store.RelayTrouble(ctx); trouble != nil {
				t.Fatalf("relay trouble still shown after a success: %+v", trouble)
			}
		})
	}
}

// TestBouncedCanBeRetried: an operator can put bounced deliveries back.
func TestBouncedCanBeRetried(t *testing.T) {
	f := newFixture(t, 3)
	f.declare(t, false)
	var refuse atomic.Bool
	refuse.Store(true)
	f.smtp.RefuseRcpt(func(string) *smtp.SMTPError {
		if refuse.Load() {
			return mailtest550
		}
		return nil
	})
	d := f.dispatcher(t, DispatchOptions{})
	ctx := context.Background()
	d.Sweep(ctx)
	if c := f.counts(t); c[data.DeliveryBounced] != 3 {
		t.Fatalf("counts %v", c)
	}
	refuse.Store(false)
	ds, _, _ := f.store.Deliveries(ctx, 1, "", 10, 0)
	if n, err := f.store.RetryBounced(ctx, 1, ds[0].ID); err != nil || n != 1 {
		t.Fatalf("retry one: %d %v", n, err)
	}
	d.Sweep(ctx)
	if n, err := f.store.RetryBounced(ctx, 1, 0); err != nil || n != 2 {
		t.Fatalf("retry all: %d %v", n, err)
	}
	d.Sweep(ctx)
	exactlyOnce(t, f.smtp, 3)
}

var mailtest550 = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}

// TestSlowRelayNeverSendsTwice: a relay that takes longer per message than
// a whole batch's lease, with a second dispatcher watching for expired
// claims. Claims are renewed while their holder works, so nobody gets a
// second copy. (Real time: the relay's slowness is the point.)
func TestSlowRelayNeverSendsTwice(t *testing.T) {
	f := newFixture(t, 8)
	f.declare(t, false)
	f.smtp.SlowData(150 * time.Millisecond)
	opts := DispatchOptions{Workers: 1, Lease: 400 * time.Millisecond, Now: time.Now}
	a, b := f.dispatcher(t, opts), f.dispatcher(t, opts)
	a.opts.Now, b.opts.Now = time.Now, time.Now
	f.store = f.store.WithClock(time.Now)
	a.store, b.store = f.store, f.store
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Sweep(ctx)
	}()
	// b keeps looking for expired claims while a works through 8 × 150 ms.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b.Sweep(ctx)
		if len(f.smtp.Messages()) >= 8 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	exactlyOnce(t, f.smtp, 8)
}

// TestStrandedClaimsComeBackInSeconds: a dispatcher that died holding a
// batch (kill -9) leaves claims that another takes over once their short
// lease runs out, which is seconds, not minutes.
func TestStrandedClaimsComeBackInSeconds(t *testing.T) {
	f := newFixture(t, 30)
	f.declare(t, false)
	ctx := context.Background()
	d := f.dispatcher(t, DispatchOptions{})
	if d.opts.Lease > 30*time.Second {
		t.Fatalf("the default lease is %s: a crash would strand a batch that long", d.opts.Lease)
	}
	if _, err := f.store.ClaimDeliveries(ctx, "dead-instance", 100, d.opts.Lease); err != nil {
		t.Fatal(err)
	}
	// The next wake-up is when those claims expire, not the next minute tick.
	next, err := f.store.NextDue(ctx)
	if err != nil || next.IsZero() || next.Sub(f.clock.Now()) > d.opts.Lease {
		t.Fatalf("next due %v (%v), want within the lease", next, err)
	}
	if st, _ := d.Sweep(ctx); st.Sent != 0 {
		t.Fatal("took live claims")
	}
	f.clock.Advance(d.opts.Lease + time.Second)
	if st, _ := d.Sweep(ctx); st.Sent != 30 {
		t.Fatalf("after the lease: %v", st)
	}
	exactlyOnce(t, f.smtp, 30)
}

// TestRetryWakesWhenDue: after a 451 the dispatcher is woken when the
// retry is due (1 min ± 20 %), not at the next minute tick after it.
func TestRetryWakesWhenDue(t *testing.T) {
	f := newFixture(t, 1)
	f.declare(t, false)
	f.smtp.RefuseData(func([]string) *smtp.SMTPError { return mailtest451 })
	d := f.dispatcher(t, DispatchOptions{})
	var woken []time.Duration
	tasks := &Tasks{Store: f.store, Dispatcher: d, Now: f.clock.Now}
	tasks.after = func(wait time.Duration, fn func()) { woken = append(woken, wait) }
	if _, err := tasks.dispatch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(woken) != 1 || woken[0] < 48*time.Second || woken[0] > 72*time.Second {
		t.Fatalf("wake-ups scheduled %v, want one in 48–72 s", woken)
	}
}

var mailtest451 = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}

// TestStopAbandonsSlowSendInTime: with a relay taking 20 s a message, a
// stop returns within the grace period, the message in flight is not
// marked sent, and no claim is left held.
func TestStopAbandonsSlowSendInTime(t *testing.T) {
	f := newFixture(t, 3)
	f.declare(t, false)
	f.smtp.SlowData(20 * time.Second)
	d := f.dispatcher(t, DispatchOptions{Workers: 1, AbortGrace: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Sweep(ctx)
		close(done)
	}()
	for f.smtp.InData() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the dispatcher did not stop within 5 s of the stop")
	}
	if took := time.Since(stopped); took > 3*time.Second {
		t.Fatalf("stopping took %s", took)
	}
	c := f.counts(t)
	if c[data.DeliverySent] != 0 || c[data.DeliveryPending] != 3 || c[data.DeliverySending] != 0 {
		t.Fatalf("after the stop: %v", c)
	}
}
