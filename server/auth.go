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
// every login: an id planted before it is worth nothing after).
func (s *Server) startSession(c echo.Context, op *data.Operator, mfaPending bool) error {
	if old, ok := c.Get("session").(string); ok {
		s.store.DeleteSession(c.Request().Context(), old)
	}
	token := randomToken()
	s.rotateCSRF(c)
	if err := s.store.CreateSession(c.Request().Context(), hashToken(token), op.ID, sessionLifetime, mfaPending); err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	return nil
}

func (s *Server) setSessionCookie(c echo.Context, token string) {
	// A browser-session cookie: closing the browser signs out; the server
	// ends the session after its idle and absolute limits regardless.
	c.SetCookie(&http.Cookie{Name: s.cookieName("oshirase_session"), Value: token, Path: "/", HttpOnly: true,
		Secure: s.secure(), SameSite: http.SameSiteLaxMode})
}

// login checks the credentials and starts a session. Wrong address and
// wrong password read the same and take as long; a throttled login is
// refused before the password is looked at.
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
	typed := s.keyedHash(data.NormalizeEmail(email)) // never the text as typed
	pairKey, ipKey, accountKey := data.ThrottleKey("account-ip", typed+"|"+ip), data.ThrottleKey("ip", ip), data.ThrottleKey("account", typed)
	keys := map[string]func(int) time.Duration{pairKey: accountDelay, ipKey: ipDelay}
	if !s.knownDevice(c, email) {
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
	op, err := s.store.OperatorByEmail(ctx, email)
	ok := false
	switch {
	case errors.Is(err, data.ErrNotFound):
		_, err = password.VerifyDummy(ctx, pw)
	case err != nil:
		return err
	default:
		ok, err = password.VerifyCtx(ctx, pw, op.PasswordHash)
	}
	if errors.Is(err, password.ErrBusy) {
		// Too many sign-ins at once: refused without hashing, while the
		// public page keeps serving.
		f.fail("email", "login_busy")
		c.Response().Header().Set("Retry-After", "5")
		return s.render(c, http.StatusServiceUnavailable, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	if op == nil || !ok || op.Disabled {
		s.audit(c, "login.failed", s.loginTarget(ctx, email), nil)
		f.fail("email", "bad_login")
		return s.render(c, http.StatusUnauthorized, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	for k := range keys {
		s.store.ClearLoginFailures(ctx, k)
	}
	if err := s.startSession(c, op, op.HasTOTP()); err != nil {
		return err
	}
	next := localPath(f.Get("next"))
	if op.HasTOTP() {
		c.Set("mfa_operator", op)
		s.audit(c, "login.password", "", nil)
		return c.Redirect(http.StatusSeeOther, "/admin/login/2fa?next="+urlQuery(next))
	}
	c.Set("operator", op)
	s.rememberDevice(c, op.Email)
	s.audit(c, "login", "", nil)
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
	return s.render(c, http.StatusOK, "login_2fa", &view{Title: s.t(c, "login.2fa_title"), Form: f})
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
	// guesses is counted one by one).
	accountKey := data.ThrottleKey("2fa", s.keyedHash(op.Email))
	if until, err := s.store.ReserveAttempt(ctx, map[string]func(int) time.Duration{accountKey: accountDelay}); err != nil {
		return err
	} else if !until.IsZero() {
		s.retryAfter(c, until)
		f.fail("code", "throttled")
		return s.render(c, http.StatusTooManyRequests, "login_2fa", &view{Title: s.t(c, "login.2fa_title"), Form: f})
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
		return s.render(c, http.StatusUnauthorized, "login_2fa", &view{Title: s.t(c, "login.2fa_title"), Form: f})
	}
	token := randomToken()
	if err := s.store.PromoteSession(ctx, c.Get("session").(string), hashToken(token)); err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	s.store.ClearLoginFailures(ctx, accountKey)
	s.store.ClearLoginFailures(ctx, data.ThrottleKey("account", s.keyedHash(op.Email)))
	s.rememberDevice(c, op.Email)
	c.Set("operator", op)
	s.audit(c, "login", "", map[string]any{"second_factor": true})
	next := localPath(f.Get("next"))
	if next == "" {
		next = "/admin"
	}
	return c.Redirect(http.StatusSeeOther, next)
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
}

func (s *Server) accountPage(c echo.Context) (*accountPage, error) {
	op := operatorOf(c)
	v := &accountPage{Required: s.opts.Require2FA && op.IsAdmin()}
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
	codes := make([]string, 10)
	hashes := make([]string, 10)
	for i := range codes {
		b := make([]byte, 5)
		rand.Read(b)
		raw := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
		codes[i] = raw[:4] + "-" + raw[4:]
		hashes[i] = recoveryHash(codes[i])
	}
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
	return s.render(c, http.StatusOK, "account", &view{Title: s.t(c, "account.title"), Data: &accountPage{RecoveryCodes: codes, CodesLeft: 10}})
}

// disableTOTP turns two-factor off, after the password again; not for an
// admin when it is required.
func (s *Server) disableTOTP(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
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
// elsewhere) never locks the owner out of their own browser.
const deviceCookie = "oshirase_device"

func (s *Server) deviceToken(email string) string {
	mac := hmac.New(sha256.New, []byte(s.opts.Secret))
	mac.Write([]byte("device:" + data.NormalizeEmail(email)))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// knownDevice reports whether this browser signed in as email before.
func (s *Server) knownDevice(c echo.Context, email string) bool {
	if s.opts.Secret == "" {
		return false
	}
	ck, err := c.Cookie(s.cookieName(deviceCookie))
	return err == nil && hmac.Equal([]byte(ck.Value), []byte(s.deviceToken(email)))
}

// rememberDevice marks this browser after a full sign-in, for a year.
func (s *Server) rememberDevice(c echo.Context, email string) {
	if s.opts.Secret == "" {
		return
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(deviceCookie), Value: s.deviceToken(email), Path: "/", MaxAge: 365 * 24 * 3600,
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
