package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/oshirase/oshirase/data"
)

// SSOOptions is operators' sign-in through an OpenID Connect identity
// provider (OSHIRASE_OIDC_*): the authorization code flow with PKCE.
type SSOOptions struct {
	// Issuer is the provider's issuer URL, exactly as its tokens say it.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Name labels the sign-in button ("Microsoft Entra ID").
	Name string
	// Scopes are asked for beyond openid, email and profile.
	Scopes []string
	// RoleClaim, when set, names the claim (groups, roles) whose values
	// give the role at every sign-in: one of AdminValues makes an admin,
	// one of EditorValues an editor, neither no access.
	RoleClaim    string
	AdminValues  []string
	EditorValues []string
	// JIT creates the operator at their first sign-in.
	JIT bool
	// AllowedDomains, when set, are the only email domains let in.
	AllowedDomains []string
	// BreakGlass, when set, makes the provider the only way in for
	// everyone but these admins (normalized addresses), who alone may
	// still sign in with a password or a passkey.
	BreakGlass []string
	// HTTPClient talks to the provider; nil is a client with a timeout.
	HTTPClient *http.Client
}

const (
	// ssoStateTTL is how long a sign-in may take at the provider.
	ssoStateTTL = 10 * time.Minute
	// ssoDiscoveryTimeout bounds one look at the provider's discovery
	// document; after a failure it is not tried again for ssoRetryAfter,
	// so a provider that is down is not hammered by every click.
	ssoDiscoveryTimeout = 5 * time.Second
	ssoRetryAfter       = 30 * time.Second
	ssoExchangeTimeout  = 10 * time.Second
	// Once found, the provider is looked at again (its discovery document,
	// for at most ssoRecheckTimeout) when the login page is shown and the
	// last look is older than ssoRecheckEvery, so an outage that began
	// later is said there too, and its button does not send people to a
	// provider that does not answer.
	ssoRecheckEvery   = 30 * time.Second
	ssoRecheckTimeout = 2 * time.Second
	// ssoCookie binds a sign-in in flight to the browser that began it.
	ssoCookie       = "oshirase_sso"
	ssoCallbackPath = "/admin/login/sso/callback"
)

var errSSOUnavailable = errors.New("server: the identity provider cannot be reached")

// ssoProvider is the identity provider, discovered on first use rather
// than at start: a provider that is down must not keep the status page
// from starting, and password (break-glass) sign-in keeps working.
type ssoProvider struct {
	opts   SSOOptions
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex // held while discovering
	prov   *oidc.Provider
	failed time.Time
	// checked is when the provider last answered or was last looked at.
	checked time.Time
	// down says the last look at the provider failed, for the login page
	// (read without waiting for a discovery in progress).
	down atomic.Bool
}

func newSSOProvider(o *SSOOptions, now func() time.Time, log *slog.Logger) *ssoProvider {
	if o == nil {
		return nil
	}
	p := &ssoProvider{opts: *o, client: o.HTTPClient, log: log, now: now}
	if p.client == nil {
		p.client = &http.Client{Timeout: 15 * time.Second}
	}
	if p.opts.Name == "" {
		p.opts.Name = "SSO"
	}
	return p
}

// provider discovers the provider, or says errSSOUnavailable.
func (p *ssoProvider) provider(ctx context.Context) (*oidc.Provider, error) {
	if p.prov != nil || p.down.Load() {
		p.recheck(ctx, p.down.Load())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prov != nil {
		if p.down.Load() {
			return nil, errSSOUnavailable
		}
		return p.prov, nil
	}
	if !p.failed.IsZero() && p.now().Sub(p.failed) < ssoRetryAfter {
		return nil, errSSOUnavailable
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), p.client), ssoDiscoveryTimeout)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, p.opts.Issuer)
	if err != nil {
		p.failed = p.now()
		p.down.Store(true)
		p.log.Warn("single sign-on is unavailable: the identity provider's discovery document could not be read; trying again at the next sign-in",
			"issuer", p.opts.Issuer, "err", err)
		return nil, fmt.Errorf("%w: %v", errSSOUnavailable, err)
	}
	if p.down.Swap(false) {
		p.log.Info("single sign-on is available again", "issuer", p.opts.Issuer)
	}
	p.prov, p.failed, p.checked = prov, time.Time{}, p.now()
	return prov, nil
}

