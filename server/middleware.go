package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
)

// Session lifetimes: a session ends after this long without a request, and
// in any case this long after login.
const (
	sessionIdle     = 2 * time.Hour
	sessionLifetime = 24 * time.Hour
)

// recoverPanics turns a panic into a logged 500 instead of a dropped
// connection, keeping the stack for the log only.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic in handler", "path", loggedPath(c), "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// securityHeaders sets the headers every response carries. The pages use no
// inline script or style, so the policy can forbid both. Over https,
// browsers are told to stay on https (HSTS).
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	// Echo applies middleware on every request, so the fixed values are
	// built once, with the server (see fixedHeaders).
	return func(c echo.Context) error {
		h := c.Response().Header()
		for k, v := range s.fixed {
			h[k] = v
		}
		h["Content-Security-Policy"] = s.pagePolicy(c.Request().Context())
		return next(c)
	}
}

// Content-Security-Policy of the pages. Images may come from the page's
// own origin and data: URIs (the sign-in QR code), and from one other
// origin only: that of the branding's logo URL, when one is set. Nothing
// else: a markdown image in an incident from another host is not loaded
// (it would tell that host who reads the page).
const (
	cspImages = "default-src 'self'; img-src 'self' data:"
	cspRest   = "; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	// cspStrict is the policy without a logo URL, and the fixed one.
	cspStrict = cspImages + cspRest
)

// policyEntry is the policy built for one logo URL.
type policyEntry struct {
	logoURL string
	header  []string
}

// lastPolicy caches the policy of the logo URL last seen: it changes only
// with the branding.
var lastPolicy atomic.Pointer[policyEntry]

// pagePolicy is the Content-Security-Policy header value for the current
// branding, as a prepared slice (set it, never edit it). Both ways a page
// is answered set it: securityHeaders and the page cache's fast path
// (serveCached), after the fixed headers.
func (s *Server) pagePolicy(ctx context.Context) []string {
	logo := s.store.LastBranding(ctx).LogoURL
	if e := lastPolicy.Load(); e != nil && e.logoURL == logo {
		return e.header
	}
	csp := cspStrict
	if o := logoOrigin(logo); o != "" {
		csp = cspImages + " " + o + cspRest
	}
	e := &policyEntry{logoURL: logo, header: []string{csp}}
	lastPolicy.Store(e)
	return e.header
}

// logoOrigin is the https origin (scheme, host and port) of a logo URL,
// "" for none or for anything that could not be a source in a policy.
func logoOrigin(logo string) string {
	u, err := url.Parse(logo)
	if logo == "" || err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	host := strings.ToLower(u.Host)
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '[' || r == ']') {
			return ""
		}
	}
	return "https://" + host
}

