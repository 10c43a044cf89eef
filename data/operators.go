package data

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"
)

// NewOperator is an operator account to create. PasswordHash is already
// hashed: this package never sees a password.
type NewOperator struct {
	Email, Name  string
	Role         string
	PasswordHash string
	// Lang is the operator's language (OperatorLangs); empty is Japanese.
	Lang string
}

// OperatorLangs are the languages an operator may choose for the console,
// their emails and alerts.
var OperatorLangs = []string{"ja", "en"}

// ValidOperatorLang reports whether lang is one of OperatorLangs.
func ValidOperatorLang(lang string) bool {
	for _, l := range OperatorLangs {
		if lang == l {
			return true
		}
	}
	return false
}

// Language is the operator's language, Japanese for a row that holds
// anything else.
func (o *Operator) Language() string {
	if ValidOperatorLang(o.Lang) {
		return o.Lang
	}
	return OperatorLangs[0]
}

// SetOperatorLang sets the language of an operator's console, emails and
// alerts; anything but one of OperatorLangs is a field error and changes
// nothing.
func (s *Store) SetOperatorLang(ctx context.Context, id int64, lang string) error {
	if !ValidOperatorLang(lang) {
		return Invalid("lang", "operatorlang_unknown")
	}
	res := s.db.WithContext(ctx).Model(&Operator{}).Where("id = ?", id).Updates(map[string]any{"lang": lang, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("data: set operator language: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// NormalizeEmail trims and lower-cases an address so that one person has
// one account whatever case they type.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidEmail reports whether s is a bare address such as a@example.com.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " \r\n<>\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s, "@")
}

// CreateOperator adds an operator; an address already taken is a field error.
func (s *Store) CreateOperator(ctx context.Context, in NewOperator) (*Operator, error) {
	return s.createOperator(ctx, in, "", "")
}

// createOperator adds an operator with a password, or, tied to a subject
// at the identity provider, without one.
func (s *Store) createOperator(ctx context.Context, in NewOperator, issuer, subject string) (*Operator, error) {
	in.Email = NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	f := fieldErrors{}
	if !ValidEmail(in.Email) {
		f.add("email", "bad_email")
	}
	f.line("name", in.Name, false, MaxName)
	if in.Role != RoleAdmin && in.Role != RoleEditor {
		f.add("role", "invalid_choice")
	}
	if in.PasswordHash == "" && subject == "" {
		f.add("password", "required")
	}
	if in.Lang == "" {
		in.Lang = OperatorLangs[0]
	} else if !ValidOperatorLang(in.Lang) {
		f.add("lang", "operatorlang_unknown")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	o := Operator{Email: in.Email, Name: in.Name, Role: in.Role, PasswordHash: in.PasswordHash, Lang: in.Lang, SSOIssuer: issuer, SSOSubject: subject}
	if err := s.db.WithContext(ctx).Create(&o).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, Invalid("email", "email_taken")
		}
		return nil, fmt.Errorf("data: create operator: %w", err)
	}
	return &o, nil
}

// CountOperators counts operator accounts, enabled or not.
func (s *Store) CountOperators(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Operator{}).Count(&n).Error
	return n, err
}

// Operators lists every operator by email.
func (s *Store) Operators(ctx context.Context) ([]Operator, error) {
	var os []Operator
	if err := s.db.WithContext(ctx).Order("email").Find(&os).Error; err != nil {
		return nil, fmt.Errorf("data: operators: %w", err)
	}
	return os, nil
}

// Operator returns one operator by id.
func (s *Store) Operator(ctx context.Context, id int64) (*Operator, error) {
	var o Operator
	if err := s.db.WithContext(ctx).First(&o, id).Error; err != nil {
		return nil, fmt.Errorf("data: operator %d: %w", id, notFound(err))
	}
	return &o, nil
}

// OperatorByEmail returns the operator with that address, in any case.
func (s *Store) OperatorByEmail(ctx context.Context, email string) (*Operator, error) {
	var o Operator
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).First(&o).Error; err != nil {
		return nil, fmt.Errorf("data: operator %q: %w", email, notFound(err))
	}
	return &o, nil
}

