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
	"github.com/oshirase/oshirase/mail"
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
	// the delivery over (default 5 minutes).
	Lease time.Duration
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
	defd(&o.Lease, 5*time.Minute)
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
// has nothing due, or when ctx ends. On the way out, claims not yet started
// are handed back at once; a message being sent is finished and recorded.
func (d *Dispatcher) Sweep(ctx context.Context) (*Stats, error) {
	stats := &Stats{}
	work := make(chan data.Claim)
	var wg sync.WaitGroup
	for i := 0; i < d.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.worker(ctx, work, stats)
		}()
	}
	var err error
claiming:
	for ctx.Err() == nil {
		var claims []data.Claim
		claims, err = d.store.ClaimDeliveries(ctx, d.id, d.opts.Batch, d.opts.Lease)
		if err != nil || len(claims) == 0 {
			break
		}
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

// worker owns one SMTP connection for the length of a sweep.
func (d *Dispatcher) worker(ctx context.Context, work <-chan data.Claim, stats *Stats) {
	var conn *mail.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// Recording must happen even while shutting down: a message the server
	// accepted is marked sent so it is never sent again.
	record := context.WithoutCancel(ctx)
	for c := range work {
		if ctx.Err() != nil || d.limiter.Wait(ctx) != nil {
			d.release([]data.Claim{c})
			continue
		}
		outcome := d.send(ctx, &conn, c)
		switch outcome.State {
		case data.DeliverySent:
			atomic.AddInt64(&stats.Sent, 1)
		case data.DeliveryPending:
			atomic.AddInt64(&stats.Retried, 1)
		case data.DeliveryFailed:
			atomic.AddInt64(&stats.Failed, 1)
		case data.DeliveryBounced:
			atomic.AddInt64(&stats.Bounced, 1)
		}
		if err := d.store.RecordAttempt(record, c.Delivery.ID, d.id, outcome); err != nil {
			d.log.Error("could not record a delivery attempt", "delivery", c.Delivery.ID, "state", outcome.State, "err", err)
		}
	}
}

// send makes one attempt and says what came of it.
func (d *Dispatcher) send(ctx context.Context, conn **mail.Conn, c data.Claim) data.Outcome {
	msg, err := d.composer.Compose(c.Delivery, c.Notification)
	if err != nil {
		// A message that cannot be composed will not compose on a retry.
		return data.Outcome{State: data.DeliveryFailed, Error: err.Error()}
	}
	if *conn == nil {
		if *conn, err = d.sender.Dial(ctx); err != nil {
			*conn = nil
			return d.failure(c, err)
		}
	}
	if err := (*conn).Send(msg.From, msg.To, msg.Bytes); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.ConnectionLost() {
			(*conn).Close()
			*conn = nil
		}
		return d.failure(c, err)
	}
	return data.Outcome{State: data.DeliverySent, MessageID: msg.MessageID}
}

// failure decides between retrying, bouncing and giving up.
func (d *Dispatcher) failure(c data.Claim, err error) data.Outcome {
	o := data.Outcome{Error: err.Error()}
	var se *mail.SendError
	if errors.As(err, &se) {
		o.Code = se.Code
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
