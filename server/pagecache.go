package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"github.com/oshirase/oshirase/data"
)

// pageCache keeps rendered public pages in memory, plain and gzipped, so
// that the page everyone opens during an outage is served without touching
// the database or the templates. A page is rendered again when this
// instance has changed something, or in the background once it is older
// than the TTL (to pick up other instances' changes and the passing of
// time). Only one render of a page runs at a time; while it runs, and
// while the database is down or slow, every request gets the last good
// copy at once (the one request that found the page out of date after a
// change waits up to freshWait for the new one). A render that fails is
// not tried again for a while (1 s, doubling to a minute), and an outage
// is logged when it starts, then at most once a minute, then when it ends.
type pageCache struct {
	ttl     time.Duration
	now     func() time.Time
	changes *atomic.Uint64
	log     *slog.Logger
	group   singleflight.Group
	// refreshing marks keys being rendered in the background, so a burst of
	// requests for a stale page starts one refresh, not one per request.
	refreshing sync.Map
	outage     *outageLog

	// learned maps a request the handlers answered from the cache (path
	// and language, no query) to its key, so the next such request can be
	// answered before routing (see Server.serveCached).
	learned map[learnKey]*learnedRoute // under mu

	mu      sync.RWMutex
	entries map[string]*cachedPage
	// failing holds the backoff of pages whose render failed.
	failing map[string]*renderBackoff
	// saved is called with each fresh page (the snapshot on disk); nil is
	// fine.
	saved func(key string, p *cachedPage)
	// frozen: a standby instance without a database serves what it has
	// and never renders.
	frozen bool
	// rendered counts a render (the metrics); nil is fine.
	rendered func()
	// renderFailed counts a failed render by cause (the metrics); nil is
	// fine.
	renderFailed func(cause string)
	// health follows renders that fail for a reason not the database's.
	health *renderHealth

	// Pages also go out of date by the passing of time alone (a window
	// opens, an announcement is published): nextEdge says when that next
	// happens, read before a render and kept in edge (unix nanoseconds,
	// 0 for none) once the render succeeds; edgeKnown is cleared by every
	// change. Once the edge has passed, onEdge counts as a change. Both
	// nil is fine.
	nextEdge  func(ctx context.Context) (time.Time, error)
	onEdge    func()
	edge      atomic.Int64
	edgeKnown atomic.Bool
}

type cachedPage struct {
	plain, gz []byte
	ctype     string
	etag      string
	change    uint64
	at        time.Time
	// Header values built once, not per request: a cached page is served
	// at the speed of static bytes.
	hCtype, hModified, hETag, hETagGz, hLen, hLenGz []string

	staleOnce sync.Once
	stale     *cachedPage
}

func newCachedPage(plain, gz []byte, ctype, etag string, change uint64, at time.Time) *cachedPage {
	return &cachedPage{plain: plain, gz: gz, ctype: ctype, etag: etag, change: change, at: at,
		hCtype: []string{ctype}, hModified: []string{at.UTC().Format(http.TimeFormat)},
		hETag: []string{`"` + etag + `"`}, hETagGz: []string{`"` + etag + `-gz"`},
		hLen: []string{strconv.Itoa(len(plain))}, hLenGz: []string{strconv.Itoa(len(gz))}}
}

// The layout writes the out-of-date notice of a public page inside these
// comment markers, with the time it was rendered: hidden in the page as
// served fresh, shown in the copy served when it is not (staleCopy).
var (
	staleOpen  = []byte("<!--oshirase-stale ")
	staleClose = []byte(" oshirase-stale-->")
)

// staleCopy is the page with its out-of-date notice shown; a document
// without one (JSON, a feed) is itself. Built once per page.
func (p *cachedPage) staleCopy() *cachedPage {
	p.staleOnce.Do(func() {
		p.stale = p
		i := bytes.Index(p.plain, staleOpen)
		if i < 0 {
			return
		}
		j := bytes.Index(p.plain[i:], staleClose)
		if j < 0 {
			return
		}
		body := make([]byte, 0, len(p.plain))
		body = append(body, p.plain[:i]...)
		body = append(body, p.plain[i+len(staleOpen):i+j]...)
		body = append(body, p.plain[i+j+len(staleClose):]...)
		p.stale = newCachedPage(body, gzipBytes(body), p.ctype, p.etag+"s", p.change, p.at)
	})
	return p.stale
}

// errPageFailing is a page that cannot be rendered and has no copy to
// fall back on: the visitor gets a 503 saying so, not a 500.
type errPageFailing struct{ err error }

