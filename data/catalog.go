package data

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// ProductInput is what an operator types to create or edit a product.
type ProductInput struct {
	NameJA, NameEN               string
	DescriptionJA, DescriptionEN string
	Collapsed                    bool
}

func (in *ProductInput) validate() error {
	in.NameJA, in.NameEN = strings.TrimSpace(in.NameJA), strings.TrimSpace(in.NameEN)
	f := fieldErrors{}
	f.line("name_ja", in.NameJA, true, MaxName)
	f.line("name_en", in.NameEN, false, MaxName)
	f.block("description_ja", in.DescriptionJA, false, MaxTitle*5)
	f.block("description_en", in.DescriptionEN, false, MaxTitle*5)
	return f.err()
}

// Products returns every product with its components, both in display order.
func (s *Store) Products(ctx context.Context) ([]Product, error) {
	var ps []Product
	err := s.db.WithContext(ctx).
		Preload("Components", func(db *gorm.DB) *gorm.DB { return db.Order("position, id") }).
		Order("position, id").Find(&ps).Error
	if err != nil {
		return nil, fmt.Errorf("data: products: %w", err)
	}
	return ps, nil
}

// Product returns one product with its components.
func (s *Store) Product(ctx context.Context, id int64) (*Product, error) {
	var p Product
	err := s.db.WithContext(ctx).
		Preload("Components", func(db *gorm.DB) *gorm.DB { return db.Order("position, id") }).
		First(&p, id).Error
	if err != nil {
		return nil, fmt.Errorf("data: product %d: %w", id, notFound(err))
	}
	return &p, nil
}

// CreateProduct adds a product at the end of the list.
func (s *Store) CreateProduct(ctx context.Context, in ProductInput) (*Product, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	p := Product{NameJA: in.NameJA, NameEN: in.NameEN, DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN, Collapsed: in.Collapsed}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var last *int
		if err := tx.Model(&Product{}).Select("MAX(position)").Scan(&last).Error; err != nil {
			return err
		}
		if last != nil {
			p.Position = *last + 1
		}
		return tx.Create(&p).Error
	})
	if err != nil {
		return nil, fmt.Errorf("data: create product: %w", err)
	}
	return &p, nil
}

// UpdateProduct changes a product's names and descriptions.
func (s *Store) UpdateProduct(ctx context.Context, id int64, in ProductInput) error {
	if err := in.validate(); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&Product{ID: id}).Select("name_ja", "name_en", "description_ja", "description_en", "collapsed", "updated_at").
		Updates(Product{NameJA: in.NameJA, NameEN: in.NameEN, DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN,
			Collapsed: in.Collapsed, UpdatedAt: s.now()})
	return rowsOrNotFound(res, "product", id)
}

// DeleteProduct removes a product that has no components left.
func (s *Store) DeleteProduct(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Component{}).Where("product_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Invalid("product", "has_components")
		}
		return rowsOrNotFound(tx.Delete(&Product{}, id), "product", id)
	})
}

// MoveProduct swaps a product with its neighbour above (delta -1) or below (+1).
func (s *Store) MoveProduct(ctx context.Context, id int64, delta int) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var all []Product
		if err := tx.Order("position, id").Find(&all).Error; err != nil {
			return err
		}
		ids := make([]int64, len(all))
		for i, p := range all {
			ids[i] = p.ID
		}
		return reorder(tx, &Product{}, ids, id, delta)
	})
}

// ComponentInput is what an operator types to create or edit a component.
type ComponentInput struct {
	ProductID                    int64
	NameJA, NameEN               string
	DescriptionJA, DescriptionEN string
	// ContractOnly shows the component only to the contracts using its
	// product (see Component.ContractOnly).
	ContractOnly bool
}

func (in *ComponentInput) validate() fieldErrors {
	in.NameJA, in.NameEN = strings.TrimSpace(in.NameJA), strings.TrimSpace(in.NameEN)
	f := fieldErrors{}
	f.line("name_ja", in.NameJA, true, MaxName)
	f.line("name_en", in.NameEN, false, MaxName)
	f.block("description_ja", in.DescriptionJA, false, MaxTitle*5)
	f.block("description_en", in.DescriptionEN, false, MaxTitle*5)
	return f
}

func productExists(tx *gorm.DB, id int64, f fieldErrors) error {
	var n int64
	if err := tx.Model(&Product{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		f.add("product_id", "invalid_choice")
	}
	return nil
}

// Component returns one component.
func (s *Store) Component(ctx context.Context, id int64) (*Component, error) {
	var c Component
	if err := s.db.WithContext(ctx).First(&c, id).Error; err != nil {
		return nil, fmt.Errorf("data: component %d: %w", id, notFound(err))
	}
	return &c, nil
}

// CreateComponent adds a component at the end of its product.
func (s *Store) CreateComponent(ctx context.Context, in ComponentInput) (*Component, error) {
	f := in.validate()
	c := Component{ProductID: in.ProductID, NameJA: in.NameJA, NameEN: in.NameEN,
		DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN, Status: Operational, ContractOnly: in.ContractOnly}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := productExists(tx, in.ProductID, f); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		var last *int
		if err := tx.Model(&Component{}).Where("product_id = ?", in.ProductID).Select("MAX(position)").Scan(&last).Error; err != nil {
			return err
		}
		if last != nil {
			c.Position = *last + 1
		}
		return tx.Create(&c).Error
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create component", err)
	}
	return &c, nil
}

