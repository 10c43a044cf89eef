package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatuspage(t *testing.T) {
	for _, tc := range []struct {
		file, match string
		want        State
		err         string
	}{
		{"summary.json", "c1", State{MajorOutage, "kintone に接続できません", "https://stspg.io/i1"}, ""},
		{"summary.json", "  KINTONE ", State{MajorOutage, "kintone に接続できません", "https://stspg.io/i1"}, ""},
		{"summary.json", "Garoon", State{Status: Operational}, ""},
		// A link that is not http(s) is dropped.
		{"summary.json", "Mail", State{UnderMaintenance, "Mail upgrade", ""}, ""},
		{"summary.json", "Weird", State{}, "unknown status"},
		{"summary.json", "nope", State{}, "no component"},
		{"components.json", "c1", State{Status: DegradedPerformance}, ""},
		{"components.json", "garoon", State{Status: PartialOutage}, ""},
		{"history.atom", "c1", State{}, "not Statuspage-format"},
	} {
		got, err := Statuspage(fixture(t, tc.file), tc.match)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: err %v, want %q", tc.file, tc.match, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %q: %+v, %v; want %+v", tc.file, tc.match, got, err, tc.want)
		}
	}
}

func TestParseRules(t *testing.T) {
	r, err := ParseRules("# cloud\nmajor_outage: Outage Tokyo\npartial_outage: tokyo\nresolved: 復旧, Resolved\nrecent: 48h\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Match) != 2 || r.Match[0].Status != MajorOutage || r.Match[0].Words[0] != "outage" || r.Recent != 48*time.Hour ||
		len(r.Resolved) != 2 || r.Resolved[1] != "resolved" {
		t.Errorf("rules %+v", r)
	}
	for _, bad := range []string{"", "# only a comment", "broken line", "exploded: x", "major_outage:", "recent: 5m\nmajor_outage: x",
		"recent: forever\nmajor_outage: x", "major_outage: \xff", strings.Repeat("major_outage: x\n", 400)} {
		if _, err := ParseRules(bad); !errors.Is(err, ErrRules) {
			t.Errorf("ParseRules(%.40q) = %v, want ErrRules", bad, err)
		}
	}
}

func TestFeed(t *testing.T) {
	now := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, file, rules string
		now               time.Time
		want              State
	}{
		{"open incident, first matching rule", "history.atom", "major_outage: outage tokyo\npartial_outage: tokyo", now,
			State{PartialOutage, "Elevated error rates in Tokyo region (ap-northeast-1)", "https://status.example.com/incidents/3"}},
		{"resolved entries and old ones do not count", "history.atom", "major_outage: outage", now, State{Status: Operational}},
		{"a longer window reaches the old unresolved entry", "history.atom", "recent: 720h\nmajor_outage: outage", now,
			State{MajorOutage, "Outage in Tokyo region", "https://status.example.com/incidents/1"}},
		{"other words resolve", "history.atom", "resolved: identified, resolved\ndegraded_performance: tokyo", now, State{Status: Operational}},
		{"later, the open one is no longer recent", "history.atom", "partial_outage: tokyo", now.Add(25 * time.Hour), State{Status: Operational}},
		{"rss in Japanese", "status.rss", "major_outage: 【障害】 kintone\ndegraded_performance: garoon", now,
			State{MajorOutage, "【障害】kintone にアクセスしづらい事象について", "https://status.example.jp/items/10"}},
		{"rss recovered entry", "status.rss", "degraded_performance: garoon", now, State{Status: Operational}},
	} {
		r, err := ParseRules(tc.rules)
		if err != nil {
			t.Fatal(tc.name, err)
		}
		got, err := Feed(fixture(t, tc.file), r, tc.now)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	r, _ := ParseRules("major_outage: x")
	if _, err := Feed(fixture(t, "notafeed.html"), r, now); err == nil {
		t.Error("an HTML page read as a feed")
	}
}

func TestFetch(t *testing.T) {
	body := fixture(t, "summary.json")
	var gotINM, gotIMS string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write(make([]byte, MaxBody+10))
			return
		case "/fail":
			http.Error(w, "no", http.StatusBadGateway)
			return
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
		gotINM, gotIMS = r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Sun, 06 Dec 2026 21:00:00 GMT")
		if gotINM == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	res, err := Fetch(ctx, srv.Client(), srv.URL+"/s", "", "")
	if err != nil || res.NotModified || string(res.Body) != string(body) || res.ETag != `"v1"` || res.LastModified == "" {
		t.Fatalf("first fetch %+v %v", res, err)
	}
	res, err = Fetch(ctx, srv.Client(), srv.URL+"/s", res.ETag, res.LastModified)
	if err != nil || !res.NotModified || len(res.Body) != 0 || gotINM != `"v1"` || gotIMS != "Sun, 06 Dec 2026 21:00:00 GMT" {
		t.Fatalf("conditional fetch %+v %v (sent %q %q)", res, err, gotINM, gotIMS)
	}
	for path, want := range map[string]string{"/big": "larger than", "/fail": "answered 502"} {
		if _, err := Fetch(ctx, srv.Client(), srv.URL+path, "", ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Fetch(short, srv.Client(), srv.URL+"/slow", "", ""); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("slow: %v", err)
	}
}