// fixedHeaders are the security headers every response carries. Setting
// a prepared slice under a canonical key costs no allocation; a handler
// that changes one replaces the slice (Set) rather than editing it, and an
// append copies (capacity is the length).
func fixedHeaders(secure bool) http.Header {
	fixed := http.Header{}
	if secure {
		fixed.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	// The strictest page policy; securityHeaders sets the branding's (see
	// pagePolicy).
	fixed.Set("Content-Security-Policy", cspStrict)
	fixed.Set("X-Content-Type-Options", "nosniff")
	fixed.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	// For browsers that predate frame-ancestors, and no powerful feature
	// for any page.
	fixed.Set("X-Frame-Options", "DENY")
	fixed.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()")
	for k, v := range fixed {
		fixed[k] = v[:1:1]
	}
	return fixed
}

// noStore keeps console pages out of every cache.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}

// negotiateLanguage picks the page language and remembers an explicit
// ?lang= choice in a cookie.
func (s *Server) negotiateLanguage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := ""
		if c.Request().URL.RawQuery != "" {
			q = c.QueryParam("lang")
		}
		cookie := ""
		if ck, err := c.Cookie("lang"); err == nil {
			cookie = ck.Value
		}
		lang := requestLang(c.Request().URL.Path, q, cookie, c.Request().Header.Get("Accept-Language"))
		if locale.Supported(q) && q != cookie {
			c.SetCookie(&http.Cookie{Name: "lang", Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
		}
		c.Set("lang", lang)
		return next(c)
	}
}

// requestLang picks a request's language. The Statuspage JSON speaks
// English unless a client asks for Japanese (?lang=ja or Accept-Language),
// as the clients written for Statuspage expect; a page's cookie does not
// change it. So does the operator API (its errors are English; what a
// destructive call changed follows Accept-Language). Pages default to
// Japanese.
func requestLang(path, query, cookie, acceptLanguage string) string {
	if strings.HasPrefix(path, "/api/v2/") || strings.HasPrefix(path, "/api/admin/") {
		return locale.NegotiateOr(query, "", acceptLanguage, "en")
	}
	return locale.Negotiate(query, cookie, acceptLanguage)
}

func langOf(c echo.Context) string {
	if l, ok := c.Get("lang").(string); ok {
		return l
	}
	return locale.Languages[0]
}

func (s *Server) cookieName(base string) string {
	// The __Host- prefix tells the browser to accept the cookie only over
	// https, for this host, with Path=/: no subdomain can plant one.
	if s.secure() {
		return "__Host-" + base
	}
	return base
}

// csrf checks a token on every state-changing console request: the hidden
// form field "csrf" or the X-CSRF-Token header must match the cookie.
func (s *Server) csrf() echo.MiddlewareFunc {
	check := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:csrf,header:X-CSRF-Token",
		ContextKey:     "csrf",
		CookieName:     s.cookieName("oshirase_csrf"),
		CookiePath:     "/",
		CookieMaxAge:   int(sessionLifetime / time.Second),
		CookieHTTPOnly: true,
		CookieSecure:   s.secure(),
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return errCSRF
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		checked := check(next)
		return func(c echo.Context) error {
			// Echo lets a request through without a token when the browser says
			// Sec-Fetch-Site: same-origin. We want the token on every unsafe
			// request, so the header only serves to refuse cross-site ones early.
			h := c.Request().Header
			site := h.Get("Sec-Fetch-Site")
			h.Del("Sec-Fetch-Site")
			if !safeMethod(c.Request().Method) {
				if site == "cross-site" || !s.sameOrigin(c) {
					return errCSRF
				}
				// The token counts only from the form or the header: one in
				// the URL would leak into logs and Referer.
				if _, inURL := c.Request().URL.Query()["csrf"]; inURL {
					return errCSRF
				}
			}
			return checked(c)
		}
	}
}

// sameOrigin reports whether a request's Origin, when it sends one, is
// this site's (the configured base URL's, or the address it was asked at).
func (s *Server) sameOrigin(c echo.Context) bool {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return true
	}
	if s.opts.BaseURL != nil && strings.EqualFold(origin, s.opts.BaseURL.Scheme+"://"+s.opts.BaseURL.Host) {
		return true
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+c.Request().Host)
}

// rotateCSRF gives the browser a new CSRF token at sign-in, so a token
// seen before it (on the login page, say) is worth nothing after.
func (s *Server) rotateCSRF(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.cookieName("oshirase_csrf"), Value: randomToken(), Path: "/", MaxAge: int(sessionLifetime / time.Second),
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

var errCSRF = echo.NewHTTPError(http.StatusForbidden, "error.csrf")

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// loadOperator finds the signed-in operator, if any, from the session cookie.
func (s *Server) loadOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(s.cookieName("oshirase_session"))
		if err != nil || ck.Value == "" || len(ck.Value) > 128 {
			return next(c)
		}
		sess, op, err := s.store.SessionOperator(c.Request().Context(), hashToken(ck.Value), sessionIdle)
		switch {
		case errors.Is(err, data.ErrNotFound):
			s.clearSessionCookie(c)
		case err != nil:
			return err
		case sess.MFAPending:
			// Password given, second factor still due: only the code page.
			c.Set("mfa_operator", op)
			c.Set("session", sess.ID)
		default:
			c.Set("operator", op)
			c.Set("session", sess.ID)
			c.Set("session_method", sess.Method)
			if ip := c.RealIP(); ip != sess.LastIP {
				if err := s.store.SessionSeenFrom(c.Request().Context(), sess.ID, ip); err != nil {
					return err
				}
			}
			// A signed-in operator's console speaks the language they
			// chose, whatever the browser or its cookie asks for, but for
			// a link that names one (?lang=en shows that page in English);
			// console pages are never stored (noStore), so no copy
			// outlives the choice.
			if q := c.QueryParam("lang"); !locale.Supported(q) {
				c.Set("lang", op.Language())
			}
		}
		return next(c)
	}
}

