package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/password"
)

// loginFrom posts a sign-in from a given client address (behind a trusted
// proxy) and returns the status.
func (c *client) loginFrom(ip, email, pw string) response {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.a.srv.URL+"/admin/login",
		strings.NewReader(url.Values{"email": {email}, "password": {pw}, "csrf": {c.token()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	return c.do(req)
}

// peakRSS is the process's peak resident memory in bytes (Linux).
func peakRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("reading memory use: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestConcurrentSignInsAreBounded: 100 sign-ins at once (each from its own
// address, for its own unknown account, so no throttle stops them) hash at
// most password.Slots at a time; peak memory grows by less than 768 MiB
// (unbounded it grew 1.6 GiB on SQLite, which serialises some of the work;
// up to 6.4 GiB for 100 × 64 MiB), and the public page answers all
// along.
func TestConcurrentSignInsAreBounded(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	a.trustProxy("127.0.0.0/8")
	c := a.client()
	c.allow5xx = true // "too many sign-ins at once, try again" is a 503
	c.get("/admin/login")
	before := peakRSS(t)
	var wg sync.WaitGroup
	var codes sync.Map
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := c.loginFrom(fmt.Sprintf("203.0.113.%d", i+1), fmt.Sprintf("nobody%d@example.com", i), "wrong password")
			n, _ := codes.LoadOrStore(r.code, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}(i)
	}
	pub := a.client()
	stop := make(chan struct{})
	var pages, pageFailures atomic.Int64
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r := pub.get("/"); r.code == http.StatusOK {
				pages.Add(1)
			} else {
				pageFailures.Add(1)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-reader // its last request ends before the server does
	if m := password.MaxConcurrent(); m > password.Slots {
		t.Fatalf("%d hashes ran at once, more than %d", m, password.Slots)
	}
	t.Logf("peak grew %d MiB, max concurrent %d", (peakRSS(t)-before)>>20, password.MaxConcurrent())
	if grew := peakRSS(t) - before; grew > 768<<20 {
		t.Fatalf("peak memory grew by %d MiB", grew>>20)
	}
	if pages.Load() == 0 || pageFailures.Load() != 0 {
		t.Fatalf("the public page answered %d times and failed %d times during the burst", pages.Load(), pageFailures.Load())
	}
	codes.Range(func(k, v any) bool {
		if code := k.(int); code != http.StatusUnauthorized && code != http.StatusServiceUnavailable {
			t.Errorf("%d sign-ins answered %d", v.(*atomic.Int64).Load(), code)
		}
		return true
	})
}

// TestThrottleCountsBurstsAtomically: 29 wrong passwords and the right one
// sent at once are counted one by one (only 5 are checked), and 20
// subscription requests at once for one address send at most 3
// confirmations.
func TestThrottleCountsBurstsAtomically(t *testing.T) {
	a := newTestServer(t)
	a.withMail(true)
	a.seedCatalog()
	c := a.client()
	c.get("/admin/login")
	var wg sync.WaitGroup
	burst := func(email string, right int) int64 {
		var checked atomic.Int64
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				pw := "wrong password"
				if i == right {
					pw = "correct horse battery"
				}
				if r := c.post("/admin/login", url.Values{"email": {email}, "password": {pw}, "csrf": {c.csrf}}); r.code != http.StatusTooManyRequests {
					checked.Add(1)
				}
			}(i)
		}
		wg.Wait()
		return checked.Load()
	}
	// 30 wrong at once: 5 checked, as one after the other.
	if n := burst("editor@example.com", -1); n > 5 {
		t.Fatalf("%d of 30 simultaneous wrong passwords were checked; the limit is 5", n)
	}
	// With the right one among them, a success forgives what came before
	// it, so in any order at most 5 + 5 are checked (it used to be all 30).
	if n := burst("admin@example.com", 29); n > 10 {
		t.Fatalf("%d of 30 simultaneous sign-ins were checked; at most 10 may be", n)
	}
	s := a.client()
	s.get("/subscribe")
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.post("/subscribe", url.Values{"email": {"reader@example.com"}, "lang": {"ja"}, "csrf": {s.csrf}})
		}()
	}
	wg.Wait()
	ns, _, _, _ := a.store.Notifications(context.Background(), 100, 0)
	sent := 0
	for _, n := range ns {
		if n.Kind == data.SubscriptionConfirm {
			sent++
		}
	}
	if sent > 3 {
		t.Fatalf("%d confirmations for one address; the limit is 3", sent)
	}
}

