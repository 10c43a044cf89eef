package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/oshirase/oshirase/data"
)

// deviceValue is the browser's device cookie, or "".
func (c *client) deviceValue() string {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, deviceCookie) {
			return ck.Value
		}
	}
	return ""
}

// setDevice plants a device cookie value, as one copied from elsewhere.
func (c *client) setDevice(v string) {
	u, _ := url.Parse(c.a.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: v, Path: "/"}})
}

// userAgent makes every request of the client carry that User-Agent.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

func (a *testApp) browser(ua string) *client {
	c := a.client()
	c.http.Transport = userAgent{ua, http.DefaultTransport}
	return c
}

// TestBusySignInsDoNotCount: while sign-ins from many addresses keep every
// hashing slot taken, the owner's browser that signed in before still gets
// in, and a new browser's "busy, try again" answers do not count as failed
// attempts: once the flood stops it gets in, never locked out by its own
// retries.
func TestBusySignInsDoNotCount(t *testing.T) {
	a := newTestServer(t)
	a.trustProxy("127.0.0.0/8")
	owner := a.client()
	owner.get("/admin/login")
	expect(t, owner.loginFrom("198.51.100.7", "admin@example.com", "correct horse battery"), http.StatusSeeOther)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var busy, checked atomic.Int64
	for g := 0; g < 40; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := a.client()
			c.allow5xx = true
			c.get("/admin/login")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Every attempt from its own address; some at the owner's
				// account, most at addresses nobody has.
				email := fmt.Sprintf("nobody%d-%d@example.com", g, i)
				if i%4 == 0 {
					email = "admin@example.com"
				}
				r := c.loginFrom(fmt.Sprintf("10.%d.%d.%d", g, (i/250)%250, i%250+1), email, "wrong password")
				switch r.code {
				case http.StatusServiceUnavailable:
					busy.Add(1)
				case http.StatusUnauthorized, http.StatusTooManyRequests:
					checked.Add(1)
				default:
					t.Errorf("flood sign-in answered %d", r.code)
				}
			}
		}(g)
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	for deadline := time.Now().Add(20 * time.Second); busy.Load() < 20; {
		if time.Now().After(deadline) {
			t.Fatalf("the flood never filled the hashing slots (%d busy, %d checked)", busy.Load(), checked.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// During the flood: the owner's browser gets in, again and again.
	for i := 0; i < 3; i++ {
		owner.get("/admin/login")
		expect(t, owner.loginFrom("198.51.100.7", "admin@example.com", "correct horse battery"), http.StatusSeeOther)
	}
	// A browser new to the account is told to come back, as often as it
	// retries, and never locked out for it.
	busySeen := 0
	for i := 0; i < 200 && busySeen < 10; i++ {
		nc := a.client()
		nc.allow5xx = true
		nc.get("/admin/login")
		switch r := nc.loginFrom("192.0.2.50", "editor@example.com", "correct horse battery"); r.code {
		case http.StatusServiceUnavailable:
			busySeen++
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("busy answer without Retry-After: %v", r.header)
			}
		case http.StatusSeeOther:
		default:
			t.Fatalf("retry %d during the flood answered %d (after %d busy answers)\n%s", i, r.code, busySeen, r.body)
		}
	}
	if busySeen < 10 {
		t.Fatalf("only %d busy answers during the flood", busySeen)
	}
	close(stop)
	wg.Wait()

	// After the flood: both get in at once.
	nc := a.client()
	nc.get("/admin/login")
	expect(t, nc.loginFrom("192.0.2.50", "editor@example.com", "correct horse battery"), http.StatusSeeOther)
	owner.get("/admin/login")
	expect(t, owner.loginFrom("198.51.100.7", "admin@example.com", "correct horse battery"), http.StatusSeeOther)
	t.Logf("flood: %d busy, %d checked", busy.Load(), checked.Load())
}

// lockAccount trips the account-wide throttle of email by guessing from
// new browsers at many addresses.
func lockAccount(t *testing.T, a *testApp, email string) {
	t.Helper()
	for i := 0; i < 8; i++ {
		g := a.client()
		g.get("/admin/login")
		g.loginFrom(fmt.Sprintf("203.0.113.%d", 100+i), email, "guess")
	}
	g := a.client()
	g.get("/admin/login")
	expect(t, g.loginFrom("203.0.113.99", email, "correct horse battery"), http.StatusTooManyRequests)
}

// TestDeviceCookieIsPerBrowser: every browser gets its own device token,
// a new one at every sign-in; a token works only for the account it was
// given for, and no longer once rotated or forgotten.
func TestDeviceCookieIsPerBrowser(t *testing.T) {
	a := newTestServer(t)
	a.trustProxy("127.0.0.0/8")
	b1, b2 := a.client(), a.client()
	b1.login("admin@example.com")
	b2.login("admin@example.com")
	v1, v2 := b1.deviceValue(), b2.deviceValue()
	if v1 == "" || v2 == "" || v1 == v2 {
		t.Fatalf("device cookies %q and %q: want two different ones", v1, v2)
	}
	ed := a.client()
	ed.login("editor@example.com")
	if ed.deviceValue() == v1 || ed.deviceValue() == "" {
		t.Fatalf("editor's device cookie %q", ed.deviceValue())
	}
	// Rotated at each sign-in; the old value is forgotten.
	b1.get("/admin/login")
	expect(t, b1.loginFrom("198.51.100.1", "admin@example.com", "correct horse battery"), http.StatusSeeOther)
	if b1.deviceValue() == v1 {
		t.Fatal("the device cookie was not replaced at sign-in")
	}
	old := v1
	v1 = b1.deviceValue()
	if ds, _ := a.store.OperatorDevices(context.Background(), operatorID(t, a, "admin@example.com")); len(ds) != 2 {
		t.Fatalf("%d devices remembered for two browsers", len(ds))
	}
	for _, d := range mustDevices(t, a, "admin@example.com") {
		if d.TokenHash == v1 || d.TokenHash == hashToken(old) || d.TokenHash != hashToken(v1) && d.TokenHash != hashToken(v2) {
			t.Fatalf("device stored as %q", d.TokenHash)
		}
	}

	lockAccount(t, a, "admin@example.com")
	try := func(device, ip, pw string) int {
		c := a.client()
		c.get("/admin/login")
		if device != "" {
			c.setDevice(device)
		}
		return c.loginFrom(ip, "admin@example.com", pw).code
	}
	// The admin's browsers get past the account throttle (a wrong
	// password is checked, not refused).
	if code := try(v2, "198.51.100.2", "wrong password"); code != http.StatusUnauthorized {
		t.Fatalf("admin's own device token: %d", code)
	}
	// The editor's token, the admin's old token, nonsense: all wait.
	for name, v := range map[string]string{"editor's": ed.deviceValue(), "rotated": old, "made up": "x" + v2[1:]} {
		if code := try(v, "198.51.100.3", "correct horse battery"); code != http.StatusTooManyRequests {
			t.Fatalf("%s device token for the admin: %d, want 429", name, code)
		}
	}
	// Forget b1 on its account page: a copy of its cookie stops working.
	page := b1.get("/admin/account")
	id := ""
	for _, row := range strings.Split(page.body, "<tr>") {
		if m := regexp.MustCompile(`name="device" value="(\d+)"`).FindStringSubmatch(row); m != nil && strings.Contains(row, "このブラウザー") {
			id = m[1]
		}
	}
	if id == "" {
		t.Fatalf("this browser is not marked among the remembered ones\n%s", page.body)
	}
	if code := try(v1, "198.51.100.4", "wrong password"); code != http.StatusUnauthorized {
		t.Fatalf("before forgetting: %d", code)
	}
	expect(t, b1.post("/admin/account/devices/forget", url.Values{"device": {id}}), http.StatusSeeOther)
	if b1.deviceValue() != "" {
		t.Fatal("the forgotten browser kept its cookie")
	}
	if code := try(v1, "198.51.100.5", "correct horse battery"); code != http.StatusTooManyRequests {
		t.Fatalf("a forgotten device token: %d, want 429", code)
	}
	// Another operator cannot forget the admin's browsers.
	ed.get("/admin/account")
	other := mustDevices(t, a, "admin@example.com")[0]
	expect(t, ed.post("/admin/account/devices/forget", url.Values{"device": {strconvItoa(other.ID)}}), http.StatusNotFound)
	if len(mustDevices(t, a, "admin@example.com")) != 1 {
		t.Fatal("the editor forgot the admin's browser")
	}
	if countAudit(t, a, "account.device_forget") != 1 {
		t.Fatal("forgetting a browser is not audited")
	}
}

// TestSessionsAreListedAndEnded: the account page lists the operator's
// sessions with their browsers; one can be ended (that browser is signed
// out), or all others; another operator's cannot.
func TestSessionsAreListedAndEnded(t *testing.T) {
	a := newTestServer(t)
	firefox := a.browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0")
	chrome := a.browser("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	firefox.login("admin@example.com")
	chrome.login("admin@example.com")
	page := chrome.get("/admin/account")
	expect(t, page, http.StatusOK, "Firefox · Windows", "Chrome · macOS", "127.0.0.1", "ログイン中のブラウザー")
	sessionRef := func(page, browser string) string {
		for _, row := range strings.Split(page, `<li class="card">`) {
			if m := regexp.MustCompile(`name="session" value="([^"]+)"`).FindStringSubmatch(row); m != nil && strings.Contains(row, browser) {
				return m[1]
			}
		}
		t.Fatalf("no session of %s listed\n%s", browser, page)
		return ""
	}
	if n := strings.Count(page.body, "（このブラウザー）"); n != 2 { // its session and its remembered browser
		t.Fatalf("this browser marked %d times", n)
	}
	ffRef, chRef := sessionRef(page.body, "Firefox"), sessionRef(page.body, "Chrome")
	if strings.Contains(page.body, hashToken(firefox.sessionValue())) {
		t.Fatal("the page shows a session id")
	}

	// Another operator cannot end the admin's session.
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.post("/admin/account/sessions/end", url.Values{"session": {ffRef}}), http.StatusNotFound)
	expect(t, ed.post("/admin/account/sessions/end-others", nil), http.StatusSeeOther)
	expect(t, firefox.get("/admin"), http.StatusOK)
	expect(t, chrome.get("/admin"), http.StatusOK)

	// The admin ends the Firefox session: that browser is signed out.
	expect(t, chrome.post("/admin/account/sessions/end", url.Values{"session": {ffRef}}), http.StatusSeeOther)
	if r := firefox.get("/admin"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/admin/login") {
		t.Fatalf("the ended session still works: %d %s", r.code, r.header.Get("Location"))
	}
	expect(t, chrome.get("/admin/account"), http.StatusOK, "Chrome · macOS", "選択したブラウザーをログアウトさせました")
	expectNot(t, chrome.get("/admin/account"), ffRef)
	expect(t, chrome.post("/admin/account/sessions/end", url.Values{"session": {ffRef}}), http.StatusNotFound)

	// All others: a third browser is signed out, this one stays.
	third := a.browser("curl/8.5.0")
	third.login("admin@example.com")
	chrome.get("/admin/account")
	expect(t, chrome.post("/admin/account/sessions/end-others", nil), http.StatusSeeOther)
	expect(t, chrome.get("/admin"), http.StatusOK, "ほかのブラウザーをすべてログアウトさせました")
	if r := third.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("another session survived ending all others: %d", r.code)
	}
	expect(t, ed.get("/admin"), http.StatusOK) // the editor's own sessions are untouched

	// Ending this browser's own session signs it out.
	page = chrome.get("/admin/account")
	if sessionRef(page.body, "Chrome") != chRef {
		t.Fatal("the session's reference changed")
	}
	expect(t, chrome.post("/admin/account/sessions/end", url.Values{"session": {chRef}}), http.StatusSeeOther)
	if r := chrome.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("this browser is still signed in: %d", r.code)
	}
	if countAudit(t, a, "account.session_end") != 2 || countAudit(t, a, "account.sessions_end_others") != 2 {
		t.Fatal("ending sessions is not audited")
	}
}

