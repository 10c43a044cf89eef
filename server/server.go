// Package server is Oshirase's web application: the public status pages and
// the operator console, on Echo.
package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
	"github.com/oshirase/oshirase/internal/channelmsg"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/markdown"
	"github.com/oshirase/oshirase/internal/outbound"
)

// Options configures the web application.
type Options struct {
	// BaseURL is the public address; https makes cookies Secure.
	BaseURL *url.URL
	// MetricsToken, when set, opens /metrics to that bearer token.
	MetricsToken string
	// Outbound sends to webhook, Slack and Teams addresses (its Anonymous
	// twin for subscriptions from the public page); Channels writes what is
	// sent there.
	Outbound *outbound.Client
	// AnonymousVerifyFloor is the least time a visitor waits for a failed
	// channel verification, so how fast an address failed tells nothing
	// about it (an open port answers slower than a closed one). Zero means
	// two seconds; negative, none.
	AnonymousVerifyFloor time.Duration
	Channels             *channelmsg.Writer
	// Location is the zone times are shown in.
	Location *time.Location
	// SecurityContact is shown in every page footer when set.
	SecurityContact string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MailEnabled says an SMTP server is configured: notices are queued for
	// sending. Without one they are held for an operator to look at.
	MailEnabled bool
	// Wake nudges the dispatcher after a notice is queued; nil is fine.
	Wake func()
	// Composer renders queued messages for the console's preview.
	Composer *mail.Composer
	// Secret verifies the signed links in emails.
	Secret string
	// PreviousSecrets still verify links and unseal TOTP secrets, while a
	// rotated secret's old links are still around.
	PreviousSecrets []string
	// NextJobRuns says when each scheduled job runs next, for the console.
	NextJobRuns func() map[string]time.Time
	// AccessLog records every request; nil records nothing.
	AccessLog *accesslog.Recorder
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// otherwise the client address is the socket's.
	TrustedProxies []*net.IPNet
	// Require2FA makes two-factor sign-in compulsory for admins.
	Require2FA bool
	// Snapshot is the file the last good public pages are saved to and
	// loaded from at start; empty keeps them in memory only.
	Snapshot string
	// Standby: the database did not answer at start. Only the public pages
	// from the snapshot are served; everything else is a 503 until main
	// replaces this instance with a full one.
	Standby bool
	// PageTTL is how long a rendered public page is served before it is
	// rendered again in the background; changes made through this instance
	// show at once whatever the TTL. Zero means three seconds.
	PageTTL time.Duration
	// DBRequestTimeout bounds the database work of a console or API
	// request (OSHIRASE_DB_REQUEST_TIMEOUT): past it the request gets a
	// 503 and its transaction is rolled back. Zero means ten seconds.
	DBRequestTimeout time.Duration
	// SSO, when set, lets operators sign in through an OpenID Connect
	// identity provider (see SSOOptions).
	SSO *SSOOptions
}

// Server holds the application's dependencies; handlers are its methods.
type Server struct {
	opts Options
	// apiDoc makes the OpenAPI document once (see openAPIJSON).
	apiDoc     sync.Once
	apiDocJSON []byte
	apiDocErr  error
	store      *data.Store
	log        *slog.Logger
	catalog    *locale.Catalog
	md         *markdown.Renderer
	pages      *renderer
	cache      *pageCache
	echo       *echo.Echo
	changeNo   atomic.Uint64
	outage     *outageLog
	// health follows public renders failing for a reason other than the
	// database (readiness, the console banner, the operators' alert).
	health *renderHealth
	fixed  http.Header // security headers of every response
	// fastHits counts requests answered by serveCached.
	fastHits atomic.Int64
	metrics  *serverMetrics
	// measuredCache holds what the checks measured, for the page.
	measuredCache atomic.Pointer[measuredEntry]
	snap          *snapshot
	// warmer renders the public pages ahead of time after a change; see
	// warm.go.
	warmer warmer
	// sso is the identity provider operators sign in through; nil when
	// single sign-on is off.
	sso *ssoProvider
}