// UpdateComponent edits a component; moving it to another product puts it
// at the end of that product.
func (s *Store) UpdateComponent(ctx context.Context, id int64, in ComponentInput) error {
	f := in.validate()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var c Component
		if err := tx.First(&c, id).Error; err != nil {
			return notFound(err)
		}
		if err := productExists(tx, in.ProductID, f); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		if c.ProductID != in.ProductID {
			var last *int
			if err := tx.Model(&Component{}).Where("product_id = ?", in.ProductID).Select("MAX(position)").Scan(&last).Error; err != nil {
				return err
			}
			c.Position = 0
			if last != nil {
				c.Position = *last + 1
			}
		}
		c.ProductID, c.NameJA, c.NameEN, c.DescriptionJA, c.DescriptionEN = in.ProductID, in.NameJA, in.NameEN, in.DescriptionJA, in.DescriptionEN
		c.ContractOnly = in.ContractOnly
		return tx.Save(&c).Error
	})
	return wrapUnlessInvalid(fmt.Sprintf("update component %d", id), err)
}

// SetComponentStatus sets the status an operator chose by hand.
func (s *Store) SetComponentStatus(ctx context.Context, id int64, status string) error {
	if !oneOf(status, ComponentStatuses) {
		return Invalid("status", "invalid_choice")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var c Component
		if err := s.lockRow(tx).First(&c, id).Error; err != nil {
			return notFound(err)
		}
		if c.Status == status {
			// Nothing changes, so updated_at (when its status last
			// changed, in the Statuspage JSON) stays.
			return nil
		}
		if err := tx.Model(&Component{ID: id}).Updates(map[string]any{"status": status, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		if err := s.recordComponentStatus(tx, id, status); err != nil {
			return err
		}
		return s.queueComponentUpdate(tx, &c, status)
	})
}

// ComponentUpdated is the notice of a component's status set by hand: for
// channels (Statuspage sends component updates to webhooks), not email.
const ComponentUpdated = "component_updated"

func (s *Store) queueComponentUpdate(tx *gorm.DB, c *Component, status string) error {
	chans, err := channelAudience(tx, false, []int64{c.ID})
	if err != nil || len(chans) == 0 {
		return err
	}
	names, err := s.componentTitle(tx, c)
	if err != nil {
		return err
	}
	now := s.now()
	content := NoticeContent{Kind: ComponentUpdated, Status: status, OldStatus: c.Status, ComponentID: c.ID, TitleJA: names.JA, TitleEN: names.EN,
		Components: []NoticeComponent{{NoticeName: NoticeName{c.NameJA, c.NameEN}, Status: status}}, UpdatedAt: &now, Path: "/"}
	return s.writeNotification(tx, Notification{Kind: ComponentUpdated, Thread: fmt.Sprintf("component-%d", c.ID)}, content, chans, false)
}

// DeleteComponent removes a component no incident or maintenance mentions;
// one that has history stays so that history still reads right.
func (s *Store) DeleteComponent(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		for _, table := range []string{"incident_update_components", "maintenance_components"} {
			var n int64
			if err := tx.Table(table).Where("component_id = ?", id).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return Invalid("component", "in_use")
			}
		}
		return rowsOrNotFound(tx.Delete(&Component{}, id), "component", id)
	})
}

// MoveComponent swaps a component with its neighbour within its product.
func (s *Store) MoveComponent(ctx context.Context, id int64, delta int) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var c Component
		if err := tx.First(&c, id).Error; err != nil {
			return notFound(err)
		}
		var ids []int64
		if err := tx.Model(&Component{}).Where("product_id = ?", c.ProductID).Order("position, id").Pluck("id", &ids).Error; err != nil {
			return err
		}
		return reorder(tx, &Component{}, ids, id, delta)
	})
}

// reorder moves id by delta places within ids and writes positions 0..n-1,
// which also repairs any gaps or ties left by older rows.
func reorder(tx *gorm.DB, model any, ids []int64, id int64, delta int) error {
	at := -1
	for i, v := range ids {
		if v == id {
			at = i
		}
	}
	if at < 0 {
		return ErrNotFound
	}
	to := at + delta
	if to < 0 || to >= len(ids) {
		return nil
	}
	ids[at], ids[to] = ids[to], ids[at]
	for i, v := range ids {
		if err := tx.Model(model).Where("id = ?", v).Update("position", i).Error; err != nil {
			return err
		}
	}
	return nil
}

func rowsOrNotFound(res *gorm.DB, what string, id int64) error {
	if res.Error != nil {
		return fmt.Errorf("data: %s %d: %w", what, id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("data: %s %d: %w", what, id, ErrNotFound)
	}
	return nil
}

// wrapUnlessInvalid adds context to database errors but passes validation
// errors and ErrNotFound through untouched for the caller to show.
func wrapUnlessInvalid(what string, err error) error {
	var v *ValidationError
	if err == nil || errors.As(err, &v) || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("data: %s: %w", what, err)
}
