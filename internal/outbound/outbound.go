// Package outbound makes the HTTP requests Oshirase sends to addresses
// other people gave it (webhooks, Slack, Teams): https only, never to this
// machine or a private network unless an admin allowed a range, with a
// timeout and a bound on what is read back; bodies are signed.
package outbound

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// Options says what may be reached.
type Options struct {
	// AllowHTTP permits plain http:// addresses.
	AllowHTTP bool
	// Allow lists ranges that may be reached although they are private
	// or local (for a webhook inside the company network; tests).
	Allow []netip.Prefix
	// Timeout bounds a whole request (default 10 s).
	Timeout time.Duration
	// MaxResponse bounds what is read of an answer (default 64 KiB).
	MaxResponse int64
}

// Client sends requests under Options.
type Client struct {
	opts Options
	http *http.Client
}

// ErrRefused is returned for an address that may not be reached.
var ErrRefused = errors.New("outbound: address refused")

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

// New returns a client.
func New(opts Options) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxResponse == 0 {
		opts.MaxResponse = 64 << 10
	}
	c := &Client{opts: opts}
	dialer := &net.Dialer{Timeout: opts.Timeout, Control: c.control}
	c.http = &http.Client{Timeout: opts.Timeout, Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil,
		TLSHandshakeTimeout: opts.Timeout, ResponseHeaderTimeout: opts.Timeout, MaxIdleConnsPerHost: 2},
		// A redirect could lead anywhere: a webhook answers where it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
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
	for _, p := range c.opts.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s is in %s (local or private)", ErrRefused, a, p)
		}
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
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		return c.Allowed(a)
	}
	return nil
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