// recheck looks at a provider found before, when the last look is older
// than ssoRecheckEvery (or now, with force), and says whether it answers.
func (p *ssoProvider) recheck(ctx context.Context, force bool) {
	p.mu.Lock()
	due := p.prov != nil && (force || p.now().Sub(p.checked) >= ssoRecheckEvery)
	if due {
		p.checked = p.now()
	}
	p.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ssoRecheckTimeout)
	defer cancel()
	ok := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.opts.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err == nil {
		var res *http.Response
		if res, err = p.client.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
			res.Body.Close()
			ok = res.StatusCode == http.StatusOK
		}
	}
	switch was := p.down.Swap(!ok); {
	case !ok && !was:
		p.log.Warn("single sign-on is unavailable: the identity provider does not answer", "issuer", p.opts.Issuer, "err", err)
	case ok && was:
		p.log.Info("single sign-on is available again", "issuer", p.opts.Issuer)
	}
}

func (p *ssoProvider) oauth2(prov *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.opts.ClientID, ClientSecret: p.opts.ClientSecret, Endpoint: prov.Endpoint(), RedirectURL: redirect,
		Scopes: append([]string{oidc.ScopeOpenID, "email", "profile"}, p.opts.Scopes...)}
}

// ssoState is what a sign-in in flight keeps until the provider sends the
// browser back.
type ssoState struct {
	Verifier string `json:"verifier"`
	Nonce    string `json:"nonce"`
	Next     string `json:"next,omitempty"`
}

// ssoClaims are what Oshirase reads of an ID token.
type ssoClaims struct {
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	Username      string `json:"preferred_username"`
}

// ssoRoutes adds the OpenID Connect sign-in under /admin, when single
// sign-on is configured (without it the addresses do not exist).
func (s *Server) ssoRoutes(admin *echo.Group) {
	if s.sso == nil {
		return
	}
	admin.GET("/login/sso", s.startSSO)
	admin.GET("/login/sso/callback", s.finishSSO)
}

// localSignInAllowed reports whether op may sign in with a password or a
// passkey: always, unless sign-in goes through the identity provider for
// everyone but the break-glass admins.
func (s *Server) localSignInAllowed(op *data.Operator) bool {
	if s.sso == nil || len(s.sso.opts.BreakGlass) == 0 {
		return true
	}
	return s.breakGlass(op.Email, op.Role)
}

// breakGlass reports whether an address is one of the break-glass admins.
func (s *Server) breakGlass(email, role string) bool {
	return s.sso != nil && role == data.RoleAdmin && slices.Contains(s.sso.opts.BreakGlass, data.NormalizeEmail(email))
}

// localSignInAudit is what a password or passkey sign-in adds to its
// audit entry: that it was a break-glass one, when it was.
func (s *Server) localSignInAudit(op *data.Operator) map[string]any {
	if s.usedBreakGlass(op) {
		return map[string]any{"break_glass": true}
	}
	return nil
}

// usedBreakGlass reports whether op signing in with a password or passkey
// is a break-glass sign-in (everyone else signs in through the provider).
func (s *Server) usedBreakGlass(op *data.Operator) bool {
	return s.sso != nil && len(s.sso.opts.BreakGlass) > 0 && s.breakGlass(op.Email, op.Role)
}

