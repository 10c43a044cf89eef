package data

import (
	"context"
	"errors"
	"fmt"

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
	if subject == "" {
		return nil, Invalid("sso_subject", "required")
	}
	in.PasswordHash = ""
	return s.createOperator(ctx, in, issuer, subject)
}
