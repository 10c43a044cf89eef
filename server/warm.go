package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/internal/locale"
)

// warmKey marks the server's own requests that render pages ahead of time.
type warmKey struct{}

// warming reports whether a request is the server rendering ahead of time:
// it waits for a fresh render instead of taking the last copy, and it is
// not an access to log.
func warming(c echo.Context) bool { return c.Request().Context().Value(warmKey{}) != nil }

// warmPaths are the public representations rendered ahead of every
// change, in every language, so none has to be rendered while a customer
// waits, nor fails to exist when the database goes down.
var warmPaths = []string{"/", "/history", "/news",
	"/api/v2/status.json", "/api/v2/summary.json", "/api/v2/components.json", "/api/v2/incidents.json",
	"/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json",
	"/api/v2/scheduled-maintenances/active.json", "/feed.atom", "/feed.rss", "/maintenance.ics", "/badge.svg"}

// warmer runs one warm at a time; a change during a warm asks for another.
type warmer struct {
	mu      sync.Mutex
	running bool
	again   bool
	// off stops warming, for good (Close).
	off bool
	wg  sync.WaitGroup
}

// kick warms in the background after a change.
func (w *warmer) kick(s *Server) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off {
		return
	}
	if w.running {
		w.again = true
		return
	}
	w.running = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			s.Warm(context.Background())
			w.mu.Lock()
			if !w.again || w.off {
				w.running = false
				w.mu.Unlock()
				return
			}
			w.again = false
			w.mu.Unlock()
		}
	}()
}

// Warm renders every public representation, in every language, and the
// pages of open incidents and current maintenance, through the router as
// a visitor would ask for them. Pages that cannot be rendered keep their
// last good copy. It returns the first error, if any.
func (s *Server) Warm(ctx context.Context) error {
	paths := append([]string(nil), warmPaths...)
	if incs, err := s.store.Public().OpenIncidents(ctx); err == nil {
		for _, inc := range incs {
			paths = append(paths, "/incidents/"+strconv.FormatInt(inc.ID, 10))
		}
	}
	if ms, err := s.store.Public().CurrentMaintenances(ctx); err == nil {
		for _, m := range ms {
			paths = append(paths, "/maintenance/"+strconv.FormatInt(m.ID, 10))
		}
	}
	var first error
	for _, lang := range locale.Languages {
		for _, p := range paths {
			req := httptest.NewRequest(http.MethodGet, p+"?lang="+lang, nil).WithContext(context.WithValue(ctx, warmKey{}, true))
			rec := httptest.NewRecorder()
			s.echo.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && first == nil {
				first = &warmError{path: p, lang: lang, code: rec.Code}
			}
		}
	}
	return first
}

type warmError struct {
	path, lang string
	code       int
}

func (e *warmError) Error() string {
	return "server: warming " + e.path + " (" + e.lang + "): status " + strconv.Itoa(e.code)
}

// Close stops rendering ahead of time and waits for a warm in progress;
// call it before closing the database.
func (s *Server) Close() {
	s.warmer.mu.Lock()
	s.warmer.off = true
	s.warmer.mu.Unlock()
	s.warmer.wg.Wait()
	if s.snap != nil {
		s.snap.close()
	}
}