func operatorOf(c echo.Context) *data.Operator {
	op, _ := c.Get("operator").(*data.Operator)
	return op
}

// requireOperator sends an anonymous visitor to the login page, coming back
// afterwards to the page asked for.
func (s *Server) requireOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if operatorOf(c) != nil {
			return next(c)
		}
		if c.Request().Method == http.MethodGet {
			return c.Redirect(http.StatusSeeOther, "/admin/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return echo.NewHTTPError(http.StatusUnauthorized, "error.login_required")
	}
}

// requireAdmin refuses editors.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if op := operatorOf(c); op == nil || !op.IsAdmin() {
			return echo.NewHTTPError(http.StatusForbidden, "error.admin_only")
		}
		return next(c)
	}
}

// localPath accepts a login ?next= only when it stays on this site.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return next
}

// importDeadline is the least an import of contracts gets: up to 9 MB of
// CSV is one transaction that may rightly take longer than a page, but
// its answer must still come before the listener's 60 s write timeout.
const importDeadline = 55 * time.Second

// dbDeadline bounds the database work of a console or API request: a
// database that accepts connections but never answers ends the request's
// statements with context.DeadlineExceeded, which is a 503 (the
// transaction is rolled back, so nothing is half-saved). The error page
// is then rendered with the request's own context again. Public pages
// are not under it: they come from the page cache, rendered in the
// background.
func (s *Server) dbDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := s.opts.DBRequestTimeout
		if strings.HasSuffix(c.Path(), "/contracts/import") {
			limit = max(limit, importDeadline)
		}
		parent := c.Request().Context()
		ctx, cancel := context.WithTimeout(parent, limit)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		err := next(c)
		c.SetRequest(c.Request().WithContext(parent))
		if ctx.Err() == context.DeadlineExceeded && parent.Err() == nil && !c.Response().Committed && !data.Unavailable(err) {
			// Our deadline passed, whatever the driver made of it (a
			// transaction it rolled back says sql.ErrTxDone, an interrupted
			// SQLite statement "interrupted") or a handler that swallowed
			// the error: the database was too slow, not the request wrong.
			err = fmt.Errorf("%w: %v", data.ErrUnavailable, cmp.Or(err, ctx.Err()))
		}
		return err
	}
}

// handleError is the one place errors become responses. Client mistakes get
// their status and a message in the visitor's language; anything else is
// logged and shown as a generic 500.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		s.handleAPIError(err, c)
		return
	}
	code, key := http.StatusInternalServerError, "error.internal"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code = he.Code
		if m, ok := he.Message.(string); ok && (strings.HasPrefix(m, "error.") || strings.HasPrefix(m, "field.")) {
			key = m
		} else {
			key = map[int]string{
				http.StatusBadRequest:            "error.bad_request",
				http.StatusUnauthorized:          "error.login_required",
				http.StatusForbidden:             "error.forbidden",
				http.StatusNotFound:              "error.not_found",
				http.StatusMethodNotAllowed:      "error.method_not_allowed",
				http.StatusRequestEntityTooLarge: "error.too_large",
			}[code]
			if key == "" {
				key = "error.bad_request"
			}
		}
		if code >= 500 {
			key = "error.internal"
		}
	case errors.Is(err, data.ErrNotFound):
		code, key = http.StatusNotFound, "error.not_found"
	case data.Unavailable(err):
		code, key = http.StatusServiceUnavailable, "error.database_unavailable"
		s.outage.fail("the database is unavailable; requests that need it get a 503", err)
	case errors.Is(err, data.ErrSignInBusy):
		code, key = http.StatusServiceUnavailable, "error.signin_busy"
		c.Response().Header().Set("Retry-After", "30")
	case errors.As(err, new(errPageFailing)):
		// Logged and alerted by the render's health; the visitor is told.
		code, key = http.StatusServiceUnavailable, "error.page_failing"
		c.Response().Header().Set("Retry-After", "60")
	}
	if code >= 500 && code != http.StatusServiceUnavailable {
		s.log.Error("request failed", "method", c.Request().Method, "path", loggedPath(c), "err", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/admin") && operatorOf(c) == nil && code != http.StatusServiceUnavailable && !s.opts.Standby {
		// Refused before the session was read (a body too large, say):
		// read it now, so the page is the console's.
		s.loadOperator(func(echo.Context) error { return nil })(c)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/admin") && c.Request().Header.Get("Accept") == "application/json" {
		// The console's scripts (passkeys) read the message from JSON, in the
		// operator's language once the session is read.
		c.JSON(code, map[string]string{"error": s.t(c, key)})
		return
	}
	if rerr := s.render(c, code, "error", s.errorView(c, code, key)); rerr != nil {
		s.log.Error("rendering the error page failed", "err", rerr)
		c.String(code, http.StatusText(code))
	}
}

