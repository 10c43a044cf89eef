package data

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// NewMaintenance is what an operator enters to schedule maintenance.
type NewMaintenance struct {
	TitleJA, TitleEN string
	StartsAt, EndsAt time.Time
	// ReminderLead is how long before the start contacts are reminded; zero
	// means the default of a day, negative means no reminder.
	ReminderLead   time.Duration
	BodyJA, BodyEN string
	ComponentIDs   []int64
	OperatorID     int64
	Notice         Notice
}

// MaintenanceEdit reschedules or renames a maintenance that has not ended.
type MaintenanceEdit struct {
	TitleJA, TitleEN string
	StartsAt, EndsAt time.Time
	ReminderLead     time.Duration
	ComponentIDs     []int64
}

// NewMaintenanceUpdate is one more entry in a maintenance's timeline.
type NewMaintenanceUpdate struct {
	Status         string
	BodyJA, BodyEN string
	OperatorID     int64
	Notice         Notice
}

func validateWindow(f fieldErrors, starts, ends time.Time) {
	if starts.IsZero() {
		f.add("starts_at", "required")
	}
	if ends.IsZero() {
		f.add("ends_at", "required")
	}
	if !starts.IsZero() && !ends.IsZero() && !ends.After(starts) {
		f.add("ends_at", "before_start")
	}
}

func (s *Store) checkMaintenanceComponents(tx *gorm.DB, f fieldErrors, ids []int64) error {
	if len(ids) == 0 {
		f.add("components", "required")
		return nil
	}
	comps := map[int64]string{}
	for _, c := range ids {
		comps[c] = UnderMaintenance
	}
	return s.validateComponents(tx, f, comps)
}

func setMaintenanceComponents(tx *gorm.DB, id int64, ids []int64) error {
	if err := tx.Where("maintenance_id = ?", id).Delete(&MaintenanceComponent{}).Error; err != nil {
		return err
	}
	seen := map[int64]bool{}
	rows := make([]MaintenanceComponent, 0, len(ids))
	for _, c := range ids {
		if !seen[c] {
			seen[c] = true
			rows = append(rows, MaintenanceComponent{MaintenanceID: id, ComponentID: c})
		}
	}
	return tx.Create(&rows).Error
}

// CreateMaintenance schedules a maintenance window with its first message.
func (s *Store) CreateMaintenance(ctx context.Context, in NewMaintenance) (*Maintenance, error) {
	f := fieldErrors{}
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	validateBodies(f, in.BodyJA, in.BodyEN)
	validateWindow(f, in.StartsAt, in.EndsAt)
	now := s.now()
	m := Maintenance{TitleJA: in.TitleJA, TitleEN: in.TitleEN, Status: Scheduled, StartsAt: in.StartsAt.UTC(), EndsAt: in.EndsAt.UTC(),
		ReminderLeadSeconds: reminderSeconds(in.ReminderLead), Notify: in.Notice.Send, SavedAt: &now}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.checkMaintenanceComponents(tx, f, in.ComponentIDs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		// Select names every column, so notify=false is stored as such
		// rather than taking the column default.
		if err := tx.Select("*").Omit("id", "Components", "Updates").Create(&m).Error; err != nil {
			return err
		}
		if err := setMaintenanceComponents(tx, m.ID, in.ComponentIDs); err != nil {
			return err
		}
		u := MaintenanceUpdate{MaintenanceID: m.ID, Status: Scheduled, BodyJA: in.BodyJA, BodyEN: in.BodyEN}
		if in.OperatorID != 0 {
			u.OperatorID = &in.OperatorID
		}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		if !in.Notice.Send {
			return nil
		}
		return s.queueMaintenanceNotice(tx, &m, &u, MaintenanceScheduled, in.Notice.Hold)
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create maintenance", err)
	}
	return &m, nil
}

