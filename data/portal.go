package data

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// PortalLink is the notice kind of a sign-in link to the customer portal.
const PortalLink = "portal_link"

// RolePortal is the delivery role of a sign-in link.
const RolePortal = "portal"

// PortalLinkLifetime is how long a sign-in link works.
const PortalLinkLifetime = 15 * time.Minute

// PortalLinkRow is a sign-in link that was mailed: single use, for the
// browser that asked (BrowserHash is the hash of a random cookie that
// browser holds), until ExpiresAt. The link itself is signed with the
// server secret; the row makes it single-use.
type PortalLinkRow struct {
	ID          int64
	TokenHash   string
	Email       string
	BrowserHash string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
}

// TableName is portal_links.
func (PortalLinkRow) TableName() string { return "portal_links" }

// PortalSession is a signed-in contact. ID is the hash of the cookie.
type PortalSession struct {
	ID         string
	Email      string
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// Why a sign-in link does not work.
var (
	ErrLinkUsed          = errors.New("data: the sign-in link was used already")
	ErrLinkExpired       = errors.New("data: the sign-in link has expired")
	ErrLinkOtherBrowser  = errors.New("data: the sign-in link was asked for in another browser")
	ErrNoPortalContracts = errors.New("data: the address has no contract in the portal")
)

// PortalContacts are the confirmed contacts with this address in active
// contracts open to the portal, with their contracts and products.
func (s *Store) PortalContacts(ctx context.Context, email string) ([]Contact, []Contract, error) {
	email = NormalizeEmail(email)
	var contacts []Contact
	err := s.db.WithContext(ctx).Joins("JOIN contracts ON contracts.id = contacts.contract_id").
		Where("contacts.email = ? AND contacts.confirmed_at IS NOT NULL AND contracts.active = ? AND contracts.portal_disabled = ?", email, true, false).
		Order("contracts.name, contracts.id").Find(&contacts).Error
	if err != nil {
		return nil, nil, fmt.Errorf("data: portal contacts: %w", err)
	}
	if len(contacts) == 0 {
		return nil, nil, nil
	}
	ids := make([]int64, len(contacts))
	for i, c := range contacts {
		ids[i] = c.ContractID
	}
	var contracts []Contract
	if err := s.db.WithContext(ctx).Preload("Products").Preload("Contacts", func(db *gorm.DB) *gorm.DB { return db.Order("role DESC, email") }).
		Where("id IN ?", ids).Order("name, id").Find(&contracts).Error; err != nil {
		return nil, nil, fmt.Errorf("data: portal contracts: %w", err)
	}
	return contacts, contracts, nil
}

// RequestPortalLink mails a sign-in link to an address with portal access
// and records it; for any other address it does nothing and says nothing
// (the visitor's answer is the same). It reports whether a link was made.
// tokenHash gives the hash of the link's token from the row's id (the
// token is signed with the server secret, which the store does not hold).
func (s *Store) RequestPortalLink(ctx context.Context, email, lang, browserHash string, hold bool, tokenHash func(id int64) string) (bool, error) {
	email = NormalizeEmail(email)
	if !ValidEmail(email) {
		return false, &ValidationError{Fields: map[string]string{"email": "bad_email"}}
	}
	if !oneOf(lang, ContactLanguages) {
		lang = "ja"
	}
	contacts, _, err := s.PortalContacts(ctx, email)
	if err != nil || len(contacts) == 0 {
		return false, err
	}
	now := s.now()
	err = s.tx(ctx, func(tx *gorm.DB) error {
		// One live link per address: asking again replaces it.
		if err := tx.Where("email = ? AND used_at IS NULL", email).Delete(&PortalLinkRow{}).Error; err != nil {
			return err
		}
		row := PortalLinkRow{Email: email, BrowserHash: browserHash, CreatedAt: now, ExpiresAt: now.Add(PortalLinkLifetime),
			TokenHash: "pending:" + browserHash}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Model(&PortalLinkRow{}).Where("id = ?", row.ID).Update("token_hash", tokenHash(row.ID)).Error; err != nil {
			return err
		}
		// The path names the link; the composer signs it into the token.
		content := NoticeContent{Kind: PortalLink, Path: fmt.Sprintf("/my/login/%d", row.ID), EndsAt: &row.ExpiresAt}
		n := Notification{Kind: PortalLink, Thread: fmt.Sprintf("portal-%d", row.ID)}
		return s.writeNotification(tx, n, content, []Recipient{{Email: email, Lang: lang, Role: RolePortal}}, hold)
	})
	if err != nil {
		return false, fmt.Errorf("data: portal link: %w", err)
	}
	return true, nil
}

// UsePortalLink spends a sign-in link and returns its address: once, in
// time, from the browser that asked.
func (s *Store) UsePortalLink(ctx context.Context, id int64, tokenHash, browserHash string) (string, error) {
	var email string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var row PortalLinkRow
		if err := s.lockRow(tx).First(&row, id).Error; err != nil {
			return notFound(err)
		}
		if row.TokenHash != tokenHash {
			return ErrNotFound
		}
		now := s.now()
		switch {
		case row.UsedAt != nil:
			return ErrLinkUsed
		case now.After(row.ExpiresAt):
			return ErrLinkExpired
		case row.BrowserHash != browserHash:
			return ErrLinkOtherBrowser
		}
		res := tx.Model(&PortalLinkRow{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrLinkUsed
		}
		email = row.Email
		return nil
	})
	return email, err
}

