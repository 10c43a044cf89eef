package jobs

import (
	"context"
	"time"
)

// JobSeries makes windows of recurring maintenance ahead of time.
const JobSeries = "maintenance-series"

// series makes the coming occurrences of every running series ordinary
// maintenance windows (data.SeriesHorizon ahead, and at least the next
// one), counted in the configured zone; the maintenance job then reminds,
// opens and closes them as any window.
func (t *Tasks) series(ctx context.Context) (string, error) {
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	n, err := t.Store.MaterializeSeries(ctx, loc)
	if err != nil || n == 0 {
		return "", err
	}
	return Summary("job.summary.maintenance-series", "Count", n), nil
}
