package data_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// TestOperatorDevices: a device token is known only for its operator,
// is replaced when the browser signs in again, at most MaxDevices are
// kept, and an operator can forget only their own.
func TestOperatorDevices(t *testing.T) {
	ctx := context.Background()
	clock := datatest.NewClock(time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC))
	store := datatest.Open(t, clock)
	a, err := store.CreateOperator(ctx, data.NewOperator{Email: "a@example.com", Role: data.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.CreateOperator(ctx, data.NewOperator{Email: "b@example.com", Role: data.RoleEditor, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ua := strings.Repeat("あ", data.MaxUserAgent) // longer than kept, in bytes
	if err := store.RememberDevice(ctx, a.ID, "h1", "", data.ClientInfo{UserAgent: ua, IP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op   int64
		hash string
		want bool
	}{{a.ID, "h1", true}, {b.ID, "h1", false}, {a.ID, "h2", false}, {a.ID, "", false}} {
		if got, err := store.UseDevice(ctx, c.op, c.hash); err != nil || got != c.want {
			t.Errorf("UseDevice(%d, %q) = %v, %v; want %v", c.op, c.hash, got, err, c.want)
		}
	}
	ds, _ := store.OperatorDevices(ctx, a.ID)
	if len(ds) != 1 || len(ds[0].UserAgent) > data.MaxUserAgent || !strings.HasPrefix(ua, ds[0].UserAgent) || ds[0].IP != "192.0.2.1" {
		t.Fatalf("devices %+v", ds)
	}
	// Signing in again from that browser replaces its token; another
	// operator's old token is left alone.
	store.RememberDevice(ctx, b.ID, "hb", "", data.ClientInfo{})
	clock.Advance(time.Minute)
	if err := store.RememberDevice(ctx, a.ID, "h1b", "h1", data.ClientInfo{}); err != nil {
		t.Fatal(err)
	}
	store.RememberDevice(ctx, a.ID, "h1c", "hb", data.ClientInfo{})
	if ok, _ := store.UseDevice(ctx, a.ID, "h1"); ok {
		t.Fatal("the replaced token still works")
	}
	if ok, _ := store.UseDevice(ctx, b.ID, "hb"); !ok {
		t.Fatal("another operator's token was deleted")
	}
	// The most recently used are kept.
	for i := 0; i < data.MaxDevices+5; i++ {
		clock.Advance(time.Minute)
		if err := store.RememberDevice(ctx, a.ID, fmt.Sprintf("n%d", i), "", data.ClientInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ = store.OperatorDevices(ctx, a.ID)
	if len(ds) != data.MaxDevices || ds[0].TokenHash != fmt.Sprintf("n%d", data.MaxDevices+4) {
		t.Fatalf("%d devices kept, newest %q", len(ds), ds[0].TokenHash)
	}
	if ok, _ := store.UseDevice(ctx, a.ID, "h1b"); ok {
		t.Fatal("the oldest device was not forgotten")
	}
	// Forgetting: only one's own.
	if err := store.DeleteOperatorDevice(ctx, b.ID, ds[0].ID); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("forgetting another's device: %v", err)
	}
	if err := store.DeleteOperatorDevice(ctx, a.ID, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := store.DeleteOperatorDevices(ctx, a.ID, ds[1].TokenHash); err != nil || n != int64(data.MaxDevices-2) {
		t.Fatalf("forgot %d, %v", n, err)
	}
	if ds, _ := store.OperatorDevices(ctx, a.ID); len(ds) != 1 {
		t.Fatalf("%d devices left", len(ds))
	}
	if ok, _ := store.UseDevice(ctx, b.ID, "hb"); !ok {
		t.Fatal("forgetting all of a's devices touched b's")
	}
}

// TestOperatorSessions: sessions carry their browser, are listed per
// operator without the expired or idle ones, and only the operator's own
// can be ended.
func TestOperatorSessions(t *testing.T) {
	ctx := context.Background()
	clock := datatest.NewClock(time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC))
	store := datatest.Open(t, clock)
	a, _ := store.CreateOperator(ctx, data.NewOperator{Email: "a@example.com", Role: data.RoleAdmin, PasswordHash: "x"})
	b, _ := store.CreateOperator(ctx, data.NewOperator{Email: "b@example.com", Role: data.RoleEditor, PasswordHash: "x"})
	for _, s := range []struct {
		id string
		op int64
	}{{"s-old", a.ID}, {"s1", a.ID}, {"s2", a.ID}, {"sb", b.ID}} {
		if err := store.CreateSession(ctx, s.id, s.op, 24*time.Hour, false); err != nil {
			t.Fatal(err)
		}
		if err := store.SetSessionClient(ctx, s.id, data.ClientInfo{UserAgent: "UA " + s.id, IP: "192.0.2.9"}, "password"); err != nil {
			t.Fatal(err)
		}
		if s.id == "s-old" {
			clock.Advance(3 * time.Hour)
		}
	}
	ss, err := store.OperatorSessions(ctx, a.ID, 2*time.Hour)
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions %+v %v", ss, err)
	}
	for _, s := range ss {
		if s.UserAgent != "UA "+s.ID || s.IP != "192.0.2.9" {
			t.Fatalf("session %+v", s)
		}
	}
	// The second factor keeps the browser.
	store.CreateSession(ctx, "pending", a.ID, time.Hour, true)
	store.SetSessionClient(ctx, "pending", data.ClientInfo{UserAgent: "UA p", IP: "192.0.2.10"}, "password")
	if err := store.PromoteSession(ctx, "pending", "full", "password+totp"); err != nil {
		t.Fatal(err)
	}
	if sess, _, err := store.SessionOperator(ctx, "full", time.Hour); err != nil || sess.UserAgent != "UA p" || sess.IP != "192.0.2.10" {
		t.Fatalf("promoted session %+v %v", sess, err)
	}
	if err := store.DeleteOperatorSession(ctx, b.ID, "s1"); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("ending another's session: %v", err)
	}
	if err := store.DeleteOperatorSession(ctx, a.ID, "s1"); err != nil {
		t.Fatal(err)
	}
	if n, err := store.DeleteOperatorSessions(ctx, a.ID, "s2"); err != nil || n != 2 { // s-old and full
		t.Fatalf("ended %d, %v", n, err)
	}
	if _, _, err := store.SessionOperator(ctx, "sb", time.Hour); err != nil {
		t.Fatalf("b's session: %v", err)
	}
	if _, _, err := store.SessionOperator(ctx, "s2", time.Hour); err != nil {
		t.Fatalf("the kept session: %v", err)
	}
}

// TestReleaseAttempt: an attempt given back does not count, and lifts the
// block it caused; one never given back still does.
func TestReleaseAttempt(t *testing.T) {
	ctx := context.Background()
	store := datatest.Open(t, datatest.NewClock(time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)))
	delay := func(n int) time.Duration {
		if n >= 3 {
			return time.Hour
		}
		return 0
	}
	keys := map[string]func(int) time.Duration{"k:a": delay, "k:b": delay}
	for i := 0; i < 10; i++ {
		if until, err := store.ReserveAttempt(ctx, keys); err != nil || !until.IsZero() {
			t.Fatalf("attempt %d blocked until %v (%v) though each was given back", i, until, err)
		}
		if err := store.ReleaseAttempt(ctx, keys); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		store.ReserveAttempt(ctx, keys)
	}
	if until, _ := store.ReserveAttempt(ctx, keys); until.IsZero() {
		t.Fatal("three kept attempts did not block")
	}
	// Giving back a key nobody holds is nothing.
	if err := store.ReleaseAttempt(ctx, map[string]func(int) time.Duration{"k:none": delay}); err != nil {
		t.Fatal(err)
	}
}
