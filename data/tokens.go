package data

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// API token scopes: read lists; write also changes.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// APIToken lets a monitoring system use the operator API. Only the hash of
// the token is stored.
type APIToken struct {
	ID         int64
	Name       string
	TokenHash  string
	Scope      string
	CreatedBy  *int64
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// ExpiresAt is when the token stops working; nil means never.
	ExpiresAt *time.Time
}

// TokenLifetimes are the expiries an admin can choose, "" meaning never.
var TokenLifetimes = []string{"30d", "90d", "365d", "never"}

// DefaultTokenLifetime is what a new token gets unless chosen otherwise.
const DefaultTokenLifetime = "365d"

// tokenExpiry turns a chosen lifetime into an expiry from now.
func tokenExpiry(now time.Time, lifetime string) (*time.Time, bool) {
	days := map[string]int{"30d": 30, "90d": 90, "365d": 365}
	if lifetime == "never" {
		return nil, true
	}
	if lifetime == "" {
		lifetime = DefaultTokenLifetime
	}
	d, ok := days[lifetime]
	if !ok {
		return nil, false
	}
	t := now.AddDate(0, 0, d)
	return &t, true
}

// CreateAPIToken stores a new token by its hash, living for lifetime
// (one of TokenLifetimes; "" is the default year).
func (s *Store) CreateAPIToken(ctx context.Context, name, hash, scope, lifetime string, createdBy int64) (*APIToken, error) {
	name = strings.TrimSpace(name)
	f := fieldErrors{}
	f.line("name", name, true, MaxName)
	if scope != ScopeRead && scope != ScopeWrite {
		f.add("scope", "invalid_choice")
	}
	expires, ok := tokenExpiry(s.now(), lifetime)
	if !ok {
		f.add("expires", "invalid_choice")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	t := APIToken{Name: name, TokenHash: hash, Scope: scope, ExpiresAt: expires}
	if createdBy != 0 {
		t.CreatedBy = &createdBy
	}
	if err := s.db.WithContext(ctx).Create(&t).Error; err != nil {
		return nil, fmt.Errorf("data: create token: %w", err)
	}
	return &t, nil
}

// APITokens lists tokens, newest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	var ts []APIToken
	err := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Find(&ts).Error
	return ts, err
}

// APIToken returns one token.
func (s *Store) APIToken(ctx context.Context, id int64) (*APIToken, error) {
	var t APIToken
	if err := s.db.WithContext(ctx).First(&t, id).Error; err != nil {
		return nil, fmt.Errorf("data: token %d: %w", id, notFound(err))
	}
	return &t, nil
}

// RevokeAPIToken ends a token for good.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now())
	return rowsOrNotFound(res, "token", id)
}

// UseAPIToken finds a live token by hash and stamps its use (at most once
// a minute, so busy monitors do not write on every call).
func (s *Store) UseAPIToken(ctx context.Context, hash string) (*APIToken, error) {
	var t APIToken
	now := s.now()
	// A token lives while it is not revoked nor expired, and while the
	// admin who made it is still an enabled admin: it never outlives the
	// rights it was made with.
	err := s.db.WithContext(ctx).
		Where("token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", hash, now).
		Where("created_by IN (SELECT id FROM operators WHERE disabled = ? AND role = ?)", false, RoleAdmin).
		First(&t).Error
	if err != nil {
		return nil, notFound(err)
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now)
	}
	return &t, nil
}
