package data

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Contact roles: the primary contact was registered when the contract was
// signed; additional contacts were added later and may opt out.
const (
	RolePrimary    = "primary"
	RoleAdditional = "additional"
)

// ContactRoles lists the contact roles.
var ContactRoles = []string{RolePrimary, RoleAdditional}

// ContactLanguages lists the languages a contact can receive email in.
var ContactLanguages = []string{"ja", "en"}

// Contract is a customer organisation and the products it uses.
type Contract struct {
	ID      int64
	Code    string
	Name    string
	Active  bool
	EndedAt *time.Time
	// StartedAt is when the service began (SLA periods start no earlier);
	// nil counts from the first period asked for.
	StartedAt *time.Time
	// PortalDisabled keeps the contract's contacts out of the portal.
	PortalDisabled bool
	// SLATarget overrides every product's commitment ("99.95"); "" uses
	// each product's.
	SLATarget string
	// SLAReportMail mails the month's report to the primary contacts.
	SLAReportMail bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Products      []ContractProduct `gorm:"foreignKey:ContractID"`
	Contacts      []Contact         `gorm:"foreignKey:ContractID"`
}

// ProductIDs lists the products the contract uses.
func (c *Contract) ProductIDs() []int64 {
	ids := make([]int64, len(c.Products))
	for i, p := range c.Products {
		ids[i] = p.ProductID
	}
	return ids
}

// ContractProduct links a contract to a product it uses.
type ContractProduct struct {
	ContractID int64 `gorm:"primaryKey;autoIncrement:false"`
	ProductID  int64 `gorm:"primaryKey;autoIncrement:false"`
}

// Contact is a person at a contract who receives notices.
type Contact struct {
	ID         int64
	ContractID int64
	Name       string
	Email      string
	Lang       string
	Role       string
	// AddedByContactID is the primary contact who added this one in the
	// portal; nil for contacts from operators or the import.
	AddedByContactID *int64
	// ConfirmedAt is when the address confirmed; a contact added in the
	// portal gets no notice before.
	ConfirmedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ContractInput is what an operator enters for a contract.
type ContractInput struct {
	Code, Name string
	Active     bool
	ProductIDs []int64
}

// ContactInput is what an operator enters for a contact.
type ContactInput struct {
	Name, Email, Lang, Role string
}

// MaxCode is the longest contract code accepted.
const MaxCode = 64

func (in *ContractInput) validate(f fieldErrors) {
	in.Code, in.Name = strings.TrimSpace(in.Code), strings.TrimSpace(in.Name)
	f.line("code", in.Code, true, MaxCode)
	f.line("name", in.Name, true, MaxTitle)
}

func (in *ContactInput) validate(f fieldErrors) {
	in.Name, in.Email = strings.TrimSpace(in.Name), NormalizeEmail(in.Email)
	f.line("name", in.Name, false, MaxName)
	if !ValidEmail(in.Email) {
		f.add("email", "bad_email")
	}
	if !oneOf(in.Lang, ContactLanguages) {
		f.add("lang", "invalid_choice")
	}
	if !oneOf(in.Role, ContactRoles) {
		f.add("role", "invalid_choice")
	}
}

func productsExist(tx *gorm.DB, f fieldErrors, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	var n int64
	if err := tx.Model(&Product{}).Where("id IN ?", ids).Count(&n).Error; err != nil {
		return err
	}
	if int(n) != len(seen) {
		f.add("products", "invalid_choice")
	}
	return nil
}

func setContractProducts(tx *gorm.DB, id int64, ids []int64) error {
	if err := tx.Where("contract_id = ?", id).Delete(&ContractProduct{}).Error; err != nil {
		return err
	}
	seen := map[int64]bool{}
	var rows []ContractProduct
	for _, p := range ids {
		if !seen[p] {
			seen[p] = true
			rows = append(rows, ContractProduct{ContractID: id, ProductID: p})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.Create(&rows).Error
}

// CreateContract adds a contract; its code must be unused.
func (s *Store) CreateContract(ctx context.Context, in ContractInput) (*Contract, error) {
	f := fieldErrors{}
	in.validate(f)
	c := Contract{Code: in.Code, Name: in.Name, Active: in.Active}
	if !in.Active {
		now := s.now()
		c.EndedAt = &now
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := productsExist(tx, f, in.ProductIDs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		// Select names every column, so an inactive contract is stored as
		// such rather than taking the column default.
		if err := tx.Select("*").Omit("id").Create(&c).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return Invalid("code", "duplicate_code")
			}
			return err
		}
		return setContractProducts(tx, c.ID, in.ProductIDs)
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create contract", err)
	}
	return &c, nil
}

// UpdateContract edits a contract. Ending it stamps the end time;
// reactivating clears it.
func (s *Store) UpdateContract(ctx context.Context, id int64, in ContractInput) error {
	f := fieldErrors{}
	in.validate(f)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var c Contract
		if err := tx.First(&c, id).Error; err != nil {
			return notFound(err)
		}
		if err := productsExist(tx, f, in.ProductIDs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		fields := map[string]any{"code": in.Code, "name": in.Name, "active": in.Active, "updated_at": s.now()}
		switch {
		case !in.Active && c.Active:
			fields["ended_at"] = s.now()
		case in.Active:
			fields["ended_at"] = nil
		}
		if err := tx.Model(&Contract{ID: id}).Updates(fields).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return Invalid("code", "duplicate_code")
			}
			return err
		}
		return setContractProducts(tx, id, in.ProductIDs)
	})
	return wrapUnlessInvalid(fmt.Sprintf("update contract %d", id), err)
}

