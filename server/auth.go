package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

// Login throttling: an account may fail a few times, an address (which a
// whole office may share) a few more; past that each failure doubles the
// wait, up to a quarter of an hour. The message never says which.
func accountDelay(failures int) time.Duration { return growingDelay(failures, 5) }
func ipDelay(failures int) time.Duration      { return growingDelay(failures, 10) }

func growingDelay(failures, free int) time.Duration {
	if failures < free {
		return 0
	}
	n := failures - free + 1
	if n > 10 {
		return 15 * time.Minute
	}
	return min(time.Duration(1<<n)*time.Second, 15*time.Minute)
}

func randomToken() string {
	raw := make([]byte, 32)
	rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// startSession gives the browser a new session cookie (a new random id at
// every login: an id planted before it is worth nothing after). method
// says how the operator proved who they are (see data.Session.Method).
func (s *Server) startSession(c echo.Context, op *data.Operator, mfaPending bool, method string) error {
	if old, ok := c.Get("session").(string); ok {
		s.store.DeleteSession(c.Request().Context(), old)
	}
	token := randomToken()
	s.rotateCSRF(c)
	ctx := c.Request().Context()
	if err := s.store.CreateSession(ctx, hashToken(token), op.ID, sessionLifetime, mfaPending); err != nil {
		return err
	}
	if err := s.store.SetSessionClient(ctx, hashToken(token), s.clientInfo(c), method); err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	return nil
}

// clientInfo is the browser and address of a request, as kept with a
// session or a remembered browser.
func (s *Server) clientInfo(c echo.Context) data.ClientInfo {
	return data.ClientInfo{UserAgent: c.Request().UserAgent(), IP: c.RealIP()}
}

func (s *Server) setSessionCookie(c echo.Context, token string) {
	// A browser-session cookie: closing the browser signs out; the server
	// ends the session after its idle and absolute limits regardless.
	c.SetCookie(&http.Cookie{Name: s.cookieName("oshirase_session"), Value: token, Path: "/", HttpOnly: true,
		Secure: s.secure(), SameSite: http.SameSiteLaxMode})
}

// login checks the credentials and starts a session. Wrong address and
// wrong password read the same and take as long; a throttled login is
// refused before the password is looked at, and one refused for load
// (every hashing slot taken) does not count as an attempt.
func (s *Server) login(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	email, pw := f.Get("email"), f.Get("password")
	f.Values.Del("password")
	ctx := c.Request().Context()
	// Three counters, each reserved before the password is looked at, so
	// a burst cannot slip under them: this account from this address, this
	// address, and this account from anywhere — except from a browser the
	// account has signed in from before, so nobody can lock the owner out.
	ip := c.RealIP()
	op, err := s.store.OperatorByEmail(ctx, email)
	if errors.Is(err, data.ErrNotFound) {
		op = nil
	} else if err != nil {
		return err
	}
	known := s.knownDevice(c, op)
	typed := s.keyedHash(data.NormalizeEmail(email)) // never the text as typed
	pairKey, ipKey, accountKey := data.ThrottleKey("account-ip", typed+"|"+ip), data.ThrottleKey("ip", ip), data.ThrottleKey("account", typed)
	keys := map[string]func(int) time.Duration{pairKey: accountDelay, ipKey: ipDelay}
	if !known {
		keys[accountKey] = accountDelay
	}
	until, err := s.store.ReserveAttempt(ctx, keys)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		s.audit(c, "login.throttled", s.loginTarget(ctx, email), nil)
		f.fail("email", "throttled")
		s.retryAfter(c, until)
		return s.render(c, http.StatusTooManyRequests, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	// A browser the account signed in from before may use the hashing
	// slot kept for it, so a flood of sign-ins from elsewhere does not keep
	// the owner out.
	slot, err := password.Acquire(ctx, known)
	if err != nil {
		// Too many sign-ins at once: refused without hashing, while the
		// public page keeps serving. The password was not looked at, so
		// the attempt is given back: retrying never locks anyone out.
		if err := s.store.ReleaseAttempt(context.WithoutCancel(ctx), keys); err != nil {
			return err
		}
		f.fail("email", "login_busy")
		c.Response().Header().Set("Retry-After", "5")
		return s.render(c, http.StatusServiceUnavailable, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	ok := false
	if op == nil || op.PasswordHash == "" {
		// No account, or one that signs in through the identity
		// provider only: as slow as a wrong password all the same.
		slot.VerifyDummy(pw)
	} else {
		ok = slot.Verify(pw, op.PasswordHash)
	}
	slot.Release()
	if op == nil || !ok || op.Disabled {
		s.audit(c, "login.failed", s.loginTarget(ctx, email), nil)
		f.fail("email", "bad_login")
		return s.render(c, http.StatusUnauthorized, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	for k := range keys {
		s.store.ClearLoginFailures(ctx, k)
	}
	// The password was right; where sign-in goes through the identity
	// provider, only a break-glass account may go on with it.
	if !s.localSignInAllowed(op) {
		s.audit(c, "login.password_refused", "email="+op.Email, map[string]any{"reason": "sso_only"})
		f.fail("email", "login.sso_only")
		return s.render(c, http.StatusForbidden, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	second, err := s.needsSecondFactor(ctx, op)
	if err != nil {
		return err
	}
	if err := s.startSession(c, op, second, "password"); err != nil {
		return err
	}
	next := localPath(f.Get("next"))
	if second {
		c.Set("mfa_operator", op)
		s.audit(c, "login.password", "", s.localSignInAudit(op))
		return c.Redirect(http.StatusSeeOther, "/admin/login/2fa?next="+urlQuery(next))
	}
	c.Set("operator", op)
	if err := s.rememberDevice(c, op); err != nil {
		return err
	}
	s.auditLocalSignIn(c, op, map[string]any{"method": "password"})
	if next == "" {
		next = "/admin"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// showSecondFactor asks for the TOTP or recovery code after the password.
func (s *Server) showSecondFactor(c echo.Context) error {
	if _, ok := c.Get("mfa_operator").(*data.Operator); !ok {
		return c.Redirect(http.StatusSeeOther, "/admin/login")
	}
	f := &form{Values: map[string][]string{"next": {localPath(c.QueryParam("next"))}}}
	return s.renderSecondFactor(c, http.StatusOK, f)
}

// totpOpts are RFC 6238's defaults, which every authenticator app uses.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkTOTP finds the time step a code belongs to (the current one or one
// either side, for clock drift), or -1.
func checkTOTP(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return -1
	}
	for _, skew := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(skew) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return t.Unix() / 30
		}
	}
	return -1
}

// newRecoveryCodes makes ten single-use recovery codes and their hashes.
func newRecoveryCodes() (codes, hashes []string) {
	codes, hashes = make([]string, 10), make([]string, 10)
	for i := range codes {
		b := make([]byte, 5)
		rand.Read(b)
		raw := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
		codes[i] = raw[:4] + "-" + raw[4:]
		hashes[i] = recoveryHash(codes[i])
	}
	return codes, hashes
}

func recoveryHash(code string) string {
	code = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	sum := sha256.Sum256([]byte("recovery:" + code))
	return hex.EncodeToString(sum[:])
}

// verifySecondFactor accepts a TOTP code once, or a recovery code once,
// and turns the half-open session into a full one under a new id.
func (s *Server) verifySecondFactor(c echo.Context) error {
	op, ok := c.Get("mfa_operator").(*data.Operator)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/admin/login")
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	code := f.Get("code")
	f.Values.Del("code")
	ctx := c.Request().Context()
	// Counted before the code is checked, like passwords (a burst of
	// guesses is counted one by one): for the account, or, from a browser
	// the account signed in from before, for that browser alone, so that
	// someone who has the password cannot lock the owner out by guessing
	// codes elsewhere.
	key, accountKey := s.secondFactorKeys(c, op)
	if until, err := s.store.ReserveAttempt(ctx, map[string]func(int) time.Duration{key: accountDelay}); err != nil {
		return err
	} else if !until.IsZero() {
		s.retryAfter(c, until)
		f.fail("code", "throttled")
		return s.renderSecondFactor(c, http.StatusTooManyRequests, f)
	}
	good := false
	if secret, err := s.unseal(op.TOTPSecret); err == nil {
		if step := checkTOTP(secret, code, s.opts.Now()); step >= 0 {
			good, err = s.store.UseTOTPStep(ctx, op.ID, step)
			if err != nil {
				return err
			}
		}
	}
	if !good && len(strings.TrimSpace(code)) > 6 {
		if good, err = s.store.UseRecoveryCode(ctx, op.ID, recoveryHash(code)); err != nil {
			return err
		}
		if good {
			s.audit(c, "login.recovery_code", "", nil)
		}
	}
	if !good {
		s.audit(c, "login.2fa_failed", "", nil)
		f.fail("code", "bad_code")
		return s.renderSecondFactor(c, http.StatusUnauthorized, f)
	}
	method := "password+totp"
	if len(strings.TrimSpace(code)) > 6 {
		method = "recovery_code"
	}
	if err := s.secondFactorPassed(c, op, method, key, accountKey); err != nil {
		return err
	}
	s.auditLocalSignIn(c, op, map[string]any{"second_factor": true, "method": method})
	next := localPath(f.Get("next"))
	if next == "" {
		next = "/admin"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// secondFactorPassed turns the half-open session into a full one under a
// new id (ErrNotFound when it is no longer waiting for its second factor),
// clears the failures counted against the keys, and remembers the browser.
func (s *Server) secondFactorPassed(c echo.Context, op *data.Operator, method, key, accountKey string) error {
	ctx := c.Request().Context()
	token := randomToken()
	if err := s.store.PromoteSession(ctx, c.Get("session").(string), hashToken(token), method); err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	s.store.ClearLoginFailures(ctx, key)
	s.store.ClearLoginFailures(ctx, accountKey)
	s.store.ClearLoginFailures(ctx, data.ThrottleKey("account", s.keyedHash(op.Email)))
	if err := s.rememberDevice(c, op); err != nil {
		return err
	}
	c.Set("operator", op)
	return nil
}

// secondFactorKeys are the throttle keys of second-factor attempts (codes
// and passkeys alike, so guesses cannot be shared out between them): the
// one to count — for the account, or, from a browser the account signed
// in from before, for that browser alone — and the account's.
func (s *Server) secondFactorKeys(c echo.Context, op *data.Operator) (key, accountKey string) {
	accountKey = data.ThrottleKey("2fa", s.keyedHash(op.Email))
	if s.knownDevice(c, op) {
		return data.ThrottleKey("2fa-device", s.deviceHash(c)), accountKey
	}
	return accountKey, accountKey
}

// require2FA sends an admin without two-factor to set it up, when
// OSHIRASE_REQUIRE_2FA is on; only the account pages and sign-out work
// until then.
func (s *Server) require2FA(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := operatorOf(c)
		if !s.opts.Require2FA || op == nil || !op.IsAdmin() || op.HasTOTP() ||
			strings.HasPrefix(c.Path(), "/admin/account") || c.Path() == "/admin/logout" {
			return next(c)
		}
		// An operator signed in through the identity provider had its
		// checks there; and a passkey is a second factor too.
		if s.sessionMethod(c) == "sso" {
			return next(c)
		}
		if second, err := s.needsSecondFactor(c.Request().Context(), op); err != nil || second {
			return next(c)
		}
		if c.Request().Method == http.MethodGet {
			s.setFlash(c, "flash.2fa_required")
			return c.Redirect(http.StatusSeeOther, "/admin/account")
		}
		return echo.NewHTTPError(http.StatusForbidden, "error.2fa_required")
	}
}

type accountPage struct {
	TOTPKey       string
	TOTPURL       string
	TOTPImage     template.URL
	Sealed        string
	RecoveryCodes []string
	CodesLeft     int64
	Required      bool
	Sessions      []sessionRow
	Devices       []deviceRow
	Passkeys      []passkeyRow
	// PasskeyName is the name a new passkey gets unless the operator
	// gives one: their browser's.
	PasskeyName string
	// Langs are the languages the operator may choose.
	Langs []string
}

// sessionRow is one of the operator's sessions on the account page. Ref
// stands for its id in the form (the id is the hash of a live cookie).
type sessionRow struct {
	Ref, Browser, UserAgent, IP, LastIP, Method string
	CreatedAt, LastSeenAt                       time.Time
	Current                                     bool
}

// deviceRow is one of the operator's remembered browsers.
type deviceRow struct {
	ID                     int64
	Browser, UserAgent, IP string
	CreatedAt, LastUsedAt  time.Time
	Current                bool
}

func (s *Server) sessionRef(id string) string { return s.keyedHash("session:" + id) }

// needsSecondFactor reports whether the operator has a second factor a
// password sign-in must be followed by: an authenticator app or a passkey.
func (s *Server) needsSecondFactor(ctx context.Context, op *data.Operator) (bool, error) {
	if op.HasTOTP() {
		return true, nil
	}
	return s.hasPasskeys(ctx, op)
}

// sessionMethod is how the current session began, or "".
func (s *Server) sessionMethod(c echo.Context) string {
	m, _ := c.Get("session_method").(string)
	return m
}

// browsers fills in the operator's sessions and remembered browsers.
func (s *Server) browsers(c echo.Context, v *accountPage) error {
	op, ctx := operatorOf(c), c.Request().Context()
	sessions, err := s.store.OperatorSessions(ctx, op.ID, sessionIdle)
	if err != nil {
		return err
	}
	current, _ := c.Get("session").(string)
	for _, x := range sessions {
		v.Sessions = append(v.Sessions, s.sessionRow(x, current))
	}
	devices, err := s.store.OperatorDevices(ctx, op.ID)
	if err != nil {
		return err
	}
	mine := s.deviceHash(c)
	for _, d := range devices {
		v.Devices = append(v.Devices, deviceRow{ID: d.ID, Browser: shortUserAgent(d.UserAgent), UserAgent: d.UserAgent,
			IP: d.IP, CreatedAt: d.CreatedAt, LastUsedAt: d.LastUsedAt, Current: mine != "" && d.TokenHash == mine})
	}
	return s.fillPasskeys(c, v)
}

// sessionRow shows a session; current is the id of the one in use.
func (s *Server) sessionRow(x data.Session, current string) sessionRow {
	last := x.LastIP
	if last == "" {
		last = x.IP
	}
	return sessionRow{Ref: s.sessionRef(x.ID), Browser: shortUserAgent(x.UserAgent), UserAgent: x.UserAgent,
		IP: x.IP, LastIP: last, Method: x.Method, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, Current: x.ID == current}
}

func (s *Server) accountPage(c echo.Context) (*accountPage, error) {
	op := operatorOf(c)
	v := &accountPage{Required: s.opts.Require2FA && op.IsAdmin(), Langs: accountLangs()}
	if err := s.browsers(c, v); err != nil {
		return nil, err
	}
	if op.HasTOTP() {
		n, err := s.store.RecoveryCodesLeft(c.Request().Context(), op.ID)
		if err != nil {
			return nil, err
		}
		v.CodesLeft = n
		return v, nil
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Oshirase " + s.opts.BaseURL.Hostname(), AccountName: op.Email})
	if err != nil {
		return nil, err
	}
	v.TOTPKey, v.TOTPURL = key.Secret(), key.URL()
	if img, err := qrDataURI(key); err == nil {
		// Our own PNG, so safe to mark as a URL html/template may emit.
		v.TOTPImage = template.URL(img)
	}
	// The new secret travels sealed in the form until it is confirmed.
	if v.Sealed, err = s.seal(key.Secret()); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Server) showAccount(c echo.Context) error {
	v, err := s.accountPage(c)
	if err != nil {
		return err
	}
	v.RecoveryCodes = s.codesToShow(c)
	return s.render(c, http.StatusOK, "account", &view{Title: s.t(c, "account.title"), Data: v})
}

func (s *Server) renderAccount(c echo.Context, code int, f *form) error {
	v, err := s.accountPage(c)
	if err != nil {
		return err
	}
	return s.render(c, code, "account", &view{Title: s.t(c, "account.title"), Form: f, Data: v})
}

// changePassword asks for the current password again before setting a new
// one, and ends the operator's other sessions.
func (s *Server) changePassword(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
	if s.managedByIdP(op) {
		return errManagedByIdP
	}
	current, next, confirm := f.Get("current"), f.Get("new"), f.Get("confirm")
	f.Values = nil // never echo passwords back
	if !password.Verify(current, op.PasswordHash) {
		f.fail("current", "bad_password")
	}
	if err := password.Check(next, s.personalWords(op.Email)...); err != nil {
		f.fail("new", passwordErrorKey(err))
	} else if next != confirm {
		f.fail("confirm", "mismatch")
	}
	if f.Invalid() {
		return s.renderAccount(c, http.StatusBadRequest, f)
	}
	hash, err := password.Hash(next)
	if err != nil {
		return err
	}
	sess, _ := c.Get("session").(string)
	if err := s.store.SetOperatorPassword(c.Request().Context(), op.ID, hash, sess); err != nil {
		return err
	}
	s.audit(c, "account.password", "", nil)
	s.setFlash(c, "flash.password_changed")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// changeEmail changes the sign-in address, after the password again.
func (s *Server) changeEmail(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
	if s.managedByIdP(op) {
		return errManagedByIdP
	}
	current := f.Get("current_for_email")
	f.Values.Del("current_for_email")
	if !password.Verify(current, op.PasswordHash) {
		f.fail("current_for_email", "bad_password")
		return s.renderAccount(c, http.StatusBadRequest, f)
	}
	err = s.store.SetOperatorEmail(c.Request().Context(), op.ID, f.Get("new_email"))
	if err != nil {
		var v *data.ValidationError
		if errors.As(err, &v) {
			f.fail("new_email", v.Fields["email"])
			return s.renderAccount(c, http.StatusBadRequest, f)
		}
		return err
	}
	s.audit(c, "account.email", "", map[string][2]any{"email": {op.Email, data.NormalizeEmail(f.Get("new_email"))}})
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// enableTOTP confirms a new authenticator with a code from it and the
// password, then shows recovery codes once.
func (s *Server) enableTOTP(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
	if s.managedByIdP(op) {
		return errManagedByIdP
	}
	if op.HasTOTP() {
		return c.Redirect(http.StatusSeeOther, "/admin/account")
	}
	current, code := f.Get("current_for_2fa"), f.Get("code")
	f.Values.Del("current_for_2fa")
	f.Values.Del("code")
	secret, err := s.unseal(f.Get("sealed"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
	}
	if !password.Verify(current, op.PasswordHash) {
		f.fail("current_for_2fa", "bad_password")
	}
	step := checkTOTP(secret, code, s.opts.Now())
	if step < 0 {
		f.fail("code", "bad_code")
	}
	if f.Invalid() {
		return s.renderAccount(c, http.StatusBadRequest, f)
	}
	codes, hashes := newRecoveryCodes()
	sealed, err := s.seal(secret)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.store.SetTOTP(ctx, op.ID, sealed, hashes); err != nil {
		return err
	}
	s.store.UseTOTPStep(ctx, op.ID, step) // the code just used cannot sign in
	s.audit(c, "account.2fa_enabled", "", nil)
	op.TOTPSecret = sealed
	v := &accountPage{RecoveryCodes: codes, CodesLeft: 10}
	if err := s.browsers(c, v); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "account", &view{Title: s.t(c, "account.title"), Data: v})
}

// endSession signs one of the operator's own browsers out; ending the
// current one signs this browser out.
func (s *Server) endSession(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op, ctx := operatorOf(c), c.Request().Context()
	sessions, err := s.store.OperatorSessions(ctx, op.ID, sessionIdle)
	if err != nil {
		return err
	}
	ref := f.Get("session")
	for _, x := range sessions {
		if ref == "" || !hmac.Equal([]byte(s.sessionRef(x.ID)), []byte(ref)) {
			continue
		}
		if err := s.store.DeleteOperatorSession(ctx, op.ID, x.ID); err != nil {
			return err
		}
		current, _ := c.Get("session").(string)
		s.audit(c, "account.session_end", "", map[string]any{"browser": shortUserAgent(x.UserAgent), "ip": x.IP, "current": x.ID == current})
		if x.ID == current {
			s.clearSessionCookie(c)
			return c.Redirect(http.StatusSeeOther, "/admin/login")
		}
		s.setFlash(c, "flash.session_ended")
		return c.Redirect(http.StatusSeeOther, "/admin/account")
	}
	return data.ErrNotFound
}

// endOtherSessions signs out every browser of the operator but this one.
func (s *Server) endOtherSessions(c echo.Context) error {
	op := operatorOf(c)
	current, _ := c.Get("session").(string)
	n, err := s.store.DeleteOperatorSessions(c.Request().Context(), op.ID, current)
	if err != nil {
		return err
	}
	s.audit(c, "account.sessions_end_others", "", map[string]any{"sessions": n})
	s.setFlash(c, "flash.sessions_ended")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// forgetDevice forgets one of the operator's remembered browsers: it no
// longer gets past the account-wide sign-in throttle.
func (s *Server) forgetDevice(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op, ctx := operatorOf(c), c.Request().Context()
	id, err := strconv.ParseInt(f.Get("device"), 10, 64)
	if err != nil {
		return data.ErrNotFound
	}
	devices, err := s.store.OperatorDevices(ctx, op.ID)
	if err != nil {
		return err
	}
	for _, d := range devices {
		if d.ID != id {
			continue
		}
		if err := s.store.DeleteOperatorDevice(ctx, op.ID, d.ID); err != nil {
			return err
		}
		current := d.TokenHash == s.deviceHash(c)
		if current {
			s.forgetDeviceCookie(c)
		}
		s.audit(c, "account.device_forget", "", map[string]any{"browser": shortUserAgent(d.UserAgent), "ip": d.IP, "current": current})
		s.setFlash(c, "flash.device_forgotten")
		return c.Redirect(http.StatusSeeOther, "/admin/account")
	}
	return data.ErrNotFound
}

// shortUserAgent names a browser in a few words ("Chrome · Windows") from
// its User-Agent, or shows the start of it when it is none of the usual.
func shortUserAgent(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "?"
	}
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"OPR/", "Opera"}, {"Vivaldi/", "Vivaldi"},
		{"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " · " + system
	case browser != "":
		return browser
	case system != "":
		return system
	}
	if r := []rune(ua); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return ua
}

// disableTOTP turns two-factor off, after the password again; not for an
// admin when it is required.
func (s *Server) disableTOTP(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
	if s.managedByIdP(op) {
		return errManagedByIdP
	}
	current := f.Get("current_for_2fa")
	f.Values.Del("current_for_2fa")
	if s.opts.Require2FA && op.IsAdmin() {
		return echo.NewHTTPError(http.StatusForbidden, "error.2fa_required")
	}
	if !password.Verify(current, op.PasswordHash) {
		f.fail("current_for_2fa", "bad_password")
		return s.renderAccount(c, http.StatusBadRequest, f)
	}
	if err := s.store.SetTOTP(c.Request().Context(), op.ID, "", nil); err != nil {
		return err
	}
	s.audit(c, "account.2fa_disabled", "", nil)
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// qrDataURI draws the otpauth:// URL as a QR code inline (img-src data: is
// allowed; nothing leaves the server).
func qrDataURI(key *otp.Key) (string, error) {
	img, err := key.Image(200, 200)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// deviceCookie marks a browser an operator has signed in from, so the
// account-wide sign-in throttle (which anyone can trip by guessing from
// elsewhere) never locks the owner out of their own browser. It holds a
// random token of that browser, bound to one operator, kept only hashed,
// replaced at every full sign-in, listed and forgettable on the account
// page.
const deviceCookie = "oshirase_device"

// deviceHash is the hash of this browser's device token, or "".
func (s *Server) deviceHash(c echo.Context) string {
	ck, err := c.Cookie(s.cookieName(deviceCookie))
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return ""
	}
	return hashToken(ck.Value)
}

// knownDevice reports whether this browser signed in as op before (and
// has not been forgotten since).
func (s *Server) knownDevice(c echo.Context, op *data.Operator) bool {
	h := s.deviceHash(c)
	if op == nil || h == "" {
		return false
	}
	ok, err := s.store.UseDevice(c.Request().Context(), op.ID, h)
	if err != nil {
		s.log.Warn("device lookup", "err", err)
		return false
	}
	return ok
}

// rememberDevice gives this browser a new device token after a full
// sign-in, for a year; the one it held for this operator is forgotten.
func (s *Server) rememberDevice(c echo.Context, op *data.Operator) error {
	token := randomToken()
	if err := s.store.RememberDevice(c.Request().Context(), op.ID, hashToken(token), s.deviceHash(c), s.clientInfo(c)); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(deviceCookie), Value: token, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteStrictMode})
	return nil
}

func (s *Server) forgetDeviceCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.cookieName(deviceCookie), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteStrictMode})
}

// keyedHash stands for text a visitor typed (an address that may be a
// password typed in the wrong box) wherever it is kept: throttle keys and
// the audit trail of failed sign-ins never hold the text itself.
func (s *Server) keyedHash(v string) string {
	mac := hmac.New(sha256.New, []byte(s.opts.Secret))
	mac.Write([]byte("typed:" + v))
	return hex.EncodeToString(mac.Sum(nil)[:12])
}

// loginTarget names a sign-in attempt in the audit trail: the address when
// it is an operator's, otherwise only its keyed hash.
func (s *Server) loginTarget(ctx context.Context, email string) string {
	email = data.NormalizeEmail(email)
	if _, err := s.store.OperatorByEmail(ctx, email); err == nil {
		return "email=" + email
	}
	return "typed=" + s.keyedHash(email)
}
