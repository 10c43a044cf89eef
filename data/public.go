package data

import (
	"context"
	"time"
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
