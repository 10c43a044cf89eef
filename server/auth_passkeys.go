package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

// Passkeys (WebAuthn) sign an operator in instead of the password, or
// after it as the second factor. Each ceremony is two JSON requests: begin
// hands the browser a challenge and a ticket, finish brings back the
// authenticator's answer with the ticket. The challenge is kept in the
// store (data.AuthChallenge), bound to the browser that asked for it and
// good for one answer within passkeyTTL.

// passkeyTTL is how long a ceremony may take from begin to finish: long
// enough to find a phone, short enough that a stolen ticket is soon
// worthless.
const passkeyTTL = 5 * time.Minute

// maxPasskeyBody bounds a finish request: an attestation with a
// certificate chain is a few kilobytes.
const maxPasskeyBody = 64 << 10

// passkeyRoutes adds passkey sign-in under /admin and the passkey list of
// the account page under the signed-in group.
func (s *Server) passkeyRoutes(admin, signedIn *echo.Group) {
	admin.POST("/login/passkey/begin", s.beginPasskeyLogin)
	admin.POST("/login/passkey/finish", s.finishPasskeyLogin)
	admin.POST("/login/2fa/passkey/begin", s.beginPasskeySecond)
	admin.POST("/login/2fa/passkey/finish", s.finishPasskeySecond)
	signedIn.POST("/account/passkeys/begin", s.beginPasskeyRegistration)
	signedIn.POST("/account/passkeys/finish", s.finishPasskeyRegistration)
	signedIn.POST("/account/passkeys/:id/rename", s.renamePasskey)
	signedIn.POST("/account/passkeys/:id/delete", s.deletePasskey, s.asks(s.describeDeletePasskey))
}

// hasPasskeys reports whether op has a passkey that works here: one
// registered at this base URL's host (see rpIDKey).
func (s *Server) hasPasskeys(ctx context.Context, op *data.Operator) (bool, error) {
	n, err := s.usablePasskeys(ctx, op)
	return n > 0, err
}

// usablePasskeys counts op's passkeys of this site.
func (s *Server) usablePasskeys(ctx context.Context, op *data.Operator) (int, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return 0, nil // no passkey can be used on an address without a host name
	}
	rows, err := s.store.OperatorPasskeys(ctx, op.ID)
	n := 0
	for _, r := range rows {
		if credentialRPID(r.Credential, rp.Config.RPID) == rp.Config.RPID {
			n++
		}
	}
	return n, err
}

// rpIDKey is the member Oshirase adds to the library's credential JSON:
// the RP ID (host name) the passkey was registered at. A browser offers a
// passkey only at that host, so after OSHIRASE_BASE_URL moves to another
// host the old ones are shown as such and no longer count as a second
// factor (which would lock their owners out).
const rpIDKey = "oshiraseRPID"

// encodeCredential is the credential as stored: the library's JSON plus
// the RP ID.
func encodeCredential(cred *webauthn.Credential, rpID string) (string, error) {
	b, err := json.Marshal(cred)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	m[rpIDKey], _ = json.Marshal(rpID)
	b, err = json.Marshal(m)
	return string(b), err
}

// credentialRPID is the RP ID a stored credential was registered at, or
// fallback for one that does not say.
func credentialRPID(stored, fallback string) string {
	var v struct {
		RPID string `json:"oshiraseRPID"`
	}
	if json.Unmarshal([]byte(stored), &v) != nil || v.RPID == "" {
		return fallback
	}
	return v.RPID
}

// passkeyRow is one of the operator's passkeys on the account page.
type passkeyRow struct {
	ID         int64
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	Used       bool
	// Synced: the passkey may be copied to the operator's other devices
	// by their password manager (the authenticator says it is backed up).
	Synced bool
	// Removable is false for an admin's only second factor when two-factor
	// sign-in is required.
	Removable bool
	// OtherSite names the host the passkey was registered at, when it is
	// not this site's: it cannot be used here.
	OtherSite string
}

