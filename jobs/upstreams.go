package jobs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/faillog"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/internal/upstream"
)

// UpstreamOptions configures an UpstreamRunner.
type UpstreamOptions struct {
	// Now is the clock results are stamped with (and recent feed entries
	// judged by).
	Now func() time.Time
	// Outbound is the policy every poll dials under (the operators'
	// client); nil opens nothing.
	Outbound *outbound.Client
	// RootCAs, when set, are the certificates HTTPS trusts (tests).
	RootCAs *x509.CertPool
	// Timeout bounds one poll (default 15 s).
	Timeout time.Duration
	// Concurrency bounds the polls running at once (default 8).
	Concurrency int
	// Hold says whether email is held (no relay configured).
	Hold func() bool
	// Changed is called after a poll changed what the page shows or a
	// signal (the page cache, the dispatcher).
	Changed func(*data.SignalOutcome)
}

// UpstreamRunner polls the upstream status sources that are due. Every
// instance runs one; a claim keeps each source on one instance at a time.
type UpstreamRunner struct {
	store *data.Store
	opts  UpstreamOptions
	log   *slog.Logger
}

// NewUpstreamRunner returns a runner.
func NewUpstreamRunner(store *data.Store, opts UpstreamOptions, log *slog.Logger) *UpstreamRunner {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Outbound == nil {
		opts.Outbound = outbound.New(outbound.Options{})
	}
	if opts.Timeout <= 0 {
		opts.Timeout = upstream.DefaultTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Hold == nil {
		opts.Hold = func() bool { return false }
	}
	return &UpstreamRunner{store: store, opts: opts, log: log}
}

// UpstreamStats is what a sweep did.
type UpstreamStats struct {
	Polls, Failures, Changes int
}

// Sweep polls every source due now and records each result.
func (r *UpstreamRunner) Sweep(ctx context.Context) (UpstreamStats, error) {
	var (
		st  UpstreamStats
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, r.opts.Concurrency)
	)
	for ctx.Err() == nil {
		us, err := r.store.ClaimUpstreams(ctx, r.opts.Concurrency*2)
		if err != nil {
			wg.Wait()
			return st, err
		}
		if len(us) == 0 {
			break
		}
		for _, u := range us {
			sem <- struct{}{}
			wg.Add(1)
			go func(u data.Upstream) {
				defer func() { <-sem; wg.Done() }()
				res := r.Poll(ctx, &u)
				out, changed, err := r.store.RecordUpstream(ctx, u.ID, res, r.opts.Hold())
				if err != nil {
					r.log.Error("could not record an upstream's poll", "upstream", u.ID, "err", err)
				}
				mu.Lock()
				st.Polls++
				if res.Error != "" {
					st.Failures++
				}
				if changed || out != nil {
					st.Changes++
				}
				mu.Unlock()
				if out != nil {
					r.log.Info("an upstream changed a component's automatic status", "upstream", u.ID, "component", out.ComponentID, "from", out.From, "to", out.To, "action", out.Action)
				}
				if (changed || out != nil) && r.opts.Changed != nil {
					r.opts.Changed(out)
				}
			}(u)
		}
		wg.Wait()
	}
	return st, nil
}

// Run sweeps every tick until ctx ends.
func (r *UpstreamRunner) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	fails := faillog.New(r.log, "upstream sweeps still fail")
	for {
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			fails.Fail("upstream sweep failed", err)
		} else if err == nil {
			fails.OK("upstream sweeps work again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll fetches one source now (conditionally) and reads its state.
func (r *UpstreamRunner) Poll(ctx context.Context, u *data.Upstream) data.UpstreamResult {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	at := r.opts.Now()
	res := data.UpstreamResult{At: at}
	fail := func(err error) data.UpstreamResult {
		res.Error = err.Error()
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			res.Error = fmt.Sprintf("could not resolve %s: %s", dnsErr.Name, dnsErr.Err)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Error = fmt.Sprintf("timed out after %s", r.opts.Timeout)
		}
		return res
	}
	if err := r.opts.Outbound.CheckHost(hostOf(u.URL)); err != nil {
		return fail(err)
	}
	got, err := upstream.Fetch(ctx, r.opts.Outbound.Checker(r.opts.RootCAs, true), u.URL, u.ETag, u.LastModified)
	if err != nil {
		return fail(err)
	}
	res.ETag, res.LastModified = got.ETag, got.LastModified
	if got.NotModified {
		res.NotModified = true
		return res
	}
	switch u.Kind {
	case data.UpstreamStatuspage:
		res.State, err = upstream.Statuspage(got.Body, u.Match)
	case data.UpstreamFeed:
		var rules upstream.Rules
		if rules, err = upstream.ParseRules(u.Match); err == nil {
			res.State, err = upstream.Feed(got.Body, rules, at)
		}
	default:
		err = fmt.Errorf("unknown kind %q", u.Kind)
	}
	if err != nil {
		return fail(err)
	}
	return res
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Hostname()
	}
	return ""
}
