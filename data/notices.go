package data

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Notification kinds.
const (
	IncidentOpened       = "incident_opened"
	IncidentUpdated      = "incident_updated"
	IncidentResolved     = "incident_resolved"
	MaintenanceScheduled = "maintenance_scheduled"
	MaintenanceCompleted = "maintenance_completed"
	MaintenanceCancelled = "maintenance_cancelled"
)

// NotificationKinds lists every kind of notification, for filters.
var NotificationKinds = []string{IncidentOpened, IncidentUpdated, IncidentResolved, IncidentPostmortem,
	MaintenanceScheduled, MaintenanceReminder, MaintenanceStarted, MaintenanceCompleted, MaintenanceCancelled,
	UpgradeNoticeKind, UpgradeRescheduled, UpgradeCancelledK, ChannelDisabledKind, PortalLink, ContactConfirm, SLAReportNotice}

// PolicyMaintenance is the notice policy row for maintenance, which has no
// impact level of its own.
const PolicyMaintenance = "maintenance"

// PolicyRows lists the notice policy rows in display order.
var PolicyRows = []string{"critical", "major", "minor", "none", PolicyMaintenance}

// NoticePolicy says which contact roles an impact level emails.
type NoticePolicy struct {
	Impact           string `gorm:"primaryKey"`
	NotifyPrimary    bool
	NotifyAdditional bool
}

// TableName keeps gorm from pluralising the policy table.
func (NoticePolicy) TableName() string { return "notice_policy" }

func (p NoticePolicy) roles() []string {
	var r []string
	if p.NotifyPrimary {
		r = append(r, RolePrimary)
	}
	if p.NotifyAdditional {
		r = append(r, RoleAdditional)
	}
	return r
}

// Policy returns every row of the notice policy, in display order.
func (s *Store) Policy(ctx context.Context) ([]NoticePolicy, error) {
	var rows []NoticePolicy
	if err := s.db.WithContext(ctx).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: notice policy: %w", err)
	}
	order := map[string]int{}
	for i, r := range PolicyRows {
		order[r] = i
	}
	sort.Slice(rows, func(i, j int) bool { return order[rows[i].Impact] < order[rows[j].Impact] })
	return rows, nil
}

// SetPolicy replaces the notice policy.
func (s *Store) SetPolicy(ctx context.Context, rows []NoticePolicy) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		for _, r := range rows {
			if !oneOf(r.Impact, PolicyRows) {
				return Invalid("policy", "invalid_choice")
			}
			res := tx.Model(&NoticePolicy{}).Where("impact = ?", r.Impact).
				Updates(map[string]any{"notify_primary": r.NotifyPrimary, "notify_additional": r.NotifyAdditional})
			if res.Error != nil {
				return res.Error
			}
		}
		return nil
	})
}

// Recipient is one address a notice goes to.
type Recipient struct {
	ContactID    int64
	SubscriberID int64
	ChannelID    int64 `gorm:"-"`
	ContractID   int64
	Email        string
	Name         string
	Lang         string
	Role         string
	// Contracts are the contracts the notice reaches the address through.
	Contracts []ReasonContract `gorm:"-"`
}

// ReasonContract is a contract a notice reaches an address through: the
// address's role there, and the affected products the contract uses.
type ReasonContract struct {
	Code, Name string
	Role       string
	Products   []NoticeName
}

// Audience is who a notice would reach.
type Audience struct {
	Recipients []Recipient
	// Contacts and Subscribers count the recipients of each kind apart;
	// Contracts counts the contracts the contacts are listed on.
	Contacts, Subscribers, Contracts int
	// Channels counts the webhook, Slack and Teams channels posted to
	// (NoticeAudienceCount only): posts, not emails.
	Channels int
}

