package data

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Channel kinds besides email.
const (
	ChannelWebhook = "webhook"
	ChannelSlack   = "slack"
	ChannelTeams   = "teams"
)

// ChannelKinds lists them in the order forms offer them.
var ChannelKinds = []string{ChannelWebhook, ChannelSlack, ChannelTeams}

// ChannelDisableAfter is how long a channel may fail before it is
// disabled (and its owner emailed).
const ChannelDisableAfter = 3 * 24 * time.Hour

// Channel is a webhook, Slack or Teams address that receives notices: a
// subscriber's (Operator false: incident and maintenance notices of its
// products) or the operators' own (alerts: monitors, relay, jobs).
type Channel struct {
	ID   int64
	Kind string
	URL  string
	Lang string
	// Products lists product ids, comma-separated; empty is every one.
	Products string
	// Secret signs webhook bodies (HMAC-SHA256); shown once to the
	// subscriber.
	Secret       string
	OwnerEmail   string
	Operator     bool
	VerifiedAt   *time.Time
	FailingSince *time.Time
	DisabledAt   *time.Time
	LastError    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ProductIDs decodes Products.
func (c *Channel) ProductIDs() []int64 {
	var out []int64
	for _, p := range strings.Split(c.Products, ",") {
		if id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// ChannelInput is what a subscriber or an admin gives.
type ChannelInput struct {
	Kind       string
	URL        string
	Lang       string
	ProductIDs []int64
	OwnerEmail string
	Operator   bool
	Secret     string
}

func (s *Store) validateChannel(tx *gorm.DB, in *ChannelInput) error {
	f := fieldErrors{}
	in.URL, in.OwnerEmail = strings.TrimSpace(in.URL), strings.TrimSpace(in.OwnerEmail)
	if !oneOf(in.Kind, ChannelKinds) {
		f.add("kind", "invalid_choice")
	}
	f.line("url", in.URL, true, 2000)
	if in.Lang != "ja" && in.Lang != "en" {
		f.add("lang", "invalid_choice")
	}
	if in.OwnerEmail != "" {
		if a, err := mail.ParseAddress(in.OwnerEmail); err != nil || a.Address != in.OwnerEmail {
			f.add("owner_email", "bad_email")
		}
	}
	if len(in.ProductIDs) > 0 {
		var n int64
		if err := tx.Model(&Product{}).Where("id IN ?", in.ProductIDs).Count(&n).Error; err != nil {
			return err
		}
		if int(n) != len(slices.Compact(slices.Sorted(slices.Values(in.ProductIDs)))) {
			f.add("products", "invalid_choice")
		}
	}
	return f.err()
}

// CreateChannel saves a channel that has answered its verification.
func (s *Store) CreateChannel(ctx context.Context, in ChannelInput) (*Channel, error) {
	var c Channel
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.validateChannel(tx, &in); err != nil {
			return err
		}
		ids := make([]string, len(in.ProductIDs))
		for i, id := range in.ProductIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		now := s.now()
		c = Channel{Kind: in.Kind, URL: in.URL, Lang: in.Lang, Products: strings.Join(ids, ","), Secret: in.Secret,
			OwnerEmail: in.OwnerEmail, Operator: in.Operator, VerifiedAt: &now, CreatedAt: now, UpdatedAt: now}
		return tx.Create(&c).Error
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create channel", err)
	}
	return &c, nil
}

// ValidateChannel checks a channel's fields before it is verified.
func (s *Store) ValidateChannel(ctx context.Context, in ChannelInput) error {
	return s.validateChannel(s.db.WithContext(ctx), &in)
}

// Channel returns one channel.
func (s *Store) Channel(ctx context.Context, id int64) (*Channel, error) {
	var c Channel
	if err := s.db.WithContext(ctx).First(&c, id).Error; err != nil {
		return nil, fmt.Errorf("data: channel %d: %w", id, notFound(err))
	}
	return &c, nil
}

// Channels lists the subscribers' channels or the operators'.
func (s *Store) Channels(ctx context.Context, operator bool) ([]Channel, error) {
	var out []Channel
	return out, s.db.WithContext(ctx).Where("operator = ?", operator).Order("id").Find(&out).Error
}

// DeleteChannel removes a channel and what it had still to receive.
func (s *Store) DeleteChannel(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM deliveries WHERE channel_id = ? AND state IN ?", id, []string{DeliveryPending, DeliveryHeld}).Error; err != nil {
			return err
		}
		return rowsOrNotFound(tx.Exec("DELETE FROM channels WHERE id = ?", id), "channel", id)
	})
}

