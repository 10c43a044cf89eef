package data

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// NewIncident is what an operator enters to declare an incident.
type NewIncident struct {
	TitleJA, TitleEN string
	Impact           string
	Status           string
	// StartedAt may lie in the past when an operator backfills an incident;
	// zero means now.
	StartedAt time.Time
	// At is the time the first update describes; zero means the start.
	At             time.Time
	BodyJA, BodyEN string
	// Components maps each affected component to the status the incident
	// puts it in.
	Components map[int64]string
	OperatorID int64
	Notice     Notice
}

// NewIncidentUpdate is one more entry in an incident's timeline. Components
// is the whole set of affected components from now on.
type NewIncidentUpdate struct {
	Status         string
	BodyJA, BodyEN string
	Components     map[int64]string
	OperatorID     int64
	Notice         Notice
	// Reopen must be set to post a non-resolved update to a resolved
	// incident: reopening is an explicit step, never a side effect.
	Reopen bool
	// At is the time the update describes, for an operator writing up
	// what happened earlier; zero means now. Never in the future, never
	// before the incident's start or its newest update.
	At time.Time
}

// IncidentEdit changes an incident's own fields after the fact.
type IncidentEdit struct {
	TitleJA, TitleEN string
	Impact           string
	StartedAt        time.Time
	// ResolvedAt is only used when the incident is resolved.
	ResolvedAt *time.Time
}

func validateTitles(f fieldErrors, ja, en *string) {
	*ja, *en = strings.TrimSpace(*ja), strings.TrimSpace(*en)
	f.line("title_ja", *ja, true, MaxTitle)
	f.line("title_en", *en, false, MaxTitle)
}

func validateBodies(f fieldErrors, ja, en string) {
	f.block("body_ja", ja, true, MaxBody)
	f.block("body_en", en, false, MaxBody)
}

