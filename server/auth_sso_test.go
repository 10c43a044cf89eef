package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/oshirase/oshirase/data"
)

// The single sign-on tests run a real OpenID provider in the test process
// (zitadel's OP with its example storage and login form) and sign in
// through it. Where a test needs the provider to misbehave, its storage is
// wrapped: a real OP, misconfigured.

const (
	idpClientID     = "oshirase"
	idpClientSecret = "oshirase-client-secret"
	idpPassword     = "idp password"
)

// testIdP is the provider: its users, and what it should get wrong.
type testIdP struct {
	srv     *httptest.Server
	issuer  string
	clients map[string]*storage.Client
	mu      sync.Mutex
	users   map[string]*storage.User
	claims  map[string]map[string]any // extra ID-token claims by user id
	// otherApp, when set, is the application the provider takes
	// Oshirase's credentials for (its tokens are for that audience);
	// nonce replaces the one in the ID token.
	otherApp string
	nonce    string
	// plainIDToken keeps the address out of the ID token (in userinfo
	// only), as some providers do.
	plainIDToken bool
}

// newTestIdP starts a provider on loopback.
func newTestIdP(t testing.TB) *testIdP {
	t.Helper()
	idp := &testIdP{clients: map[string]*storage.Client{}, users: map[string]*storage.User{}, claims: map[string]map[string]any{}}
	idp.srv = httptest.NewUnstartedServer(nil)
	idp.issuer = "http://" + idp.srv.Listener.Addr().String()
	st := &idpStorage{Storage: storage.NewStorageWithClients(idpUsers{idp}, idp.clients), idp: idp}
	idp.srv.Config.Handler = exampleop.SetupServer(idp.issuer, st, nil, false)
	idp.srv.Start()
	t.Cleanup(idp.srv.Close)
	return idp
}

// user adds (or replaces) an account at the provider; its username is
// its id.
func (idp *testIdP) user(id, email string, verified bool, claims map[string]any) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.users[id] = &storage.User{ID: id, Username: id, Password: idpPassword, FirstName: "Test", LastName: strings.ToUpper(id), Email: email,
		EmailVerified: verified, PreferredLanguage: language.Japanese}
	idp.claims[id] = claims
}

func (idp *testIdP) misbehave(otherApp, nonce string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.otherApp, idp.nonce = otherApp, nonce
}

type idpUsers struct{ idp *testIdP }

func (u idpUsers) GetUserByID(id string) *storage.User { return u.idp.users[id] }
func (u idpUsers) GetUserByUsername(name string) *storage.User {
	return u.idp.users[name]
}
func (idpUsers) ExampleClientID() string { return "service" }

// idpStorage is the example storage, with the ID token's claims, audience
// and nonce as the test wants them.
type idpStorage struct {
	*storage.Storage
	idp *testIdP
}

// assertingClient puts the user's claims in the ID token, as Entra ID,
// Google and Okta do; id, when set, is the application the provider
// takes Oshirase's credentials for.
type assertingClient struct {
	op.Client
	id    string
	plain bool
}

func (c assertingClient) IDTokenUserinfoClaimsAssertion() bool { return !c.plain }

func (c assertingClient) GetID() string {
	if c.id != "" {
		return c.id
	}
	return c.Client.GetID()
}

func (s *idpStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.idp.mu.Lock()
	defer s.idp.mu.Unlock()
	return assertingClient{Client: c, id: s.idp.otherApp, plain: s.idp.plainIDToken}, nil
}

func (s *idpStorage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	s.idp.mu.Lock()
	defer s.idp.mu.Unlock()
	for k, v := range s.idp.claims[userID] {
		ui.AppendClaims(k, v)
	}
	return nil
}

func (s *idpStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	s.idp.mu.Lock()
	defer s.idp.mu.Unlock()
	return misbehavingRequest{AuthRequest: r, otherApp: s.idp.otherApp, nonce: s.idp.nonce}, nil
}

