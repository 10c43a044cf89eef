package data

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Signal is what a monitor or an alert webhook says about a component:
// Source (such as "monitor:3" or "hook:2:fingerprint") reports Status;
// Operational withdraws the source's report.
type Signal struct {
	ComponentID int64
	Source      string
	Status      string
	Detail      string
	// Hold queues any email held (no relay configured).
	Hold bool
}

// componentSignal is one source's report.
type componentSignal struct {
	ComponentID int64
	Source      string
	Status      string
	Detail      string
	UpdatedAt   time.Time
}

func (componentSignal) TableName() string { return "component_signals" }

// Draft kinds and states.
const (
	DraftOpen    = "open"
	DraftResolve = "resolve"

	DraftWaiting    = "waiting"
	DraftPublished  = "published"
	DraftDismissed  = "dismissed"
	DraftSuperseded = "superseded"
)

// IncidentDraft is what monitors prepare for an operator: an incident to
// declare (open) or a resolving update to post (resolve). Nothing reaches
// customers until an operator publishes it.
type IncidentDraft struct {
	ID                  int64
	Kind                string
	State               string
	ComponentID         int64
	IncidentID          *int64
	Status              string
	Impact              string
	TitleJA, TitleEN    string
	BodyJA, BodyEN      string
	Detail              string
	PublishedIncidentID *int64
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Kinds of the operators' alert emails.
const (
	MonitorAlertDown = "monitor_down"
	MonitorAlertUp   = "monitor_up"
)

// SignalOutcome says what a signal changed.
type SignalOutcome struct {
	ComponentID int64
	// From and To are the component's automatic status before and after.
	From, To string
	// Draft is the draft prepared, updated or superseded.
	Draft *IncidentDraft
	// Action: "draft", "superseded", "resolve_draft", "published",
	// "resolved", or "" when only the status moved.
	Action string
	// IncidentID is the incident published or resolved automatically.
	IncidentID int64
}

// Signal records a source's report and acts on a change of the
// component's automatic status (see signal).
func (s *Store) Signal(ctx context.Context, sig Signal) (*SignalOutcome, error) {
	var out *SignalOutcome
	err := s.tx(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		var err error
		out, err = s.signal(tx, sig)
		return err
	})
	return out, wrapUnlessInvalid("signal", err)
}

// signal records a source's report; the component's automatic status is
// the worst report. When that moves: with automatic publication an
// incident is declared (or its status updated) and resolved on recovery;
// without it a draft is prepared, and a recovery before anyone published
// supersedes it (a flap never reaches customers) or, once an incident is
// open, prepares a resolving update. Operators are emailed either way. A
// report that changes nothing does nothing: replays are harmless.
func (s *Store) signal(tx *gorm.DB, sig Signal) (*SignalOutcome, error) {
	now := s.now()
	if sig.Status == Operational {
		if err := tx.Where("component_id = ? AND source = ?", sig.ComponentID, sig.Source).Delete(&componentSignal{}).Error; err != nil {
			return nil, err
		}
	} else {
		if !oneOf(sig.Status, ComponentStatuses) {
			return nil, Invalid("status", "invalid_choice")
		}
		row := componentSignal{ComponentID: sig.ComponentID, Source: sig.Source, Status: sig.Status, Detail: truncate(sig.Detail, 500), UpdatedAt: now}
		if err := tx.Exec(`INSERT INTO component_signals (component_id, source, status, detail, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (component_id, source) DO UPDATE SET status = excluded.status, detail = excluded.detail, updated_at = excluded.updated_at`,
			row.ComponentID, row.Source, row.Status, row.Detail, row.UpdatedAt).Error; err != nil {
			return nil, err
		}
	}
	var c Component
	if err := s.lockRow(tx).First(&c, sig.ComponentID).Error; err != nil {
		return nil, notFound(err)
	}
	var rows []componentSignal
	if err := tx.Where("component_id = ?", sig.ComponentID).Order("source").Find(&rows).Error; err != nil {
		return nil, err
	}
	worst, detail := Operational, ""
	for _, r := range rows {
		if w := Worst(worst, r.Status); w != worst {
			worst, detail = w, r.Detail
		}
	}
	if c.AutoStatus == "" {
		c.AutoStatus = Operational
	}
	if worst == c.AutoStatus {
		return nil, nil
	}
	// UpdateColumns: what monitors report is not what the component shows
	// (that takes an incident), so it leaves updated_at alone.
	if err := tx.Model(&Component{ID: c.ID}).UpdateColumns(map[string]any{"auto_status": worst}).Error; err != nil {
		return nil, err
	}
	out := &SignalOutcome{ComponentID: c.ID, From: c.AutoStatus, To: worst}
	var err error
	if worst != Operational {
		err = s.onTrouble(tx, &c, worst, detail, sig.Hold, out)
	} else {
		err = s.onRecovery(tx, &c, sig.Hold, out)
	}
	if err != nil {
		return nil, err
	}
	return out, s.alertOperators(tx, &c, out, detail)
}

