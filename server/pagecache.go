package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"
)

// pageCache keeps rendered public pages in memory, plain and gzipped, so
// that the page everyone opens during an outage is served without touching
// the database or the templates. A page is rendered again when this
// instance has changed something, or in the background once it is older
// than the TTL (to pick up other instances' changes and the passing of
// time); while that happens, and while the database is down or slow, the
// last good copy keeps being served.
type pageCache struct {
	ttl     time.Duration
	now     func() time.Time
	changes *atomic.Uint64
	log     *slog.Logger
	group   singleflight.Group
	// refreshing marks keys being rendered in the background, so a burst of
	// requests for a stale page starts one refresh, not one per request.
	refreshing sync.Map

	mu      sync.RWMutex
	entries map[string]*cachedPage
}

type cachedPage struct {
	plain, gz []byte
	ctype     string
	etag      string
	change    uint64
	at        time.Time
}

// maxCachedPages bounds memory; the keys are built from ids that exist, so
// this is only reached on a very large history.
const maxCachedPages = 5000

// renderTimeout bounds how long a page render may wait for the database.
const renderTimeout = 5 * time.Second

func newPageCache(ttl time.Duration, now func() time.Time, changes *atomic.Uint64, log *slog.Logger) *pageCache {
	return &pageCache{ttl: ttl, now: now, changes: changes, log: log, entries: map[string]*cachedPage{}}
}

func (pc *pageCache) get(key string) *cachedPage {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	return pc.entries[key]
}

// build renders a page once however many requests ask for it at the same
// time, and stores the result.
func (pc *pageCache) build(key, ctype string, render func(ctx context.Context) ([]byte, error)) (*cachedPage, error) {
	v, err, _ := pc.group.Do(key, func() (any, error) {
		change := pc.changes.Load()
		ctx, cancel := context.WithTimeout(context.Background(), renderTimeout)
		defer cancel()
		body, err := render(ctx)
		if err != nil {
			return nil, err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		sum := sha256.Sum256(body)
		p := &cachedPage{plain: body, gz: gz.Bytes(), ctype: ctype, etag: hex.EncodeToString(sum[:12]), change: change, at: pc.now()}
		pc.mu.Lock()
		if len(pc.entries) >= maxCachedPages {
			pc.entries = map[string]*cachedPage{}
		}
		pc.entries[key] = p
		pc.mu.Unlock()
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cachedPage), nil
}

// serve answers an HTML page from the cache, rendering first when it must.
func (pc *pageCache) serve(c echo.Context, key string, render func(ctx context.Context) ([]byte, error)) error {
	return pc.serveType(c, key, echo.MIMETextHTMLCharsetUTF8, render)
}

// serveType answers any rendered document (JSON, a feed, a calendar) from
// the cache in the same way.
func (pc *pageCache) serveType(c echo.Context, key, ctype string, render func(ctx context.Context) ([]byte, error)) error {
	key = ctype + "|" + key
	p := pc.get(key)
	switch {
	case p == nil || p.change != pc.changes.Load():
		fresh, err := pc.build(key, ctype, render)
		if err != nil {
			if p == nil {
				return err
			}
			pc.log.Warn("serving a stale page", "key", key, "err", err)
		} else {
			p = fresh
		}
	case pc.now().Sub(p.at) > pc.ttl:
		if _, busy := pc.refreshing.LoadOrStore(key, true); !busy {
			go func() {
				defer pc.refreshing.Delete(key)
				if _, err := pc.build(key, ctype, render); err != nil {
					pc.log.Warn("background page refresh failed", "key", key, "err", err)
				}
			}()
		}
	}
	return writeCached(c, p)
}

func writeCached(c echo.Context, p *cachedPage) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, p.ctype)
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set(echo.HeaderLastModified, p.at.UTC().Format(http.TimeFormat))
	h.Add(echo.HeaderVary, "Accept-Encoding, Accept-Language, Cookie")
	body, etag := p.plain, `"`+p.etag+`"`
	if acceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
		body, etag = p.gz, `"`+p.etag+`-gz"`
		h.Set(echo.HeaderContentEncoding, "gzip")
	}
	h.Set("ETag", etag)
	inm := c.Request().Header.Get("If-None-Match")
	if etagMatches(inm, etag) || (inm == "" && notModifiedSince(c.Request().Header.Get("If-Modified-Since"), p.at)) {
		h.Del(echo.HeaderContentEncoding)
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, p.ctype, body)
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
