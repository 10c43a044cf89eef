package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/channelmsg"
	"github.com/oshirase/oshirase/internal/outbound"
)

// ChannelOptions configures a ChannelSender.
type ChannelOptions struct {
	Instance string
	Now      func() time.Time
	// Batch is how many deliveries are claimed at a time (default 50).
	Batch int
	// Lease is how long a claim holds (default 2 minutes).
	Lease time.Duration
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
}

// NewChannelSender returns a sender.
func NewChannelSender(store *data.Store, client *outbound.Client, writer *channelmsg.Writer, opts ChannelOptions, log *slog.Logger) *ChannelSender {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Batch == 0 {
		opts.Batch = 50
	}
	if opts.Lease == 0 {
		opts.Lease = 2 * time.Minute
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

// Sweep sends what is due.
func (s *ChannelSender) Sweep(ctx context.Context) (Stats, error) {
	var st Stats
	if due, err := s.store.ChannelDeliveriesDue(ctx); err != nil || !due {
		return st, err
	}
	for ctx.Err() == nil {
		claims, err := s.store.ClaimChannelDeliveries(ctx, s.opts.Instance, s.opts.Batch, s.opts.Lease)
		if err != nil || len(claims) == 0 {
			return st, err
		}
		for _, c := range claims {
			switch s.send(ctx, c) {
			case data.DeliverySent:
				st.Sent++
			case data.DeliveryPending:
				st.Retried++
			default:
				st.Failed++
			}
		}
	}
	return st, nil
}

// Run sweeps every tick until ctx ends.
func (s *ChannelSender) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("channel sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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
	body, err := s.writer.Body(ch.Kind, c.Notification, ch.Lang)
	if err != nil {
		s.finish(record, d, data.Outcome{State: data.DeliveryFailed, Error: err.Error()})
		return data.DeliveryFailed
	}
	secret := ""
	if ch.Kind == data.ChannelWebhook {
		secret = ch.Secret
	}
	res, err := s.client.Post(ctx, ch.URL, body, secret, s.opts.Now())
	o := data.Outcome{State: data.DeliverySent}
	switch {
	case err != nil && errors.Is(err, outbound.ErrRefused):
		o = data.Outcome{State: data.DeliveryFailed, Error: err.Error()}
	case err != nil:
		o = data.Outcome{State: data.DeliveryPending, Error: err.Error()}
	case res.Status >= 200 && res.Status < 300:
		o.Code = res.Status
	case res.Status == 429 || res.Status >= 500:
		o = data.Outcome{State: data.DeliveryPending, Code: res.Status, Error: fmt.Sprintf("HTTP %d", res.Status)}
	default:
		o = data.Outcome{State: data.DeliveryFailed, Code: res.Status, Error: fmt.Sprintf("HTTP %d: %.200s", res.Status, res.Body)}
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
	return o.State
}

func (s *ChannelSender) finish(ctx context.Context, d data.Delivery, o data.Outcome) {
	if err := s.store.RecordAttempt(ctx, d.ID, s.opts.Instance, o); err != nil {
		s.log.Error("could not record a channel delivery", "delivery", d.ID, "err", err)
	}
}