// fillPasskeys lists the operator's passkeys on the account page.
func (s *Server) fillPasskeys(c echo.Context, v *accountPage) error {
	op := operatorOf(c)
	rows, err := s.store.OperatorPasskeys(c.Request().Context(), op.ID)
	if err != nil {
		return err
	}
	usable, err := s.usablePasskeys(c.Request().Context(), op)
	if err != nil {
		return err
	}
	here := ""
	if rp, err := s.relyingParty(); err == nil {
		here = rp.Config.RPID
	}
	last := s.passkeyIsLastFactor(op, usable)
	for _, p := range rows {
		r := passkeyRow{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, Removable: !last}
		if site := credentialRPID(p.Credential, here); site != here {
			r.OtherSite, r.Removable = site, true
		}
		if p.LastUsedAt != nil {
			r.LastUsedAt, r.Used = *p.LastUsedAt, true
		}
		var cred webauthn.Credential
		if json.Unmarshal([]byte(p.Credential), &cred) == nil {
			r.Synced = cred.Flags.BackupEligible
		}
		v.Passkeys = append(v.Passkeys, r)
	}
	v.PasskeyName = shortUserAgent(c.Request().UserAgent())
	return nil
}

// passkeyIsLastFactor reports whether removing one of op's n passkeys
// would leave an admin who must use two-factor sign-in without any.
func (s *Server) passkeyIsLastFactor(op *data.Operator, n int) bool {
	return s.opts.Require2FA && op.IsAdmin() && !op.HasTOTP() && n <= 1
}

// Passkeys reports whether this server can offer passkeys: WebAuthn needs
// a host name (not an IP address) in the base URL.
func (p *page) Passkeys() bool {
	_, err := p.s.relyingParty()
	return err == nil
}

// relyingParty is the WebAuthn relying party of the base URL: its host
// name is the RP ID every passkey is bound to, so a new host in
// OSHIRASE_BASE_URL leaves the passkeys registered before unusable.
func (s *Server) relyingParty() (*webauthn.WebAuthn, error) {
	u := s.opts.BaseURL
	if u == nil || u.Hostname() == "" {
		return nil, errors.New("server: passkeys need a base URL")
	}
	if err := protocol.ValidateRPID(u.Hostname()); err != nil {
		return nil, fmt.Errorf("server: passkeys need a host name in the base URL: %w", err)
	}
	return webauthn.New(&webauthn.Config{
		RPID:                  u.Hostname(),
		RPDisplayName:         "Oshirase " + u.Hostname(),
		RPOrigins:             []string{u.Scheme + "://" + u.Host},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: passkeyTTL, TimeoutUVD: passkeyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: passkeyTTL, TimeoutUVD: passkeyTTL},
		},
		// We ask for no extension; what a password manager adds of its own
		// changes nothing we keep, and refusing it would refuse its users.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
}

// passkeyUser is an operator as the WebAuthn library sees them.
type passkeyUser struct {
	op     *data.Operator
	handle []byte
	creds  []webauthn.Credential
	rows   []data.OperatorPasskey // rows[i] holds creds[i]
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.op.Email }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }
func (u *passkeyUser) WebAuthnDisplayName() string {
	if u.op.Name != "" {
		return u.op.Name
	}
	return u.op.Email
}

// row is the stored passkey of a credential the library returned.
func (u *passkeyUser) row(id []byte) (*data.OperatorPasskey, bool) {
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, id) {
			return &u.rows[i], true
		}
	}
	return nil, false
}

// userHandle is the opaque id an authenticator keeps with the operator's
// passkeys: keyed by the secret, so it says nothing about who they are.
func userHandle(secret string, operatorID int64) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("passkey-user:" + strconv.FormatInt(operatorID, 10)))
	return mac.Sum(nil)
}

// passkeyUser loads op's passkeys. handle is the user handle the
// authenticator answered with, when it did: one made with a secret
// rotated since (OSHIRASE_SECRET_PREVIOUS) still counts.
func (s *Server) passkeyUser(ctx context.Context, op *data.Operator, handle []byte) (*passkeyUser, error) {
	u := &passkeyUser{op: op, handle: userHandle(s.opts.Secret, op.ID)}
	if handle != nil && !hmac.Equal(handle, u.handle) {
		for _, old := range s.opts.PreviousSecrets {
			if h := userHandle(old, op.ID); hmac.Equal(handle, h) {
				u.handle = h
			}
		}
	}
	rows, err := s.store.OperatorPasskeys(ctx, op.ID)
	if err != nil {
		return nil, err
	}
	here := ""
	if rp, err := s.relyingParty(); err == nil {
		here = rp.Config.RPID
	}
	for _, r := range rows {
		if credentialRPID(r.Credential, here) != here {
			continue // registered at another host: no browser offers it here
		}
		var cred webauthn.Credential
		if err := json.Unmarshal([]byte(r.Credential), &cred); err != nil {
			s.log.Warn("a stored passkey cannot be read", "passkey", r.ID, "err", err)
			continue
		}
		u.creds, u.rows = append(u.creds, cred), append(u.rows, r)
	}
	return u, nil
}

