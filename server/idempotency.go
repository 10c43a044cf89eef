package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// maxIdempotencyKey bounds a key: a UUID or a client's own request id.
const maxIdempotencyKey = 255

// idempotent makes a creating API call safe to retry: with an
// Idempotency-Key header, the first request's answer is stored (per
// token) and a retry of the same request gets it back, marked
// Idempotent-Replayed, without doing anything again. The same key with
// another request is a 422; a key whose first request is still running is
// a 409. Answers are kept at least 24 hours (the retention job forgets
// them after 48). A 5xx is not stored, so a retry is done afresh.
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
			return apiFail(http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.")
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(append([]byte(c.Request().Method+" "+c.Request().URL.Path+"\n"), body...))
		scope := "token:" + strconv.FormatInt(tok.ID, 10)
		ctx := c.Request().Context()
		old, err := s.store.BeginIdempotent(ctx, scope, key, hex.EncodeToString(sum[:]))
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
		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		if err := next(c); err != nil {
			c.Error(err) // written now, so the answer can be stored
		}
		status := c.Response().Status
		if status >= 500 {
			if ferr := s.store.ForgetIdempotent(ctx, scope, key); ferr != nil {
				s.log.Error("could not forget an idempotency key", "err", ferr)
			}
			return nil
		}
		if ferr := s.store.FinishIdempotent(ctx, scope, key, status, c.Response().Header().Get(echo.HeaderContentType), rec.body.String()); ferr != nil {
			s.log.Error("could not store an idempotent answer", "err", ferr)
		}
		return nil
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
