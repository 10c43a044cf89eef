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

// TestPasskeys: an operator's passkeys are listed and counted for them
// alone, found by credential id, renamed, used (only against the record
// the sign-in checked) and deleted by their owner only; a credential
// cannot be registered twice.
func TestPasskeys(t *testing.T) {
	ctx := context.Background()
	clock := datatest.NewClock(time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC))
	store := datatest.Open(t, clock)
	a, err := store.CreateOperator(ctx, data.NewOperator{Email: "a@example.com", Role: data.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.CreateOperator(ctx, data.NewOperator{Email: "b@example.com", Role: data.RoleEditor, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := store.AddPasskey(ctx, a.ID, data.NewPasskey{Name: "  MacBook  ", CredentialID: "cred-1", Credential: `{"n":1}`})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Name != "MacBook" || p1.LastUsedAt != nil || !p1.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("added %+v", p1)
	}
	clock.Advance(time.Minute)
	if _, err := store.AddPasskey(ctx, a.ID, data.NewPasskey{Name: "iPhone", CredentialID: "cred-2", Credential: `{"n":2}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddPasskey(ctx, b.ID, data.NewPasskey{Name: "YubiKey", CredentialID: "cred-b", Credential: `{}`}); err != nil {
		t.Fatal(err)
	}

	// Bad input and a credential registered before are refused.
	for _, c := range []struct {
		in          data.NewPasskey
		field, want string
	}{
		{data.NewPasskey{Name: " ", CredentialID: "x", Credential: "{}"}, "name", "required"},
		{data.NewPasskey{Name: strings.Repeat("鍵", data.MaxPasskeyName+1), CredentialID: "x", Credential: "{}"}, "name", "too_long"},
		{data.NewPasskey{Name: "a\x00b", CredentialID: "x", Credential: "{}"}, "name", "bad_text"},
		{data.NewPasskey{Name: "ok"}, "credential", "required"},
		{data.NewPasskey{Name: "again", CredentialID: "cred-1", Credential: "{}"}, "credential", "passkeys.already_registered"},
		{data.NewPasskey{Name: "theirs", CredentialID: "cred-b", Credential: "{}"}, "credential", "passkeys.already_registered"},
	} {
		_, err := store.AddPasskey(ctx, a.ID, c.in)
		var v *data.ValidationError
		if !errors.As(err, &v) || v.Fields[c.field] != c.want {
			t.Errorf("AddPasskey(%q, %q) = %v; want %s: %s", c.in.Name, c.in.CredentialID, err, c.field, c.want)
		}
	}

	list, err := store.OperatorPasskeys(ctx, a.ID)
	if err != nil || len(list) != 2 || list[0].CredentialID != "cred-1" || list[1].Name != "iPhone" {
		t.Fatalf("list %+v, %v", list, err)
	}
	if n, err := store.CountPasskeys(ctx, a.ID); err != nil || n != 2 {
		t.Fatalf("count %d, %v", n, err)
	}
	if n, _ := store.CountPasskeys(ctx, 9999); n != 0 {
		t.Fatalf("count of nobody %d", n)
	}
	found, err := store.PasskeyByCredentialID(ctx, "cred-b")
	if err != nil || found.OperatorID != b.ID {
		t.Fatalf("by credential id %+v, %v", found, err)
	}
	if _, err := store.PasskeyByCredentialID(ctx, "nope"); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("unknown credential: %v", err)
	}

	// A sign-in writes the new record only over the one it checked.
	clock.Advance(time.Hour)
	if err := store.UsePasskey(ctx, a.ID, p1.ID, `{"n":1}`, `{"n":1,"c":5}`); err != nil {
		t.Fatal(err)
	}
	if err := store.UsePasskey(ctx, a.ID, p1.ID, `{"n":1}`, `{"n":1,"c":6}`); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("a sign-in that raced: %v", err)
	}
	if err := store.UsePasskey(ctx, b.ID, p1.ID, `{"n":1,"c":5}`, `{}`); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("another operator's passkey used: %v", err)
	}
	got, _ := store.PasskeyByCredentialID(ctx, "cred-1")
	if got.Credential != `{"n":1,"c":5}` || got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("after use %+v", got)
	}

	// Renaming and deleting: only one's own.
	if err := store.RenamePasskey(ctx, b.ID, p1.ID, "mine now"); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("renaming another's passkey: %v", err)
	}
	var v *data.ValidationError
	if err := store.RenamePasskey(ctx, a.ID, p1.ID, ""); !errors.As(err, &v) || v.Fields["name"] != "required" {
		t.Fatalf("renaming to nothing: %v", err)
	}
	if err := store.RenamePasskey(ctx, a.ID, p1.ID, "仕事用 MacBook"); err != nil {
		t.Fatal(err)
	}
	if err := store.DeletePasskey(ctx, b.ID, p1.ID); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("deleting another's passkey: %v", err)
	}
	if err := store.DeletePasskey(ctx, a.ID, p1.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.DeletePasskey(ctx, a.ID, p1.ID); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	list, _ = store.OperatorPasskeys(ctx, a.ID)
	if len(list) != 1 || list[0].Name != "iPhone" {
		t.Fatalf("after delete %+v", list)
	}
	// The credential id is free again once deleted.
	if _, err := store.AddPasskey(ctx, a.ID, data.NewPasskey{Name: "back", CredentialID: "cred-1", Credential: "{}"}); err != nil {
		t.Fatal(err)
	}
}

// TestPasskeysLimit: past MaxPasskeys an operator's next one is refused.
func TestPasskeysLimit(t *testing.T) {
	ctx := context.Background()
	store := datatest.Open(t, datatest.NewClock(time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)))
	a, err := store.CreateOperator(ctx, data.NewOperator{Email: "a@example.com", Role: data.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range data.MaxPasskeys {
		if _, err := store.AddPasskey(ctx, a.ID, data.NewPasskey{Name: "k", CredentialID: fmt.Sprint("c", i), Credential: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = store.AddPasskey(ctx, a.ID, data.NewPasskey{Name: "one more", CredentialID: "extra", Credential: "{}"})
	var v *data.ValidationError
	if !errors.As(err, &v) || v.Fields["name"] != "passkeys.too_many" {
		t.Fatalf("past the limit: %v", err)
	}
}

// TestPasskeyNamesReadAsTheyAre: a name that shows nothing (zero-width
// spaces) is refused as empty, and one with bidirectional controls, which
// would read other than it is, as bad text.
func TestPasskeyNamesReadAsTheyAre(t *testing.T) {
	ctx := context.Background()
	store := datatest.Open(t, datatest.NewClock(time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)))
	op, err := store.CreateOperator(ctx, data.NewOperator{Email: "a@example.com", Role: data.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ name, want string }{
		{"\u200b\u200b", "required"},
		{"\u2060 \ufeff", "required"},
		{"\u202egnp.exe", "bad_text"},
		{"key \u2066x\u2069", "bad_text"},
		{"YubiKey 5C\u200d", ""}, // a joiner beside text is text
	} {
		_, err := store.AddPasskey(ctx, op.ID, data.NewPasskey{Name: tc.name, CredentialID: fmt.Sprintf("cred-%d", i), Credential: "{}"})
		var v *data.ValidationError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &v) || v.Fields["name"] != tc.want):
			t.Errorf("%q: %v, want %s", tc.name, err, tc.want)
		}
	}
}
