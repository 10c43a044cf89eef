package password

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		pw   string
		want error
	}{
		{"1234567", ErrTooShort},
		{"k7vq-2zmx", nil},
		{strings.Repeat("あいうえおかきくけこ", 6), nil},
		{strings.Repeat("あ", 64), ErrCommon},
		{strings.Repeat("パ", 7), ErrTooShort},
		{strings.Repeat("x", MaxLength+1), ErrTooLong},
		{"abcdefg\xff", ErrBadText},
		{"password1", ErrCommon},
		{"PASSWORD1", ErrCommon},
		{"qwertyuiop", ErrCommon},
		{"correct horse battery", nil},
		// Found accepted by an outside test: today's most common ones.
		{"Password123!", ErrCommon},
		{"P@ssw0rd", ErrCommon},
		{"password123", ErrCommon},
		{"qwerty123", ErrCommon},
		{"admin123", ErrCommon},
		{"welcome1", ErrCommon},
		{"aaaaaaaa", ErrCommon},
		{"Welcome2026!", ErrCommon},
		{"iloveyou!!", ErrCommon},
	}
	for _, c := range cases {
		if got := Check(c.pw); got != c.want {
			t.Errorf("Check(%q) = %v, want %v", c.pw, got, c.want)
		}
	}
}

func TestHashAndVerify(t *testing.T) {
	// 64 Japanese characters are 192 bytes: bcrypt would ignore the last 40.
	long := strings.Repeat("あ", 63)
	h, err := Hash(long + "い")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash format %q", h)
	}
	if !Verify(long+"い", h) {
		t.Fatal("right password refused")
	}
	if Verify(long+"う", h) {
		t.Fatal("password differing in the last character accepted")
	}
	if Verify("x", "not a hash") {
		t.Fatal("malformed hash matched")
	}
	if a, b := Generate(), Generate(); a == b || len(a) != 20 || Check(a) != nil {
		t.Fatalf("Generate gave %q and %q", a, b)
	}
}

// TestPersonalPasswords: a password built from the operator's own address
// or the site's name is refused, with its own reason.
func TestPersonalPasswords(t *testing.T) {
	for _, c := range []struct {
		pw   string
		want error
	}{
		{"tanaka.ichiro2026", ErrPersonal},
		{"Oshirase-Status!", ErrPersonal},
		{"tanaka.ichiro@example.com", ErrPersonal},
		{"river quiet lantern 9", nil},
	} {
		if got := Check(c.pw, "tanaka.ichiro@example.com", "Oshirase Status"); got != c.want {
			t.Errorf("Check(%q) = %v, want %v", c.pw, got, c.want)
		}
	}
}
