package data

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Filtered lists of upgrades and notifications, for the operator API.

// UpgradeQuery filters upgrades. Status is scheduled (not yet ended), done
// (scheduled and ended) or cancelled; empty for all. Since keeps those
// whose window ends at or after it.
type UpgradeQuery struct {
	Status        string
	ProductID     int64
	Since         time.Time
	Limit, Offset int
}

// FindUpgrades lists upgrades as Upgrades does (newest start first, with
// notices and product), filtered.
func (s *Store) FindUpgrades(ctx context.Context, q UpgradeQuery) ([]Upgrade, int64, error) {
	db := s.db.WithContext(ctx).Model(&Upgrade{})
	now := s.now()
	switch q.Status {
	case "":
	case UpgradeCancelled:
		db = db.Where("status = ?", UpgradeCancelled)
	case UpgradeScheduled:
		db = db.Where("status = ? AND ends_at > ?", UpgradeScheduled, now)
	case "done":
		db = db.Where("status = ? AND ends_at <= ?", UpgradeScheduled, now)
	default:
		return nil, 0, Invalid("status", "invalid_choice")
	}
	if q.ProductID != 0 {
		db = db.Where("product_id = ?", q.ProductID)
	}
	if !q.Since.IsZero() {
		db = db.Where("ends_at >= ?", q.Since.UTC())
	}
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count upgrades: %w", err)
	}
	var us []Upgrade
	err := db.Preload("Notices", func(db *gorm.DB) *gorm.DB { return db.Order("lead_seconds DESC") }).Preload("Product").
		Order("starts_at DESC, id DESC").Limit(q.Limit).Offset(q.Offset).Find(&us).Error
	if err != nil {
		return nil, 0, fmt.Errorf("data: upgrades: %w", err)
	}
	return us, total, nil
}

// NotificationQuery filters notifications: those with a delivery in one
// of States, of one Kind, written at or after Since.
type NotificationQuery struct {
	States        []string
	Kind          string
	Since         time.Time
	Limit, Offset int
}

// FindNotifications lists notifications as NotificationsWith does (newest
// first, with delivery counts), filtered.
func (s *Store) FindNotifications(ctx context.Context, q NotificationQuery) ([]Notification, map[int64]map[string]int, int64, error) {
	db := s.db.WithContext(ctx).Model(&Notification{})
	if len(q.States) > 0 {
		db = db.Where("id IN (SELECT notification_id FROM deliveries WHERE state IN ?)", q.States)
	}
	if q.Kind != "" {
		db = db.Where("kind = ?", q.Kind)
	}
	if !q.Since.IsZero() {
		db = db.Where("created_at >= ?", q.Since.UTC())
	}
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return nil, nil, 0, fmt.Errorf("data: count notifications: %w", err)
	}
	var ns []Notification
	if err := db.Order("created_at DESC, id DESC").Limit(q.Limit).Offset(q.Offset).Find(&ns).Error; err != nil {
		return nil, nil, 0, fmt.Errorf("data: notifications: %w", err)
	}
	ids := make([]int64, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	counts, err := s.DeliveryCountsOf(ctx, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	return ns, counts, total, nil
}