type misbehavingRequest struct {
	op.AuthRequest
	otherApp string
	nonce    string
}

func (r misbehavingRequest) GetClientID() string {
	if r.otherApp != "" {
		return r.otherApp
	}
	return r.AuthRequest.GetClientID()
}

func (r misbehavingRequest) GetAudience() []string {
	if r.otherApp != "" {
		return []string{r.otherApp}
	}
	return r.AuthRequest.GetAudience()
}

func (r misbehavingRequest) GetNonce() string {
	if r.nonce != "" {
		return r.nonce
	}
	return r.AuthRequest.GetNonce()
}

var regexpInviteLink = regexp.MustCompile(`https?://[^/"]+(/admin/invite/[A-Za-z0-9_-]+)`)

// newSSOTestServer is newTestServer signing in through idp, as configured
// by set; its clock is the real time, which the provider's tokens carry.
func newSSOTestServer(t testing.TB, idp *testIdP, set func(*SSOOptions)) *testApp {
	t.Helper()
	a := newTestServer(t)
	// The provider sends the browser back to this listener.
	base, _ := url.Parse(a.srv.URL)
	a.app.opts.BaseURL = base
	idp.clients[idpClientID] = storage.WebClient(idpClientID, idpClientSecret, a.srv.URL+ssoCallbackPath)
	o := SSOOptions{Issuer: idp.issuer, ClientID: idpClientID, ClientSecret: idpClientSecret, Name: "Example ID"}
	if set != nil {
		set(&o)
	}
	a.app.sso = newSSOProvider(&o, a.app.opts.Now, a.app.log)
	a.app.echo = a.app.routes() // with the sign-in routes, which exist only with single sign-on
	a.clock.Set(time.Now().UTC().Truncate(time.Second))
	return a
}

// authorize signs in at the provider as username, from the URL Oshirase
// sent the browser to, and returns where the provider sends it back.
func (idp *testIdP) authorize(t testing.TB, authURL, username string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := func(res *http.Response, err error) *url.URL {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, err := res.Location()
		if err != nil {
			t.Fatalf("the provider answered %d without a redirect", res.StatusCode)
		}
		return loc
	}
	login := next(hc.Get(authURL))
	if !strings.HasPrefix(login.Path, "/login/") {
		return login.String() // an error sent straight back
	}
	id := login.Query().Get("authRequestID")
	done := next(hc.PostForm(idp.issuer+"/login/username", url.Values{"id": {id}, "username": {username}, "password": {idpPassword}}))
	if !done.IsAbs() {
		done = login.ResolveReference(done)
	}
	return next(hc.Get(done.String())).String()
}

// startSSO asks Oshirase to begin a sign-in and returns the provider's URL.
func (c *client) startSSO(t testing.TB) string {
	t.Helper()
	r := c.get("/admin/login/sso?next=/admin/incidents")
	if r.code != http.StatusSeeOther {
		t.Fatalf("start: %d %s", r.code, r.body)
	}
	return r.header.Get("Location")
}

// back follows the provider's redirect to Oshirase's callback.
func (c *client) back(t testing.TB, callback string) response {
	t.Helper()
	u, err := url.Parse(callback)
	if err != nil || u.Path != ssoCallbackPath {
		t.Fatalf("the provider sent the browser to %q", callback)
	}
	return c.get(u.RequestURI())
}

// ssoSignIn is the whole round trip as username at the provider.
func (c *client) ssoSignIn(t testing.TB, idp *testIdP, username string) response {
	t.Helper()
	return c.back(t, idp.authorize(t, c.startSSO(t), username))
}

