package data

import "time"

// Component statuses, in the Statuspage vocabulary that monitoring tools
// already understand.
const (
	Operational         = "operational"
	UnderMaintenance    = "under_maintenance"
	DegradedPerformance = "degraded_performance"
	PartialOutage       = "partial_outage"
	MajorOutage         = "major_outage"
)

// ComponentStatuses lists the component statuses from best to worst.
var ComponentStatuses = []string{Operational, UnderMaintenance, DegradedPerformance, PartialOutage, MajorOutage}

// Incident impacts, from none to critical.
var Impacts = []string{"none", "minor", "major", "critical"}

// Incident statuses, in the order an incident usually goes through them.
const (
	Investigating = "investigating"
	Identified    = "identified"
	Monitoring    = "monitoring"
	Resolved      = "resolved"
)

// IncidentStatuses lists the incident statuses in order.
var IncidentStatuses = []string{Investigating, Identified, Monitoring, Resolved}

// Maintenance statuses. Completed and cancelled are final.
const (
	Scheduled  = "scheduled"
	InProgress = "in_progress"
	Verifying  = "verifying"
	Completed  = "completed"
	Cancelled  = "cancelled"
)

// MaintenanceStatuses lists the maintenance statuses in order.
var MaintenanceStatuses = []string{Scheduled, InProgress, Verifying, Completed, Cancelled}

// Operator roles.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
)

// StatusRank orders component statuses so that the worst one wins; an
// unknown status ranks as operational.
func StatusRank(status string) int {
	for i, s := range ComponentStatuses {
		if s == status {
			return i
		}
	}
	return 0
}

