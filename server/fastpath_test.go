package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCachedAnswersMatchTheRoutedOnes asks for every public representation
// twice: the first answer comes through the router and its middleware, the
// second straight from the cache. Both must be the same, byte for byte and
// header for header, and both must be in the access log.
func TestCachedAnswersMatchTheRoutedOnes(t *testing.T) {
	a := newTestServer(t)
	a.seedAll()
	rec := a.withAccessLog(nil)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	do := func(method, path string, h map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(method, a.srv.URL+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	variants := []map[string]string{
		{"Accept-Encoding": "gzip", "Accept-Language": "en"},
		{"Accept-Language": "ja"},
		{"Cookie": "lang=en"},
	}
	hits := a.app.fastHits.Load()
	served := 0
	for _, path := range warmPaths {
		for _, h := range variants {
			first, body1 := do(http.MethodGet, path, h)
			second, body2 := do(http.MethodGet, path, h)
			if first.StatusCode != http.StatusOK || second.StatusCode != first.StatusCode || body1 != body2 {
				t.Fatalf("%s %v: %d then %d, bodies equal %v", path, h, first.StatusCode, second.StatusCode, body1 == body2)
			}
			first.Header.Del("Date")
			second.Header.Del("Date")
			for k := range first.Header {
				if strings.Join(first.Header[k], ",") != strings.Join(second.Header[k], ",") {
					t.Errorf("%s %v: %s is %q routed, %q cached", path, h, k, first.Header[k], second.Header[k])
				}
			}
			if len(first.Header) != len(second.Header) {
				t.Errorf("%s %v: headers\n%v\n%v", path, h, first.Header, second.Header)
			}
			// A browser coming back gets 304 either way.
			h304 := map[string]string{"If-None-Match": second.Header.Get("ETag")}
			for k, v := range h {
				h304[k] = v
			}
			if res, _ := do(http.MethodGet, path, h304); res.StatusCode != http.StatusNotModified {
				t.Errorf("%s %v: %d for a current ETag", path, h, res.StatusCode)
			}
			served += 3
		}
	}
	// A page not rendered yet is rendered through the router and learnt
	// on its next request; most requests still come from the cache.
	if got := a.app.fastHits.Load() - hits; got < int64(served/2) {
		t.Fatalf("%d of %d requests answered from the cache", got, served)
	}
	// HEAD: the headers alone.
	res, body := do(http.MethodHead, "/", nil)
	if res.StatusCode != http.StatusOK || body != "" || res.Header.Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d %q %v", res.StatusCode, body, res.Header)
	}
	// After a change the old page is not served from the cache: the long
	// way waits for the new one. (The warmer may have rendered the new one
	// already, and then the cache may serve it: that one is current.)
	before := a.app.fastHits.Load()
	a.app.changed()
	want := a.app.changeNo.Load()
	if res, _ := do(http.MethodGet, "/", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("after a change: %d", res.StatusCode)
	}
	if a.app.fastHits.Load() != before {
		a.app.cache.mu.RLock()
		p := a.app.cache.entries["text/html; charset=UTF-8|status|ja"]
		a.app.cache.mu.RUnlock()
		if p == nil || p.change < want {
			t.Fatalf("a page out of date was served from the cache")
		}
	}
	before = a.app.fastHits.Load()
	// A query always takes the long way (?lang= sets a cookie).
	if res, _ := do(http.MethodGet, "/?lang=en", nil); res.Header.Get("Set-Cookie") == "" || a.app.fastHits.Load() != before {
		t.Fatal("?lang= did not go through the router")
	}
	rec.Flush()
	var routes = map[string]int{}
	for _, e := range accessEntries(t, rec) {
		routes[e.Route]++
		if e.Route == "/" && e.Status == http.StatusOK && e.Method == http.MethodGet && e.Bytes == 0 {
			t.Errorf("entry without bytes: %+v", e)
		}
	}
	if routes["/"] < 10 || routes["/api/v2/*"] != 0 || routes["/api/v2/summary.json"] < 9 {
		t.Fatalf("access log routes %v", routes)
	}
}
