// Package password hashes and checks operator passwords with argon2id.
package password

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"golang.org/x/sync/semaphore"
)

// Length limits, in characters of any script. Argon2id takes any length, so
// unlike bcrypt (72 bytes, 24 Japanese characters) nothing is cut off.
const (
	MinLength = 8
	MaxLength = 256
)

// Errors returned by Check; the server shows them as field messages.
var (
	ErrTooShort = errors.New("password: too short")
	ErrTooLong  = errors.New("password: too long")
	ErrBadText  = errors.New("password: not valid UTF-8")
	ErrCommon   = errors.New("password: too common")
	// ErrPersonal: built from the operator's own address or the site's
	// name, the first things an attacker tries.
	ErrPersonal = errors.New("password: built from the address or the site name")
)

// common.txt is Openwall's list of the passwords most often seen (public
// domain); breached.txt.gz the 150,000 most common passwords of eight or
// more characters from OWASP SecLists' ten-million list (CC BY-SA 3.0, see
// NOTICE.md). Both ship with the binary, so the check needs no network.
//
//go:embed common.txt
var commonList string

//go:embed breached.txt.gz
var breachedList []byte

var (
	commonOnce sync.Once
	common     map[string]bool
)

// commonSet loads the lists the first time a password is checked (about
// 10 MB in memory), not at every start of every command.
func commonSet() map[string]bool {
	commonOnce.Do(func() {
		common = map[string]bool{}
		add := func(text string) {
			for _, line := range strings.Split(text, "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					common[strings.ToLower(line)] = true
				}
			}
		}
		add(commonList)
		if zr, err := gzip.NewReader(bytes.NewReader(breachedList)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				add(string(b))
			}
		}
	})
	return common
}

// leet undoes the usual character swaps (P@ssw0rd → password).
var leet = strings.NewReplacer("@", "a", "4", "a", "0", "o", "1", "i", "!", "i", "3", "e", "$", "s", "5", "s", "7", "t")

// variants are the forms a common password takes when dressed up: as
// typed, with what trails the letters (digits, symbols, a year) cut off,
// and with the usual swaps undone.
func variants(pw string) []string {
	lower := strings.ToLower(pw)
	base := strings.TrimRightFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	return []string{lower, base, leet.Replace(lower), leet.Replace(base)}
}

func isCommon(pw string) bool {
	set := commonSet()
	for _, v := range variants(pw) {
		if set[v] {
			return true
		}
	}
	// A single character repeated, or a few: never a password.
	distinct := map[rune]bool{}
	for _, r := range pw {
		distinct[r] = true
	}
	return len(distinct) < 4
}

// isPersonal reports whether pw contains one of the personal words: the
// local part of an address or the words of a name, of four letters or more.
func isPersonal(pw string, personal []string) bool {
	lower := strings.ToLower(pw)
	squashed := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, lower)
	for _, p := range personal {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		words := []string{p}
		if local, _, ok := strings.Cut(p, "@"); ok {
			words = append(words, local)
		}
		words = append(words, strings.FieldsFunc(p, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...)
		for _, w := range words {
			if utf8.RuneCountInString(w) >= 4 && (strings.Contains(lower, w) || strings.Contains(squashed, w)) {
				return true
			}
		}
	}
	return false
}

// params follow RFC 9106's second recommended option for memory-constrained
// servers (64 MiB, 3 passes), with parallelism matching our two cores.
var params = &argon2id.Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Check reports whether pw may be used as a password; personal are words
// it must not be built from (the operator's address, the site's name).
func Check(pw string, personal ...string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return ErrBadText
	case n < MinLength:
		return ErrTooShort
	case n > MaxLength:
		return ErrTooLong
	case isPersonal(pw, personal):
		return ErrPersonal
	case isCommon(pw):
		return ErrCommon
	}
	return nil
}

// ErrBusy is returned when too many passwords are being hashed already:
// each takes 64 MiB, so their number is bounded, and the excess is told to
// come back rather than queued without limit.
var ErrBusy = errors.New("password: too many sign-ins at once; try again shortly")

// Slots is how many hashes may run at once: 64 MiB each, so two cores'
// worth (at most four) keeps a burst of sign-ins to a few hundred MiB. One
// more is kept for priority work only (a sign-in from a browser the account
// signed in from before), so a flood of sign-ins from elsewhere, which may
// take all the others, cannot keep the owner out.
var Slots = int64(min(max(runtime.NumCPU(), 1), 4))

