package data

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// RoleSubscriber marks a delivery to a public subscriber, not a contact.
const RoleSubscriber = "subscriber"

// Kinds of the emails about a subscription itself: the double opt-in, and
// the link to change it, sent when a confirmed address asks again.
const (
	SubscriptionConfirm = "subscription_confirm"
	SubscriptionManage  = "subscription_manage"
)

// SettingSubscriberMinImpact names the lowest incident impact subscribers
// are emailed about ("off" emails them nothing).
const SettingSubscriberMinImpact = "subscriber_min_impact"

// SubscriberImpacts are the choices for SettingSubscriberMinImpact.
var SubscriberImpacts = []string{"minor", "major", "critical", "off"}

// Subscriber is someone from the public who asked for incident and
// maintenance email, confirmed by a link (double opt-in).
type Subscriber struct {
	ID          int64
	Email       string
	Lang        string
	AllProducts bool
	ConfirmHash string
	ConfirmedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Products    []SubscriberProduct `gorm:"foreignKey:SubscriberID"`
}

// SubscriberProduct is a product a subscriber chose.
type SubscriberProduct struct {
	SubscriberID int64 `gorm:"primaryKey;autoIncrement:false"`
	ProductID    int64 `gorm:"primaryKey;autoIncrement:false"`
}

// ConfirmWindow is how long a confirmation link works.
const ConfirmWindow = 7 * 24 * time.Hour

// Subscribe records a request and queues the confirmation email, in one
// transaction. An address already confirmed keeps its choices and is sent
// a link to change them instead, so the visitor sees the same answer
// either way and the form does not reveal who subscribes. An unconfirmed
// one gets its choices replaced and a new confirmation.
func (s *Store) Subscribe(ctx context.Context, email, lang string, productIDs []int64, hold bool) (*Subscriber, error) {
	sub, err := s.subscribe(ctx, email, lang, productIDs, hold)
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// Another request for the same address created it a moment ago:
		// this one goes through as a request for an existing address.
		sub, err = s.subscribe(ctx, email, lang, productIDs, hold)
	}
	if err != nil {
		return nil, wrapUnlessInvalid("subscribe", err)
	}
	return sub, nil
}

func (s *Store) subscribe(ctx context.Context, email, lang string, productIDs []int64, hold bool) (*Subscriber, error) {
	email = NormalizeEmail(email)
	f := fieldErrors{}
	if !ValidEmail(email) {
		f.add("email", "bad_email")
	}
	if !oneOf(lang, ContactLanguages) {
		f.add("lang", "invalid_choice")
	}
	var sub Subscriber
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := productsExist(tx, f, productIDs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		kind := SubscriptionConfirm
		err := tx.Where("email = ?", email).First(&sub).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			sub = Subscriber{Email: email, Lang: lang, AllProducts: len(productIDs) == 0}
			if err := tx.Select("*").Omit("id").Create(&sub).Error; err != nil {
				return err
			}
		case err != nil:
			return err
		case sub.ConfirmedAt != nil:
			kind = SubscriptionManage
		default:
			if err := tx.Model(&Subscriber{ID: sub.ID}).Updates(map[string]any{"lang": lang, "all_products": len(productIDs) == 0,
				"created_at": s.now(), "updated_at": s.now()}).Error; err != nil {
				return err
			}
		}
		if kind == SubscriptionConfirm {
			if err := setSubscriberProducts(tx, sub.ID, productIDs); err != nil {
				return err
			}
		} else {
			// The link goes in the language the subscriber already reads.
			lang = sub.Lang
		}
		content := NoticeContent{Kind: kind, Path: "/subscribe"}
		n := Notification{Kind: kind, Thread: fmt.Sprintf("subscriber-%d", sub.ID)}
		return s.writeNotification(tx, n, content, []Recipient{{SubscriberID: sub.ID, Email: email, Lang: lang, Role: RoleSubscriber}}, hold)
	})
	if err != nil {
		return nil, err
	}
	return &sub, nil
}

// UpdateSubscriber changes what a confirmed subscriber receives: the
// language, and the products (none chosen means all of them).
func (s *Store) UpdateSubscriber(ctx context.Context, id int64, lang string, productIDs []int64) error {
	f := fieldErrors{}
	if !oneOf(lang, ContactLanguages) {
		f.add("lang", "invalid_choice")
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := productsExist(tx, f, productIDs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		res := tx.Model(&Subscriber{}).Where("id = ? AND confirmed_at IS NOT NULL", id).
			Updates(map[string]any{"lang": lang, "all_products": len(productIDs) == 0, "updated_at": s.now()})
		if err := rowsOrNotFound(res, "subscriber", id); err != nil {
			return err
		}
		return setSubscriberProducts(tx, id, productIDs)
	})
	return wrapUnlessInvalid("update subscriber", err)
}

