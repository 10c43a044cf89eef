package data

import (
	"context"
	"encoding/json"
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
	return s.claim(ctx, worker, limit, lease, "channel_id IS NULL")
}

// ChannelDeliveriesDue reports whether a channel delivery is due, by a
// read, so the channel sender claims (and locks) only when there is work.
func (s *Store) ChannelDeliveriesDue(ctx context.Context) (bool, error) {
	now := s.now()
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Delivery{}).Where("((state = ? AND next_attempt_at <= ?) OR (state = ? AND claimed_until < ?)) AND channel_id IS NOT NULL",
		DeliveryPending, now, DeliverySending, now).Limit(1).Pluck("id", &ids).Error
	return len(ids) > 0, err
}

// ClaimChannelDeliveries is ClaimDeliveries for webhook, Slack and Teams
// deliveries, which their own sender takes.
func (s *Store) ClaimChannelDeliveries(ctx context.Context, worker string, limit int, lease time.Duration) ([]Claim, error) {
	return s.claim(ctx, worker, limit, lease, "channel_id IS NOT NULL")
}

func (s *Store) claim(ctx context.Context, worker string, limit int, lease time.Duration, which string) ([]Claim, error) {
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
				WHERE ((state = ? AND next_attempt_at <= ?) OR (state = ? AND claimed_until < ?)) AND `+which+`
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
	// Relay: the relay refused the session, the sender or the login, or
	// the connection failed, which says nothing about this recipient; the
	// attempt is recorded but not counted against the delivery.
	Relay bool
}

// RecordAttempt stores an attempt and moves the delivery on. It only acts on
// a delivery this worker still holds, so a claimer whose lease ran out
// cannot overwrite the work of the one that took over.
func (s *Store) RecordAttempt(ctx context.Context, deliveryID int64, worker string, o Outcome) error {
	now := s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		fields := map[string]any{"state": o.State, "attempts": gorm.Expr("attempts + 1"), "last_error": o.Error,
			"claimed_by": "", "claimed_until": nil, "updated_at": now}
		if o.Relay {
			delete(fields, "attempts")
		}
		switch o.State {
		case DeliverySent:
			fields["sent_at"] = now
			fields["message_id"] = o.MessageID
			// A sent delivery keeps the name of the dispatcher that sent it.
			delete(fields, "claimed_by")
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
		switch {
		case o.Relay:
			outcome = "relay"
		case o.State == DeliveryPending:
			outcome = "retry"
		}
		if err := tx.Create(&DeliveryAttempt{DeliveryID: deliveryID, At: now, Outcome: outcome, Code: o.Code, Error: o.Error}).Error; err != nil {
			return err
		}
		if o.State == DeliveryFailed || o.State == DeliveryBounced {
			return s.alertFirstFailure(tx, deliveryID, o.Error)
		}
		return nil
	})
}

// AlertDeliveriesFailed is the operators' channel alert that a notice's
// email could not be delivered to someone.
const AlertDeliveriesFailed = "deliveries_failed"

// alertFirstFailure tells the operators' channels when a notice's first
// email delivery fails for good (not again for the same notice).
func (s *Store) alertFirstFailure(tx *gorm.DB, deliveryID int64, why string) error {
	var d Delivery
	if err := tx.First(&d, deliveryID).Error; err != nil || d.ChannelID != nil {
		return err
	}
	var n int64
	if err := tx.Model(&Delivery{}).Where("notification_id = ? AND channel_id IS NULL AND state IN ?", d.NotificationID,
		[]string{DeliveryFailed, DeliveryBounced}).Count(&n).Error; err != nil || n != 1 {
		return err
	}
	path := fmt.Sprintf("/admin/notifications/%d", d.NotificationID)
	return s.alertOperatorChannels(tx, AlertDeliveriesFailed, "お知らせメールが届かなかった宛先があります", "A notice could not be delivered to an address",
		d.Email+": "+truncate(why, 300), d.Email+": "+truncate(why, 300), path)
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

// NextDue returns when the dispatcher next has work, or zero when nothing
// is waiting: the earliest pending delivery's next attempt, or the earliest
// claim that runs out (its holder may have died), so the dispatcher can
// sleep until then instead of waiting for a minute tick.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next time.Time
	for _, q := range []struct{ state, col string }{{DeliveryPending, "next_attempt_at"}, {DeliverySending, "claimed_until"}} {
		var ts []time.Time
		err := s.db.WithContext(ctx).Model(&Delivery{}).Where("state = ? AND "+q.col+" IS NOT NULL", q.state).
			Order(q.col).Limit(1).Pluck(q.col, &ts).Error
		if err != nil {
			return time.Time{}, fmt.Errorf("data: next due: %w", err)
		}
		if len(ts) > 0 && (next.IsZero() || ts[0].Before(next)) {
			next = ts[0]
		}
	}
	return next, nil
}

