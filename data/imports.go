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
// imported list. A contact who stays keeps their id; what a person chose
// (language, opt-out) lives on the address and is never touched here.
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
				same, err := importUnchanged(tx, c, in)
				if err != nil {
					return err
				}
				if same {
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
				// A contact the customer added in the portal is never
				// removed by an import (the preview lists it as kept).
				if !keep[old.Email] && old.AddedByContactID == nil {
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
					if err := tx.Model(&Contact{ID: old.ID}).Updates(fields).Error; err != nil {
						return err
					}
				} else if err := tx.Create(&Contact{ContractID: c.ID, Name: ct.Name, Email: ct.Email, Lang: ct.Lang, Role: ct.Role, ConfirmedAt: &now}).Error; err != nil {
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

// importUnchanged reports whether an import row set would leave a contract
// exactly as it is: name, state, products and every contact's fields.
func importUnchanged(tx *gorm.DB, c Contract, in ImportContract) (bool, error) {
	if c.Name != in.Name || c.Active != in.Active {
		return false, nil
	}
	var prods []int64
	if err := tx.Model(&ContractProduct{}).Where("contract_id = ?", c.ID).Pluck("product_id", &prods).Error; err != nil {
		return false, err
	}
	want := map[int64]bool{}
	for _, p := range in.ProductIDs {
		want[p] = true
	}
	if len(want) != len(prods) {
		return false, nil
	}
	for _, p := range prods {
		if !want[p] {
			return false, nil
		}
	}
	var cts []Contact
	if err := tx.Where("contract_id = ?", c.ID).Find(&cts).Error; err != nil {
		return false, err
	}
	listed := map[string]bool{}
	for _, ct := range in.Contacts {
		listed[ct.Email] = true
	}
	n := 0
	for _, ct := range cts {
		if listed[ct.Email] || ct.AddedByContactID == nil {
			n++ // customers' own additions the import does not list stay
		}
	}
	if n != len(in.Contacts) {
		return false, nil
	}
	have := map[string]Contact{}
	for _, ct := range cts {
		have[ct.Email] = ct
	}
	for _, ct := range in.Contacts {
		old, ok := have[ct.Email]
		if !ok || old.Name != ct.Name || old.Lang != ct.Lang || old.Role != ct.Role {
			return false, nil
		}
	}
	return true, nil
}

// KeptChoice is a choice a person made that an import leaves standing
// although the import says otherwise, for the import preview.
type KeptChoice struct {
	Email      string
	Lang       string // the language the person chose, "" if none
	ImportLang string // the language the import lists
	OptedOut   bool
}

// KeptChoices lists the addresses of an import whose own choices win over
// what the import says.
func (s *Store) KeptChoices(ctx context.Context, contracts []ImportContract) ([]KeptChoice, error) {
	langs := map[string]string{}
	var emails []string
	for _, k := range contracts {
		for _, ct := range k.Contacts {
			if _, ok := langs[ct.Email]; !ok {
				emails = append(emails, ct.Email)
				langs[ct.Email] = ct.Lang
			}
		}
	}
	people, err := s.PeopleChoices(ctx, emails)
	if err != nil {
		return nil, err
	}
	var out []KeptChoice
	for _, e := range emails {
		p, ok := people[e]
		if !ok || (p.Lang == "" && !p.OptedOut) {
			continue
		}
		out = append(out, KeptChoice{Email: e, Lang: p.Lang, ImportLang: langs[e], OptedOut: p.OptedOut})
	}
	return out, nil
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