// New builds the application.
func New(opts Options, store *data.Store, log *slog.Logger) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	if opts.Outbound == nil {
		opts.Outbound = outbound.New(outbound.Options{})
	}
	if opts.AnonymousVerifyFloor == 0 {
		opts.AnonymousVerifyFloor = 2 * time.Second
	}
	if opts.Channels == nil && opts.BaseURL != nil {
		w, err := channelmsg.New(opts.BaseURL.String(), opts.Location)
		if err != nil {
			return nil, err
		}
		opts.Channels = w
	}
	if opts.PageTTL == 0 {
		opts.PageTTL = 3 * time.Second
	}
	if opts.DBRequestTimeout == 0 {
		opts.DBRequestTimeout = 10 * time.Second
	}
	catalog, err := locale.Load()
	if err != nil {
		return nil, err
	}
	pages, err := newRenderer()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, store: store, log: log, catalog: catalog, md: markdown.New(), pages: pages, outage: newOutageLog(log),
		sso: newSSOProvider(opts.SSO, opts.Now, log)}
	s.cache = newPageCache(opts.PageTTL, opts.Now, &s.changeNo, log, s.outage)
	s.health = newRenderHealth(log)
	s.health.alert = s.alertRenderFailing
	s.cache.health = s.health
	s.metrics = newServerMetrics(s)
	s.cache.rendered = s.metrics.renders.Inc
	s.cache.renderFailed = func(cause string) { s.metrics.renderFailures.WithLabelValues(cause).Inc() }
	s.cache.frozen = opts.Standby
	if store != nil {
		s.cache.nextEdge, s.cache.onEdge = store.NextPublicEdge, s.changed
		// The scheduler's own changes (a window opening) refresh the pages
		// as an operator's do.
		store.OnPublicChange(s.changed)
	}
	if opts.Snapshot != "" {
		n, err := s.cache.loadSnapshot(opts.Snapshot)
		if err != nil {
			log.Warn("could not read the saved public pages; starting without them", "path", opts.Snapshot, "err", err)
		} else if n > 0 {
			log.Info("loaded the last saved public pages", "pages", n, "path", opts.Snapshot)
		}
		s.snap = &snapshot{path: opts.Snapshot, pc: s.cache, log: log}
		s.cache.saved = func(string, *cachedPage) { s.snap.changedPage() }
	}
	s.echo = s.routes()
	return s, nil
}

// ServeHTTP makes the Server an http.Handler. HEAD, which monitors use to
// probe the page, is routed as GET: net/http still knows the request was
// HEAD and sends no body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveCached(w, r) {
		return
	}
	if r.Method == http.MethodHead {
		r = r.Clone(r.Context())
		r.Method = http.MethodGet
	}
	s.echo.ServeHTTP(w, r)
}

// serveCached answers a public GET straight from the page cache, before
// routing and middleware, when the same path in the same language was
// answered from the cache before and that page is still up to date. It
// does what the middleware would (security headers, the access log) and
// nothing else; anything else (a query, a console cookie's path, a page
// out of date, a standby instance) takes the long way. Echo applies its
// middleware chain anew on every request, which costs a status page under
// load a quarter of its speed.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.URL.RawQuery != "" || s.opts.Standby || r.Body != http.NoBody {
		return false
	}
	cookie := ""
	if ck, err := r.Cookie("lang"); err == nil {
		cookie = ck.Value
	}
	lang := requestLang(r.URL.Path, "", cookie, r.Header.Get("Accept-Language"))
	p, lr := s.cache.fresh(r.URL.Path, lang)
	if p == nil {
		return false
	}
	start := time.Now()
	s.fastHits.Add(1)
	h := w.Header()
	for k, v := range s.fixed {
		h[k] = v
	}
	h["Content-Security-Policy"] = s.pagePolicy(r.Context())
	if lr.cors != nil {
		h["Access-Control-Allow-Origin"] = lr.cors
	}
	status, size, _ := writePage(w, r, p)
	s.metrics.request(lr.route, r.Method, status)
	if rec := s.opts.AccessLog; rec != nil {
		rec.Record(accesslog.Entry{At: s.opts.Now().UTC(), Method: r.Method, Route: lr.route, Path: truncate(r.URL.Path, 500),
			Status: status, Bytes: size, LatencyUS: time.Since(start).Microseconds(), IP: s.echo.IPExtractor(r),
			UserAgent: truncate(r.UserAgent(), 300)})
	}
	return true
}

// Echo returns the router, for the server's listener and for tests that
// enumerate routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

// ChannelWriter writes webhook, Slack and Teams messages, for the sender.
func (s *Server) ChannelWriter() *channelmsg.Writer { return s.opts.Channels }

// Changed is changed for the background work (monitors) that writes
// what the pages show.
func (s *Server) Changed() { s.changed() }

// changed marks every cached public page stale after a write, and renders
// them again in the background, so each is ready before it is asked for.
func (s *Server) changed() {
	s.cache.forgetEdge()
	s.cache.retryFailing()
	s.changeNo.Add(1)
	s.warmer.kick(s)
}

func (s *Server) secure() bool { return s.opts.BaseURL != nil && s.opts.BaseURL.Scheme == "https" }

// healthz is liveness: the process answers, and serves the last good
// public pages even while the database is down, so an orchestrator must
// not restart it for that. readyz says whether it can take writes.
func (s *Server) healthz(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 when the database answers and takes writes (a
// read-only file or replica is not ready), 503 otherwise.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if s.opts.Standby {
		return c.String(http.StatusServiceUnavailable, "waiting for the database\n")
	}
	if err := s.store.Ping(ctx); err != nil {
		s.outage.fail("the database does not answer", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	if err := s.store.CheckWritable(ctx); err != nil {
		s.outage.fail("the database does not take writes", err)
		return c.String(http.StatusServiceUnavailable, "database read-only or failing writes\n")
	}
	s.outage.ok("the database answers again")
	if t := s.health.trouble(); t != nil {
		// The database is fine, yet customers see an old page: not ready.
		return c.String(http.StatusServiceUnavailable, t.String()+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
