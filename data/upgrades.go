package data

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Upgrade statuses. An upgrade whose window has ended is done; that is
// derived from its times, not stored.
const (
	UpgradeScheduled = "scheduled"
	UpgradeCancelled = "cancelled"
)

// Upgrade notice states.
const (
	NoticePending = "pending"
	NoticeSent    = "sent"
	// NoticeMissed: the upgrade started before the notice could go (the
	// server was down across the lead time). Never sent afterwards.
	NoticeMissed = "missed"
	// NoticeSkipped: a later notice of the same upgrade went instead, or
	// the upgrade was cancelled.
	NoticeSkipped = "skipped"
)

// More notification kinds.
const (
	MaintenanceReminder = "maintenance_reminder"
	MaintenanceStarted  = "maintenance_started"
	UpgradeNoticeKind   = "upgrade_notice"
	UpgradeRescheduled  = "upgrade_rescheduled"
	UpgradeCancelledK   = "upgrade_cancelled"
)

// DefaultLeadTimes are when primary contacts hear of an upgrade: a week
// and a day before it starts.
var DefaultLeadTimes = []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}

// Upgrade is a version upgrade of a product, announced in advance.
type Upgrade struct {
	ID               int64
	ProductID        int64
	Version          string
	StartsAt, EndsAt time.Time
	SummaryJA        string
	SummaryEN        string
	NotesJA          string
	NotesEN          string
	LeadTimes        string
	Status           string
	Sequence         int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Notices          []UpgradeNotice `gorm:"foreignKey:UpgradeID"`
	Product          *Product        `gorm:"foreignKey:ProductID"`
}

// Done reports whether the upgrade's window has ended.
func (u *Upgrade) Done(now time.Time) bool {
	return u.Status == UpgradeScheduled && !u.EndsAt.After(now)
}

// UpgradeNotice is one advance notice of an upgrade, at one lead time.
type UpgradeNotice struct {
	ID             int64
	UpgradeID      int64
	LeadSeconds    int64
	DueAt          time.Time
	State          string
	NotificationID *int64
	DoneAt         *time.Time
}

// Lead is the notice's lead time.
func (n *UpgradeNotice) Lead() time.Duration { return time.Duration(n.LeadSeconds) * time.Second }

// UpgradeInput is what an operator enters for an upgrade.
type UpgradeInput struct {
	ProductID            int64
	Version              string
	StartsAt, EndsAt     time.Time
	SummaryJA, SummaryEN string
	NotesJA, NotesEN     string
	LeadTimes            []time.Duration
}

// FormatLeads writes lead times as "7d, 1d, 3h".
func FormatLeads(leads []time.Duration) string {
	var parts []string
	for _, l := range leads {
		switch {
		case l%(24*time.Hour) == 0:
			parts = append(parts, strconv.Itoa(int(l/(24*time.Hour)))+"d")
		case l%time.Hour == 0:
			parts = append(parts, strconv.Itoa(int(l/time.Hour))+"h")
		default:
			parts = append(parts, strconv.Itoa(int(l/time.Minute))+"m")
		}
	}
	return strings.Join(parts, ", ")
}

// MaxLead is the longest lead time a notice can have.
const MaxLead = 90 * 24 * time.Hour

// ParseLeads reads "7d, 1d, 3h, 30m". Each must be above zero and at most
// MaxLead (checked before multiplying, so a huge count cannot overflow).
func ParseLeads(s string) ([]time.Duration, bool) {
	var out []time.Duration
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '、' }) {
		if len(p) < 2 {
			return nil, false
		}
		n, err := strconv.Atoi(p[:len(p)-1])
		if err != nil || n <= 0 {
			return nil, false
		}
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[p[len(p)-1]]
		if unit == 0 || int64(n) > int64(MaxLead/unit) {
			return nil, false
		}
		out = append(out, time.Duration(n)*unit)
	}
	return out, true
}

func (in *UpgradeInput) validate(tx *gorm.DB, f fieldErrors) error {
	in.Version = strings.TrimSpace(in.Version)
	f.line("version", in.Version, true, 50)
	f.block("summary_ja", in.SummaryJA, true, MaxTitle*5)
	f.block("summary_en", in.SummaryEN, false, MaxTitle*5)
	f.block("notes_ja", in.NotesJA, false, MaxBody)
	f.block("notes_en", in.NotesEN, false, MaxBody)
	validateWindow(f, in.StartsAt, in.EndsAt)
	if len(in.LeadTimes) > 5 {
		f.add("lead_times", "too_long")
	}
	for _, l := range in.LeadTimes {
		if l <= 0 || l > MaxLead {
			f.add("lead_times", "invalid_choice")
		}
	}
	var n int64
	if err := tx.Model(&Product{}).Where("id = ?", in.ProductID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		f.add("product_id", "invalid_choice")
	}
	return nil
}

