package data_test

import (
	"context"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

func seriesStore(t *testing.T) (*data.Store, int64, *time.Location) {
	t.Helper()
	s := datatest.Open(t, datatest.NewClock(t0)) // Friday 20 November 2026, 12:00 Tokyo
	ctx := context.Background()
	p, err := s.CreateProduct(ctx, data.ProductInput{NameJA: "製品"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "CDN"})
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	return s, c.ID, tokyo
}

// TestSeriesRules: what the console's choices make of the rule, read back
// the same way, and the first start moved onto the rule's first day.
func TestSeriesRules(t *testing.T) {
	s, comp, tokyo := seriesStore(t)
	ctx := context.Background()
	base := data.SeriesInput{TitleJA: "定期", BodyJA: "本文", ComponentIDs: []int64{comp}, Duration: time.Hour, Interval: 1, Location: tokyo}
	for _, tc := range []struct {
		name      string
		edit      func(*data.SeriesInput)
		rule      string
		first     time.Time
		windows   int
		lastLocal string
	}{
		{"weekly Tuesday and Thursday, count", func(in *data.SeriesInput) {
			in.Freq, in.Weekdays, in.Count = data.SeriesWeekly, []string{"TH", "TU"}, 5
			in.FirstStartsAt = time.Date(2026, 11, 23, 2, 0, 0, 0, tokyo) // a Monday
		}, "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=5", time.Date(2026, 11, 24, 2, 0, 0, 0, tokyo), 5, "2026-12-08 02:00 Tue"},
		{"every two weeks, until (inclusive, Tokyo)", func(in *data.SeriesInput) {
			in.Freq, in.Weekdays, in.Interval = data.SeriesWeekly, []string{"WE"}, 2
			in.FirstStartsAt = time.Date(2026, 11, 25, 23, 30, 0, 0, tokyo)
			in.Until = time.Date(2026, 12, 23, 0, 0, 0, 0, tokyo)
		}, "FREQ=WEEKLY;BYDAY=WE;INTERVAL=2;UNTIL=20261223T145959Z", time.Date(2026, 11, 25, 23, 30, 0, 0, tokyo), 3, "2026-12-23 23:30 Wed"},
		{"monthly last Friday", func(in *data.SeriesInput) {
			in.Freq, in.Ordinal, in.MonthWeekday, in.Count = data.SeriesMonthly, -1, "FR", 3
			in.FirstStartsAt = time.Date(2026, 11, 21, 1, 0, 0, 0, tokyo)
		}, "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", time.Date(2026, 11, 27, 1, 0, 0, 0, tokyo), 3, "2027-01-29 01:00 Fri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			tc.edit(&in)
			ser, err := s.CreateSeries(ctx, in, true)
			if err != nil {
				t.Fatal(err)
			}
			if ser.RRule != tc.rule || !ser.FirstStartsAt.Equal(tc.first) {
				t.Errorf("rule %q from %s, want %q from %s", ser.RRule, ser.FirstStartsAt.In(tokyo), tc.rule, tc.first)
			}
			ms, _ := s.SeriesOccurrences(ctx, ser.ID)
			if len(ms) != tc.windows {
				t.Fatalf("%d windows, want %d", len(ms), tc.windows)
			}
			if got := ms[len(ms)-1].StartsAt.In(tokyo).Format("2006-01-02 15:04 Mon"); got != tc.lastLocal {
				t.Errorf("last window %s, want %s", got, tc.lastLocal)
			}
			sh := ser.Shape()
			if sh.Freq != in.Freq || sh.Interval != in.Interval || sh.Count != in.Count || sh.Ordinal != in.Ordinal || sh.MonthWeekday != in.MonthWeekday {
				t.Errorf("shape %+v of %+v", sh, in)
			}
		})
	}
}

// TestSeriesRefusedWholly: a bad series saves nothing at all.
func TestSeriesRefusedWholly(t *testing.T) {
	s, comp, tokyo := seriesStore(t)
	ctx := context.Background()
	in := data.SeriesInput{Freq: data.SeriesWeekly, Weekdays: []string{"TU"}, Interval: 1, TitleJA: "定期", BodyJA: "本文",
		ComponentIDs: []int64{comp, 424242}, Duration: time.Hour, Count: 3, FirstStartsAt: t0.Add(24 * time.Hour), Location: tokyo}
	if _, err := s.CreateSeries(ctx, in, true); err == nil {
		t.Fatal("an unknown component was accepted")
	}
	in.ComponentIDs = []int64{comp}
	in.Until = t0.AddDate(0, 1, 0)
	_, err := s.CreateSeries(ctx, in, true)
	fieldErr(t, err, "until", "series_end_both")
	all, _ := s.AllSeries(ctx)
	ms, _, _ := s.RecentMaintenances(ctx, 10, 0)
	if len(all) != 0 || len(ms) != 0 {
		t.Errorf("half-saved: %d series, %d windows", len(all), len(ms))
	}
}
