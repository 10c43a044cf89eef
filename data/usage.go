package data

import (
	"context"
	"fmt"
	"sort"

	"github.com/axiomhq/hyperloglog"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// UsageKey is what one usage counter counts: requests for one route,
// answered with one status class, in one hour of one day (both in the
// configured zone).
type UsageKey struct {
	Day    string // 2006-01-02
	Hour   int
	Method string
	Route  string
	Class  int // 2 for 2xx, …
}

// UsageCounts is how many requests a key saw and the bytes they were sent.
type UsageCounts struct {
	Requests int64
	Bytes    int64
}

// Usage is a batch of counters and, per day, a HyperLogLog sketch of the
// visitors seen. Sketches merge exactly, so instances (and days, for a
// month's unique visitors) add up without counting anyone twice; an
// estimate is within about 1% of the true number.
type Usage struct {
	Counts   map[UsageKey]UsageCounts
	Visitors map[string]*hyperloglog.Sketch
}

// NewUsage returns an empty batch.
func NewUsage() *Usage {
	return &Usage{Counts: map[UsageKey]UsageCounts{}, Visitors: map[string]*hyperloglog.Sketch{}}
}

// Add counts one request. visitor is the salted hash of its address; empty
// counts no visitor.
func (u *Usage) Add(k UsageKey, bytes int64, visitor string) {
	c := u.Counts[k]
	c.Requests++
	c.Bytes += bytes
	u.Counts[k] = c
	if visitor == "" {
		return
	}
	sk := u.Visitors[k.Day]
	if sk == nil {
		sk = hyperloglog.New14()
		u.Visitors[k.Day] = sk
	}
	sk.Insert([]byte(visitor))
}

// Merge adds o's counts and visitors to u.
func (u *Usage) Merge(o *Usage) {
	for k, c := range o.Counts {
		have := u.Counts[k]
		have.Requests += c.Requests
		have.Bytes += c.Bytes
		u.Counts[k] = have
	}
	for day, sk := range o.Visitors {
		if have := u.Visitors[day]; have != nil {
			have.Merge(sk)
		} else {
			u.Visitors[day] = sk
		}
	}
}

// Empty reports whether the batch counts nothing.
func (u *Usage) Empty() bool { return len(u.Counts) == 0 && len(u.Visitors) == 0 }

// Requests is the total of the batch.
func (u *Usage) Requests() int64 {
	var n int64
	for _, c := range u.Counts {
		n += c.Requests
	}
	return n
}

// Days lists the days the batch counts, in order.
func (u *Usage) Days() []string {
	seen := map[string]bool{}
	for k := range u.Counts {
		seen[k.Day] = true
	}
	for d := range u.Visitors {
		seen[d] = true
	}
	days := make([]string, 0, len(seen))
	for d := range seen {
		days = append(days, d)
	}
	sort.Strings(days)
	return days
}

type usageCount struct {
	Day      string
	Hour     int
	Method   string
	Route    string
	Class    int
	Requests int64
	Bytes    int64
}

func (usageCount) TableName() string { return "usage_counts" }

type usageVisitors struct {
	Day    string `gorm:"primaryKey"`
	Sketch []byte
}

func (usageVisitors) TableName() string { return "usage_visitors" }

func (u *Usage) rows() []usageCount {
	rows := make([]usageCount, 0, len(u.Counts))
	for k, c := range u.Counts {
		rows = append(rows, usageCount{Day: k.Day, Hour: k.Hour, Method: k.Method, Route: k.Route, Class: k.Class,
			Requests: c.Requests, Bytes: c.Bytes})
	}
	return rows
}

// AddUsage adds a batch to the counters in one transaction: a batch counts
// wholly or not at all, and batches from several instances add up.
func (s *Store) AddUsage(ctx context.Context, u *Usage) error {
	if u.Empty() {
		return nil
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if rows := u.rows(); len(rows) > 0 {
			add := clause.OnConflict{
				Columns: []clause.Column{{Name: "day"}, {Name: "hour"}, {Name: "method"}, {Name: "route"}, {Name: "class"}},
				DoUpdates: clause.Assignments(map[string]any{
					"requests": gorm.Expr("usage_counts.requests + excluded.requests"),
					"bytes":    gorm.Expr("usage_counts.bytes + excluded.bytes"),
				}),
			}
			if err := tx.Clauses(add).CreateInBatches(rows, 200).Error; err != nil {
				return err
			}
		}
		for day, sk := range u.Visitors {
			if err := s.mergeVisitors(tx, day, sk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("data: add usage: %w", err)
	}
	return nil
}

// mergeVisitors merges sk into the day's sketch. The row is created first
// and then locked, so two instances merging the same day take turns.
func (s *Store) mergeVisitors(tx *gorm.DB, day string, sk *hyperloglog.Sketch) error {
	empty, err := hyperloglog.New14().MarshalBinary()
	if err != nil {
		return err
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&usageVisitors{Day: day, Sketch: empty}).Error; err != nil {
		return err
	}
	q := tx
	if s.dialect == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row usageVisitors
	if err := q.Where("day = ?", day).Take(&row).Error; err != nil {
		return err
	}
	have := hyperloglog.New14()
	if err := have.UnmarshalBinary(row.Sketch); err != nil {
		return fmt.Errorf("visitors of %s: %w", day, err)
	}
	if err := have.Merge(sk); err != nil {
		return err
	}
	b, err := have.MarshalBinary()
	if err != nil {
		return err
	}
	return tx.Model(&usageVisitors{}).Where("day = ?", day).Update("sketch", b).Error
}

// ReplaceUsage sets the counters of the given days to u, as a recount
// from the access-log files does.
func (s *Store) ReplaceUsage(ctx context.Context, days []string, u *Usage) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i := 0; i < len(days); i += 500 {
			chunk := days[i:min(i+500, len(days))]
			if err := tx.Where("day IN ?", chunk).Delete(&usageCount{}).Error; err != nil {
				return err
			}
			if err := tx.Where("day IN ?", chunk).Delete(&usageVisitors{}).Error; err != nil {
				return err
			}
		}
		return s.inTx(tx).AddUsage(ctx, u)
	})
	if err != nil {
		return fmt.Errorf("data: replace usage: %w", err)
	}
	return nil
}

