package data

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// OnPublicChange names the function told when the store changed what the
// public pages show by itself, outside any request: a maintenance window
// opened or closed by the scheduler. The web application passes its page
// cache's invalidation, so such a change is on every representation at
// once, as an operator's is. A dry run never tells it.
func (s *Store) OnPublicChange(fn func()) { s.public.Store(&fn) }

// publicChanged tells the function, if any, after a commit.
func (s *Store) publicChanged() {
	if fn := s.public.Load(); fn != nil && *fn != nil {
		(*fn)()
	}
}

// NextPublicEdge is the earliest moment after now at which the public
// pages change by the passing of time alone: a maintenance window or an
// upgrade opening or closing, an announcement's publication. Pages
// rendered before it are out of date once it has passed. Zero means none
// is ahead.
func (s *Store) NextPublicEdge(ctx context.Context) (time.Time, error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	var next time.Time
	earliest := func(model any, column, where string, args ...any) error {
		var t []time.Time
		q := db.Model(model).Where(column+" > ?", now)
		if where != "" {
			q = q.Where(where, args...)
		}
		if err := q.Order(column).Limit(1).Pluck(column, &t).Error; err != nil {
			return err
		}
		if len(t) > 0 && (next.IsZero() || t[0].Before(next)) {
			next = t[0]
		}
		return nil
	}
	ended := []string{Completed, Cancelled}
	for _, e := range []struct {
		model         any
		column, where string
		args          []any
	}{
		{&Maintenance{}, "starts_at", "status NOT IN ?", []any{ended}},
		{&Maintenance{}, "ends_at", "status NOT IN ?", []any{ended}},
		{&Upgrade{}, "starts_at", "status <> ?", []any{UpgradeCancelled}},
		{&Upgrade{}, "ends_at", "status <> ?", []any{UpgradeCancelled}},
		{&Announcement{}, "publish_at", "", nil},
	} {
		if err := earliest(e.model, e.column, e.where, e.args...); err != nil {
			return time.Time{}, err
		}
	}
	return next, nil
}

// AlertRenderFailing tells every active operator, by email and on the
// operators' channels, that a public page cannot be rendered for a reason
// other than the database: customers see an old copy marked out of date
// until it is mended. The web application calls it once per stretch.
func (s *Store) AlertRenderFailing(ctx context.Context, page, detail string) error {
	now := s.now()
	return s.alertEveryOperator(ctx, fmt.Sprintf("%s-%d", AlertRenderFailing, now.Unix()), NoticeContent{Kind: AlertRenderFailing,
		TitleJA: "公開ページを表示用に作成できません", TitleEN: "The public pages cannot be rendered",
		BodyJA: "公開ページ（" + page + "）の作成に失敗しています。お客様には、最後に作成できた内容を「この表示は以前の情報です」という注記付きで表示しています。\n\n原因: " + detail,
		BodyEN: "The public page (" + page + ") fails to render. Customers see its last good copy, marked as out of date.\n\nCause: " + detail,
		Path:   "/admin"})
}

// alertEveryOperator writes an operators' alert (content.Kind) to every
// active operator, by email in their language, and to the operators'
// channels; nothing when there is nobody to tell.
func (s *Store) alertEveryOperator(ctx context.Context, thread string, content NoticeContent) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		recips, err := operatorAudience(tx)
		if err != nil || len(recips) == 0 {
			return err
		}
		now := s.now()
		content.Status, content.UpdatedAt = "alert", &now
		return s.writeNotification(tx, Notification{Kind: content.Kind, Thread: thread}, content, recips, false)
	})
}

// PublicView is the store as the public sees it: every public
// representation (the page, the Statuspage JSON, feeds, calendars, the
// badge, history, news) reads through one, so contract-only components
// (Component.ContractOnly) are left out in one place. A contract-only
// component is never listed; an incident or maintenance window that names
// only contract-only components is not there at all (looked up by id, it
// is ErrNotFound); one that also names public components shows only
// those. A product whose every component is contract-only is not listed.
// A view reads which components are contract-only once: make one per
// render.
type PublicView struct {
	s      *Store
	hidden map[int64]bool
}

// Public returns a public view of the store.
func (s *Store) Public() *PublicView { return &PublicView{s: s} }

