package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/channelmsg"
	"github.com/oshirase/oshirase/internal/faillog"
	"github.com/oshirase/oshirase/internal/outbound"
)

// ChannelOptions configures a ChannelSender.
type ChannelOptions struct {
	Instance string
	Now      func() time.Time
	// Manage gives where a channel is managed, a webhook's
	// meta.unsubscribe: a subscriber's signed settings link, or the
	// console's page for an operators' channel; nil gives the page's
	// channel subscription page.
	Manage func(channelID int64, operator bool) string
	// Workers is how many posts are in flight at once (default 16): a
	// receiver that hangs holds up one worker for its timeout, not the
	// channels queued behind it.
	Workers int
	// Batch is how many deliveries are claimed at a time (default 50).
	Batch int
	// Lease is how long a claim holds before another sender may take the
	// delivery over (default 20 seconds). A live sender renews its claims
	// every third of it, so only a dead one's claims run out, and a crash
	// strands them for seconds.
	Lease time.Duration
	// AbortGrace is how long a post in flight may still take once a stop
	// is asked for; then it is cut off and its claim handed back, not
	// counted as an attempt (default 2 seconds).
	AbortGrace time.Duration
}

// ChannelSender posts the deliveries of webhook, Slack and Teams
// channels: the same outbox, claims, attempts and retries as email, with
// HTTP instead of SMTP.
type ChannelSender struct {
	store  *data.Store
	client *outbound.Client
	writer *channelmsg.Writer
	opts   ChannelOptions
	log    *slog.Logger

	// alerted is when the operators were last told that a kind's service
	// refused a payload: once an hour at most, however many notices fail.
	alertMu sync.Mutex
	alerted map[string]time.Time
}

// NewChannelSender returns a sender.
func NewChannelSender(store *data.Store, client *outbound.Client, writer *channelmsg.Writer, opts ChannelOptions, log *slog.Logger) *ChannelSender {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers == 0 {
		opts.Workers = 16
	}
	if opts.Batch == 0 {
		opts.Batch = 50
	}
	if opts.Lease == 0 {
		opts.Lease = 20 * time.Second
	}
	if opts.AbortGrace == 0 {
		opts.AbortGrace = 2 * time.Second
	}
	if opts.Instance == "" {
		host, _ := os.Hostname()
		opts.Instance = fmt.Sprintf("%s/%d/channels", host, os.Getpid())
	}
	return &ChannelSender{store: store, client: client, writer: writer, opts: opts, log: log}
}

// channelBackoff is the wait before retry n (1-based); the last repeats
// until the channel is disabled.
var channelBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour}

// channelRefusalAttempts is how often a delivery is tried whose receiver
// refuses it (a 4xx other than 410 Gone and 429): a misconfigured
// receiver mended within minutes still gets the notice, one that stays
// wrong does not hold a delivery for days. The retries wait as
// channelBackoff says: a minute, then five.
const channelRefusalAttempts = 3

// Sweep sends what is due, Workers posts at a time, and returns when
// nothing is due or ctx ends. While it runs, the claims it holds are
// renewed, and no post starts under a claim that may have run out. On the
// way out, claims not started are handed back at once, and a post in
// flight gets AbortGrace before it is cut off and handed back too.
func (s *ChannelSender) Sweep(ctx context.Context) (Stats, error) {
	var st Stats
	if due, err := s.store.ChannelDeliveriesDue(ctx); err != nil || !due {
		return st, err
	}
	renew := startRenewing(s.opts.Lease, s.opts.Now, func(ctx context.Context) error {
		_, err := s.store.RenewChannelClaims(ctx, s.opts.Instance, s.opts.Lease)
		return err
	}, s.log, "channel claims")
	defer renew.stop()
	work := make(chan data.Claim)
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Go(func() {
			for c := range work {
				if ctx.Err() != nil || !renew.holds(c.Delivery.ClaimedUntil) {
					s.release(c)
					continue
				}
				switch s.send(ctx, c) {
				case data.DeliverySent:
					atomic.AddInt64(&st.Sent, 1)
				case data.DeliveryPending:
					atomic.AddInt64(&st.Retried, 1)
				case data.DeliveryFailed:
					atomic.AddInt64(&st.Failed, 1)
				}
			}
		})
	}
	var err error
