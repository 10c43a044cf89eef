package data

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oshirase/oshirase/internal/sla"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SLASettings is how a month's availability is counted: one row, id 1;
// its defaults hold while the row is absent.
type SLASettings struct {
	ID int64
	// The share of a minute at each status that counts as down, in
	// percent.
	MajorWeight    int
	PartialWeight  int
	DegradedWeight int
	// NoticeDays is how many days ahead a maintenance window must be
	// announced to be left out of the count.
	NoticeDays int
	// CreditTiers is the credit table, as sla.ParseTiers reads it
	// ("99.9:10,99.0:25,95.0:50"); "" grants no credit.
	CreditTiers string
	UpdatedAt   *time.Time
}

// TableName is the migration's.
func (SLASettings) TableName() string { return "sla_settings" }

// Limits of the SLA settings.
const (
	MaxSLAWeight     = 100
	MaxSLANoticeDays = 60
)

// DefaultSLASettings are the migration's defaults.
func DefaultSLASettings() SLASettings {
	return SLASettings{ID: 1, MajorWeight: 100, PartialWeight: 30, DegradedWeight: 0, NoticeDays: 3}
}

// Rules returns the settings as internal/sla counts with them. The tiers
// were checked when saved; a table that no longer reads grants no credit.
func (st *SLASettings) Rules() sla.Settings {
	tiers, _ := sla.ParseTiers(st.CreditTiers)
	return sla.Settings{Weights: sla.Weights{Major: st.MajorWeight, Partial: st.PartialWeight, Degraded: st.DegradedWeight},
		NoticeDays: st.NoticeDays, Tiers: tiers}
}

func (st *SLASettings) validate() error {
	f := fieldErrors{}
	for field, w := range map[string]int{"major_weight": st.MajorWeight, "partial_weight": st.PartialWeight, "degraded_weight": st.DegradedWeight} {
		if w < 0 || w > MaxSLAWeight {
			f.add(field, "out_of_range")
		}
	}
	if st.NoticeDays < 0 || st.NoticeDays > MaxSLANoticeDays {
		f.add("notice_days", "out_of_range")
	}
	// sla.ParseTiers says exactly what is wrong; forms can call it for
	// the sentence.
	if _, err := sla.ParseTiers(st.CreditTiers); err != nil {
		f.add("credit_tiers", "bad_tiers")
	}
	return f.err()
}

// SLASettings returns the counting rules, the defaults when none were saved.
func (s *Store) SLASettings(ctx context.Context) (*SLASettings, error) {
	var rows []SLASettings
	if err := s.db.WithContext(ctx).Where("id = 1").Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: sla settings: %w", err)
	}
	if len(rows) == 0 {
		d := DefaultSLASettings()
		return &d, nil
	}
	return &rows[0], nil
}

// SaveSLASettings replaces the counting rules: weights 0–100, a notice of
// 0–60 days, a credit table sla.ParseTiers reads (stored as given, spaces
// trimmed).
func (s *Store) SaveSLASettings(ctx context.Context, in SLASettings) error {
	in.CreditTiers = strings.TrimSpace(in.CreditTiers)
	if err := in.validate(); err != nil {
		return err
	}
	now := s.now()
	in.ID, in.UpdatedAt = 1, &now
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&in).Error; err != nil {
		return fmt.Errorf("data: save sla settings: %w", err)
	}
	return nil
}

// validSLATarget checks a commitment: "" (none) or a percentage
// sla.ParsePercent reads.
func validSLATarget(f fieldErrors, target string) {
	if target == "" {
		return
	}
	if _, err := sla.ParsePercent(target); err != nil {
		f.add("sla_target", "bad_percent")
	}
}

// SetProductSLATarget sets a product's commitment ("99.9"; "" for none).
func (s *Store) SetProductSLATarget(ctx context.Context, productID int64, target string) error {
	target = strings.TrimSpace(target)
	f := fieldErrors{}
	validSLATarget(f, target)
	if err := f.err(); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&Product{}).Where("id = ?", productID).
		Updates(map[string]any{"sla_target": target, "updated_at": s.now()})
	return rowsOrNotFound(res, "product", productID)
}

// ContractSLA is a contract's SLA terms.
type ContractSLA struct {
	// StartedAt is when the service began; nil counts from the period.
	StartedAt *time.Time
	// SLATarget overrides every product's commitment; "" keeps theirs.
	SLATarget string
	// ReportMail mails the month's report to the primary contacts.
	ReportMail bool
}

// SetContractSLA sets a contract's SLA terms.
func (s *Store) SetContractSLA(ctx context.Context, contractID int64, in ContractSLA) error {
	in.SLATarget = strings.TrimSpace(in.SLATarget)
	f := fieldErrors{}
	validSLATarget(f, in.SLATarget)
	if err := f.err(); err != nil {
		return err
	}
	var started any
	if in.StartedAt != nil {
		started = in.StartedAt.UTC()
	}
	res := s.db.WithContext(ctx).Model(&Contract{}).Where("id = ?", contractID).
		Updates(map[string]any{"started_at": started, "sla_target": in.SLATarget, "sla_report_mail": in.ReportMail, "updated_at": s.now()})
	return rowsOrNotFound(res, "contract", contractID)
}

