package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/demo"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/mail"
)

// seedDemo puts the demo's whole product into the test server's store,
// its operators signing in with the test password.
func (a *testApp) seedDemo() *demo.Fixture {
	a.t.Helper()
	f, err := demo.Seed(context.Background(), a.store, t0, demo.Options{Password: "correct horse battery", SetClock: a.clock.Set,
		Location: a.app.opts.Location})
	if err != nil {
		a.t.Fatal(err)
	}
	a.app.Changed()
	return f
}

// demoPage is one address to fetch and the status it answers.
type demoPage struct {
	path string
	code int
	// data are words of the page's data that read like catalogue keys
	// (the audit trail's action names).
	data []string
	// location is where a redirect goes.
	location string
}

// TestDemoEveryPageRenders fetches, in Japanese and in English, every
// public representation and every console page of the demo's product,
// which has every feature in use: each answers as it should, shows no
// error page, leaks no catalogue key and is not a stale copy.
func TestDemoEveryPageRenders(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	catalog, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	keys := newKeyFinder(catalog)
	public := demoPublicPages(t, a, f)
	console := demoConsolePages(t, a, f)
	t.Logf("%d public and %d console addresses, in each language", len(public), len(console))
	for _, lang := range locale.Languages {
		anon := a.client()
		op := a.client()
		op.login(f.AdminEmail)
		// The console speaks the operator's language, the public pages the
		// visitor's.
		admin, err := a.store.OperatorByEmail(context.Background(), f.AdminEmail)
		if err != nil || a.store.SetOperatorLang(context.Background(), admin.ID, lang) != nil {
			t.Fatal(err)
		}
		for _, c := range []*client{anon, op} {
			u, _ := url.Parse(a.srv.URL)
			c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "lang", Value: lang, Path: "/"}})
		}
		for _, p := range public {
			checkDemoPage(t, anon, keys, lang, p)
		}
		for _, p := range console {
			checkDemoPage(t, op, keys, lang, p)
		}
	}
}

func checkDemoPage(t *testing.T, c *client, keys *keyFinder, lang string, p demoPage) {
	t.Helper()
	path := p.path
	if strings.HasPrefix(path, "/api/v2/") || strings.HasPrefix(path, "/preferences/") || strings.HasPrefix(path, "/unsubscribe/") {
		// The Statuspage JSON speaks English unless asked (a page's cookie
		// does not move it), as Statuspage's clients expect.
		path += "?lang=" + lang
	}
	r := c.get(path)
	where := lang + " " + path
	if r.code != p.code {
		t.Errorf("%s: status %d, want %d (Location %q)", where, r.code, p.code, r.header.Get("Location"))
		return
	}
	if loc := r.header.Get("Location"); p.location != "" && loc != p.location {
		t.Errorf("%s: redirects to %q, want %q", where, loc, p.location)
	}
	if v := r.header.Get("X-Oshirase-Stale"); v != "" {
		t.Errorf("%s: a stale copy (X-Oshirase-Stale: %s)", where, v)
	}
	if p.code != http.StatusOK {
		return
	}
	if strings.Contains(r.body, `class="error-page"`) {
		t.Errorf("%s: an error page\n%.2000s", where, r.body)
	}
	if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") && !strings.Contains(path, "/html/") {
		if !strings.Contains(r.body, `<html lang="`+lang+`"`) {
			t.Errorf("%s: not in %s", where, lang)
		}
	}
	if leaked := keys.find(r.body, p.data...); len(leaked) > 0 {
		t.Errorf("%s: raw catalogue keys %v", where, leaked)
	}
}