// audits lists the audit entries with exactly this action, newest first.
func (a *testApp) audits(action string) []data.AuditEntry {
	a.t.Helper()
	es, _, err := a.store.Audit(context.Background(), data.AuditFilter{Action: action})
	if err != nil {
		a.t.Fatal(err)
	}
	var out []data.AuditEntry
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// lastFailure is the reason of the newest login.sso_failed entry.
func (a *testApp) lastFailure(t *testing.T) string {
	t.Helper()
	es := a.audits("login.sso_failed")
	if len(es) == 0 {
		t.Fatal("no login.sso_failed in the audit trail")
	}
	var ch map[string]any
	json.Unmarshal([]byte(es[0].Changes), &ch)
	r, _ := ch["reason"].(string)
	return r
}

func (a *testApp) operator(email string) *data.Operator {
	a.t.Helper()
	op, err := a.store.OperatorByEmail(context.Background(), email)
	if err != nil {
		a.t.Fatal(err)
	}
	return op
}

// refused checks a failed sign-in: the login page with the message, the
// status, and the reason audited.
func refused(t *testing.T, a *testApp, r response, code int, reason, message string) {
	t.Helper()
	expect(t, r, code, message, `action="/admin/login"`)
	if got := a.lastFailure(t); got != reason {
		t.Fatalf("audited reason %q, want %q", got, reason)
	}
}

func signedIn(t *testing.T, c *client) {
	t.Helper()
	if r := c.get("/admin"); r.code != http.StatusOK {
		t.Fatalf("not signed in: %d %s", r.code, r.header.Get("Location"))
	}
}

func TestSSOSignInTiesByEmailThenBySubject(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "Editor@Example.com", true, nil)

	c := a.client()
	page := c.get("/admin/login")
	expect(t, page, http.StatusOK, "Example ID でログイン", `href="/admin/login/sso"`, `action="/admin/login"`)
	r := c.ssoSignIn(t, idp, "u-editor")
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin/incidents" {
		t.Fatalf("sign-in: %d %s\n%s", r.code, r.header.Get("Location"), r.body)
	}
	signedIn(t, c)
	op := a.operator("editor@example.com")
	if op.SSOIssuer != idp.issuer || op.SSOSubject != "u-editor" || op.Role != data.RoleEditor {
		t.Fatalf("tied: %q %q %s", op.SSOIssuer, op.SSOSubject, op.Role)
	}
	if es := a.audits("login"); len(es) != 1 || es[0].Changes != `{"method":"sso"}` || es[0].OperatorEmail != "editor@example.com" {
		t.Fatalf("login audited as %+v", es)
	}
	if len(a.audits("operator.sso_tied")) != 1 {
		t.Fatal("the tie is not audited")
	}
	sessions, _ := a.store.OperatorSessions(context.Background(), op.ID, time.Hour)
	if len(sessions) != 1 || sessions[0].Method != "sso" {
		t.Fatalf("sessions %+v", sessions)
	}
	if devices, _ := a.store.OperatorDevices(context.Background(), op.ID); len(devices) != 1 {
		t.Fatalf("the browser is not remembered: %d", len(devices))
	}
	// The account page says whose account it is tied to.
	expect(t, c.get("/admin/account"), http.StatusOK, "Example ID のアカウントと連携しています。")

	// The second time the subject finds them, whatever the address says now.
	idp.user("u-editor", "someone.else@example.com", true, nil)
	c2 := a.client()
	if r := c2.ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d\n%s", r.code, r.body)
	}
	signedIn(t, c2)

	// Another account at the provider with the same address does not take
	// the tied operator over.
	idp.user("u-impostor", "editor@example.com", true, nil)
	c3 := a.client()
	c3.lang = "en"
	refused(t, a, c3.ssoSignIn(t, idp, "u-impostor"), http.StatusForbidden, "tied_elsewhere", "linked to another account at the identity provider")
	if op := a.operator("editor@example.com"); op.SSOSubject != "u-editor" {
		t.Fatalf("taken over: %q", op.SSOSubject)
	}
}