func (s *Store) validateComponents(tx *gorm.DB, f fieldErrors, comps map[int64]string) error {
	ids := make([]int64, 0, len(comps))
	for id, st := range comps {
		if !oneOf(st, ComponentStatuses) {
			f.add("components", "invalid_choice")
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	var n int64
	if err := tx.Model(&Component{}).Where("id IN ?", ids).Count(&n).Error; err != nil {
		return err
	}
	if int(n) != len(ids) {
		f.add("components", "invalid_choice")
	}
	return nil
}

// CreateIncident declares an incident with its first update.
func (s *Store) CreateIncident(ctx context.Context, in NewIncident) (*Incident, error) {
	now := s.now()
	f := fieldErrors{}
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	if !oneOf(in.Impact, Impacts) {
		f.add("impact", "invalid_choice")
	}
	if !oneOf(in.Status, IncidentStatuses) {
		f.add("status", "invalid_choice")
	}
	validateBodies(f, in.BodyJA, in.BodyEN)
	if in.StartedAt.IsZero() {
		in.StartedAt = now
	}
	in.StartedAt = in.StartedAt.UTC()
	if in.StartedAt.After(now.Add(time.Minute)) {
		f.add("started_at", "in_future")
	}
	at := in.At.UTC()
	switch {
	case in.At.IsZero():
		at = in.StartedAt
	case at.After(now.Add(time.Minute)):
		f.add("at", "in_future")
	case at.Before(in.StartedAt):
		f.add("at", "before_start")
	}
	inc := Incident{TitleJA: in.TitleJA, TitleEN: in.TitleEN, Impact: in.Impact, Status: in.Status, StartedAt: in.StartedAt, Notify: in.Notice.Send}
	if in.Status == Resolved {
		inc.ResolvedAt = &at
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.validateComponents(tx, f, in.Components); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		if err := tx.Create(&inc).Error; err != nil {
			return err
		}
		u, err := insertIncidentUpdate(tx, inc.ID, NewIncidentUpdate{Status: in.Status, BodyJA: in.BodyJA, BodyEN: in.BodyEN,
			Components: in.Components, OperatorID: in.OperatorID, At: at})
		if err != nil {
			return err
		}
		inc.Updates = []IncidentUpdate{*u}
		if !in.Notice.Send {
			return nil
		}
		return s.queueIncidentNotice(tx, &inc, u, IncidentOpened, in.Components, in.Notice.Hold)
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create incident", err)
	}
	return &inc, nil
}

func insertIncidentUpdate(tx *gorm.DB, incidentID int64, in NewIncidentUpdate) (*IncidentUpdate, error) {
	u := IncidentUpdate{IncidentID: incidentID, Status: in.Status, BodyJA: in.BodyJA, BodyEN: in.BodyEN}
	if !in.At.IsZero() {
		// The timeline orders by this: the time the update describes.
		u.CreatedAt = in.At.UTC()
	}
	if in.OperatorID != 0 {
		u.OperatorID = &in.OperatorID
	}
	if err := tx.Create(&u).Error; err != nil {
		return nil, err
	}
	for id, st := range in.Components {
		u.Components = append(u.Components, IncidentUpdateComponent{UpdateID: u.ID, ComponentID: id, Status: st})
	}
	if len(u.Components) > 0 {
		if err := tx.Create(&u.Components).Error; err != nil {
			return nil, err
		}
	}
	return &u, nil
}

// PostIncidentUpdate adds an update and moves the incident to its status.
// Resolving stamps the resolution time; a later non-resolved update reopens.
func (s *Store) PostIncidentUpdate(ctx context.Context, incidentID int64, in NewIncidentUpdate) (*IncidentUpdate, error) {
	f := fieldErrors{}
	if !oneOf(in.Status, IncidentStatuses) {
		f.add("status", "invalid_choice")
	}
	validateBodies(f, in.BodyJA, in.BodyEN)
	var u *IncidentUpdate
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var inc Incident
		if err := tx.First(&inc, incidentID).Error; err != nil {
			return notFound(err)
		}
		if err := s.validateComponents(tx, f, in.Components); err != nil {
			return err
		}
		if inc.Status == Resolved && in.Status != Resolved && in.Status != "" && !in.Reopen {
			f.add("status", "reopen_required")
		}
		if err := f.err(); err != nil {
			return err
		}
		var last IncidentUpdate
		if err := tx.Where("incident_id = ?", incidentID).Order("created_at DESC, id DESC").First(&last).Error; err != nil {
			return err
		}
		now := s.now()
		switch at := in.At.UTC(); {
		case in.At.IsZero():
		case at.After(now.Add(time.Minute)):
			f.add("at", "in_future")
		case at.Before(last.CreatedAt):
			f.add("at", "before_latest")
		}
		if err := f.err(); err != nil {
			return err
		}
		// Who was affected before this update hears about it too, even if
		// this update no longer lists their component.
		var before []IncidentUpdateComponent
		if err := tx.Where("update_id = (SELECT id FROM incident_updates WHERE incident_id = ? ORDER BY created_at DESC, id DESC LIMIT 1)", incidentID).
			Find(&before).Error; err != nil {
			return err
		}
		var err error
		if u, err = insertIncidentUpdate(tx, incidentID, in); err != nil {
			return err
		}
		if err := s.applyIncidentStatus(tx, &inc, in.Status, u.CreatedAt); err != nil {
			return err
		}
		if !in.Notice.Send {
			return nil
		}
		if err := tx.First(&inc, incidentID).Error; err != nil {
			return err
		}
		kind := IncidentUpdated
		if in.Status == Resolved {
			kind = IncidentResolved
		}
		return s.queueIncidentNotice(tx, &inc, u, kind, in.Components, in.Notice.Hold, before...)
	})
	if err != nil {
		return nil, wrapUnlessInvalid(fmt.Sprintf("incident %d: post update", incidentID), err)
	}
	return u, nil
}

// applyIncidentStatus moves an incident to the status of an update that
// describes the moment at; resolving stamps that moment.
func (s *Store) applyIncidentStatus(tx *gorm.DB, inc *Incident, status string, at time.Time) error {
	fields := map[string]any{"status": status, "updated_at": s.now()}
	switch {
	case status == Resolved && inc.ResolvedAt == nil:
		fields["resolved_at"] = at
	case status != Resolved:
		fields["resolved_at"] = nil
	}
	return tx.Model(&Incident{ID: inc.ID}).Updates(fields).Error
}

