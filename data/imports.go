package data

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ImportContract is one contract of a CSV import, with the whole list of
// its contacts.
type ImportContract struct {
	Code, Name string
	Active     bool
	ProductIDs []int64
	Contacts   []ContactInput
}

// ImportResult counts what an import changed.
type ImportResult struct {
	Created, Updated, Unchanged int
	Contacts                    int
	ContactsRemoved             int
}

// ApplyImport writes an import in one transaction: contracts are matched by
// code, created or updated, and each one's contacts become exactly the
// imported list. A contact who stays keeps their id and their opt-out.
// Contracts not in the import are left alone. Any error leaves the database
// as it was.
func (s *Store) ApplyImport(ctx context.Context, contracts []ImportContract) (ImportResult, error) {
	var res ImportResult
	now := s.now()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		for _, in := range contracts {
			var c Contract
			err := tx.Where("code = ?", in.Code).First(&c).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
				c = Contract{Code: in.Code, Name: in.Name, Active: in.Active, CreatedAt: now, UpdatedAt: now}
				if !in.Active {
					c.EndedAt = &now
				}
				if err := tx.Select("*").Omit("id").Create(&c).Error; err != nil {
					return err
				}
				res.Created++
			case err != nil:
				return err
			default:
				fields := map[string]any{"name": in.Name, "active": in.Active, "updated_at": now}
				if !in.Active && c.Active {
					fields["ended_at"] = now
				} else if in.Active {
					fields["ended_at"] = nil
				}
				if c.Name == in.Name && c.Active == in.Active {
					res.Unchanged++
				} else {
					res.Updated++
				}
				if err := tx.Model(&Contract{ID: c.ID}).Updates(fields).Error; err != nil {
					return err
				}
			}
			if err := setContractProducts(tx, c.ID, in.ProductIDs); err != nil {
				return err
			}
			var existing []Contact
			if err := tx.Where("contract_id = ?", c.ID).Find(&existing).Error; err != nil {
				return err
			}
			keep := map[string]bool{}
			for _, ct := range in.Contacts {
				keep[ct.Email] = true
			}
			for _, old := range existing {
				if !keep[old.Email] {
					if err := tx.Delete(&Contact{}, old.ID).Error; err != nil {
						return err
					}
					res.ContactsRemoved++
				}
			}
			byEmail := map[string]Contact{}
			for _, old := range existing {
				byEmail[old.Email] = old
			}
			for _, ct := range in.Contacts {
				if old, ok := byEmail[ct.Email]; ok {
					fields := map[string]any{"name": ct.Name, "lang": ct.Lang, "role": ct.Role, "updated_at": now}
					if ct.Role == RolePrimary {
						fields["opted_out"] = false
					}
					if err := tx.Model(&Contact{ID: old.ID}).Updates(fields).Error; err != nil {
						return err
					}
				} else if err := tx.Create(&Contact{ContractID: c.ID, Name: ct.Name, Email: ct.Email, Lang: ct.Lang, Role: ct.Role}).Error; err != nil {
					return err
				}
				res.Contacts++
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("data: import: %w", err)
	}
	return res, nil
}

// ContractImport is an uploaded CSV waiting for an operator to apply it.
type ContractImport struct {
	ID         int64
	Content    string
	OperatorID *int64
	CreatedAt  time.Time
}

// SaveImport keeps an uploaded CSV (as UTF-8 text) between its preview and
// its apply, and drops uploads older than a day.
func (s *Store) SaveImport(ctx context.Context, content string, operatorID int64) (int64, error) {
	imp := ContractImport{Content: content}
	if operatorID != 0 {
		imp.OperatorID = &operatorID
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("created_at < ?", s.now().Add(-24*time.Hour)).Delete(&ContractImport{}).Error; err != nil {
			return err
		}
		return tx.Create(&imp).Error
	})
	if err != nil {
		return 0, fmt.Errorf("data: save import: %w", err)
	}
	return imp.ID, nil
}

// Import returns an uploaded CSV.
func (s *Store) Import(ctx context.Context, id int64) (*ContractImport, error) {
	var imp ContractImport
	if err := s.db.WithContext(ctx).First(&imp, id).Error; err != nil {
		return nil, fmt.Errorf("data: import %d: %w", id, notFound(err))
	}
	return &imp, nil
}

// DeleteImport drops an uploaded CSV once applied.
func (s *Store) DeleteImport(ctx context.Context, id int64) error {
	return s.db.WithContext(ctx).Delete(&ContractImport{}, id).Error
}
