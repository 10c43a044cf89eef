package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
	"github.com/oshirase/oshirase/internal/mail"
)

// withAccessLog records requests into files in a temporary directory and
// counts them in the test's database. Nothing is written until Flush
// unless mod says otherwise.
func (a *testApp) withAccessLog(mod func(*accesslog.Options)) *accesslog.Recorder {
	opts := accesslog.Options{Dir: a.t.TempDir(), Instance: "test", Location: a.app.opts.Location, Now: a.clock.Now,
		Secret: testSecret, Usage: a.store.AddUsage, Every: time.Hour, UsageEvery: time.Hour}
	if mod != nil {
		mod(&opts)
	}
	r, err := accesslog.New(opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		a.t.Fatal(err)
	}
	r.Start()
	a.t.Cleanup(r.Close)
	a.app.opts.AccessLog = r
	return r
}

func (a *testApp) trustProxy(cidr string) {
	_, n, _ := net.ParseCIDR(cidr)
	a.app.opts.TrustedProxies = []*net.IPNet{n}
	a.app.echo = a.app.routes()
}

func TestAccessLogRecordsEveryRequest(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	rec := a.withAccessLog(nil)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				res, err := http.Get(a.srv.URL + "/")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	rec.Flush()
	if n := len(accessEntries(t, rec)); n != 2000 || rec.Dropped() != 0 {
		t.Fatalf("%d entries written, %d dropped, for 2,000 requests", n, rec.Dropped())
	}
	rows, _ := a.store.TopRoutes(context.Background(), "2000-01-01", 5)
	if len(rows) != 1 || rows[0].Key != "GET /" || rows[0].Requests != 2000 || rows[0].Bytes < 2000*1000 {
		t.Fatalf("top routes %+v", rows)
	}
	days, _ := a.store.UsageByDay(context.Background(), "2000-01-01")
	if len(days) != 1 || days[0].Requests != 2000 || days[0].Visitors != 1 {
		t.Fatalf("days %+v", days)
	}
}

func TestAccessLogRedactsAndTrustsOnlyProxies(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	rec := a.withAccessLog(nil)
	token := mail.ContactToken(testSecret, f.contact)
	c := a.client()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/preferences/"+token+"?lang=en&reset=s3cr3t-reset", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("User-Agent", "probe/1.0")
	c.do(req)
	rec.Flush()
	e := lastAccess(t, a)
	if e.Path != "/preferences/{token}?lang=en&reset=redacted" || e.Route != "/preferences/:token" || e.Status != 200 {
		t.Fatalf("entry %+v", e)
	}
	if e.IP != "127.0.0.1" || e.UserAgent != "probe/1.0" || e.Visitor == "" || strings.Contains(e.Visitor, "127") {
		t.Fatalf("forged X-Forwarded-For believed, or visitor not hashed: %+v", e)
	}
	// Behind a trusted proxy, its X-Forwarded-For is the client.
	a.trustProxy("127.0.0.0/8")
	c.do(req)
	rec.Flush()
	if e := lastAccess(t, a); e.IP != "203.0.113.9" {
		t.Fatalf("trusted proxy's header ignored: %+v", e)
	}
}

func lastAccess(t *testing.T, a *testApp) accesslog.Entry {
	t.Helper()
	es := accessEntries(t, a.app.opts.AccessLog)
	if len(es) == 0 {
		t.Fatal("access log is empty")
	}
	return es[len(es)-1]
}