func TestSSOJustInTime(t *testing.T) {
	idp := newTestIdP(t)
	idp.user("u-new", "new.person@example.com", true, nil)

	off := newSSOTestServer(t, idp, nil)
	c := off.client()
	refused(t, off, c.ssoSignIn(t, idp, "u-new"), http.StatusForbidden, "unknown", "このアカウントはまだ登録されていません。")
	if _, err := off.store.OperatorByEmail(context.Background(), "new.person@example.com"); err == nil {
		t.Fatal("created without JIT")
	}

	on := newSSOTestServer(t, idp, func(o *SSOOptions) { o.JIT = true })
	c = on.client()
	if r := c.ssoSignIn(t, idp, "u-new"); r.code != http.StatusSeeOther {
		t.Fatalf("JIT sign-in: %d\n%s", r.code, r.body)
	}
	signedIn(t, c)
	op := on.operator("new.person@example.com")
	if op.Role != data.RoleEditor || op.Name != "Test U-NEW" || op.SSOSubject != "u-new" || op.PasswordHash != "" {
		t.Fatalf("created %+v", op)
	}
	if len(on.audits("operator.sso_created")) != 1 {
		t.Fatal("the creation is not audited")
	}
	// Their password, second factor and address are the provider's: the
	// account page offers none of them, and posting the forms anyway is
	// refused.
	r := c.get("/admin/account")
	expect(t, r, http.StatusOK, "パスワード、2段階認証、メールアドレスは Example ID で管理されています。", "Example ID の管理者にご連絡ください。")
	expectNot(t, r, `action="/admin/account/password"`, `action="/admin/account/email"`, `action="/admin/account/2fa"`, "passkey")
	for _, path := range []string{"/admin/account/password", "/admin/account/email", "/admin/account/2fa", "/admin/account/2fa/disable"} {
		expect(t, c.post(path, url.Values{"current": {""}, "new": {"a whole new passphrase"}, "confirm": {"a whole new passphrase"},
			"new_email": {"elsewhere@example.com"}}), http.StatusForbidden, "IDプロバイダーで管理されているため、ここでは変更できません。")
	}
	if op := on.operator("new.person@example.com"); op.PasswordHash != "" {
		t.Fatal("a password was set through the account page")
	}
	// And a password sign-in does not get them in.
	c2 := on.client()
	c2.get("/admin/login")
	if r := c2.post("/admin/login", url.Values{"email": {"new.person@example.com"}, "password": {""}}); r.code == http.StatusSeeOther {
		t.Fatal("signed in without a password")
	}
}