// SLAReport computes a contract's availability over [from, to) (callers
// pass JST month boundaries), product by product; see internal/sla for
// how it counts. Loaded for it:
//
//   - the contract's products, each committed to the contract's
//     SLATarget when set, its own otherwise, with all their components,
//     contract-only ones included;
//   - the service from the contract's StartedAt (when set) to its
//     EndedAt (when it has ended), and up to the store's now: a month in
//     progress is counted so far;
//   - status intervals from the incidents' timelines: each update puts
//     the components it lists in their statuses from its stated time on
//     (backfilled updates by the time they describe) and takes those it
//     no longer lists out; a resolving update returns every component to
//     operational; an open incident's statuses last to the period's end.
//     Statuses set by hand on a component, outside incidents, do not
//     count;
//   - maintenance windows on those components, cancelled ones left out,
//     from the actual start and completion when recorded, the scheduled
//     times otherwise. A window's announced-at is when it was last saved
//     (Maintenance.SavedAt: scheduled, or moved to new times), its
//     creation time for rows without it, and the notice is measured
//     against its scheduled start.
func (s *Store) SLAReport(ctx context.Context, contractID int64, from, to time.Time) (*sla.Report, error) {
	var c Contract
	if err := s.db.WithContext(ctx).Preload("Products").First(&c, contractID).Error; err != nil {
		return nil, fmt.Errorf("data: sla report: contract %d: %w", contractID, notFound(err))
	}
	reps, err := s.slaReports(ctx, []Contract{c}, from, to)
	if err != nil {
		return nil, err
	}
	return reps[0], nil
}

// SLABreach is a product that missed its commitment under a contract.
type SLABreach struct {
	ContractID   int64
	ContractCode string
	ContractName string
	Product      sla.ProductReport
}

// SLABreaches lists, by contract code then product order, every contract ×
// product that missed its commitment in [from, to): contracts whose
// service overlaps the period (started before its end, not ended before
// its start).
func (s *Store) SLABreaches(ctx context.Context, from, to time.Time) ([]SLABreach, error) {
	var cs []Contract
	err := s.db.WithContext(ctx).Preload("Products").
		Where("(ended_at IS NULL OR ended_at > ?) AND (started_at IS NULL OR started_at < ?)", from.UTC(), to.UTC()).
		Order("code, id").Find(&cs).Error
	if err != nil {
		return nil, fmt.Errorf("data: sla breaches: %w", err)
	}
	if len(cs) == 0 {
		return nil, nil
	}
	reps, err := s.slaReports(ctx, cs, from, to)
	if err != nil {
		return nil, err
	}
	var out []SLABreach
	for i, r := range reps {
		for _, p := range r.Missed() {
			out = append(out, SLABreach{ContractID: cs[i].ID, ContractCode: cs[i].Code, ContractName: cs[i].Name, Product: p})
		}
	}
	return out, nil
}