// accessEntries reads every entry of the recorder's files.
func accessEntries(t *testing.T, rec *accesslog.Recorder) []accesslog.Entry {
	t.Helper()
	fs, err := accesslog.List(rec.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var es []accesslog.Entry
	for _, f := range fs {
		if _, err := accesslog.Read(f.Path, func(e accesslog.Entry) error { es = append(es, e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return es
}

// TestSlowDatabaseDoesNotSlowRequests: the database hangs while the
// usage counters are stored; requests still complete, every entry reaches
// the files, and the counters arrive once the database answers.
func TestSlowDatabaseDoesNotSlowRequests(t *testing.T) {
	a := newTestServer(t)
	release := make(chan struct{})
	stuck := make(chan bool, 1)
	rec := a.withAccessLog(func(o *accesslog.Options) {
		o.Queue, o.Batch, o.Every, o.UsageEvery = 50, 10, 10*time.Millisecond, 10*time.Millisecond
		o.Usage = func(ctx context.Context, u *data.Usage) error {
			select {
			case stuck <- true:
			default:
			}
			<-release
			return a.store.AddUsage(ctx, u)
		}
	})
	get := func() {
		res, err := http.Get(a.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	get()
	<-stuck
	// While the database hangs, the files keep up: every 25 requests the
	// writer has written all of them (a writer held up by the database,
	// as before, never would, and the queue of 50 would overflow).
	for i := 1; i <= 300; i++ {
		get()
		if i%25 != 0 {
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for rec.Written() < int64(i+1) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if rec.Written() < int64(i+1) {
			t.Fatalf("after %d requests only %d entries written while the database hangs", i+1, rec.Written())
		}
	}
	close(release)
	rec.Flush()
	if n := len(accessEntries(t, rec)); rec.Dropped() != 0 || n != 301 {
		t.Fatalf("%d entries in files, %d dropped", n, rec.Dropped())
	}
	if rows, _ := a.store.TopRoutes(context.Background(), "2000-01-01", 1); len(rows) != 1 || rows[0].Requests != 301 {
		t.Fatalf("counters %+v", rows)
	}
}

// TestQueueOverflowIsShown: a writer that cannot keep up drops entries,
// never requests, and the usage page says how many.
func TestQueueOverflowIsShown(t *testing.T) {
	a := newTestServer(t)
	rec, err := accesslog.New(accesslog.Options{Dir: t.TempDir(), Queue: 50, Location: a.app.opts.Location, Now: a.clock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.app.opts.AccessLog = rec // never started: nothing drains the queue
	for i := 0; i < 300; i++ {
		res, err := http.Get(a.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if rec.Dropped() != 250 {
		t.Fatalf("dropped %d of 300 with a queue of 50", rec.Dropped())
	}
	c := a.client()
	c.login("editor@example.com")
	page := c.get("/admin/usage")
	if m := regexp.MustCompile(`キューあふれ (\d+)件`).FindStringSubmatch(page.body); m == nil || m[1] < "250" {
		t.Fatalf("usage page does not show the overflow\n%s", page.body)
	}
}

// TestBruteForceIsThrottled: 30 bad passwords from one address, then from
// 30 addresses on one account; the real operator still gets in afterwards,
// and all of it is in the audit trail.
func TestBruteForceIsThrottled(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	c.get("/admin/login")
	var throttled int
	for i := 0; i < 30; i++ {
		r := c.post("/admin/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong password"}})
		if r.code == http.StatusTooManyRequests {
			throttled++
			if !strings.Contains(r.body, "試行回数が多すぎます") || r.header.Get("Retry-After") == "" {
				t.Fatalf("throttled response %d %v", r.code, r.header)
			}
		}
	}
	if throttled < 15 {
		t.Fatalf("only %d of 30 attempts from one address throttled", throttled)
	}
	// While throttled even the right password is not looked at.
	r := c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("right password during the block: %d", r.code)
	}

	a.trustProxy("127.0.0.0/8")
	a.clock.Advance(time.Hour)
	throttled = 0
	for i := 0; i < 30; i++ {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/admin/login",
			strings.NewReader(url.Values{"email": {"admin@example.com"}, "password": {"wrong"}, "csrf": {c.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		if r := c.do(req); r.code == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled < 20 {
		t.Fatalf("only %d of 30 attempts on one account throttled", throttled)
	}
	// The delay is bounded: a quarter of an hour later the owner gets in.
	a.clock.Advance(16 * time.Minute)
	owner := a.client()
	owner.login("admin@example.com")

	es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{})
	counts := map[string]int{}
	for _, e := range es {
		counts[e.Action]++
	}
	if counts["login.failed"] < 15 || counts["login.throttled"] < 35 || counts["login"] != 1 {
		t.Fatalf("audit trail %v", counts)
	}
}

func enableTOTP(t *testing.T, a *testApp, c *client) (secret string, codes []string) {
	t.Helper()
	page := c.get("/admin/account")
	if !strings.Contains(page.body, `src="data:image/png;base64,`) {
		t.Fatal("no QR code on the account page")
	}
	m := regexp.MustCompile(`<code>([A-Z2-7]+)</code>`).FindStringSubmatch(page.body)
	sealed := regexp.MustCompile(`name="sealed" value="([^"]+)"`).FindStringSubmatch(page.body)
	if m == nil || sealed == nil {
		t.Fatalf("no TOTP key on the account page\n%s", page.body)
	}
	r := c.post("/admin/account/2fa", url.Values{"sealed": {sealed[1]}, "code": {"000000"}, "current_for_2fa": {"correct horse battery"}})
	expect(t, r, http.StatusBadRequest, "コードが正しくありません。")
	page = c.get("/admin/account")
	sealed = regexp.MustCompile(`name="sealed" value="([^"]+)"`).FindStringSubmatch(page.body)
	m = regexp.MustCompile(`<code>([A-Z2-7]+)</code>`).FindStringSubmatch(page.body)
	code, _ := totp.GenerateCode(m[1], a.clock.Now())
	r = c.post("/admin/account/2fa", url.Values{"sealed": {sealed[1]}, "code": {code}, "current_for_2fa": {"correct horse battery"}})
	expect(t, r, http.StatusOK, "リカバリーコード")
	pre := regexp.MustCompile(`(?s)<pre class="sample">(.*?)</pre>`).FindStringSubmatch(r.body)
	if pre == nil {
		t.Fatal("no recovery codes shown")
	}
	codes = regexp.MustCompile(`[a-z2-7]{4}-[a-z2-7]{4}`).FindAllString(pre[1], -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return m[1], codes
}

func TestTwoFactorSignIn(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	c.login("editor@example.com")
	secret, codes := enableTOTP(t, a, c)
	op, _ := a.store.OperatorByEmail(context.Background(), "editor@example.com")
	if op.TOTPSecret == "" || strings.Contains(op.TOTPSecret, secret) {
		t.Fatal("TOTP secret stored in clear")
	}

	signIn := func(code string) (*client, response) {
		n := a.client()
		n.get("/admin/login")
		r := n.post("/admin/login", url.Values{"email": {"editor@example.com"}, "password": {"correct horse battery"}})
		if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/admin/login/2fa") {
			t.Fatalf("password step: %d %s", r.code, r.header.Get("Location"))
		}
		// Half signed in: the console is still closed.
		if r := n.get("/admin"); r.code != http.StatusSeeOther {
			t.Fatalf("console open before the second factor: %d", r.code)
		}
		n.get("/admin/login/2fa")
		return n, n.post("/admin/login/2fa", url.Values{"code": {code}})
	}
	a.clock.Advance(time.Minute)
	code, _ := totp.GenerateCode(secret, a.clock.Now())
	n, r := signIn(code)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin" {
		t.Fatalf("good code: %d\n%s", r.code, r.body)
	}
	expect(t, n.get("/admin"), http.StatusOK)
	// The same code again: refused.
	_, r = signIn(code)
	expect(t, r, http.StatusUnauthorized, "コードが正しくありません。")
	_, r = signIn("123456")
	expect(t, r, http.StatusUnauthorized)
	// A recovery code works once.
	_, r = signIn(codes[3])
	if r.code != http.StatusSeeOther {
		t.Fatalf("recovery code: %d", r.code)
	}
	_, r = signIn(codes[3])
	expect(t, r, http.StatusUnauthorized)
}

func TestAdminsMustUseTwoFactorWhenRequired(t *testing.T) {
	a := newTestServer(t)
	a.app.opts.Require2FA = true
	c := a.client()
	c.login("admin@example.com")
	r := c.get("/admin/incidents")
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin/account" {
		t.Fatalf("admin without 2FA reached the console: %d %s", r.code, r.header.Get("Location"))
	}
	expect(t, c.get("/admin/account"), http.StatusOK, "管理者は2段階認証の設定が必要です")
	enableTOTP(t, a, c)
	expect(t, c.get("/admin/incidents"), http.StatusOK)
	// Editors are not forced.
	e := a.client()
	e.login("editor@example.com")
	expect(t, e.get("/admin/incidents"), http.StatusOK)
}

func sessionCookie(c *client, base string) *http.Cookie {
	u, _ := url.Parse(base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "oshirase_session" {
			return ck
		}
	}
	return nil
}

// withCookie is a bare client presenting one stolen session cookie.
func (a *testApp) withCookie(ck *http.Cookie) response {
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/admin", nil)
	req.AddCookie(ck)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	return response{code: res.StatusCode, header: res.Header}
}

func TestSessionsEnd(t *testing.T) {
	a := newTestServer(t)
	// Logout.
	c := a.client()
	c.login("editor@example.com")
	old := sessionCookie(c, a.srv.URL)
	c.post("/admin/logout", nil)
	if r := a.withCookie(old); r.code != http.StatusSeeOther {
		t.Fatalf("cookie works after logout: %d", r.code)
	}
	// Password change ends the other sessions, keeps this one.
	c1, c2 := a.client(), a.client()
	c1.login("editor@example.com")
	c2.login("editor@example.com")
	c1.get("/admin/account")
	expect(t, c1.post("/admin/account/password", url.Values{"current": {"correct horse battery"}, "new": {"another long passphrase"}, "confirm": {"another long passphrase"}}), http.StatusSeeOther)
	expect(t, c1.get("/admin"), http.StatusOK)
	if r := c2.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("other session alive after password change: %d", r.code)
	}
	// Disable.
	ed := a.client()
	ed.get("/admin/login")
	ed.post("/admin/login", url.Values{"email": {"editor@example.com"}, "password": {"another long passphrase"}})
	adm := a.client()
	adm.login("admin@example.com")
	op, _ := a.store.OperatorByEmail(context.Background(), "editor@example.com")
	adm.get("/admin/operators")
	adm.post("/admin/operators/"+fmt.Sprint(op.ID)+"/disable", url.Values{"confirm": {"1"}})
	if r := ed.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("disabled operator still in: %d", r.code)
	}
	// Idle: two hours without a request.
	i := a.client()
	i.login("admin@example.com")
	a.clock.Advance(2*time.Hour + time.Minute)
	if r := i.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("idle session alive: %d", r.code)
	}
	// Absolute: busy all day, still ends after 24 hours.
	b := a.client()
	b.login("admin@example.com")
	for h := 0; h < 23; h++ {
		a.clock.Advance(time.Hour)
		expect(t, b.get("/admin"), http.StatusOK)
	}
	a.clock.Advance(time.Hour + time.Minute)
	if r := b.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("session alive past its absolute lifetime: %d", r.code)
	}
}

func TestSecurityHeadersAndProbes(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	check := func(name string, r response, console bool) {
		t.Helper()
		h := r.header
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q", name, k, h.Get(k))
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", name, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code", name)
		}
		if ct := h.Get("Content-Type"); ct != "" && strings.HasPrefix(ct, "text/") && !strings.Contains(strings.ToLower(ct), "charset=utf-8") {
			t.Errorf("%s: %s without charset", name, ct)
		}
		if console && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: console page cacheable: %q", name, h.Get("Cache-Control"))
		}
	}
	check("status page", c.get("/"), false)
	check("404", c.get("/no/such/page"), false)
	check("static", c.get("/static/x/style.css"), false)
	check("login", c.get("/admin/login"), true)
	c.login("editor@example.com")
	check("console", c.get("/admin"), true)
	check("healthz", c.get("/healthz"), false)

	for _, p := range []string{"/.git/config", "/.git/", "/debug/pprof/", "/debug/vars", "/static/x/", "/static/", "/server-status", "/.env"} {
		if r := c.get(p); r.code != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.code)
		}
	}
	req, _ := http.NewRequest("TRACE", a.srv.URL+"/", nil)
	if r := c.do(req); r.code != http.StatusMethodNotAllowed {
		t.Errorf("TRACE: %d", r.code)
	}
	// HSTS over https only.
	if c.get("/").header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http")
	}
	a.app.opts.BaseURL, _ = url.Parse("https://status.example.com")
	a.app.echo = a.app.routes()
	if hsts := a.client().get("/").header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS over https: %q", hsts)
	}
}