// UpdateIncident edits an incident's title, impact and times.
func (s *Store) UpdateIncident(ctx context.Context, id int64, in IncidentEdit) error {
	now := s.now()
	f := fieldErrors{}
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	if !oneOf(in.Impact, Impacts) {
		f.add("impact", "invalid_choice")
	}
	if in.StartedAt.IsZero() {
		f.add("started_at", "required")
	} else if in.StartedAt.After(now.Add(time.Minute)) {
		f.add("started_at", "in_future")
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var inc Incident
		if err := tx.First(&inc, id).Error; err != nil {
			return notFound(err)
		}
		fields := map[string]any{"title_ja": in.TitleJA, "title_en": in.TitleEN, "impact": in.Impact,
			"started_at": in.StartedAt.UTC(), "updated_at": now}
		if inc.Status == Resolved && in.ResolvedAt != nil {
			r := in.ResolvedAt.UTC()
			switch {
			case r.Before(in.StartedAt):
				f.add("resolved_at", "before_start")
			case r.After(now.Add(time.Minute)):
				f.add("resolved_at", "in_future")
			}
			fields["resolved_at"] = r
		}
		if err := f.err(); err != nil {
			return err
		}
		return tx.Model(&Incident{ID: id}).Updates(fields).Error
	})
	return wrapUnlessInvalid(fmt.Sprintf("update incident %d", id), err)
}

// EditIncidentUpdate corrects the text of an update.
func (s *Store) EditIncidentUpdate(ctx context.Context, incidentID, updateID int64, bodyJA, bodyEN string) error {
	f := fieldErrors{}
	validateBodies(f, bodyJA, bodyEN)
	if err := f.err(); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&IncidentUpdate{}).Where("id = ? AND incident_id = ?", updateID, incidentID).
		Updates(map[string]any{"body_ja": bodyJA, "body_en": bodyEN, "updated_at": s.now()})
	return rowsOrNotFound(res, "incident update", updateID)
}

// DeleteIncidentUpdate removes an update posted by mistake. The incident
// keeps its status and times: deleting never reopens or resolves anything
// (reopening is its own step, with its own update). Its only update cannot
// go.
func (s *Store) DeleteIncidentUpdate(ctx context.Context, incidentID, updateID int64) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var inc Incident
		if err := tx.First(&inc, incidentID).Error; err != nil {
			return notFound(err)
		}
		var n int64
		if err := tx.Model(&IncidentUpdate{}).Where("incident_id = ?", incidentID).Count(&n).Error; err != nil {
			return err
		}
		res := tx.Where("id = ? AND incident_id = ?", updateID, incidentID).Delete(&IncidentUpdate{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if n <= 1 {
			return Invalid("update", "last_update")
		}
		return tx.Model(&Incident{ID: incidentID}).Update("updated_at", s.now()).Error
	})
	return wrapUnlessInvalid(fmt.Sprintf("incident %d: delete update %d", incidentID, updateID), err)
}

func preloadIncident(db *gorm.DB) *gorm.DB {
	return db.Preload("Updates", func(db *gorm.DB) *gorm.DB { return db.Order("created_at DESC, id DESC") }).
		Preload("Updates.Components")
}

// Incident returns an incident with its whole timeline, newest update first.
func (s *Store) Incident(ctx context.Context, id int64) (*Incident, error) {
	var inc Incident
	if err := preloadIncident(s.db.WithContext(ctx)).First(&inc, id).Error; err != nil {
		return nil, fmt.Errorf("data: incident %d: %w", id, notFound(err))
	}
	return &inc, nil
}

// OpenIncidents returns the incidents not yet resolved, newest first.
func (s *Store) OpenIncidents(ctx context.Context) ([]Incident, error) {
	var incs []Incident
	err := preloadIncident(s.db.WithContext(ctx)).Where("status <> ?", Resolved).
		Order("started_at DESC, id DESC").Find(&incs).Error
	if err != nil {
		return nil, fmt.Errorf("data: open incidents: %w", err)
	}
	return incs, nil
}