// passkeyFailure is a refused passkey request: a status and the message
// the browser shows, in the operator's language.
type passkeyFailure struct {
	code int
	key  string
}

func (f *passkeyFailure) Error() string { return "passkey: " + f.key }

var (
	errPasskeyBadRequest = &passkeyFailure{http.StatusBadRequest, "passkeys.error.bad_request"}
	errPasskeyExpired    = &passkeyFailure{http.StatusBadRequest, "passkeys.error.expired"}
	errPasskeyFailed     = &passkeyFailure{http.StatusUnauthorized, "passkeys.error.failed"}
	errPasskeyUnknown    = &passkeyFailure{http.StatusUnauthorized, "passkeys.error.unknown"}
	errPasskeyCloned     = &passkeyFailure{http.StatusUnauthorized, "passkeys.error.cloned"}
	errPasskeyThrottled  = &passkeyFailure{http.StatusTooManyRequests, "passkeys.error.throttled"}
	errPasskeySSOOnly    = &passkeyFailure{http.StatusForbidden, "passkeys.error.sso_only"}
	errPasskeyNotPending = &passkeyFailure{http.StatusUnauthorized, "passkeys.error.not_pending"}
	errPasskeyNone       = &passkeyFailure{http.StatusBadRequest, "passkeys.error.none"}
	errPasskeyOff        = &passkeyFailure{http.StatusNotFound, "passkeys.error.unavailable"}
)

// passkeyJSON answers a passkey request: v, or for an error its message
// as {"error": "..."}. Errors that are not a refusal (the database) go to
// the central error handler.
func (s *Server) passkeyJSON(c echo.Context, v any, err error) error {
	var f *passkeyFailure
	var bad *data.ValidationError
	switch {
	case err == nil:
		return c.JSON(http.StatusOK, v)
	case errors.As(err, &f):
		return c.JSON(f.code, map[string]string{"error": s.t(c, f.key)})
	case errors.As(err, &bad):
		for _, key := range bad.Fields {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": s.t(c, "field."+key)})
		}
	}
	return err
}

// passkeyBegin is what a begin request answers: the ticket to bring back
// and the options for navigator.credentials, as WebAuthn's JSON.
type passkeyBegin struct {
	Ticket    string `json:"ticket"`
	PublicKey any    `json:"publicKey"`
}

// passkeyFinish is what a finish request brings: the ticket, the
// credential as PublicKeyCredential.toJSON() gives it, and for a new
// passkey its name, for a sign-in where to go after it.
type passkeyFinish struct {
	Ticket     string          `json:"ticket"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name"`
	Next       string          `json:"next"`
	Password   string          `json:"password"`
}

// readPasskeyJSON decodes a passkey request's body into v.
func readPasskeyJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxPasskeyBody+1))
	if err != nil || len(body) > maxPasskeyBody {
		return errPasskeyBadRequest
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errPasskeyBadRequest
	}
	return nil
}

// loginBinding ties a passwordless sign-in to the browser that began it:
// there is no session yet, so the browser's CSRF cookie, which the CSRF
// check has just matched, stands for it.
func loginBinding(c echo.Context) string {
	token, _ := c.Get("csrf").(string)
	return hashToken("passkey-login:" + token)
}

// sessionBinding ties a ceremony to the session that began it.
func sessionBinding(c echo.Context) string {
	id, _ := c.Get("session").(string)
	return hashToken("passkey-session:" + id)
}