func (e errPageFailing) Error() string { return e.err.Error() }
func (e errPageFailing) Unwrap() error { return e.err }

type renderBackoff struct {
	fails int
	next  time.Time
}

// maxCachedPages bounds memory; the keys are built from ids that exist, so
// this is only reached on a very large history.
const maxCachedPages = 5000

// renderTimeout bounds how long a page render may wait for the database.
const renderTimeout = 5 * time.Second

// freshWait is how long the request that finds a page out of date after a
// change waits for the new one before it is given the last good copy.
const freshWait = 2 * time.Second

func newPageCache(ttl time.Duration, now func() time.Time, changes *atomic.Uint64, log *slog.Logger, outage *outageLog) *pageCache {
	return &pageCache{ttl: ttl, now: now, changes: changes, log: log, outage: outage,
		entries: map[string]*cachedPage{}, failing: map[string]*renderBackoff{}, learned: map[learnKey]*learnedRoute{}}
}

func (pc *pageCache) get(key string) *cachedPage {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	return pc.entries[key]
}

// backingOff reports whether a page's last render failed too recently to
// try again. Real time, not the page clock: it paces the database.
func (pc *pageCache) backingOff(key string) bool {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	b := pc.failing[key]
	return b != nil && time.Now().Before(b.next)
}

func (pc *pageCache) failed(key string, err error) {
	cause := renderCause(err)
	if pc.renderFailed != nil {
		pc.renderFailed(cause)
	}
	pc.mu.Lock()
	b := pc.failing[key]
	if b == nil {
		b = &renderBackoff{}
		pc.failing[key] = b
	}
	b.fails++
	wait := time.Second << min(b.fails-1, 6)
	b.next = time.Now().Add(min(wait, time.Minute))
	pc.mu.Unlock()
	if cause == causeDatabase {
		pc.outage.fail("public pages cannot be rendered; serving the last good copies", err)
	} else if pc.health != nil {
		pc.health.fail(key, err)
	}
}

// isFailing reports whether the last render of a page failed: its copy
// is then not known to be current.
func (pc *pageCache) isFailing(key string) bool {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	return pc.failing[key] != nil
}

// safeRender turns a panic in a render into its error.
func safeRender(ctx context.Context, render func(ctx context.Context) ([]byte, error)) (body []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			body, err = nil, fmt.Errorf("server: render panicked: %v", r)
		}
	}()
	return render(ctx)
}