// CreatePortalSession records a signed-in contact.
func (s *Store) CreatePortalSession(ctx context.Context, id, email string, info ClientInfo, ttl time.Duration) error {
	now := s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("email = ? AND expires_at < ?", email, now).Delete(&PortalSession{}).Error; err != nil {
			return err
		}
		return tx.Create(&PortalSession{ID: id, Email: NormalizeEmail(email), UserAgent: truncate(info.UserAgent, 300), IP: info.IP,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl)}).Error
	})
}

// PortalSessionEmail is the address of a live portal session. One past
// its absolute limit or idle longer than idle is deleted, as is one whose
// address has lost its portal access.
func (s *Store) PortalSessionEmail(ctx context.Context, id string, idle time.Duration) (string, error) {
	db := s.db.WithContext(ctx)
	var sess PortalSession
	if err := db.Where("id = ?", id).First(&sess).Error; err != nil {
		return "", notFound(err)
	}
	now := s.now()
	if now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > idle {
		db.Where("id = ?", id).Delete(&PortalSession{})
		return "", ErrNotFound
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := db.Model(&PortalSession{}).Where("id = ?", id).Update("last_seen_at", now).Error; err != nil {
			return "", err
		}
	}
	return sess.Email, nil
}

// DeletePortalSession signs a contact out.
func (s *Store) DeletePortalSession(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Where("id = ?", id).Delete(&PortalSession{}).Error
}

// DeliveriesTo lists what was sent to an address (email only), newest
// first, with their notifications.
func (s *Store) DeliveriesTo(ctx context.Context, email string, limit int) ([]Delivery, map[int64]Notification, error) {
	var ds []Delivery
	if err := s.db.WithContext(ctx).Where("email = ? AND channel_id IS NULL", NormalizeEmail(email)).
		Order("created_at DESC, id DESC").Limit(limit).Find(&ds).Error; err != nil {
		return nil, nil, fmt.Errorf("data: deliveries to: %w", err)
	}
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.NotificationID)
	}
	var ns []Notification
	if len(ids) > 0 {
		if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&ns).Error; err != nil {
			return nil, nil, err
		}
	}
	byID := make(map[int64]Notification, len(ns))
	for _, n := range ns {
		byID[n.ID] = n
	}
	return ds, byID, nil
}