func TestSSORoleClaim(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, func(o *SSOOptions) {
		o.JIT, o.RoleClaim, o.AdminValues, o.EditorValues = true, "roles", []string{"status-admins"}, []string{"status-editors", "support"}
	})
	idp.user("u-lead", "lead@example.com", true, map[string]any{"roles": []string{"everyone", "status-admins"}})
	idp.user("u-support", "support@example.com", true, map[string]any{"roles": "support"})
	idp.user("u-sales", "sales@example.com", true, map[string]any{"roles": []string{"sales"}})
	idp.user("u-nothing", "nothing@example.com", true, nil)

	if r := a.client().ssoSignIn(t, idp, "u-lead"); r.code != http.StatusSeeOther {
		t.Fatalf("admin: %d\n%s", r.code, r.body)
	}
	if r := a.client().ssoSignIn(t, idp, "u-support"); r.code != http.StatusSeeOther {
		t.Fatalf("editor: %d\n%s", r.code, r.body)
	}
	if op := a.operator("lead@example.com"); op.Role != data.RoleAdmin {
		t.Fatalf("lead is %s", op.Role)
	}
	if op := a.operator("support@example.com"); op.Role != data.RoleEditor {
		t.Fatalf("support is %s", op.Role)
	}
	refused(t, a, a.client().ssoSignIn(t, idp, "u-sales"), http.StatusForbidden, "no_role", "管理画面を利用する権限がありません。")
	refused(t, a, a.client().ssoSignIn(t, idp, "u-nothing"), http.StatusForbidden, "no_role", "管理画面を利用する権限がありません。")
	if _, err := a.store.OperatorByEmail(context.Background(), "sales@example.com"); err == nil {
		t.Fatal("no role, yet an account")
	}

	// The role follows the claim at each sign-in, audited.
	idp.user("u-lead", "lead@example.com", true, map[string]any{"roles": []string{"status-editors"}})
	c := a.client()
	if r := c.ssoSignIn(t, idp, "u-lead"); r.code != http.StatusSeeOther {
		t.Fatalf("demoted: %d\n%s", r.code, r.body)
	}
	if op := a.operator("lead@example.com"); op.Role != data.RoleEditor {
		t.Fatalf("lead is still %s", op.Role)
	}
	es := a.audits("operator.role")
	if len(es) != 1 || es[0].Changes != `{"from":"admin","source":"sso","to":"editor"}` || es[0].Target != "email=lead@example.com" {
		t.Fatalf("role change audited as %+v", es)
	}
	if r := c.get("/admin/operators"); r.code == http.StatusOK {
		t.Fatal("a demoted admin still sees the operators")
	}
	// Taken away altogether: no way in, the account stays as it was.
	idp.user("u-lead", "lead@example.com", true, map[string]any{"roles": []string{}})
	refused(t, a, a.client().ssoSignIn(t, idp, "u-lead"), http.StatusForbidden, "no_role", "管理画面を利用する権限がありません。")

	// The last admin stays one, whatever the claim says, and that is
	// audited and logged.
	idp.user("u-root", "admin@example.com", true, map[string]any{"roles": []string{"status-editors"}})
	if r := a.client().ssoSignIn(t, idp, "u-root"); r.code != http.StatusSeeOther {
		t.Fatalf("last admin: %d\n%s", r.code, r.body)
	}
	if op := a.operator("admin@example.com"); op.Role != data.RoleAdmin {
		t.Fatalf("the last admin became %s", op.Role)
	}
	if len(a.audits("operator.role_kept")) != 1 {
		t.Fatal("keeping the last admin is not audited")
	}
}

func TestSSODisabledOperatorStaysOut(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, func(o *SSOOptions) { o.JIT = true })
	idp.user("u-editor", "editor@example.com", true, nil)
	ed := a.operator("editor@example.com")
	if err := a.store.SetOperatorDisabled(context.Background(), ed.ID, true); err != nil {
		t.Fatal(err)
	}
	refused(t, a, a.client().ssoSignIn(t, idp, "u-editor"), http.StatusForbidden, "disabled", "このアカウントは無効になっています。")
	// Tied earlier, disabled since: the subject does not get them in either.
	a.store.SetOperatorDisabled(context.Background(), ed.ID, false)
	if r := a.client().ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("enabled: %d", r.code)
	}
	a.store.SetOperatorDisabled(context.Background(), ed.ID, true)
	refused(t, a, a.client().ssoSignIn(t, idp, "u-editor"), http.StatusForbidden, "disabled", "このアカウントは無効になっています。")
}

