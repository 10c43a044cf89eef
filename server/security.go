package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
)

// ipExtractor takes the client address from the socket, or from
// X-Forwarded-For when (and only when) the request came through a proxy
// listed in OSHIRASE_TRUSTED_PROXIES: a forged header changes nothing.
func (s *Server) ipExtractor() echo.IPExtractor {
	if len(s.opts.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	var opts []echo.TrustOption
	opts = append(opts, echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false))
	for _, n := range s.opts.TrustedProxies {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// queryKept are the query parameters recorded as they are; any other
// value (tokens above all) is recorded as "redacted".
var queryKept = map[string]bool{"lang": true, "page": true, "state": true, "delivery": true, "impact": true, "maintenance": true}

// secretParams are route parameters that carry a secret (signed links,
// the alert webhooks' secret): logged as their name, never their value.
var secretParams = map[string]bool{"token": true, "secret": true}

// loggedPath is the request path with no secret in it: secret path
// segments and unknown query values are replaced.
func loggedPath(c echo.Context) string {
	path := c.Request().URL.Path
	// By position in the route, not by the parameters found: a wrong
	// method (405) matches the route without filling them.
	if route := strings.Split(c.Path(), "/"); hidesSecret(route) {
		segs := strings.Split(path, "/")
		for i, seg := range route {
			if name, ok := strings.CutPrefix(seg, ":"); ok && secretParams[name] && i < len(segs) {
				segs[i] = "{" + name + "}"
			}
		}
		path = strings.Join(segs, "/")
	}
	q := c.Request().URL.Query()
	if len(q) == 0 {
		return path
	}
	out := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if queryKept[k] {
				out.Add(k, v)
			} else {
				out.Add(k, "redacted")
			}
		}
	}
	return path + "?" + out.Encode()
}

func hidesSecret(route []string) bool {
	for _, seg := range route {
		if name, ok := strings.CutPrefix(seg, ":"); ok && secretParams[name] {
			return true
		}
	}
	return false
}

// logAccess records every request in the access log, after the response
// is written: status, size and time are the ones the client got.
func (s *Server) logAccess(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if warming(c) {
			return next(c)
		}
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		s.metrics.request(c.Path(), req.Method, res.Status)
		if s.opts.AccessLog == nil {
			return nil
		}
		e := accesslog.Entry{At: s.opts.Now().UTC(), Method: req.Method, Route: c.Path(), Path: truncate(loggedPath(c), 500),
			Status: res.Status, Bytes: res.Size, LatencyUS: time.Since(start).Microseconds(),
			IP: c.RealIP(), UserAgent: truncate(req.UserAgent(), 300)}
		if op := operatorOf(c); op != nil {
			e.Operator = op.ID
		}
		s.opts.AccessLog.Record(e)
		return nil
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// audit appends an operator action to the audit trail. changes is
// recorded as JSON; secrets never reach it (see auditFields).
func (s *Server) audit(c echo.Context, action, target string, changes any) {
	c.Set("audited", true)
	e := data.AuditEntry{IP: c.RealIP(), Action: action, Target: target}
	if op := operatorOf(c); op != nil {
		id := op.ID
		e.OperatorID, e.OperatorEmail = &id, op.Email
	} else if op, ok := c.Get("mfa_operator").(*data.Operator); ok {
		id := op.ID
		e.OperatorID, e.OperatorEmail = &id, op.Email
	}
	if changes != nil {
		if b, err := json.Marshal(changes); err == nil {
			e.Changes = string(b)
		}
	}
	if err := s.store.AddAudit(c.Request().Context(), e); err != nil {
		s.log.Error("could not write the audit trail", "action", action, "err", err)
	}
}

// secretField names fields whose values never enter the audit trail.
func secretField(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "secret", "token", "hash", "csrf", "code"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// auditFields lists the exported plain fields of a record, for before and
// after pictures of an edit.
func auditFields(v any) map[string]any {
	out := map[string]any{}
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return out
	}
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() || secretField(f.Name) || f.Name == "UpdatedAt" || f.Name == "CreatedAt" {
			continue
		}
		fv := rv.Field(i)
		switch fv.Kind() {
		case reflect.Slice, reflect.Map, reflect.Struct:
			if t, ok := fv.Interface().(time.Time); ok {
				out[f.Name] = t.UTC().Format(time.RFC3339)
			}
			continue
		case reflect.Pointer:
			if fv.IsNil() {
				out[f.Name] = nil
			} else if t, ok := fv.Elem().Interface().(time.Time); ok {
				out[f.Name] = t.UTC().Format(time.RFC3339)
			} else if fv.Elem().Kind() != reflect.Struct {
				out[f.Name] = fv.Elem().Interface()
			}
			continue
		}
		out[f.Name] = fv.Interface()
	}
	return out
}