// audience finds who a notice of this policy row about these components
// reaches. Contacts: in a role the policy names, at active contracts that
// use a product one of the components belongs to, unless the address opted
// out of what it receives as an additional contact. An address listed
// several times is emailed once, in the language it chose (else the first
// listing's), as its primary role if it has one (so it is not offered an
// unsubscribe it cannot use), naming every contract it is reached through.
// Then confirmed public subscribers not already reached as contacts.
// contactAudience selects the contacts a notice reaches (see audience):
// one query for the list a notice is sent to and for the count an operator
// is shown before.
func contactAudience(tx *gorm.DB, roles []string, componentIDs []int64) *gorm.DB {
	return tx.Table("contacts").
		Joins("JOIN contracts ON contracts.id = contacts.contract_id").
		Joins("LEFT JOIN people ON people.email = contacts.email").
		Where("contracts.active = ? AND contacts.role IN ?", true, roles).
		// A contact a customer added hears nothing before confirming.
		Where("contacts.confirmed_at IS NOT NULL").
		Where("NOT (contacts.role = ? AND COALESCE(people.opted_out, ?) = ?)", RoleAdditional, false, true).
		Where("contacts.contract_id IN (SELECT cp.contract_id FROM contract_products cp JOIN components c ON c.product_id = cp.product_id WHERE c.id IN ?)", componentIDs)
}

// NoticeAudienceCount counts what NoticeAudience lists, in the database:
// the preview an operator sees while typing stays quick with a hundred
// thousand contacts.
func (s *Store) NoticeAudienceCount(ctx context.Context, impact string, componentIDs []int64) (Audience, error) {
	var a Audience
	if !oneOf(impact, Impacts) && impact != PolicyMaintenance {
		return a, Invalid("impact", "invalid_choice")
	}
	tx := s.db.WithContext(ctx)
	// The same channels queueNotification posts to, whatever the policy
	// (and, for channels of every product, without a component).
	chans, err := channelAudience(tx, false, componentIDs)
	if err != nil {
		return a, fmt.Errorf("data: audience: %w", err)
	}
	a.Channels = len(chans)
	if len(componentIDs) == 0 {
		return a, nil
	}
	var pol NoticePolicy
	if err := tx.Where("impact = ?", impact).First(&pol).Error; err != nil {
		return a, fmt.Errorf("data: notice policy %q: %w", impact, err)
	}
	roles := pol.roles()
	if len(roles) > 0 {
		var n struct{ Contacts, Contracts int }
		err := contactAudience(tx, roles, componentIDs).
			Select("COUNT(DISTINCT contacts.email) AS contacts, COUNT(DISTINCT contacts.contract_id) AS contracts").Scan(&n).Error
		if err != nil {
			return a, fmt.Errorf("data: audience: %w", err)
		}
		a.Contacts, a.Contracts = n.Contacts, n.Contracts
	}
	q, err := subscriberAudienceQuery(tx, impact, componentIDs)
	if err != nil || q == nil {
		return a, err
	}
	if len(roles) > 0 {
		q = q.Where("email NOT IN (?)", contactAudience(s.db.WithContext(ctx), roles, componentIDs).Select("contacts.email"))
	}
	var subs int64
	if err := q.Count(&subs).Error; err != nil {
		return a, fmt.Errorf("data: audience: %w", err)
	}
	a.Subscribers = int(subs)
	return a, nil
}