// putCeremony keeps a ceremony's state and returns its ticket.
func (s *Server) putCeremony(c echo.Context, kind, browser string, op *int64, sd *webauthn.SessionData) (string, error) {
	payload, err := json.Marshal(sd)
	if err != nil {
		return "", err
	}
	ticket := randomToken()
	err = s.store.PutChallenge(c.Request().Context(), data.AuthChallenge{ID: hashToken(ticket), Kind: kind, Browser: browser,
		OperatorID: op, Payload: string(payload)}, passkeyTTL)
	return ticket, err
}

// takeCeremony takes a ceremony's state back, once, for the browser that
// began it; operator, when not zero, must be whom it was begun for.
func (s *Server) takeCeremony(c echo.Context, kind, browser, ticket string, operator int64) (*webauthn.SessionData, error) {
	if ticket == "" || len(ticket) > 128 {
		return nil, errPasskeyExpired
	}
	ch, err := s.store.TakeChallenge(c.Request().Context(), hashToken(ticket), kind)
	if errors.Is(err, data.ErrNotFound) {
		return nil, errPasskeyExpired
	} else if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(ch.Browser), []byte(browser)) || (operator != 0 && (ch.OperatorID == nil || *ch.OperatorID != operator)) {
		return nil, errPasskeyExpired
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(ch.Payload), &sd); err != nil {
		return nil, errPasskeyExpired
	}
	return &sd, nil
}

// beginPasskeyLogin starts a passwordless sign-in: any passkey of this
// site the browser holds may answer (a discoverable credential).
func (s *Server) beginPasskeyLogin(c echo.Context) error {
	c.Set("audited", true) // nothing happens until finish
	rp, err := s.relyingParty()
	if err != nil {
		return s.passkeyJSON(c, nil, errPasskeyOff)
	}
	assertion, sd, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	ticket, err := s.putCeremony(c, data.ChallengePasskeyLogin, loginBinding(c), nil, sd)
	if err != nil {
		return err
	}
	return s.passkeyJSON(c, passkeyBegin{Ticket: ticket, PublicKey: assertion.Response}, nil)
}

// finishPasskeyLogin signs the operator whose passkey answered in: the
// passkey (which checked who holds it: a fingerprint, a PIN) counts as
// both factors.
func (s *Server) finishPasskeyLogin(c echo.Context) error {
	var in passkeyFinish
	if err := readPasskeyJSON(c, &in); err != nil {
		return s.passkeyJSON(c, nil, err)
	}
	rp, err := s.relyingParty()
	if err != nil {
		return s.passkeyJSON(c, nil, errPasskeyOff)
	}
	sd, err := s.takeCeremony(c, data.ChallengePasskeyLogin, loginBinding(c), in.Ticket, 0)
	if err != nil {
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "challenge"})
		return s.passkeyJSON(c, nil, err)
	}
	// Counted before the answer is looked at, from this address, as the
	// password sign-in counts its attempts.
	ctx := c.Request().Context()
	ipKey := data.ThrottleKey("passkey-ip", c.RealIP())
	keys := map[string]func(int) time.Duration{ipKey: ipDelay}
	if until, err := s.store.ReserveAttempt(ctx, keys); err != nil {
		return err
	} else if !until.IsZero() {
		s.audit(c, "login.throttled", "", map[string]any{"method": "passkey"})
		s.retryAfter(c, until)
		return s.passkeyJSON(c, nil, errPasskeyThrottled)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "malformed"})
		return s.passkeyJSON(c, nil, errPasskeyBadRequest)
	}
	var found *passkeyUser
	var lookupErr error
	lookup := func(rawID, handle []byte) (webauthn.User, error) {
		pk, err := s.store.PasskeyByCredentialID(ctx, base64.RawURLEncoding.EncodeToString(rawID))
		if err != nil {
			lookupErr = err
			return nil, err
		}
		op, err := s.store.Operator(ctx, pk.OperatorID)
		if err == nil {
			found, err = s.passkeyUser(ctx, op, handle)
		}
		if err != nil {
			lookupErr = err
			return nil, err
		}
		return found, nil
	}
	_, cred, err := rp.ValidatePasskeyLogin(lookup, *sd, parsed)
	if lookupErr != nil && !errors.Is(lookupErr, data.ErrNotFound) {
		return lookupErr // the database, not the visitor
	}
	if err != nil {
		if found == nil {
			s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "unknown_credential"})
			return s.passkeyJSON(c, nil, errPasskeyUnknown)
		}
		c.Set("mfa_operator", found.op) // names the account in the audit trail
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "invalid", "detail": err.Error()})
		return s.passkeyJSON(c, nil, errPasskeyFailed)
	}
	op := found.op
	c.Set("mfa_operator", op)
	if op.Disabled {
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "disabled"})
		return s.passkeyJSON(c, nil, errPasskeyFailed)
	}
	if err := s.usePasskey(c, found, cred); err != nil {
		return s.passkeyJSON(c, nil, err)
	}
	// Where sign-in goes through the identity provider, a passkey is
	// refused as the password is, but for a break-glass account.
	if !s.localSignInAllowed(op) {
		s.audit(c, "login.passkey_refused", "email="+op.Email, map[string]any{"reason": "sso_only"})
		return s.passkeyJSON(c, nil, errPasskeySSOOnly)
	}
	s.store.ClearLoginFailures(ctx, ipKey)
	s.store.ClearLoginFailures(ctx, data.ThrottleKey("account", s.keyedHash(data.NormalizeEmail(op.Email))))
	if err := s.startSession(c, op, false, "passkey"); err != nil {
		return err
	}
	c.Set("operator", op)
	if err := s.rememberDevice(c, op); err != nil {
		return err
	}
	s.auditLocalSignIn(c, op, passkeyLoginAudit(false))
	next := localPath(in.Next)
	if next == "" {
		next = "/admin"
	}
	return s.passkeyJSON(c, map[string]string{"redirect": next}, nil)
}