// auditLocalSignIn records a completed password or passkey sign-in, with
// fields, and marks a break-glass one — which every operator is also
// told of, by email and on their channels: it should happen only while
// the identity provider is down, and an unexpected one is an alarm.
func (s *Server) auditLocalSignIn(c echo.Context, op *data.Operator, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	for k, v := range s.localSignInAudit(op) {
		fields[k] = v
	}
	s.audit(c, "login", "", fields)
	if !s.usedBreakGlass(op) {
		return
	}
	ctx := context.WithoutCancel(c.Request().Context())
	if err := s.store.AlertBreakGlassSignIn(ctx, op.Email, shortUserAgent(c.Request().UserAgent()), c.RealIP()); err != nil {
		s.log.Warn("could not alert the operators of a break-glass sign-in", "email", op.Email, "err", err)
		return
	}
	s.opts.Wake()
}

// passwordFor reports whether an invitation to email as role asks for a
// password: not where everyone but the break-glass admins signs in
// through the identity provider.
func (s *Server) passwordFor(email, role string) bool {
	return s.sso == nil || len(s.sso.opts.BreakGlass) == 0 || s.breakGlass(email, role)
}

// ssoLogin is what the login page shows of single sign-on.
type ssoLogin struct {
	Name string
	// Unavailable: the provider could not be reached at the last try.
	Unavailable bool
	// BreakGlass: the password form is for the break-glass admins only.
	BreakGlass bool
}

// SSO is single sign-on as the login page offers it; nil when off.
func (p *page) SSO() *ssoLogin {
	sso := p.s.sso
	if sso == nil {
		return nil
	}
	return &ssoLogin{Name: sso.opts.Name, Unavailable: sso.down.Load(), BreakGlass: len(sso.opts.BreakGlass) > 0}
}

// PasswordFor reports whether accepting an invitation to email as role
// asks for a password.
func (p *page) PasswordFor(email, role string) bool { return p.s.passwordFor(email, role) }

// ManagedByIdP reports whether the signed-in operator's password and
// address are the identity provider's business (they cannot use one here).
func (p *page) ManagedByIdP() bool { return p.Operator != nil && p.s.managedByIdP(p.Operator) }

// managedByIdP reports whether op's password, second factor and address
// are the identity provider's business: they have no password here, or
// may not use one. The account page's forms for them are refused too.
func (s *Server) managedByIdP(op *data.Operator) bool {
	return s.sso != nil && (op.PasswordHash == "" || !s.localSignInAllowed(op))
}

// errManagedByIdP refuses a change of what the identity provider manages.
var errManagedByIdP = echo.NewHTTPError(http.StatusForbidden, "error.managed_by_idp")

