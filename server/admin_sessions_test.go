package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
)

// sessionRefs are the session refs an operator-sessions or account page
// offers to end, in the order shown.
func sessionRefs(body string) []string {
	var refs []string
	for _, m := range regexp.MustCompile(`name="session" value="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		refs = append(refs, m[1])
	}
	return refs
}

// TestAdminEndsAnotherOperatorsSessions: an admin sees how many browsers
// each operator is signed in on, opens one operator's list (browser,
// address it began from and was last used from, how it began, last use),
// signs one browser out, then — after a confirmation — every other one;
// each is audited with what was ended, and the account stays usable.
func TestAdminEndsAnotherOperatorsSessions(t *testing.T) {
	a := newTestServer(t)
	a.trustProxy("127.0.0.0/8")
	ctx := context.Background()
	editor, err := a.store.OperatorByEmail(ctx, "editor@example.com")
	if err != nil {
		t.Fatal(err)
	}
	laptop := a.browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
	laptop.get("/admin/login")
	expect(t, laptop.loginFrom("198.51.100.7", "editor@example.com", "correct horse battery"), http.StatusSeeOther)
	phone := a.browser("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1")
	phone.get("/admin/login")
	expect(t, phone.loginFrom("203.0.113.9", "editor@example.com", "correct horse battery"), http.StatusSeeOther)
	// The laptop is then used from another address: the list says so.
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/admin", nil)
	req.Header.Set("X-Forwarded-For", "192.0.2.44")
	expect(t, laptop.do(req), http.StatusOK)

	admin := a.client()
	admin.login("admin@example.com")
	id := strconvItoa(editor.ID)
	expect(t, admin.get("/admin/operators"), http.StatusOK, `href="/admin/operators/`+id+`/sessions"`, "2台")
	page := admin.get("/admin/operators/" + id + "/sessions")
	expect(t, page, http.StatusOK, "editor@example.com のログイン中のブラウザー", "Chrome · Windows", "Safari · iOS",
		"198.51.100.7", "最後に使われたIPアドレス: 192.0.2.44", "203.0.113.9", "（パスワードでログイン）", "すべてログアウトさせる")
	refs := sessionRefs(page.body)
	if len(refs) != 2 {
		t.Fatalf("want two sessions to end, got %d", len(refs))
	}
	// The list is the most recently used first: the laptop.
	expect(t, admin.post("/admin/operators/"+id+"/sessions/end", url.Values{"session": {refs[0]}}), http.StatusSeeOther)
	if r := laptop.get("/admin"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/admin/login") {
		t.Fatalf("the ended laptop session still works: %d %s", r.code, r.header.Get("Location"))
	}
	expect(t, phone.get("/admin"), http.StatusOK)
	es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "operator.sessions_end", Limit: 5})
	if len(es) != 1 || es[0].Target != "operator=editor@example.com" || !strings.Contains(es[0].Changes, "Chrome · Windows") || !strings.Contains(es[0].Changes, "192.0.2.44") {
		t.Fatalf("audit of ending one session: %+v", es)
	}
	// A ref already used, or one of another operator, ends nothing.
	expect(t, admin.post("/admin/operators/"+id+"/sessions/end", url.Values{"session": {refs[0]}}), http.StatusNotFound)
	adminPage := admin.get("/admin/operators/1/sessions")
	if own := sessionRefs(adminPage.body); len(own) != 1 {
		t.Fatalf("admin's own sessions: %v", own)
	} else {
		expect(t, admin.post("/admin/operators/"+id+"/sessions/end", url.Values{"session": {own[0]}}), http.StatusNotFound)
	}
	expect(t, admin.get("/admin"), http.StatusOK)

	// Everywhere: asked first, in the operator's words.
	ask := admin.post("/admin/operators/"+id+"/sessions/end", url.Values{})
	expect(t, ask, http.StatusOK, "editor@example.com をすべてのブラウザーでログアウトさせますか。", "ログイン中の1台のブラウザーがログアウトされます。")
	expect(t, phone.get("/admin"), http.StatusOK)
	expect(t, admin.post("/admin/operators/"+id+"/sessions/end", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if r := phone.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("the phone session survived ending all: %d", r.code)
	}
	expect(t, admin.get("/admin/operators/"+id+"/sessions"), http.StatusOK, "ログイン中のブラウザーはありません。")
	expect(t, admin.get("/admin/operators"), http.StatusOK, "なし")
	if es, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "operator.sessions_end", Limit: 5}); len(es) != 2 || !strings.Contains(es[0].Changes, `"all":true`) {
		t.Fatalf("audit of ending all: %+v", es)
	}
	// The account stays enabled: the editor signs in again.
	again := a.client()
	again.login("editor@example.com")

	// In English too.
	admin.speak("en")
	expect(t, admin.get("/admin/operators/"+id+"/sessions"), http.StatusOK, "Browsers editor@example.com is signed in on", "(with password)")
	expect(t, admin.post("/admin/operators/"+id+"/sessions/end", url.Values{}), http.StatusOK, "Sign editor@example.com out of every browser?", "The one browser they are signed in on")
}

// TestOperatorSessionsAreForAdmins: an editor cannot list or end another
// operator's sessions, and hostile ids and refs are plain 404s.
func TestOperatorSessionsAreForAdmins(t *testing.T) {
	a := newTestServer(t)
	editor := a.client()
	editor.login("editor@example.com")
	expect(t, editor.get("/admin/operators/1/sessions"), http.StatusForbidden)
	expect(t, editor.post("/admin/operators/1/sessions/end", url.Values{"confirm": {"1"}}), http.StatusForbidden)
	expect(t, editor.get("/admin"), http.StatusOK)

	admin := a.client()
	admin.login("admin@example.com")
	for _, path := range []string{"/admin/operators/999/sessions", "/admin/operators/x/sessions", "/admin/operators/-1/sessions"} {
		expect(t, admin.get(path), http.StatusNotFound)
	}
	expect(t, admin.post("/admin/operators/2/sessions/end", url.Values{"session": {strings.Repeat("a", 5000)}}), http.StatusNotFound)
	expect(t, admin.post("/admin/operators/999/sessions/end", url.Values{"confirm": {"1"}}), http.StatusNotFound)
	expect(t, editor.get("/admin"), http.StatusOK)
}