type errorPage struct {
	Code    int
	Message string
	// Detail explains the message, when the catalogue has an id + "_detail".
	Detail string
}

// errorView is the error page for a code and message id.
func (s *Server) errorView(c echo.Context, code int, key string) *view {
	p := errorPage{Code: code, Message: key}
	if s.catalog.Has(langOf(c), key+"_detail") {
		p.Detail = key + "_detail"
	}
	return &view{Title: s.t(c, key), Data: p}
}

// handleAPIError answers API clients in JSON, never in HTML.
func (s *Server) handleAPIError(err error, c echo.Context) {
	var he *echo.HTTPError
	body := apiError{Error: apiErrorBody{Code: "internal", Message: "Something went wrong on our side."}}
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &he):
		code = he.Code
		if m, ok := he.Message.(apiError); ok {
			body = m
		} else {
			body.Error.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", "_"))
			body.Error.Message = http.StatusText(code) + "."
		}
	case errors.Is(err, data.ErrNotFound):
		code, body = http.StatusNotFound, apiError{Error: apiErrorBody{Code: "not_found", Message: "Not found."}}
	case data.Unavailable(err):
		s.outage.fail("the database is unavailable; requests that need it get a 503", err)
		c.Response().Header().Set("Retry-After", "30")
		c.JSON(http.StatusServiceUnavailable, apiError{Error: apiErrorBody{Code: "database_unavailable",
			Message: "The database is not available right now; nothing was changed. Try again shortly."}})
		return
	}
	if code >= 500 {
		s.log.Error("API request failed", "method", c.Request().Method, "path", loggedPath(c), "err", err)
		body = apiError{Error: apiErrorBody{Code: "internal", Message: "Something went wrong on our side."}}
	}
	c.JSON(code, body)
}

// goodText reports whether s may be taken as text: valid UTF-8 without NUL
// (PostgreSQL refuses NUL in text, and nothing should be turned into
// U+FFFD without a word).
func goodText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// rejectBadText refuses, at the edge and with a clear 400, any query or
// form value (or name) that is not good text, before a handler sees it.
func (s *Server) rejectBadText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		check := func(vals url.Values) bool {
			for k, vs := range vals {
				if !goodText(k) {
					return false
				}
				for _, v := range vs {
					if !goodText(v) {
						return false
					}
				}
			}
			return true
		}
		if c.Request().URL.RawQuery != "" && !check(c.QueryParams()) {
			return echo.NewHTTPError(http.StatusBadRequest, "field.bad_text")
		}
		ct := c.Request().Header.Get(echo.HeaderContentType)
		if !safeMethod(c.Request().Method) && (strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm)) {
			vals, err := c.FormParams()
			if err == nil && !check(vals) {
				return echo.NewHTTPError(http.StatusBadRequest, "field.bad_text")
			}
		}
		return next(c)
	}
}
