package data

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// IdempotentResult is the answer stored under an Idempotency-Key. Status 0
// means the first request is still being answered, by Holder, whose lease
// runs until LeaseUntil.
type IdempotentResult struct {
	Scope       string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	Status      int
	ContentType string
	Body        string
	Holder      string
	LeaseUntil  *time.Time
	CreatedAt   time.Time
}

// TableName names the idempotency table.
func (IdempotentResult) TableName() string { return "idempotency_keys" }

// ErrKeyReused is returned when a key comes back with another request.
var ErrKeyReused = errors.New("data: idempotency key used for another request")

// ErrKeyLost is returned to a holder whose lease lapsed and whose key
// another request took over: its answer is not stored.
var ErrKeyLost = errors.New("data: idempotency key taken over by another request")

// legacyLease is how long a key stored before leases existed (no
// lease_until) counts as held.
const legacyLease = time.Minute

// BeginIdempotent claims a key for a request on behalf of holder (unique
// per request) for lease. It returns nil when the caller is to do the work
// (the first request with this key, or a retry whose predecessor's lease
// lapsed: it died mid-request), renews the lease while working, then
// FinishIdempotent. Otherwise it returns the stored result when the same
// request came before (Status 0 while a live holder is still answering), or
// ErrKeyReused.
func (s *Store) BeginIdempotent(ctx context.Context, scope, key, requestHash, holder string, lease time.Duration) (*IdempotentResult, error) {
	now := s.now()
	until := now.Add(lease)
	row := IdempotentResult{Scope: scope, Key: key, RequestHash: requestHash, Holder: holder, LeaseUntil: &until, CreatedAt: now}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("data: idempotency key: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil, nil
	}
	var old IdempotentResult
	if err := s.db.WithContext(ctx).Where("scope = ? AND key = ?", scope, key).First(&old).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("data: idempotency key vanished; try again")
		}
		return nil, fmt.Errorf("data: idempotency key: %w", err)
	}
	if old.RequestHash != requestHash {
		return nil, ErrKeyReused
	}
	if old.Status != 0 || !leaseLapsed(old, now) {
		return &old, nil
	}
	// The holder died (or stalled past its lease) before storing an answer:
	// take the key over. The condition repeats what was read, so of two
	// retries racing here one wins and the other sees a live holder.
	res = s.db.WithContext(ctx).Model(&IdempotentResult{}).
		Where("scope = ? AND key = ? AND status = 0 AND holder = ?", scope, key, old.Holder).
		Where("(lease_until IS NULL AND created_at < ?) OR lease_until < ?", now.Add(-legacyLease), now).
		Updates(map[string]any{"holder": holder, "lease_until": until, "created_at": now})
	if res.Error != nil {
		return nil, fmt.Errorf("data: idempotency key: take over: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil, nil
	}
	old.Status, old.Holder = 0, "" // someone else took it a moment ago
	return &old, nil
}

func leaseLapsed(r IdempotentResult, now time.Time) bool {
	if r.LeaseUntil == nil {
		return r.CreatedAt.Before(now.Add(-legacyLease))
	}
	return r.LeaseUntil.Before(now)
}

// RenewIdempotent extends holder's lease on a key it is still answering.
// It returns ErrKeyLost when the key is no longer holder's.
func (s *Store) RenewIdempotent(ctx context.Context, scope, key, holder string, lease time.Duration) error {
	res := s.db.WithContext(ctx).Model(&IdempotentResult{}).
		Where("scope = ? AND key = ? AND status = 0 AND holder = ?", scope, key, holder).
		Update("lease_until", s.now().Add(lease))
	if res.Error != nil {
		return fmt.Errorf("data: idempotency key: renew: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrKeyLost
	}
	return nil
}

// FinishIdempotent stores holder's answer to the request with a key. It
// returns ErrKeyLost when another request took the key over meanwhile.
func (s *Store) FinishIdempotent(ctx context.Context, scope, key, holder string, status int, contentType, body string) error {
	res := s.db.WithContext(ctx).Model(&IdempotentResult{}).
		Where("scope = ? AND key = ? AND status = 0 AND holder = ?", scope, key, holder).
		Updates(map[string]any{"status": status, "content_type": contentType, "body": body, "lease_until": nil})
	if res.Error != nil {
		return fmt.Errorf("data: idempotency key: finish: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrKeyLost
	}
	return nil
}

// ForgetIdempotent drops holder's key when its request failed on our side
// (5xx), so the client's retry is done afresh. A key another request took
// over is left alone.
func (s *Store) ForgetIdempotent(ctx context.Context, scope, key, holder string) error {
	return s.db.WithContext(ctx).Where("scope = ? AND key = ? AND status = 0 AND holder = ?", scope, key, holder).
		Delete(&IdempotentResult{}).Error
}

// PruneIdempotencyKeys forgets keys older than before and says how many.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("created_at < ?", before.UTC()).Delete(&IdempotentResult{})
	return res.RowsAffected, res.Error
}