// slaReports computes one report per contract, loading the products,
// incidents and windows they share once.
func (s *Store) slaReports(ctx context.Context, contracts []Contract, from, to time.Time) ([]*sla.Report, error) {
	if !to.After(from) {
		return nil, errors.New("data: sla report: the period is empty")
	}
	settings, err := s.SLASettings(ctx)
	if err != nil {
		return nil, err
	}
	rules := settings.Rules()
	now := s.now()
	db := s.db.WithContext(ctx)
	var productIDs []int64
	for _, c := range contracts {
		productIDs = append(productIDs, c.ProductIDs()...)
	}
	var products []Product
	if len(productIDs) > 0 {
		err := db.Preload("Components", func(db *gorm.DB) *gorm.DB { return db.Order("position, id") }).
			Where("id IN ?", productIDs).Order("position, id").Find(&products).Error
		if err != nil {
			return nil, fmt.Errorf("data: sla report: products: %w", err)
		}
	}
	var compIDs []int64
	for _, p := range products {
		for _, c := range p.Components {
			compIDs = append(compIDs, c.ID)
		}
	}
	intervals, err := s.slaIntervals(db, compIDs, from, to)
	if err != nil {
		return nil, fmt.Errorf("data: sla report: incidents: %w", err)
	}
	windows, err := slaWindows(db, compIDs, from, to)
	if err != nil {
		return nil, fmt.Errorf("data: sla report: maintenance: %w", err)
	}
	out := make([]*sla.Report, 0, len(contracts))
	for _, c := range contracts {
		in := sla.Input{From: from, To: to, ServiceStart: c.StartedAt, ServiceEnd: c.EndedAt, AsOf: now, Settings: rules, Maintenance: windows}
		uses := map[int64]bool{}
		for _, id := range c.ProductIDs() {
			uses[id] = true
		}
		for _, p := range products {
			if !uses[p.ID] {
				continue
			}
			sp := sla.Product{ID: p.ID, NameJA: p.NameJA, NameEN: p.NameEN, Target: p.SLATarget}
			if c.SLATarget != "" {
				sp.Target = c.SLATarget
			}
			for _, comp := range p.Components {
				sp.Components = append(sp.Components, sla.Component{ID: comp.ID, Intervals: intervals[comp.ID]})
			}
			in.Products = append(in.Products, sp)
		}
		r, err := sla.Compute(in)
		if err != nil {
			return nil, fmt.Errorf("data: sla report: contract %d: %w", c.ID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// slaIntervals replays the timelines of the incidents that touched the
// components and may overlap [from, to) into the intervals each
// component spent in a down status, by component.
func (s *Store) slaIntervals(db *gorm.DB, compIDs []int64, from, to time.Time) (map[int64][]sla.Interval, error) {
	out := map[int64][]sla.Interval{}
	if len(compIDs) == 0 {
		return out, nil
	}
	touched := db.Table("incident_updates").Select("incident_updates.incident_id").
		Joins("JOIN incident_update_components ON incident_update_components.update_id = incident_updates.id").
		Where("incident_update_components.component_id IN ?", compIDs)
	var incs []Incident
	// An incident resolved before the period cannot reach into it; one
	// started after it neither (no update is before its start).
	err := preloadIncident(db).Where("id IN (?) AND started_at < ? AND (resolved_at IS NULL OR resolved_at >= ?)", touched, to.UTC(), from.UTC()).
		Order("id").Find(&incs).Error
	if err != nil {
		return nil, err
	}
	inSet := map[int64]bool{}
	for _, id := range compIDs {
		inSet[id] = true
	}
	type open struct {
		status string
		start  time.Time
	}
	for _, inc := range incs {
		ups := slices.Clone(inc.Updates)
		slices.SortStableFunc(ups, func(a, b IncidentUpdate) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		cur := map[int64]open{}
		emit := func(comp int64, o open, end *time.Time) {
			out[comp] = append(out[comp], sla.Interval{IncidentID: inc.ID, Impact: inc.Impact, Status: o.status, Start: o.start, End: end})
		}
		for _, u := range ups {
			at := u.CreatedAt
			next := map[int64]string{}
			if u.Status != Resolved {
				for _, c := range u.Components {
					if inSet[c.ComponentID] && sla.Down(c.Status) {
						next[c.ComponentID] = c.Status
					}
				}
			}
			for comp, o := range cur {
				if next[comp] != o.status {
					end := at
					emit(comp, o, &end)
					delete(cur, comp)
				}
			}
			for comp, st := range next {
				if _, ok := cur[comp]; !ok {
					cur[comp] = open{status: st, start: at}
				}
			}
		}
		for comp, o := range cur {
			var end *time.Time
			if !inc.Open() && inc.ResolvedAt != nil {
				// Resolved without a resolving update in the timeline (it
				// was deleted): the resolution ends it.
				e := *inc.ResolvedAt
				end = &e
			}
			emit(comp, o, end)
		}
	}
	for comp := range out {
		slices.SortStableFunc(out[comp], func(a, b sla.Interval) int { return a.Start.Compare(b.Start) })
	}
	return out, nil
}

// slaWindows returns the maintenance windows on the components that were
// not cancelled and may overlap [from, to).
func slaWindows(db *gorm.DB, compIDs []int64, from, to time.Time) ([]sla.Window, error) {
	if len(compIDs) == 0 {
		return nil, nil
	}
	on := db.Table("maintenance_components").Select("maintenance_id").Where("component_id IN ?", compIDs)
	var ms []Maintenance
	err := db.Preload("Components").
		Where("id IN (?) AND status <> ? AND COALESCE(started_at, starts_at) < ? AND COALESCE(completed_at, ends_at) > ?", on, Cancelled, to.UTC(), from.UTC()).
		Order("starts_at, id").Find(&ms).Error
	if err != nil {
		return nil, err
	}
	out := make([]sla.Window, 0, len(ms))
	for _, m := range ms {
		w := sla.Window{ID: m.ID, TitleJA: m.TitleJA, TitleEN: m.TitleEN, ComponentIDs: m.ComponentIDs(),
			Start: m.StartsAt, End: m.EndsAt, Scheduled: m.StartsAt, AnnouncedAt: m.CreatedAt}
		if m.StartedAt != nil {
			w.Start = *m.StartedAt
		}
		if m.CompletedAt != nil {
			w.End = *m.CompletedAt
		}
		if m.SavedAt != nil {
			w.AnnouncedAt = *m.SavedAt
		}
		out = append(out, w)
	}
	return out, nil
}

// CheckSLATarget says whether a commitment reads ("99.9", or "" for none).
func CheckSLATarget(target string) error {
	if target == "" {
		return nil
	}
	_, err := sla.ParsePercent(target)
	return err
}
