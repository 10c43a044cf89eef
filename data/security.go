package data

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AuditEntry is one operator action. The application only ever appends.
type AuditEntry struct {
	ID            int64
	At            time.Time
	OperatorID    *int64
	OperatorEmail string
	IP            string
	Action        string
	Target        string
	// Changes is JSON: {"field": ["before", "after"]} for edits, or the
	// fields of what was created.
	Changes string
}

// TableName names the audit table.
func (AuditEntry) TableName() string { return "audit_log" }

// AddAudit appends an entry to the audit trail.
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	e.ID = 0
	e.At = s.now()
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("data: audit: %w", err)
	}
	return nil
}

// AuditFilter narrows the audit trail.
type AuditFilter struct {
	OperatorID    int64
	Action        string
	From, To      time.Time
	Limit, Offset int
}

// Audit lists audit entries, newest first, and how many match.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, int64, error) {
	q := s.db.WithContext(ctx).Model(&AuditEntry{})
	if f.OperatorID != 0 {
		q = q.Where("operator_id = ?", f.OperatorID)
	}
	if f.Action != "" {
		q = q.Where("LOWER(action) LIKE ? ESCAPE '\\'", likePattern(f.Action)[1:])
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: audit: %w", err)
	}
	if f.Limit == 0 {
		f.Limit = -1
	}
	var es []AuditEntry
	err := q.Order("at DESC, id DESC").Limit(f.Limit).Offset(f.Offset).Find(&es).Error
	return es, total, err
}

// LoginThrottle counts failed logins for one key ("ip:…" or "account:…").
type LoginThrottle struct {
	Key          string `gorm:"primaryKey"`
	Failures     int
	LastFailure  *time.Time
	BlockedUntil *time.Time
}

// TableName names the throttle table.
func (LoginThrottle) TableName() string { return "login_throttle" }

// ThrottleKey normalises a throttle key so that one account is one key
// whatever case its address is typed in.
func ThrottleKey(kind, v string) string { return kind + ":" + strings.ToLower(strings.TrimSpace(v)) }

// ReserveAttempt counts an attempt against every key before the attempt
// is made (a password checked, a confirmation sent), atomically: the rows
// are locked while counted, so a burst sent at once is counted one by one
// and cannot all slip under the limit. It returns the time the attempt is
// blocked until, or zero when it may go ahead (and is now counted). A
// blocked attempt is not counted.
func (s *Store) ReserveAttempt(ctx context.Context, delay map[string]func(attempts int) time.Duration) (time.Time, error) {
	now := s.now()
	var blocked time.Time
	lock := func(tx *gorm.DB) *gorm.DB { return tx }
	if s.dialect == "postgres" {
		lock = func(tx *gorm.DB) *gorm.DB { return tx.Clauses(clause.Locking{Strength: "UPDATE"}) }
	}
	// Keys are locked in one order, so two attempts never wait on each
	// other's rows (a deadlock on PostgreSQL).
	keys := make([]string, 0, len(delay))
	for k := range delay {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		rows := map[string]LoginThrottle{}
		for _, key := range keys {
			var r LoginThrottle
			// A successful sign-in may delete the row between the insert and
			// the lock; then it is made again.
			for tries := 0; ; tries++ {
				if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&LoginThrottle{Key: key}).Error; err != nil {
					return err
				}
				err := lock(tx).Where("key = ?", key).First(&r).Error
				if err == nil {
					break
				}
				if !errors.Is(err, gorm.ErrRecordNotFound) || tries == 3 {
					return err
				}
			}
			if r.BlockedUntil != nil && r.BlockedUntil.After(now) && r.BlockedUntil.After(blocked) {
				blocked = *r.BlockedUntil
			}
			rows[key] = r
		}
		if !blocked.IsZero() {
			return nil
		}
		for _, key := range keys {
			d, r := delay[key], rows[key]
			if r.LastFailure != nil && now.Sub(*r.LastFailure) > 24*time.Hour {
				r.Failures = 0
			}
			r.Failures++
			fields := map[string]any{"failures": r.Failures, "last_failure": now}
			if wait := d(r.Failures); wait > 0 {
				fields["blocked_until"] = now.Add(wait)
			}
			if err := tx.Model(&LoginThrottle{}).Where("key = ?", key).Updates(fields).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("data: reserve attempt: %w", err)
	}
	return blocked, nil
}