// ChannelFailed notes a failed attempt. A channel failing for
// ChannelDisableAfter is disabled; disabled reports that this call did it.
func (s *Store) ChannelFailed(ctx context.Context, id int64, why string) (disabled bool, err error) {
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var c Channel
		if err := s.lockRow(tx).First(&c, id).Error; err != nil {
			return notFound(err)
		}
		now := s.now()
		fields := map[string]any{"last_error": truncate(why, 500), "updated_at": now}
		if c.FailingSince == nil {
			fields["failing_since"] = now
		} else if c.DisabledAt == nil && now.Sub(*c.FailingSince) >= ChannelDisableAfter {
			fields["disabled_at"] = now
			if err := tx.Model(&Channel{ID: id}).Updates(fields).Error; err != nil {
				return err
			}
			disabled = true
			days := int(ChannelDisableAfter.Hours() / 24)
			return s.tellChannelDisabled(tx, &c, why,
				"%s への配信が"+strconv.Itoa(days)+"日間失敗し続けたため", "Deliveries to %s failed for "+strconv.Itoa(days)+" days")
		}
		return tx.Model(&Channel{ID: id}).Updates(fields).Error
	})
	return disabled, err
}

// ChannelRefusalsToDisable is how many deliveries in a row a channel's
// receiver may refuse (a 4xx other than 410 and 429, after its retries)
// before the channel is disabled.
const ChannelRefusalsToDisable = 3

// ChannelGone disables a channel at once, its receiver having answered
// 410 Gone, and tells its owner and the operators; disabled reports that
// this call did it.
func (s *Store) ChannelGone(ctx context.Context, id int64, why string) (disabled bool, err error) {
	err = s.tx(ctx, func(tx *gorm.DB) error {
		c, err := s.lockedChannel(tx, id)
		if err != nil || c.DisabledAt != nil {
			return err
		}
		disabled = true
		return s.disableChannel(tx, c, why, "%s が「410 Gone」（この宛先はもうありません）と応答したため",
			"%s answered 410 Gone (the address no longer exists)")
	})
	return disabled, err
}

// ChannelRefused is called when one of a channel's deliveries has failed
// for good: once the last ChannelRefusalsToDisable finished deliveries
// all failed, it disables the channel and tells its owner and the
// operators; disabled reports that this call did it.
func (s *Store) ChannelRefused(ctx context.Context, id int64, why string) (disabled bool, err error) {
	err = s.tx(ctx, func(tx *gorm.DB) error {
		c, err := s.lockedChannel(tx, id)
		if err != nil || c.DisabledAt != nil {
			return err
		}
		var states []string
		if err := tx.Model(&Delivery{}).Where("channel_id = ? AND state IN ?", id, []string{DeliverySent, DeliveryFailed}).
			Order("updated_at DESC, id DESC").Limit(ChannelRefusalsToDisable).Pluck("state", &states).Error; err != nil {
			return err
		}
		if len(states) < ChannelRefusalsToDisable || slices.Contains(states, DeliverySent) {
			return nil
		}
		disabled = true
		n := strconv.Itoa(ChannelRefusalsToDisable)
		return s.disableChannel(tx, c, why, "%s への配信が"+n+"回続けて受け取りを拒否されたため", "%s refused "+n+" deliveries in a row")
	})
	return disabled, err
}

func (s *Store) lockedChannel(tx *gorm.DB, id int64) (*Channel, error) {
	var c Channel
	if err := s.lockRow(tx).First(&c, id).Error; err != nil {
		return nil, fmt.Errorf("data: channel %d: %w", id, notFound(err))
	}
	return &c, nil
}

