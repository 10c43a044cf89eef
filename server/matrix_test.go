package server

import (
	"bufio"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

type matrixRow struct {
	method, route string
	who           map[string]string // anonymous, contact, editor, admin
}

// readMatrix parses docs/access-matrix.md.
func readMatrix(t *testing.T) []matrixRow {
	f, err := os.Open("../docs/access-matrix.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []matrixRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(strings.Trim(sc.Text(), "| "), "|")
		if len(cells) != 6 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] != "GET" && cells[0] != "POST" && cells[0] != "PUT" && cells[0] != "DELETE" {
			continue
		}
		rows = append(rows, matrixRow{method: cells[0], route: cells[1],
			who: map[string]string{"anonymous": cells[2], "contact": cells[3], "editor": cells[4], "admin": cells[5]}})
	}
	if len(rows) < 50 {
		t.Fatalf("matrix has %d rows; the table did not parse", len(rows))
	}
	return rows
}

// classify says what a response means, in the matrix's words.
func classify(r response) string {
	switch {
	case r.code == http.StatusSeeOther && strings.HasPrefix(r.header.Get("Location"), "/admin/login"), r.code == http.StatusUnauthorized:
		return "login"
	case r.code == http.StatusSeeOther && r.header.Get("Location") == "/my":
		return "portal"
	case r.code == http.StatusForbidden:
		return "no"
	case r.code == http.StatusNotFound:
		return "404"
	case r.code >= 500:
		return "error"
	}
	return "yes"
}

// TestAccessMatrix checks every route of the router against the written
// matrix, as an anonymous visitor, an editor and an admin; and that the
// matrix lists every route and nothing else.
func TestAccessMatrix(t *testing.T) {
	a := newTestServer(t)
	rows := readMatrix(t)

	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.method+" "+r.route] = true
	}
	var actual []string
	for _, r := range a.app.Echo().Routes() {
		if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodDelete {
			continue
		}
		key := r.Method + " " + r.Path
		if strings.HasPrefix(r.Path, "/admin") && strings.HasSuffix(r.Path, "/*") {
			continue // Echo's catch-all for a group, not a route of ours
		}
		actual = append(actual, key)
		if !listed[key] {
			t.Errorf("%s is not in docs/access-matrix.md", key)
		}
		delete(listed, key)
	}
	sort.Strings(actual)
	for key := range listed {
		t.Errorf("docs/access-matrix.md lists %s, which the router does not have", key)
	}

	form := url.Values{"status": {"junk"}, "role": {"junk"}, "direction": {"junk"}, "title_ja": {""}}
	for _, who := range []string{"anonymous", "editor", "admin"} {
		// A fresh database for each, as routes that take no input (delete,
		// disable, cancel) act on the fixture.
		a := newTestServer(t)
		f := a.seedAll()
		a.addAlertChannel(&f)
		a.addMember(&f)
		a.addSeries(&f)
		c := a.client()
		c.get("/admin/login") // a CSRF token, so only a missing session stops the anonymous
		if who != "anonymous" {
			c.login(who + "@example.com")
		}
		// Sign-in and sign-out last: they change the session the others use.
		sort.SliceStable(rows, func(i, j int) bool {
			return !strings.HasPrefix(rows[i].route, "/admin/log") && strings.HasPrefix(rows[j].route, "/admin/log")
		})
		for _, row := range rows {
			want := row.who[who]
			path := f.path(row.route)
			var r response
			switch {
			case row.method == http.MethodGet:
				r = c.get(path)
			case row.method == http.MethodPut, row.method == http.MethodDelete:
				req, _ := http.NewRequest(row.method, a.srv.URL+path, strings.NewReader("{}"))
				r = c.do(req)
			case row.route == "/admin/login":
				c.get("/admin/login")
				r = c.post(path, url.Values{"email": {"editor@example.com"}, "password": {"correct horse battery"}})
			case who != "anonymous" && (row.route == "/admin/account/sessions/end" || row.route == "/admin/account/devices/forget"):
				// They act on one of the operator's own sessions or
				// browsers: another session of the same operator, and this
				// browser's device.
				other := a.client()
				other.login(who + "@example.com")
				page := c.get("/admin/account").body
				v := url.Values{}
				if m := regexp.MustCompile(`name="session" value="([^"]+)"><button class="link danger">ログアウトさせる</button>`).FindStringSubmatch(page); m != nil {
					v.Set("session", m[1]) // not this browser's
				}
				if m := regexp.MustCompile(`name="device" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
					v.Set("device", m[1])
				}
				r = c.post(path, v)
			default:
				c.get("/admin/login") // a fresh CSRF token
				r = c.post(path, cloneValues(form))
			}
			got := classify(r)
			if (row.route == "/admin/logout" || row.route == "/my/logout") && r.code == http.StatusSeeOther {
				got = "yes" // signing out sends to the sign-in page
			}
			switch want {
			case "link":
				// With a valid token the route works; tampered, it is a 404.
				if got != "yes" {
					t.Errorf("%s %s %s with a valid token: %s (%d)", who, row.method, path, got, r.code)
				}
				bad := path[:strings.LastIndex(path, "/")+1] + "1.AAAAAAAAAAAAAAAAAAAAAA"
				var br response
				if row.method == http.MethodGet {
					br = c.get(bad)
				} else {
					br = c.post(bad, cloneValues(form))
				}
				if br.code != http.StatusNotFound {
					t.Errorf("%s %s %s with a forged token: %d", who, row.method, bad, br.code)
				}
				continue
			case "2fa":
				want = "login"
			case "token":
				// No bearer token: a JSON 401, whoever is signed in.
				if r.code != http.StatusUnauthorized || !strings.Contains(r.body, `"code":"unauthorized"`) {
					t.Errorf("%s %s %s without a token: %d %s", who, row.method, path, r.code, r.body)
				}
				continue
			}
			if got != want {
				t.Errorf("%s %s %s: got %s (%d), the matrix says %s", who, row.method, path, got, r.code, want)
			}
		}
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// TestNoGetChangesState requests every GET route as an admin and checks
// that nothing in the database moved.
func TestNoGetChangesState(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	c := a.client()
	c.login("admin@example.com")
	before := a.state()
	for _, row := range readMatrix(t) {
		if row.method == http.MethodGet {
			c.get(f.path(row.route))
		}
	}
	if after := a.state(); after != before {
		t.Fatalf("a GET changed state:\n%s\n%s", before, after)
	}
}