// UpdateMaintenance edits the title, window and components of a maintenance
// that has not ended.
func (s *Store) UpdateMaintenance(ctx context.Context, id int64, in MaintenanceEdit) error {
	f := fieldErrors{}
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	validateWindow(f, in.StartsAt, in.EndsAt)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var m Maintenance
		if err := tx.First(&m, id).Error; err != nil {
			return notFound(err)
		}
		if m.Ended() {
			f.add("status", "final_status")
		}
		if err := s.checkMaintenanceComponents(tx, f, in.ComponentIDs); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		fields := map[string]any{"title_ja": in.TitleJA, "title_en": in.TitleEN,
			"starts_at": in.StartsAt.UTC(), "ends_at": in.EndsAt.UTC(), "reminder_lead_seconds": reminderSeconds(in.ReminderLead), "updated_at": s.now()}
		if m.SeriesID != nil {
			// An occurrence changed on its own: edits of its series leave it.
			fields["detached"] = true
		}
		if !m.StartsAt.Equal(in.StartsAt.UTC()) {
			// A new start deserves a new reminder.
			fields["reminder_sent_at"] = nil
		}
		if !m.StartsAt.Equal(in.StartsAt.UTC()) || !m.EndsAt.Equal(in.EndsAt.UTC()) {
			fields["sequence"] = m.Sequence + 1
			fields["saved_at"] = s.now()
		}
		if err := tx.Model(&Maintenance{ID: id}).Updates(fields).Error; err != nil {
			return err
		}
		return setMaintenanceComponents(tx, id, in.ComponentIDs)
	})
	return wrapUnlessInvalid(fmt.Sprintf("update maintenance %d", id), err)
}

// PostMaintenanceUpdate adds an update and moves the maintenance to its
// status. Completed and cancelled are final.
func (s *Store) PostMaintenanceUpdate(ctx context.Context, id int64, in NewMaintenanceUpdate) (*MaintenanceUpdate, error) {
	f := fieldErrors{}
	if !oneOf(in.Status, MaintenanceStatuses) {
		f.add("status", "invalid_choice")
	}
	validateBodies(f, in.BodyJA, in.BodyEN)
	var u *MaintenanceUpdate
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var m Maintenance
		if err := tx.First(&m, id).Error; err != nil {
			return notFound(err)
		}
		if m.Ended() {
			f.add("status", "final_status")
		}
		if err := f.err(); err != nil {
			return err
		}
		var err error
		u, err = s.postMaintenanceUpdate(tx, &m, in)
		return err
	})
	if err != nil {
		return nil, wrapUnlessInvalid(fmt.Sprintf("maintenance %d: post update", id), err)
	}
	return u, nil
}

// postMaintenanceUpdate writes an update of a maintenance that has not
// ended, moves it to the update's status, and queues the notice the move
// calls for: started, completed or cancelled.
func (s *Store) postMaintenanceUpdate(tx *gorm.DB, m *Maintenance, in NewMaintenanceUpdate) (*MaintenanceUpdate, error) {
	u := MaintenanceUpdate{MaintenanceID: m.ID, Status: in.Status, BodyJA: in.BodyJA, BodyEN: in.BodyEN}
	if in.OperatorID != 0 {
		u.OperatorID = &in.OperatorID
	}
	if err := tx.Create(&u).Error; err != nil {
		return nil, err
	}
	now := s.now()
	fields := map[string]any{"status": in.Status, "updated_at": now}
	if (in.Status == InProgress || in.Status == Verifying) && m.StartedAt == nil {
		fields["started_at"] = now
	}
	if in.Status == Completed || in.Status == Cancelled {
		fields["completed_at"] = now
	}
	if in.Status == Cancelled {
		fields["sequence"] = m.Sequence + 1
		m.Sequence++
	}
	if err := tx.Model(&Maintenance{ID: m.ID}).Updates(fields).Error; err != nil {
		return nil, err
	}
	kind := MaintenanceStepKind(m.Status, in.Status)
	if !in.Notice.Send || kind == "" {
		return &u, nil
	}
	m.Status = in.Status
	return &u, s.queueMaintenanceNotice(tx, m, &u, kind, in.Notice.Hold)
}

// MaintenanceStepKind names the notice a move of a maintenance from one
// status to another sends, or "" when that step emails nobody (verifying,
// or staying in progress): the start, the completion and a cancellation.
func MaintenanceStepKind(from, to string) string {
	switch {
	case to == Completed:
		return MaintenanceCompleted
	case to == Cancelled:
		return MaintenanceCancelled
	case to == InProgress && from == Scheduled:
		return MaintenanceStarted
	}
	return ""
}