func audience(tx *gorm.DB, policyRow string, componentIDs []int64) (a Audience, err error) {
	if len(componentIDs) == 0 {
		return a, nil
	}
	var pol NoticePolicy
	if err := tx.Where("impact = ?", policyRow).First(&pol).Error; err != nil {
		return a, fmt.Errorf("notice policy %q: %w", policyRow, err)
	}
	byEmail := map[string]int{}
	if roles := pol.roles(); len(roles) > 0 {
		var rows []struct {
			Recipient
			ContractCode, ContractName string
		}
		err = contactAudience(tx, roles, componentIDs).
			Select("contacts.id AS contact_id, contacts.contract_id, contracts.code AS contract_code, contracts.name AS contract_name, " +
				"contacts.email, contacts.name, COALESCE(NULLIF(people.lang, ''), contacts.lang) AS lang, contacts.role").
			Order("contacts.id").Scan(&rows).Error
		if err != nil {
			return a, err
		}
		products, err := contractProducts(tx, componentIDs)
		if err != nil {
			return a, err
		}
		contracts := map[int64]bool{}
		for _, r := range rows {
			contracts[r.ContractID] = true
			why := ReasonContract{Code: r.ContractCode, Name: r.ContractName, Role: r.Role, Products: products[r.ContractID]}
			if i, ok := byEmail[r.Email]; ok {
				if r.Role == RolePrimary {
					a.Recipients[i].Role = RolePrimary
				}
				a.Recipients[i].Contracts = append(a.Recipients[i].Contracts, why)
				continue
			}
			byEmail[r.Email] = len(a.Recipients)
			rec := r.Recipient
			rec.Contracts = []ReasonContract{why}
			a.Recipients = append(a.Recipients, rec)
		}
		a.Contacts, a.Contracts = len(a.Recipients), len(contracts)
	}
	subs, err := subscriberAudience(tx, policyRow, componentIDs)
	if err != nil {
		return a, err
	}
	for _, r := range subs {
		if _, dup := byEmail[r.Email]; !dup {
			byEmail[r.Email] = len(a.Recipients)
			a.Recipients = append(a.Recipients, r)
			a.Subscribers++
		}
	}
	return a, nil
}

// contractProducts maps each active contract to the products it uses among
// those the components belong to, in display order.
func contractProducts(tx *gorm.DB, componentIDs []int64) (map[int64][]NoticeName, error) {
	var rows []struct {
		ContractID     int64
		NameJA, NameEN string
	}
	err := tx.Table("contract_products").
		Select("contract_products.contract_id, products.name_ja, products.name_en").
		Joins("JOIN products ON products.id = contract_products.product_id").
		Joins("JOIN contracts ON contracts.id = contract_products.contract_id").
		Where("contracts.active = ? AND products.id IN (SELECT product_id FROM components WHERE id IN ?)", true, componentIDs).
		Order("contract_products.contract_id, products.position, products.id").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := map[int64][]NoticeName{}
	for _, r := range rows {
		out[r.ContractID] = append(out[r.ContractID], NoticeName{r.NameJA, r.NameEN})
	}
	return out, nil
}

// NoticeAudience tells an operator, before they publish, who a notice of
// this impact about these components would reach.
func (s *Store) NoticeAudience(ctx context.Context, impact string, componentIDs []int64) (Audience, error) {
	if !oneOf(impact, Impacts) && impact != PolicyMaintenance {
		return Audience{}, Invalid("impact", "invalid_choice")
	}
	return audience(s.db.WithContext(ctx), impact, componentIDs)
}

// Notice asks for an incident or maintenance change to be emailed.
type Notice struct {
	// Send emails the audience; false publishes on the page only.
	Send bool
	// Hold creates the deliveries as held: no SMTP server is configured, so
	// an operator looks at them and releases them later.
	Hold bool
}

// NoticeContent is a notification frozen at the moment of the change: what
// the email says does not move if the incident is edited later.
type NoticeContent struct {
	Kind             string
	Impact           string `json:",omitempty"`
	Status           string
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	Products         []NoticeName
	Components       []NoticeComponent
	StartedAt        *time.Time `json:",omitempty"`
	ResolvedAt       *time.Time `json:",omitempty"`
	// UpdatedAt is the time of the update the notice reports.
	UpdatedAt *time.Time `json:",omitempty"`
	StartsAt  *time.Time `json:",omitempty"`
	EndsAt    *time.Time `json:",omitempty"`
	// Path is the page of the incident or maintenance, such as /incidents/3.
	Path string
	// Event names the calendar event of a maintenance or upgrade (its UID
	// before the host), and Sequence its revision; empty for incidents.
	Event    string `json:",omitempty"`
	Sequence int    `json:",omitempty"`
	// OldStatus and ComponentID describe a component update.
	OldStatus   string `json:",omitempty"`
	ComponentID int64  `json:",omitempty"`
	// CreatedAt is when the incident was posted, UpdateID the update the
	// notice reports, and Updates the incident's updates up to it, newest
	// first: the webhook lists them all, as Statuspage's does.
	CreatedAt *time.Time     `json:",omitempty"`
	UpdateID  int64          `json:",omitempty"`
	Updates   []NoticeUpdate `json:",omitempty"`
}

