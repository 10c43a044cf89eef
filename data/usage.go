package data

import (
	"context"
	"fmt"
	"time"
)

// UsageRow is one line of a usage report: a day, a month, a page, a
// status class or an hour, with its requests and unique visitors.
type UsageRow struct {
	Key      string
	Requests int64
	Visitors int64
}

// localExpr groups access-log times by a calendar unit in loc. SQLite has
// no time zones, so it shifts by the zone's offset now (exact for zones
// without daylight saving, such as Asia/Tokyo); PostgreSQL converts.
func (s *Store) localExpr(unit string, loc *time.Location) (string, []any) {
	if s.dialect == "postgres" {
		pat := map[string]string{"day": "YYYY-MM-DD", "month": "YYYY-MM", "hour": "HH24"}[unit]
		return "to_char(at AT TIME ZONE ?, '" + pat + "')", []any{loc.String()}
	}
	_, offset := s.now().In(loc).Zone()
	pat := map[string]string{"day": "%Y-%m-%d", "month": "%Y-%m", "hour": "%H"}[unit]
	return fmt.Sprintf("strftime('%s', at, '%+d seconds')", pat, offset), nil
}

func (s *Store) usage(ctx context.Context, expr string, args []any, from time.Time, order string, limit int) ([]UsageRow, error) {
	q := s.db.WithContext(ctx).Model(&AccessLogEntry{}).
		Select(expr+" AS key, COUNT(*) AS requests, COUNT(DISTINCT visitor) AS visitors", args...).
		Where("at >= ?", from.UTC()).Group("key").Order(order)
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []UsageRow
	if err := q.Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: usage: %w", err)
	}
	return rows, nil
}

// UsageBy reports requests and unique visitors per "day", "month" or
// "hour" (of the day) in loc, since from, in key order.
func (s *Store) UsageBy(ctx context.Context, unit string, from time.Time, loc *time.Location) ([]UsageRow, error) {
	expr, args := s.localExpr(unit, loc)
	return s.usage(ctx, expr, args, from, "key", 0)
}

// TopRoutes reports the most requested route patterns since from.
func (s *Store) TopRoutes(ctx context.Context, from time.Time, limit int) ([]UsageRow, error) {
	return s.usage(ctx, "method || ' ' || route", nil, from, "requests DESC, key", limit)
}

// StatusMix reports requests by status class (2, 3, 4, 5) since from.
func (s *Store) StatusMix(ctx context.Context, from time.Time) ([]UsageRow, error) {
	return s.usage(ctx, "CAST(status / 100 AS TEXT)", nil, from, "key", 0)
}