// Automatic messages posted when a window opens or closes by itself.
const (
	autoStartJA = "予定の時刻になったため、メンテナンスを開始しました。"
	autoStartEN = "The maintenance window has opened and the work has started."
	autoEndJA   = "予定の時刻になったため、メンテナンスを完了しました。"
	autoEndEN   = "The maintenance window has closed and the work is complete."
)

// DueMaintenance lists what the scheduler must do now: windows to open,
// windows to close, and reminders to send.
func (s *Store) DueMaintenance(ctx context.Context) (start, end, remind []Maintenance, err error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	if err = db.Where("status = ? AND starts_at <= ?", Scheduled, now).Order("starts_at").Find(&start).Error; err != nil {
		return
	}
	if err = db.Where("status IN ? AND ends_at <= ?", []string{InProgress, Verifying}, now).Order("ends_at").Find(&end).Error; err != nil {
		return
	}
	var candidates []Maintenance
	if err = db.Where("status = ? AND reminder_sent_at IS NULL AND reminder_lead_seconds > 0 AND starts_at > ?", Scheduled, now).Find(&candidates).Error; err != nil {
		return
	}
	for _, m := range candidates {
		if !m.StartsAt.Add(-time.Duration(m.ReminderLeadSeconds) * time.Second).After(now) {
			remind = append(remind, m)
		}
	}
	return
}

// AutoAdvanceMaintenance opens a window whose start has come, or closes one
// whose end has come, with an automatic update and its notice. It does
// nothing when an operator moved the maintenance first. A window missed
// whole (the server was down) is closed directly, with one notice.
func (s *Store) AutoAdvanceMaintenance(ctx context.Context, id int64, notice Notice) (string, error) {
	moved := ""
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var m Maintenance
		if err := tx.First(&m, id).Error; err != nil {
			return notFound(err)
		}
		now := s.now()
		var in NewMaintenanceUpdate
		switch {
		case m.Ended():
			return nil
		case !m.EndsAt.After(now):
			in = NewMaintenanceUpdate{Status: Completed, BodyJA: autoEndJA, BodyEN: autoEndEN}
		case m.Status == Scheduled && !m.StartsAt.After(now):
			in = NewMaintenanceUpdate{Status: InProgress, BodyJA: autoStartJA, BodyEN: autoStartEN}
		default:
			return nil
		}
		moment := m.StartsAt
		if in.Status == Completed {
			moment = m.EndsAt
		}
		if m.autoNotifies(moment) {
			in.Notice = notice
		}
		if _, err := s.postMaintenanceUpdate(tx, &m, in); err != nil {
			return err
		}
		moved = in.Status
		return nil
	})
	if err == nil && moved != "" {
		s.publicChanged()
	}
	return moved, wrapUnlessInvalid(fmt.Sprintf("maintenance %d: advance", id), err)
}

// autoNotifies reports whether an automatic step at moment may email: the
// operator chose to notify for the window, and the moment was still ahead
// when the window was last saved.
func (m *Maintenance) autoNotifies(moment time.Time) bool {
	saved := m.CreatedAt
	if m.SavedAt != nil {
		saved = *m.SavedAt
	}
	return m.Notify && moment.After(saved)
}

// SendMaintenanceReminder queues the reminder of a window that has not
// opened, once.
func (s *Store) SendMaintenanceReminder(ctx context.Context, id int64, hold bool) (bool, error) {
	sent := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var m Maintenance
		if err := tx.First(&m, id).Error; err != nil {
			return notFound(err)
		}
		now := s.now()
		if m.Status != Scheduled || m.ReminderSentAt != nil || !m.StartsAt.After(now) {
			return nil
		}
		if !m.autoNotifies(m.StartsAt.Add(-time.Duration(m.ReminderLeadSeconds) * time.Second)) {
			// Not wanted, or its moment was past when the window was saved:
			// marked done so it is never sent later.
			return tx.Model(&Maintenance{ID: id}).Update("reminder_sent_at", now).Error
		}
		if err := tx.Model(&Maintenance{ID: id}).Update("reminder_sent_at", now).Error; err != nil {
			return err
		}
		sent = true
		var latest MaintenanceUpdate
		if err := tx.Where("maintenance_id = ?", id).Order("created_at DESC, id DESC").First(&latest).Error; err != nil {
			return err
		}
		return s.queueMaintenanceNotice(tx, &m, &latest, MaintenanceReminder, hold)
	})
	return sent, wrapUnlessInvalid(fmt.Sprintf("maintenance %d: reminder", id), err)
}