// IncidentsSince returns the incidents that were open at any time after
// since: still open, or resolved after it. Newest first.
func (s *Store) IncidentsSince(ctx context.Context, since time.Time) ([]Incident, error) {
	// Two range queries on the resolved_at index, sorted here: with an OR
	// and an ORDER BY, SQLite walks the start-time index through the whole
	// history instead.
	var open, recent []Incident
	db := s.db.WithContext(ctx)
	if err := preloadIncident(db).Where("resolved_at IS NULL").Find(&open).Error; err != nil {
		return nil, fmt.Errorf("data: incidents since %s: %w", since, err)
	}
	if err := preloadIncident(db).Where("resolved_at >= ?", since.UTC()).Find(&recent).Error; err != nil {
		return nil, fmt.Errorf("data: incidents since %s: %w", since, err)
	}
	incs := append(open, recent...)
	slices.SortFunc(incs, func(a, b Incident) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return incs, nil
}

// IncidentsBetween returns incidents that started in [from, to), newest first.
func (s *Store) IncidentsBetween(ctx context.Context, from, to time.Time) ([]Incident, error) {
	var incs []Incident
	err := preloadIncident(s.db.WithContext(ctx)).
		Where("started_at >= ? AND started_at < ?", from.UTC(), to.UTC()).
		Order("started_at DESC, id DESC").Find(&incs).Error
	if err != nil {
		return nil, fmt.Errorf("data: incidents between: %w", err)
	}
	return incs, nil
}

// RecentIncidents returns a page of incidents for the console's list, open
// ones first, and how many there are in all.
func (s *Store) RecentIncidents(ctx context.Context, limit, offset int) ([]Incident, int64, error) {
	var total int64
	if err := s.db.WithContext(ctx).Model(&Incident{}).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count incidents: %w", err)
	}
	incs, err := s.LatestIncidents(ctx, limit, offset)
	return incs, total, err
}

// LatestIncidents returns open incidents first, then resolved ones, each
// newest first. Two queries rather than one ORDER BY CASE: each walks an
// index ((status, started_at, id)), so the cost does not grow with the
// history.
func (s *Store) LatestIncidents(ctx context.Context, limit, offset int) ([]Incident, error) {
	db := s.db.WithContext(ctx)
	var incs, open []Incident
	if err := preloadIncident(db).Where("status IN ?", []string{Investigating, Identified, Monitoring}).Order("started_at DESC, id DESC").Find(&open).Error; err != nil {
		return nil, fmt.Errorf("data: recent incidents: %w", err)
	}
	if offset < len(open) {
		incs = open[offset:min(len(open), offset+limit)]
	}
	rest, skip := limit-len(incs), max(0, offset-len(open))
	if rest > 0 {
		var resolved []Incident
		err := preloadIncident(db).Where("status = ?", Resolved).Order("started_at DESC, id DESC").
			Limit(rest).Offset(skip).Find(&resolved).Error
		if err != nil {
			return nil, fmt.Errorf("data: recent incidents: %w", err)
		}
		incs = append(incs, resolved...)
	}
	return incs, nil
}

// EarliestActivity returns the start of the oldest incident or maintenance,
// which bounds how far back history can page. Zero when there is none.
func (s *Store) EarliestActivity(ctx context.Context) (time.Time, error) {
	var earliest time.Time
	for _, q := range []struct {
		model any
		col   string
	}{{&Incident{}, "started_at"}, {&Maintenance{}, "starts_at"}} {
		// ORDER BY rather than MIN(): SQLite loses the column's type in an
		// aggregate and would hand back a string.
		var ts []time.Time
		if err := s.db.WithContext(ctx).Model(q.model).Order(q.col).Limit(1).Pluck(q.col, &ts).Error; err != nil {
			return time.Time{}, fmt.Errorf("data: earliest activity: %w", err)
		}
		if len(ts) > 0 && (earliest.IsZero() || ts[0].Before(earliest)) {
			earliest = ts[0].UTC()
		}
	}
	return earliest, nil
}

