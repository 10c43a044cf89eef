package data

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Who made a person's choice.
const (
	ChosenByPerson   = "person"
	ChosenByOperator = "operator"
)

// Person is what an email address has chosen for itself. The choices hold
// on every contract the address is listed on: a contact row says why an
// address receives a notice, the person says what it wants. A CSV import
// never writes here.
type Person struct {
	Email string `gorm:"primaryKey"`
	// Lang is the language the person chose; empty means none was chosen
	// and each contact row's language applies.
	Lang string
	// OptedOut stops the notices the address receives as an additional
	// contact. What it receives as a registered (primary) contact is part
	// of the contract and cannot be stopped.
	OptedOut  bool
	ChosenBy  string
	UpdatedAt time.Time
}

// TableName names the people table.
func (Person) TableName() string { return "people" }

// Membership is one contract an address is listed on, and as what.
type Membership struct {
	ContactID    int64
	ContractID   int64
	ContractCode string
	ContractName string
	Active       bool
	Role         string
	Lang         string
}

// Address is everything known about one email address: its choices and
// the contracts it is listed on, registered contracts first.
type Address struct {
	Person      Person
	Memberships []Membership
}

// Primary reports whether the address is the registered contact of an
// active contract, whose notices it cannot turn off.
func (a *Address) Primary() bool {
	for _, m := range a.Memberships {
		if m.Role == RolePrimary && m.Active {
			return true
		}
	}
	return false
}

// Additional reports whether the address is an additional contact of an
// active contract, whose notices it may turn off.
func (a *Address) Additional() bool {
	for _, m := range a.Memberships {
		if m.Role == RoleAdditional && m.Active {
			return true
		}
	}
	return false
}

// Lang is the language the address reads: its own choice, else the
// language of its first listing.
func (a *Address) Lang() string {
	if a.Person.Lang != "" {
		return a.Person.Lang
	}
	if len(a.Memberships) > 0 {
		return a.Memberships[0].Lang
	}
	return "ja"
}

// Address returns an address's choices and listings. An address on no
// contract is ErrNotFound.
func (s *Store) Address(ctx context.Context, email string) (*Address, error) {
	email = NormalizeEmail(email)
	a := &Address{Person: Person{Email: email}}
	db := s.db.WithContext(ctx)
	err := db.Table("contacts").
		Select("contacts.id AS contact_id, contacts.contract_id, contracts.code AS contract_code, contracts.name AS contract_name, contracts.active, contacts.role, contacts.lang").
		Joins("JOIN contracts ON contracts.id = contacts.contract_id").
		Where("contacts.email = ?", email).
		Order("CASE WHEN contacts.role = 'primary' THEN 0 ELSE 1 END, contracts.code").
		Scan(&a.Memberships).Error
	if err != nil {
		return nil, fmt.Errorf("data: address: %w", err)
	}
	if len(a.Memberships) == 0 {
		return nil, fmt.Errorf("data: address: %w", ErrNotFound)
	}
	var p Person
	switch err := db.Where("email = ?", email).First(&p).Error; {
	case err == nil:
		a.Person = p
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, fmt.Errorf("data: address: %w", err)
	}
	return a, nil
}

// AddressOfContact returns the address a contact row lists, with its
// choices and every other listing.
func (s *Store) AddressOfContact(ctx context.Context, contactID int64) (*Address, error) {
	ct, err := s.Contact(ctx, contactID)
	if err != nil {
		return nil, err
	}
	return s.Address(ctx, ct.Email)
}

// PeopleChoices returns the stored choices of these addresses, by address.
func (s *Store) PeopleChoices(ctx context.Context, emails []string) (map[string]Person, error) {
	out := map[string]Person{}
	if len(emails) == 0 {
		return out, nil
	}
	var ps []Person
	for start := 0; start < len(emails); start += 500 {
		end := min(start+500, len(emails))
		var part []Person
		if err := s.db.WithContext(ctx).Where("email IN ?", emails[start:end]).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("data: people: %w", err)
		}
		ps = append(ps, part...)
	}
	for _, p := range ps {
		out[p.Email] = p
	}
	return out, nil
}

// SetChoices stores what an address wants: its language ("" for none
// chosen) and whether it stops the notices it may stop. by says who made
// the choice: the person from a signed link, or an operator on their behalf.
func (s *Store) SetChoices(ctx context.Context, email, lang string, optedOut bool, by string) error {
	email = NormalizeEmail(email)
	if lang != "" && !oneOf(lang, ContactLanguages) {
		return Invalid("lang", "invalid_choice")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Contact{}).Where("email = ?", email).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return savePerson(tx, Person{Email: email, Lang: lang, OptedOut: optedOut, ChosenBy: by, UpdatedAt: s.now()})
	})
}

func savePerson(tx *gorm.DB, p Person) error {
	if err := tx.Where("email = ?", p.Email).Delete(&Person{}).Error; err != nil {
		return err
	}
	return tx.Create(&p).Error
}

// OptOutAddress is one-click unsubscribe from a contact's link: the
// address stops every notice it receives as an additional contact, on
// every contract. An address that is only ever a registered contact has
// nothing it may stop.
func (s *Store) OptOutAddress(ctx context.Context, contactID int64) error {
	a, err := s.AddressOfContact(ctx, contactID)
	if err != nil {
		return err
	}
	if !a.Additional() {
		return Invalid("role", "primary_cannot_opt_out")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		p := a.Person
		p.OptedOut, p.ChosenBy, p.UpdatedAt = true, ChosenByPerson, s.now()
		return savePerson(tx, p)
	})
}