claiming:
	for ctx.Err() == nil {
		var claims []data.Claim
		claims, err = s.store.ClaimChannelDeliveries(ctx, s.opts.Instance, s.opts.Batch, s.opts.Lease)
		if err != nil || len(claims) == 0 {
			break
		}
		for i, c := range claims {
			select {
			case work <- c:
			case <-ctx.Done():
				s.release(claims[i:]...)
				break claiming
			}
		}
	}
	close(work)
	wg.Wait()
	return st, err
}

// Run sweeps every tick until ctx ends.
func (s *ChannelSender) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	// A sweep every second against a database that is down logs the
	// stretch, not each sweep.
	fails := faillog.New(s.log, "channel sweeps still fail")
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			fails.Fail("channel sweep failed", err)
		} else if err == nil {
			fails.OK("channel sweeps work again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// release hands claims back without counting an attempt.
func (s *ChannelSender) release(claims ...data.Claim) {
	ids := make([]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.Delivery.ID
	}
	if err := s.store.ReleaseChannelClaims(context.Background(), s.opts.Instance, ids); err != nil {
		s.log.Error("could not hand channel claims back; they return when the lease ends", "err", err)
	}
}

// postContext is ctx for a post, except that a stop cuts it off only
// AbortGrace later, so a post about to be answered is not wasted.
func (s *ChannelSender) postContext(ctx context.Context) (context.Context, context.CancelFunc) {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var timer *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(s.opts.AbortGrace, cancel)
		mu.Unlock()
	})
	return pctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// send posts one delivery and records the outcome, which it returns; ""
// means it was handed back unfinished.
func (s *ChannelSender) send(ctx context.Context, c data.Claim) string {
	record := context.WithoutCancel(ctx)
	d := c.Delivery
	ch, err := s.store.Channel(record, *d.ChannelID)
	if err != nil {
		s.finish(record, d, data.Outcome{State: data.DeliveryFailed, Error: "channel gone: " + err.Error()})
		return data.DeliveryFailed
	}
	if ch.DisabledAt != nil {
		s.finish(record, d, data.Outcome{State: data.DeliveryFailed, Error: "channel disabled"})
		return data.DeliveryFailed
	}
	manage := ""
	if s.opts.Manage != nil {
		manage = s.opts.Manage(ch.ID, ch.Operator)
	}
	n := c.Notification
	if !ch.Operator {
		// A channel a visitor registered is not told of contract-only
		// components.
		n = n.ForPublic()
	}
	body, err := s.writer.BodyFor(ch.Kind, n, ch.Lang, manage)
	if err != nil {
		s.finish(record, d, data.Outcome{State: data.DeliveryFailed, Error: err.Error()})
		return data.DeliveryFailed
	}
	secret := ""
	if ch.Kind == data.ChannelWebhook {
		secret = ch.Secret
	}
	pctx, cancel := s.postContext(ctx)
	// A channel a visitor registered never reaches a range opened for
	// the operators.
	client := s.client
	if !ch.Operator {
		client = client.Anonymous()
	}
	res, err := client.Post(pctx, ch.URL, body, secret, s.opts.Now())
	cancel()
	o := data.Outcome{State: data.DeliverySent}
	gone, refused := false, false
	switch {
	case err != nil && ctx.Err() != nil:
		// Cut off by our own stop, which says nothing about the receiver:
		// hand it back for the next start (it may have got it: a
		// duplicate only for a post in flight at a stop).
		s.release(c)
		return ""
	case err != nil && errors.Is(err, outbound.ErrRefused):
		o = data.Outcome{State: data.DeliveryFailed, Error: redactedError(err, ch.URL)}
	case err != nil:
		o = data.Outcome{State: data.DeliveryPending, Error: redactedError(err, ch.URL)}
	case res.Status >= 200 && res.Status < 300:
		o.Code = res.Status
	case res.Status == http.StatusTooManyRequests || res.Status >= 500:
		o = data.Outcome{State: data.DeliveryPending, Code: res.Status, Error: fmt.Sprintf("HTTP %d", res.Status)}
	case (res.Status == http.StatusBadRequest || res.Status == http.StatusRequestEntityTooLarge) && ch.Kind != data.ChannelWebhook:
		// Slack and Teams answer 400 or 413 to a payload they cannot take
		// (too large, a malformed block): our bug, not the receiver's, so
		// it is not retried, not held against the channel, and told.
		o = data.Outcome{State: data.DeliveryFailed, Code: res.Status, Error: fmt.Sprintf("%sHTTP %d: %.200s", data.PayloadRefused, res.Status, res.Body)}
		s.payloadRefused(record, ch, d, o.Error)
		s.finish(record, d, o)
		return o.State
	case res.Status == http.StatusGone:
		// The receiver says the address is no more: asking again, or for
		// the next notice, would only be refused again.
		gone = true
		o = data.Outcome{State: data.DeliveryFailed, Code: res.Status, Error: fmt.Sprintf("HTTP %d: %.200s", res.Status, res.Body)}
	default:
		refused = true
		o = data.Outcome{State: data.DeliveryPending, Code: res.Status, Error: fmt.Sprintf("HTTP %d: %.200s", res.Status, res.Body)}
		if d.Attempts+1 >= channelRefusalAttempts {
			o.State = data.DeliveryFailed
		}
	}
	if o.State == data.DeliverySent {
		if err := s.store.ChannelWorked(record, ch.ID); err != nil {
			s.log.Error("could not clear a channel's failures", "channel", ch.ID, "err", err)
		}
	} else {
		disabled, err := s.store.ChannelFailed(record, ch.ID, o.Error)
		if err != nil {
			s.log.Error("could not record a channel's failure", "channel", ch.ID, "err", err)
		}
		if disabled {
			s.log.Warn("channel disabled after failing for days", "channel", ch.ID, "kind", ch.Kind)
			o.State = data.DeliveryFailed
		}
		if o.State == data.DeliveryPending {
			o.NextAttempt = s.opts.Now().Add(channelBackoff[min(d.Attempts, len(channelBackoff)-1)])
		}
	}
	s.finish(record, d, o)
	switch {
	case gone:
		if disabled, err := s.store.ChannelGone(record, ch.ID, o.Error); err != nil {
			s.log.Error("could not disable a channel whose receiver is gone", "channel", ch.ID, "err", err)
		} else if disabled {
			s.log.Warn("channel disabled: its receiver answered 410 Gone", "channel", ch.ID, "kind", ch.Kind)
		}
	case refused && o.State == data.DeliveryFailed:
		if disabled, err := s.store.ChannelRefused(record, ch.ID, o.Error); err != nil {
			s.log.Error("could not check a channel's refused deliveries", "channel", ch.ID, "err", err)
		} else if disabled {
			s.log.Warn("channel disabled: its receiver refused deliveries in a row", "channel", ch.ID, "kind", ch.Kind, "deliveries", data.ChannelRefusalsToDisable)
		}
	}
	return o.State
}

// redactedError is err's message with the channel's URL cut to its host:
// errors of the transport quote the URL, whose path is a Slack or Teams
// webhook's secret, and the console and the operators' alerts show them.
func redactedError(err error, rawURL string) string {
	return strings.ReplaceAll(err.Error(), rawURL, data.MaskedChannelAddress(rawURL))
}

func (s *ChannelSender) finish(ctx context.Context, d data.Delivery, o data.Outcome) {
	if err := s.store.RecordAttempt(ctx, d.ID, s.opts.Instance, o); err != nil {
		s.log.Error("could not record a channel delivery", "delivery", d.ID, "err", err)
	}
}

// payloadRefused logs a payload Slack or Teams refused and tells the
// operators, at most once an hour per kind.
func (s *ChannelSender) payloadRefused(ctx context.Context, ch *data.Channel, d data.Delivery, detail string) {
	s.log.Error("a channel service refused the payload Oshirase built", "kind", ch.Kind, "channel", ch.ID,
		"notification", d.NotificationID, "answer", detail)
	s.alertMu.Lock()
	now := s.opts.Now()
	if s.alerted == nil {
		s.alerted = map[string]time.Time{}
	}
	last, told := s.alerted[ch.Kind]
	if told && now.Sub(last) < time.Hour {
		s.alertMu.Unlock()
		return
	}
	s.alerted[ch.Kind] = now
	s.alertMu.Unlock()
	if err := s.store.AlertPayloadRefused(ctx, ch.Kind, detail); err != nil {
		s.log.Error("could not alert the operators of a refused payload", "err", err)
	}
}