func uniqueLeads(leads []time.Duration) []time.Duration {
	seen := map[time.Duration]bool{}
	var out []time.Duration
	for _, l := range leads {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

// CreateUpgrade schedules an upgrade and its advance notices.
func (s *Store) CreateUpgrade(ctx context.Context, in UpgradeInput) (*Upgrade, error) {
	f := fieldErrors{}
	in.LeadTimes = uniqueLeads(in.LeadTimes)
	if !in.StartsAt.IsZero() && !in.StartsAt.After(s.now()) {
		f.add("starts_at", "in_past")
	}
	u := Upgrade{ProductID: in.ProductID, Version: in.Version, StartsAt: in.StartsAt.UTC(), EndsAt: in.EndsAt.UTC(),
		SummaryJA: in.SummaryJA, SummaryEN: in.SummaryEN, NotesJA: in.NotesJA, NotesEN: in.NotesEN,
		LeadTimes: FormatLeads(in.LeadTimes), Status: UpgradeScheduled}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := in.validate(tx, f); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		u.Version = in.Version
		if err := tx.Omit("Notices", "Product").Create(&u).Error; err != nil {
			return err
		}
		return syncUpgradeNotices(tx, &u, in.LeadTimes)
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create upgrade", err)
	}
	return &u, nil
}

// syncUpgradeNotices makes the pending notices match the lead times and the
// start: sent, missed and skipped ones are history and stay.
func syncUpgradeNotices(tx *gorm.DB, u *Upgrade, leads []time.Duration) error {
	var existing []UpgradeNotice
	if err := tx.Where("upgrade_id = ?", u.ID).Find(&existing).Error; err != nil {
		return err
	}
	want := map[int64]bool{}
	for _, l := range leads {
		want[int64(l/time.Second)] = true
	}
	have := map[int64]bool{}
	for _, n := range existing {
		have[n.LeadSeconds] = true
		if n.State != NoticePending {
			continue
		}
		if !want[n.LeadSeconds] {
			if err := tx.Delete(&UpgradeNotice{}, n.ID).Error; err != nil {
				return err
			}
			continue
		}
		due := u.StartsAt.Add(-n.Lead())
		if err := tx.Model(&UpgradeNotice{}).Where("id = ?", n.ID).Update("due_at", due).Error; err != nil {
			return err
		}
	}
	for _, l := range leads {
		secs := int64(l / time.Second)
		if have[secs] {
			continue
		}
		if err := tx.Create(&UpgradeNotice{UpgradeID: u.ID, LeadSeconds: secs, DueAt: u.StartsAt.Add(-l), State: NoticePending}).Error; err != nil {
			return err
		}
	}
	return nil
}

// UpdateUpgrade edits an upgrade that has not started. Moving its window
// tells everyone already told (a change notice, in the same transaction)
// and moves the pending notices with it.
func (s *Store) UpdateUpgrade(ctx context.Context, id int64, in UpgradeInput, notice Notice) error {
	f := fieldErrors{}
	in.LeadTimes = uniqueLeads(in.LeadTimes)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var u Upgrade
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if u.Status == UpgradeCancelled || !u.StartsAt.After(s.now()) {
			f.add("status", "upgrade_started")
		}
		if err := in.validate(tx, f); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		moved := !u.StartsAt.Equal(in.StartsAt.UTC()) || !u.EndsAt.Equal(in.EndsAt.UTC())
		fields := map[string]any{"product_id": in.ProductID, "version": in.Version, "starts_at": in.StartsAt.UTC(), "ends_at": in.EndsAt.UTC(),
			"summary_ja": in.SummaryJA, "summary_en": in.SummaryEN, "notes_ja": in.NotesJA, "notes_en": in.NotesEN,
			"lead_times": FormatLeads(in.LeadTimes), "updated_at": s.now()}
		if moved {
			fields["sequence"] = u.Sequence + 1
		}
		if err := tx.Model(&Upgrade{ID: id}).Updates(fields).Error; err != nil {
			return err
		}
		if err := tx.First(&u, id).Error; err != nil {
			return err
		}
		if err := syncUpgradeNotices(tx, &u, in.LeadTimes); err != nil {
			return err
		}
		if moved {
			return s.queueUpgradeChange(tx, &u, UpgradeRescheduled, notice.Hold)
		}
		return nil
	})
	return wrapUnlessInvalid(fmt.Sprintf("update upgrade %d", id), err)
}

