package mail

import "testing"

// FuzzVerifyContactToken: no forged token verifies, and nothing panics.
func FuzzVerifyContactToken(f *testing.F) {
	secret := "0123456789abcdef0123456789abcdef"
	f.Add(ContactToken(secret, 42))
	f.Add("42.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		id, ok := VerifyContactToken(secret, tok)
		if ok && ContactToken(secret, id) != tok {
			t.Fatalf("%q verified as %d", tok, id)
		}
	})
}
