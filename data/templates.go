package data

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// IncidentTemplate is a prepared declaration an operator can start from
// under stress: titles and bodies in both languages, an impact, a status
// and the status it puts components in. ProductID nil means any product.
type IncidentTemplate struct {
	ID               int64
	ProductID        *int64
	Name             string
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	Impact           string
	Status           string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Components       []IncidentTemplateComponent `gorm:"foreignKey:TemplateID"`
}

// IncidentTemplateComponent is the status a template puts a component in.
type IncidentTemplateComponent struct {
	TemplateID  int64 `gorm:"primaryKey;autoIncrement:false"`
	ComponentID int64 `gorm:"primaryKey;autoIncrement:false"`
	Status      string
}

// ComponentStatuses maps each component to the status the template sets.
func (t *IncidentTemplate) ComponentStatuses() map[int64]string {
	m := map[int64]string{}
	for _, c := range t.Components {
		m[c.ComponentID] = c.Status
	}
	return m
}

// TemplateInput is what an operator enters for a template.
type TemplateInput struct {
	Name             string
	ProductID        int64
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	Impact, Status   string
	Components       map[int64]string
}

func (s *Store) validateTemplate(tx *gorm.DB, in *TemplateInput) error {
	f := fieldErrors{}
	in.Name = strings.TrimSpace(in.Name)
	f.line("name", in.Name, true, MaxName)
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	validateBodies(f, in.BodyJA, in.BodyEN)
	if !oneOf(in.Impact, Impacts) {
		f.add("impact", "invalid_choice")
	}
	if !oneOf(in.Status, IncidentStatuses) || in.Status == Resolved {
		f.add("status", "invalid_choice")
	}
	if in.ProductID != 0 {
		var n int64
		if err := tx.Model(&Product{}).Where("id = ?", in.ProductID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			f.add("product", "invalid_choice")
		}
	}
	if err := s.validateComponents(tx, f, in.Components); err != nil {
		return err
	}
	return f.err()
}

func setTemplateComponents(tx *gorm.DB, id int64, comps map[int64]string) error {
	if err := tx.Where("template_id = ?", id).Delete(&IncidentTemplateComponent{}).Error; err != nil {
		return err
	}
	rows := make([]IncidentTemplateComponent, 0, len(comps))
	for c, st := range comps {
		rows = append(rows, IncidentTemplateComponent{TemplateID: id, ComponentID: c, Status: st})
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.Create(&rows).Error
}

func (in *TemplateInput) fields(t *IncidentTemplate) {
	t.Name, t.TitleJA, t.TitleEN, t.BodyJA, t.BodyEN, t.Impact, t.Status = in.Name, in.TitleJA, in.TitleEN, in.BodyJA, in.BodyEN, in.Impact, in.Status
	t.ProductID = nil
	if in.ProductID != 0 {
		id := in.ProductID
		t.ProductID = &id
	}
}

// CreateTemplate adds an incident template.
func (s *Store) CreateTemplate(ctx context.Context, in TemplateInput) (*IncidentTemplate, error) {
	var t IncidentTemplate
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.validateTemplate(tx, &in); err != nil {
			return err
		}
		in.fields(&t)
		if err := tx.Omit("Components").Create(&t).Error; err != nil {
			return err
		}
		return setTemplateComponents(tx, t.ID, in.Components)
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create template", err)
	}
	return &t, nil
}

// UpdateTemplate replaces an incident template's content.
func (s *Store) UpdateTemplate(ctx context.Context, id int64, in TemplateInput) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var t IncidentTemplate
		if err := tx.First(&t, id).Error; err != nil {
			return notFound(err)
		}
		if err := s.validateTemplate(tx, &in); err != nil {
			return err
		}
		in.fields(&t)
		t.UpdatedAt = s.now()
		if err := tx.Omit("Components", "CreatedAt").Save(&t).Error; err != nil {
			return err
		}
		return setTemplateComponents(tx, id, in.Components)
	})
	return wrapUnlessInvalid(fmt.Sprintf("update template %d", id), err)
}

// DeleteTemplate removes an incident template.
func (s *Store) DeleteTemplate(ctx context.Context, id int64) error {
	return rowsOrNotFound(s.db.WithContext(ctx).Delete(&IncidentTemplate{}, id), "template", id)
}

// Template returns one incident template with its component statuses.
func (s *Store) Template(ctx context.Context, id int64) (*IncidentTemplate, error) {
	var t IncidentTemplate
	if err := s.db.WithContext(ctx).Preload("Components").First(&t, id).Error; err != nil {
		return nil, fmt.Errorf("data: template %d: %w", id, notFound(err))
	}
	return &t, nil
}

// Templates lists the incident templates by name.
func (s *Store) Templates(ctx context.Context) ([]IncidentTemplate, error) {
	var ts []IncidentTemplate
	if err := s.db.WithContext(ctx).Preload("Components").Order("name, id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("data: templates: %w", err)
	}
	return ts, nil
}