// ReleaseAttempt gives back an attempt ReserveAttempt counted that was
// never made (refused for load before the password was looked at): each
// key's count goes down by one, and a block the count no longer reaches
// is lifted. Keys are locked in the same order as ReserveAttempt's.
func (s *Store) ReleaseAttempt(ctx context.Context, delay map[string]func(attempts int) time.Duration) error {
	lock := func(tx *gorm.DB) *gorm.DB { return tx }
	if s.dialect == "postgres" {
		lock = func(tx *gorm.DB) *gorm.DB { return tx.Clauses(clause.Locking{Strength: "UPDATE"}) }
	}
	keys := make([]string, 0, len(delay))
	for k := range delay {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		for _, key := range keys {
			var r LoginThrottle
			if err := lock(tx).Where("key = ?", key).First(&r).Error; errors.Is(err, gorm.ErrRecordNotFound) {
				continue // cleared by a good sign-in meanwhile
			} else if err != nil {
				return err
			}
			if r.Failures == 0 {
				continue
			}
			r.Failures--
			fields := map[string]any{"failures": r.Failures}
			if delay[key](r.Failures) == 0 {
				fields["blocked_until"] = nil
			}
			if err := tx.Model(&LoginThrottle{}).Where("key = ?", key).Updates(fields).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("data: release attempt: %w", err)
	}
	return nil
}

// ThrottleKeys lists the keys the throttle holds (tests check that no
// typed text is kept in them).
func (s *Store) ThrottleKeys(ctx context.Context) ([]string, error) {
	var keys []string
	err := s.db.WithContext(ctx).Model(&LoginThrottle{}).Order("key").Pluck("key", &keys).Error
	return keys, err
}

// ClearLoginFailures forgets the failures of a key after a good login.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	return s.db.WithContext(ctx).Where("key = ?", key).Delete(&LoginThrottle{}).Error
}

// SetTOTP turns two-factor on with a (sealed) secret and recovery code
// hashes, replacing any earlier ones; an empty secret turns it off.
func (s *Store) SetTOTP(ctx context.Context, operatorID int64, sealedSecret string, recoveryHashes []string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Operator{ID: operatorID}).Updates(map[string]any{"totp_secret": sealedSecret, "totp_last_step": 0, "updated_at": s.now()})
		if err := rowsOrNotFound(res, "operator", operatorID); err != nil {
			return err
		}
		if err := tx.Where("operator_id = ?", operatorID).Delete(&RecoveryCode{}).Error; err != nil {
			return err
		}
		for _, h := range recoveryHashes {
			if err := tx.Create(&RecoveryCode{OperatorID: operatorID, CodeHash: h}).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// SetRecoveryCodes replaces an operator's recovery codes (by their hashes),
// leaving the authenticator app as it is.
func (s *Store) SetRecoveryCodes(ctx context.Context, operatorID int64, recoveryHashes []string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("operator_id = ?", operatorID).Delete(&RecoveryCode{}).Error; err != nil {
			return err
		}
		for _, h := range recoveryHashes {
			if err := tx.Create(&RecoveryCode{OperatorID: operatorID, CodeHash: h}).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// UseTOTPStep accepts a TOTP time step once: a code seen before (or an
// older one) is refused, so a code works only once.
func (s *Store) UseTOTPStep(ctx context.Context, operatorID int64, step int64) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Operator{}).Where("id = ? AND totp_last_step < ?", operatorID, step).Update("totp_last_step", step)
	return res.RowsAffected == 1, res.Error
}

// RecoveryCode is a single-use code that stands in for a TOTP code.
type RecoveryCode struct {
	ID         int64
	OperatorID int64
	CodeHash   string
	UsedAt     *time.Time
}

// UseRecoveryCode spends a recovery code, once.
func (s *Store) UseRecoveryCode(ctx context.Context, operatorID int64, hash string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("operator_id = ? AND code_hash = ? AND used_at IS NULL", operatorID, hash).
		Update("used_at", s.now())
	return res.RowsAffected == 1, res.Error
}

// RecoveryCodesLeft counts an operator's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, operatorID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("operator_id = ? AND used_at IS NULL", operatorID).Count(&n).Error
	return n, err
}