// DeliveryTo is one email sent to an address, with its notification; a
// delivery to any other address is ErrNotFound.
func (s *Store) DeliveryTo(ctx context.Context, email string, id int64) (*Delivery, *Notification, error) {
	var d Delivery
	if err := s.db.WithContext(ctx).Where("id = ? AND email = ? AND channel_id IS NULL", id, NormalizeEmail(email)).First(&d).Error; err != nil {
		return nil, nil, notFound(err)
	}
	var n Notification
	if err := s.db.WithContext(ctx).First(&n, d.NotificationID).Error; err != nil {
		return nil, nil, notFound(err)
	}
	return &d, &n, nil
}

// SetContractPortal opens or closes the portal to a contract's contacts;
// closing it also ends their portal sessions that no other contract keeps
// open.
func (s *Store) SetContractPortal(ctx context.Context, contractID int64, open bool) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Contract{}).Where("id = ?", contractID).Updates(map[string]any{"portal_disabled": !open, "updated_at": s.now()})
		if err := rowsOrNotFound(res, "contract", contractID); err != nil {
			return err
		}
		if open {
			return nil
		}
		return tx.Where(`email IN (SELECT email FROM contacts WHERE contract_id = ?)
			AND email NOT IN (SELECT contacts.email FROM contacts JOIN contracts ON contracts.id = contacts.contract_id
				WHERE contracts.active = ? AND contracts.portal_disabled = ? AND contacts.confirmed_at IS NOT NULL)`,
			contractID, true, false).Delete(&PortalSession{}).Error
	})
}

// ContactConfirm is the notice kind asking an address a customer added to
// confirm it.
const ContactConfirm = "contact_confirm"

// ErrNotPrimary: only a contract's primary contact manages its contacts.
var ErrNotPrimary = errors.New("data: only the contract's primary contact may do this")

// primaryOf is the signed-in address's primary contact row in a contract.
func primaryOf(tx *gorm.DB, contractID int64, email string) (*Contact, error) {
	var c Contact
	err := tx.Joins("JOIN contracts ON contracts.id = contacts.contract_id").
		Where("contacts.contract_id = ? AND contacts.email = ? AND contacts.role = ? AND contacts.confirmed_at IS NOT NULL AND contracts.active = ? AND contracts.portal_disabled = ?",
			contractID, NormalizeEmail(email), RolePrimary, true, false).First(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotPrimary
	}
	return &c, err
}

