package server

import (
	"bytes"
	"encoding/gob"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// The snapshot keeps the last good copy of every public page on disk, so
// an instance that starts while the database is down still serves the
// last known status page. It is written a little after pages change, never
// more than every snapshotEvery, atomically (a temporary file renamed).

// snapshotEvery paces writes of the snapshot.
const snapshotEvery = 2 * time.Second

// outdated marks a page loaded from the snapshot: out of date against any
// change count, so it is rendered again as soon as the database answers.
const outdated = math.MaxUint64

type snapshotEntry struct {
	Key, Ctype, ETag string
	Plain            []byte
	At               time.Time
}

type snapshot struct {
	path string
	pc   *pageCache
	log  interface{ Warn(string, ...any) }

	mu      sync.Mutex
	pending bool
	closed  bool
	wg      sync.WaitGroup
}

// loadSnapshot fills the cache with the pages saved at path, if any.
func (pc *pageCache) loadSnapshot(path string) (int, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var entries []snapshotEntry
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&entries); err != nil {
		return 0, err
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, e := range entries {
		pc.entries[e.Key] = newCachedPage(e.Plain, gzipBytes(e.Plain), e.Ctype, e.ETag, outdated, e.At)
	}
	return len(entries), nil
}

// changedPage asks for the snapshot to be written soon.
func (sn *snapshot) changedPage() {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.pending || sn.closed {
		return
	}
	sn.pending = true
	sn.wg.Add(1)
	time.AfterFunc(snapshotEvery, func() {
		defer sn.wg.Done()
		sn.mu.Lock()
		sn.pending = false
		sn.mu.Unlock()
		if err := sn.write(); err != nil {
			sn.log.Warn("could not save the public pages to disk", "path", sn.path, "err", err)
		}
	})
}

// write saves every cached page that is up to date.
func (sn *snapshot) write() error {
	sn.pc.mu.RLock()
	entries := make([]snapshotEntry, 0, len(sn.pc.entries))
	for k, p := range sn.pc.entries {
		entries = append(entries, snapshotEntry{Key: k, Ctype: p.ctype, ETag: p.etag, Plain: p.plain, At: p.at})
	}
	sn.pc.mu.RUnlock()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(entries); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(sn.path), ".oshirase-pages-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), sn.path)
}

// close writes what is pending and stops.
func (sn *snapshot) close() {
	sn.mu.Lock()
	sn.closed = true
	sn.mu.Unlock()
	sn.wg.Wait()
}

// standbyOpen lists what a standby instance (started while the database
// is down) serves: the public pages from its snapshot, health, and assets.
var standbyOpen = []string{"/incidents/", "/maintenance/", "/history", "/news", "/upgrades/", "/api/v2/", "/feed.", "/products/",
	"/maintenance.ics", "/badge.svg", "/static/", "/healthz", "/readyz", "/.well-known/"}

// standby answers everything but the public pages with a 503 while the
// instance waits for its database: the console, the API and signed links
// all need it.
func (s *Server) standby(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.opts.Standby {
			return next(c)
		}
		p := c.Request().URL.Path
		if p == "/" && c.Request().Method == http.MethodGet {
			return next(c)
		}
		for _, open := range standbyOpen {
			if strings.HasPrefix(p, open) && c.Request().Method == http.MethodGet {
				return next(c)
			}
		}
		c.Response().Header().Set("Retry-After", "30")
		if strings.HasPrefix(p, "/api/") {
			return c.JSON(http.StatusServiceUnavailable, apiError{Error: apiErrorBody{Code: "database_unavailable",
				Message: "The database is not available right now; nothing was changed. Try again shortly."}})
		}
		return s.render(c, http.StatusServiceUnavailable, "error", s.errorView(c, http.StatusServiceUnavailable, "error.database_unavailable"))
	}
}