// CancelUpgrade cancels an upgrade that has not started; the notices not
// yet sent are dropped and those already told hear of it.
func (s *Store) CancelUpgrade(ctx context.Context, id int64, notice Notice) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var u Upgrade
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if u.Status == UpgradeCancelled || !u.StartsAt.After(s.now()) {
			return Invalid("status", "upgrade_started")
		}
		if err := tx.Model(&Upgrade{ID: id}).Updates(map[string]any{"status": UpgradeCancelled, "sequence": u.Sequence + 1, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		if err := tx.Model(&UpgradeNotice{}).Where("upgrade_id = ? AND state = ?", id, NoticePending).
			Updates(map[string]any{"state": NoticeSkipped, "done_at": s.now()}).Error; err != nil {
			return err
		}
		u.Status = UpgradeCancelled
		return s.queueUpgradeChange(tx, &u, UpgradeCancelledK, notice.Hold)
	})
	return wrapUnlessInvalid(fmt.Sprintf("cancel upgrade %d", id), err)
}

func (s *Store) upgradeContent(tx *gorm.DB, u *Upgrade, kind string) (NoticeContent, error) {
	var p Product
	if err := tx.First(&p, u.ProductID).Error; err != nil {
		return NoticeContent{}, err
	}
	starts, ends := u.StartsAt, u.EndsAt
	en := ""
	if p.NameEN != "" {
		en = p.NameEN + " " + u.Version
	}
	return NoticeContent{Kind: kind, Status: u.Status, TitleJA: p.NameJA + " " + u.Version, TitleEN: en,
		BodyJA: joinBlocks(u.SummaryJA, u.NotesJA), BodyEN: joinBlocks(u.SummaryEN, u.NotesEN),
		Products: []NoticeName{{p.NameJA, p.NameEN}}, StartsAt: &starts, EndsAt: &ends,
		Path: fmt.Sprintf("/upgrades/%d", u.ID), Event: fmt.Sprintf("upgrade-%d", u.ID), Sequence: u.Sequence}, nil
}

func joinBlocks(a, b string) string {
	if strings.TrimSpace(b) == "" {
		return a
	}
	if strings.TrimSpace(a) == "" {
		return b
	}
	return a + "\n\n" + b
}

// queueUpgradeChange sends a change notice to exactly the addresses an
// earlier notice of this upgrade went (or is going) to.
func (s *Store) queueUpgradeChange(tx *gorm.DB, u *Upgrade, kind string, hold bool) error {
	var told []Delivery
	err := tx.Where("notification_id IN (SELECT id FROM notifications WHERE upgrade_id = ? AND kind = ?) AND state NOT IN ?",
		u.ID, UpgradeNoticeKind, []string{DeliveryFailed, DeliveryBounced}).Order("id").Find(&told).Error
	if err != nil || len(told) == 0 {
		return err
	}
	seen := map[string]bool{}
	var recips []Recipient
	for _, d := range told {
		if seen[d.Email] {
			continue
		}
		seen[d.Email] = true
		r := Recipient{Email: d.Email, Name: d.Name, Lang: d.Lang, Role: d.Role}
		if d.ContactID != nil {
			r.ContactID = *d.ContactID
		}
		recips = append(recips, r)
	}
	content, err := s.upgradeContent(tx, u, kind)
	if err != nil {
		return err
	}
	n := Notification{Kind: kind, UpgradeID: &u.ID, Thread: fmt.Sprintf("upgrade-%d", u.ID)}
	return s.writeNotification(tx, n, content, recips, hold)
}