func (s *Store) disableChannel(tx *gorm.DB, c *Channel, why, reasonJA, reasonEN string) error {
	now := s.now()
	if err := tx.Model(&Channel{ID: c.ID}).Updates(map[string]any{"disabled_at": now, "last_error": truncate(why, 500), "updated_at": now}).Error; err != nil {
		return err
	}
	return s.tellChannelDisabled(tx, c, why, reasonJA, reasonEN)
}

// tellChannelDisabled emails a disabled channel's owner, if it has one,
// and alerts the operators (by email and on their channels that still
// work), who otherwise would not know a subscriber has stopped hearing.
// The reasons are sentences with %s for the channel's address.
func (s *Store) tellChannelDisabled(tx *gorm.DB, c *Channel, why, reasonJA, reasonEN string) error {
	if c.OwnerEmail != "" {
		if err := s.queueChannelDisabled(tx, c, why, reasonJA, reasonEN); err != nil {
			return err
		}
	}
	recips, err := operatorAudience(tx)
	if err != nil || len(recips) == 0 {
		return err
	}
	whoJA, whoEN := c.OwnerEmail+" さんの "+c.Kind+" チャネル", c.OwnerEmail+"'s "+c.Kind+" channel"
	if c.Operator {
		whoJA, whoEN = "運用者用の "+c.Kind+" チャネル", "the operators' "+c.Kind+" channel"
	} else if c.OwnerEmail == "" {
		whoJA, whoEN = "連絡先のない "+c.Kind+" チャネル", "an ownerless "+c.Kind+" channel"
	}
	// The operators read the host only: the path of a Slack or Teams
	// webhook is its secret, and the alert may go to a shared channel.
	host := MaskedChannelAddress(c.URL)
	now := s.now()
	content := NoticeContent{Kind: ChannelDisabledKind, Status: "alert",
		TitleJA: "チャネルへの配信を停止しました", TitleEN: "A channel's deliveries stopped",
		BodyJA:    fmt.Sprintf(reasonJA, host) + "、" + whoJA + "への配信を停止しました。\n\n最後のエラー: " + why,
		BodyEN:    fmt.Sprintf(reasonEN, host) + ", so deliveries to " + whoEN + " have stopped.\n\nLast error: " + why,
		UpdatedAt: &now, Path: fmt.Sprintf("/admin/alerts?channel=%d#deliveries", c.ID)}
	n := Notification{Kind: ChannelDisabledKind, Thread: fmt.Sprintf("channel-%d-operators", c.ID)}
	return s.writeNotification(tx, n, content, recips, false)
}

// MaskedChannelAddress is the part of a channel's URL that may be shown:
// its scheme and host. The path of a Slack or Teams webhook is its secret.
func MaskedChannelAddress(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "?"
	}
	return u.Scheme + "://" + u.Host
}

// Address is the channel's MaskedChannelAddress.
func (c Channel) Address() string { return MaskedChannelAddress(c.URL) }

// ChannelSummary is a channel with its latest attempted delivery, if any.
type ChannelSummary struct {
	Channel
	Last *Delivery
}

// ChannelSummaries lists every channel, the operators' first, each with
// its latest attempted delivery.
func (s *Store) ChannelSummaries(ctx context.Context) ([]ChannelSummary, error) {
	db := s.db.WithContext(ctx)
	var cs []Channel
	if err := db.Order("operator DESC, id").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("data: channels: %w", err)
	}
	var last []Delivery
	if err := db.Where("id IN (?)", db.Model(&Delivery{}).Select("MAX(id)").
		Where("channel_id IS NOT NULL AND (attempts > 0 OR state IN ?)", []string{DeliverySent, DeliveryFailed}).Group("channel_id")).
		Find(&last).Error; err != nil {
		return nil, fmt.Errorf("data: channels' last deliveries: %w", err)
	}
	byChannel := make(map[int64]*Delivery, len(last))
	for i := range last {
		byChannel[*last[i].ChannelID] = &last[i]
	}
	out := make([]ChannelSummary, len(cs))
	for i, c := range cs {
		out[i] = ChannelSummary{Channel: c, Last: byChannel[c.ID]}
	}
	return out, nil
}