// TestSessionKeepsBrowserThroughSecondFactor: the browser and address a
// session started from survive the second factor.
func TestSessionKeepsBrowserThroughSecondFactor(t *testing.T) {
	a := newTestServer(t)
	c := a.browser("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
	c.login("admin@example.com")
	secret, _ := enableTOTP(t, a, c)
	d := a.browser("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
	d.get("/admin/login")
	expect(t, d.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}}), http.StatusSeeOther)
	d.get("/admin/login/2fa")
	a.clock.Advance(time.Minute)
	code, _ := totp.GenerateCode(secret, a.clock.Now())
	expect(t, d.post("/admin/login/2fa", url.Values{"code": {code}}), http.StatusSeeOther)
	ss, err := a.store.OperatorSessions(context.Background(), operatorID(t, a, "admin@example.com"), time.Hour)
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions %v %v", ss, err)
	}
	for _, s := range ss {
		if shortUserAgent(s.UserAgent) != "Safari · iOS" || s.IP != "127.0.0.1" {
			t.Fatalf("session %+v", s)
		}
	}
}

// TestEvery429SaysWhenToComeBack: each throttled answer carries a whole
// number of seconds of at least one in Retry-After.
func TestEvery429SaysWhenToComeBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, a *testApp) *client
		try   func(c *client) response
	}{
		{"login", func(t *testing.T, a *testApp) *client {
			c := a.client()
			c.get("/admin/login")
			return c
		}, func(c *client) response {
			return c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"wrong password"}})
		}},
		{"second factor", func(t *testing.T, a *testApp) *client {
			owner := a.client()
			owner.login("admin@example.com")
			enableTOTP(t, a, owner)
			c := a.client()
			c.get("/admin/login")
			expect(t, c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}}), http.StatusSeeOther)
			c.get("/admin/login/2fa")
			return c
		}, func(c *client) response {
			return c.post("/admin/login/2fa", url.Values{"code": {"000000"}})
		}},
		{"subscribe", func(t *testing.T, a *testApp) *client {
			c := a.client()
			c.get("/subscribe")
			return c
		}, func(c *client) response {
			return c.post("/subscribe", url.Values{"email": {"reader@example.com"}, "lang": {"ja"}})
		}},
		{"channel", func(t *testing.T, a *testApp) *client {
			a.seedCatalog()
			c := a.client()
			c.get("/subscribe/channel")
			return c
		}, func(c *client) response {
			return c.post("/subscribe/channel", url.Values{"kind": {"webhook"}, "url": {""}, "lang": {"ja"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestServer(t)
			c := tc.setup(t, a)
			for i := 0; i < 40; i++ {
				r := tc.try(c)
				if r.code != http.StatusTooManyRequests {
					continue
				}
				if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
					t.Fatalf("429 with Retry-After %q", r.header.Get("Retry-After"))
				}
				return
			}
			t.Fatal("never throttled")
		})
	}
}