// primaryAudience is who hears of an upgrade: the primary contacts of
// active contracts that use the product.
func primaryAudience(tx *gorm.DB, productID int64) ([]Recipient, error) {
	var rows []Recipient
	err := tx.Table("contacts").
		Select("contacts.id AS contact_id, contacts.contract_id, contacts.email, contacts.name, contacts.lang, contacts.role").
		Joins("JOIN contracts ON contracts.id = contacts.contract_id").
		Where("contracts.active = ? AND contacts.role = ?", true, RolePrimary).
		Where("contacts.contract_id IN (SELECT contract_id FROM contract_products WHERE product_id = ?)", productID).
		Order("contacts.id").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Recipient
	for _, r := range rows {
		if !seen[r.Email] {
			seen[r.Email] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// DueUpgradeNotices returns the pending notices due by now, for the
// scheduler to decide what to send.
func (s *Store) DueUpgradeNotices(ctx context.Context) ([]UpgradeNotice, error) {
	var ns []UpgradeNotice
	if err := s.db.WithContext(ctx).Where("state = ? AND due_at <= ?", NoticePending, s.now()).Order("upgrade_id, lead_seconds").Find(&ns).Error; err != nil {
		return nil, fmt.Errorf("data: due upgrade notices: %w", err)
	}
	return ns, nil
}

// SendUpgradeNotice queues one advance notice and marks it sent, in one
// transaction, unless it is no longer pending or the upgrade has started
// (then it is marked missed and nothing goes).
func (s *Store) SendUpgradeNotice(ctx context.Context, noticeID int64, hold bool) (string, error) {
	state := ""
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n UpgradeNotice
		if err := tx.First(&n, noticeID).Error; err != nil {
			return notFound(err)
		}
		if n.State != NoticePending {
			state = n.State
			return nil
		}
		var u Upgrade
		if err := tx.First(&u, n.UpgradeID).Error; err != nil {
			return err
		}
		now := s.now()
		if u.Status != UpgradeScheduled || !u.StartsAt.After(now) {
			state = NoticeMissed
			return tx.Model(&UpgradeNotice{}).Where("id = ?", n.ID).Updates(map[string]any{"state": NoticeMissed, "done_at": now}).Error
		}
		recips, err := primaryAudience(tx, u.ProductID)
		if err != nil {
			return err
		}
		content, err := s.upgradeContent(tx, &u, UpgradeNoticeKind)
		if err != nil {
			return err
		}
		notif := Notification{Kind: UpgradeNoticeKind, UpgradeID: &u.ID, Thread: fmt.Sprintf("upgrade-%d", u.ID)}
		nid, err := s.writeNotificationID(tx, notif, content, recips, hold)
		if err != nil {
			return err
		}
		state = NoticeSent
		return tx.Model(&UpgradeNotice{}).Where("id = ?", n.ID).Updates(map[string]any{"state": NoticeSent, "done_at": now, "notification_id": nid}).Error
	})
	return state, wrapUnlessInvalid(fmt.Sprintf("upgrade notice %d", noticeID), err)
}

// SetUpgradeNoticeState marks notices missed or skipped.
func (s *Store) SetUpgradeNoticeState(ctx context.Context, ids []int64, state string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&UpgradeNotice{}).Where("id IN ? AND state = ?", ids, NoticePending).
		Updates(map[string]any{"state": state, "done_at": s.now()}).Error
}

// Upgrade returns one upgrade with its notices and product.
func (s *Store) Upgrade(ctx context.Context, id int64) (*Upgrade, error) {
	var u Upgrade
	err := s.db.WithContext(ctx).Preload("Notices", func(db *gorm.DB) *gorm.DB { return db.Order("lead_seconds DESC") }).
		Preload("Product").First(&u, id).Error
	if err != nil {
		return nil, fmt.Errorf("data: upgrade %d: %w", id, notFound(err))
	}
	return &u, nil
}

// Upgrades lists upgrades, newest start first, with notices and product.
func (s *Store) Upgrades(ctx context.Context, limit, offset int) ([]Upgrade, int64, error) {
	db := s.db.WithContext(ctx)
	var total int64
	if err := db.Model(&Upgrade{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var us []Upgrade
	err := db.Preload("Notices", func(db *gorm.DB) *gorm.DB { return db.Order("lead_seconds DESC") }).Preload("Product").
		Order("starts_at DESC, id DESC").Limit(limit).Offset(offset).Find(&us).Error
	return us, total, err
}

// UpcomingUpgrades lists scheduled upgrades that have not ended, soonest
// first.
func (s *Store) UpcomingUpgrades(ctx context.Context) ([]Upgrade, error) {
	var us []Upgrade
	err := s.db.WithContext(ctx).Preload("Product").Where("status = ? AND ends_at > ?", UpgradeScheduled, s.now()).
		Order("starts_at, id").Find(&us).Error
	return us, err
}

// UpgradesBetween lists upgrades starting in [from, to), newest first.
func (s *Store) UpgradesBetween(ctx context.Context, from, to time.Time) ([]Upgrade, error) {
	var us []Upgrade
	err := s.db.WithContext(ctx).Preload("Product").Where("starts_at >= ? AND starts_at < ?", from.UTC(), to.UTC()).
		Order("starts_at DESC, id DESC").Find(&us).Error
	return us, err
}
