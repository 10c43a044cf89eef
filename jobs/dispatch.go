// Package jobs runs Oshirase's background work: the dispatcher that sends
// queued email notices.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

// DispatchOptions tunes the dispatcher. Zero values take the defaults.
type DispatchOptions struct {
	// Workers is how many SMTP connections send at once (default 2).
	Workers int
	// Rate caps messages per second across all workers (default 10; a
	// negative value means no cap).
	Rate float64
	// Batch is how many deliveries are claimed at a time (default 100).
	Batch int
	// Lease is how long a claim holds before another dispatcher may take
	// the delivery over (default 20 seconds). A live dispatcher renews its
	// claims every third of it, so only a dead one's claims run out, and a
	// crash strands a batch for seconds, not minutes.
	Lease time.Duration
	// AbortGrace is how long a message in flight may still take once a stop
	// is asked for; then the connection is dropped and the message counts
	// as not sent (default 2 seconds).
	AbortGrace time.Duration
	// RelayPause is the first pause after the relay refuses to take mail
	// at all; it grows by half while the refusals go on, up to
	// MaxRelayPause (defaults 2 and 30 seconds): short, because a critical
	// notice should leave soon after the relay accepts again.
	RelayPause, MaxRelayPause time.Duration
	// MaxAttempts is how many tries a delivery gets before it is failed
	// (default 8).
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles with each
	// attempt, with ±20% jitter, up to MaxBackoff (defaults 1 minute, 2 hours).
	Backoff, MaxBackoff time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *DispatchOptions) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Workers, 2)
	def(&o.Batch, 100)
	def(&o.MaxAttempts, 8)
	defd(&o.Lease, 20*time.Second)
	defd(&o.AbortGrace, 2*time.Second)
	defd(&o.RelayPause, 2*time.Second)
	defd(&o.MaxRelayPause, 30*time.Second)
	defd(&o.Backoff, time.Minute)
	defd(&o.MaxBackoff, 2*time.Hour)
	if o.Rate == 0 {
		o.Rate = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Dispatcher sends due deliveries. It runs as the scheduler's shared
// "dispatch" job, every minute and whenever a notice is queued. Several
// dispatchers (in one process or on several instances) may run against one
// database: each delivery is claimed by one of them at a time.
type Dispatcher struct {
	store    *data.Store
	sender   *mail.Sender
	composer *mail.Composer
	opts     DispatchOptions
	log      *slog.Logger
	id       string
	limiter  *rate.Limiter

	// The relay pause: while the relay refuses to take mail at all,
	// nothing is sent until pausedUntil; refusals counts the refusals in a
	// row, for the backoff.
	mu          sync.Mutex
	pausedUntil time.Time
	refusals    int
}

// PausedUntil says until when sending is paused because the relay refused
// to take mail; zero when it is not.
func (d *Dispatcher) PausedUntil() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opts.Now().Before(d.pausedUntil) {
		return d.pausedUntil
	}
	return time.Time{}
}

func (d *Dispatcher) paused() bool { return !d.PausedUntil().IsZero() }

// pause stops sending after a relay-level refusal, with a pause that
// grows while the refusals go on, and tells operators what the relay
// said. It returns when sending is tried again.
func (d *Dispatcher) pause(err *mail.SendError) time.Time {
	d.mu.Lock()
	now := d.opts.Now()
	if !now.Before(d.pausedUntil) {
		// A new refusal, not another worker's echo of the same one.
		wait := time.Duration(float64(d.opts.RelayPause) * math.Pow(1.5, float64(d.refusals)))
		if wait > d.opts.MaxRelayPause || wait <= 0 {
			wait = d.opts.MaxRelayPause
		}
		d.refusals++
		d.pausedUntil = now.Add(wait)
	}
	until := d.pausedUntil
	d.mu.Unlock()
	t := data.RelayTrouble{Stage: err.Stage, Code: err.Code, Message: err.Err.Error(), Since: now, RetryAt: until}
	if t.Stage == "" {
		t.Stage = "connect"
	}
	if serr := d.store.SetRelayTrouble(context.Background(), t); serr != nil {
		d.log.Error("could not record the relay's refusal", "err", serr)
	}
	d.log.Warn("the mail relay refuses to take mail; sending is paused", "stage", t.Stage, "code", t.Code, "error", t.Message, "until", until)
	return until
}