func setSubscriberProducts(tx *gorm.DB, id int64, productIDs []int64) error {
	if err := tx.Where("subscriber_id = ?", id).Delete(&SubscriberProduct{}).Error; err != nil {
		return err
	}
	seen := map[int64]bool{}
	for _, p := range productIDs {
		if !seen[p] {
			seen[p] = true
			if err := tx.Create(&SubscriberProduct{SubscriberID: id, ProductID: p}).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// Subscriber returns one subscriber.
func (s *Store) Subscriber(ctx context.Context, id int64) (*Subscriber, error) {
	var sub Subscriber
	if err := s.db.WithContext(ctx).Preload("Products").First(&sub, id).Error; err != nil {
		return nil, fmt.Errorf("data: subscriber %d: %w", id, notFound(err))
	}
	return &sub, nil
}

// ConfirmSubscriber completes the double opt-in, if the link is still in
// its window.
func (s *Store) ConfirmSubscriber(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Model(&Subscriber{}).
		Where("id = ? AND (confirmed_at IS NOT NULL OR created_at > ?)", id, s.now().Add(-ConfirmWindow)).
		Updates(map[string]any{"confirmed_at": gorm.Expr("COALESCE(confirmed_at, ?)", s.now()), "updated_at": s.now()})
	return rowsOrNotFound(res, "subscriber", id)
}

// PruneUnconfirmedSubscribers forgets requests whose confirmation window
// closed before they were confirmed: such an address never agreed to
// anything, so nothing about it is kept. Chosen products go with it
// (ON DELETE CASCADE).
func (s *Store) PruneUnconfirmedSubscribers(ctx context.Context, requestedBefore time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("confirmed_at IS NULL AND created_at <= ?", requestedBefore.UTC()).Delete(&Subscriber{})
	return res.RowsAffected, res.Error
}

// Unsubscribe forgets a subscriber entirely.
func (s *Store) Unsubscribe(ctx context.Context, id int64) error {
	return rowsOrNotFound(s.db.WithContext(ctx).Delete(&Subscriber{}, id), "subscriber", id)
}

// Subscribers lists public subscribers, newest first, with their chosen
// products, and how many match; query matches part of the address.
func (s *Store) Subscribers(ctx context.Context, query string, limit, offset int) ([]Subscriber, int64, error) {
	q := s.db.WithContext(ctx).Model(&Subscriber{})
	if t := strings.TrimSpace(query); t != "" {
		q = q.Where(`email LIKE ? ESCAPE '\'`, likePattern(t))
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count subscribers: %w", err)
	}
	var subs []Subscriber
	if err := q.Preload("Products").Order("created_at DESC, id DESC").Limit(limit).Offset(offset).Find(&subs).Error; err != nil {
		return nil, 0, fmt.Errorf("data: subscribers: %w", err)
	}
	return subs, total, nil
}

// CountSubscribers counts confirmed subscribers.
func (s *Store) CountSubscribers(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Subscriber{}).Where("confirmed_at IS NOT NULL").Count(&n).Error
	return n, err
}

var impactRank = map[string]int{"none": 0, "minor": 1, "major": 2, "critical": 3}

// subscriberAudience adds confirmed subscribers of the affected products to
// a notice, when the policy row is maintenance or the impact reaches the
// configured minimum.
func subscriberAudience(tx *gorm.DB, policyRow string, componentIDs []int64) ([]Recipient, error) {
	q, err := subscriberAudienceQuery(tx, policyRow, componentIDs)
	if err != nil || q == nil {
		return nil, err
	}
	var subs []Subscriber
	if err := q.Order("id").Find(&subs).Error; err != nil {
		return nil, err
	}
	out := make([]Recipient, len(subs))
	for i, sub := range subs {
		out[i] = Recipient{SubscriberID: sub.ID, Email: sub.Email, Lang: sub.Lang, Role: RoleSubscriber}
	}
	return out, nil
}

// subscriberAudienceQuery selects the confirmed subscribers a notice
// reaches; nil when the site's threshold keeps subscribers out of it.
func subscriberAudienceQuery(tx *gorm.DB, policyRow string, componentIDs []int64) (*gorm.DB, error) {
	min := "minor"
	var vals []string
	if err := tx.Table("settings").Where("key = ?", SettingSubscriberMinImpact).Pluck("value", &vals).Error; err != nil {
		return nil, err
	}
	if len(vals) > 0 {
		min = vals[0]
	}
	if min == "off" || (policyRow != PolicyMaintenance && impactRank[policyRow] < impactRank[min]) {
		return nil, nil
	}
	// Public subscribers hear only of what the public page shows: a
	// notice about contract-only components alone is not for them.
	componentIDs, err := publicComponentIDs(tx, componentIDs)
	if err != nil || len(componentIDs) == 0 {
		return nil, err
	}
	return tx.Model(&Subscriber{}).Where("confirmed_at IS NOT NULL").
		Where("all_products = ? OR id IN (SELECT sp.subscriber_id FROM subscriber_products sp JOIN components c ON c.product_id = sp.product_id WHERE c.id IN ?)", true, componentIDs), nil
}

// publicComponentIDs keeps the ids of components that are not
// contract-only (see Component.ContractOnly), in no particular order.
func publicComponentIDs(tx *gorm.DB, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []int64
	err := tx.Model(&Component{}).Where("id IN ? AND contract_only = ?", ids, false).Pluck("id", &out).Error
	return out, err
}
