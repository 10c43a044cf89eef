package data

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"gorm.io/gorm"
)

// errDryRun rolls a dry run back.
var errDryRun = errors.New("data: dry run")

// NoticePreview is what a change would queue: the notification and its
// deliveries, exactly as the real change writes them.
type NoticePreview struct {
	Notification *Notification
	Deliveries   []Delivery
}

// DryRun runs a change (such as CreateIncident with its notice) inside a
// transaction that is always rolled back, and returns the notification it
// would have queued, if any. The preview goes through the very code that
// publishes, so what an operator sees is what customers would get; nothing
// is saved.
func (s *Store) DryRun(ctx context.Context, change func(ctx context.Context, st *Store) error) (*NoticePreview, error) {
	var out *NoticePreview
	err := s.tx(ctx, func(tx *gorm.DB) error {
		st := &Store{db: tx, dialect: s.dialect, now: s.now, fault: s.fault, brand: &atomic.Pointer[brandEntry]{},
			public: &atomic.Pointer[func()]{}}
		var before int64
		if err := tx.Model(&Notification{}).Select("COALESCE(MAX(id), 0)").Scan(&before).Error; err != nil {
			return err
		}
		if err := change(ctx, st); err != nil {
			return err
		}
		// A change may queue more than its customer notice: the operators'
		// alert that it is held for want of a relay, for one. The preview
		// is of the customer notice, the first one written.
		var ns []Notification
		if err := tx.Where("id > ? AND kind NOT IN ?", before, OperatorAlertKinds).Order("id").Limit(1).Find(&ns).Error; err != nil {
			return err
		}
		if len(ns) > 0 {
			out = &NoticePreview{Notification: &ns[0]}
			if err := tx.Where("notification_id = ?", ns[0].ID).Order("id").Find(&out.Deliveries).Error; err != nil {
				return err
			}
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return out, nil
	}
	var v *ValidationError
	if errors.As(err, &v) || errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return nil, fmt.Errorf("data: dry run: %w", err)
}
