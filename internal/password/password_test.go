package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"
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

// TestSlots: with every slot for anyone taken and the queue full, a
// sign-in is refused at once, while priority work still gets the slot
// kept for it; released slots serve again, and releasing twice is harmless.
func TestSlots(t *testing.T) {
	ctx := context.Background()
	var held []*Slot
	for i := int64(0); i < Slots; i++ {
		s, err := Acquire(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	waiting.Add(4 * Slots) // as if the queue were full
	if _, err := Acquire(ctx, false); !errors.Is(err, ErrBusy) {
		t.Fatalf("Acquire with every slot taken: %v", err)
	}
	if _, err := VerifyCtx(ctx, "x", dummyHash); !errors.Is(err, ErrBusy) {
		t.Fatalf("VerifyCtx with every slot taken: %v", err)
	}
	p, err := Acquire(ctx, true)
	if err != nil {
		t.Fatalf("priority work refused: %v", err)
	}
	if _, err := Acquire(ctx, true); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second priority slot: %v", err)
	}
	h, _ := Hash("correct horse battery")
	if h != "" {
		t.Fatal("Hash ran with every slot taken")
	}
	if !p.Verify("k7vq-2zmx-long", mustHash(t, "k7vq-2zmx-long")) || p.VerifyDummy("x") {
		t.Fatal("Verify in a held slot")
	}
	waiting.Add(-4 * Slots)
	p.Release()
	p.Release()
	for _, s := range held {
		s.Release()
	}
	for i := int64(0); i < Slots+2; i++ {
		s, err := Acquire(ctx, i%2 == 0)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		s.Release()
	}
	if m := MaxConcurrent(); m > Slots {
		t.Fatalf("%d slots held at once, more than %d", m, Slots)
	}
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := argon2id.CreateHash(pw, params)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