func TestSSOWrongIssuerIsUnavailableNotAnError(t *testing.T) {
	idp := newTestIdP(t)
	// The same provider under another name: its discovery document names
	// another issuer than the one configured.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(idp.issuer, "http://"))
	a := newSSOTestServer(t, idp, func(o *SSOOptions) {
		o.Issuer = "http://localhost:" + port
		o.BreakGlass = []string{"admin@example.com"}
	})

	c := a.client()
	c.allow5xx = true
	expectNot(t, c.get("/admin/login"), "現在、Example ID に接続できない")
	r := c.get("/admin/login/sso")
	expect(t, r, http.StatusServiceUnavailable, "現在、Example ID に接続できないため、シングルサインオンを利用できません。", "緊急用アカウントでログインしてください。", `action="/admin/login"`)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if got := a.lastFailure(t); got != "unavailable" {
		t.Fatalf("audited %q", got)
	}
	// The login page says so until the provider answers again, and the
	// break-glass admin still gets in.
	c.lang = "en"
	expect(t, c.get("/admin/login"), http.StatusOK, "Single sign-on is unavailable right now")
	c.login("admin@example.com")

	// Fixed: the next try after a while discovers the provider.
	a.app.sso.mu.Lock()
	a.app.sso.opts.Issuer = idp.issuer
	a.app.sso.mu.Unlock()
	c3 := a.client()
	c3.allow5xx = true
	if r := c3.get("/admin/login/sso"); r.code != http.StatusServiceUnavailable {
		t.Fatalf("retried at once: %d", r.code)
	}
	a.clock.Advance(ssoRetryAfter + time.Second)
	idp.user("u-editor", "editor@example.com", true, nil)
	c2 := a.client()
	if r := c2.ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("after the fix: %d\n%s", r.code, r.body)
	}
	expectNot(t, a.client().get("/admin/login"), "接続できない")
}

// TestSSOOutageAfterStart: a provider that stops answering after it was
// found is noticed when the login page is next shown (at most
// ssoRecheckEvery after the last look): the page says so with the
// break-glass form open, the button's address answers "unavailable"
// instead of sending people to a provider that does not answer, and all
// of it clears once the provider answers again.
func TestSSOOutageAfterStart(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, func(o *SSOOptions) { o.BreakGlass = []string{"admin@example.com"} })
	idp.user("u-editor", "editor@example.com", true, nil)
	if r := a.client().ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.code)
	}
	working := idp.srv.Config.Handler
	idp.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusBadGateway)
	})
	c := a.client()
	c.allow5xx = true
	expectNot(t, c.get("/admin/login"), "接続できない") // looked at moments ago
	a.clock.Advance(ssoRecheckEvery + time.Second)
	expect(t, c.get("/admin/login"), http.StatusOK, "現在、Example ID に接続できない", `<details class="break-glass" open>`)
	expect(t, c.get("/admin/login/sso"), http.StatusServiceUnavailable, "現在、Example ID に接続できない")
	// Operators already signed in learn it on the dashboard.
	admin := a.client()
	admin.login("admin@example.com")
	expect(t, admin.get("/admin"), http.StatusOK, "Example ID でのログインができません")

	idp.srv.Config.Handler = working
	a.clock.Advance(ssoRecheckEvery + time.Second)
	page := c.get("/admin/login")
	expectNot(t, page, "接続できない", `<details class="break-glass" open>`)
	expectNot(t, admin.get("/admin"), "Example ID でのログインができません")
	if r := a.client().ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("after the outage: %d\n%s", r.code, r.body)
	}
}

func TestSSOWrongAudience(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	idp.misbehave("some-other-app", "")
	c := a.client()
	c.lang = "en"
	refused(t, a, c.ssoSignIn(t, idp, "u-editor"), http.StatusUnauthorized, "audience", "The answer was meant for another application.")
	if op := a.operator("editor@example.com"); op.SSOSubject != "" {
		t.Fatal("tied on a token for another application")
	}
}

func TestSSONonceMismatch(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	idp.misbehave("", "a-nonce-from-another-sign-in")
	refused(t, a, a.client().ssoSignIn(t, idp, "u-editor"), http.StatusUnauthorized, "nonce", "このログインのものと一致しません。")
}

func TestSSOExpiredToken(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	c := a.client()
	back := idp.authorize(t, c.startSSO(t), "u-editor")
	// The ID token lives an hour; Oshirase's clock says two have passed
	// (the state, ten minutes, is made to last by the store's own clock
	// being moved too: it is the same clock, so take a fresh state).
	a.clock.Advance(2 * time.Hour)
	c2 := a.client()
	back2 := idp.authorize(t, c2.startSSO(t), "u-editor")
	refused(t, a, c2.back(t, back2), http.StatusUnauthorized, "expired", "有効期限が切れています。")
	// And the first one's state has expired meanwhile.
	refused(t, a, c.back(t, back), http.StatusBadRequest, "state", "ログインの有効期限が切れたか、すでに使われています。")
}

