package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oshirase/oshirase/data"
)

// Causes of a failed render, for the log and the metrics.
const (
	causeDatabase = "database"
	causeRender   = "render"
)

// renderCause says why a render failed: the database (down, slow, read
// only), which the last good copy rightly covers, or anything else — a
// template that cannot be executed, a panic — which is a bug the last
// good copy would hide for ever.
func renderCause(err error) string {
	if data.Unavailable(err) || errors.Is(err, context.Canceled) {
		return causeDatabase
	}
	return causeRender
}

// renderHealth follows the public pages whose render fails for a reason
// other than the database. While any does, /readyz fails with the reason,
// every console page shows it, and the operators are alerted once per
// stretch; the log says so when it starts, sums it up at most once a
// minute, and says when it ends.
type renderHealth struct {
	log *slog.Logger
	// alert tells the operators (channels and email); called once per
	// stretch, outside the lock. nil is fine.
	alert func(page, cause string)

	mu          sync.Mutex
	failing     map[string]string // page key → the error
	since       time.Time
	failures    int
	lastSummary time.Time
}

func newRenderHealth(log *slog.Logger) *renderHealth {
	return &renderHealth{log: log, failing: map[string]string{}}
}

// fail notes that page could not be rendered for a reason not the
// database's.
func (h *renderHealth) fail(page string, err error) {
	h.mu.Lock()
	now := time.Now()
	h.failures++
	first := len(h.failing) == 0
	h.failing[page] = err.Error()
	alert := h.alert
	if first {
		h.since, h.lastSummary = now, now
		h.log.Error("a public page cannot be rendered; customers see its last good copy, marked as out of date",
			"page", page, "cause", causeRender, "err", err)
	} else if now.Sub(h.lastSummary) >= summaryEvery {
		h.log.Error("public pages still cannot be rendered", "since", h.since, "pages", len(h.failing),
			"failures", h.failures, "err", err)
		h.lastSummary = now
	}
	h.mu.Unlock()
	if first && alert != nil {
		alert(page, err.Error())
	}
}

// ok notes that page rendered; the stretch ends with the last failing
// page.
func (h *renderHealth) ok(page string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, was := h.failing[page]; !was {
		return
	}
	delete(h.failing, page)
	if len(h.failing) == 0 {
		h.log.Info("public pages render again", "failing_for", time.Since(h.since).Round(time.Second), "failures", h.failures)
		h.failures = 0
	}
}

// renderTrouble is what the console and /readyz say while renders fail.
type renderTrouble struct {
	Since time.Time
	Pages []string
	Error string
}

// trouble returns the current stretch, or nil.
func (h *renderHealth) trouble() *renderTrouble {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failing) == 0 {
		return nil
	}
	t := &renderTrouble{Since: h.since}
	for p := range h.failing {
		t.Pages = append(t.Pages, pageOfKey(p))
	}
	sort.Strings(t.Pages)
	t.Error = h.failing[firstKey(h.failing)]
	return t
}

func firstKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}

// pageOfKey turns a cache key ("text/html; charset=UTF-8|ja|/") into the
// page it stands for, for people.
func pageOfKey(key string) string {
	_, rest, _ := strings.Cut(key, "|")
	return rest
}

// String is the reason /readyz gives.
func (t *renderTrouble) String() string {
	return fmt.Sprintf("public pages cannot be rendered since %s (%s): %s", t.Since.UTC().Format(time.RFC3339),
		strings.Join(t.Pages, ", "), t.Error)
}

// alertRenderFailing tells the operators, in the background: the render
// failed outside any request, and the alert must not wait on it.
func (s *Server) alertRenderFailing(page, detail string) {
	if s.store == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.store.AlertRenderFailing(ctx, pageOfKey(page), detail); err != nil {
			s.log.Warn("could not alert the operators that public pages cannot be rendered", "err", err)
			return
		}
		s.opts.Wake()
	}()
}