// startSSO sends the browser to the provider with a fresh state, nonce
// and PKCE verifier, kept server-side and bound to this browser.
func (s *Server) startSSO(c echo.Context) error {
	ctx := c.Request().Context()
	prov, err := s.sso.provider(ctx)
	if err != nil {
		return s.ssoUnavailable(c)
	}
	// One binding cookie per browser, so two tabs signing in at once both
	// come back to a state of theirs.
	binding := ""
	if ck, err := c.Cookie(s.cookieName(ssoCookie)); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 64 {
		binding = ck.Value
	} else {
		binding = randomToken()
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(ssoCookie), Value: binding, Path: "/", MaxAge: int(ssoStateTTL / time.Second),
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	st := ssoState{Verifier: oauth2.GenerateVerifier(), Nonce: randomToken(), Next: localPath(c.QueryParam("next"))}
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	state := randomToken()
	if err := s.store.PutChallenge(ctx, data.AuthChallenge{ID: hashToken(state), Kind: data.ChallengeSSO, Browser: hashToken(binding),
		Payload: string(payload)}, ssoStateTTL); err != nil {
		return err
	}
	u := s.sso.oauth2(prov, s.ssoRedirectURL()).AuthCodeURL(state, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return c.Redirect(http.StatusSeeOther, u)
}

func (s *Server) ssoRedirectURL() string { return s.opts.BaseURL.String() + ssoCallbackPath }

// ssoUnavailable answers a sign-in that cannot reach the provider: the
// login page says so, with the password form for break-glass admins.
func (s *Server) ssoUnavailable(c echo.Context) error {
	s.audit(c, "login.sso_failed", "", map[string]any{"reason": "unavailable"})
	c.Response().Header().Set("Retry-After", fmt.Sprint(int(ssoRetryAfter/time.Second)))
	// The page's own notice says so: the provider is marked down.
	f := &form{Values: map[string][]string{"next": {localPath(c.QueryParam("next"))}}}
	return s.render(c, http.StatusServiceUnavailable, "login", &view{Title: s.t(c, "login.title"), Form: f})
}

// ssoFailure is a sign-in refused: why (for the audit trail and the log)
// and what the person is told.
type ssoFailure struct {
	code   int
	reason string
	target string
	detail map[string]any
}

func (e *ssoFailure) Error() string { return "sso: " + e.reason }

func ssoFail(code int, reason string) *ssoFailure { return &ssoFailure{code: code, reason: reason} }

// finishSSO takes the browser back from the provider: the state once, the
// code for tokens, the ID token checked, then the operator it names.
func (s *Server) finishSSO(c echo.Context) error {
	st, op, err := s.ssoSignIn(c)
	var fail *ssoFailure
	switch {
	case errors.Is(err, errSSOUnavailable):
		return s.ssoUnavailable(c)
	case errors.As(err, &fail):
		changes := map[string]any{"reason": fail.reason}
		for k, v := range fail.detail {
			changes[k] = v
		}
		if fail.reason == "state" && operatorOf(c) != nil {
			// A used or old callback opened again by someone signed in
			// (the back button, a bookmark): they are in already.
			return c.Redirect(http.StatusSeeOther, "/admin")
		}
		s.audit(c, "login.sso_failed", fail.target, changes)
		s.log.Info("single sign-on refused", "reason", fail.reason, "target", fail.target)
		f := &form{Values: map[string][]string{}}
		if st != nil {
			f.Values.Set("next", st.Next)
		}
		f.fail("sso", "sso.error."+fail.reason)
		return s.render(c, fail.code, "login", &view{Title: s.t(c, "login.title"), Form: f})
	case err != nil:
		return err
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(ssoCookie), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	if err := s.startSession(c, op, false, "sso"); err != nil {
		return err
	}
	c.Set("operator", op)
	if err := s.rememberDevice(c, op); err != nil {
		return err
	}
	s.audit(c, "login", "", map[string]any{"method": "sso"})
	next := st.Next
	if next == "" {
		next = "/admin"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// ssoSignIn does the checks of finishSSO; an *ssoFailure says why it
// refused.
func (s *Server) ssoSignIn(c echo.Context) (*ssoState, *data.Operator, error) {
	ctx := c.Request().Context()
	q := c.QueryParams()
	// The state is spent first, whatever else the answer says: a state
	// is good for one answer.
	var ch *data.AuthChallenge
	if state := q.Get("state"); state != "" && len(state) <= 256 {
		var err error
		ch, err = s.store.TakeChallenge(ctx, hashToken(state), data.ChallengeSSO)
		if errors.Is(err, data.ErrNotFound) {
			ch = nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	var st *ssoState
	if ch != nil {
		st = &ssoState{}
		if err := json.Unmarshal([]byte(ch.Payload), st); err != nil {
			return nil, nil, fmt.Errorf("server: sso state: %w", err)
		}
	}
	if e := q.Get("error"); e != "" {
		f := ssoFail(http.StatusForbidden, "provider")
		if e == "access_denied" {
			f.reason = "denied"
		}
		f.detail = map[string]any{"error": clip(e, 64), "error_description": clip(q.Get("error_description"), 200)}
		return st, nil, f
	}
	if ch == nil {
		return nil, nil, ssoFail(http.StatusBadRequest, "state")
	}
	ck, err := c.Cookie(s.cookieName(ssoCookie))
	if err != nil || subtle.ConstantTimeCompare([]byte(hashToken(ck.Value)), []byte(ch.Browser)) != 1 {
		return st, nil, ssoFail(http.StatusBadRequest, "browser")
	}
	prov, err := s.sso.provider(ctx)
	if err != nil {
		return st, nil, err
	}
	pctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, s.sso.client), ssoExchangeTimeout)
	defer cancel()
	tok, err := s.sso.oauth2(prov, s.ssoRedirectURL()).Exchange(pctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		s.log.Warn("single sign-on: the identity provider refused the code", "err", err)
		return st, nil, ssoFail(http.StatusUnauthorized, "exchange")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return st, nil, ssoFail(http.StatusUnauthorized, "token")
	}
	idt, err := prov.VerifierContext(pctx, &oidc.Config{ClientID: s.sso.opts.ClientID, Now: s.opts.Now}).Verify(pctx, raw)
	if err != nil {
		s.log.Warn("single sign-on: the ID token was refused", "err", err)
		return st, nil, ssoTokenFailure(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return st, nil, ssoFail(http.StatusUnauthorized, "nonce")
	}
	var cl ssoClaims
	var all map[string]json.RawMessage
	if err := idt.Claims(&cl); err != nil {
		return st, nil, ssoFail(http.StatusUnauthorized, "token")
	}
	if err := idt.Claims(&all); err != nil {
		return st, nil, ssoFail(http.StatusUnauthorized, "token")
	}
	if cl.Email == "" {
		// Some providers keep the address out of the ID token; their
		// userinfo has it, for the same subject.
		if ui, err := prov.UserInfo(pctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			cl.Email = ui.Email
			if ui.Email != "" {
				cl.EmailVerified = &ui.EmailVerified
			}
		}
	}
	op, err := s.ssoOperator(c, idt.Issuer, cl, all)
	return st, op, err
}

// ssoTokenFailure names what was wrong with an ID token.
func ssoTokenFailure(err error) *ssoFailure {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return ssoFail(http.StatusUnauthorized, "expired")
	case strings.Contains(msg, "different provider"):
		return ssoFail(http.StatusUnauthorized, "issuer")
	case strings.Contains(msg, "audience"):
		return ssoFail(http.StatusUnauthorized, "audience")
	}
	return ssoFail(http.StatusUnauthorized, "token")
}

// ssoOperator finds (or, with JIT, creates) the operator the provider
// vouches for: by subject; else by verified address, tying the subject to
// an operator not tied yet. The role follows the claim when one is set.
func (s *Server) ssoOperator(c echo.Context, issuer string, cl ssoClaims, all map[string]json.RawMessage) (*data.Operator, error) {
	ctx := c.Request().Context()
	o := s.sso.opts
	email := data.NormalizeEmail(cl.Email)
	target := "sub=" + clip(cl.Subject, 128)
	if email != "" {
		target = "email=" + clip(email, 254)
	}
	fail := func(code int, reason string) *ssoFailure {
		return &ssoFailure{code: code, reason: reason, target: target}
	}
	if cl.Subject == "" {
		return nil, fail(http.StatusUnauthorized, "token")
	}
	if len(o.AllowedDomains) > 0 {
		_, domain, _ := strings.Cut(email, "@")
		if !slices.Contains(o.AllowedDomains, domain) {
			return nil, fail(http.StatusForbidden, "domain")
		}
	}
	role := ""
	if o.RoleClaim != "" {
		role = s.ssoRole(all[o.RoleClaim])
		if role == "" {
			return nil, fail(http.StatusForbidden, "no_role")
		}
	}
	op, err := s.store.OperatorBySSO(ctx, issuer, cl.Subject)
	if errors.Is(err, data.ErrNotFound) {
		op, err = s.ssoFirstSignIn(c, issuer, cl, email, role, fail)
	}
	if err != nil {
		return nil, err
	}
	if op.Disabled {
		return nil, fail(http.StatusForbidden, "disabled")
	}
	if role != "" && role != op.Role {
		err := s.store.SetOperatorRole(ctx, op.ID, role)
		var v *data.ValidationError
		switch {
		case errors.As(err, &v):
			// The last admin stays one: nobody is locked out of the
			// console by a group membership changed at the provider.
			s.log.Warn("single sign-on: the identity provider no longer gives this operator the admin role, but they are the last admin; kept as admin",
				"operator", op.Email, "claim", o.RoleClaim)
			s.auditAs(c, op, "operator.role_kept", "email="+op.Email, map[string]any{"role": op.Role, "claim_role": role, "source": "sso", "reason": "last_admin"})
		case err != nil:
			return nil, err
		default:
			s.auditAs(c, op, "operator.role", "email="+op.Email, map[string]any{"from": op.Role, "to": role, "source": "sso"})
			op.Role = role
		}
	}
	return op, nil
}

// ssoFirstSignIn handles a subject not tied to anyone yet.
func (s *Server) ssoFirstSignIn(c echo.Context, issuer string, cl ssoClaims, email, role string, fail func(int, string) *ssoFailure) (*data.Operator, error) {
	ctx := c.Request().Context()
	if email == "" {
		return nil, fail(http.StatusForbidden, "no_email")
	}
	if cl.EmailVerified != nil && !*cl.EmailVerified {
		return nil, fail(http.StatusForbidden, "email_unverified")
	}
	op, err := s.store.OperatorByEmail(ctx, email)
	switch {
	case err == nil:
		if op.Disabled {
			return nil, fail(http.StatusForbidden, "disabled")
		}
		// An operator tied to one account at the provider stays tied to
		// it: another account showing the same address is not them.
		if op.SSOSubject != "" {
			return nil, fail(http.StatusForbidden, "tied_elsewhere")
		}
		if err := s.store.TieOperatorSSO(ctx, op.ID, issuer, cl.Subject); errors.Is(err, data.ErrSSOTaken) {
			return nil, fail(http.StatusForbidden, "tied_elsewhere")
		} else if err != nil {
			return nil, err
		}
		op.SSOIssuer, op.SSOSubject = issuer, cl.Subject
		s.auditAs(c, op, "operator.sso_tied", "email="+op.Email, map[string]any{"issuer": issuer})
		return op, nil
	case !errors.Is(err, data.ErrNotFound):
		return nil, err
	case !s.sso.opts.JIT:
		return nil, fail(http.StatusForbidden, "unknown")
	}
	if role == "" {
		role = data.RoleEditor
	}
	name := cl.Name
	if name == "" {
		name = cl.Username
	}
	op, err = s.store.CreateSSOOperator(ctx, data.NewOperator{Email: email, Name: clip(name, data.MaxName), Role: role, Lang: langOf(c)}, issuer, cl.Subject)
	var v *data.ValidationError
	if errors.As(err, &v) {
		return nil, fail(http.StatusForbidden, "unknown")
	} else if err != nil {
		return nil, err
	}
	s.auditAs(c, op, "operator.sso_created", "email="+op.Email, map[string]any{"role": op.Role, "issuer": issuer})
	return op, nil
}

// auditAs writes an audit entry in op's name, before they are signed in.
func (s *Server) auditAs(c echo.Context, op *data.Operator, action, target string, changes any) {
	before := c.Get("operator")
	c.Set("operator", op)
	s.audit(c, action, target, changes)
	c.Set("operator", before)
}

// ssoRole maps the role claim (a string or a list of them) to a role, the
// higher one when both match; "" when neither does.
func (s *Server) ssoRole(raw json.RawMessage) string {
	var values []string
	if err := json.Unmarshal(raw, &values); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return ""
		}
		values = strings.Fields(one)
	}
	o := s.sso.opts
	for _, v := range values {
		if slices.Contains(o.AdminValues, v) {
			return data.RoleAdmin
		}
	}
	for _, v := range values {
		if slices.Contains(o.EditorValues, v) {
			return data.RoleEditor
		}
	}
	return ""
}

// clip shortens what a provider sent to at most n runes, for the audit
// trail and names.
func clip(v string, n int) string {
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	return string([]rune(v)[:n])
}
