package uptime

import (
	"math"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

func TestBarsForKnownHistory(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, tokyo) }
	now := at(26, 12)
	resolved := at(20, 2)
	cdn, api := int64(1), int64(2)

	incidents := []data.Incident{
		// Backdated to 23:00 on the 19th, posted at 01:00 on the 20th: the
		// partial outage covers both days (in Tokyo), then a major outage for
		// one hour, then resolved.
		{ID: 10, StartedAt: at(19, 23), ResolvedAt: &resolved, Status: data.Resolved, Updates: []data.IncidentUpdate{
			{CreatedAt: at(20, 1), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.PartialOutage}}},
			{CreatedAt: at(20, 1).Add(30 * time.Minute), Status: data.Identified, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.MajorOutage}, {ComponentID: api, Status: data.DegradedPerformance}}},
			{CreatedAt: at(20, 2), Status: data.Resolved, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.Operational}}},
		}},
		// Still open: degraded since 10:00 today.
		{ID: 11, StartedAt: at(26, 10), Status: data.Investigating, Updates: []data.IncidentUpdate{
			{CreatedAt: at(26, 10), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: api, Status: data.DegradedPerformance}}},
		}},
		// Older than the window: ignored.
		{ID: 12, StartedAt: at(1, 0).AddDate(0, -6, 0), Status: data.Resolved, ResolvedAt: ptr(at(1, 1).AddDate(0, -6, 0)), Updates: []data.IncidentUpdate{
			{CreatedAt: at(1, 0).AddDate(0, -6, 0), Status: data.Investigating, Components: []data.IncidentUpdateComponent{{ComponentID: cdn, Status: data.MajorOutage}}},
		}},
	}
	bars := Bars(Spans(incidents, now), []int64{cdn, api, 3}, now, tokyo, 90)

	b := bars[cdn]
	if len(b.Days) != 90 {
		t.Fatalf("%d days", len(b.Days))
	}
	if last := b.Days[89].Date; !last.Equal(at(26, 0)) {
		t.Fatalf("last day %v", last)
	}
	want := map[int]string{19: data.PartialOutage, 20: data.MajorOutage}
	for _, d := range b.Days {
		day := d.Date.Day()
		w, ok := want[day]
		if !ok || d.Date.Month() != time.November {
			w = data.Operational
		}
		if d.Status != w {
			t.Errorf("cdn %s: %s, want %s", d.Date.Format("01-02"), d.Status, w)
		}
	}
	if got := b.Days[88-6].Incidents; len(got) != 1 || got[0] != 10 {
		t.Errorf("incidents on the 20th: %v", got)
	}
	// 2.5h partial (30%) + 0.5h major over 89.5 days.
	period := now.Sub(at(26, 0).AddDate(0, 0, -89)).Seconds()
	wantPct := 100 * (1 - (2.5*3600*0.3+0.5*3600)/period)
	if math.Abs(b.Percent-wantPct) > 1e-9 {
		t.Errorf("cdn uptime %.6f, want %.6f", b.Percent, wantPct)
	}
	if d := bars[api].Days[89]; d.Status != data.DegradedPerformance {
		t.Errorf("api today %s", d.Status)
	}
	if bars[api].Percent != 100 {
		t.Errorf("degraded counted as downtime: %v", bars[api].Percent)
	}
	if bars[3].Percent != 100 || bars[3].Days[0].Status != data.Operational {
		t.Errorf("untouched component: %+v", bars[3])
	}
}

func ptr(t time.Time) *time.Time { return &t }
