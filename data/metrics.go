package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Gauges is what the metrics read from the database at each scrape: the
// same for every instance, since they share it.
type Gauges struct {
	// Deliveries counts by state and channel (email, webhook, slack,
	// teams).
	Deliveries    map[[2]string]int64
	OldestPending *time.Time
	// JobRuns counts recorded runs by job and outcome (kept as long as the
	// retention setting).
	JobRuns       map[[2]string]int64
	Monitors      map[string]int64
	DraftsWaiting int64
	RelayRefusing bool
	// PayloadsRefused counts the deliveries Slack or Teams refused as
	// malformed, by channel kind.
	PayloadsRefused map[string]int64
}

// ReadGauges reads the gauges in a few grouped queries.
func (s *Store) ReadGauges(ctx context.Context) (Gauges, error) {
	g := Gauges{Deliveries: map[[2]string]int64{}, JobRuns: map[[2]string]int64{}, Monitors: map[string]int64{}, PayloadsRefused: map[string]int64{}}
	db := s.db.WithContext(ctx)
	type count struct {
		K1, K2 string
		N      int64
	}
	var rows []count
	if err := db.Raw(`SELECT d.state AS k1, COALESCE(c.kind, 'email') AS k2, COUNT(*) AS n FROM deliveries d
		LEFT JOIN channels c ON c.id = d.channel_id GROUP BY d.state, COALESCE(c.kind, 'email')`).Scan(&rows).Error; err != nil {
		return g, fmt.Errorf("data: gauges: %w", err)
	}
	for _, r := range rows {
		g.Deliveries[[2]string{r.K1, r.K2}] = r.N
	}
	var oldest []time.Time
	if err := db.Table("deliveries").Where("state = ?", DeliveryPending).Order("next_attempt_at").Limit(1).Pluck("next_attempt_at", &oldest).Error; err != nil {
		return g, fmt.Errorf("data: gauges: %w", err)
	}
	if len(oldest) > 0 {
		g.OldestPending = &oldest[0]
	}
	rows = nil
	if err := db.Raw("SELECT job AS k1, outcome AS k2, COUNT(*) AS n FROM job_runs GROUP BY job, outcome").Scan(&rows).Error; err != nil {
		return g, fmt.Errorf("data: gauges: %w", err)
	}
	for _, r := range rows {
		g.JobRuns[[2]string{r.K1, r.K2}] = r.N
	}
	rows = nil
	if err := db.Raw("SELECT state AS k1, '' AS k2, COUNT(*) AS n FROM monitors WHERE enabled = ? GROUP BY state", true).Scan(&rows).Error; err != nil {
		return g, fmt.Errorf("data: gauges: %w", err)
	}
	for _, r := range rows {
		g.Monitors[r.K1] = r.N
	}
	rows = nil
	if err := db.Raw(`SELECT c.kind AS k1, '' AS k2, COUNT(*) AS n FROM deliveries d JOIN channels c ON c.id = d.channel_id
		WHERE d.state = ? AND d.last_error LIKE ? GROUP BY c.kind`, DeliveryFailed, PayloadRefused+"%").Scan(&rows).Error; err != nil {
		return g, fmt.Errorf("data: gauges: %w", err)
	}
	for _, r := range rows {
		g.PayloadsRefused[r.K1] = r.N
	}
	var err error
	if g.DraftsWaiting, err = s.WaitingDrafts(ctx); err != nil {
		return g, err
	}
	rt, err := s.RelayTrouble(ctx)
	if err != nil {
		return g, err
	}
	g.RelayRefusing = rt != nil
	return g, nil
}

// SQLDB is the connection pool, for its statistics.
func (s *Store) SQLDB() (*sql.DB, error) {
	if s == nil {
		return nil, errors.New("data: no database (a standby instance)")
	}
	return s.db.DB()
}