// NoticeUpdate is one of an incident's updates as a notice froze it, with
// the status each component was put in.
type NoticeUpdate struct {
	ID             int64
	Status         string
	BodyJA, BodyEN string
	CreatedAt      time.Time
	Components     []NoticeComponent `json:",omitempty"`
}

// NoticeName is a product's name in both languages.
type NoticeName struct{ JA, EN string }

// NoticeComponent is an affected component, its product (two products may
// each have a component of the same name) and its status.
type NoticeComponent struct {
	NoticeName
	Product NoticeName `json:",omitempty"`
	Status  string
	// ID is the component's id; 0 in notices written before it was kept.
	ID int64 `json:",omitempty"`
	// ContractOnly: the component is shown only to contracts, so public
	// subscribers and channels are not told of it (ForPublic).
	ContractOnly bool `json:",omitempty"`
}

// Notification is one event worth emailing and its frozen content.
type Notification struct {
	ID            int64
	Kind          string
	IncidentID    *int64
	MaintenanceID *int64
	UpgradeID     *int64
	// Thread groups the notices of one incident or maintenance, so that
	// mail clients show them as one conversation.
	Thread     string
	Content    string
	OperatorID *int64
	CreatedAt  time.Time
}

// ForPublic is the notification as public subscribers and channels
// receive it: its frozen content names no contract-only component, in its
// components, its updates, or (when it names them only through such
// components) its products. Contract contacts and operators get it whole.
func (n Notification) ForPublic() Notification {
	c, err := n.Decode()
	if err != nil {
		return n
	}
	dropped := false
	keep := func(cs []NoticeComponent) []NoticeComponent {
		var out []NoticeComponent
		for _, x := range cs {
			if x.ContractOnly {
				dropped = true
				continue
			}
			out = append(out, x)
		}
		return out
	}
	c.Components = keep(c.Components)
	for i := range c.Updates {
		c.Updates[i].Components = keep(c.Updates[i].Components)
	}
	if !dropped {
		return n
	}
	named := map[NoticeName]bool{}
	for _, x := range c.Components {
		named[x.Product] = true
	}
	for _, u := range c.Updates {
		for _, x := range u.Components {
			named[x.Product] = true
		}
	}
	var ps []NoticeName
	for _, p := range c.Products {
		if named[p] {
			ps = append(ps, p)
		}
	}
	c.Products = ps
	b, err := json.Marshal(c)
	if err != nil {
		return n
	}
	n.Content = string(b)
	return n
}

// Decode returns the frozen content.
func (n *Notification) Decode() (NoticeContent, error) {
	var c NoticeContent
	err := json.Unmarshal([]byte(n.Content), &c)
	return c, err
}

// AlertNoticeHeld is the operators' channel alert that a notice is held.
const AlertNoticeHeld = "notice_held"

// OperatorAlertKinds are the notifications written for operators, never
// for customers: the preview of a customer notice skips them.
var OperatorAlertKinds = []string{AlertNoticeHeld, AlertRelayRefusing, AlertJobFailed, AlertDeliveriesFailed,
	MonitorAlertDown, MonitorAlertUp, AlertRenderFailing, AlertPayloadRefused, AlertBreakGlass}

// Delivery states.
const (
	DeliveryHeld    = "held"
	DeliveryPending = "pending"
	DeliverySending = "sending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliveryBounced = "bounced"
	// DeliveryDiscarded: an operator decided a held notice is not to be
	// sent at all.
	DeliveryDiscarded = "discarded"
)

// DeliveryStates lists the states in the order the console shows them.
var DeliveryStates = []string{DeliverySent, DeliveryPending, DeliverySending, DeliveryHeld, DeliveryFailed, DeliveryBounced, DeliveryDiscarded}