// usePasskey records a good answer of a passkey: its new sign count and
// flags. An authenticator whose count went back (or stood still, where it
// keeps one) has a twin somewhere: refused, and said in the audit trail.
func (s *Server) usePasskey(c echo.Context, u *passkeyUser, cred *webauthn.Credential) error {
	row, ok := u.row(cred.ID)
	if !ok {
		return errPasskeyUnknown
	}
	if cred.Authenticator.CloneWarning {
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "sign_count", "passkey": row.Name})
		s.log.Warn("a passkey's sign count went back: refused, it may have been copied", "operator", u.op.ID, "passkey", row.ID)
		return errPasskeyCloned
	}
	stored, err := encodeCredential(cred, s.opts.BaseURL.Hostname()) // passkeyUser kept this site's alone
	if err != nil {
		return err
	}
	err = s.store.UsePasskey(c.Request().Context(), u.op.ID, row.ID, row.Credential, stored)
	if errors.Is(err, data.ErrNotFound) {
		// Another sign-in with the same count won the race, or the passkey
		// was removed meanwhile.
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "raced", "passkey": row.Name})
		return errPasskeyFailed
	}
	return err
}

// beginPasskeySecond asks, after the password, for one of the operator's
// own passkeys.
func (s *Server) beginPasskeySecond(c echo.Context) error {
	c.Set("audited", true)
	op, ok := c.Get("mfa_operator").(*data.Operator)
	if !ok {
		return s.passkeyJSON(c, nil, errPasskeyNotPending)
	}
	rp, err := s.relyingParty()
	if err != nil {
		return s.passkeyJSON(c, nil, errPasskeyOff)
	}
	u, err := s.passkeyUser(c.Request().Context(), op, nil)
	if err != nil {
		return err
	}
	if len(u.creds) == 0 {
		return s.passkeyJSON(c, nil, errPasskeyNone)
	}
	assertion, sd, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return err
	}
	ticket, err := s.putCeremony(c, data.ChallengePasskeySecond, sessionBinding(c), &op.ID, sd)
	if err != nil {
		return err
	}
	return s.passkeyJSON(c, passkeyBegin{Ticket: ticket, PublicKey: assertion.Response}, nil)
}

