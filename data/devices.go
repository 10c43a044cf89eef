package data

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// MaxUserAgent is how much of a browser's User-Agent is kept.
const MaxUserAgent = 256

// MaxDevices is how many browsers an operator's account remembers; past
// that the least recently used are forgotten.
const MaxDevices = 20

// ClientInfo is the browser and address a session or device comes from.
type ClientInfo struct {
	UserAgent string
	IP        string
}

func (ci ClientInfo) clean() ClientInfo {
	ua := strings.ToValidUTF8(strings.TrimSpace(ci.UserAgent), "")
	for len(ua) > MaxUserAgent {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	ip := ci.IP
	if len(ip) > 64 {
		ip = ip[:64]
	}
	return ClientInfo{UserAgent: ua, IP: ip}
}

// TableName names the devices table.
func (OperatorDevice) TableName() string { return "operator_devices" }

// SetSessionClient records the browser and address a session started from,
// and how it began (see Session.Method).
func (s *Store) SetSessionClient(ctx context.Context, sessionID string, ci ClientInfo, method string) error {
	ci = ci.clean()
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sessionID).
		Updates(map[string]any{"user_agent": ci.UserAgent, "ip": ci.IP, "last_ip": ci.IP, "method": method}).Error
}

// SessionSeenFrom records a new address a session is used from.
func (s *Store) SessionSeenFrom(ctx context.Context, sessionID, ip string) error {
	ip = ClientInfo{IP: ip}.clean().IP
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sessionID).Update("last_ip", ip).Error
}

// RememberDevice stores a new device token (by its hash) for an operator.
// The token the browser held before (oldHash), if it was this operator's,
// is deleted: a token changes at every full sign-in. Only the MaxDevices
// most recently used devices are kept.
func (s *Store) RememberDevice(ctx context.Context, operatorID int64, tokenHash, oldHash string, ci ClientInfo) error {
	ci = ci.clean()
	now := s.now()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if oldHash != "" {
			if err := tx.Where("operator_id = ? AND token_hash = ?", operatorID, oldHash).Delete(&OperatorDevice{}).Error; err != nil {
				return err
			}
		}
		d := OperatorDevice{OperatorID: operatorID, TokenHash: tokenHash, UserAgent: ci.UserAgent, IP: ci.IP, CreatedAt: now, LastUsedAt: now}
		if err := tx.Create(&d).Error; err != nil {
			return err
		}
		var keep []int64
		if err := tx.Model(&OperatorDevice{}).Where("operator_id = ?", operatorID).
			Order("last_used_at DESC, id DESC").Limit(MaxDevices).Pluck("id", &keep).Error; err != nil {
			return err
		}
		return tx.Where("operator_id = ? AND id NOT IN ?", operatorID, keep).Delete(&OperatorDevice{}).Error
	})
	if err != nil {
		return fmt.Errorf("data: remember device: %w", err)
	}
	return nil
}

// UseDevice reports whether tokenHash is a device of that operator, and
// stamps its last use. A token of another operator, or none, is not.
func (s *Store) UseDevice(ctx context.Context, operatorID int64, tokenHash string) (bool, error) {
	if tokenHash == "" || operatorID == 0 {
		return false, nil
	}
	res := s.db.WithContext(ctx).Model(&OperatorDevice{}).Where("operator_id = ? AND token_hash = ?", operatorID, tokenHash).
		Update("last_used_at", s.now())
	if res.Error != nil {
		return false, fmt.Errorf("data: use device: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// OperatorDevices lists an operator's remembered browsers, most recently
// used first.
func (s *Store) OperatorDevices(ctx context.Context, operatorID int64) ([]OperatorDevice, error) {
	var ds []OperatorDevice
	err := s.db.WithContext(ctx).Where("operator_id = ?", operatorID).Order("last_used_at DESC, id DESC").Find(&ds).Error
	return ds, err
}

// OperatorSessions lists an operator's live sessions (not expired, not
// idle longer than idle, past their second factor), most recently seen
// first.
func (s *Store) OperatorSessions(ctx context.Context, operatorID int64, idle time.Duration) ([]Session, error) {
	now := s.now()
	var ss []Session
	err := s.db.WithContext(ctx).Where("operator_id = ? AND expires_at > ? AND last_seen_at > ? AND mfa_pending = ?", operatorID, now, now.Add(-idle), false).
		Order("last_seen_at DESC, created_at DESC").Find(&ss).Error
	return ss, err
}

// DeleteOperatorDevice forgets one of an operator's browsers; another
// operator's is ErrNotFound.
func (s *Store) DeleteOperatorDevice(ctx context.Context, operatorID, id int64) error {
	res := s.db.WithContext(ctx).Where("operator_id = ? AND id = ?", operatorID, id).Delete(&OperatorDevice{})
	return rowsOrNotFound(res, "device", id)
}

// DeleteOperatorDevices forgets all of an operator's browsers but the one
// with keepHash (none when empty), and says how many.
func (s *Store) DeleteOperatorDevices(ctx context.Context, operatorID int64, keepHash string) (int64, error) {
	res := s.db.WithContext(ctx).Where("operator_id = ? AND token_hash <> ?", operatorID, keepHash).Delete(&OperatorDevice{})
	return res.RowsAffected, res.Error
}

// DeleteOperatorSession ends one of an operator's sessions; another
// operator's is ErrNotFound.
func (s *Store) DeleteOperatorSession(ctx context.Context, operatorID int64, id string) error {
	res := s.db.WithContext(ctx).Where("operator_id = ? AND id = ?", operatorID, id).Delete(&Session{})
	if res.Error != nil {
		return fmt.Errorf("data: end session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteOperatorSessions ends all of an operator's sessions but keep (all
// of them when empty), and says how many.
func (s *Store) DeleteOperatorSessions(ctx context.Context, operatorID int64, keep string) (int64, error) {
	res := s.db.WithContext(ctx).Where("operator_id = ? AND id <> ?", operatorID, keep).Delete(&Session{})
	return res.RowsAffected, res.Error
}

// LiveSessionCounts says how many live sessions each operator has (those
// with none are absent).
func (s *Store) LiveSessionCounts(ctx context.Context, idle time.Duration) (map[int64]int, error) {
	now := s.now()
	var rows []struct {
		OperatorID int64
		N          int
	}
	err := s.db.WithContext(ctx).Model(&Session{}).Select("operator_id, COUNT(*) AS n").
		Where("expires_at > ? AND last_seen_at > ? AND mfa_pending = ?", now, now.Add(-idle), false).
		Group("operator_id").Scan(&rows).Error
	counts := make(map[int64]int, len(rows))
	for _, r := range rows {
		counts[r.OperatorID] = r.N
	}
	return counts, err
}