func TestSecurityTxt(t *testing.T) {
	a := newTestServer(t)
	r := a.client().get("/.well-known/security.txt")
	expect(t, r, http.StatusOK, "Contact: mailto:security@example.com", "Expires: 2027-05-26T00:00:00Z", "Preferred-Languages: ja, en",
		"Canonical: http://status.example.com/.well-known/security.txt")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; charset=UTF-8") {
		t.Fatalf("content type %q", r.header.Get("Content-Type"))
	}
	a.app.opts.SecurityContact = ""
	if r := a.client().get("/.well-known/security.txt"); r.code != http.StatusNotFound {
		t.Fatalf("without a contact: %d", r.code)
	}
}

// TestNoSecretReachesLogsOrTrails runs sign-in, two-factor, an invitation
// and a signed link, then searches the server log, the audit trail and the
// access log for every secret that passed through.
func TestNoSecretReachesLogsOrTrails(t *testing.T) {
	a := newTestServer(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	a.app.log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	rec := a.withAccessLog(nil)
	f := a.seedAll()
	c := a.client()
	c.get("/admin/login")
	c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"wrong secret password"}})
	c.login("admin@example.com")
	secret, codes := enableTOTP(t, a, c)
	r := c.post("/admin/operators", url.Values{"email": {"invitee@example.com"}, "role": {"editor"}})
	invite := regexp.MustCompile(`/admin/invite/([A-Za-z0-9_-]+)`).FindStringSubmatch(r.body)[1]
	token := mail.ContactToken(testSecret, f.contact)
	a.client().get("/preferences/" + token)
	a.client().get("/unsubscribe/" + token + "?token=" + token)
	session := sessionCookie(c, a.srv.URL).Value
	rec.Flush()

	var haystack strings.Builder
	haystack.WriteString(logs.String())
	es, _, _ := a.store.Audit(context.Background(), data.AuditFilter{})
	for _, e := range es {
		fmt.Fprintf(&haystack, "%+v\n", e)
	}
	al := accessEntries(t, rec)
	for _, e := range al {
		fmt.Fprintf(&haystack, "%+v\n", e)
	}
	for name, s := range map[string]string{"password": "correct horse battery", "wrong password": "wrong secret password",
		"session id": session, "csrf": c.csrf, "contact token": token, "invitation": invite, "totp secret": secret, "recovery code": codes[0]} {
		if strings.Contains(haystack.String(), s) {
			t.Errorf("the %s appears in logs or trails", name)
		}
	}
	if len(al) == 0 || len(es) == 0 {
		t.Fatal("nothing recorded; the test proves nothing")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