// EditMaintenanceUpdate corrects the text of an update.
func (s *Store) EditMaintenanceUpdate(ctx context.Context, maintenanceID, updateID int64, bodyJA, bodyEN string) error {
	f := fieldErrors{}
	validateBodies(f, bodyJA, bodyEN)
	if err := f.err(); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&MaintenanceUpdate{}).Where("id = ? AND maintenance_id = ?", updateID, maintenanceID).
		Updates(map[string]any{"body_ja": bodyJA, "body_en": bodyEN, "updated_at": s.now()})
	return rowsOrNotFound(res, "maintenance update", updateID)
}

func preloadMaintenance(db *gorm.DB) *gorm.DB {
	return db.Preload("Components").
		Preload("Updates", func(db *gorm.DB) *gorm.DB { return db.Order("created_at DESC, id DESC") })
}

// Maintenance returns one maintenance with its components and timeline.
func (s *Store) Maintenance(ctx context.Context, id int64) (*Maintenance, error) {
	var m Maintenance
	if err := preloadMaintenance(s.db.WithContext(ctx)).First(&m, id).Error; err != nil {
		return nil, fmt.Errorf("data: maintenance %d: %w", id, notFound(err))
	}
	return &m, nil
}

// CurrentMaintenances returns maintenance not yet ended: running first, then
// upcoming by start time.
func (s *Store) CurrentMaintenances(ctx context.Context) ([]Maintenance, error) {
	var ms []Maintenance
	err := preloadMaintenance(s.db.WithContext(ctx)).Where("status IN ?", []string{Scheduled, InProgress, Verifying}).
		Order("starts_at, id").Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("data: current maintenance: %w", err)
	}
	return ms, nil
}

// MaintenancesBetween returns maintenance windows starting in [from, to),
// newest first.
func (s *Store) MaintenancesBetween(ctx context.Context, from, to time.Time) ([]Maintenance, error) {
	var ms []Maintenance
	err := preloadMaintenance(s.db.WithContext(ctx)).Where("starts_at >= ? AND starts_at < ?", from.UTC(), to.UTC()).
		Order("starts_at DESC, id DESC").Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("data: maintenance between: %w", err)
	}
	return ms, nil
}

// RecentMaintenances returns maintenance for the console's list: not ended
// first, then the newest.
func (s *Store) RecentMaintenances(ctx context.Context, limit, offset int) ([]Maintenance, int64, error) {
	var ms []Maintenance
	var total int64
	db := s.db.WithContext(ctx)
	if err := db.Model(&Maintenance{}).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count maintenance: %w", err)
	}
	err := preloadMaintenance(db).Order("CASE WHEN status IN ('completed','cancelled') THEN 1 ELSE 0 END, starts_at DESC, id DESC").
		Limit(limit).Offset(offset).Find(&ms).Error
	if err != nil {
		return nil, 0, fmt.Errorf("data: recent maintenance: %w", err)
	}
	return ms, total, nil
}

// queueMaintenanceNotice freezes a maintenance change into a notification
// for the contacts the policy names for maintenance.
func (s *Store) queueMaintenanceNotice(tx *gorm.DB, m *Maintenance, u *MaintenanceUpdate, kind string, hold bool) error {
	var ids []int64
	if err := tx.Model(&MaintenanceComponent{}).Where("maintenance_id = ?", m.ID).Pluck("component_id", &ids).Error; err != nil {
		return err
	}
	comps := map[int64]string{}
	for _, id := range ids {
		comps[id] = UnderMaintenance
	}
	products, components, err := componentNames(tx, comps)
	if err != nil {
		return err
	}
	starts, ends, created := m.StartsAt, m.EndsAt, m.CreatedAt
	content := NoticeContent{Kind: kind, Status: m.Status, TitleJA: m.TitleJA, TitleEN: m.TitleEN, BodyJA: u.BodyJA, BodyEN: u.BodyEN,
		Products: products, Components: components, StartsAt: &starts, EndsAt: &ends, Path: fmt.Sprintf("/maintenance/%d", m.ID),
		Event: fmt.Sprintf("maintenance-%d", m.ID), Sequence: m.Sequence, CreatedAt: &created, UpdateID: u.ID}
	n := Notification{Kind: kind, MaintenanceID: &m.ID, Thread: fmt.Sprintf("maintenance-%d", m.ID), OperatorID: u.OperatorID}
	return s.queueNotification(tx, n, content, PolicyMaintenance, ids, hold)
}

