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
	return s.tx(ctx, func(tx *gorm.DB) error {
		recips, err := operatorAudience(tx)
		if err != nil {
			return err
		}
		if len(recips) == 0 {
			return nil
		}
		now := s.now()
		content := NoticeContent{Kind: AlertRenderFailing, Status: "alert",
			TitleJA: "公開ページを表示用に作成できません", TitleEN: "The public pages cannot be rendered",
			BodyJA:    "公開ページ（" + page + "）の作成に失敗しています。お客様には、最後に作成できた内容を「この表示は以前の情報です」という注記付きで表示しています。\n\n原因: " + detail,
			BodyEN:    "The public page (" + page + ") fails to render. Customers see its last good copy, marked as out of date.\n\nCause: " + detail,
			UpdatedAt: &now, Path: "/admin"}
		n := Notification{Kind: AlertRenderFailing, Thread: fmt.Sprintf("%s-%d", AlertRenderFailing, now.Unix())}
		return s.writeNotification(tx, n, content, recips, false)
	})
}
