package data

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ComponentStatusChange records a status an operator set by hand on a
// component, so the bars can show how long it held: the component row
// keeps only the latest.
type ComponentStatusChange struct {
	ID          int64
	ComponentID int64
	Status      string
	At          time.Time
}

// recordComponentStatus appends a change, in the transaction that makes it.
func (s *Store) recordComponentStatus(tx *gorm.DB, componentID int64, status string) error {
	return tx.Create(&ComponentStatusChange{ComponentID: componentID, Status: status, At: s.now()}).Error
}

// ComponentStatusChanges returns the changes made since a moment and, for
// each component, the last one before it (the status the component was in
// then), ordered by component, then oldest first.
func (s *Store) ComponentStatusChanges(ctx context.Context, since time.Time) ([]ComponentStatusChange, error) {
	db := s.db.WithContext(ctx)
	// Rows are appended as changes are made, so the highest id before the
	// moment is the latest change then.
	before := db.Model(&ComponentStatusChange{}).Select("MAX(id)").Where("at < ?", since.UTC()).Group("component_id")
	var out []ComponentStatusChange
	if err := db.Where("at >= ? OR id IN (?)", since.UTC(), before).Order("component_id, at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("data: component status changes: %w", err)
	}
	return out, nil
}