// queueIncidentNotice freezes an incident change into a notification for
// the contacts the policy names for the incident's impact.
func (s *Store) queueIncidentNotice(tx *gorm.DB, inc *Incident, u *IncidentUpdate, kind string, comps map[int64]string, hold bool, before ...IncidentUpdateComponent) error {
	scope := map[int64]string{}
	for _, c := range before {
		scope[c.ComponentID] = c.Status
	}
	for id, st := range comps {
		scope[id] = st
	}
	ids := make([]int64, 0, len(scope))
	for id := range scope {
		ids = append(ids, id)
	}
	products, components, err := componentNames(tx, comps)
	if err != nil {
		return err
	}
	if len(products) == 0 {
		// Name the products of the whole scope, so a resolution that lists
		// no component still says what it is about.
		products, _, err = componentNames(tx, scope)
		if err != nil {
			return err
		}
	}
	history, err := noticeUpdates(tx, inc.ID)
	if err != nil {
		return err
	}
	started, updated, created := inc.StartedAt, u.CreatedAt, inc.CreatedAt
	content := NoticeContent{Kind: kind, Impact: inc.Impact, Status: u.Status, TitleJA: inc.TitleJA, TitleEN: inc.TitleEN,
		BodyJA: u.BodyJA, BodyEN: u.BodyEN, Products: products, Components: components, StartedAt: &started,
		ResolvedAt: inc.ResolvedAt, UpdatedAt: &updated, Path: fmt.Sprintf("/incidents/%d", inc.ID),
		CreatedAt: &created, UpdateID: u.ID, Updates: history}
	n := Notification{Kind: kind, IncidentID: &inc.ID, Thread: fmt.Sprintf("incident-%d", inc.ID), OperatorID: u.OperatorID}
	return s.queueNotification(tx, n, content, inc.Impact, ids, hold)
}

// noticeUpdates freezes an incident's updates so far, newest first, each
// with the components it names.
func noticeUpdates(tx *gorm.DB, incidentID int64) ([]NoticeUpdate, error) {
	var ups []IncidentUpdate
	if err := tx.Preload("Components").Where("incident_id = ?", incidentID).Order("created_at DESC, id DESC").Find(&ups).Error; err != nil {
		return nil, fmt.Errorf("data: incident %d updates: %w", incidentID, err)
	}
	all := map[int64]string{}
	for _, u := range ups {
		for _, c := range u.Components {
			all[c.ComponentID] = c.Status
		}
	}
	_, named, err := componentNames(tx, all)
	if err != nil {
		return nil, err
	}
	out := make([]NoticeUpdate, len(ups))
	for i, u := range ups {
		st := map[int64]string{}
		for _, c := range u.Components {
			st[c.ComponentID] = c.Status
		}
		out[i] = NoticeUpdate{ID: u.ID, Status: u.Status, BodyJA: u.BodyJA, BodyEN: u.BodyEN, CreatedAt: u.CreatedAt}
		for _, c := range named {
			if s, ok := st[c.ID]; ok {
				c.Status = s
				out[i].Components = append(out[i].Components, c)
			}
		}
	}
	return out, nil
}

// IncidentQuery picks incidents for the operator API's list.
type IncidentQuery struct {
	// Statuses keeps incidents in one of these states (none: all).
	Statuses []string
	// ProductID keeps incidents naming one of the product's components.
	ProductID int64
	// Since keeps incidents that started at or after it, or are still open.
	Since         time.Time
	Limit, Offset int
}

// FindIncidents returns a page of incidents, newest start first, and how
// many match in all.
func (s *Store) FindIncidents(ctx context.Context, q IncidentQuery) ([]Incident, int64, error) {
	filter := func(db *gorm.DB) *gorm.DB {
		if len(q.Statuses) > 0 {
			db = db.Where("status IN ?", q.Statuses)
		}
		if q.ProductID != 0 {
			db = db.Where("id IN (?)", s.db.Table("incident_updates AS u").Select("u.incident_id").
				Joins("JOIN incident_update_components AS uc ON uc.update_id = u.id").
				Joins("JOIN components AS c ON c.id = uc.component_id").Where("c.product_id = ?", q.ProductID))
		}
		if !q.Since.IsZero() {
			db = db.Where("(started_at >= ? OR resolved_at IS NULL)", q.Since.UTC())
		}
		return db
	}
	var total int64
	if err := filter(s.db.WithContext(ctx).Model(&Incident{})).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("data: count incidents: %w", err)
	}
	var incs []Incident
	if err := preloadIncident(filter(s.db.WithContext(ctx))).Order("started_at DESC, id DESC").Limit(q.Limit).Offset(q.Offset).Find(&incs).Error; err != nil {
		return nil, 0, fmt.Errorf("data: find incidents: %w", err)
	}
	return incs, total, nil
}
