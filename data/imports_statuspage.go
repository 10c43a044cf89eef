package data

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"
)

// A history import (Statuspage JSON, incident CSV) is applied in one
// transaction: all of it or none of it. Each object it makes is remembered
// in import_refs under (source, kind, external id), so a rerun of the same
// source updates what it made before instead of making it again. Nothing
// an import writes ever queues a notice: history is history.

// Import kinds, as import_refs names them.
const (
	RefProduct           = "product"
	RefComponent         = "component"
	RefIncident          = "incident"
	RefIncidentUpdate    = "incident_update"
	RefMaintenance       = "maintenance"
	RefMaintenanceUpdate = "maintenance_update"
)

// ImportKinds lists the kinds in the order they are applied and reported.
var ImportKinds = []string{RefProduct, RefComponent, RefIncident, RefIncidentUpdate, RefMaintenance, RefMaintenanceUpdate}

// HistoryImport is a source's page, mapped to Oshirase's vocabulary
// (statuses and impacts already Oshirase's) but still naming its objects by
// the source's ids.
type HistoryImport struct {
	// Source names where it came from (a page id or URL); with each
	// object's external id it makes the import idempotent.
	Source       string
	Groups       []ImportGroup
	Components   []ImportComponent
	Incidents    []ImportIncident
	Maintenances []ImportMaintenance
}

// ImportGroup becomes a product.
type ImportGroup struct {
	ExternalID string
	// LocalID, when set, adopts an existing product on the first run
	// instead of making one (its names are left as they are).
	LocalID        int64
	NameJA, NameEN string
	DescJA, DescEN string
}

// ImportComponent becomes a component of the product its group became.
type ImportComponent struct {
	ExternalID, GroupID string
	// LocalID, when set, adopts an existing component on the first run
	// (left as it is).
	LocalID        int64
	NameJA, NameEN string
	DescJA, DescEN string
	// Status is a component status ("" keeps operational).
	Status string
}

// ImportIncident is an incident with its whole timeline, oldest first.
type ImportIncident struct {
	ExternalID       string
	TitleJA, TitleEN string
	Impact, Status   string
	StartedAt        time.Time
	ResolvedAt       *time.Time
	Updates          []ImportUpdate
}

// ImportUpdate is one entry of a timeline. Components maps the source's
// component ids to the status the update puts them in.
type ImportUpdate struct {
	ExternalID     string
	Status         string
	BodyJA, BodyEN string
	At             time.Time
	Components     map[string]string
}

// ImportMaintenance is a maintenance window with its timeline, oldest
// first.
type ImportMaintenance struct {
	ExternalID             string
	TitleJA, TitleEN       string
	Status                 string
	StartsAt, EndsAt       time.Time
	StartedAt, CompletedAt *time.Time
	ComponentIDs           []string
	Updates                []ImportUpdate
}

// ImportCount is what an import did (or, dry, would do) to one kind.
type ImportCount struct {
	Created, Updated, Unchanged int
}

// HistoryResult counts per kind (see ImportKinds).
type HistoryResult struct {
	DryRun bool
	Counts map[string]*ImportCount
}

// Total is the number of objects created and updated.
func (r HistoryResult) Total() (created, updated, unchanged int) {
	for _, c := range r.Counts {
		created, updated, unchanged = created+c.Created, updated+c.Updated, unchanged+c.Unchanged
	}
	return
}

// ImportProblem is a hostile or malformed part of an import, named so the
// operator can find it in the source.
type ImportProblem struct {
	Where  string // "incident abc123", "component xyz"
	Field  string
	Reason string // a ValidationError key: required, too_long, bad_text, invalid_choice, …
}

func (p ImportProblem) Error() string {
	return fmt.Sprintf("%s: %s: %s", p.Where, p.Field, p.Reason)
}

// ImportProblems is every problem found; nothing was saved.
type ImportProblems []ImportProblem