var (
	slots    = semaphore.NewWeighted(Slots) // for anyone
	reserved = semaphore.NewWeighted(1)     // for priority work only
	waiting  atomic.Int64
	running  atomic.Int64
	maxSeen  atomic.Int64
	waitTime = 2 * time.Second
)

// Slot is a hashing slot, held from Acquire until Release. Taking it
// before anything is counted lets a caller refuse for load (ErrBusy)
// without that refusal counting against anyone.
type Slot struct {
	sem  *semaphore.Weighted
	done atomic.Bool
}

// Acquire takes a hashing slot, waiting at most waitTime, and refuses at
// once (ErrBusy) when as many are waiting as there are slots four times
// over. Priority work takes the slot kept for it when the others are all
// taken.
func Acquire(ctx context.Context, priority bool) (*Slot, error) {
	sem, err := acquire(ctx, priority)
	if err != nil {
		return nil, err
	}
	if sem == reserved {
		return &Slot{sem: sem}, nil
	}
	n := running.Add(1)
	for {
		m := maxSeen.Load()
		if n <= m || maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	return &Slot{sem: sem}, nil
}

func acquire(ctx context.Context, priority bool) (*semaphore.Weighted, error) {
	if slots.TryAcquire(1) {
		return slots, nil
	}
	if priority && reserved.TryAcquire(1) {
		return reserved, nil
	}
	if waiting.Add(1) > 4*Slots {
		waiting.Add(-1)
		return nil, ErrBusy
	}
	defer waiting.Add(-1)
	ctx, cancel := context.WithTimeout(ctx, waitTime)
	defer cancel()
	if err := slots.Acquire(ctx, 1); err != nil {
		return nil, ErrBusy
	}
	return slots, nil
}

// Release gives the slot back; a second call does nothing.
func (s *Slot) Release() {
	if s == nil || !s.done.CompareAndSwap(false, true) {
		return
	}
	if s.sem == slots {
		running.Add(-1)
	}
	s.sem.Release(1)
}

// Verify reports whether pw matches hash, hashing in the slot held.
func (s *Slot) Verify(pw, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}

// VerifyDummy spends the time of one Verify and returns false.
func (s *Slot) VerifyDummy(pw string) bool {
	s.Verify(pw, dummyHash)
	return false
}

// MaxConcurrent reports the most slots for anyone held at once, for tests
// (the one kept for priority work comes on top, at most one more).
func MaxConcurrent() int64 { return maxSeen.Load() }

// Hash returns the PHC-format argon2id hash of pw.
func Hash(pw string) (string, error) {
	slot, err := Acquire(context.Background(), false)
	if err != nil {
		return "", err
	}
	defer slot.Release()
	return argon2id.CreateHash(pw, params)
}

// Verify reports whether pw matches hash. A malformed hash never matches,
// nor does anything when too many hashes are running (see VerifyCtx).
func Verify(pw, hash string) bool {
	ok, _ := VerifyCtx(context.Background(), pw, hash)
	return ok
}

// VerifyCtx is Verify that says ErrBusy when no hashing slot came free in
// time, so a sign-in can be told to retry.
func VerifyCtx(ctx context.Context, pw, hash string) (bool, error) {
	slot, err := Acquire(ctx, false)
	if err != nil {
		return false, err
	}
	defer slot.Release()
	return slot.Verify(pw, hash), nil
}

// dummyHash is compared against when an account does not exist, so a login
// takes as long for an unknown address as for a wrong password.
var dummyHash, _ = Hash("oshirase-timing-equaliser")

// VerifyDummy spends the time of one Verify and returns false (or
// ErrBusy, as VerifyCtx).
func VerifyDummy(ctx context.Context, pw string) (bool, error) {
	slot, err := Acquire(ctx, false)
	if err != nil {
		return false, err
	}
	defer slot.Release()
	return slot.VerifyDummy(pw), nil
}

// Generate returns a random password of 20 characters from an alphabet
// without look-alikes, for the first operator and for resets.
func Generate() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	rand.Read(b)
	for i := range b {
		// 256 % 56 != 0 leaves a tiny bias; rand.Text would avoid it but
		// mixes in no upper case. The bias costs well under a bit of entropy.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