// ChannelDeliveries lists a channel's latest deliveries, newest first.
func (s *Store) ChannelDeliveries(ctx context.Context, id int64, limit int) ([]Delivery, error) {
	var out []Delivery
	if err := s.db.WithContext(ctx).Where("channel_id = ?", id).Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("data: channel %d deliveries: %w", id, err)
	}
	return out, nil
}

// ChannelWorked clears a channel's failing streak.
func (s *Store) ChannelWorked(ctx context.Context, id int64) error {
	return s.db.WithContext(ctx).Model(&Channel{}).Where("id = ? AND failing_since IS NOT NULL", id).
		Updates(map[string]any{"failing_since": nil, "last_error": "", "updated_at": s.now()}).Error
}

// ChannelDisabledKind is the notice telling a channel's owner it stopped.
const ChannelDisabledKind = "channel_disabled"

func (s *Store) queueChannelDisabled(tx *gorm.DB, c *Channel, why, reasonJA, reasonEN string) error {
	now := s.now()
	content := NoticeContent{Kind: ChannelDisabledKind, Status: "disabled", TitleJA: "Webhook の配信を停止しました", TitleEN: "Webhook deliveries stopped",
		BodyJA:    fmt.Sprintf(reasonJA, c.URL) + "、配信を停止しました。\n\n最後のエラー: " + why + "\n\n再開するには、あらためて登録してください。",
		BodyEN:    fmt.Sprintf(reasonEN, c.URL) + ", so they have stopped.\n\nLast error: " + why + "\n\nSubscribe again to resume.",
		UpdatedAt: &now, Path: "/subscribe/channel"}
	n := Notification{Kind: ChannelDisabledKind, Thread: fmt.Sprintf("channel-%d", c.ID)}
	return s.writeNotification(tx, n, content, []Recipient{{Email: c.OwnerEmail, Lang: c.Lang, Role: "owner"}}, false)
}

// channelAudience lists the working channels that a notice about these
// components reaches: the subscribers' whose products include one of
// theirs, or the operators'.
func channelAudience(tx *gorm.DB, operator bool, componentIDs []int64) ([]Recipient, error) {
	var cs []Channel
	if err := tx.Where("operator = ? AND verified_at IS NOT NULL AND disabled_at IS NULL", operator).Order("id").Find(&cs).Error; err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	products := map[int64]bool{}
	if !operator && len(componentIDs) > 0 {
		// A channel a visitor registered hears only of what the public
		// page shows: nothing of a notice about contract-only components
		// alone (its payload names none, see Notification.ForPublic).
		var err error
		if componentIDs, err = publicComponentIDs(tx, componentIDs); err != nil {
			return nil, err
		}
		if len(componentIDs) == 0 {
			return nil, nil
		}
	}
	if !operator {
		var ids []int64
		if err := tx.Model(&Component{}).Where("id IN ?", componentIDs).Pluck("product_id", &ids).Error; err != nil {
			return nil, err
		}
		for _, id := range ids {
			products[id] = true
		}
	}
	var out []Recipient
	for _, c := range cs {
		ok := operator || c.Products == ""
		for _, p := range c.ProductIDs() {
			ok = ok || products[p]
		}
		if ok {
			// "channel:ID" stands for the address: one delivery per channel
			// per notice, as one per address (the outbox's unique key).
			out = append(out, Recipient{ChannelID: c.ID, Email: "channel:" + strconv.FormatInt(c.ID, 10), Name: c.Kind, Lang: c.Lang, Role: "channel"})
		}
	}
	return out, nil
}

// Kinds of the operators' channel alerts besides monitors.
const (
	AlertRelayRefusing = "relay_refusing"
	AlertJobFailed     = "job_failed"
	// AlertRenderFailing: the public pages cannot be rendered for a reason
	// other than the database, and customers see an old copy.
	AlertRenderFailing = "render_failing"
	// AlertPayloadRefused: Slack or Teams refused a payload we built — our
	// bug, not the receiver's.
	AlertPayloadRefused = "payload_refused"
)

