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
// means the first request is still being answered.
type IdempotentResult struct {
	Scope       string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	Status      int
	ContentType string
	Body        string
	CreatedAt   time.Time
}

// TableName names the idempotency table.
func (IdempotentResult) TableName() string { return "idempotency_keys" }

// ErrKeyReused is returned when a key comes back with another request.
var ErrKeyReused = errors.New("data: idempotency key used for another request")

// BeginIdempotent claims a key for a request. It returns nil when the
// request is the first with this key (the caller does the work, then
// FinishIdempotent); the stored result when the same request came before
// (Status 0 while the first is still running); or ErrKeyReused.
func (s *Store) BeginIdempotent(ctx context.Context, scope, key, requestHash string) (*IdempotentResult, error) {
	row := IdempotentResult{Scope: scope, Key: key, RequestHash: requestHash, CreatedAt: s.now()}
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
	return &old, nil
}

// FinishIdempotent stores the answer to the first request with a key.
func (s *Store) FinishIdempotent(ctx context.Context, scope, key string, status int, contentType, body string) error {
	return s.db.WithContext(ctx).Model(&IdempotentResult{}).Where("scope = ? AND key = ?", scope, key).
		Updates(map[string]any{"status": status, "content_type": contentType, "body": body}).Error
}

// ForgetIdempotent drops a key whose request failed on our side (5xx), so
// the client's retry is done afresh.
func (s *Store) ForgetIdempotent(ctx context.Context, scope, key string) error {
	return s.db.WithContext(ctx).Where("scope = ? AND key = ?", scope, key).Delete(&IdempotentResult{}).Error
}

// PruneIdempotencyKeys forgets keys older than before and says how many.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("created_at < ?", before.UTC()).Delete(&IdempotentResult{})
	return res.RowsAffected, res.Error
}
