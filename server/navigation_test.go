package server

import (
	"net/http"
	"regexp"
	"testing"
)

// TestNavigationSaysWhereYouAre: a skip link to the content first, the
// current section marked for screen readers, and the feeds announced to
// browsers and readers on every public page.
func TestNavigationSaysWhereYouAre(t *testing.T) {
	a := newTestServer(t)
	a.seedAll()
	current := regexp.MustCompile(`<a href="([^"]+)" aria-current="page">`)
	cases := []struct{ path, current string }{
		{"/", "/"},
		{"/history", "/history"},
		{"/news", "/news"},
		{"/subscribe", "/subscribe"},
		{"/incidents/1", ""},
	}
	pub := a.client()
	for _, c := range cases {
		r := pub.get(c.path)
		expect(t, r, http.StatusOK, `<a class="skip-link" href="#main">`, `<main id="main"`,
			`<link rel="alternate" type="application/atom+xml"`, `<link rel="alternate" type="application/rss+xml"`)
		got := current.FindAllStringSubmatch(r.body, -1)
		if c.current == "" && len(got) != 0 || c.current != "" && (len(got) != 1 || got[0][1] != c.current) {
			t.Errorf("%s: current %v, want %q", c.path, got, c.current)
		}
	}
	op := a.client()
	op.login("editor@example.com")
	for path, want := range map[string]string{"/admin": "/admin", "/admin/incidents": "/admin/incidents",
		"/admin/incidents/new": "/admin/incidents", "/admin/usage": "/admin/usage"} {
		r := op.get(path)
		got := current.FindAllStringSubmatch(r.body, -1)
		if len(got) != 1 || got[0][1] != want {
			t.Errorf("%s: current %v, want %s", path, got, want)
		}
		expect(t, r, http.StatusOK, `<a class="skip-link" href="#main">`)
	}
}

// TestSubscribeOffersEveryChannel: besides email, /subscribe gives the
// feeds, the calendar, the JSON API and the badge, each as an address to
// copy (in the visitor's language where the channel has one).
func TestSubscribeOffersEveryChannel(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	for lang, want := range map[string][]string{
		"ja": {"メール以外の受け取り方", `value="http://status.example.com/feed.atom"`, `value="http://status.example.com/feed.rss"`,
			`value="http://status.example.com/maintenance.ics"`, `value="http://status.example.com/api/v2/summary.json"`,
			`value="http://status.example.com/badge.svg"`, `<img src="/badge.svg"`},
		"en": {"Other ways to follow", `value="http://status.example.com/feed.atom?lang=en"`, `value="http://status.example.com/feed.rss?lang=en"`,
			`value="http://status.example.com/maintenance.ics?lang=en"`, `value="http://status.example.com/api/v2/summary.json"`},
	} {
		c := a.client()
		c.lang = lang
		r := c.get("/subscribe")
		expect(t, r, http.StatusOK, want...)
		if n := regexp.MustCompile(`<input[^>]+readonly`).FindAllString(r.body, -1); len(n) != 5 {
			t.Errorf("%s: %d copyable addresses, want 5", lang, len(n))
		}
	}
}