// Delivery is one notification to one address.
type Delivery struct {
	ID             int64
	NotificationID int64
	ContactID      *int64
	SubscriberID   *int64
	// ChannelID is set for a delivery to a webhook, Slack or Teams
	// channel (Email is then "channel:ID").
	ChannelID     *int64
	Email         string
	Name          string
	Lang          string
	Role          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	ClaimedBy     string
	ClaimedUntil  *time.Time
	LastError     string
	MessageID     string
	// Reason lists, as JSON, the contracts a contact is reached through
	// (ReasonContract), so the email can name them.
	Reason    string
	SentAt    *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Contracts decodes the contracts the delivery was sent for.
func (d *Delivery) Contracts() []ReasonContract {
	var out []ReasonContract
	if d.Reason != "" {
		json.Unmarshal([]byte(d.Reason), &out)
	}
	return out
}

// DeliveryAttempt records one try at sending a delivery.
type DeliveryAttempt struct {
	ID         int64
	DeliveryID int64
	At         time.Time
	Outcome    string
	Code       int
	Error      string
}

// componentNames returns the affected components and their products, in
// display order, for the frozen content.
func componentNames(tx *gorm.DB, statuses map[int64]string) ([]NoticeName, []NoticeComponent, error) {
	if len(statuses) == 0 {
		return nil, nil, nil
	}
	ids := make([]int64, 0, len(statuses))
	for id := range statuses {
		ids = append(ids, id)
	}
	var comps []Component
	if err := tx.Where("id IN ?", ids).Order("product_id, position, id").Find(&comps).Error; err != nil {
		return nil, nil, err
	}
	var prodIDs []int64
	seen := map[int64]bool{}
	for _, c := range comps {
		if !seen[c.ProductID] {
			seen[c.ProductID] = true
			prodIDs = append(prodIDs, c.ProductID)
		}
	}
	var prods []Product
	if err := tx.Where("id IN ?", prodIDs).Order("position, id").Find(&prods).Error; err != nil {
		return nil, nil, err
	}
	names := make([]NoticeName, len(prods))
	byID := map[int64]NoticeName{}
	rank := map[int64]int{}
	for i, p := range prods {
		names[i] = NoticeName{p.NameJA, p.NameEN}
		byID[p.ID], rank[p.ID] = names[i], i
	}
	sort.SliceStable(comps, func(i, j int) bool { return rank[comps[i].ProductID] < rank[comps[j].ProductID] })
	out := make([]NoticeComponent, len(comps))
	for i, c := range comps {
		out[i] = NoticeComponent{NoticeName: NoticeName{c.NameJA, c.NameEN}, Product: byID[c.ProductID], Status: statuses[c.ID], ID: c.ID,
			ContractOnly: c.ContractOnly}
	}
	return names, out, nil
}

// queueNotification writes a notification and one delivery per recipient,
// inside the caller's transaction: the change and its notice commit
// together or not at all.
func (s *Store) queueNotification(tx *gorm.DB, n Notification, content NoticeContent, policyRow string, componentIDs []int64, hold bool) error {
	aud, err := audience(tx, policyRow, componentIDs)
	if err != nil {
		return err
	}
	chans, err := channelAudience(tx, false, componentIDs)
	if err != nil {
		return err
	}
	return s.writeNotification(tx, n, content, append(aud.Recipients, chans...), hold)
}

// writeNotification writes a notification and its deliveries; with nobody
// to send to it writes nothing.
func (s *Store) writeNotification(tx *gorm.DB, n Notification, content NoticeContent, recips []Recipient, hold bool) error {
	_, err := s.writeNotificationID(tx, n, content, recips, hold)
	return err
}

func (s *Store) writeNotificationID(tx *gorm.DB, n Notification, content NoticeContent, recips []Recipient, hold bool) (*int64, error) {
	if len(recips) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	n.Content = string(b)
	n.CreatedAt = s.now()
	if err := tx.Create(&n).Error; err != nil {
		return nil, err
	}
	state := DeliveryPending
	if hold {
		state = DeliveryHeld
	}
	if hold && n.Kind != ChannelDisabledKind && !strings.HasPrefix(n.Kind, "subscription") {
		// Held for want of a relay: the operators' channels hear that a
		// notice waits for someone to release it.
		if err := s.alertOperatorChannels(tx, AlertNoticeHeld, "メールのお知らせが送信待ちで保留されています", "An email notice is held",
			content.TitleJA, pickText("en", content.TitleJA, content.TitleEN), fmt.Sprintf("/admin/notifications/%d", n.ID)); err != nil {
			return nil, err
		}
	}
	rows := make([]Delivery, len(recips))
	for i, r := range recips {
		d := Delivery{NotificationID: n.ID, Email: r.Email, Name: r.Name, Lang: r.Lang, Role: r.Role,
			State: state, NextAttemptAt: n.CreatedAt}
		if len(r.Contracts) > 0 {
			b, err := json.Marshal(r.Contracts)
			if err != nil {
				return nil, err
			}
			d.Reason = string(b)
		}
		if r.ContactID != 0 {
			cid := r.ContactID
			d.ContactID = &cid
		}
		if r.SubscriberID != 0 {
			sid := r.SubscriberID
			d.SubscriberID = &sid
		}
		if r.ChannelID != 0 {
			// A channel never waits for the mail relay.
			cid := r.ChannelID
			d.ChannelID, d.State = &cid, DeliveryPending
		}
		rows[i] = d
	}
	return &n.ID, tx.CreateInBatches(&rows, 500).Error
}

// Notifications lists notifications newest first, with how many deliveries
// are in each state.
func (s *Store) Notifications(ctx context.Context, limit, offset int) ([]Notification, map[int64]map[string]int, int64, error) {
	return s.NotificationsWith(ctx, nil, limit, offset)
}

// NotificationsWith lists, newest first, the notifications with at least
// one delivery in one of these states (all of them when states is empty).
func (s *Store) NotificationsWith(ctx context.Context, states []string, limit, offset int) ([]Notification, map[int64]map[string]int, int64, error) {
	db := s.db.WithContext(ctx)
	q := db.Model(&Notification{})
	if len(states) > 0 {
		q = q.Where("id IN (SELECT notification_id FROM deliveries WHERE state IN ?)", states)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, nil, 0, fmt.Errorf("data: count notifications: %w", err)
	}
	var ns []Notification
	if err := q.Order("created_at DESC, id DESC").Limit(limit).Offset(offset).Find(&ns).Error; err != nil {
		return nil, nil, 0, fmt.Errorf("data: notifications: %w", err)
	}
	counts := map[int64]map[string]int{}
	if len(ns) == 0 {
		return ns, counts, total, nil
	}
	ids := make([]int64, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	counts, err := s.DeliveryCountsOf(ctx, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	return ns, counts, total, nil
}

// DeliveryCountsOf counts the deliveries of several notifications by
// state, in one query; every id asked for has a map, empty without any.
func (s *Store) DeliveryCountsOf(ctx context.Context, ids []int64) (map[int64]map[string]int, error) {
	counts := make(map[int64]map[string]int, len(ids))
	for _, id := range ids {
		counts[id] = map[string]int{}
	}
	if len(ids) == 0 {
		return counts, nil
	}
	var rows []struct {
		NotificationID int64
		State          string
		N              int
	}
	if err := s.db.WithContext(ctx).Model(&Delivery{}).Select("notification_id, state, COUNT(*) AS n").Where("notification_id IN ?", ids).
		Group("notification_id, state").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: delivery counts: %w", err)
	}
	for _, r := range rows {
		counts[r.NotificationID][r.State] = r.N
	}
	return counts, nil
}

// Notification returns one notification.
func (s *Store) Notification(ctx context.Context, id int64) (*Notification, error) {
	var n Notification
	if err := s.db.WithContext(ctx).First(&n, id).Error; err != nil {
		return nil, fmt.Errorf("data: notification %d: %w", id, notFound(err))
	}
	return &n, nil
}

// DeliveryCounts counts a notification's deliveries by state.
func (s *Store) DeliveryCounts(ctx context.Context, notificationID int64) (map[string]int, error) {
	var rows []struct {
		State string
		N     int
	}
	err := s.db.WithContext(ctx).Model(&Delivery{}).Select("state, COUNT(*) AS n").
		Where("notification_id = ?", notificationID).Group("state").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("data: delivery counts: %w", err)
	}
	m := map[string]int{}
	for _, r := range rows {
		m[r.State] = r.N
	}
	return m, nil
}

// Deliveries lists a notification's deliveries, problems first.
func (s *Store) Deliveries(ctx context.Context, notificationID int64, state string, limit, offset int) ([]Delivery, int64, error) {
	q := s.db.WithContext(ctx).Model(&Delivery{}).Where("notification_id = ?", notificationID)
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var ds []Delivery
	err := q.Order("CASE state WHEN 'failed' THEN 0 WHEN 'bounced' THEN 1 WHEN 'sending' THEN 2 WHEN 'pending' THEN 3 WHEN 'held' THEN 4 ELSE 5 END, email").
		Limit(limit).Offset(offset).Find(&ds).Error
	if err != nil {
		return nil, 0, fmt.Errorf("data: deliveries: %w", err)
	}
	return ds, total, nil
}

// Delivery returns one delivery with its attempts, newest first.
func (s *Store) Delivery(ctx context.Context, id int64) (*Delivery, []DeliveryAttempt, error) {
	var d Delivery
	if err := s.db.WithContext(ctx).First(&d, id).Error; err != nil {
		return nil, nil, fmt.Errorf("data: delivery %d: %w", id, notFound(err))
	}
	var as []DeliveryAttempt
	if err := s.db.WithContext(ctx).Where("delivery_id = ?", id).Order("at DESC, id DESC").Find(&as).Error; err != nil {
		return nil, nil, err
	}
	return &d, as, nil
}

// RetryFailed puts a notification's failed deliveries back in the queue
// with a fresh set of attempts. It returns how many.
func (s *Store) RetryFailed(ctx context.Context, notificationID int64) (int64, error) {
	res := s.db.WithContext(ctx).Model(&Delivery{}).Where("notification_id = ? AND state = ?", notificationID, DeliveryFailed).
		Updates(map[string]any{"state": DeliveryPending, "attempts": 0, "next_attempt_at": s.now(), "updated_at": s.now()})
	return res.RowsAffected, res.Error
}

// ReleaseHeld queues a notification's held deliveries for sending.
func (s *Store) ReleaseHeld(ctx context.Context, notificationID int64) (int64, error) {
	res := s.db.WithContext(ctx).Model(&Delivery{}).Where("notification_id = ? AND state = ?", notificationID, DeliveryHeld).
		Updates(map[string]any{"state": DeliveryPending, "next_attempt_at": s.now(), "updated_at": s.now()})
	return res.RowsAffected, res.Error
}

// DiscardHeld drops a notification's held deliveries: they will never be
// sent. It returns how many.
func (s *Store) DiscardHeld(ctx context.Context, notificationID int64) (int64, error) {
	res := s.db.WithContext(ctx).Model(&Delivery{}).Where("notification_id = ? AND state = ?", notificationID, DeliveryHeld).
		Updates(map[string]any{"state": DeliveryDiscarded, "updated_at": s.now()})
	return res.RowsAffected, res.Error
}

// DiscardAllHeld drops every held delivery of every notification.
func (s *Store) DiscardAllHeld(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Model(&Delivery{}).Where("state = ?", DeliveryHeld).
		Updates(map[string]any{"state": DeliveryDiscarded, "updated_at": s.now()})
	return res.RowsAffected, res.Error
}

// Attention counts what needs an operator: notifications with held
// deliveries, and with failed or bounced ones, and the deliveries in each.
type Attention struct {
	HeldNotices, Held     int64
	FailedNotices, Failed int64
}

// NeedsAttention counts held and failed notices for the dashboard.
func (s *Store) NeedsAttention(ctx context.Context) (Attention, error) {
	var a Attention
	count := func(states []string, notices, deliveries *int64) error {
		var row struct{ N, D int64 }
		err := s.db.WithContext(ctx).Model(&Delivery{}).Select("COUNT(DISTINCT notification_id) AS n, COUNT(*) AS d").
			Where("state IN ?", states).Scan(&row).Error
		*notices, *deliveries = row.N, row.D
		return err
	}
	if err := count([]string{DeliveryHeld}, &a.HeldNotices, &a.Held); err != nil {
		return a, fmt.Errorf("data: held notices: %w", err)
	}
	if err := count([]string{DeliveryFailed, DeliveryBounced}, &a.FailedNotices, &a.Failed); err != nil {
		return a, fmt.Errorf("data: failed notices: %w", err)
	}
	return a, nil
}

// Staleness says how a held notice stands against what it is about, so an
// operator releasing it late is told first.
type Staleness struct {
	// Age is how long ago the notice was written.
	Age time.Duration
	// Over is set when what the notice is about has ended since: the
	// incident is resolved or the window completed or cancelled, and when.
	Over   bool
	OverAt *time.Time
	// Status is the incident's or maintenance's status now.
	Status string
}

// Stale reports whether a notice should not go out without asking: it is
// over a day old, or what it is about has ended.
func (st Staleness) Stale() bool { return st.Over || st.Age > 24*time.Hour }

// NotificationStaleness compares a notification with its incident or
// maintenance as they stand now.
func (s *Store) NotificationStaleness(ctx context.Context, n *Notification) (Staleness, error) {
	st := Staleness{Age: s.now().Sub(n.CreatedAt)}
	db := s.db.WithContext(ctx)
	switch {
	case n.IncidentID != nil:
		var inc Incident
		if err := db.First(&inc, *n.IncidentID).Error; err != nil {
			return st, fmt.Errorf("data: notification %d: %w", n.ID, notFound(err))
		}
		st.Status = inc.Status
		if inc.Status == Resolved && n.Kind != IncidentResolved {
			st.Over, st.OverAt = true, inc.ResolvedAt
		}
	case n.MaintenanceID != nil:
		var m Maintenance
		if err := db.First(&m, *n.MaintenanceID).Error; err != nil {
			return st, fmt.Errorf("data: notification %d: %w", n.ID, notFound(err))
		}
		st.Status = m.Status
		if m.Ended() && n.Kind != MaintenanceCompleted && n.Kind != MaintenanceCancelled {
			st.Over, st.OverAt = true, m.CompletedAt
		}
	}
	return st, nil
}

// Queued is what a notification was written to do: emails by state, and
// posts to webhook, Slack and Teams channels (never held).
type Queued struct {
	Emails   map[string]int
	Channels int
}

// QueuedFor returns the newest notification written since a moment about
// an incident (or, with incident 0, a maintenance), and its deliveries:
// emails by state and channel posts apart; nil when the change queued none.
func (s *Store) QueuedFor(ctx context.Context, incidentID, maintenanceID int64, since time.Time) (*Notification, Queued, error) {
	q := s.db.WithContext(ctx).Where("created_at >= ?", since.UTC())
	if incidentID != 0 {
		q = q.Where("incident_id = ?", incidentID)
	} else {
		q = q.Where("maintenance_id = ?", maintenanceID)
	}
	out := Queued{Emails: map[string]int{}}
	var ns []Notification
	if err := q.Order("created_at DESC, id DESC").Limit(1).Find(&ns).Error; err != nil {
		return nil, out, fmt.Errorf("data: queued notification: %w", err)
	}
	if len(ns) == 0 {
		return nil, out, nil
	}
	var rows []struct {
		Channel bool
		State   string
		N       int
	}
	if err := s.db.WithContext(ctx).Model(&Delivery{}).Select("channel_id IS NOT NULL AS channel, state, COUNT(*) AS n").
		Where("notification_id = ?", ns[0].ID).Group("channel_id IS NOT NULL, state").Scan(&rows).Error; err != nil {
		return nil, out, fmt.Errorf("data: queued notification: %w", err)
	}
	for _, r := range rows {
		if r.Channel {
			out.Channels += r.N
		} else {
			out.Emails[r.State] += r.N
		}
	}
	return &ns[0], out, nil
}