// finishPasskeySecond turns the half-open session into a full one when
// one of the operator's passkeys answered.
func (s *Server) finishPasskeySecond(c echo.Context) error {
	op, ok := c.Get("mfa_operator").(*data.Operator)
	if !ok {
		return s.passkeyJSON(c, nil, errPasskeyNotPending)
	}
	var in passkeyFinish
	if err := readPasskeyJSON(c, &in); err != nil {
		return s.passkeyJSON(c, nil, err)
	}
	rp, err := s.relyingParty()
	if err != nil {
		return s.passkeyJSON(c, nil, errPasskeyOff)
	}
	sd, err := s.takeCeremony(c, data.ChallengePasskeySecond, sessionBinding(c), in.Ticket, op.ID)
	if err != nil {
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "challenge", "second_factor": true})
		return s.passkeyJSON(c, nil, err)
	}
	// The same counter as the codes: guesses cannot be shared out between
	// the two.
	ctx := c.Request().Context()
	key, accountKey := s.secondFactorKeys(c, op)
	if until, err := s.store.ReserveAttempt(ctx, map[string]func(int) time.Duration{key: accountDelay}); err != nil {
		return err
	} else if !until.IsZero() {
		s.retryAfter(c, until)
		return s.passkeyJSON(c, nil, errPasskeyThrottled)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "malformed", "second_factor": true})
		return s.passkeyJSON(c, nil, errPasskeyBadRequest)
	}
	u, err := s.passkeyUser(ctx, op, parsed.Response.UserHandle)
	if err != nil {
		return err
	}
	cred, err := rp.ValidateLogin(u, *sd, parsed)
	if err != nil {
		var unknown *protocol.ErrorUnknownCredential
		if errors.As(err, &unknown) {
			s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "unknown_credential", "second_factor": true})
			return s.passkeyJSON(c, nil, errPasskeyUnknown)
		}
		s.audit(c, "login.passkey_failed", "", map[string]any{"reason": "invalid", "second_factor": true, "detail": err.Error()})
		return s.passkeyJSON(c, nil, errPasskeyFailed)
	}
	if err := s.usePasskey(c, u, cred); err != nil {
		return s.passkeyJSON(c, nil, err)
	}
	if err := s.secondFactorPassed(c, op, "password+passkey", key, accountKey); errors.Is(err, data.ErrNotFound) {
		return s.passkeyJSON(c, nil, errPasskeyNotPending)
	} else if err != nil {
		return err
	}
	s.auditLocalSignIn(c, op, passkeyLoginAudit(true))
	next := localPath(in.Next)
	if next == "" {
		next = "/admin"
	}
	return s.passkeyJSON(c, map[string]string{"redirect": next}, nil)
}

// beginPasskeyRegistration starts adding a passkey, after the password
// again (as setting up an authenticator app does): a passkey is a way in.
// The authenticator must keep the passkey (so it can sign in without an
// address) and check who holds it; passkeys the operator has are excluded,
// so one authenticator is not registered twice.
func (s *Server) beginPasskeyRegistration(c echo.Context) error {
	c.Set("audited", true)
	op := operatorOf(c)
	if s.managedByIdP(op) {
		return errManagedByIdP
	}
	var in passkeyFinish
	if err := readPasskeyJSON(c, &in); err != nil {
		return s.passkeyJSON(c, nil, err)
	}
	rp, err := s.relyingParty()
	if err != nil {
		return s.passkeyJSON(c, nil, errPasskeyOff)
	}
	if !password.Verify(in.Password, op.PasswordHash) {
		return s.passkeyJSON(c, nil, &passkeyFailure{http.StatusBadRequest, "field.bad_password"})
	}
	u, err := s.passkeyUser(c.Request().Context(), op, nil)
	if err != nil {
		return err
	}
	if len(u.creds) >= data.MaxPasskeys {
		return s.passkeyJSON(c, nil, &passkeyFailure{http.StatusBadRequest, "field.passkeys.too_many"})
	}
	required := true
	creation, sd, err := rp.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{RequireResidentKey: &required,
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return err
	}
	ticket, err := s.putCeremony(c, data.ChallengePasskeyRegister, sessionBinding(c), &op.ID, sd)
	if err != nil {
		return err
	}
	return s.passkeyJSON(c, passkeyBegin{Ticket: ticket, PublicKey: creation.Response}, nil)
}