// DefaultReminderLead is how long before a window contacts are reminded.
const DefaultReminderLead = 24 * time.Hour

func reminderSeconds(d time.Duration) int64 {
	switch {
	case d == 0:
		return int64(DefaultReminderLead / time.Second)
	case d < 0:
		return 0
	}
	return int64(d / time.Second)
}

// maintenanceCovers reports whether a maintenance window covering the
// component is under way at a moment: one opened (in progress or
// verifying), or a scheduled one whose start has come before the
// scheduler opened it.
func maintenanceCovers(tx *gorm.DB, componentID int64, at time.Time) (bool, error) {
	var n int64
	err := tx.Table("maintenances").Joins("JOIN maintenance_components ON maintenance_components.maintenance_id = maintenances.id").
		Where("maintenance_components.component_id = ? AND (maintenances.status IN ? OR (maintenances.status = ? AND maintenances.starts_at <= ? AND maintenances.ends_at > ?))",
			componentID, []string{InProgress, Verifying}, Scheduled, at.UTC(), at.UTC()).Count(&n).Error
	return n > 0, err
}

// MaintenanceWindowsSince returns, with their components (not their
// timelines), the windows whose work went on at some moment since a date:
// those in progress or being verified, and those completed since then
// (by their completion, or their scheduled end when that is missing).
// Scheduled and cancelled windows are left out: no work was done.
func (s *Store) MaintenanceWindowsSince(ctx context.Context, since time.Time) ([]Maintenance, error) {
	var ms []Maintenance
	err := s.db.WithContext(ctx).Preload("Components").
		Where("status IN ? OR (status = ? AND COALESCE(completed_at, ends_at) >= ?)", []string{InProgress, Verifying}, Completed, since.UTC()).
		Order("starts_at, id").Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("data: maintenance windows since %s: %w", since, err)
	}
	return ms, nil
}

// MaintenanceQuery picks maintenance windows for the operator API's list.
type MaintenanceQuery struct {
	// Statuses keeps windows in one of these states (none: all).
	Statuses []string
	// ProductID keeps windows naming one of the product's components.
	ProductID int64
	// Since keeps windows that end at or after it.
	Since         time.Time
	Limit, Offset int
}

// FindMaintenances returns a page of windows, latest start first, and how
// many match in all.
func (s *Store) FindMaintenances(ctx context.Context, q MaintenanceQuery) ([]Maintenance, int64, error) {
	filter := func(db *gorm.DB) *gorm.DB {
		if len(q.Statuses) > 0 {
			db = db.Where("status IN ?", q.Statuses)
		}
		if q.ProductID != 0 {
			db = db.Where("id IN (?)", s.db.Table("maintenance_components AS mc").Select("mc.maintenance_id").
				Joins("JOIN components AS c ON c.id = mc.component_id").Where("c.product_id = ?", q.ProductID))
		}
		if !q.Since.IsZero() {
			db = db.Where("ends_at >= ?", q.Since.UTC())
		}
		return db
	}
	var total int64
	if err := filter(s.db.WithContext(ctx).Model(&Maintenance{})).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count maintenance: %w", err)
	}
	var ms []Maintenance
	if err := preloadMaintenance(filter(s.db.WithContext(ctx))).Order("starts_at DESC, id DESC").Limit(q.Limit).Offset(q.Offset).Find(&ms).Error; err != nil {
		return nil, 0, fmt.Errorf("data: find maintenance: %w", err)
	}
	return ms, total, nil
}
