package data

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Integration kinds: what an alert webhook sends.
const (
	IntegrationAlertmanager = "alertmanager"
	IntegrationGrafana      = "grafana"
	IntegrationGeneric      = "generic"
)

// IntegrationKinds lists the kinds in the order the console offers them.
var IntegrationKinds = []string{IntegrationAlertmanager, IntegrationGrafana, IntegrationGeneric}

// Integration is an alert webhook: an outside system (Prometheus
// Alertmanager, Grafana, anything that posts JSON) that reports
// components firing and resolved.
type Integration struct {
	ID   int64
	Name string
	Kind string
	// SecretHash is the SHA-256 of the secret in its URL; the secret
	// itself is shown once.
	SecretHash string
	// FailureStatus is what a firing alert reports when it names none.
	FailureStatus string
	CreatedBy     *int64
	CreatedAt     time.Time
	RevokedAt     *time.Time
	LastUsedAt    *time.Time
}

// CreateIntegration adds an alert webhook whose secret hashes to hash.
func (s *Store) CreateIntegration(ctx context.Context, name, kind, failureStatus, hash string, createdBy int64) (*Integration, error) {
	name = strings.TrimSpace(name)
	f := fieldErrors{}
	f.line("name", name, true, MaxName)
	if !oneOf(kind, IntegrationKinds) {
		f.add("kind", "invalid_choice")
	}
	if !oneOf(failureStatus, []string{DegradedPerformance, PartialOutage, MajorOutage}) {
		f.add("failure_status", "invalid_choice")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	in := Integration{Name: name, Kind: kind, FailureStatus: failureStatus, SecretHash: hash, CreatedBy: &createdBy, CreatedAt: s.now()}
	if err := s.db.WithContext(ctx).Create(&in).Error; err != nil {
		return nil, fmt.Errorf("data: create integration: %w", err)
	}
	return &in, nil
}

// Integrations lists the alert webhooks, newest first.
func (s *Store) Integrations(ctx context.Context) ([]Integration, error) {
	var out []Integration
	return out, s.db.WithContext(ctx).Order("created_at DESC, id DESC").Find(&out).Error
}

// Integration returns one alert webhook.
func (s *Store) Integration(ctx context.Context, id int64) (*Integration, error) {
	var in Integration
	if err := s.db.WithContext(ctx).First(&in, id).Error; err != nil {
		return nil, fmt.Errorf("data: integration %d: %w", id, notFound(err))
	}
	return &in, nil
}

// RevokeIntegration stops an alert webhook for good; what it reported is
// withdrawn.
func (s *Store) RevokeIntegration(ctx context.Context, id int64, hold bool) ([]*SignalOutcome, error) {
	var outs []*SignalOutcome
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Integration{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now())
		if err := rowsOrNotFound(res, "integration", id); err != nil {
			return err
		}
		var rows []componentSignal
		if err := tx.Where("source LIKE ?", fmt.Sprintf("hook:%d:%%", id)).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			out, err := s.signal(tx, Signal{ComponentID: r.ComponentID, Source: r.Source, Status: Operational, Hold: hold})
			if err != nil {
				return err
			}
			if out != nil {
				outs = append(outs, out)
			}
		}
		return nil
	})
	return outs, wrapUnlessInvalid(fmt.Sprintf("revoke integration %d", id), err)
}

// TouchIntegration records that an alert webhook was used.
func (s *Store) TouchIntegration(ctx context.Context, id int64) error {
	return s.db.WithContext(ctx).Model(&Integration{}).Where("id = ?", id).Update("last_used_at", s.now()).Error
}