func TestSSOReplayedState(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	c := a.client()
	back := idp.authorize(t, c.startSSO(t), "u-editor")
	if r := c.back(t, back); r.code != http.StatusSeeOther {
		t.Fatalf("first: %d\n%s", r.code, r.body)
	}
	// Opened again while signed in (the back button): back to the
	// console, nothing else happens.
	if r := c.back(t, back); r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin" {
		t.Fatalf("replayed while signed in: %d %s", r.code, r.header.Get("Location"))
	}
	if n := len(a.audits("login")); n != 1 {
		t.Fatalf("%d sign-ins audited, want 1", n)
	}
	expect(t, c.post("/admin/logout", url.Values{}), http.StatusSeeOther)
	refused(t, a, c.back(t, back), http.StatusBadRequest, "state", "すでに使われています。")
	// No state at all reads the same.
	refused(t, a, c.get(ssoCallbackPath+"?code=x"), http.StatusBadRequest, "state", "すでに使われています。")
}

func TestSSOStateFromAnotherBrowser(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	victim, attacker := a.client(), a.client()
	// The attacker begins a sign-in and has another browser finish it
	// (login CSRF): the state is not that browser's.
	back := idp.authorize(t, attacker.startSSO(t), "u-editor")
	victim.lang = "en"
	refused(t, a, victim.back(t, back), http.StatusBadRequest, "browser", "started in another browser")
	if r := victim.get("/admin"); r.code == http.StatusOK {
		t.Fatal("signed in")
	}
	// The state is spent: the attacker's own browser cannot use it now.
	refused(t, a, attacker.back(t, back), http.StatusBadRequest, "state", "すでに使われています。")
}

func TestSSOProviderError(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, nil)
	c := a.client()
	auth, _ := url.Parse(c.startSSO(t))
	state := auth.Query().Get("state")
	// The person said no at the provider.
	refused(t, a, c.get(ssoCallbackPath+"?error=access_denied&error_description=User+cancelled&state="+url.QueryEscape(state)),
		http.StatusForbidden, "denied", "IDプロバイダーでログインが許可されませんでした。")
	if r := c.get("/admin"); r.code == http.StatusOK {
		t.Fatal("signed in")
	}
	// The provider's own error, from the real OP: a silent sign-in
	// without a session there.
	auth, _ = url.Parse(c.startSSO(t))
	q := auth.Query()
	q.Set("prompt", "none")
	auth.RawQuery = q.Encode()
	refused(t, a, c.back(t, idp.authorize(t, auth.String(), "")), http.StatusForbidden, "provider", "IDプロバイダーからエラーが返されました。")
}

func TestSSOAddressChecks(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, func(o *SSOOptions) { o.JIT, o.AllowedDomains = true, []string{"example.com"} })
	idp.user("u-outsider", "someone@example.org", true, nil)
	// The OP leaves a false email_verified out; Google, say, sends it.
	idp.user("u-unverified", "editor@example.com", false, map[string]any{"email_verified": false})
	refused(t, a, a.client().ssoSignIn(t, idp, "u-outsider"), http.StatusForbidden, "domain", "このメールアドレスのドメインではログインできません。")
	refused(t, a, a.client().ssoSignIn(t, idp, "u-unverified"), http.StatusForbidden, "email_unverified", "メールアドレスが確認されていない")
	if op := a.operator("editor@example.com"); op.SSOSubject != "" {
		t.Fatal("tied by an unverified address")
	}
}