// Contract returns a contract with its products and contacts.
func (s *Store) Contract(ctx context.Context, id int64) (*Contract, error) {
	var c Contract
	err := s.db.WithContext(ctx).Preload("Products").
		Preload("Contacts", func(db *gorm.DB) *gorm.DB { return db.Order("CASE WHEN role = 'primary' THEN 0 ELSE 1 END, email") }).
		First(&c, id).Error
	if err != nil {
		return nil, fmt.Errorf("data: contract %d: %w", id, notFound(err))
	}
	return &c, nil
}

// ContractFilter narrows the contract list.
type ContractFilter struct {
	// Query matches the code, the name or a contact's email, anywhere.
	Query string
	// State is "active", "ended" or empty for both.
	State         string
	Limit, Offset int
}

func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + strings.ToLower(r.Replace(q)) + "%"
}

// Contracts lists contracts by code, with their products and contacts, and
// the total that match.
func (s *Store) Contracts(ctx context.Context, f ContractFilter) ([]Contract, int64, error) {
	q := s.db.WithContext(ctx).Model(&Contract{})
	if t := strings.TrimSpace(f.Query); t != "" {
		p := likePattern(t)
		q = q.Where(`LOWER(code) LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\' OR id IN (SELECT contract_id FROM contacts WHERE email LIKE ? ESCAPE '\')`, p, p, p)
	}
	switch f.State {
	case "active":
		q = q.Where("active = ?", true)
	case "ended":
		q = q.Where("active = ?", false)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count contracts: %w", err)
	}
	var cs []Contract
	if f.Limit == 0 {
		f.Limit = -1
	}
	err := q.Preload("Products").Preload("Contacts", func(db *gorm.DB) *gorm.DB { return db.Order("email") }).
		Order("code").Limit(f.Limit).Offset(f.Offset).Find(&cs).Error
	if err != nil {
		return nil, 0, fmt.Errorf("data: contracts: %w", err)
	}
	return cs, total, nil
}

// AddContact adds a contact to a contract.
func (s *Store) AddContact(ctx context.Context, contractID int64, in ContactInput) (*Contact, error) {
	f := fieldErrors{}
	in.validate(f)
	if err := f.err(); err != nil {
		return nil, err
	}
	// An operator's contact is confirmed as made: the operator vouches
	// for the address.
	now := s.now()
	c := Contact{ContractID: contractID, Name: in.Name, Email: in.Email, Lang: in.Lang, Role: in.Role, ConfirmedAt: &now}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Contract{}).Where("id = ?", contractID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		if err := tx.Create(&c).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return Invalid("email", "email_taken")
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, wrapUnlessInvalid(fmt.Sprintf("contract %d: add contact", contractID), err)
	}
	return &c, nil
}

// Contact returns one contact.
func (s *Store) Contact(ctx context.Context, id int64) (*Contact, error) {
	var c Contact
	if err := s.db.WithContext(ctx).First(&c, id).Error; err != nil {
		return nil, fmt.Errorf("data: contact %d: %w", id, notFound(err))
	}
	return &c, nil
}

// UpdateContact edits a contact.
func (s *Store) UpdateContact(ctx context.Context, id int64, in ContactInput) error {
	f := fieldErrors{}
	in.validate(f)
	if err := f.err(); err != nil {
		return err
	}
	fields := map[string]any{"name": in.Name, "email": in.Email, "lang": in.Lang, "role": in.Role, "updated_at": s.now()}
	res := s.db.WithContext(ctx).Model(&Contact{ID: id}).Updates(fields)
	if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
		return Invalid("email", "email_taken")
	}
	return rowsOrNotFound(res, "contact", id)
}

// DeleteContact removes a contact.
func (s *Store) DeleteContact(ctx context.Context, id int64) error {
	return rowsOrNotFound(s.db.WithContext(ctx).Delete(&Contact{}, id), "contact", id)
}

// Setting returns a stored setting, or "" when unset.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var vals []string
	if err := s.db.WithContext(ctx).Table("settings").Where("key = ?", key).Pluck("value", &vals).Error; err != nil {
		return "", fmt.Errorf("data: setting %s: %w", key, err)
	}
	if len(vals) == 0 {
		return "", nil
	}
	return vals[0], nil
}

// EnsureSetting stores value under key unless a value is there already, and
// returns the value that wins. Several instances starting at once agree on
// one value.
func (s *Store) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Table("settings").Where("key = ?", key).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		return tx.Exec("INSERT INTO settings (key, value) VALUES (?, ?)", key, value).Error
	})
	if err != nil && !errors.Is(err, gorm.ErrDuplicatedKey) {
		return "", fmt.Errorf("data: setting %s: %w", key, err)
	}
	return s.Setting(ctx, key)
}

// DeleteSetting removes a setting.
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	return s.db.WithContext(ctx).Exec("DELETE FROM settings WHERE key = ?", key).Error
}

// SetSetting stores a setting, replacing any value.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM settings WHERE key = ?", key).Error; err != nil {
			return err
		}
		return tx.Exec("INSERT INTO settings (key, value) VALUES (?, ?)", key, value).Error
	})
}