// build renders a page once however many requests ask for it at the same
// time, and stores the result.
func (pc *pageCache) build(key, ctype string, render func(ctx context.Context) ([]byte, error)) (*cachedPage, error) {
	v, err, _ := pc.group.Do(key, func() (any, error) {
		change := pc.changes.Load()
		ctx, cancel := context.WithTimeout(context.Background(), renderTimeout)
		defer cancel()
		// The edge is read before the render: one passing during it still
		// finds the page rendered before it.
		var edge time.Time
		learnEdge := pc.nextEdge != nil && !pc.edgeKnown.Load()
		if learnEdge {
			var err error
			if edge, err = pc.nextEdge(ctx); err != nil {
				learnEdge = false
			}
		}
		body, err := safeRender(ctx, render)
		if err != nil {
			if !errors.Is(err, data.ErrNotFound) {
				pc.failed(key, err)
			}
			return nil, err
		}
		if pc.rendered != nil {
			pc.rendered()
		}
		sum := sha256.Sum256(body)
		etag := hex.EncodeToString(sum[:12])
		// Most refreshes (every TTL) render the same bytes: then the gzip is
		// reused and the snapshot on disk is left alone.
		old := pc.get(key)
		same := old != nil && old.etag == etag
		var gz []byte
		if same {
			gz = old.gz
		} else {
			gz = gzipBytes(body)
		}
		p := newCachedPage(body, gz, ctype, etag, change, pc.now())
		pc.mu.Lock()
		if len(pc.entries) >= maxCachedPages {
			pc.entries = map[string]*cachedPage{}
		}
		pc.entries[key] = p
		delete(pc.failing, key)
		saved := pc.saved
		pc.mu.Unlock()
		if learnEdge && pc.changes.Load() == change {
			pc.setEdge(edge)
		}
		pc.outage.ok("public pages render again")
		if pc.health != nil {
			pc.health.ok(key)
		}
		if saved != nil && !same {
			saved(key, p)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cachedPage), nil
}

// inflight is a background render of one page.
type inflight struct {
	start time.Time
	done  chan struct{}
}

// refresh renders a page in the background unless that is happening
// already or its renders are backing off, and returns the render in
// flight (nil when there is none).
func (pc *pageCache) refresh(key, ctype string, render func(ctx context.Context) ([]byte, error)) *inflight {
	if pc.backingOff(key) {
		return nil
	}
	r := &inflight{start: time.Now(), done: make(chan struct{})}
	if old, busy := pc.refreshing.LoadOrStore(key, r); busy {
		return old.(*inflight)
	}
	go func() {
		defer close(r.done)
		defer pc.refreshing.Delete(key)
		pc.build(key, ctype, render)
	}()
	return r
}

// serve answers an HTML page from the cache, rendering first when it must.
func (pc *pageCache) serve(c echo.Context, key string, render func(ctx context.Context) ([]byte, error)) error {
	return pc.serveType(c, key, echo.MIMETextHTMLCharsetUTF8, render)
}

// serveType answers any rendered document (JSON, a feed, a calendar) from
// the cache in the same way.
func (pc *pageCache) serveType(c echo.Context, key, ctype string, render func(ctx context.Context) ([]byte, error)) error {
	key = ctype + "|" + key
	pc.passEdge()
	p := pc.get(key)
	if pc.frozen {
		if p == nil {
			return data.ErrUnavailable
		}
		return writeStale(c, p)
	}
	switch {
	case p == nil:
		// Nothing to serve yet: this request waits for the render.
		if pc.backingOff(key) {
			return data.ErrUnavailable
		}
		// A render joined in flight may have started before the latest
		// change; then one more is done (a few at most).
		for tries := 0; tries < 3 && (p == nil || p.change != pc.changes.Load()); tries++ {
			fresh, err := pc.build(key, ctype, render)
			if err != nil {
				if p != nil {
					break
				}
				if !errors.Is(err, data.ErrNotFound) && renderCause(err) == causeRender {
					return errPageFailing{err}
				}
				return err
			}
			p = fresh
		}
	case p.change != pc.changes.Load() || warming(c):
		// Out of date after a change: wait for the render in flight, but
		// only within freshWait of its start, so a slow database delays
		// the first requests a little and then nobody.
		// A render that started before the latest change gives a page
		// still out of date: then the next one is awaited, in the same time.
		var deadline time.Time
		for want := pc.changes.Load(); p.change != want || warming(c); want = pc.changes.Load() {
			r := pc.refresh(key, ctype, render)
			if r == nil {
				break
			}
			if deadline.IsZero() {
				deadline = r.start.Add(freshWait)
				if warming(c) {
					deadline = time.Now().Add(renderTimeout)
				}
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			select {
			case <-r.done:
				if fresh := pc.get(key); fresh != nil {
					p = fresh
				}
			case <-time.After(wait):
			}
			if warming(c) && p.change == want {
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
		if p.change != pc.changes.Load() {
			pc.outage.stale()
			return writeStale(c, p)
		}
	case pc.expired(p):
		pc.refresh(key, ctype, render)
	default:
		pc.learn(c, key)
	}
	if pc.isFailing(key) {
		// Its last render failed: the copy is all there is, and it says so.
		pc.outage.stale()
		return writeStale(c, p)
	}
	return writeCached(c, p)
}

// writeStale serves a copy that is not known to be current: the header
// says since when, for tools, and an HTML page says it on the page, in
// its language (see staleCopy).
func writeStale(c echo.Context, p *cachedPage) error {
	c.Response().Header().Set("X-Oshirase-Stale", p.at.UTC().Format(time.RFC3339))
	return writeCached(c, p.staleCopy())
}

// setEdge keeps the next time edge, the earlier one when two renders
// learnt different edges.
func (pc *pageCache) setEdge(t time.Time) {
	n := int64(0)
	if !t.IsZero() {
		n = t.UnixNano()
	}
	for {
		old := pc.edge.Load()
		if pc.edgeKnown.Load() && old != 0 && (n == 0 || old <= n) {
			return
		}
		if pc.edge.CompareAndSwap(old, n) {
			pc.edgeKnown.Store(true)
			return
		}
	}
}

// forgetEdge is called on every change: the next render reads it again.
func (pc *pageCache) forgetEdge() { pc.edgeKnown.Store(false) }

// retryFailing lets pages whose render failed try again at once: a change
// may be what mends them (an operator clearing the field that broke it),
// and the operator should see the page recover on the next visit.
func (pc *pageCache) retryFailing() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, b := range pc.failing {
		b.next = time.Time{}
	}
}

// passEdge makes a passed time edge a change, once.
func (pc *pageCache) passEdge() {
	e := pc.edge.Load()
	if e == 0 || pc.onEdge == nil || pc.now().UnixNano() < e {
		return
	}
	if pc.edge.CompareAndSwap(e, 0) {
		pc.onEdge()
	}
}

type learnKey struct{ path, lang string }

// expired reports whether a page has been served its TTL and is due for
// a background refresh.
func (pc *pageCache) expired(p *cachedPage) bool { return pc.now().Sub(p.at) > pc.ttl }

// learnedRoute is what the handler did for a request, to do it again.
type learnedRoute struct {
	key   string
	route string   // the route pattern, for the access log
	cors  []string // Access-Control-Allow-Origin, when the handler set it
}

// learn remembers that a plain GET of this path in this language is
// answered by the fresh page under key.
func (pc *pageCache) learn(c echo.Context, key string) {
	req := c.Request()
	if pc.frozen || req.Method != http.MethodGet || req.URL.RawQuery != "" || warming(c) {
		return
	}
	id := learnKey{req.URL.Path, langOf(c)}
	pc.mu.RLock()
	_, ok := pc.learned[id]
	pc.mu.RUnlock()
	if ok {
		return
	}
	lr := &learnedRoute{key: key, route: c.Path(), cors: c.Response().Header()["Access-Control-Allow-Origin"]}
	pc.mu.Lock()
	if len(pc.learned) >= maxCachedPages {
		clear(pc.learned)
	}
	pc.learned[id] = lr
	pc.mu.Unlock()
}

// fresh returns the page a learned request gets, when it is in memory and
// up to date; nil sends the request the long way, which renders or
// refreshes.
func (pc *pageCache) fresh(path, lang string) (*cachedPage, *learnedRoute) {
	pc.passEdge()
	pc.mu.RLock()
	lr := pc.learned[learnKey{path, lang}]
	var p *cachedPage
	if lr != nil {
		p = pc.entries[lr.key]
	}
	pc.mu.RUnlock()
	if p == nil || p.change != pc.changes.Load() || pc.expired(p) || pc.isFailing(lr.key) {
		return nil, nil
	}
	return p, lr
}

var (
	hNoCache = []string{"no-cache"}
	hGzip    = []string{"gzip"}
	hVary    = []string{"Accept-Encoding, Accept-Language, Cookie"}
)

// writeCached serves a cached page: the header values are the page's own,
// built when it was rendered (keys already canonical, so they are set
// directly), and the length is known, so the body goes out in one piece
// rather than chunked.
func writeCached(c echo.Context, p *cachedPage) error {
	_, _, err := writePage(c.Response(), c.Request(), p)
	return err
}

// writePage writes p as the answer to r and says the status and the bytes
// of body sent.
func writePage(w http.ResponseWriter, r *http.Request, p *cachedPage) (int, int64, error) {
	h := w.Header()
	h["Content-Type"] = p.hCtype
	h["Cache-Control"] = hNoCache
	h["Last-Modified"] = p.hModified
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v[:len(v):len(v)], hVary[0])
	} else {
		h["Vary"] = hVary
	}
	body, etag, length := p.plain, p.hETag, p.hLen
	if acceptsGzip(r.Header.Get(echo.HeaderAcceptEncoding)) {
		body, etag, length = p.gz, p.hETagGz, p.hLenGz
		h["Content-Encoding"] = hGzip
	}
	h["Etag"] = etag
	inm := r.Header.Get("If-None-Match")
	if etagMatches(inm, etag[0]) || (inm == "" && notModifiedSince(r.Header.Get("If-Modified-Since"), p.at)) {
		delete(h, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified, 0, nil
	}
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	n, err := w.Write(body)
	return http.StatusOK, int64(n), err
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}

// notModifiedSince reads If-Modified-Since (second precision, as HTTP dates
// have) against the render time.
func notModifiedSince(header string, at time.Time) bool {
	if header == "" {
		return false
	}
	t, err := http.ParseTime(header)
	return err == nil && !at.Truncate(time.Second).After(t)
}

// gzipWriters keeps compressors between renders: each holds about a
// megabyte of tables, and a change renders every public page again.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression)
	return zw
}}

// gzipBytes compresses a rendered page once, as hard as gzip can: it is
// served many times.
func gzipBytes(body []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(body)
	zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// oldestAge is the age of the oldest page held, for the metrics.
func (pc *pageCache) oldestAge() time.Duration {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	var oldest time.Duration
	now := pc.now()
	for _, p := range pc.entries {
		oldest = max(oldest, now.Sub(p.at))
	}
	return oldest
}