func TestSSOBreakGlass(t *testing.T) {
	idp := newTestIdP(t)
	a := newSSOTestServer(t, idp, func(o *SSOOptions) { o.BreakGlass = []string{"admin@example.com"} })

	c := a.client()
	page := c.get("/admin/login")
	expect(t, page, http.StatusOK, `<details class="break-glass">`, "緊急用アカウント", "あらかじめ指定された管理者だけが")
	// An editor's right password is refused, with the reason.
	r := c.post("/admin/login", url.Values{"email": {"editor@example.com"}, "password": {"correct horse battery"}})
	expect(t, r, http.StatusForbidden, "このアカウントはシングルサインオンでログインしてください。", `<details class="break-glass" open>`)
	if es := a.audits("login.password_refused"); len(es) != 1 {
		t.Fatalf("refusal audited as %+v", es)
	}
	// The listed admin gets in, audited as break-glass, and every
	// operator is told (by email and on their channels), each in their
	// language, with the browser and address.
	c.login("admin@example.com")
	es := a.audits("login")
	if len(es) != 1 || es[0].Changes != `{"break_glass":true,"method":"password"}` {
		t.Fatalf("break-glass sign-in audited as %+v", es)
	}
	ns, counts, _, err := a.store.Notifications(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, n := range ns {
		if n.Kind == data.AlertBreakGlass {
			alerts++
			total := 0
			for _, k := range counts[n.ID] {
				total += k
			}
			if total != 2 {
				t.Fatalf("the break-glass alert went to %d operators, want both: %v", total, counts[n.ID])
			}
		}
	}
	if alerts != 1 {
		t.Fatalf("%d break-glass alerts, want 1", alerts)
	}
	// The editor's account page no longer offers a password.
	ed := a.client()
	idp.user("u-editor", "editor@example.com", true, nil)
	if r := ed.ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("editor through the provider: %d", r.code)
	}
	expectNot(t, ed.get("/admin/account"), `action="/admin/account/password"`)

	// An invitation asks for no password; the new operator comes in
	// through the provider, tied by their address.
	c.get("/admin/operators/new")
	r = c.post("/admin/operators", url.Values{"email": {"newcomer@example.com"}, "role": {data.RoleEditor}, "lang": {"ja"}})
	m := regexpInviteLink.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no invitation link: %d\n%s", r.code, r.body)
	}
	n := a.client()
	inv := n.get(m[1])
	expect(t, inv, http.StatusOK, "このアカウントには Example ID でログインします。")
	expectNot(t, inv, `name="new"`, `name="confirm"`)
	r = n.post(m[1], url.Values{"name": {"New Comer"}})
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin/login" {
		t.Fatalf("accept: %d %s\n%s", r.code, r.header.Get("Location"), r.body)
	}
	expect(t, n.get("/admin/login"), http.StatusOK, "アカウントを作成しました。シングルサインオンでログインしてください。")
	if op := a.operator("newcomer@example.com"); op.PasswordHash != "" {
		t.Fatal("a password was set")
	}
	idp.user("u-newcomer", "newcomer@example.com", true, nil)
	if r := n.ssoSignIn(t, idp, "u-newcomer"); r.code != http.StatusSeeOther {
		t.Fatalf("newcomer: %d\n%s", r.code, r.body)
	}
	signedIn(t, n)
	if op := a.operator("newcomer@example.com"); op.SSOSubject != "u-newcomer" {
		t.Fatal("not tied")
	}
}

func TestSSOAddressFromUserinfo(t *testing.T) {
	idp := newTestIdP(t)
	idp.plainIDToken = true
	a := newSSOTestServer(t, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	c := a.client()
	if r := c.ssoSignIn(t, idp, "u-editor"); r.code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", r.code, r.body)
	}
	signedIn(t, c)
	if op := a.operator("editor@example.com"); op.SSOSubject != "u-editor" {
		t.Fatal("not tied by the userinfo address")
	}
}