func (s *Store) onTrouble(tx *gorm.DB, c *Component, status, detail string, hold bool, out *SignalOutcome) error {
	names, err := s.componentTitle(tx, c)
	if err != nil {
		return err
	}
	titleJA, titleEN := names.JA+"で障害を検知しました", "Problem detected: "+names.EN
	bodyJA, bodyEN := "監視で異常を検知しました。現在、状況を確認しています。", "Our monitoring detected a problem. We are looking into it."
	comps := map[int64]string{c.ID: status}
	if c.AutoPublish {
		if inc := s.openAutoIncident(tx, c); inc != nil {
			u, err := insertIncidentUpdate(tx, inc.ID, NewIncidentUpdate{Status: inc.Status, BodyJA: "監視で状態の変化を検知しました。",
				BodyEN: "Our monitoring detected a change.", Components: comps})
			if err != nil {
				return err
			}
			out.Action, out.IncidentID = "published", inc.ID
			if c.AutoNotify {
				return s.queueIncidentNotice(tx, inc, u, IncidentUpdated, comps, hold)
			}
			return nil
		}
		inc := Incident{TitleJA: titleJA, TitleEN: titleEN, Impact: c.AutoImpact, Status: Investigating, StartedAt: s.now(), Notify: c.AutoNotify}
		if !oneOf(inc.Impact, Impacts) {
			inc.Impact = "major"
		}
		if err := tx.Create(&inc).Error; err != nil {
			return err
		}
		u, err := insertIncidentUpdate(tx, inc.ID, NewIncidentUpdate{Status: Investigating, BodyJA: bodyJA, BodyEN: bodyEN, Components: comps, At: inc.StartedAt})
		if err != nil {
			return err
		}
		if err := tx.Model(&Component{ID: c.ID}).UpdateColumn("auto_incident_id", inc.ID).Error; err != nil {
			return err
		}
		out.Action, out.IncidentID = "published", inc.ID
		if c.AutoNotify {
			return s.queueIncidentNotice(tx, &inc, u, IncidentOpened, comps, hold)
		}
		return nil
	}
	var d IncidentDraft
	err = tx.Where("component_id = ? AND kind = ? AND state = ?", c.ID, DraftOpen, DraftWaiting).Limit(1).Find(&d).Error
	if err != nil {
		return err
	}
	if d.ID != 0 {
		if err := tx.Model(&IncidentDraft{ID: d.ID}).Updates(map[string]any{"status": status, "detail": truncate(detail, 500), "updated_at": s.now()}).Error; err != nil {
			return err
		}
		d.Status, d.Detail = status, detail
		out.Action, out.Draft = "draft", &d
		return nil
	}
	// A resolving draft waiting for this component is moot now.
	if err := tx.Model(&IncidentDraft{}).Where("component_id = ? AND kind = ? AND state = ?", c.ID, DraftResolve, DraftWaiting).
		Updates(map[string]any{"state": DraftSuperseded, "updated_at": s.now()}).Error; err != nil {
		return err
	}
	d = IncidentDraft{Kind: DraftOpen, State: DraftWaiting, ComponentID: c.ID, Status: status, Impact: impactFor(status),
		TitleJA: titleJA, TitleEN: titleEN, BodyJA: bodyJA, BodyEN: bodyEN, Detail: truncate(detail, 500), CreatedAt: s.now(), UpdatedAt: s.now()}
	if err := tx.Create(&d).Error; err != nil {
		return err
	}
	out.Action, out.Draft = "draft", &d
	return nil
}

