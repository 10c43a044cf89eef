package data

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// A sign-in in flight keeps its state here until it comes back: an OpenID
// Connect state (with its nonce and PKCE verifier) or a WebAuthn challenge.
// Each is taken once — a replayed answer finds nothing — and only by the
// browser it was handed to.
const (
	ChallengeSSO             = "sso"
	ChallengePasskeyLogin    = "passkey_login"
	ChallengePasskeySecond   = "passkey_second"
	ChallengePasskeyRegister = "passkey_register"
)

// AuthChallenge is one sign-in in flight. ID and Browser are hashes (of the
// token in the URL or form, and of the browser's binding cookie): the
// table holds nothing a visitor could present.
type AuthChallenge struct {
	ID         string
	Kind       string
	Browser    string
	OperatorID *int64
	// Payload is the caller's state, as JSON.
	Payload   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TableName names the challenges table.
func (AuthChallenge) TableName() string { return "auth_challenges" }

// MaxLiveChallenges bounds the sign-ins in flight. Starting one costs a
// visitor nothing, so a flood could otherwise fill the table for as long
// as challenges live; past this many, new ones wait (ErrSignInBusy) while
// those begun already finish.
const MaxLiveChallenges = 20000

// maxLiveChallenges is MaxLiveChallenges, lowered by tests.
var maxLiveChallenges int64 = MaxLiveChallenges

// ErrSignInBusy: too many sign-ins are in flight; try again shortly.
var ErrSignInBusy = errors.New("data: too many sign-ins in flight")

// PutChallenge keeps a challenge for ttl, sweeping expired ones.
func (s *Store) PutChallenge(ctx context.Context, c AuthChallenge, ttl time.Duration) error {
	now := s.now()
	c.CreatedAt, c.ExpiresAt = now, now.Add(ttl)
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now).Delete(&AuthChallenge{}).Error; err != nil {
			return err
		}
		var live int64
		if err := tx.Model(&AuthChallenge{}).Count(&live).Error; err != nil {
			return err
		}
		if live >= maxLiveChallenges {
			return ErrSignInBusy
		}
		return tx.Create(&c).Error
	})
}

// TakeChallenge removes and returns the challenge with that id and kind.
// It is ErrNotFound when there is none, it has expired, or another request
// took it first: whatever happens, a challenge is good for one answer.
func (s *Store) TakeChallenge(ctx context.Context, id, kind string) (*AuthChallenge, error) {
	var c AuthChallenge
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND kind = ?", id, kind).First(&c).Error; err != nil {
			return notFound(err)
		}
		res := tx.Where("id = ? AND kind = ?", id, kind).Delete(&AuthChallenge{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.now().After(c.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &c, nil
}