func (c *client) sessionValue() string {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, "oshirase_session") {
			return ck.Value
		}
	}
	return ""
}

func operatorID(t *testing.T, a *testApp, email string) int64 {
	t.Helper()
	op, err := a.store.OperatorByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return op.ID
}

func mustDevices(t *testing.T, a *testApp, email string) []data.OperatorDevice {
	t.Helper()
	ds, err := a.store.OperatorDevices(context.Background(), operatorID(t, a, email))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func countAudit(t *testing.T, a *testApp, action string) int {
	t.Helper()
	es, _, err := a.store.Audit(context.Background(), data.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestSecondFactorThrottleSparesKnownBrowser: someone who has the password
// and guesses codes elsewhere locks the second factor for new browsers,
// not for the owner's browser that signed in before.
func TestSecondFactorThrottleSparesKnownBrowser(t *testing.T) {
	a := newTestServer(t)
	owner := a.client()
	owner.login("admin@example.com")
	secret, _ := enableTOTP(t, a, owner)
	thief := a.client()
	thief.get("/admin/login")
	expect(t, thief.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}}), http.StatusSeeOther)
	thief.get("/admin/login/2fa")
	// Guessing patiently, so each guess counts and the wait grows long.
	for i := 0; i < 12; i++ {
		a.clock.Advance(5 * time.Minute)
		thief.post("/admin/login/2fa", url.Values{"code": {"000000"}})
	}
	expect(t, thief.post("/admin/login/2fa", url.Values{"code": {"000000"}}), http.StatusTooManyRequests)
	expect(t, owner.post("/admin/logout", nil), http.StatusSeeOther)
	owner.get("/admin/login")
	expect(t, owner.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}}), http.StatusSeeOther)
	owner.get("/admin/login/2fa")
	a.clock.Advance(31 * time.Second)
	code, _ := totp.GenerateCode(secret, a.clock.Now())
	expect(t, owner.post("/admin/login/2fa", url.Values{"code": {code}}), http.StatusSeeOther)
	expect(t, owner.get("/admin"), http.StatusOK)
}