// errLastAdmin keeps at least one enabled admin, so nobody locks the
// console away from everyone.
var errLastAdmin = Invalid("operator", "last_admin")

func (s *Store) otherEnabledAdmins(tx *gorm.DB, id int64) (int64, error) {
	var n int64
	err := tx.Model(&Operator{}).Where("role = ? AND disabled = ? AND id <> ?", RoleAdmin, false, id).Count(&n).Error
	return n, err
}

// SetOperatorRole changes an operator's role.
func (s *Store) SetOperatorRole(ctx context.Context, id int64, role string) error {
	if role != RoleAdmin && role != RoleEditor {
		return Invalid("role", "invalid_choice")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if role != RoleAdmin {
			n, err := s.otherEnabledAdmins(tx, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return errLastAdmin
			}
		}
		return rowsOrNotFound(tx.Model(&Operator{ID: id}).Updates(map[string]any{"role": role, "updated_at": s.now()}), "operator", id)
	})
}

// SetOperatorDisabled disables or re-enables an account; disabling ends its
// sessions at once.
func (s *Store) SetOperatorDisabled(ctx context.Context, id int64, disabled bool) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if disabled {
			n, err := s.otherEnabledAdmins(tx, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return errLastAdmin
			}
			if err := tx.Where("operator_id = ?", id).Delete(&Session{}).Error; err != nil {
				return err
			}
			// Its API tokens end for good: enabling the account again does
			// not bring back a credential a script, or whoever took it,
			// still holds. (A demoted admin's tokens only pause, see
			// UseAPIToken.)
			if err := tx.Model(&APIToken{}).Where("created_by = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now()).Error; err != nil {
				return err
			}
		}
		return rowsOrNotFound(tx.Model(&Operator{ID: id}).Updates(map[string]any{"disabled": disabled, "updated_at": s.now()}), "operator", id)
	})
}

// SetOperatorPassword stores a new password hash and ends the operator's
// other sessions (all of them when keepSession is empty).
func (s *Store) SetOperatorPassword(ctx context.Context, id int64, hash, keepSession string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := rowsOrNotFound(tx.Model(&Operator{ID: id}).Updates(map[string]any{"password_hash": hash, "updated_at": s.now()}), "operator", id); err != nil {
			return err
		}
		return tx.Where("operator_id = ? AND id <> ?", id, keepSession).Delete(&Session{}).Error
	})
}

// CreateSession records a new session for an operator and stamps the
// login. A session with mfaPending only lets its holder enter the second
// factor.
func (s *Store) CreateSession(ctx context.Context, id string, operatorID int64, ttl time.Duration, mfaPending bool) error {
	now := s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&Session{ID: id, OperatorID: operatorID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl), MFAPending: mfaPending}).Error; err != nil {
			return fmt.Errorf("data: create session: %w", err)
		}
		// Sweep this operator's expired sessions while we are here.
		if err := tx.Where("operator_id = ? AND expires_at < ?", operatorID, now).Delete(&Session{}).Error; err != nil {
			return err
		}
		return tx.Model(&Operator{ID: operatorID}).Update("last_login_at", now).Error
	})
}

// SessionOperator returns the live session with that id and its operator.
// A session past its absolute expiry or idle longer than idle, or whose
// operator is disabled, is deleted and reported as ErrNotFound.
func (s *Store) SessionOperator(ctx context.Context, id string, idle time.Duration) (*Session, *Operator, error) {
	db := s.db.WithContext(ctx)
	var sess Session
	if err := db.Where("id = ?", id).First(&sess).Error; err != nil {
		return nil, nil, notFound(err)
	}
	now := s.now()
	var op Operator
	err := db.First(&op, sess.OperatorID).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, err
	}
	if err != nil || op.Disabled || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > idle {
		db.Where("id = ?", id).Delete(&Session{})
		return nil, nil, ErrNotFound
	}
	// Write last-seen at most once a minute, not on every request.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		sess.LastSeenAt = now
		if err := db.Model(&Session{}).Where("id = ?", id).Update("last_seen_at", now).Error; err != nil {
			return nil, nil, err
		}
	}
	return &sess, &op, nil
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Where("id = ?", id).Delete(&Session{}).Error
}
