// Package outbound holds the policy of every request Oshirase sends to an
// address someone typed (channels, monitors): never to this machine, a
// private network or a cloud metadata address unless the range was opened
// for operators (by configuration or by an admin) — and never, for an
// anonymous visitor's request, whatever was opened. Channels are https
// only, with a timeout and a bound on what is read back; bodies are
// signed.
package outbound

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Options says what may be reached.
type Options struct {
	// AllowHTTP permits plain http:// addresses for channels (monitors
	// may always check http://).
	AllowHTTP bool
	// Allow lists ranges the operators' requests (their channels, monitors)
	// may reach although private or local: a webhook inside the company
	// network. Ranges an admin opens in the console are added with
	// SetOpened. Requests made for anonymous visitors never use either.
	Allow []netip.Prefix
	// AnonymousAllow opens ranges to anonymous visitors' channels too. No
	// configuration sets it: it exists for tests, whose receivers listen on
	// loopback.
	AnonymousAllow []netip.Prefix
	// Timeout bounds a whole request (default 10 s).
	Timeout time.Duration
	// MaxResponse bounds what is read of an answer (default 64 KiB).
	MaxResponse int64
}

// Client sends requests under Options: the operators' client, whose
// requests may reach the ranges opened for them. Anonymous returns its
// twin for requests an anonymous visitor asked for.
type Client struct {
	opts      Options
	http      *http.Client
	anonymous bool
	// opened are the ranges admins opened in the console.
	opened atomic.Pointer[[]netip.Prefix]
	anon   *Client
}

// ErrRefused is returned for an address that may not be reached; with
// ErrNeverOpened too for one no opened range makes reachable.
var (
	ErrRefused = errors.New("outbound: address refused")
	// ErrInternal: a local or private address, reachable once its range is
	// opened for operators.
	ErrInternal = errors.New("local or private")
	// ErrNeverOpened: an address no opened range makes reachable.
	ErrNeverOpened = errors.New("never reached")
)

// refusal is an address refused, and why.
type refusal struct {
	addr netip.Addr
	why  string
	kind error // ErrInternal or ErrNeverOpened
}

func (r *refusal) Error() string   { return fmt.Sprintf("%v: %s %s", ErrRefused, r.addr, r.why) }
func (r *refusal) Unwrap() []error { return []error{ErrRefused, r.kind} }

// blocked are the ranges never reached unless allowed: this machine, the
// private networks, link-local (cloud metadata lives there), carrier-grade
// NAT, multicast and the unspecified addresses.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("ff00::/8"),
}

// metadata are the cloud providers' instance-metadata and credential
// endpoints: never reached, whatever range is opened.
var metadata = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, Oracle
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task credentials
	netip.MustParseAddr("169.254.169.253"), // AWS DNS, time
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
}

// unspecified are the "this host" addresses: a connection to 0.0.0.0 or ::
// reaches this machine, so they are refused like metadata, whatever is
// opened (opening loopback is the way to reach this machine).
var unspecified = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("::/128")}

// New returns the operators' client.
func New(opts Options) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxResponse == 0 {
		opts.MaxResponse = 64 << 10
	}
	c := newClient(opts, false)
	anon := opts
	anon.Allow, anon.AnonymousAllow = opts.AnonymousAllow, nil
	c.anon = newClient(anon, true)
	c.anon.anon = c.anon
	return c
}

func newClient(opts Options, anonymous bool) *Client {
	c := &Client{opts: opts, anonymous: anonymous}
	c.http = &http.Client{Timeout: opts.Timeout, Transport: &http.Transport{DialContext: c.Dialer().DialContext, Proxy: nil,
		TLSHandshakeTimeout: opts.Timeout, ResponseHeaderTimeout: opts.Timeout, MaxIdleConnsPerHost: 2},
		// A redirect could lead anywhere: a webhook answers where it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
}

// Anonymous is the client for requests an anonymous visitor asked for (a
// channel subscription from the public page): no range opened for the
// operators applies to it.
func (c *Client) Anonymous() *Client { return c.anon }

// Configured are the ranges opened by configuration (OSHIRASE_OUTBOUND_ALLOW).
func (c *Client) Configured() []netip.Prefix { return c.opts.Allow }

// SetOpened replaces the ranges admins opened in the console.
func (c *Client) SetOpened(ps []netip.Prefix) {
	ps = slices.Clone(ps)
	c.opened.Store(&ps)
}

// Opened are the ranges admins opened, as last set.
func (c *Client) Opened() []netip.Prefix {
	if c.anonymous {
		return nil
	}
	if p := c.opened.Load(); p != nil {
		return *p
	}
	return nil
}

// Dialer is a dialer under this client's policy: every address it dials
// (after DNS, and again for each redirect or retry) is checked first.
func (c *Client) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: c.opts.Timeout, Control: c.control}
}