// operatorAudience is who an operators' alert goes to: every active
// operator by email, each in their own language, and the
// operators' channels.
func operatorAudience(tx *gorm.DB) ([]Recipient, error) {
	var ops []Operator
	if err := tx.Where("disabled = ?", false).Order("id").Find(&ops).Error; err != nil {
		return nil, err
	}
	recips := make([]Recipient, 0, len(ops))
	for _, o := range ops {
		recips = append(recips, Recipient{Email: o.Email, Name: o.Name, Lang: o.Language(), Role: "operator"})
	}
	chans, err := channelAudience(tx, true, nil)
	if err != nil {
		return nil, err
	}
	return append(recips, chans...), nil
}

// alertOperatorChannels posts an alert to the operators' channels only:
// the relay refusing mail cannot be told by email, and the console shows
// both already.
func (s *Store) alertOperatorChannels(tx *gorm.DB, kind, titleJA, titleEN, bodyJA, bodyEN, path string) error {
	chans, err := channelAudience(tx, true, nil)
	if err != nil || len(chans) == 0 {
		return err
	}
	now := s.now()
	content := NoticeContent{Kind: kind, Status: "alert", TitleJA: titleJA, TitleEN: titleEN, BodyJA: bodyJA, BodyEN: bodyEN, UpdatedAt: &now, Path: path}
	return s.writeNotification(tx, Notification{Kind: kind, Thread: fmt.Sprintf("%s-%d", kind, now.Unix())}, content, chans, false)
}

// RenewChannelClaims extends every channel delivery claim a sender holds,
// so claims never run out under a live holder however slow its receivers
// are. It returns how many.
func (s *Store) RenewChannelClaims(ctx context.Context, worker string, lease time.Duration) (int64, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Delivery{}).Where("state = ? AND claimed_by = ? AND channel_id IS NOT NULL", DeliverySending, worker).
		Updates(map[string]any{"claimed_until": now.Add(lease), "updated_at": now})
	if res.Error != nil {
		return 0, fmt.Errorf("data: renew channel claims: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ReleaseChannelClaims hands back channel deliveries a sender claimed but
// did not finish (a stop), without counting an attempt, so a clean
// shutdown leaves nothing waiting for a lease to run out.
func (s *Store) ReleaseChannelClaims(ctx context.Context, worker string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Model(&Delivery{}).
		Where("id IN ? AND state = ? AND claimed_by = ? AND channel_id IS NOT NULL", ids, DeliverySending, worker).
		Updates(map[string]any{"state": DeliveryPending, "claimed_by": "", "claimed_until": nil, "updated_at": s.now()}).Error
	if err != nil {
		return fmt.Errorf("data: release channel claims: %w", err)
	}
	return nil
}

// PayloadRefused begins the error of a delivery whose payload Slack or
// Teams refused as malformed or too large: counted apart (the metrics),
// never held against the channel.
const PayloadRefused = "payload refused: "

// AlertPayloadRefused tells the operators, by email and on their
// channels, that Slack or Teams refused a payload Oshirase built.
func (s *Store) AlertPayloadRefused(ctx context.Context, kind, detail string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		recips, err := operatorAudience(tx)
		if err != nil || len(recips) == 0 {
			return err
		}
		now := s.now()
		content := NoticeContent{Kind: AlertPayloadRefused, Status: "alert",
			TitleJA: kind + " が通知の内容を受け付けませんでした", TitleEN: kind + " refused a notice's payload",
			BodyJA:    kind + " が、Oshirase の作成した通知を不正な形式またはサイズ超過として拒否しました。受信側ではなく Oshirase の不具合です。該当の配信は失敗として記録し、チャネルは停止していません。\n\n応答: " + detail,
			BodyEN:    kind + " refused a notice Oshirase built as malformed or too large. This is a bug in Oshirase, not the receiver's: the delivery is recorded as failed and the channel stays on.\n\nAnswer: " + detail,
			UpdatedAt: &now, Path: "/admin/alerts"}
		n := Notification{Kind: AlertPayloadRefused, Thread: fmt.Sprintf("%s-%d", AlertPayloadRefused, now.Unix())}
		return s.writeNotification(tx, n, content, recips, false)
	})
}
