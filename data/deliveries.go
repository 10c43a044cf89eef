package data

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Claim is a delivery taken by one dispatcher, with its notification.
type Claim struct {
	Delivery     Delivery
	Notification Notification
}

// ClaimDeliveries takes up to limit deliveries that are due, and those whose
// claimer's lease ran out (it died or hung), for worker until now+lease.
// On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so
// concurrent claimers take disjoint rows without waiting; on SQLite the
// immediate transaction makes claimers take turns, and the conditional
// UPDATE … RETURNING does the rest.
func (s *Store) ClaimDeliveries(ctx context.Context, worker string, limit int, lease time.Duration) ([]Claim, error) {
	// A claim is short and must not be cut off half-way: a commit the
	// database made but the driver reported as cancelled would leave rows
	// claimed by nobody until the lease runs out. Callers check their
	// context before claiming.
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var ids []int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`UPDATE deliveries SET state = ?, claimed_by = ?, claimed_until = ?, updated_at = ?
			WHERE id IN (SELECT id FROM deliveries
				WHERE (state = ? AND next_attempt_at <= ?) OR (state = ? AND claimed_until < ?)
				ORDER BY next_attempt_at, id LIMIT ?`+lock+`)
			RETURNING id`,
			DeliverySending, worker, now.Add(lease), now,
			DeliveryPending, now, DeliverySending, now, limit).Scan(&ids).Error
	})
	if err != nil {
		return nil, fmt.Errorf("data: claim deliveries: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var ds []Delivery
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Order("next_attempt_at, id").Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("data: claimed deliveries: %w", err)
	}
	nids := map[int64]bool{}
	var list []int64
	for _, d := range ds {
		if !nids[d.NotificationID] {
			nids[d.NotificationID] = true
			list = append(list, d.NotificationID)
		}
	}
	var ns []Notification
	if err := s.db.WithContext(ctx).Where("id IN ?", list).Find(&ns).Error; err != nil {
		return nil, fmt.Errorf("data: claimed notifications: %w", err)
	}
	byID := map[int64]Notification{}
	for _, n := range ns {
		byID[n.ID] = n
	}
	out := make([]Claim, len(ds))
	for i, d := range ds {
		out[i] = Claim{Delivery: d, Notification: byID[d.NotificationID]}
	}
	return out, nil
}

// Outcome is what one attempt to send a delivery came to.
type Outcome struct {
	// State is sent, pending (retry at NextAttempt), failed or bounced.
	State       string
	Code        int
	Error       string
	MessageID   string
	NextAttempt time.Time
}

// RecordAttempt stores an attempt and moves the delivery on. It only acts on
// a delivery this worker still holds, so a claimer whose lease ran out
// cannot overwrite the work of the one that took over.
func (s *Store) RecordAttempt(ctx context.Context, deliveryID int64, worker string, o Outcome) error {
	now := s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		fields := map[string]any{"state": o.State, "attempts": gorm.Expr("attempts + 1"), "last_error": o.Error,
			"claimed_by": "", "claimed_until": nil, "updated_at": now}
		switch o.State {
		case DeliverySent:
			fields["sent_at"] = now
			fields["message_id"] = o.MessageID
		case DeliveryPending:
			fields["next_attempt_at"] = o.NextAttempt
		}
		res := tx.Model(&Delivery{}).Where("id = ? AND state = ? AND claimed_by = ?", deliveryID, DeliverySending, worker).Updates(fields)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("data: delivery %d is no longer held by %s", deliveryID, worker)
		}
		outcome := o.State
		if o.State == DeliveryPending {
			outcome = "retry"
		}
		return tx.Create(&DeliveryAttempt{DeliveryID: deliveryID, At: now, Outcome: outcome, Code: o.Code, Error: o.Error}).Error
	})
}

// ReleaseClaims hands back the deliveries a worker claimed but did not
// start, so a clean shutdown leaves nothing waiting for a lease to expire.
func (s *Store) ReleaseClaims(ctx context.Context, worker string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&Delivery{}).
		Where("id IN ? AND state = ? AND claimed_by = ?", ids, DeliverySending, worker).
		Updates(map[string]any{"state": DeliveryPending, "claimed_by": "", "claimed_until": nil, "updated_at": s.now()}).Error
}

// NextDue returns when the next pending delivery is due, or zero when none
// is waiting, so the dispatcher can sleep until then.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var ts []time.Time
	err := s.db.WithContext(ctx).Model(&Delivery{}).Where("state = ?", DeliveryPending).
		Order("next_attempt_at").Limit(1).Pluck("next_attempt_at", &ts).Error
	if err != nil || len(ts) == 0 {
		return time.Time{}, err
	}
	return ts[0], nil
}