// SetOperatorEmail changes an operator's sign-in address.
func (s *Store) SetOperatorEmail(ctx context.Context, id int64, email string) error {
	email = NormalizeEmail(email)
	if !ValidEmail(email) {
		return Invalid("email", "bad_email")
	}
	res := s.db.WithContext(ctx).Model(&Operator{ID: id}).Updates(map[string]any{"email": email, "updated_at": s.now()})
	if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
		return Invalid("email", "email_taken")
	}
	return rowsOrNotFound(res, "operator", id)
}

// PromoteSession replaces a session waiting for its second factor with a
// full one under a new id.
func (s *Store) PromoteSession(ctx context.Context, oldID, newID, method string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var sess Session
		if err := tx.Where("id = ? AND mfa_pending = ?", oldID, true).First(&sess).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Where("id = ?", oldID).Delete(&Session{}).Error; err != nil {
			return err
		}
		now := s.now()
		return tx.Create(&Session{ID: newID, OperatorID: sess.OperatorID, CreatedAt: now, LastSeenAt: now, ExpiresAt: sess.ExpiresAt,
			UserAgent: sess.UserAgent, IP: sess.IP, LastIP: sess.LastIP, Method: method}).Error
	})
}

// Invitation lets someone create their operator account once, before it
// expires.
type Invitation struct {
	ID        int64
	TokenHash string
	Email     string
	Role      string
	InvitedBy *int64
	// Lang is the language the admin chose for the new operator: the
	// invitation page opens in it, and the operator reads it.
	Lang      string `gorm:"default:ja"`
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// CreateInvitation stores an invitation (by the hash of its token).
func (s *Store) CreateInvitation(ctx context.Context, tokenHash, email, role, lang string, invitedBy int64, ttl time.Duration) (*Invitation, error) {
	email = NormalizeEmail(email)
	f := fieldErrors{}
	if !ValidEmail(email) {
		f.add("email", "bad_email")
	}
	if !ValidOperatorLang(lang) {
		f.add("lang", "operatorlang_unknown")
	}
	if role != RoleAdmin && role != RoleEditor {
		f.add("role", "invalid_choice")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&Operator{}).Where("email = ?", email).Count(&n).Error; err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, Invalid("email", "email_taken")
	}
	inv := Invitation{TokenHash: tokenHash, Email: email, Role: role, Lang: lang, ExpiresAt: s.now().Add(ttl)}
	if invitedBy != 0 {
		inv.InvitedBy = &invitedBy
	}
	if err := s.db.WithContext(ctx).Create(&inv).Error; err != nil {
		return nil, fmt.Errorf("data: create invitation: %w", err)
	}
	return &inv, nil
}

// Invitation returns a usable invitation by token hash: unused and not
// expired. Anything else is ErrNotFound.
func (s *Store) Invitation(ctx context.Context, tokenHash string) (*Invitation, error) {
	var inv Invitation
	err := s.db.WithContext(ctx).Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", tokenHash, s.now()).First(&inv).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &inv, nil
}

// Invitations lists invitations, newest first.
func (s *Store) Invitations(ctx context.Context) ([]Invitation, error) {
	var is []Invitation
	err := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Limit(50).Find(&is).Error
	return is, err
}

// AcceptInvitation spends an invitation and creates its operator, reading
// lang ("" for the invitation's), in one transaction: a link works once.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash, name, passwordHash, lang string) (*Operator, error) {
	if lang != "" && !ValidOperatorLang(lang) {
		return nil, Invalid("lang", "operatorlang_unknown")
	}
	var op *Operator
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var inv Invitation
		if err := tx.Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", tokenHash, s.now()).First(&inv).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&Invitation{}).Where("id = ? AND used_at IS NULL", inv.ID).Update("used_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		f := fieldErrors{}
		name = strings.TrimSpace(name)
		f.line("name", name, false, MaxName)
		if err := f.err(); err != nil {
			return err
		}
		if lang == "" {
			lang = inv.Lang
		}
		o := Operator{Email: inv.Email, Name: name, Role: inv.Role, PasswordHash: passwordHash, Lang: lang}
		if err := tx.Create(&o).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return Invalid("email", "email_taken")
			}
			return err
		}
		op = &o
		return nil
	})
	if err != nil {
		return nil, wrapUnlessInvalid("accept invitation", err)
	}
	return op, nil
}