func (ps ImportProblems) Error() string {
	if len(ps) == 1 {
		return "import: " + ps[0].Error()
	}
	return fmt.Sprintf("import: %d problems, the first %s", len(ps), ps[0].Error())
}

// Validate checks every text, choice and time before anything is written.
func (in *HistoryImport) Validate() error {
	var ps ImportProblems
	check := func(where string, f fieldErrors) {
		for _, k := range slices.Sorted(maps.Keys(f)) {
			ps = append(ps, ImportProblem{where, k, f[k]})
		}
	}
	id := func(where, v string) {
		f := fieldErrors{}
		f.line("id", v, true, MaxTitle)
		check(where, f)
	}
	if in.Source == "" {
		ps = append(ps, ImportProblem{"page", "source", "required"})
	}
	groups := map[string]bool{}
	for _, g := range in.Groups {
		w := "group " + g.ExternalID
		id(w, g.ExternalID)
		groups[g.ExternalID] = true
		f := fieldErrors{}
		f.line("name", g.NameJA, true, MaxName)
		f.line("name_en", g.NameEN, false, MaxName)
		f.block("description", g.DescJA, false, MaxBody)
		f.block("description_en", g.DescEN, false, MaxBody)
		check(w, f)
	}
	comps := map[string]bool{}
	for _, c := range in.Components {
		w := "component " + c.ExternalID
		id(w, c.ExternalID)
		comps[c.ExternalID] = true
		f := fieldErrors{}
		f.line("name", c.NameJA, true, MaxName)
		f.line("name_en", c.NameEN, false, MaxName)
		f.block("description", c.DescJA, false, MaxBody)
		f.block("description_en", c.DescEN, false, MaxBody)
		if c.Status != "" && !oneOf(c.Status, ComponentStatuses) {
			f.add("status", "invalid_choice")
		}
		if !groups[c.GroupID] {
			f.add("group_id", "invalid_choice")
		}
		check(w, f)
	}
	updates := func(w string, us []ImportUpdate, statuses []string, start time.Time) {
		if len(us) == 0 {
			ps = append(ps, ImportProblem{w, "updates", "required"})
		}
		for _, u := range us {
			uw := w + " update " + u.ExternalID
			id(uw, u.ExternalID)
			f := fieldErrors{}
			if !oneOf(u.Status, statuses) {
				f.add("status", "invalid_choice")
			}
			f.block("body", u.BodyJA, true, MaxBody)
			f.block("body_en", u.BodyEN, false, MaxBody)
			if u.At.IsZero() {
				f.add("created_at", "required")
			}
			for cid, st := range u.Components {
				if !comps[cid] || !oneOf(st, ComponentStatuses) {
					f.add("affected_components", "invalid_choice")
				}
			}
			check(uw, f)
		}
	}
	for _, i := range in.Incidents {
		w := "incident " + i.ExternalID
		id(w, i.ExternalID)
		f := fieldErrors{}
		f.line("name", i.TitleJA, true, MaxTitle)
		f.line("name_en", i.TitleEN, false, MaxTitle)
		if !oneOf(i.Impact, Impacts) {
			f.add("impact", "invalid_choice")
		}
		if !oneOf(i.Status, IncidentStatuses) {
			f.add("status", "invalid_choice")
		}
		if i.StartedAt.IsZero() {
			f.add("started_at", "required")
		}
		if i.ResolvedAt != nil && i.ResolvedAt.Before(i.StartedAt) {
			f.add("resolved_at", "before_start")
		}
		check(w, f)
		updates(w, i.Updates, IncidentStatuses, i.StartedAt)
	}
	for _, m := range in.Maintenances {
		w := "maintenance " + m.ExternalID
		id(w, m.ExternalID)
		f := fieldErrors{}
		f.line("name", m.TitleJA, true, MaxTitle)
		f.line("name_en", m.TitleEN, false, MaxTitle)
		if !oneOf(m.Status, MaintenanceStatuses) {
			f.add("status", "invalid_choice")
		}
		validateWindow(f, m.StartsAt, m.EndsAt)
		for _, c := range m.ComponentIDs {
			if !comps[c] {
				f.add("components", "invalid_choice")
			}
		}
		check(w, f)
		updates(w, m.Updates, MaintenanceStatuses, m.StartsAt)
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

var errHistoryDryRun = errors.New("dry run")

// ApplyHistoryImport writes an import in one transaction; with dryRun it
// does all the same work and rolls it back, so the counts are exactly what
// the real run would do and nothing changes.
func (s *Store) ApplyHistoryImport(ctx context.Context, in HistoryImport, dryRun bool) (HistoryResult, error) {
	res := HistoryResult{DryRun: dryRun, Counts: map[string]*ImportCount{}}
	for _, k := range ImportKinds {
		res.Counts[k] = &ImportCount{}
	}
	if err := in.Validate(); err != nil {
		return res, err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		a := &historyApply{s: s, tx: tx, src: in.Source, res: res, now: s.now(), comps: map[string]int64{}, groups: map[string]int64{}}
		if err := a.apply(&in); err != nil {
			return err
		}
		if dryRun {
			return errHistoryDryRun
		}
		return nil
	})
	if errors.Is(err, errHistoryDryRun) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	s.publicChanged()
	return res, nil
}

type historyApply struct {
	s      *Store
	tx     *gorm.DB
	src    string
	res    HistoryResult
	now    time.Time
	groups map[string]int64
	comps  map[string]int64
}

// ref finds what an earlier run made of an object; 0 when nothing (or
// when what it made was deleted since).
func (a *historyApply) ref(kind, ext string, model any) (int64, error) {
	var r ImportRef
	err := a.tx.Where("source = ? AND kind = ? AND external_id = ?", a.src, kind, ext).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if err := a.tx.Take(model, r.LocalID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, a.tx.Delete(&r).Error
	} else if err != nil {
		return 0, err
	}
	return r.LocalID, nil
}

// adopt remembers an existing row as what an object became, when the
// row exists; it counts as unchanged.
func (a *historyApply) adopt(kind, ext string, model any, local int64) (bool, error) {
	if err := a.tx.Take(model, local).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	a.res.Counts[kind].Unchanged++
	return true, a.remember(kind, ext, local)
}

func (a *historyApply) remember(kind, ext string, id int64) error {
	return a.tx.Create(&ImportRef{Source: a.src, Kind: kind, ExternalID: ext, LocalID: id, CreatedAt: a.now}).Error
}

// count records created/updated/unchanged for a kind.
func (a *historyApply) count(kind string, created bool, fields map[string]any) {
	c := a.res.Counts[kind]
	switch {
	case created:
		c.Created++
	case len(fields) > 0:
		c.Updated++
	default:
		c.Unchanged++
	}
}

// diff keeps the fields whose value changes.
func diff(want map[string]any, have map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range want {
		if !sameValue(v, have[k]) {
			out[k] = v
		}
	}
	return out
}

func sameValue(a, b any) bool {
	ta, oka := a.(*time.Time)
	tb, okb := b.(*time.Time)
	if oka || okb {
		if ta == nil || tb == nil {
			return ta == nil && tb == nil
		}
		return ta.Equal(*tb)
	}
	if t, ok := a.(time.Time); ok {
		u, ok := b.(time.Time)
		return ok && t.Equal(u)
	}
	return a == b
}

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (a *historyApply) apply(in *HistoryImport) error {
	for _, g := range in.Groups {
		var p Product
		id, err := a.ref(RefProduct, g.ExternalID, &p)
		if err != nil {
			return err
		}
		if id == 0 && g.LocalID != 0 {
			if ok, err := a.adopt(RefProduct, g.ExternalID, &Product{}, g.LocalID); err != nil {
				return err
			} else if ok {
				a.groups[g.ExternalID] = g.LocalID
				continue
			}
		}
		want := map[string]any{"name_ja": g.NameJA, "name_en": g.NameEN, "description_ja": g.DescJA, "description_en": g.DescEN}
		if id == 0 {
			var pos int
			if err := a.tx.Model(&Product{}).Select("COALESCE(MAX(position), -1) + 1").Scan(&pos).Error; err != nil {
				return err
			}
			p = Product{NameJA: g.NameJA, NameEN: g.NameEN, DescriptionJA: g.DescJA, DescriptionEN: g.DescEN, Position: pos}
			if err := a.tx.Select("*").Omit("id", "Components").Create(&p).Error; err != nil {
				return err
			}
			if err := a.remember(RefProduct, g.ExternalID, p.ID); err != nil {
				return err
			}
			id = p.ID
			a.count(RefProduct, true, nil)
		} else {
			d := diff(want, map[string]any{"name_ja": p.NameJA, "name_en": p.NameEN, "description_ja": p.DescriptionJA, "description_en": p.DescriptionEN})
			if len(d) > 0 {
				d["updated_at"] = a.now
				if err := a.tx.Model(&Product{ID: id}).Updates(d).Error; err != nil {
					return err
				}
			}
			a.count(RefProduct, false, d)
		}
		a.groups[g.ExternalID] = id
	}
	for _, c := range in.Components {
		var cm Component
		id, err := a.ref(RefComponent, c.ExternalID, &cm)
		if err != nil {
			return err
		}
		if id == 0 && c.LocalID != 0 {
			if ok, err := a.adopt(RefComponent, c.ExternalID, &Component{}, c.LocalID); err != nil {
				return err
			} else if ok {
				a.comps[c.ExternalID] = c.LocalID
				continue
			}
		}
		status := c.Status
		if status == "" {
			status = Operational
		}
		pid := a.groups[c.GroupID]
		if id == 0 {
			var pos int
			if err := a.tx.Model(&Component{}).Where("product_id = ?", pid).Select("COALESCE(MAX(position), -1) + 1").Scan(&pos).Error; err != nil {
				return err
			}
			cm = Component{ProductID: pid, NameJA: c.NameJA, NameEN: c.NameEN, DescriptionJA: c.DescJA, DescriptionEN: c.DescEN,
				Position: pos, Status: status, AutoStatus: Operational, AutoImpact: "major"}
			if err := a.tx.Create(&cm).Error; err != nil {
				return err
			}
			if err := a.remember(RefComponent, c.ExternalID, cm.ID); err != nil {
				return err
			}
			id = cm.ID
			a.count(RefComponent, true, nil)
		} else {
			d := diff(map[string]any{"product_id": pid, "name_ja": c.NameJA, "name_en": c.NameEN, "description_ja": c.DescJA,
				"description_en": c.DescEN, "status": status},
				map[string]any{"product_id": cm.ProductID, "name_ja": cm.NameJA, "name_en": cm.NameEN, "description_ja": cm.DescriptionJA,
					"description_en": cm.DescriptionEN, "status": cm.Status})
			if len(d) > 0 {
				d["updated_at"] = a.now
				if err := a.tx.Model(&Component{ID: id}).Updates(d).Error; err != nil {
					return err
				}
			}
			a.count(RefComponent, false, d)
		}
		a.comps[c.ExternalID] = id
	}
	for i := range in.Incidents {
		if err := a.incident(&in.Incidents[i]); err != nil {
			return err
		}
	}
	for i := range in.Maintenances {
		if err := a.maintenance(&in.Maintenances[i]); err != nil {
			return err
		}
	}
	return nil
}

func (a *historyApply) incident(in *ImportIncident) error {
	var inc Incident
	id, err := a.ref(RefIncident, in.ExternalID, &inc)
	if err != nil {
		return err
	}
	resolved := utcp(in.ResolvedAt)
	if in.Status == Resolved && resolved == nil {
		last := in.Updates[len(in.Updates)-1].At
		resolved = utcp(&last)
	}
	if in.Status != Resolved {
		resolved = nil
	}
	want := map[string]any{"title_ja": in.TitleJA, "title_en": in.TitleEN, "impact": in.Impact, "status": in.Status,
		"started_at": utc(in.StartedAt), "resolved_at": resolved}
	created := id == 0
	if created {
		inc = Incident{TitleJA: in.TitleJA, TitleEN: in.TitleEN, Impact: in.Impact, Status: in.Status, StartedAt: utc(in.StartedAt), ResolvedAt: resolved}
		if err := a.tx.Select("*").Omit("id", "Updates").Create(&inc).Error; err != nil {
			return err
		}
		if err := a.remember(RefIncident, in.ExternalID, inc.ID); err != nil {
			return err
		}
		id = inc.ID
	}
	var d map[string]any
	if !created {
		d = diff(want, map[string]any{"title_ja": inc.TitleJA, "title_en": inc.TitleEN, "impact": inc.Impact, "status": inc.Status,
			"started_at": inc.StartedAt, "resolved_at": utcp(inc.ResolvedAt)})
		if len(d) > 0 {
			d["updated_at"] = a.now
			if err := a.tx.Model(&Incident{ID: id}).Updates(d).Error; err != nil {
				return err
			}
		}
	}
	a.count(RefIncident, created, d)
	for _, u := range in.Updates {
		var have IncidentUpdate
		uid, err := a.ref(RefIncidentUpdate, u.ExternalID, &have)
		if err != nil {
			return err
		}
		comps := map[int64]string{}
		for ext, st := range u.Components {
			comps[a.comps[ext]] = st
		}
		if uid == 0 {
			row := IncidentUpdate{IncidentID: id, Status: u.Status, BodyJA: u.BodyJA, BodyEN: u.BodyEN, CreatedAt: utc(u.At)}
			if err := a.tx.Create(&row).Error; err != nil {
				return err
			}
			if err := a.setUpdateComponents(row.ID, comps); err != nil {
				return err
			}
			if err := a.remember(RefIncidentUpdate, u.ExternalID, row.ID); err != nil {
				return err
			}
			a.count(RefIncidentUpdate, true, nil)
			continue
		}
		ud := diff(map[string]any{"incident_id": id, "status": u.Status, "body_ja": u.BodyJA, "body_en": u.BodyEN, "created_at": utc(u.At)},
			map[string]any{"incident_id": have.IncidentID, "status": have.Status, "body_ja": have.BodyJA, "body_en": have.BodyEN, "created_at": have.CreatedAt})
		var rows []IncidentUpdateComponent
		if err := a.tx.Where("update_id = ?", uid).Find(&rows).Error; err != nil {
			return err
		}
		old := map[int64]string{}
		for _, r := range rows {
			old[r.ComponentID] = r.Status
		}
		if !maps.Equal(old, comps) {
			if err := a.setUpdateComponents(uid, comps); err != nil {
				return err
			}
			ud["components"] = true
		}
		if len(ud) > 0 {
			delete(ud, "components")
			ud["updated_at"] = a.now
			if err := a.tx.Model(&IncidentUpdate{ID: uid}).Updates(ud).Error; err != nil {
				return err
			}
		}
		a.count(RefIncidentUpdate, false, ud)
	}
	return nil
}

func (a *historyApply) setUpdateComponents(uid int64, comps map[int64]string) error {
	if err := a.tx.Where("update_id = ?", uid).Delete(&IncidentUpdateComponent{}).Error; err != nil {
		return err
	}
	rows := make([]IncidentUpdateComponent, 0, len(comps))
	for _, id := range slices.Sorted(maps.Keys(comps)) {
		rows = append(rows, IncidentUpdateComponent{UpdateID: uid, ComponentID: id, Status: comps[id]})
	}
	if len(rows) == 0 {
		return nil
	}
	return a.tx.Create(&rows).Error
}

func (a *historyApply) maintenance(in *ImportMaintenance) error {
	var m Maintenance
	id, err := a.ref(RefMaintenance, in.ExternalID, &m)
	if err != nil {
		return err
	}
	started, completed := utcp(in.StartedAt), utcp(in.CompletedAt)
	if started == nil && in.Status != Scheduled {
		t := utc(in.StartsAt)
		started = &t
	}
	if completed == nil && in.Status == Completed {
		t := utc(in.EndsAt)
		completed = &t
	}
	ids := make([]int64, 0, len(in.ComponentIDs))
	for _, c := range in.ComponentIDs {
		ids = append(ids, a.comps[c])
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	created := id == 0
	var d map[string]any
	if created {
		// The import's own time stamps the save, so no automatic step
		// whose moment is already past ever emails anyone; Notify off.
		m = Maintenance{TitleJA: in.TitleJA, TitleEN: in.TitleEN, Status: in.Status, StartsAt: utc(in.StartsAt), EndsAt: utc(in.EndsAt),
			StartedAt: started, CompletedAt: completed, SavedAt: &a.now}
		if err := a.tx.Select("*").Omit("id", "Components", "Updates").Create(&m).Error; err != nil {
			return err
		}
		if err := setMaintenanceComponents(a.tx, m.ID, ids); err != nil {
			return err
		}
		if err := a.remember(RefMaintenance, in.ExternalID, m.ID); err != nil {
			return err
		}
		id = m.ID
	} else {
		d = diff(map[string]any{"title_ja": in.TitleJA, "title_en": in.TitleEN, "status": in.Status, "starts_at": utc(in.StartsAt),
			"ends_at": utc(in.EndsAt), "started_at": started, "completed_at": completed},
			map[string]any{"title_ja": m.TitleJA, "title_en": m.TitleEN, "status": m.Status, "starts_at": m.StartsAt,
				"ends_at": m.EndsAt, "started_at": utcp(m.StartedAt), "completed_at": utcp(m.CompletedAt)})
		var have []int64
		if err := a.tx.Model(&MaintenanceComponent{}).Where("maintenance_id = ?", id).Order("component_id").Pluck("component_id", &have).Error; err != nil {
			return err
		}
		if !slices.Equal(have, ids) {
			if err := setMaintenanceComponents(a.tx, id, ids); err != nil {
				return err
			}
			d["components"] = true
		}
		if len(d) > 0 {
			delete(d, "components")
			d["updated_at"], d["saved_at"] = a.now, a.now
			if err := a.tx.Model(&Maintenance{ID: id}).Updates(d).Error; err != nil {
				return err
			}
		}
	}
	a.count(RefMaintenance, created, d)
	for _, u := range in.Updates {
		var have MaintenanceUpdate
		uid, err := a.ref(RefMaintenanceUpdate, u.ExternalID, &have)
		if err != nil {
			return err
		}
		if uid == 0 {
			row := MaintenanceUpdate{MaintenanceID: id, Status: u.Status, BodyJA: u.BodyJA, BodyEN: u.BodyEN, CreatedAt: utc(u.At)}
			if err := a.tx.Create(&row).Error; err != nil {
				return err
			}
			if err := a.remember(RefMaintenanceUpdate, u.ExternalID, row.ID); err != nil {
				return err
			}
			a.count(RefMaintenanceUpdate, true, nil)
			continue
		}
		ud := diff(map[string]any{"maintenance_id": id, "status": u.Status, "body_ja": u.BodyJA, "body_en": u.BodyEN, "created_at": utc(u.At)},
			map[string]any{"maintenance_id": have.MaintenanceID, "status": have.Status, "body_ja": have.BodyJA, "body_en": have.BodyEN, "created_at": have.CreatedAt})
		if len(ud) > 0 {
			ud["updated_at"] = a.now
			if err := a.tx.Model(&MaintenanceUpdate{ID: uid}).Updates(ud).Error; err != nil {
				return err
			}
		}
		a.count(RefMaintenanceUpdate, false, ud)
	}
	return nil
}

// ImportRefs lists what imports remembered, for the console and the demo.
func (s *Store) ImportRefs(ctx context.Context) ([]ImportRef, error) {
	var out []ImportRef
	err := s.db.WithContext(ctx).Order("source, kind, external_id").Find(&out).Error
	return out, err
}