// demoPublicPages lists every public representation of the fixture.
func demoPublicPages(t *testing.T, a *testApp, f *demo.Fixture) []demoPage {
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	ok := func(paths ...string) []demoPage {
		var out []demoPage
		for _, p := range paths {
			out = append(out, demoPage{path: p, code: http.StatusOK})
		}
		return out
	}
	pages := ok("/", "/history", "/history?page=1", "/news", "/subscribe", "/subscribe/channel", "/.well-known/security.txt",
		"/brand/logo", "/brand.css", "/feed.atom", "/feed.rss", "/maintenance.ics", "/badge.svg")
	for _, p := range []string{"status", "summary", "components", "incidents", "incidents/unresolved",
		"scheduled-maintenances", "scheduled-maintenances/upcoming", "scheduled-maintenances/active"} {
		pages = append(pages, ok("/api/v2/"+p+".json")...)
	}
	// What only contracts see (a contract-only component, an incident on
	// it alone) is not found on the public side.
	pub := a.store.Public()
	for _, n := range f.Incidents {
		if _, err := pub.Incident(context.Background(), n); errors.Is(err, data.ErrNotFound) {
			pages = append(pages, demoPage{path: "/incidents/" + id(n), code: http.StatusNotFound})
			continue
		}
		pages = append(pages, ok("/incidents/"+id(n))...)
	}
	for _, n := range f.Maintenances {
		pages = append(pages, ok("/maintenance/"+id(n), "/maintenance/"+id(n)+"/event.ics")...)
	}
	for _, n := range f.Upgrades {
		pages = append(pages, ok("/upgrades/"+id(n), "/upgrades/"+id(n)+"/event.ics")...)
	}
	for _, n := range f.Announcements {
		if n == f.ScheduledAnnouncement {
			pages = append(pages, demoPage{path: "/news/" + id(n), code: http.StatusNotFound}) // not yet published
			continue
		}
		pages = append(pages, ok("/news/"+id(n))...)
	}
	for _, n := range f.Products {
		pages = append(pages, ok("/products/"+id(n)+"/feed.atom", "/products/"+id(n)+"/feed.rss", "/products/"+id(n)+"/maintenance.ics")...)
	}
	for _, n := range f.Components {
		if c, err := a.store.Component(context.Background(), n); err == nil && c.ContractOnly {
			pages = append(pages, demoPage{path: "/badge.svg?component=" + id(n), code: http.StatusNotFound})
			continue
		}
		pages = append(pages, ok("/badge.svg?component="+id(n))...)
	}
	// The links emails carry: a contact's preferences and unsubscribe, a
	// subscriber's confirmation, settings and unsubscribe, a channel's page.
	for _, n := range f.Contacts {
		pages = append(pages, ok("/preferences/"+mail.ContactToken(testSecret, n))...)
	}
	pages = append(pages, ok("/unsubscribe/"+mail.ContactToken(testSecret, f.Contacts[1]),
		"/subscribe/confirm/"+mail.SubscriberToken(testSecret, mail.PurposeConfirm, f.Unconfirmed),
		"/subscribe/manage/"+mail.SubscriberToken(testSecret, mail.PurposeManage, f.Confirmed),
		"/subscribe/unsubscribe/"+mail.SubscriberToken(testSecret, mail.PurposeUnsubscribe, f.Confirmed))...)
	subs, err := a.store.Channels(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range subs {
		pages = append(pages, ok("/subscribe/channel/"+mail.SubscriberToken(testSecret, "channel-manage", ch.ID))...)
	}
	return pages
}

// demoConsolePages fills every GET route under /admin with each of the
// fixture's rows it takes.
func demoConsolePages(t *testing.T, a *testApp, f *demo.Fixture) []demoPage {
	ctx := context.Background()
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	incidentUpdates := map[int64][]int64{}
	for _, n := range f.Incidents {
		inc, err := a.store.Incident(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range inc.Updates {
			incidentUpdates[n] = append(incidentUpdates[n], u.ID)
		}
	}
	maintenanceUpdates := map[int64][]int64{}
	for _, n := range f.Maintenances {
		m, err := a.store.Maintenance(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range m.Updates {
			maintenanceUpdates[n] = append(maintenanceUpdates[n], u.ID)
		}
	}
	// One notification of each kind, and its email in each language.
	notifications, _, _, err := a.store.Notifications(ctx, 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	var notices []int64
	emails := map[int64][]int64{}
	for _, n := range notifications {
		if kinds[n.Kind] {
			continue
		}
		kinds[n.Kind] = true
		notices = append(notices, n.ID)
		ds, _, err := a.store.Deliveries(ctx, n.ID, "", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		langs := map[string]bool{}
		for _, d := range ds {
			if d.ChannelID == nil && !langs[d.Lang] {
				langs[d.Lang] = true
				emails[n.ID] = append(emails[n.ID], d.ID)
			}
		}
	}
	each := func(pattern, param string, ids []int64) []string {
		var out []string
		for _, n := range ids {
			out = append(out, strings.Replace(pattern, param, id(n), 1))
		}
		return out
	}
	var pages []demoPage
	for _, pattern := range routes(a, http.MethodGet) {
		if !strings.HasPrefix(pattern, "/admin") || strings.HasSuffix(pattern, "/*") {
			continue
		}
		var paths []string
		switch {
		case pattern == "/admin/audit":
			// It lists action names, such as incident.postmortem.
			entries, _, err := a.store.Audit(ctx, data.AuditFilter{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.Action)
			}
			pages = append(pages, demoPage{path: pattern, code: http.StatusOK, data: actions})
			continue
		case pattern == "/admin/audience":
			// What the forms ask while an operator types: without a
			// question it is a bad request.
			pages = append(pages, demoPage{path: pattern, code: http.StatusBadRequest})
			for _, impact := range data.Impacts {
				paths = append(paths, pattern+"?impact="+impact+"&component="+id(f.LicenseAPI))
			}
			paths = append(paths, pattern+"?maintenance=1&component="+id(f.LicenseAPI))
			paths = append(paths, each(pattern+"?incident=:id", ":id", f.Incidents)...)
			for _, n := range f.Maintenances {
				for _, st := range data.MaintenanceStatuses {
					paths = append(paths, pattern+"?maintenance_id="+id(n)+"&status="+st)
				}
			}
		case pattern == "/admin/login":
			pages = append(pages, demoPage{path: pattern, code: http.StatusSeeOther, location: "/admin"}) // signed in already
			continue
		case pattern == "/admin/login/2fa":
			// No second factor is pending: back to the sign-in, which
			// sends a signed-in operator on to the console.
			pages = append(pages, demoPage{path: pattern, code: http.StatusSeeOther, location: "/admin/login"})
			continue
		case pattern == "/admin/invite/:token":
			paths = []string{"/admin/invite/" + f.InviteToken}
		case pattern == "/admin/incidents/:id/updates/:uid/edit":
			for _, n := range f.Incidents {
				paths = append(paths, each(strings.Replace(pattern, ":id", id(n), 1), ":uid", incidentUpdates[n])...)
			}
		case strings.HasPrefix(pattern, "/admin/incidents/:id"):
			paths = each(pattern, ":id", f.Incidents)
		case pattern == "/admin/maintenance/:id/updates/:uid/edit":
			for _, n := range f.Maintenances {
				paths = append(paths, each(strings.Replace(pattern, ":id", id(n), 1), ":uid", maintenanceUpdates[n])...)
			}
		case strings.HasPrefix(pattern, "/admin/maintenance/:id"):
			paths = each(pattern, ":id", f.Maintenances)
		case strings.HasPrefix(pattern, "/admin/products/:id"):
			paths = each(pattern, ":id", f.Products)
		case strings.HasPrefix(pattern, "/admin/components/:id"):
			paths = each(pattern, ":id", f.Components)
		case strings.HasPrefix(pattern, "/admin/upstreams/:id"):
			us, err := a.store.Upstreams(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, u := range us {
				ids = append(ids, u.ID)
			}
			paths = each(pattern, ":id", ids)
		case strings.HasPrefix(pattern, "/admin/monitors/:id"):
			paths = each(pattern, ":id", f.Monitors)
		case strings.HasPrefix(pattern, "/admin/templates/:id"):
			paths = each(pattern, ":id", f.Templates)
		case strings.HasPrefix(pattern, "/admin/contracts/:id"):
			paths = each(pattern, ":id", f.Contracts)
		case strings.HasPrefix(pattern, "/admin/contacts/:id"):
			paths = each(pattern, ":id", f.Contacts)
		case pattern == "/admin/notifications/:id/html/:delivery":
			for _, n := range notices {
				paths = append(paths, each(strings.Replace(pattern, ":id", id(n), 1), ":delivery", emails[n])...)
			}
		case strings.HasPrefix(pattern, "/admin/notifications/:id"):
			paths = each(pattern, ":id", notices)
		case strings.HasPrefix(pattern, "/admin/upgrades/:id"):
			paths = each(pattern, ":id", f.Upgrades)
		case strings.HasPrefix(pattern, "/admin/announcements/:id"):
			paths = each(pattern, ":id", f.Announcements)
		case strings.HasPrefix(pattern, "/admin/series/:id"):
			all, err := a.store.AllSeries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ser := range all {
				paths = append(paths, strings.Replace(pattern, ":id", id(ser.ID), 1))
			}
		case strings.HasPrefix(pattern, "/admin/operators/:id"):
			// The editor signed in on two browsers, the former operator
			// on none, the admin on their own.
			paths = each(pattern, ":id", []int64{f.Editor, f.Former, f.Admin})
		case strings.Contains(pattern, ":"):
			t.Errorf("%s: the walk does not know what to fill it with; add it to demoConsolePages", pattern)
		default:
			paths = []string{pattern}
		}
		for _, p := range paths {
			pages = append(pages, demoPage{path: p, code: http.StatusOK})
		}
	}
	if len(pages) < 100 {
		t.Fatalf("only %d console pages", len(pages))
	}
	return pages
}

// keyFinder finds message ids of the catalogue in a page: a message that
// is missing shows as its id, and a key built at run time (such as
// "component."+status) shows as a string that starts like one.
type keyFinder struct {
	ids, prefixes map[string]bool
}

func newKeyFinder(c *locale.Catalog) *keyFinder {
	k := &keyFinder{ids: map[string]bool{}, prefixes: map[string]bool{}}
	for _, lang := range locale.Languages {
		for _, id := range c.IDs(lang) {
			k.ids[id] = true
			if i := strings.LastIndex(id, "."); i > 0 {
				k.prefixes[id[:i]] = true
			}
		}
	}
	return k
}

var keyLike = regexp.MustCompile(`[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+`)

// notKeys end words that look like keys and are not: file names and
// host names.
var notKeys = map[string]bool{"json": true, "css": true, "js": true, "svg": true, "ics": true, "atom": true, "rss": true, "png": true,
	"txt": true, "xml": true, "html": true, "com": true, "jp": true, "net": true, "org": true, "example": true, "io": true, "pdf": true}

func (k *keyFinder) find(body string, data ...string) []string {
	var out []string
	for _, m := range keyLike.FindAllStringIndex(body, -1) {
		tok := body[m[0]:m[1]]
		// Part of an address, a path, a host or an email.
		if m[0] > 0 && strings.ContainsRune("/-@.:_", rune(body[m[0]-1])) ||
			m[1] < len(body) && strings.ContainsRune("/-@", rune(body[m[1]])) {
			continue
		}
		i := strings.LastIndex(tok, ".")
		if slices.Contains(data, tok) {
			continue
		}
		if (k.ids[tok] || (k.prefixes[tok[:i]] && !notKeys[tok[i+1:]])) && !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// TestDemoPreviewEmailsBothLanguages: with every kind of channel
// configured, for operators and for subscribers, and no relay (so the
// publish would also alert the operators that the notice is held), the
// publish preview shows the customer email in Japanese and in English.
func TestDemoPreviewEmailsBothLanguages(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	ctx := context.Background()
	for _, operator := range []bool{true, false} {
		chs, err := a.store.Channels(ctx, operator)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, c := range chs {
			if c.DisabledAt == nil {
				kinds[c.Kind] = true
			}
		}
		for _, k := range data.ChannelKinds {
			if !kinds[k] {
				t.Fatalf("the fixture has no working %s channel (operator=%v)", k, operator)
			}
		}
	}
	catalog, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	cid := strconv.FormatInt(f.LicenseAPI, 10)
	for _, lang := range locale.Languages {
		op := a.client()
		op.login(f.EditorEmail)
		op.speak(lang)
		op.get("/admin/incidents/new")
		r := op.post("/admin/incidents", url.Values{"title_ja": {"ライセンス認証がご利用いただけない状態です"}, "title_en": {"Licence checks are failing"},
			"impact": {"major"}, "status": {"investigating"}, "body_ja": {"現在、原因を調査しております。"}, "body_en": {"We are looking into the cause."},
			"component_" + cid: {"major_outage"}, "notify": {"1"}, "preview": {"1"}})
		expect(t, r, http.StatusOK, catalog.T(lang, "preview.title"),
			`<pre class="mail-text" lang="ja">`, `<pre class="mail-text" lang="en">`,
			"Subject: 【障害・重大】ひだまりカレンダー: ライセンス認証がご利用いただけない状態です",
			"Subject: [Major incident] Hidamari Calendar: Licence checks are failing")
		expectNot(t, r, "channel:", "email.subject.", "notice_held", catalog.T(lang, "preview.missing_ja"), catalog.T(lang, "preview.missing_en"),
			catalog.T(lang, "preview.silent"))
	}
	if n, _ := a.store.CountOperators(ctx); n == 0 {
		t.Fatal("no operators")
	}
}