// Hidden returns the ids of the contract-only components.
func (p *PublicView) Hidden(ctx context.Context) (map[int64]bool, error) {
	if p.hidden != nil {
		return p.hidden, nil
	}
	var ids []int64
	if err := p.s.db.WithContext(ctx).Model(&Component{}).Where("contract_only = ?", true).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("data: contract-only components: %w", err)
	}
	p.hidden = make(map[int64]bool, len(ids))
	for _, id := range ids {
		p.hidden[id] = true
	}
	return p.hidden, nil
}

// hiddenIncidentSQL selects the incidents (as "incidents") whose timeline
// names a contract-only component and no public one; its arguments are
// true, false.
const hiddenIncidentSQL = `(EXISTS (SELECT 1 FROM incident_updates hu JOIN incident_update_components hc ON hc.update_id = hu.id
	JOIN components hk ON hk.id = hc.component_id WHERE hu.incident_id = incidents.id AND hk.contract_only = ?)
	AND NOT EXISTS (SELECT 1 FROM incident_updates pu JOIN incident_update_components pc ON pc.update_id = pu.id
	JOIN components pk ON pk.id = pc.component_id WHERE pu.incident_id = incidents.id AND pk.contract_only = ?))`

// hiddenMaintenanceSQL is hiddenIncidentSQL for maintenance windows (as
// "maintenances").
const hiddenMaintenanceSQL = `(EXISTS (SELECT 1 FROM maintenance_components hc JOIN components hk ON hk.id = hc.component_id
	WHERE hc.maintenance_id = maintenances.id AND hk.contract_only = ?)
	AND NOT EXISTS (SELECT 1 FROM maintenance_components pc JOIN components pk ON pk.id = pc.component_id
	WHERE pc.maintenance_id = maintenances.id AND pk.contract_only = ?))`