// Worst returns the worse of two component statuses.
func Worst(a, b string) string {
	if StatusRank(b) > StatusRank(a) {
		return b
	}
	if a == "" {
		return Operational
	}
	return a
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// Product is a group of components that customers know by name, such as a
// plugin the vendor sells.
type Product struct {
	ID            int64
	NameJA        string
	NameEN        string
	DescriptionJA string
	DescriptionEN string
	Position      int
	// Collapsed shows the product on the page as one row (its worst
	// status and its own bar) that opens to list its components.
	Collapsed bool
	// SLATarget is the availability committed to, in percent ("99.9"),
	// unless a contract sets its own; "" commits to none.
	SLATarget  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Components []Component `gorm:"foreignKey:ProductID"`
}

// Component is something that can be up or down.
type Component struct {
	ID            int64
	ProductID     int64
	NameJA        string
	NameEN        string
	DescriptionJA string
	DescriptionEN string
	Position      int
	// Status is the status an operator set by hand; open incidents and
	// running maintenance can make the shown status worse, never better.
	Status string
	// AutoStatus is the worst status its monitors and alert webhooks
	// report now (see Signal); it reaches the page only when AutoPublish.
	AutoStatus string
	// AutoPublish: a signal publishes an incident (with AutoImpact, and
	// email when AutoNotify) instead of preparing a draft.
	AutoPublish    bool
	AutoImpact     string
	AutoNotify     bool
	AutoIncidentID *int64
	// ShowUptime and ShowLatency put its checks' uptime and response times
	// on the page.
	ShowUptime  bool
	ShowLatency bool
	// ContractOnly shows it only to the contracts using its product, in
	// the customer portal: never on the public page or any public
	// representation, nor incidents and windows that touch only such
	// components.
	ContractOnly bool
	// HookKey names it in alert webhooks (a label's value).
	HookKey   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Incident is an outage or degradation and its timeline.
type Incident struct {
	ID         int64
	TitleJA    string
	TitleEN    string
	Impact     string
	Status     string
	StartedAt  time.Time
	ResolvedAt *time.Time
	// Notify is the operator's choice at declaration; the update form's
	// email box starts from it.
	Notify bool
	// The postmortem: markdown in both languages, a draft until published.
	PostmortemJA, PostmortemEN string
	PostmortemUpdatedAt        *time.Time
	PostmortemPublishedAt      *time.Time
	// PostmortemNotifiedAt is when its notice was queued: at most once.
	PostmortemNotifiedAt *time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
	// Updates are newest first.
	Updates []IncidentUpdate `gorm:"foreignKey:IncidentID"`
}

// Open reports whether the incident is not resolved.
func (i *Incident) Open() bool { return i.Status != Resolved }

// Latest returns the newest update, or nil when there is none.
func (i *Incident) Latest() *IncidentUpdate {
	if len(i.Updates) == 0 {
		return nil
	}
	return &i.Updates[0]
}

// ComponentStatuses returns the status each affected component is in now,
// which is what the newest update says.
func (i *Incident) ComponentStatuses() map[int64]string {
	m := map[int64]string{}
	if u := i.Latest(); u != nil {
		for _, c := range u.Components {
			m[c.ComponentID] = c.Status
		}
	}
	return m
}

// IncidentUpdate is one entry of an incident's timeline. It records the
// incident status and the status of every affected component from then on.
type IncidentUpdate struct {
	ID         int64
	IncidentID int64
	Status     string
	BodyJA     string
	BodyEN     string
	OperatorID *int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Components []IncidentUpdateComponent `gorm:"foreignKey:UpdateID"`
}

// IncidentUpdateComponent is the status a component is put in by an update.
type IncidentUpdateComponent struct {
	UpdateID    int64 `gorm:"primaryKey;autoIncrement:false"`
	ComponentID int64 `gorm:"primaryKey;autoIncrement:false"`
	Status      string
}

// Maintenance is a scheduled window of work on some components.
type Maintenance struct {
	ID          int64
	TitleJA     string
	TitleEN     string
	Status      string
	StartsAt    time.Time
	EndsAt      time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	// ReminderLeadSeconds is how long before the start contacts are
	// reminded (0: no reminder); ReminderSentAt when that happened.
	ReminderLeadSeconds int64
	ReminderSentAt      *time.Time
	// Sequence counts reschedules and cancellation, for calendar clients.
	Sequence int
	// Notify is the operator's choice when scheduling: false means no
	// automatic step (reminder, start, end) ever emails, and the console's
	// later forms start with the email box off.
	Notify bool
	// SavedAt is when the window was last saved (scheduled or moved): an
	// automatic step whose moment was already past then emails nobody.
	SavedAt    *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Components []MaintenanceComponent `gorm:"foreignKey:MaintenanceID"`
	// Updates are newest first.
	Updates []MaintenanceUpdate `gorm:"foreignKey:MaintenanceID"`
	// SeriesID is the recurring series it is an occurrence of; OccurrenceAt
	// the start the series' rule gave it (its RECURRENCE-ID, kept when the
	// occurrence is moved); Detached that it was edited on its own, so
	// edits of the series leave it alone.
	SeriesID     *int64
	OccurrenceAt *time.Time
	Detached     bool
}

// Active reports whether the work is going on, so its components are under
// maintenance.
func (m *Maintenance) Active() bool { return m.Status == InProgress || m.Status == Verifying }

// Ended reports whether the maintenance is completed or cancelled.
func (m *Maintenance) Ended() bool { return m.Status == Completed || m.Status == Cancelled }

// ComponentIDs lists the affected components.
func (m *Maintenance) ComponentIDs() []int64 {
	ids := make([]int64, len(m.Components))
	for i, c := range m.Components {
		ids[i] = c.ComponentID
	}
	return ids
}

// MaintenanceComponent links a maintenance to a component it affects.
type MaintenanceComponent struct {
	MaintenanceID int64 `gorm:"primaryKey;autoIncrement:false"`
	ComponentID   int64 `gorm:"primaryKey;autoIncrement:false"`
}

// MaintenanceUpdate is one entry of a maintenance's timeline.
type MaintenanceUpdate struct {
	ID            int64
	MaintenanceID int64
	Status        string
	BodyJA        string
	BodyEN        string
	OperatorID    *int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Operator is a person who signs in to the console.
type Operator struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string
	Role         string
	Disabled     bool
	// TOTPSecret is sealed with the server secret; empty when two-factor is
	// off. TOTPLastStep is the last time step used, so a code works once.
	TOTPSecret   string
	TOTPLastStep int64
	// Lang is the language of their console, emails and channel alerts.
	Lang string `gorm:"default:ja"`
	// SSOIssuer and SSOSubject tie the operator to one account at the
	// identity provider (its iss and sub), once they first sign in there;
	// empty until then.
	SSOIssuer   string `gorm:"column:sso_issuer"`
	SSOSubject  string `gorm:"column:sso_subject"`
	LastLoginAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// HasTOTP reports whether two-factor sign-in is on.
func (o *Operator) HasTOTP() bool { return o.TOTPSecret != "" }

// IsAdmin reports whether the operator may manage other operators.
func (o *Operator) IsAdmin() bool { return o.Role == RoleAdmin }

// Session is a signed-in operator's server-side session. ID is the SHA-256
// of the cookie value, so a database leak does not hand out live sessions.
type Session struct {
	ID         string
	OperatorID int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// MFAPending: the password was right, the second factor is still due.
	MFAPending bool
	// UserAgent (cut to MaxUserAgent) and IP: the browser and address the
	// session started from, shown to the operator on the account page.
	UserAgent string
	IP        string
	// Method says how the session began: password, password+totp,
	// password+passkey, recovery_code, passkey or sso.
	Method string
	// LastIP is the address the session was last used from.
	LastIP string `gorm:"column:last_ip"`
}

// OperatorDevice is a browser an operator signed in from: it holds a random
// token (kept here only as its SHA-256), so the account-wide sign-in
// throttle does not lock the owner out of their own browser.
type OperatorDevice struct {
	ID         int64
	OperatorID int64
	TokenHash  string
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// Upstream is a status source a component follows: another Statuspage-format
// page (Kind "statuspage", Match the upstream component's id or name) or a
// status feed (Kind "feed", Match the rules that pick its entries). Its
// state is shown beside the component, and its moves raise signals as a
// monitor's do.
type Upstream struct {
	ID          int64
	ComponentID int64
	Kind        string
	URL         string
	// PageURL is the upstream's page people are sent to; NameJA/NameEN
	// what it is called ("kintone").
	PageURL        string
	NameJA, NameEN string
	Match          string
	IntervalS      int
	Enabled        bool
	// ETag and LastModified make the next poll conditional.
	ETag         string `gorm:"column:etag"`
	LastModified string
	// State is the upstream's status in Oshirase's words ("" until known),
	// StateDetail its own words (an incident's name), StateURL a link to it.
	State, StateDetail, StateURL string
	CheckedAt, ChangedAt         *time.Time
	NextCheckAt                  *time.Time
	LastError                    string
	CreatedAt, UpdatedAt         time.Time
}

// MaintenanceSeries is a maintenance window that repeats: its rule (an
// RFC 5545 RRULE, with COUNT or UNTIL) from FirstStartsAt, each occurrence
// lasting Duration, made a window of its own ahead of time.
type MaintenanceSeries struct {
	ID                  int64
	RRule               string `gorm:"column:rrule"`
	FirstStartsAt       time.Time
	DurationSeconds     int64
	TitleJA, TitleEN    string
	BodyJA, BodyEN      string
	Notify              bool
	ReminderLeadSeconds int64
	// EndedAt is when the series was stopped: no later occurrence is made.
	EndedAt    *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Components []MaintenanceSeriesComponent `gorm:"foreignKey:SeriesID"`
}

// TableName keeps gorm from pluralising the series table.
func (MaintenanceSeries) TableName() string { return "maintenance_series" }

// MaintenanceSeriesComponent is a component every occurrence affects.
type MaintenanceSeriesComponent struct {
	SeriesID    int64 `gorm:"primaryKey;autoIncrement:false"`
	ComponentID int64 `gorm:"primaryKey;autoIncrement:false"`
}

// ImportRef remembers what an import made of a source's object, so a
// rerun updates it instead of making it again.
type ImportRef struct {
	Source     string `gorm:"primaryKey"`
	Kind       string `gorm:"primaryKey"`
	ExternalID string `gorm:"primaryKey"`
	LocalID    int64
	CreatedAt  time.Time
}
