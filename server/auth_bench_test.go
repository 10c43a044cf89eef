package server

import (
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkSignIn is what one sign-in costs, by the way in, each from a
// new browser to a full session: the password (argon2id, the baseline),
// and single sign-on — the whole round trip through the OpenID provider
// running in the same process (its login form, code, token endpoint,
// signing and our verification), so the figure includes the provider's
// share, which a real one does elsewhere.
func BenchmarkSignIn(b *testing.B) {
	idp := newTestIdP(b)
	a := newSSOTestServer(b, idp, nil)
	idp.user("u-editor", "editor@example.com", true, nil)
	b.Run("password", func(b *testing.B) {
		for b.Loop() {
			c := a.client()
			c.get("/admin/login")
			if r := c.post("/admin/login", url.Values{"email": {"editor@example.com"}, "password": {"correct horse battery"}}); r.code != http.StatusSeeOther {
				b.Fatalf("password sign-in: %d", r.code)
			}
		}
	})
	b.Run("sso", func(b *testing.B) {
		for b.Loop() {
			if r := a.client().ssoSignIn(b, idp, "u-editor"); r.code != http.StatusSeeOther {
				b.Fatalf("single sign-on: %d\n%s", r.code, r.body)
			}
		}
	})
}
