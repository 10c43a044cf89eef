package data

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// MaxPasskeys is how many passkeys one operator may register: enough for
// every phone, laptop and security key they own, few enough that the list
// on the account page stays readable.
const MaxPasskeys = 20

// MaxPasskeyName is how long a passkey's name may be, in characters.
const MaxPasskeyName = 64

// OperatorPasskey is a WebAuthn credential an operator signs in with.
// CredentialID is its id in unpadded base64url; Credential is the
// WebAuthn library's record of it (public key, sign count, flags) as JSON,
// which the data package keeps without reading.
type OperatorPasskey struct {
	ID           int64
	OperatorID   int64
	Name         string
	CredentialID string
	Credential   string
	CreatedAt    time.Time
	LastUsedAt   *time.Time
}

// TableName names the passkeys table.
func (OperatorPasskey) TableName() string { return "operator_passkeys" }

// NewPasskey is a passkey to add to an operator's account.
type NewPasskey struct {
	Name         string
	CredentialID string
	Credential   string
}

// AddPasskey stores a passkey for an operator. The name is required; a
// credential already registered (to anyone) or one past MaxPasskeys is
// refused with a ValidationError.
func (s *Store) AddPasskey(ctx context.Context, operatorID int64, in NewPasskey) (*OperatorPasskey, error) {
	in.Name = strings.TrimSpace(in.Name)
	f := fieldErrors{}
	f.line("name", in.Name, true, MaxPasskeyName)
	if in.CredentialID == "" || in.Credential == "" {
		f.add("credential", "required")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	p := OperatorPasskey{OperatorID: operatorID, Name: in.Name, CredentialID: in.CredentialID, Credential: in.Credential, CreatedAt: s.now()}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&OperatorPasskey{}).Where("operator_id = ?", operatorID).Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxPasskeys {
			return Invalid("name", "passkeys.too_many")
		}
		return tx.Create(&p).Error
	})
	switch {
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return nil, Invalid("credential", "passkeys.already_registered")
	case err != nil:
		var v *ValidationError
		if errors.As(err, &v) {
			return nil, err
		}
		return nil, fmt.Errorf("data: add passkey: %w", err)
	}
	return &p, nil
}

// OperatorPasskeys lists an operator's passkeys, oldest first.
func (s *Store) OperatorPasskeys(ctx context.Context, operatorID int64) ([]OperatorPasskey, error) {
	var ps []OperatorPasskey
	err := s.db.WithContext(ctx).Where("operator_id = ?", operatorID).Order("created_at, id").Find(&ps).Error
	return ps, err
}

// CountPasskeys counts an operator's passkeys.
func (s *Store) CountPasskeys(ctx context.Context, operatorID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&OperatorPasskey{}).Where("operator_id = ?", operatorID).Count(&n).Error
	return n, err
}

// PasskeyByCredentialID finds a passkey by its credential id, whoever's it
// is: a passwordless sign-in learns the operator from it.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID string) (*OperatorPasskey, error) {
	var p OperatorPasskey
	if err := s.db.WithContext(ctx).Where("credential_id = ?", credentialID).First(&p).Error; err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}

// UsePasskey records a sign-in with a passkey: its new record (sign count
// and flags) and the time. It changes the row only while it still holds
// old, the record the sign-in was checked against, so of two sign-ins that
// raced with the same record one gets ErrNotFound.
func (s *Store) UsePasskey(ctx context.Context, operatorID, id int64, old, credential string) error {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&OperatorPasskey{}).
		Where("id = ? AND operator_id = ? AND credential = ?", id, operatorID, old).
		Updates(map[string]any{"credential": credential, "last_used_at": now})
	if res.Error != nil {
		return fmt.Errorf("data: passkey %d: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}

// RenamePasskey renames one of the operator's passkeys.
func (s *Store) RenamePasskey(ctx context.Context, operatorID, id int64, name string) error {
	name = strings.TrimSpace(name)
	f := fieldErrors{}
	f.line("name", name, true, MaxPasskeyName)
	if err := f.err(); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&OperatorPasskey{}).Where("id = ? AND operator_id = ?", id, operatorID).Update("name", name)
	if res.Error != nil {
		return fmt.Errorf("data: passkey %d: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}

// DeletePasskey removes one of the operator's passkeys; another operator's
// is ErrNotFound.
func (s *Store) DeletePasskey(ctx context.Context, operatorID, id int64) error {
	res := s.db.WithContext(ctx).Where("id = ? AND operator_id = ?", id, operatorID).Delete(&OperatorPasskey{})
	if res.Error != nil {
		return fmt.Errorf("data: passkey %d: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}