// diff keeps the fields that changed, as [before, after].
func diff(before, after map[string]any) map[string][2]any {
	out := map[string][2]any{}
	for k, a := range after {
		if b := before[k]; !reflect.DeepEqual(a, b) {
			out[k] = [2]any{b, a}
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			out[k] = [2]any{b, nil}
		}
	}
	return out
}

// formFields is a submitted form without its secrets, for the audit trail
// of actions that create things.
func formFields(f *form) map[string]any {
	out := map[string]any{}
	if f == nil {
		return out
	}
	for k, vs := range f.Values {
		if secretField(k) || k == "preview" {
			continue
		}
		v := strings.Join(vs, ",")
		out[k] = truncate(v, 200)
	}
	return out
}

// auditPosts records every state-changing console request that a handler
// did not record itself in more detail: the route and the form fields,
// without secrets. One that changed nothing says so in its action: a
// preview, or a request refused (see auditOutcome).
func (s *Server) auditPosts(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return err
		}
		if c.Get("audited") != nil || operatorOf(c) == nil {
			return err
		}
		var fields map[string]any
		vals, ferr := c.FormParams()
		if ferr == nil {
			fields = formFields(&form{Values: vals})
		}
		route := c.Request().Method + " " + c.Path()
		preview := previewRoutes[route] || (ferr == nil && vals.Get("preview") != "")
		s.audit(c, auditOutcome(route, preview, responseStatus(c, err)), auditTarget(c), fields)
		return err
	}
}

// previewRoutes are the console's requests that only show what would
// happen: uploading a CSV checks it and keeps it for applying; nothing
// changes until POST /admin/contracts/import/apply. The publishing forms'
// previews say so with their "preview" field.
var previewRoutes = map[string]bool{"POST /admin/contracts/import": true}

// responseStatus is the status a request answered, or will answer once the
// central error handler (handleError) renders err.
func responseStatus(c echo.Context, err error) int {
	var he *echo.HTTPError
	switch {
	case err == nil && c.Response().Committed:
		return c.Response().Status
	case err == nil:
		return http.StatusOK
	case errors.As(err, &he):
		return he.Code
	case errors.Is(err, data.ErrNotFound):
		return http.StatusNotFound
	case data.Unavailable(err):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// auditOutcome marks the action of a request that changed nothing, so the
// trail never shows it like the change: "POST /admin/incidents (preview)",
// "POST /admin/contracts/import (failed: 400)".
func auditOutcome(action string, preview bool, status int) string {
	switch {
	case preview && status >= 400:
		return action + " (preview, failed: " + strconv.Itoa(status) + ")"
	case preview:
		return action + " (preview)"
	case status >= 400:
		return action + " (failed: " + strconv.Itoa(status) + ")"
	}
	return action
}

func auditTarget(c echo.Context) string {
	var parts []string
	for _, n := range c.ParamNames() {
		if n == "token" {
			continue
		}
		parts = append(parts, n+"="+c.Param(n))
	}
	return strings.Join(parts, " ")
}

// secrets lists the server secret, then the previous ones still honoured.
func (s *Server) secrets() []string {
	return append([]string{s.opts.Secret}, s.opts.PreviousSecrets...)
}

// sealKey derives the key that seals TOTP secrets at rest.
func (s *Server) sealKey() []byte { return sealKeyOf(s.opts.Secret) }

func sealKeyOf(secret string) []byte {
	k := sha256.Sum256([]byte("oshirase totp seal\x00" + secret))
	return k[:]
}

// seal encrypts a value with AES-GCM under the server secret.
func (s *Server) seal(plain string) (string, error) {
	block, err := aes.NewCipher(s.sealKey())
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), nil)), nil
}

// unseal opens a sealed value with the secret, or a previous one.
func (s *Server) unseal(sealed string) (string, error) {
	var err error
	for _, secret := range s.secrets() {
		var plain string
		if plain, err = unsealWith(sealKeyOf(secret), sealed); err == nil {
			return plain, nil
		}
	}
	return "", err
}

func unsealWith(key []byte, sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", errors.New("sealed value too short")
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	return string(plain), err
}

// auditEdit records an edit with the fields that changed, before → after.
func (s *Server) auditEdit(c echo.Context, action, target string, before, after any) {
	s.audit(c, action, target, diff(auditFields(before), auditFields(after)))
}