// finishPasskeyRegistration checks the new passkey and keeps it under the
// name the operator gave it (by default, their browser's).
func (s *Server) finishPasskeyRegistration(c echo.Context) error {
	op := operatorOf(c)
	var in passkeyFinish
	if err := readPasskeyJSON(c, &in); err != nil {
		c.Set("audited", true)
		return s.passkeyJSON(c, nil, err)
	}
	rp, err := s.relyingParty()
	if err != nil {
		return s.passkeyJSON(c, nil, errPasskeyOff)
	}
	sd, err := s.takeCeremony(c, data.ChallengePasskeyRegister, sessionBinding(c), in.Ticket, op.ID)
	if err != nil {
		s.audit(c, "account.passkey_add_failed", "", map[string]any{"reason": "challenge"})
		return s.passkeyJSON(c, nil, err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		s.audit(c, "account.passkey_add_failed", "", map[string]any{"reason": "malformed"})
		return s.passkeyJSON(c, nil, errPasskeyBadRequest)
	}
	ctx := c.Request().Context()
	u, err := s.passkeyUser(ctx, op, nil)
	if err != nil {
		return err
	}
	cred, err := rp.CreateCredential(u, *sd, parsed)
	if err != nil {
		s.audit(c, "account.passkey_add_failed", "", map[string]any{"reason": "invalid", "detail": err.Error()})
		return s.passkeyJSON(c, nil, errPasskeyFailed)
	}
	stored, err := encodeCredential(cred, rp.Config.RPID)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = shortUserAgent(c.Request().UserAgent())
	}
	p, err := s.store.AddPasskey(ctx, op.ID, data.NewPasskey{Name: name, CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID), Credential: stored})
	if err != nil {
		s.audit(c, "account.passkey_add_failed", "", map[string]any{"reason": "refused"})
		return s.passkeyJSON(c, nil, err)
	}
	fields := map[string]any{"passkey": p.ID, "name": p.Name, "synced": cred.Flags.BackupEligible}
	// A passkey is now asked for after the password. Without an
	// authenticator app, a lost device would leave no way in: the first
	// one comes with recovery codes, shown once on the account page.
	if !op.HasTOTP() {
		left, err := s.store.RecoveryCodesLeft(ctx, op.ID)
		if err != nil {
			return err
		}
		if left == 0 {
			codes, hashes := newRecoveryCodes()
			if err := s.store.SetRecoveryCodes(ctx, op.ID, hashes); err != nil {
				return err
			}
			if err := s.showCodesOnce(c, codes); err != nil {
				return err
			}
			fields["recovery_codes"] = true
		}
	}
	s.audit(c, "account.passkey_added", "", fields)
	s.setFlash(c, "flash.passkey_added")
	return s.passkeyJSON(c, map[string]string{"redirect": "/admin/account", "message": s.t(c, "flash.passkey_added")}, nil)
}

// operatorPasskey finds one of the signed-in operator's passkeys by the
// :id of the route; another's is not found.
func (s *Server) operatorPasskey(c echo.Context) (*data.OperatorPasskey, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return nil, data.ErrNotFound
	}
	rows, err := s.store.OperatorPasskeys(c.Request().Context(), operatorOf(c).ID)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i], nil
		}
	}
	return nil, data.ErrNotFound
}

// passkeyGone answers a change to a passkey the operator does not have
// (removed in another tab, or never theirs): back to the account page,
// which says so and changes nothing.
func (s *Server) passkeyGone(c echo.Context, err error) error {
	if !errors.Is(err, data.ErrNotFound) {
		return err
	}
	s.audit(c, "account.passkey_not_found", "", map[string]any{"passkey": c.Param("id")})
	s.setFlash(c, "flash.passkey_gone")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// renamePasskey renames one of the operator's passkeys.
func (s *Server) renamePasskey(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	p, err := s.operatorPasskey(c)
	if err != nil {
		return s.passkeyGone(c, err)
	}
	name := f.Get("name")
	if err := s.store.RenamePasskey(c.Request().Context(), p.OperatorID, p.ID, name); err != nil {
		var v *data.ValidationError
		if errors.As(err, &v) {
			f.fail(fmt.Sprintf("passkey_%d", p.ID), v.Fields["name"])
			return s.renderAccount(c, http.StatusBadRequest, f)
		}
		return err
	}
	s.audit(c, "account.passkey_renamed", "", map[string]any{"passkey": p.ID, "name": [2]string{p.Name, name}})
	s.setFlash(c, "flash.passkey_renamed")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// describeDeletePasskey asks before a passkey is removed.
func (s *Server) describeDeletePasskey(c echo.Context) (*confirmPage, error) {
	p, err := s.operatorPasskey(c)
	if errors.Is(err, data.ErrNotFound) {
		return nil, nil // deletePasskey says so
	} else if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "passkeys.remove_question", "Name", p.Name),
		Lines:  []string{s.t(c, "passkeys.remove_detail")},
		Button: s.t(c, "passkeys.remove"), Back: "/admin/account"}, nil
}