// PublicProducts leaves contract-only components out of products, and
// products left with none of the components they had.
func PublicProducts(ps []Product) []Product {
	out := make([]Product, 0, len(ps))
	for _, p := range ps {
		if len(p.Components) == 0 {
			out = append(out, p)
			continue
		}
		cs := make([]Component, 0, len(p.Components))
		for _, c := range p.Components {
			if !c.ContractOnly {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		p.Components = cs
		out = append(out, p)
	}
	return out
}

// PublicIncident returns the incident as the public sees it, with its
// timeline naming no contract-only component, or nil when it names only
// such components. An incident that names none at all is public.
func PublicIncident(inc Incident, hidden map[int64]bool) *Incident {
	named, shown := false, false
	ups := make([]IncidentUpdate, len(inc.Updates))
	for i, u := range inc.Updates {
		var keep []IncidentUpdateComponent
		for _, c := range u.Components {
			named = true
			if !hidden[c.ComponentID] {
				shown = true
				keep = append(keep, c)
			}
		}
		u.Components = keep
		ups[i] = u
	}
	if named && !shown {
		return nil
	}
	inc.Updates = ups
	return &inc
}

// PublicIncidents is PublicIncident for a list.
func PublicIncidents(incs []Incident, hidden map[int64]bool) []Incident {
	if len(hidden) == 0 {
		return incs
	}
	out := make([]Incident, 0, len(incs))
	for _, inc := range incs {
		if v := PublicIncident(inc, hidden); v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// PublicMaintenance is PublicIncident for a maintenance window.
func PublicMaintenance(m Maintenance, hidden map[int64]bool) *Maintenance {
	if len(m.Components) == 0 {
		return &m
	}
	keep := make([]MaintenanceComponent, 0, len(m.Components))
	for _, c := range m.Components {
		if !hidden[c.ComponentID] {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	m.Components = keep
	return &m
}

// PublicMaintenances is PublicMaintenance for a list.
func PublicMaintenances(ms []Maintenance, hidden map[int64]bool) []Maintenance {
	if len(hidden) == 0 {
		return ms
	}
	out := make([]Maintenance, 0, len(ms))
	for _, m := range ms {
		if v := PublicMaintenance(m, hidden); v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// Products is Store.Products without contract-only components.
func (p *PublicView) Products(ctx context.Context) ([]Product, error) {
	ps, err := p.s.Products(ctx)
	if err != nil {
		return nil, err
	}
	return PublicProducts(ps), nil
}

// Product is Store.Product without contract-only components; a product
// whose every component is contract-only is ErrNotFound.
func (p *PublicView) Product(ctx context.Context, id int64) (*Product, error) {
	pr, err := p.s.Product(ctx, id)
	if err != nil {
		return nil, err
	}
	ps := PublicProducts([]Product{*pr})
	if len(ps) == 0 {
		return nil, fmt.Errorf("data: product %d: %w", id, ErrNotFound)
	}
	return &ps[0], nil
}

func (p *PublicView) incidents(ctx context.Context, incs []Incident, err error) ([]Incident, error) {
	if err != nil {
		return nil, err
	}
	hidden, err := p.Hidden(ctx)
	if err != nil {
		return nil, err
	}
	return PublicIncidents(incs, hidden), nil
}

func (p *PublicView) maintenances(ctx context.Context, ms []Maintenance, err error) ([]Maintenance, error) {
	if err != nil {
		return nil, err
	}
	hidden, err := p.Hidden(ctx)
	if err != nil {
		return nil, err
	}
	return PublicMaintenances(ms, hidden), nil
}

// Incident is Store.Incident as the public sees it: ErrNotFound for an
// incident that names only contract-only components.
func (p *PublicView) Incident(ctx context.Context, id int64) (*Incident, error) {
	inc, err := p.s.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	hidden, err := p.Hidden(ctx)
	if err != nil {
		return nil, err
	}
	if v := PublicIncident(*inc, hidden); v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("data: incident %d: %w", id, ErrNotFound)
}

// Maintenance is Store.Maintenance as the public sees it.
func (p *PublicView) Maintenance(ctx context.Context, id int64) (*Maintenance, error) {
	m, err := p.s.Maintenance(ctx, id)
	if err != nil {
		return nil, err
	}
	hidden, err := p.Hidden(ctx)
	if err != nil {
		return nil, err
	}
	if v := PublicMaintenance(*m, hidden); v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("data: maintenance %d: %w", id, ErrNotFound)
}

// OpenIncidents is Store.OpenIncidents as the public sees it.
func (p *PublicView) OpenIncidents(ctx context.Context) ([]Incident, error) {
	incs, err := p.s.OpenIncidents(ctx)
	return p.incidents(ctx, incs, err)
}

// IncidentsSince is Store.IncidentsSince as the public sees it.
func (p *PublicView) IncidentsSince(ctx context.Context, since time.Time) ([]Incident, error) {
	incs, err := p.s.IncidentsSince(ctx, since)
	return p.incidents(ctx, incs, err)
}

// IncidentsBetween is Store.IncidentsBetween as the public sees it.
func (p *PublicView) IncidentsBetween(ctx context.Context, from, to time.Time) ([]Incident, error) {
	incs, err := p.s.IncidentsBetween(ctx, from, to)
	return p.incidents(ctx, incs, err)
}

// LatestIncidents is Store.LatestIncidents as the public sees it: up to
// limit public incidents, however many hidden ones come between.
func (p *PublicView) LatestIncidents(ctx context.Context, limit, offset int) ([]Incident, error) {
	n, err := p.hiddenCount(ctx, &Incident{}, hiddenIncidentSQL)
	if err != nil {
		return nil, err
	}
	incs, err := p.s.LatestIncidents(ctx, offset+limit+int(n), 0)
	incs, err = p.incidents(ctx, incs, err)
	if err != nil {
		return nil, err
	}
	return window(incs, limit, offset), nil
}

// CurrentMaintenances is Store.CurrentMaintenances as the public sees it.
func (p *PublicView) CurrentMaintenances(ctx context.Context) ([]Maintenance, error) {
	ms, err := p.s.CurrentMaintenances(ctx)
	return p.maintenances(ctx, ms, err)
}

// MaintenancesBetween is Store.MaintenancesBetween as the public sees it.
func (p *PublicView) MaintenancesBetween(ctx context.Context, from, to time.Time) ([]Maintenance, error) {
	ms, err := p.s.MaintenancesBetween(ctx, from, to)
	return p.maintenances(ctx, ms, err)
}

// MaintenanceWindowsSince is Store.MaintenanceWindowsSince as the public
// sees it.
func (p *PublicView) MaintenanceWindowsSince(ctx context.Context, since time.Time) ([]Maintenance, error) {
	ms, err := p.s.MaintenanceWindowsSince(ctx, since)
	return p.maintenances(ctx, ms, err)
}

// RecentMaintenances is Store.RecentMaintenances as the public sees it,
// counting only the public windows.
func (p *PublicView) RecentMaintenances(ctx context.Context, limit, offset int) ([]Maintenance, int64, error) {
	n, err := p.hiddenCount(ctx, &Maintenance{}, hiddenMaintenanceSQL)
	if err != nil {
		return nil, 0, err
	}
	ms, total, err := p.s.RecentMaintenances(ctx, offset+limit+int(n), 0)
	ms, err = p.maintenances(ctx, ms, err)
	if err != nil {
		return nil, 0, err
	}
	return window(ms, limit, offset), total - n, nil
}

// CalendarEvents is Store.CalendarEvents as the public sees it.
func (p *PublicView) CalendarEvents(ctx context.Context, since time.Time) ([]Maintenance, []Upgrade, error) {
	ms, us, err := p.s.CalendarEvents(ctx, since)
	ms, err = p.maintenances(ctx, ms, err)
	if err != nil {
		return nil, nil, err
	}
	return ms, us, nil
}

// News is Store.News as the public sees it: a page of public items.
func (p *PublicView) News(ctx context.Context, limit, offset int) ([]NewsItem, bool, error) {
	ni, err := p.hiddenCount(ctx, &Incident{}, hiddenIncidentSQL)
	if err != nil {
		return nil, false, err
	}
	nm, err := p.hiddenCount(ctx, &Maintenance{}, hiddenMaintenanceSQL)
	if err != nil {
		return nil, false, err
	}
	hidden, err := p.Hidden(ctx)
	if err != nil {
		return nil, false, err
	}
	items, more, err := p.s.News(ctx, offset+limit+int(ni+nm), 0)
	if err != nil {
		return nil, false, err
	}
	out := make([]NewsItem, 0, len(items))
	for _, it := range items {
		switch {
		case it.Incident != nil:
			if it.Incident = PublicIncident(*it.Incident, hidden); it.Incident == nil {
				continue
			}
		case it.Maintenance != nil:
			if it.Maintenance = PublicMaintenance(*it.Maintenance, hidden); it.Maintenance == nil {
				continue
			}
		}
		out = append(out, it)
	}
	if offset >= len(out) {
		return nil, false, nil
	}
	out = out[offset:]
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, more && len(out) == limit, nil
}

// ComponentStatusChanges is Store.ComponentStatusChanges without the
// contract-only components.
func (p *PublicView) ComponentStatusChanges(ctx context.Context, since time.Time) ([]ComponentStatusChange, error) {
	cs, err := p.s.ComponentStatusChanges(ctx, since)
	if err != nil {
		return nil, err
	}
	hidden, err := p.Hidden(ctx)
	if err != nil {
		return nil, err
	}
	out := cs[:0:0]
	for _, c := range cs {
		if !hidden[c.ComponentID] {
			out = append(out, c)
		}
	}
	return out, nil
}

// EarliestActivity is Store.EarliestActivity counting only public
// incidents and windows.
func (p *PublicView) EarliestActivity(ctx context.Context) (time.Time, error) {
	var earliest time.Time
	for _, q := range []struct {
		model     any
		col, hide string
	}{{&Incident{}, "started_at", hiddenIncidentSQL}, {&Maintenance{}, "starts_at", hiddenMaintenanceSQL}} {
		var ts []time.Time
		if err := p.s.db.WithContext(ctx).Model(q.model).Where("NOT "+q.hide, true, false).Order(q.col).Limit(1).Pluck(q.col, &ts).Error; err != nil {
			return time.Time{}, fmt.Errorf("data: earliest activity: %w", err)
		}
		if len(ts) > 0 && (earliest.IsZero() || ts[0].Before(earliest)) {
			earliest = ts[0].UTC()
		}
	}
	return earliest, nil
}

// hiddenCount counts the incidents or windows the public does not see.
func (p *PublicView) hiddenCount(ctx context.Context, model any, hide string) (int64, error) {
	hidden, err := p.Hidden(ctx)
	if err != nil || len(hidden) == 0 {
		return 0, err
	}
	var n int64
	if err := p.s.db.WithContext(ctx).Model(model).Where(hide, true, false).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("data: contract-only count: %w", err)
	}
	return n, nil
}

func window[T any](xs []T, limit, offset int) []T {
	if offset >= len(xs) {
		return nil
	}
	xs = xs[offset:]
	return xs[:min(limit, len(xs))]
}