func (s *Store) onRecovery(tx *gorm.DB, c *Component, hold bool, out *SignalOutcome) error {
	var d IncidentDraft
	if err := tx.Where("component_id = ? AND kind = ? AND state = ?", c.ID, DraftOpen, DraftWaiting).Limit(1).Find(&d).Error; err != nil {
		return err
	}
	if d.ID != 0 {
		if err := tx.Model(&IncidentDraft{ID: d.ID}).Updates(map[string]any{"state": DraftSuperseded, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		d.State = DraftSuperseded
		out.Action, out.Draft = "superseded", &d
		return nil
	}
	comps := map[int64]string{c.ID: Operational}
	if c.AutoPublish {
		if inc := s.openAutoIncident(tx, c); inc != nil {
			u, err := insertIncidentUpdate(tx, inc.ID, NewIncidentUpdate{Status: Resolved, BodyJA: "監視で正常に戻ったことを確認しました。",
				BodyEN: "Our monitoring shows it is working normally again.", Components: comps})
			if err != nil {
				return err
			}
			if err := s.applyIncidentStatus(tx, inc, Resolved, u.CreatedAt); err != nil {
				return err
			}
			if err := tx.Model(&Component{ID: c.ID}).UpdateColumn("auto_incident_id", nil).Error; err != nil {
				return err
			}
			out.Action, out.IncidentID = "resolved", inc.ID
			if c.AutoNotify {
				if err := tx.First(inc, inc.ID).Error; err != nil {
					return err
				}
				return s.queueIncidentNotice(tx, inc, u, IncidentResolved, comps, hold)
			}
			return nil
		}
	}
	// An open incident that names the component: suggest resolving it.
	var open []Incident
	if err := preloadIncident(tx).Where("status <> ?", Resolved).Order("started_at DESC").Find(&open).Error; err != nil {
		return err
	}
	for i := range open {
		if st, ok := open[i].ComponentStatuses()[c.ID]; !ok || st == Operational {
			continue
		}
		var n int64
		if err := tx.Model(&IncidentDraft{}).Where("incident_id = ? AND kind = ? AND state = ?", open[i].ID, DraftResolve, DraftWaiting).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		id := open[i].ID
		d = IncidentDraft{Kind: DraftResolve, State: DraftWaiting, ComponentID: c.ID, IncidentID: &id, Status: Operational, Impact: open[i].Impact,
			TitleJA: open[i].TitleJA, TitleEN: open[i].TitleEN, BodyJA: "監視で正常に戻ったことを確認しました。",
			BodyEN: "Our monitoring shows it is working normally again.", CreatedAt: s.now(), UpdatedAt: s.now()}
		if err := tx.Create(&d).Error; err != nil {
			return err
		}
		out.Action, out.Draft = "resolve_draft", &d
		return nil
	}
	return nil
}

// openAutoIncident is the incident automatic publication opened for a
// component, while it is open.
func (s *Store) openAutoIncident(tx *gorm.DB, c *Component) *Incident {
	if c.AutoIncidentID == nil {
		return nil
	}
	var inc Incident
	if err := tx.First(&inc, *c.AutoIncidentID).Error; err != nil || !inc.Open() {
		return nil
	}
	return &inc
}

func impactFor(status string) string {
	switch status {
	case MajorOutage:
		return "critical"
	case PartialOutage:
		return "major"
	}
	return "minor"
}

func (s *Store) componentTitle(tx *gorm.DB, c *Component) (NoticeName, error) {
	var p Product
	if err := tx.First(&p, c.ProductID).Error; err != nil {
		return NoticeName{}, err
	}
	ja := p.NameJA + " / " + c.NameJA
	en := pickText("en", p.NameJA, p.NameEN) + " / " + pickText("en", c.NameJA, c.NameEN)
	return NoticeName{JA: ja, EN: en}, nil
}

// alertOperators emails every active operator what the signal changed.
func (s *Store) alertOperators(tx *gorm.DB, c *Component, out *SignalOutcome, detail string) error {
	names, err := s.componentTitle(tx, c)
	if err != nil {
		return err
	}
	kind, titleJA, titleEN := MonitorAlertDown, names.JA+": "+statusJA[out.To], names.EN+": "+statusEN[out.To]
	if out.To == Operational {
		kind = MonitorAlertUp
	}
	bodyJA, bodyEN := "自動判定の状態が「"+statusJA[out.From]+"」から「"+statusJA[out.To]+"」に変わりました。", "The automatic status went from "+statusEN[out.From]+" to "+statusEN[out.To]+"."
	switch out.Action {
	case "draft":
		bodyJA += "\n\n障害の下書きを用意しました。内容を確認のうえ、公開してください。公開するまで、お客様には何も表示・送信されません。"
		bodyEN += "\n\nA draft incident is ready. Check it and publish it; until then customers see and receive nothing."
	case "superseded":
		bodyJA += "\n\n公開前に回復したため、下書きは取り下げました。"
		bodyEN += "\n\nIt recovered before anyone published it; the draft was withdrawn."
	case "resolve_draft":
		bodyJA += "\n\n障害を復旧済みにする更新の下書きを用意しました。"
		bodyEN += "\n\nA resolving update is ready as a draft."
	case "published":
		bodyJA += "\n\n自動公開の設定により、障害を公開しました。"
		bodyEN += "\n\nAutomatic publication is on: the incident was published."
	case "resolved":
		bodyJA += "\n\n自動公開の設定により、障害を復旧済みにしました。"
		bodyEN += "\n\nAutomatic publication is on: the incident was resolved."
	}
	if detail != "" {
		bodyJA += "\n\n詳細: " + detail
		bodyEN += "\n\nDetail: " + detail
	}
	path := "/admin/drafts"
	if out.IncidentID != 0 {
		path = fmt.Sprintf("/admin/incidents/%d", out.IncidentID)
	}
	recips, err := operatorAudience(tx)
	if err != nil {
		return err
	}
	now := s.now()
	content := NoticeContent{Kind: kind, Status: out.To, TitleJA: titleJA, TitleEN: titleEN, BodyJA: bodyJA, BodyEN: bodyEN,
		UpdatedAt: &now, Path: path}
	n := Notification{Kind: kind, Thread: fmt.Sprintf("monitor-%d-%d", c.ID, now.Unix())}
	return s.writeNotification(tx, n, content, recips, false)
}

var statusJA = map[string]string{Operational: "正常", DegradedPerformance: "パフォーマンス低下", PartialOutage: "一部障害",
	MajorOutage: "重大な障害", UnderMaintenance: "メンテナンス中"}
var statusEN = map[string]string{Operational: "operational", DegradedPerformance: "degraded performance", PartialOutage: "partial outage",
	MajorOutage: "major outage", UnderMaintenance: "under maintenance"}

// IncidentDrafts lists drafts in a state (all when empty), newest first.
func (s *Store) IncidentDrafts(ctx context.Context, state string, limit int) ([]IncidentDraft, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Limit(limit)
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var ds []IncidentDraft
	return ds, q.Find(&ds).Error
}

// WaitingDrafts counts the drafts waiting for an operator.
func (s *Store) WaitingDrafts(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&IncidentDraft{}).Where("state = ?", DraftWaiting).Count(&n).Error
	return n, err
}

// WaitingDraftKinds counts the drafts waiting for an operator by kind:
// DraftOpen (trouble detected) and DraftResolve (a recovery).
func (s *Store) WaitingDraftKinds(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Kind string
		N    int64
	}
	err := s.db.WithContext(ctx).Model(&IncidentDraft{}).Select("kind, COUNT(*) AS n").Where("state = ?", DraftWaiting).
		Group("kind").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("data: waiting drafts: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out, nil
}

// IncidentDraft returns one draft.
func (s *Store) IncidentDraft(ctx context.Context, id int64) (*IncidentDraft, error) {
	var d IncidentDraft
	if err := s.db.WithContext(ctx).First(&d, id).Error; err != nil {
		return nil, fmt.Errorf("data: draft %d: %w", id, notFound(err))
	}
	return &d, nil
}

// CloseDraft marks a waiting draft published (with the incident it became)
// or dismissed; a draft no longer waiting is left as it is.
func (s *Store) CloseDraft(ctx context.Context, id int64, state string, incidentID *int64) error {
	res := s.db.WithContext(ctx).Model(&IncidentDraft{}).Where("id = ? AND state = ?", id, DraftWaiting).
		Updates(map[string]any{"state": state, "published_incident_id": incidentID, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("data: close draft %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return Invalid("draft", "draft_closed")
	}
	return nil
}

// Automation is what a component does with its signals and shows of its
// checks.
type Automation struct {
	AutoPublish bool
	AutoImpact  string
	AutoNotify  bool
	ShowUptime  bool
	ShowLatency bool
	// HookKey names the component in alert webhooks: lowercase letters,
	// digits, '.', '_' and '-'; unique.
	HookKey string
}

var hookKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// SetAutomation saves a component's automation settings.
func (s *Store) SetAutomation(ctx context.Context, componentID int64, a Automation) error {
	f := fieldErrors{}
	a.HookKey = strings.TrimSpace(a.HookKey)
	if a.AutoImpact == "" {
		a.AutoImpact = "major"
	}
	if !oneOf(a.AutoImpact, Impacts) {
		f.add("auto_impact", "invalid_choice")
	}
	if a.HookKey != "" && !hookKeyPattern.MatchString(a.HookKey) {
		f.add("hook_key", "bad_key")
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if a.HookKey != "" {
			var n int64
			if err := tx.Model(&Component{}).Where("hook_key = ? AND id <> ?", a.HookKey, componentID).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				f.add("hook_key", "taken")
			}
		}
		if err := f.err(); err != nil {
			return err
		}
		res := tx.Model(&Component{ID: componentID}).Updates(map[string]any{"auto_publish": a.AutoPublish, "auto_impact": a.AutoImpact,
			"auto_notify": a.AutoNotify, "show_uptime": a.ShowUptime, "show_latency": a.ShowLatency, "hook_key": a.HookKey, "updated_at": s.now()})
		return rowsOrNotFound(res, "component", componentID)
	})
	return wrapUnlessInvalid("set automation", err)
}

// ComponentByKey finds a component by its hook key, or by its id written
// as digits.
func (s *Store) ComponentByKey(ctx context.Context, key string) (*Component, error) {
	var c Component
	q := s.db.WithContext(ctx).Where("hook_key = ?", key)
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		q = s.db.WithContext(ctx).Where("hook_key = ? OR id = ?", key, id)
	}
	if err := q.First(&c).Error; err != nil {
		return nil, fmt.Errorf("data: component %q: %w", key, notFound(err))
	}
	return &c, nil
}

// Signals lists the reports standing on a component, worst first.
func (s *Store) Signals(ctx context.Context, componentID int64) ([]Signal, error) {
	var rows []componentSignal
	if err := s.db.WithContext(ctx).Where("component_id = ?", componentID).Order("source").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Signal, len(rows))
	for i, r := range rows {
		out[i] = Signal{ComponentID: r.ComponentID, Source: r.Source, Status: r.Status, Detail: r.Detail}
	}
	return out, nil
}