// relayOK ends a stretch of relay trouble after a message went through.
func (d *Dispatcher) relayOK() {
	d.mu.Lock()
	was := d.refusals
	d.refusals, d.pausedUntil = 0, time.Time{}
	d.mu.Unlock()
	if was > 0 {
		d.log.Info("the mail relay takes mail again; sending resumed")
	}
}

// NewDispatcher builds a dispatcher with a unique worker id.
func NewDispatcher(store *data.Store, sender *mail.Sender, composer *mail.Composer, opts DispatchOptions, log *slog.Logger) *Dispatcher {
	opts.defaults()
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	limit := rate.Limit(opts.Rate)
	if opts.Rate < 0 {
		limit = rate.Inf
	}
	return &Dispatcher{store: store, sender: sender, composer: composer, opts: opts, log: log,
		id:      fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)),
		limiter: rate.NewLimiter(limit, opts.Workers)}
}

// ID names this dispatcher in claims.
func (d *Dispatcher) ID() string { return d.id }

// Stats counts what a sweep did.
type Stats struct {
	Sent, Retried, Failed, Bounced int64
}

func (s *Stats) String() string {
	return fmt.Sprintf("%d sent, %d to retry, %d failed, %d bounced", s.Sent, s.Retried, s.Failed, s.Bounced)
}

// Sweep sends every delivery that is due now and returns when the queue
// has nothing due, when the relay refuses to take mail (sending pauses), or
// when ctx ends. On the way out, claims not yet started are handed back at
// once; a message being sent gets AbortGrace to finish, then is dropped and
// counts as not sent. While it runs, the claims it holds are renewed, and
// no message is started under a claim that may have run out.
func (d *Dispatcher) Sweep(ctx context.Context) (*Stats, error) {
	stats := &Stats{}
	if d.paused() {
		return stats, nil
	}
	renew := startRenewing(d.opts.Lease, d.opts.Now, func(ctx context.Context) error {
		_, err := d.store.RenewClaims(ctx, d.id, d.opts.Lease)
		return err
	}, d.log, "delivery claims")
	defer renew.stop()
	var cleared atomic.Bool
	work := make(chan data.Claim)
	var wg sync.WaitGroup
	for i := 0; i < d.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.worker(ctx, work, stats, renew, &cleared)
		}()
	}
	var err error
claiming:
	for ctx.Err() == nil && !d.paused() {
		var claims []data.Claim
		claims, err = d.store.ClaimDeliveries(ctx, d.id, d.opts.Batch, d.opts.Lease)
		if err != nil || len(claims) == 0 {
			break
		}
		renew.claimed()
		for i, c := range claims {
			select {
			case work <- c:
			case <-ctx.Done():
				d.release(claims[i:])
				break claiming
			}
		}
	}
	close(work)
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return stats, err
}

func (d *Dispatcher) release(claims []data.Claim) {
	ids := make([]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.Delivery.ID
	}
	if err := d.store.ReleaseClaims(context.Background(), d.id, ids); err != nil {
		d.log.Error("could not release claims; they return when the lease ends", "err", err)
	}
}

// connSlot is a worker's SMTP connection, which a stop may drop from
// another goroutine.
type connSlot struct {
	mu sync.Mutex
	c  *mail.Conn
}

func (s *connSlot) get() *mail.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *connSlot) set(c *mail.Conn) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

// worker owns one SMTP connection for the length of a sweep.
func (d *Dispatcher) worker(ctx context.Context, work <-chan data.Claim, stats *Stats, renew *renewer, cleared *atomic.Bool) {
	conn := &connSlot{}
	defer func() {
		if c := conn.get(); c != nil {
			c.Close()
		}
	}()
	// Recording must happen even while shutting down: a message the server
	// accepted is marked sent so it is never sent again.
	record := context.WithoutCancel(ctx)
	for c := range work {
		if ctx.Err() != nil || d.paused() || !renew.holds(nil) || d.limiter.Wait(ctx) != nil {
			d.release([]data.Claim{c})
			continue
		}
		outcome := d.sendAbortable(ctx, conn, c)
		switch {
		case outcome.State == data.DeliverySent:
			atomic.AddInt64(&stats.Sent, 1)
			if cleared.CompareAndSwap(false, true) {
				d.relayOK()
				if err := d.store.ClearRelayTrouble(record); err != nil {
					d.log.Error("could not clear the relay's refusal", "err", err)
				}
			}
		case outcome.State == data.DeliveryPending && !outcome.Relay:
			atomic.AddInt64(&stats.Retried, 1)
		case outcome.State == data.DeliveryFailed:
			atomic.AddInt64(&stats.Failed, 1)
		case outcome.State == data.DeliveryBounced:
			atomic.AddInt64(&stats.Bounced, 1)
		}
		if err := d.store.RecordAttempt(record, c.Delivery.ID, d.id, outcome); err != nil {
			d.log.Error("could not record a delivery attempt", "delivery", c.Delivery.ID, "state", outcome.State, "err", err)
		}
	}
}