// RenewClaims extends every claim a worker holds, so claims never run out
// under a live holder however slow the relay is. It returns how many.
func (s *Store) RenewClaims(ctx context.Context, worker string, lease time.Duration) (int64, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Delivery{}).Where("state = ? AND claimed_by = ?", DeliverySending, worker).
		Updates(map[string]any{"claimed_until": now.Add(lease), "updated_at": now})
	if res.Error != nil {
		return 0, fmt.Errorf("data: renew claims: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// RetryBounced puts bounced deliveries of a notification back in the
// queue with a fresh set of attempts: one (deliveryID) or all (0).
func (s *Store) RetryBounced(ctx context.Context, notificationID, deliveryID int64) (int64, error) {
	q := s.db.WithContext(ctx).Model(&Delivery{}).Where("notification_id = ? AND state = ?", notificationID, DeliveryBounced)
	if deliveryID != 0 {
		q = q.Where("id = ?", deliveryID)
	}
	res := q.Updates(map[string]any{"state": DeliveryPending, "attempts": 0, "next_attempt_at": s.now(), "updated_at": s.now()})
	return res.RowsAffected, res.Error
}

// RelayTrouble is what the mail relay last said when it refused to take
// mail at all, shown to operators until a message goes through again.
type RelayTrouble struct {
	Stage   string
	Code    int
	Message string
	Since   time.Time
	// RetryAt is when sending is tried again.
	RetryAt time.Time
}

const settingRelayTrouble = "relay_trouble"

// SetRelayTrouble records the relay's refusal; Since stays the first time
// of an ongoing stretch of trouble.
func (s *Store) SetRelayTrouble(ctx context.Context, t RelayTrouble) error {
	old, err := s.RelayTrouble(ctx)
	if err == nil && old != nil {
		t.Since = old.Since
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := s.SetSetting(ctx, settingRelayTrouble, string(b)); err != nil {
		return err
	}
	if old != nil {
		return nil
	}
	// It has just started: the operators' channels hear of it (email
	// cannot carry the news that email is refused).
	detail := fmt.Sprintf("%s %d %s", t.Stage, t.Code, t.Message)
	return s.alertOperatorChannels(s.db.WithContext(ctx), AlertRelayRefusing, "メールの送信サーバーが受け付けを拒否しています",
		"The mail relay is refusing mail", "送信は一時停止し、自動で再試行します。\n\n"+detail, "Sending is paused and retried by itself.\n\n"+detail, "/admin/notifications")
}

// ClearRelayTrouble forgets the relay's refusal once mail goes through.
func (s *Store) ClearRelayTrouble(ctx context.Context) error {
	return s.db.WithContext(ctx).Exec("DELETE FROM settings WHERE key = ?", settingRelayTrouble).Error
}

// RelayTrouble returns the relay's current refusal, or nil.
func (s *Store) RelayTrouble(ctx context.Context) (*RelayTrouble, error) {
	v, err := s.Setting(ctx, settingRelayTrouble)
	if err != nil || v == "" {
		return nil, err
	}
	var t RelayTrouble
	if err := json.Unmarshal([]byte(v), &t); err != nil {
		return nil, fmt.Errorf("data: relay trouble: %w", err)
	}
	return &t, nil
}

// DeliveryClaimers counts a notification's sent deliveries by the
// dispatcher (instance) that sent them: how a fanout was shared.
func (s *Store) DeliveryClaimers(ctx context.Context, notificationID int64) (map[string]int64, error) {
	var rows []struct {
		ClaimedBy string
		N         int64
	}
	err := s.db.WithContext(ctx).Raw("SELECT claimed_by, COUNT(*) AS n FROM deliveries WHERE notification_id = ? AND state = ? GROUP BY claimed_by",
		notificationID, DeliverySent).Scan(&rows).Error
	out := map[string]int64{}
	for _, r := range rows {
		out[r.ClaimedBy] = r.N
	}
	return out, err
}
