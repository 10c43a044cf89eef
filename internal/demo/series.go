package demo

import (
	"fmt"
	"time"

	"github.com/oshirase/oshirase/data"
)

// series seeds recurring maintenance: a weekly window announced by email,
// one of its occurrences moved on its own (detached) and one cancelled
// (an EXDATE in the calendar); and a monthly one, second Thursday, that
// was stopped before it began.
func (s *seeder) series() {
	// The first Tuesday at least two days ahead.
	n := 2
	for s.day(n, 2, 0).In(s.loc).Weekday() != time.Tuesday {
		n++
	}
	weekly := data.SeriesInput{Freq: data.SeriesWeekly, Interval: 1, Weekdays: []string{"TU"}, FirstStartsAt: s.day(n, 2, 0),
		Duration: time.Hour, Count: 6, TitleJA: "定期メンテナンス（ライセンス認証基盤）", TitleEN: "Weekly maintenance of license checks",
		BodyJA: "毎週火曜日の深夜に、ライセンス認証基盤の定期メンテナンスを行います。作業中は、プラグインの起動に数秒程度時間がかかる場合がございます。",
		BodyEN: "Every Tuesday night we maintain the license-check systems. During the work, plugins may take a few seconds longer to start.",
		Notify: true, ReminderLead: 12 * time.Hour, Location: s.loc}
	var weeklyID int64
	s.at(s.day(-3, 10, 0), "create the weekly series", func(st *data.Store) error {
		weekly.ComponentIDs = []int64{s.comp["license"]}
		weekly.OperatorID = s.op[editorEmail]
		ser, err := st.CreateSeries(s.ctx, weekly, true)
		if err != nil {
			return err
		}
		weeklyID = ser.ID
		return s.audit(st, editorEmail, "POST /admin/series", "", map[string]any{"title_ja": weekly.TitleJA, "rrule": ser.RRule, "notify": true})
	})
	s.at(s.day(-1, 15, 0), "move one weekly occurrence, cancel another", func(st *data.Store) error {
		occ, err := st.SeriesOccurrences(s.ctx, weeklyID)
		if err != nil {
			return err
		}
		if len(occ) < 4 {
			return fmt.Errorf("weekly series: %d occurrences made", len(occ))
		}
		m := occ[2]
		s.f.Maintenances = append(s.f.Maintenances, occ[0].ID, m.ID, occ[3].ID)
		starts, ends := m.StartsAt.Add(time.Hour), m.EndsAt.Add(time.Hour)
		if err := st.UpdateMaintenance(s.ctx, m.ID, data.MaintenanceEdit{TitleJA: m.TitleJA, TitleEN: m.TitleEN, StartsAt: starts, EndsAt: ends,
			ReminderLead: time.Duration(m.ReminderLeadSeconds) * time.Second, ComponentIDs: m.ComponentIDs()}); err != nil {
			return err
		}
		if err := st.DetachOccurrence(s.ctx, m.ID); err != nil {
			return err
		}
		if err := s.audit(st, editorEmail, "POST /admin/maintenance/:id", fmt.Sprintf("id=%d", m.ID), map[string]any{"starts_at": starts, "ends_at": ends}); err != nil {
			return err
		}
		return s.step(st, editorEmail, occ[3].ID, data.Cancelled, "この回は、年末年始のため実施いたしません。",
			"This occurrence will not take place over the New Year holidays.")
	})

	// Monthly, second Thursday 22:00, until a date a year ahead: stopped.
	first := s.day(1, 22, 0)
	for {
		l := first.In(s.loc)
		if l.Weekday() == time.Thursday && (l.Day()-1)/7 == 1 {
			break
		}
		first = first.AddDate(0, 0, 1)
	}
	monthly := data.SeriesInput{Freq: data.SeriesMonthly, Interval: 1, Ordinal: 2, MonthWeekday: "TH", FirstStartsAt: first,
		Duration: 2 * time.Hour, Until: first.AddDate(1, 0, 0), TitleJA: "月次メンテナンス（レポート配信）", TitleEN: "Monthly maintenance of report delivery",
		BodyJA: "毎月第2木曜日の夜に、レポート配信の定期メンテナンスを行います。", BodyEN: "On the second Thursday of each month we maintain report delivery.",
		ReminderLead: -1, Location: s.loc}
	var monthlyID int64
	s.at(s.day(-5, 11, 0), "create the monthly series", func(st *data.Store) error {
		monthly.ComponentIDs = []int64{s.comp["reports-cdn"]}
		monthly.OperatorID = s.op[adminEmail]
		ser, err := st.CreateSeries(s.ctx, monthly, true)
		if err != nil {
			return err
		}
		monthlyID = ser.ID
		return s.audit(st, adminEmail, "POST /admin/series", "", map[string]any{"title_ja": monthly.TitleJA, "rrule": ser.RRule, "notify": false})
	})
	s.at(s.day(-2, 9, 0), "stop the monthly series", func(st *data.Store) error {
		if _, err := st.StopSeries(s.ctx, monthlyID, s.op[adminEmail], data.Notice{}); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "POST /admin/series/:id/stop", fmt.Sprintf("id=%d", monthlyID), nil)
	})
}