// deletePasskey removes one of the operator's passkeys; not an admin's
// last second factor when two-factor sign-in is required (as the
// authenticator app cannot be turned off then).
func (s *Server) deletePasskey(c echo.Context) error {
	op, ctx := operatorOf(c), c.Request().Context()
	p, err := s.operatorPasskey(c)
	if err != nil {
		return s.passkeyGone(c, err)
	}
	n, err := s.usablePasskeys(ctx, op)
	if err != nil {
		return err
	}
	here := ""
	if rp, err := s.relyingParty(); err == nil {
		here = rp.Config.RPID
	}
	if credentialRPID(p.Credential, here) == here && s.passkeyIsLastFactor(op, n) {
		return echo.NewHTTPError(http.StatusForbidden, "error.passkey_last_factor")
	}
	if err := s.store.DeletePasskey(ctx, op.ID, p.ID); err != nil {
		return s.passkeyGone(c, err)
	}
	s.audit(c, "account.passkey_removed", "", map[string]any{"passkey": p.ID, "name": p.Name})
	s.setFlash(c, "flash.passkey_removed")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

// secondFactorPage says which second factors the sign-in page offers.
type secondFactorPage struct {
	TOTP, Passkey bool
	// Recovery: no authenticator app, but recovery codes (a passkey's)
	// are left — the way in when the passkey's device is lost.
	Recovery bool
}

// renderSecondFactor shows the second step of a password sign-in: a
// passkey button where the operator has one, the code form where they
// have an authenticator app.
func (s *Server) renderSecondFactor(c echo.Context, code int, f *form) error {
	op, _ := c.Get("mfa_operator").(*data.Operator)
	p := &secondFactorPage{TOTP: op == nil || op.HasTOTP()}
	if op != nil {
		has, err := s.hasPasskeys(c.Request().Context(), op)
		if err != nil {
			return err
		}
		_, rpErr := s.relyingParty()
		p.Passkey = has && rpErr == nil
		p.TOTP = p.TOTP || !p.Passkey
		if !p.TOTP {
			left, err := s.store.RecoveryCodesLeft(c.Request().Context(), op.ID)
			if err != nil {
				return err
			}
			p.Recovery = left > 0
		}
	}
	title := s.t(c, "login.2fa_title")
	if !p.TOTP {
		title = s.t(c, "passkeys.second_title")
	}
	return s.render(c, code, "login_2fa", &view{Title: title, Form: f, Data: p})
}

// passkeyLoginAudit is the audit entry of a sign-in with a passkey.
func passkeyLoginAudit(second bool) map[string]any {
	fields := map[string]any{"method": "passkey"}
	if second {
		fields["second_factor"] = true
	}
	return fields
}

// codesCookie carries recovery codes just made, sealed, from the passkey
// ceremony (a script's request) to the account page that shows them once.
const codesCookie = "oshirase_codes"

func (s *Server) showCodesOnce(c echo.Context, codes []string) error {
	sealed, err := s.seal(strings.Join(codes, " "))
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(codesCookie), Value: sealed, Path: "/admin/account", MaxAge: 300,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteStrictMode})
	return nil
}

// codesToShow takes the recovery codes waiting to be shown, if any.
func (s *Server) codesToShow(c echo.Context) []string {
	ck, err := c.Cookie(s.cookieName(codesCookie))
	if err != nil || ck.Value == "" {
		return nil
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(codesCookie), Value: "", Path: "/admin/account", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteStrictMode})
	plain, err := s.unseal(ck.Value)
	if err != nil {
		return nil
	}
	return strings.Fields(plain)
}
