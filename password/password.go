// Package password hashes and checks operator passwords with argon2id.
package password

import (
	"crypto/rand"
	_ "embed"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
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
)

// common.txt is Openwall's list of the passwords most often seen (public
// domain), shipped with the binary so the check needs no network.
//
//go:embed common.txt
var commonList string

var common = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonList, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// params follow RFC 9106's second recommended option for memory-constrained
// servers (64 MiB, 3 passes), with parallelism matching our two cores.
var params = &argon2id.Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Check reports whether pw may be used as a password.
func Check(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return ErrBadText
	case n < MinLength:
		return ErrTooShort
	case n > MaxLength:
		return ErrTooLong
	case common[strings.ToLower(pw)]:
		return ErrCommon
	}
	return nil
}

// Hash returns the PHC-format argon2id hash of pw.
func Hash(pw string) (string, error) {
	return argon2id.CreateHash(pw, params)
}

// Verify reports whether pw matches hash. A malformed hash never matches.
func Verify(pw, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}

// dummyHash is compared against when an account does not exist, so a login
// takes as long for an unknown address as for a wrong password.
var dummyHash, _ = Hash("oshirase-timing-equaliser")

// VerifyDummy spends the time of one Verify and returns false.
func VerifyDummy(pw string) bool {
	Verify(pw, dummyHash)
	return false
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
