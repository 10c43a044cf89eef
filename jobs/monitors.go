package jobs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/faillog"
	"github.com/oshirase/oshirase/internal/outbound"
)

// MonitorOptions configures a MonitorRunner.
type MonitorOptions struct {
	// Instance names this process in leases and results.
	Instance string
	Location *time.Location
	// Now is the clock results are stamped with and due times read by.
	Now func() time.Time
	// Concurrency bounds the checks running at once (default 32).
	Concurrency int
	// RootCAs, when set, are the certificates HTTPS and TLS checks trust
	// (tests); nil uses the system's.
	RootCAs *x509.CertPool
	// Outbound is the policy every check dials under (the operators'
	// client: local and private ranges only where opened); nil opens
	// nothing.
	Outbound *outbound.Client
	// Hold says whether email is held (no relay configured).
	Hold func() bool
	// Changed is called after a signal changed something (the page
	// cache, the dispatcher).
	Changed func(*data.SignalOutcome)
}

// MonitorRunner runs the checks that are due. Every instance runs one;
// each check is claimed with a lease, so it runs on one instance at a time.
type MonitorRunner struct {
	store *data.Store
	opts  MonitorOptions
	log   *slog.Logger
}

// NewMonitorRunner returns a runner.
func NewMonitorRunner(store *data.Store, opts MonitorOptions, log *slog.Logger) *MonitorRunner {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Instance == "" {
		host, _ := os.Hostname()
		opts.Instance = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	if opts.Hold == nil {
		opts.Hold = func() bool { return false }
	}
	if opts.Outbound == nil {
		opts.Outbound = outbound.New(outbound.Options{})
	}
	return &MonitorRunner{store: store, opts: opts, log: log}
}

// MonitorStats is what a sweep did.
type MonitorStats struct {
	Checks, Failures, Changes int
}

// Sweep runs every check due now, at most Concurrency at a time, and
// records each result.
func (r *MonitorRunner) Sweep(ctx context.Context) (MonitorStats, error) {
	var (
		st  MonitorStats
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, r.opts.Concurrency)
	)
	if due, err := r.store.MonitorsDue(ctx); err != nil || !due {
		return st, err
	}
	for ctx.Err() == nil {
		ms, err := r.store.ClaimMonitors(ctx, r.opts.Instance, r.opts.Concurrency*2)
		if err != nil {
			wg.Wait()
			return st, err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			sem <- struct{}{}
			wg.Add(1)
			go func(m data.Monitor) {
				defer func() { <-sem; wg.Done() }()
				res := r.Check(ctx, &m)
				out, err := r.store.RecordCheck(ctx, m.ID, r.opts.Instance, res, r.opts.Location)
				if err != nil {
					r.log.Error("could not record a check", "monitor", m.ID, "err", err)
				}
				mu.Lock()
				st.Checks++
				if !res.OK {
					st.Failures++
				}
				if out != nil {
					st.Changes++
				}
				mu.Unlock()
				if out != nil {
					r.log.Info("monitor changed a component's automatic status", "component", out.ComponentID, "from", out.From, "to", out.To, "action", out.Action)
					if r.opts.Changed != nil {
						r.opts.Changed(out)
					}
				}
			}(m)
		}
		wg.Wait()
	}
	return st, nil
}