// AddPortalContact adds an additional contact to a contract on behalf of
// its primary contact (by). The address gets a confirmation email and no
// notice until it confirms.
func (s *Store) AddPortalContact(ctx context.Context, contractID int64, by string, in ContactInput, hold bool) (*Contact, error) {
	in.Role = RoleAdditional
	f := fieldErrors{}
	in.validate(f)
	if err := f.err(); err != nil {
		return nil, err
	}
	var c Contact
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, err := primaryOf(tx, contractID, by)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Contact{}).Where("contract_id = ? AND email = ?", contractID, in.Email).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return &ValidationError{Fields: map[string]string{"email": "contact_exists"}}
		}
		now := s.now()
		c = Contact{ContractID: contractID, Name: in.Name, Email: in.Email, Lang: in.Lang, Role: RoleAdditional, AddedByContactID: &p.ID,
			CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		content := NoticeContent{Kind: ContactConfirm, Path: fmt.Sprintf("/my/confirm/%d", c.ID), TitleJA: p.Name, TitleEN: p.Name}
		n2 := Notification{Kind: ContactConfirm, Thread: fmt.Sprintf("contact-confirm-%d", c.ID)}
		return s.writeNotification(tx, n2, content, []Recipient{{Email: c.Email, Name: c.Name, Lang: c.Lang, Role: RolePortal}}, hold)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// ConfirmContact marks a contact a customer added as confirmed; confirming
// twice is fine.
func (s *Store) ConfirmContact(ctx context.Context, id int64) (*Contact, error) {
	var c Contact
	if err := s.db.WithContext(ctx).First(&c, id).Error; err != nil {
		return nil, notFound(err)
	}
	if c.ConfirmedAt == nil {
		now := s.now()
		if err := s.db.WithContext(ctx).Model(&Contact{}).Where("id = ? AND confirmed_at IS NULL", id).
			Updates(map[string]any{"confirmed_at": now, "updated_at": now}).Error; err != nil {
			return nil, err
		}
		c.ConfirmedAt = &now
	}
	return &c, nil
}

// RemovePortalContact removes an additional contact of a contract on
// behalf of its primary contact; primary contacts stay (an operator
// changes those).
func (s *Store) RemovePortalContact(ctx context.Context, contactID int64, by string) (*Contact, error) {
	var c Contact
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&c, contactID).Error; err != nil {
			return notFound(err)
		}
		if _, err := primaryOf(tx, c.ContractID, by); err != nil {
			return err
		}
		if c.Role != RoleAdditional {
			return ErrNotPrimary
		}
		return tx.Delete(&Contact{}, c.ID).Error
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// SLAReportNotice is the notice kind of a month's availability report,
// mailed to a contract's primary contacts when the contract asks for it.
const SLAReportNotice = "sla_report"

// QueueSLAReports writes, once per contract and month, the report of the
// month [from, to) for every active contract with SLAReportMail, to its
// confirmed primary contacts. It returns how many notices it wrote.
func (s *Store) QueueSLAReports(ctx context.Context, from, to time.Time, hold bool) (int, error) {
	var ks []Contract
	if err := s.db.WithContext(ctx).Preload("Contacts").Where("active = ? AND sla_report_mail = ?", true, true).Order("id").Find(&ks).Error; err != nil {
		return 0, fmt.Errorf("data: sla report contracts: %w", err)
	}
	month := from.Format("2006-01")
	n := 0
	for _, k := range ks {
		thread := fmt.Sprintf("sla-report-%d-%s", k.ID, month)
		var seen int64
		if err := s.db.WithContext(ctx).Model(&Notification{}).Where("thread = ?", thread).Count(&seen).Error; err != nil {
			return n, err
		}
		if seen > 0 {
			continue
		}
		r, err := s.SLAReport(ctx, k.ID, from, to)
		if err != nil {
			return n, err
		}
		var ja, en strings.Builder
		for _, p := range r.Products {
			fmt.Fprintf(&ja, "- %s: 稼働率 %s%%（SLA 目標 %s%%）%s\n", p.NameJA, orDash(p.AvailabilityText), orDash(p.Target), slaVerdictJA[p.Verdict])
			fmt.Fprintf(&en, "- %s: availability %s%% (commitment %s%%) %s\n", cmpOr(p.NameEN, p.NameJA), orDash(p.AvailabilityText), orDash(p.Target), slaVerdictEN[p.Verdict])
		}
		var recips []Recipient
		for _, ct := range k.Contacts {
			if ct.Role == RolePrimary && ct.ConfirmedAt != nil {
				recips = append(recips, Recipient{ContactID: ct.ID, ContractID: k.ID, Email: ct.Email, Name: ct.Name, Lang: ct.Lang, Role: RolePrimary})
			}
		}
		content := NoticeContent{Kind: SLAReportNotice, TitleJA: k.Name + " " + month, TitleEN: k.Name + " " + month,
			BodyJA: ja.String(), BodyEN: en.String(), Path: fmt.Sprintf("/my/contracts/%d/sla?month=%s", k.ID, month)}
		err = s.tx(ctx, func(tx *gorm.DB) error {
			return s.writeNotification(tx, Notification{Kind: SLAReportNotice, Thread: thread}, content, recips, hold)
		})
		if err != nil {
			return n, err
		}
		if len(recips) > 0 {
			n++
		}
	}
	return n, nil
}

var (
	slaVerdictJA = map[string]string{"met": "達成", "missed": "未達", "no_target": "目標なし", "not_started": "開始前", "ended": "終了"}
	slaVerdictEN = map[string]string{"met": "met", "missed": "missed", "no_target": "no commitment", "not_started": "not started", "ended": "ended"}
)

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
