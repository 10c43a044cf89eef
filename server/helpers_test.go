package server

import (
	"context"
	"fmt"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/password"
)

// testSecret signs the links in emails during tests.
const testSecret = "test-secret-test-secret-test-secret"

// t0 is a Thursday afternoon in Tokyo.
var t0 = time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)

type testApp struct {
	t     testing.TB
	srv   *httptest.Server
	app   *Server
	store *data.Store
	clock *datatest.Clock
	// The served OpenAPI document, loaded once (see servedDoc).
	docOnce   sync.Once
	doc       *openapi3.T
	docRouter routers.Router
}

// newTestServer returns the whole application on a fresh database behind a
// real HTTP listener, with an admin (admin@example.com) and an editor
// (editor@example.com), both with the password "correct horse battery".
func newTestServer(t testing.TB) *testApp {
	t.Helper()
	clock := datatest.NewClock(t0)
	store := datatest.Open(t, clock)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	base, _ := url.Parse("http://status.example.com")
	app, err := New(Options{BaseURL: base, Location: tokyo, Now: clock.Now, SecurityContact: "security@example.com",
		Secret: testSecret}, store,
		slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	from, _ := mail.ParseFrom("Status <status@example.com>")
	if app.opts.Composer, err = mail.NewComposer(mail.ComposerOptions{BaseURL: base, From: from, Secret: testSecret, Location: tokyo, Now: clock.Now,
		Brand: store.CachedBranding}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	t.Cleanup(app.Close) // before the database closes
	hash, _ := password.Hash("correct horse battery")
	for _, op := range []data.NewOperator{{Email: "admin@example.com", Role: data.RoleAdmin, PasswordHash: hash},
		{Email: "editor@example.com", Role: data.RoleEditor, PasswordHash: hash}} {
		if _, err := store.CreateOperator(context.Background(), op); err != nil {
			t.Fatal(err)
		}
	}
	return &testApp{t: t, srv: srv, app: app, store: store, clock: clock}
}

// client is a browser: it keeps cookies, does not follow redirects (tests
// look at them), and remembers the last CSRF token a page showed it.
type client struct {
	a    *testApp
	http *http.Client
	csrf string
	lang string
	// allow5xx lets a test expect a 5xx (only /healthz with the database down).
	allow5xx bool
}

func (a *testApp) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{a: a, http: &http.Client{Jar: jar, Transport: &validatingTransport{a: a, next: http.DefaultTransport}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	code   int
	body   string
	header http.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) response {
	c.a.t.Helper()
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		c.csrf = m[1]
	}
	if res.StatusCode >= 500 && !c.allow5xx {
		c.a.t.Errorf("%s %s: status %d\n%s", req.Method, req.URL, res.StatusCode, b)
	}
	return response{code: res.StatusCode, body: string(b), header: res.Header}
}

func (c *client) get(path string) response {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.a.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form with the CSRF token the client last saw.
func (c *client) post(path string, form url.Values) response {
	c.a.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", c.token())
	}
	return c.postRaw(path, form)
}

// token is the CSRF token a page would show now: the cookie's (the
// middleware puts the cookie's value in the page), else the last one seen.
// After signing in the cookie holds a new one.
func (c *client) token() string {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "oshirase_csrf" {
			return ck.Value
		}
	}
	return c.csrf
}

// postRaw sends a form exactly as given.
func (c *client) postRaw(path string, form url.Values) response {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.a.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *client) login(email string) {
	c.a.t.Helper()
	c.get("/admin/login")
	r := c.post("/admin/login", url.Values{"email": {email}, "password": {"correct horse battery"}})
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin" {
		c.a.t.Fatalf("login as %s: %d %s", email, r.code, r.header.Get("Location"))
	}
	c.get("/admin") // pick up a CSRF token
}

func expect(t *testing.T, r response, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d\n%s", r.code, code, r.body)
	}
	for _, s := range contains {
		if !strings.Contains(r.body, s) {
			t.Fatalf("response lacks %q\n%s", s, r.body)
		}
	}
}

func expectNot(t *testing.T, r response, absent ...string) {
	t.Helper()
	for _, s := range absent {
		if strings.Contains(r.body, s) {
			t.Fatalf("response contains %q\n%s", s, r.body)
		}
	}
}

// seedCatalog creates a product with two components through the store.
func (a *testApp) seedCatalog() (product, cdn, api int64) {
	a.t.Helper()
	ctx := context.Background()
	p, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard", NameEN: "krewDashboard"})
	if err != nil {
		a.t.Fatal(err)
	}
	c1, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "配信CDN", NameEN: "Delivery CDN"})
	c2, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "ライセンスAPI", NameEN: "License API"})
	a.app.changed()
	return p.ID, c1.ID, c2.ID
}

// testWriter sends the server's log to the test's output, shown on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// timeAfter waits a few milliseconds for background work; never longer.
func timeAfter() <-chan time.Time { return time.After(5 * time.Millisecond) }

func strconvItoa(n int64) string { return fmt.Sprint(n) }

// speak sets the signed-in operator's own language, which the console
// follows whatever the browser asks for, and the browser's (for pages
// outside the console).
func (c *client) speak(lang string) {
	c.a.t.Helper()
	c.lang = lang
	c.get("/admin/account")
	if r := c.post("/admin/account/lang", url.Values{"lang": {lang}}); r.code != http.StatusSeeOther {
		c.a.t.Fatalf("could not choose %s: %d %s", lang, r.code, r.body)
	}
}