// UsageSince reads the counters and sketches of days from from on.
func (s *Store) UsageSince(ctx context.Context, from string) (*Usage, error) {
	var rows []usageCount
	if err := s.db.WithContext(ctx).Where("day >= ?", from).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: usage: %w", err)
	}
	u := NewUsage()
	for _, r := range rows {
		u.Counts[UsageKey{r.Day, r.Hour, r.Method, r.Route, r.Class}] = UsageCounts{r.Requests, r.Bytes}
	}
	var vs []usageVisitors
	if err := s.db.WithContext(ctx).Where("day >= ?", from).Find(&vs).Error; err != nil {
		return nil, fmt.Errorf("data: usage: %w", err)
	}
	for _, v := range vs {
		sk := hyperloglog.New14()
		if err := sk.UnmarshalBinary(v.Sketch); err != nil {
			return nil, fmt.Errorf("data: visitors of %s: %w", v.Day, err)
		}
		u.Visitors[v.Day] = sk
	}
	return u, nil
}

// PruneUsage deletes the counters of days before day and says how many
// rows went.
func (s *Store) PruneUsage(ctx context.Context, before string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("day < ?", before).Delete(&usageCount{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		return tx.Where("day < ?", before).Delete(&usageVisitors{}).Error
	})
	if err != nil {
		return 0, fmt.Errorf("data: prune usage: %w", err)
	}
	return n, nil
}

// UsageRow is one line of a usage report: a day, a month, a page, a
// status class or an hour, with its requests, bytes and unique visitors.
type UsageRow struct {
	Key      string
	Requests int64
	Bytes    int64
	Visitors int64
}

func (s *Store) usageBy(ctx context.Context, expr, from, order string, limit int) ([]UsageRow, error) {
	q := s.db.WithContext(ctx).Model(&usageCount{}).
		Select(expr+" AS key, SUM(requests) AS requests, SUM(bytes) AS bytes").
		Where("day >= ?", from).Group(expr).Order(order)
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []UsageRow
	if err := q.Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: usage: %w", err)
	}
	return rows, nil
}

// UsageByDay reports requests, bytes and unique visitors per day from the
// day from on, oldest first.
func (s *Store) UsageByDay(ctx context.Context, from string) ([]UsageRow, error) {
	return s.withVisitors(ctx, "day", from, func(day string) string { return day })
}

// UsageByMonth reports the same per month (its unique visitors are the
// union of its days', not their sum).
func (s *Store) UsageByMonth(ctx context.Context, from string) ([]UsageRow, error) {
	return s.withVisitors(ctx, "substr(day, 1, 7)", from, func(day string) string { return day[:7] })
}

func (s *Store) withVisitors(ctx context.Context, expr, from string, keyOf func(day string) string) ([]UsageRow, error) {
	rows, err := s.usageBy(ctx, expr, from, "key", 0)
	if err != nil {
		return nil, err
	}
	var vs []usageVisitors
	if err := s.db.WithContext(ctx).Where("day >= ?", from).Order("day").Find(&vs).Error; err != nil {
		return nil, fmt.Errorf("data: visitors: %w", err)
	}
	union := map[string]*hyperloglog.Sketch{}
	for _, v := range vs {
		sk := hyperloglog.New14()
		if err := sk.UnmarshalBinary(v.Sketch); err != nil {
			return nil, fmt.Errorf("data: visitors of %s: %w", v.Day, err)
		}
		k := keyOf(v.Day)
		if have := union[k]; have != nil {
			if err := have.Merge(sk); err != nil {
				return nil, err
			}
		} else {
			union[k] = sk
		}
	}
	for i := range rows {
		if sk := union[rows[i].Key]; sk != nil {
			rows[i].Visitors = int64(sk.Estimate())
		}
	}
	return rows, nil
}

// UsageByHour reports requests per hour of the day since from.
func (s *Store) UsageByHour(ctx context.Context, from string) ([]UsageRow, error) {
	rows, err := s.usageBy(ctx, "hour", from, "hour", 0)
	for i := range rows {
		if len(rows[i].Key) == 1 {
			rows[i].Key = "0" + rows[i].Key
		}
	}
	return rows, err
}

// TopRoutes reports the most requested route patterns since from.
func (s *Store) TopRoutes(ctx context.Context, from string, limit int) ([]UsageRow, error) {
	return s.usageBy(ctx, "method || ' ' || route", from, "requests DESC, key", limit)
}

// StatusMix reports requests by status class (2, 3, 4, 5) since from.
func (s *Store) StatusMix(ctx context.Context, from string) ([]UsageRow, error) {
	return s.usageBy(ctx, "class", from, "class", 0)
}

// UsageTotals says how many requests the counters hold and over how many
// days.
func (s *Store) UsageTotals(ctx context.Context) (requests, days int64, err error) {
	var t struct{ Requests, Days int64 }
	err = s.db.WithContext(ctx).Model(&usageCount{}).
		Select("COALESCE(SUM(requests), 0) AS requests, COUNT(DISTINCT day) AS days").Scan(&t).Error
	return t.Requests, t.Days, err
}
