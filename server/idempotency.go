package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// maxIdempotencyKey bounds a key: a UUID or a client's own request id.
const maxIdempotencyKey = 255

// idempotencyLease is how long a key being answered stays its request's
// after the last renewal: short, so a retry after a crash (kill -9, a lost
// host) does the work within seconds instead of meeting a 409 for 48 hours;
// renewed every idempotencyRenew while the request runs, so a live request
// keeps its key however long it takes.
const (
	idempotencyLease = 10 * time.Second
	idempotencyRenew = 3 * time.Second
)

// idempotencyHolder names a request holding a key: this process and a
// random part, unique per request.
func idempotencyHolder() string {
	host, _ := os.Hostname()
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// idempotent makes a creating API call safe to retry: with an
// Idempotency-Key header, the first request's answer is stored (per
// token) and a retry of the same request gets it back, marked
// Idempotent-Replayed, without doing anything again. The same key with
// another request is a 422; a key whose first request is still running is
// a 409 while its holder lives; a retry after the holder died (its lease
// lapsed, see idempotencyLease) takes the key over and does the work.
// Answers are kept at least 24 hours (the retention job forgets them after
// 48). A 5xx is not stored, so a retry is done afresh.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if key == "" {
			return next(c)
		}
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			return apiFail(http.StatusBadRequest, "bad_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters.")
		}
		tok, _ := c.Get("api_token").(*data.APIToken)
		if tok == nil {
			return next(c)
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxAPIBody+1))
		if err != nil {
			return apiFail(http.StatusRequestEntityTooLarge, "too_large", "The body is larger than 256 KiB.")
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		// The query is part of the request: a dry run and the real call are two.
		sum := sha256.Sum256(append([]byte(c.Request().Method+" "+c.Request().URL.RequestURI()+"\n"), body...))
		scope := "token:" + strconv.FormatInt(tok.ID, 10)
		ctx := c.Request().Context()
		holder := idempotencyHolder()
		old, err := s.store.BeginIdempotent(ctx, scope, key, hex.EncodeToString(sum[:]), holder, idempotencyLease)
		switch {
		case errors.Is(err, data.ErrKeyReused):
			return apiFail(http.StatusUnprocessableEntity, "idempotency_key_reused", "This Idempotency-Key was used for a different request.")
		case err != nil:
			return err
		case old != nil && old.Status == 0:
			return apiFail(http.StatusConflict, "request_in_progress", "A request with this Idempotency-Key is still being answered; try again shortly.")
		case old != nil:
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.Blob(old.Status, old.ContentType, []byte(old.Body))
		}
		// The key's bookkeeping outlives a client that hangs up: an answer
		// left unstored would have a retry do the work again.
		keep := context.WithoutCancel(ctx)
		work, cancel := context.WithCancel(ctx)
		defer cancel()
		renewed := make(chan struct{})
		go func() {
			defer close(renewed)
			s.renewIdempotent(work, keep, cancel, scope, key, holder)
		}()
		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		c.SetRequest(c.Request().WithContext(work))
		if err := next(c); err != nil {
			c.Error(err) // written now, so the answer can be stored
		}
		cancel()
		<-renewed
		status := c.Response().Status
		// A refused request (4xx) changed nothing, and a 5xx may not have
		// finished: neither answer is kept, so a corrected retry with the
		// same key is done afresh.
		if status >= 400 {
			if ferr := s.store.ForgetIdempotent(keep, scope, key, holder); ferr != nil {
				s.log.Error("could not forget an idempotency key", "err", ferr)
			}
			return nil
		}
		ferr := s.store.FinishIdempotent(keep, scope, key, holder, status, c.Response().Header().Get(echo.HeaderContentType), rec.body.String())
		switch {
		case errors.Is(ferr, data.ErrKeyLost):
			s.log.Warn("an idempotency key was taken over by a retry while its first request ran", "key", key, "scope", scope)
		case ferr != nil:
			s.log.Error("could not store an idempotent answer", "err", ferr)
		}
		return nil
	}
}

// renewIdempotent keeps holder's lease on a key until work ends. If the key
// was taken over (this request stalled past its lease, say while the
// database was unreachable) it cancels the work, so that it is less likely
// to be done twice; the retry that took the key does it.
func (s *Server) renewIdempotent(work, keep context.Context, cancel context.CancelFunc, scope, key, holder string) {
	t := time.NewTicker(idempotencyRenew)
	defer t.Stop()
	for {
		select {
		case <-work.Done():
			return
		case <-t.C:
		}
		rctx, done := context.WithTimeout(keep, idempotencyRenew)
		err := s.store.RenewIdempotent(rctx, scope, key, holder, idempotencyLease)
		done()
		switch {
		case errors.Is(err, data.ErrKeyLost):
			s.log.Warn("an idempotency key's lease lapsed; its request is cancelled", "key", key, "scope", scope)
			cancel()
			return
		case err != nil:
			s.log.Error("could not renew an idempotency key's lease", "err", err)
		}
	}
}

// recorder keeps a copy of what a handler writes.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
