package data

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// ErrSSOTaken says an operator is tied to another account at the identity
// provider already (or that account to another operator): a second
// account with the same address does not take the first one's place.
var ErrSSOTaken = errors.New("data: the operator is tied to another identity-provider account")

// OperatorBySSO returns the operator tied to that subject at that issuer.
func (s *Store) OperatorBySSO(ctx context.Context, issuer, subject string) (*Operator, error) {
	if subject == "" {
		return nil, ErrNotFound
	}
	var o Operator
	if err := s.db.WithContext(ctx).Where("sso_issuer = ? AND sso_subject = ?", issuer, subject).First(&o).Error; err != nil {
		return nil, fmt.Errorf("data: operator by sso subject: %w", notFound(err))
	}
	return &o, nil
}

// TieOperatorSSO ties an operator not yet tied to anyone to a subject at
// the identity provider; ErrSSOTaken when it is tied already, or the
// subject is tied to someone else.
func (s *Store) TieOperatorSSO(ctx context.Context, id int64, issuer, subject string) error {
	if subject == "" {
		return Invalid("sso_subject", "required")
	}
	res := s.db.WithContext(ctx).Model(&Operator{}).Where("id = ? AND sso_subject = ''", id).
		Updates(map[string]any{"sso_issuer": issuer, "sso_subject": subject, "updated_at": s.now()})
	switch {
	case errors.Is(res.Error, gorm.ErrDuplicatedKey):
		return ErrSSOTaken
	case res.Error != nil:
		return fmt.Errorf("data: tie operator %d to sso: %w", id, res.Error)
	case res.RowsAffected == 0:
		return ErrSSOTaken
	}
	return nil
}

// CreateSSOOperator adds an operator who signs in through the identity
// provider only (no password), tied to its subject from the start.
func (s *Store) CreateSSOOperator(ctx context.Context, in NewOperator, issuer, subject string) (*Operator, error) {
	in.Email, in.Name = NormalizeEmail(in.Email), strings.TrimSpace(in.Name)
	f := fieldErrors{}
	if !ValidEmail(in.Email) {
		f.add("email", "bad_email")
	}
	f.line("name", in.Name, false, MaxName)
	if in.Role != RoleAdmin && in.Role != RoleEditor {
		f.add("role", "invalid_choice")
	}
	if subject == "" {
		f.add("sso_subject", "required")
	}
	if in.Lang == "" {
		in.Lang = OperatorLangs[0]
	} else if !ValidOperatorLang(in.Lang) {
		f.add("lang", "operatorlang_unknown")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	o := Operator{Email: in.Email, Name: in.Name, Role: in.Role, Lang: in.Lang, SSOIssuer: issuer, SSOSubject: subject}
	if err := s.db.WithContext(ctx).Create(&o).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, Invalid("email", "email_taken")
		}
		return nil, fmt.Errorf("data: create sso operator: %w", err)
	}
	return &o, nil
}