// TestOwnerIsNotLockedOut: guessing at an account from elsewhere blocks
// the guesser and new browsers, not the owner's own browser.
func TestOwnerIsNotLockedOut(t *testing.T) {
	a := newTestServer(t)
	a.trustProxy("127.0.0.0/8")
	owner := a.client()
	owner.get("/admin/login")
	expect(t, owner.loginFrom("198.51.100.7", "admin@example.com", "correct horse battery"), http.StatusSeeOther)
	attacker := a.client()
	attacker.get("/admin/login")
	blocked := 0
	for i := 0; i < 12; i++ {
		if r := attacker.loginFrom("203.0.113.66", "admin@example.com", "guess"); r.code == http.StatusTooManyRequests {
			blocked++
		}
	}
	if blocked < 6 {
		t.Fatalf("the guesser was blocked %d times of 12", blocked)
	}
	// The owner, from their usual browser at another address, gets in.
	owner.get("/admin/login")
	expect(t, owner.loginFrom("198.51.100.7", "admin@example.com", "correct horse battery"), http.StatusSeeOther)
	// A browser never used for this account waits, as the account is under attack.
	stranger := a.client()
	stranger.get("/admin/login")
	expect(t, stranger.loginFrom("192.0.2.9", "admin@example.com", "correct horse battery"), http.StatusTooManyRequests)
}