// Run sweeps every tick until ctx ends.
func (r *MonitorRunner) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	// A sweep every second against a database that is down logs the
	// stretch, not each sweep.
	fails := faillog.New(r.log, "monitor sweeps still fail")
	for {
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			fails.Fail("monitor sweep failed", err)
		} else if err == nil {
			fails.OK("monitor sweeps work again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check runs one check now.
func (r *MonitorRunner) Check(ctx context.Context, m *data.Monitor) data.CheckResult {
	ctx, cancel := context.WithTimeout(ctx, m.Timeout())
	defer cancel()
	at := r.opts.Now()
	start := time.Now()
	var err error
	switch m.Kind {
	case data.MonitorHTTP:
		err = r.checkHTTP(ctx, m)
	case data.MonitorTCP:
		var c net.Conn
		if c, err = r.opts.Outbound.Dialer().DialContext(ctx, "tcp", m.Target); err == nil {
			c.Close()
		}
	case data.MonitorTLS:
		err = r.checkTLS(ctx, m, at)
	case data.MonitorDNS:
		err = r.checkDNS(ctx, m)
	default:
		err = fmt.Errorf("unknown kind %q", m.Kind)
	}
	res := data.CheckResult{At: at, OK: err == nil, Latency: time.Since(start)}
	var dnsErr *net.DNSError
	if err != nil {
		res.Error = err.Error()
		if errors.As(err, &dnsErr) {
			// Not the resolver's address: the console shows this to every
			// editor.
			res.Error = fmt.Sprintf("could not resolve %s: %s", dnsErr.Name, dnsErr.Err)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Error = fmt.Sprintf("timed out after %s", m.Timeout())
		}
	}
	return res
}

func (r *MonitorRunner) checkHTTP(ctx context.Context, m *data.Monitor) error {
	codes, err := data.ParseCodes(m.ExpectCodes)
	if err != nil {
		return err
	}
	// Checked again here: a row saved before forbidden headers were
	// refused sends none of them.
	headers, err := data.ParseHeaders(m.Headers)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, m.Method, m.Target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "Oshirase-Monitor/1")
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	res, err := r.opts.Outbound.Checker(r.opts.RootCAs, m.FollowRedirects).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	ok := false
	for _, c := range codes {
		if res.StatusCode >= c[0] && res.StatusCode <= c[1] {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("status %d, expected %s", res.StatusCode, m.ExpectCodes)
	}
	if m.Keyword != "" {
		body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if err != nil {
			return err
		}
		if !bytes.Contains(body, []byte(m.Keyword)) {
			return fmt.Errorf("the response does not contain %q", m.Keyword)
		}
	}
	return nil
}

func (r *MonitorRunner) checkTLS(ctx context.Context, m *data.Monitor, now time.Time) error {
	host, _, err := net.SplitHostPort(m.Target)
	if err != nil {
		return err
	}
	d := tls.Dialer{NetDialer: r.opts.Outbound.Dialer(), Config: &tls.Config{RootCAs: r.opts.RootCAs, ServerName: host,
		Time: func() time.Time { return now }}}
	c, err := d.DialContext(ctx, "tcp", m.Target)
	if err != nil {
		return err
	}
	defer c.Close()
	certs := c.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return errors.New("no certificate")
	}
	left := certs[0].NotAfter.Sub(now)
	if left < time.Duration(m.WarnDays)*24*time.Hour {
		return fmt.Errorf("the certificate expires in %d days (%s)", int(left.Hours()/24), certs[0].NotAfter.UTC().Format(time.DateOnly))
	}
	return nil
}

func (r *MonitorRunner) checkDNS(ctx context.Context, m *data.Monitor) error {
	// A server the operator named is dialled under the policy; the
	// machine's own resolver is the machine's configuration.
	server, client := m.DNSServer, &dns.Client{Timeout: m.Timeout(), Dialer: r.opts.Outbound.Dialer()}
	if server == "" {
		client.Dialer = nil
		cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cfg.Servers) == 0 {
			return errors.New("no DNS server configured")
		}
		server = net.JoinHostPort(cfg.Servers[0], cfg.Port)
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(m.Target), dns.StringToType[m.DNSType])
	in, _, err := client.ExchangeContext(ctx, q, server)
	if err != nil {
		return err
	}
	if in.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("DNS answered %s", dns.RcodeToString[in.Rcode])
	}
	var got []string
	for _, rr := range in.Answer {
		switch v := rr.(type) {
		case *dns.A:
			got = append(got, v.A.String())
		case *dns.AAAA:
			got = append(got, v.AAAA.String())
		case *dns.CNAME:
			got = append(got, strings.TrimSuffix(v.Target, "."))
		case *dns.MX:
			got = append(got, strings.TrimSuffix(v.Mx, "."))
		case *dns.TXT:
			got = append(got, strings.Join(v.Txt, ""))
		}
	}
	if len(got) == 0 {
		return fmt.Errorf("no %s record", m.DNSType)
	}
	if m.DNSExpect == "" {
		return nil
	}
	want := strings.TrimSuffix(m.DNSExpect, ".")
	for _, g := range got {
		if strings.EqualFold(g, want) || (m.DNSType == "TXT" && strings.Contains(g, want)) {
			return nil
		}
	}
	return fmt.Errorf("%s answered %s, expected %s", m.DNSType, strings.Join(got, ", "), want)
}