// sendAbortable sends like send, but once ctx ends the message in flight
// gets AbortGrace to finish before its connection is dropped.
func (d *Dispatcher) sendAbortable(ctx context.Context, conn *connSlot, c data.Claim) data.Outcome {
	done := make(chan struct{})
	defer close(done)
	var aborted atomic.Bool
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done:
		case <-time.After(d.opts.AbortGrace):
			if cn := conn.get(); cn != nil {
				aborted.Store(true)
				cn.Abort()
			}
		}
	}()
	o := d.send(ctx, conn, c)
	if aborted.Load() && o.State != data.DeliverySent {
		conn.set(nil)
		return d.stopped()
	}
	return o
}

// stopped is a message our own stop dropped: not the relay's fault nor
// the recipient's, so it stays pending and uncounted for the next sender.
func (d *Dispatcher) stopped() data.Outcome {
	return data.Outcome{State: data.DeliveryPending, Relay: true, Error: "stopped while sending", NextAttempt: d.opts.Now()}
}

// send makes one attempt and says what came of it.
func (d *Dispatcher) send(ctx context.Context, conn *connSlot, c data.Claim) data.Outcome {
	msg, err := d.composer.Compose(c.Delivery, c.Notification)
	if err != nil {
		// A message that cannot be composed will not compose on a retry.
		return data.Outcome{State: data.DeliveryFailed, Error: err.Error()}
	}
	cn := conn.get()
	if cn == nil {
		if cn, err = d.sender.Dial(ctx); err != nil {
			if ctx.Err() != nil {
				return d.stopped()
			}
			return d.failure(c, err)
		}
		conn.set(cn)
	}
	if err := cn.Send(msg.From, msg.To, msg.Bytes); err != nil {
		if ctx.Err() != nil {
			// Our own stop cut the message off (sendAbortable), not the
			// relay: nobody is told the relay refuses mail.
			cn.Close()
			conn.set(nil)
			return d.stopped()
		}
		var se *mail.SendError
		if errors.As(err, &se) && (se.ConnectionLost() || se.RelayLevel()) {
			cn.Close()
			conn.set(nil)
		}
		return d.failure(c, err)
	}
	return data.Outcome{State: data.DeliverySent, MessageID: msg.MessageID}
}

// failure decides between pausing for the relay, retrying, bouncing and
// giving up.
func (d *Dispatcher) failure(c data.Claim, err error) data.Outcome {
	o := data.Outcome{Error: err.Error()}
	var se *mail.SendError
	if errors.As(err, &se) {
		o.Code = se.Code
		if se.RelayLevel() {
			// The relay's trouble is not the recipient's fault: keep the
			// delivery pending, uncounted, and pause sending.
			o.State, o.Relay = data.DeliveryPending, true
			o.NextAttempt = d.pause(se)
			return o
		}
		if se.Permanent() {
			o.State = data.DeliveryBounced
			return o
		}
	}
	attempt := c.Delivery.Attempts + 1
	if attempt >= d.opts.MaxAttempts {
		o.State = data.DeliveryFailed
		return o
	}
	o.State = data.DeliveryPending
	o.NextAttempt = d.opts.Now().Add(d.backoff(attempt))
	return o
}

// backoff is the wait after the given attempt: Backoff·2^(attempt-1) with
// ±20% jitter, so a crowd of retries does not hit the server at once.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	base := float64(d.opts.Backoff) * math.Pow(2, float64(attempt-1))
	base = math.Min(base, float64(d.opts.MaxBackoff))
	return time.Duration(base * (0.8 + 0.4*mrand.Float64()))
}