// Checker is an HTTP client for monitors under this policy: plain http
// permitted, no proxy, no kept connections; redirects (when followed, at
// most 10) go through the same dialer, so each hop is checked.
func (c *Client) Checker(roots *x509.CertPool, follow bool) *http.Client {
	tr := &http.Transport{DialContext: c.Dialer().DialContext, Proxy: nil, DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{RootCAs: roots}, TLSHandshakeTimeout: c.opts.Timeout}
	redirect := func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: a redirect to %s:", ErrRefused, req.URL.Scheme)
		}
		return c.CheckHost(req.URL.Hostname())
	}
	return &http.Client{Transport: tr, CheckRedirect: redirect}
}

// control runs on the address actually dialled (after DNS), so a name
// that resolves to a private address is refused too.
func (c *Client) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	if err := c.Allowed(ap.Addr()); err != nil {
		return err
	}
	return nil
}

// Allowed says whether an address may be reached.
func (c *Client) Allowed(a netip.Addr) error {
	a = a.Unmap()
	if slices.Contains(metadata, a) {
		return &refusal{a, "is a cloud metadata address", ErrNeverOpened}
	}
	for _, p := range unspecified {
		if p.Contains(a) {
			return &refusal{a, "stands for this machine", ErrNeverOpened}
		}
	}
	for _, p := range c.opts.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	for _, p := range c.Opened() {
		if p.Contains(a) {
			return nil
		}
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return &refusal{a, "is in " + p.String() + " (local or private)", ErrInternal}
		}
	}
	return nil
}

// CheckHost refuses a host given as an address that may not be reached;
// a name is checked where it is dialled.
func (c *Client) CheckHost(host string) error {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return c.Allowed(a)
	}
	return nil
}

// CheckURL says whether an address is acceptable before anything is sent:
// https (or http when allowed), a host, no credentials.
func (c *Client) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || len(raw) > 2000 {
		return fmt.Errorf("%w: not a usable URL", ErrRefused)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !c.opts.AllowHTTP {
			return fmt.Errorf("%w: only https:// addresses", ErrRefused)
		}
	default:
		return fmt.Errorf("%w: only https:// addresses", ErrRefused)
	}
	return c.CheckHost(u.Hostname())
}

// Range errors, for an admin opening a range.
var (
	ErrRangePublic   = errors.New("outbound: the range is public; it needs no opening")
	ErrRangeTooWide  = errors.New("outbound: the range is too wide")
	ErrRangeMetadata = errors.New("outbound: the range holds a cloud metadata address")
	ErrRangeThisHost = errors.New("outbound: 0.0.0.0/8 and :: stand for this machine; open loopback instead")
	ErrRangeZone     = errors.New("outbound: an address with a zone (%eth0) cannot be opened")
)

// ParseRange reads an address or a CIDR range an admin wants to open: it
// must lie inside the refused ranges, be no wider than a /8 (IPv4) or a
// /32 (IPv6), and hold no cloud metadata address (those stay refused
// anyway; opening them reads as a mistake).
func ParseRange(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "%") {
		return netip.Prefix{}, ErrRangeZone
	}
	if a, err := netip.ParseAddr(s); err == nil {
		p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	} else if p, err = netip.ParsePrefix(s); err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p = p.Masked(); !p.IsValid() {
		return p, ErrRangeTooWide
	}
	if (p.Addr().Is4() && p.Bits() < 8) || (p.Addr().Is6() && p.Bits() < 32) {
		return p, ErrRangeTooWide
	}
	inside := false
	for _, b := range blocked {
		if b.Bits() <= p.Bits() && b.Contains(p.Addr()) {
			inside = true
		}
	}
	if !inside {
		return p, ErrRangePublic
	}
	for _, m := range metadata {
		if p.Contains(m) {
			return p, ErrRangeMetadata
		}
	}
	for _, u := range unspecified {
		if u.Overlaps(p) {
			return p, ErrRangeThisHost
		}
	}
	return p, nil
}

// Response is what came back.
type Response struct {
	Status int
	Body   []byte
}

// Post sends body as JSON to raw. With secret set the body is signed (see
// Sign). A transport failure or timeout is an error; any status is a
// Response.
func (c *Client) Post(ctx context.Context, raw string, body []byte, secret string, now time.Time) (*Response, error) {
	if err := c.CheckURL(raw); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Oshirase-Webhook/1")
	if secret != "" {
		ts := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set("X-Oshirase-Timestamp", ts)
		req.Header.Set("X-Oshirase-Signature", "v1="+Sign(secret, ts, body))
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.opts.MaxResponse))
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Body: b}, nil
}

// Sign is the signature of a body sent at timestamp (Unix seconds, as in
// X-Oshirase-Timestamp): hex HMAC-SHA256, keyed by the subscription's
// secret, over "timestamp.body". Receivers recompute it, compare in
// constant time and refuse timestamps more than 5 minutes old (replays).
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