// TestTokensDieWithTheirCreatorsRights: a token stops working when the
// admin who made it is disabled or is no longer an admin, and when it
// expires (a year by default, shown in the console with its last use).
func TestTokensDieWithTheirCreatorsRights(t *testing.T) {
	a := newTestServer(t)
	boss := a.client()
	boss.login("admin@example.com")
	// A second admin, who makes tokens and then leaves.
	ctx := context.Background()
	ed, _ := a.store.OperatorByEmail(ctx, "editor@example.com")
	a.store.SetOperatorRole(ctx, ed.ID, data.RoleAdmin)
	leaver := a.client()
	leaver.login("editor@example.com")
	t1 := a.newToken(leaver, "監視1", "write")
	t2 := a.newToken(leaver, "監視2", "read")
	expect(t, a.apiCall(t1, "GET", "/api/admin/components", ""), http.StatusOK)
	page := boss.get("/admin/tokens")
	expect(t, page, http.StatusOK, "監視1", "有効期限")
	// Demoted: its tokens stop.
	a.store.SetOperatorRole(ctx, ed.ID, data.RoleEditor)
	expect(t, a.apiCall(t1, "GET", "/api/admin/components", ""), http.StatusUnauthorized)
	a.store.SetOperatorRole(ctx, ed.ID, data.RoleAdmin)
	expect(t, a.apiCall(t2, "GET", "/api/admin/components", ""), http.StatusOK)
	// Disabled: too.
	boss.get("/admin/operators")
	expect(t, boss.post("/admin/operators/"+strconv.FormatInt(ed.ID, 10)+"/disable", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expect(t, a.apiCall(t2, "GET", "/api/admin/components", ""), http.StatusUnauthorized)
	// Expiry: a token made for 30 days stops after them.
	boss.get("/admin/tokens")
	r := boss.post("/admin/tokens", url.Values{"name": {"短期"}, "scope": {"read"}, "expires": {"30d"}})
	short := regexpToken.FindString(r.body)
	expect(t, a.apiCall(short, "GET", "/api/admin/components", ""), http.StatusOK)
	a.clock.Advance(31 * 24 * time.Hour)
	expect(t, a.apiCall(short, "GET", "/api/admin/components", ""), http.StatusUnauthorized)
}

var regexpToken = regexp.MustCompile(`osh_[A-Za-z0-9_-]+`)

// TestNULAndBrokenUTF8AreRefusedAtTheEdge: every text input with a NUL or
// invalid UTF-8 gets a clear 400 in the visitor's language (PostgreSQL
// used to answer 500), and nothing is stored, nor silently turned into
// U+FFFD.
func TestNULAndBrokenUTF8AreRefusedAtTheEdge(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	op := a.client()
	op.login("admin@example.com")
	pub := a.client()
	pub.get("/subscribe")
	for _, bad := range []string{"a\x00b@example.com", "a\xffb@example.com"} {
		expect(t, pub.post("/subscribe", url.Values{"email": {bad}, "lang": {"ja"}}), http.StatusBadRequest, "使用できない文字")
		login := a.client()
		login.get("/admin/login")
		expect(t, login.post("/admin/login", url.Values{"email": {bad}, "password": {"x"}}), http.StatusBadRequest, "使用できない文字")
		for _, path := range []string{"/admin/contracts?q=", "/admin/subscribers?q=", "/admin/audit?action="} {
			expect(t, op.get(path+url.QueryEscape(bad)), http.StatusBadRequest)
		}
	}
	if n, _ := a.store.CountSubscribers(context.Background()); n != 0 {
		t.Fatalf("%d subscribers stored from broken input", n)
	}
	tok := a.newToken(op, "監視", "write")
	for _, body := range []string{`{"title_ja":"a\u0000b","impact":"minor","body_ja":"x"}`, "{\"title_ja\":\"a\xffb\",\"impact\":\"minor\",\"body_ja\":\"x\"}"} {
		expect(t, a.apiCall(tok, "POST", "/api/admin/incidents", body), http.StatusBadRequest, `"code":"bad_text"`)
	}
	if _, total, _ := a.store.RecentIncidents(context.Background(), 1, 0); total != 0 {
		t.Fatalf("%d incidents stored from broken input", total)
	}
}

// TestPageCacheCannotBeFilledByAnyone: a product id spelt with leading
// zeros is not a new cache entry (nor a page); unknown ids are not cached.
func TestPageCacheCannotBeFilledByAnyone(t *testing.T) {
	a := newTestServer(t)
	p, _, _ := a.seedCatalog()
	pub := a.client()
	id := strconv.FormatInt(p, 10)
	expect(t, pub.get("/products/"+id+"/feed.atom"), http.StatusOK)
	expect(t, pub.get("/products/"+id+"/maintenance.ics"), http.StatusOK)
	a.app.warmer.wg.Wait() // what is rendered ahead of time is in already
	a.app.cache.mu.RLock()
	before := len(a.app.cache.entries)
	a.app.cache.mu.RUnlock()
	for i := 1; i <= 200; i++ {
		zeros := strings.Repeat("0", i)
		expect(t, pub.get("/products/"+zeros+id+"/feed.atom"), http.StatusNotFound)
		expect(t, pub.get("/products/"+zeros+id+"/maintenance.ics"), http.StatusNotFound)
		expect(t, pub.get("/products/"+strconv.Itoa(900000+i)+"/feed.rss"), http.StatusNotFound)
		expect(t, pub.get("/incidents/"+strconv.Itoa(900000+i)), http.StatusNotFound)
	}
	a.app.cache.mu.RLock()
	after := len(a.app.cache.entries)
	a.app.cache.mu.RUnlock()
	if after > before {
		t.Fatalf("the cache grew from %d to %d entries", before, after)
	}
}

// TestCSRFDetails: the token is taken from the form field or the header
// only (a token in the URL leaks into logs and Referer), the CSRF cookie is
// new after signing in, and an unsafe request from a foreign Origin is
// refused even with a good token.
func TestCSRFDetails(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	c.get("/admin/login")
	before := c.csrf
	c.login("editor@example.com")
	if c.csrf == before {
		t.Fatal("the CSRF token was not rotated at sign-in")
	}
	// In the query string only: refused, nothing made.
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/admin/products?csrf="+url.QueryEscape(c.csrf),
		strings.NewReader(url.Values{"name_ja": {"クエリ製品"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	expect(t, c.do(req), http.StatusForbidden)
	// From another site, with a good token: refused.
	req, _ = http.NewRequest(http.MethodPost, a.srv.URL+"/admin/products",
		strings.NewReader(url.Values{"name_ja": {"他サイト製品"}, "csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://attacker.example")
	expect(t, c.do(req), http.StatusForbidden)
	ps, _ := a.store.Products(context.Background())
	for _, p := range ps {
		if p.NameJA == "クエリ製品" || p.NameJA == "他サイト製品" {
			t.Fatalf("%s was created", p.NameJA)
		}
	}
	// Same origin with the token in the form: fine.
	req, _ = http.NewRequest(http.MethodPost, a.srv.URL+"/admin/products",
		strings.NewReader(url.Values{"name_ja": {"正規の製品"}, "csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.srv.URL)
	expect(t, c.do(req), http.StatusSeeOther)
}

// TestFailedSignInsStoreNoTypedText: a password typed into the email box,
// or any text an anonymous visitor sends, is never stored as typed: the
// audit trail and the throttle keep a keyed hash unless the address names
// an operator.
func TestFailedSignInsStoreNoTypedText(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	c.get("/admin/login")
	secret := "Hunter2-MySecretPassword"
	for i := 0; i < 8; i++ { // past the throttle, so "throttled" entries exist too
		c.post("/admin/login", url.Values{"email": {secret}, "password": {"x"}})
	}
	c.post("/admin/login", url.Values{"email": {"editor@example.com"}, "password": {"wrong"}})
	ctx := context.Background()
	es, _, _ := a.store.Audit(ctx, data.AuditFilter{Limit: 100})
	named := false
	for _, e := range es {
		if strings.Contains(strings.ToLower(e.Target+e.Changes+e.OperatorEmail), strings.ToLower(secret)) {
			t.Fatalf("the audit trail kept what was typed: %+v", e)
		}
		if strings.Contains(e.Target, "editor@example.com") && e.Action == "login.failed" {
			named = true
		}
	}
	if !named {
		t.Fatal("a failed sign-in for an operator's address does not name it")
	}
	if keys, err := a.store.ThrottleKeys(ctx); err != nil {
		t.Fatal(err)
	} else {
		for _, k := range keys {
			if strings.Contains(strings.ToLower(k), strings.ToLower(secret)) || strings.Contains(k, "editor@example.com") {
				t.Fatalf("the throttle keeps typed text: %q", k)
			}
		}
	}
}

// TestBrowserHardeningHeaders: Permissions-Policy and X-Frame-Options on
// every page, HSTS only over https, and the session cookie lives as long
// as the browser session (the server still ends it after 24 hours).
func TestBrowserHardeningHeaders(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	r := c.get("/")
	if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.header.Get("Permissions-Policy"), "camera=()") {
		t.Fatalf("headers %v", r.header)
	}
	if r.header.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS over plain http")
	}
	c.get("/admin/login")
	r = c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})
	for _, h := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "oshirase_session=") && (strings.Contains(h, "Max-Age") || strings.Contains(h, "Expires")) {
			t.Fatalf("the session cookie outlives the browser session: %q", h)
		}
	}
}

// TestWeakPasswordsAreRefusedWithAReason: today's common passwords (and
// their dressed-up forms) and passwords built from the operator's address
// or the site's name are refused in the form, saying why.
func TestWeakPasswordsAreRefusedWithAReason(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	c.login("editor@example.com")
	for pw, why := range map[string]string{
		"Password123!": "よく使われているパスワード", "P@ssw0rd": "よく使われているパスワード", "qwerty123": "よく使われているパスワード",
		"editor2026!!": "メールアドレスやサイト名", "oshirase-status-1": "メールアドレスやサイト名",
	} {
		c.get("/admin/account")
		expect(t, c.post("/admin/account/password", url.Values{"current": {"correct horse battery"}, "new": {pw}, "confirm": {pw}}),
			http.StatusBadRequest, why)
	}
}

// TestSecretRotation: after the secret is rotated, links signed with the
// previous one keep working while it is listed in PreviousSecrets, and no
// longer once it is dropped; TOTP secrets sealed with it still open.
func TestSecretRotation(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	old := testSecret
	sealed, err := a.app.seal("JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	link := "/preferences/" + mail.ContactToken(old, f.contact)
	a.app.opts.Secret = "a-brand-new-secret-after-rotation-0123456789"
	a.app.opts.PreviousSecrets = []string{old}
	expect(t, a.client().get(link), http.StatusOK)
	if plain, err := a.app.unseal(sealed); err != nil || plain != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("unseal after rotation: %q %v", plain, err)
	}
	a.app.opts.PreviousSecrets = nil
	expect(t, a.client().get(link), http.StatusNotFound)
}
