package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/calendar"
)

// Recurring maintenance in the console: a series is created, edited and
// stopped here; its occurrences are ordinary windows, managed (and
// cancelled one by one) on their own pages.

type seriesListPage struct {
	Series []data.MaintenanceSeries
}

type seriesFormPage struct {
	*catalogView
	Series    *data.MaintenanceSeries
	Audience  *audienceView
	Reminders []string
	Weekdays  []string
	Ordinals  []string
	Preview   *publishPreview
}

type seriesShowPage struct {
	Series      *data.MaintenanceSeries
	Occurrences []data.Maintenance
}

func (s *Server) listSeries(c echo.Context) error {
	all, err := s.store.AllSeries(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "admin_series", &view{Title: s.t(c, "series.title"), Data: &seriesListPage{Series: all}})
}

func (s *Server) seriesFormPage(c echo.Context, ser *data.MaintenanceSeries) (*seriesFormPage, error) {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &seriesFormPage{catalogView: newCatalogView(products, nil, nil), Series: ser, Reminders: reminderChoices,
		Weekdays: data.SeriesWeekdays, Ordinals: []string{"1", "2", "3", "4", "-1"}}, nil
}

func (s *Server) renderSeriesForm(c echo.Context, code int, f *form, v *seriesFormPage, comps []int64) error {
	a, err := s.audience(c.Request().Context(), data.PolicyMaintenance, comps)
	if err != nil {
		return err
	}
	v.Audience = a
	title := s.t(c, "series.new")
	if v.Series != nil {
		title = s.t(c, "series.edit")
	}
	return s.render(c, code, "admin_series_form", &view{Title: title, Form: f, Data: v})
}

func (s *Server) newSeries(c echo.Context) error {
	v, err := s.seriesFormPage(c, nil)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"notify": {"1"}, "reminder": {"1d"}, "freq": {data.SeriesWeekly}, "interval": {"1"},
		"ordinal": {"2"}, "month_weekday": {"TU"}, "duration": {"120"}, "end": {"count"}, "count": {"10"}}}
	return s.renderSeriesForm(c, http.StatusOK, f, v, nil)
}

// seriesInput reads the series form; what cannot be read is a field error.
func (s *Server) seriesInput(c echo.Context, f *form) data.SeriesInput {
	in := data.SeriesInput{Freq: f.Get("freq"), Weekdays: f.Values["weekdays"], MonthWeekday: f.Get("month_weekday"),
		FirstStartsAt: f.timeField("starts_at", s.opts.Location, true), TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"),
		BodyJA: f.Get("body_ja"), BodyEN: f.Get("body_en"), ComponentIDs: f.idsField("components"), Notify: f.Get("notify") == "1",
		ReminderLead: f.reminderLead(), OperatorID: operatorOf(c).ID, Location: s.opts.Location}
	small := func(name string, lo, hi int, key string) int {
		n, err := strconv.Atoi(strings.TrimSpace(f.Get(name)))
		if err != nil || n < lo || n > hi {
			f.fail(name, key)
			return 0
		}
		return n
	}
	in.Interval = small("interval", 1, data.MaxSeriesInterval, "series_interval")
	if in.Freq == data.SeriesMonthly {
		in.Ordinal = small("ordinal", -1, 4, "invalid_choice")
		if in.Ordinal == 0 {
			f.fail("ordinal", "invalid_choice")
		}
	}
	in.Duration = time.Duration(small("duration", 1, int(data.MaxSeriesDuration/time.Minute), "series_duration")) * time.Minute
	switch f.Get("end") {
	case "count":
		in.Count = small("count", 1, data.MaxSeriesCount, "series_count")
	case "until":
		v := strings.TrimSpace(f.Get("until"))
		t, err := time.ParseInLocation("2006-01-02", v, s.opts.Location)
		if v == "" {
			f.fail("until", "required")
		} else if err != nil || t.Year() < 2000 || t.Year() > 2100 {
			f.fail("until", "bad_time")
		} else {
			in.Until = t
		}
	default:
		f.fail("until", "series_end_required")
	}
	return in
}

func (s *Server) createSeries(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	v, err := s.seriesFormPage(c, nil)
	if err != nil {
		return err
	}
	in := s.seriesInput(c, f)
	n := s.notice(f)
	var ser *data.MaintenanceSeries
	if !f.Invalid() {
		ser, err = s.store.CreateSeries(c.Request().Context(), in, n.Hold)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderSeriesForm(c, http.StatusBadRequest, f, v, in.ComponentIDs)
	}
	if err != nil {
		return err
	}
	s.afterNotice(n)
	return s.done(c, "series.flash_created", "/admin/series/"+strconv.FormatInt(ser.ID, 10))
}

func (s *Server) loadSeries(c echo.Context) (*data.MaintenanceSeries, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return s.store.Series(c.Request().Context(), id)
}

func (s *Server) showSeries(c echo.Context) error {
	ser, err := s.loadSeries(c)
	if err != nil {
		return err
	}
	occ, err := s.store.SeriesOccurrences(c.Request().Context(), ser.ID)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "admin_series_show", &view{Title: ser.TitleJA, Data: &seriesShowPage{Series: ser, Occurrences: occ}})
}

func (s *Server) editSeries(c echo.Context) error {
	ser, err := s.loadSeries(c)
	if err != nil {
		return err
	}
	v, err := s.seriesFormPage(c, ser)
	if err != nil {
		return err
	}
	sh := ser.Shape()
	f := &form{Values: map[string][]string{"title_ja": {ser.TitleJA}, "title_en": {ser.TitleEN}, "body_ja": {ser.BodyJA}, "body_en": {ser.BodyEN},
		"freq": {sh.Freq}, "interval": {strconv.Itoa(sh.Interval)}, "weekdays": sh.Weekdays, "ordinal": {strconv.Itoa(sh.Ordinal)},
		"month_weekday": {sh.MonthWeekday}, "starts_at": {localInput(ser.FirstStartsAt, s.opts.Location)},
		"duration": {strconv.FormatInt(ser.DurationSeconds/60, 10)}}}
	if sh.Count > 0 {
		f.Values.Set("end", "count")
		f.Values.Set("count", strconv.Itoa(sh.Count))
	} else {
		f.Values.Set("end", "until")
		f.Values.Set("until", sh.Until.In(s.opts.Location).Format("2006-01-02"))
	}
	if ser.Notify {
		f.Values.Set("notify", "1")
	}
	for _, id := range ser.ComponentIDs() {
		f.Values.Add("components", strconv.FormatInt(id, 10))
	}
	f.Values.Set("reminder", "none")
	if ser.ReminderLeadSeconds > 0 {
		f.Values.Set("reminder", data.FormatLeads([]time.Duration{time.Duration(ser.ReminderLeadSeconds) * time.Second}))
	}
	if ser.EndedAt != nil {
		// Shown, so what it was is readable, but saying it cannot change.
		f.fail("freq", "series_ended")
	}
	return s.renderSeriesForm(c, http.StatusOK, f, v, ser.ComponentIDs())
}

func (s *Server) updateSeries(c echo.Context) error {
	ser, err := s.loadSeries(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	v, err := s.seriesFormPage(c, ser)
	if err != nil {
		return err
	}
	in := s.seriesInput(c, f)
	n := s.notice(f)
	if !f.Invalid() {
		_, err = s.store.UpdateSeries(c.Request().Context(), ser.ID, in, n)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderSeriesForm(c, http.StatusBadRequest, f, v, in.ComponentIDs)
	}
	if err != nil {
		return err
	}
	s.afterNotice(n)
	return s.done(c, "flash.saved", "/admin/series/"+strconv.FormatInt(ser.ID, 10))
}

// describeStopSeries says what stopping a series does before it is done.
func (s *Server) describeStopSeries(c echo.Context) (*confirmPage, error) {
	ser, err := s.loadSeries(c)
	if err != nil {
		return nil, err
	}
	occ, err := s.store.SeriesOccurrences(c.Request().Context(), ser.ID)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, m := range occ {
		if m.Status == data.Scheduled && m.StartsAt.After(s.opts.Now()) {
			n++
		}
	}
	lines := []string{s.t(c, "series.stop_line", "Count", n)}
	if c.FormValue("notify") == "1" {
		lines = append(lines, s.t(c, "series.stop_notify"))
	}
	return &confirmPage{Question: s.t(c, "series.stop_question"), Lines: lines, Button: s.t(c, "series.stop"),
		Back: "/admin/series/" + strconv.FormatInt(ser.ID, 10)}, nil
}

func (s *Server) stopSeries(c echo.Context) error {
	ser, err := s.loadSeries(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	n := s.notice(f)
	_, err = s.store.StopSeries(c.Request().Context(), ser.ID, operatorOf(c).ID, n)
	if f.absorb(err) {
		return s.done(c, "series.flash_already_ended", "/admin/series/"+strconv.FormatInt(ser.ID, 10))
	}
	if err != nil {
		return err
	}
	s.afterNotice(n)
	return s.done(c, "series.flash_stopped", "/admin/series/"+strconv.FormatInt(ser.ID, 10))
}

// Recurrence says how a series repeats, in the page's language: "毎週火曜
// 2:00〜4:00", "every Tuesday, 02:00–04:00".
func (p *page) Recurrence(ser *data.MaintenanceSeries) string {
	if ser == nil {
		return ""
	}
	loc := p.s.opts.Location
	sh := ser.Shape()
	first := ser.FirstStartsAt.In(loc)
	day := func(code string) string { return p.T("series.day_" + strings.ToLower(code)) }
	var days []string
	for _, d := range sh.Weekdays {
		days = append(days, day(d))
	}
	var rule string
	switch {
	case sh.Freq == data.SeriesMonthly:
		key := "series.rule_monthly"
		if sh.Interval > 1 {
			key = "series.rule_months"
		}
		rule = p.T(key, "Interval", sh.Interval, "Ordinal", p.T("series.ordinal_"+strconv.Itoa(sh.Ordinal)), "Day", day(sh.MonthWeekday))
	case sh.Interval > 1:
		rule = p.T("series.rule_weeks", "Interval", sh.Interval, "Days", p.joinDays(days))
	default:
		rule = p.T("series.rule_weekly", "Days", p.joinDays(days))
	}
	end := ""
	if sh.Count > 0 {
		end = p.T("series.end_count", "Count", sh.Count)
	} else {
		end = p.T("series.end_until", "Until", p.Date(sh.Until))
	}
	to := first.Add(ser.Duration())
	until := to.Format("15:04")
	if days := int(time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc).Sub(time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)).Hours() / 24); days > 0 {
		// A window over midnight ends the next day (翌1:00), or later.
		until = p.T("series.next_day", "Time", to.Format("15:04"), "Count", days)
	}
	return p.T("series.recurrence", "Rule", rule, "From", first.Format("15:04"), "To", until, "End", end,
		"Zone", loc.String())
}

// joinDays lists days as the language does: 火曜・木曜, Monday and
// Thursday, Monday, Tuesday and Friday.
func (p *page) joinDays(days []string) string {
	if p.Lang == "ja" || len(days) < 2 {
		return strings.Join(days, p.T("series.day_sep"))
	}
	return strings.Join(days[:len(days)-1], ", ") + " and " + days[len(days)-1]
}

// SeriesOf returns the series a window is an occurrence of, for a line on
// its pages; nil for a window on its own (or when it cannot be read).
func (p *page) SeriesOf(m *data.Maintenance) *data.MaintenanceSeries {
	if m == nil || m.SeriesID == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ser, err := p.s.store.Series(ctx, *m.SeriesID)
	if err != nil {
		return nil
	}
	return ser
}

// seriesICS is the calendar of the series a public window belongs to: its
// public windows as one recurring event; false when it cannot be one.
func (s *Server) seriesICS(ctx context.Context, m *data.Maintenance, lang string, cat *catalogView) ([]calendar.Event, bool, error) {
	if !calendar.FixedOffset(s.opts.Location) {
		return nil, false, nil
	}
	pub := s.store.Public()
	hidden, err := pub.Hidden(ctx)
	if err != nil {
		return nil, false, err
	}
	ms, err := s.store.SeriesOccurrences(ctx, *m.SeriesID)
	if err != nil {
		return nil, false, err
	}
	ms = data.PublicMaintenances(ms, hidden)
	series, err := s.store.SeriesByIDs(ctx, []int64{*m.SeriesID})
	if err != nil {
		return nil, false, err
	}
	var windows []*data.Maintenance
	for i := range ms {
		if ms[i].OccurrenceAt != nil {
			windows = append(windows, &ms[i])
		}
	}
	evs, ok := s.seriesEvents(series[*m.SeriesID], windows, lang, cat)
	return evs, ok, nil
}

// maintenanceEvents makes calendar events of windows: each window on its
// own, except the occurrences of a series, which are one recurring event
// (RRULE from the series, EXDATE for occurrences cancelled or never made,
// and an overriding event with RECURRENCE-ID for each occurrence that
// differs from the rule: moved, detached, renamed, or done at other times).
// A zone with summer time cannot be written as one fixed VTIMEZONE, so
// there the occurrences stay separate events.
func (s *Server) maintenanceEvents(ctx context.Context, ms []data.Maintenance, lang string, cat *catalogView) ([]calendar.Event, error) {
	loc := s.opts.Location
	bySeries := map[int64][]*data.Maintenance{}
	var ids []int64
	var events []calendar.Event
	for i := range ms {
		m := &ms[i]
		if m.SeriesID != nil && m.OccurrenceAt != nil && calendar.FixedOffset(loc) {
			if _, ok := bySeries[*m.SeriesID]; !ok {
				ids = append(ids, *m.SeriesID)
			}
			bySeries[*m.SeriesID] = append(bySeries[*m.SeriesID], m)
			continue
		}
		events = append(events, s.maintenanceEvent(m, lang, cat))
	}
	series, err := s.store.SeriesByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	for _, id := range ids {
		windows := bySeries[id]
		ser := series[id]
		evs, ok := s.seriesEvents(ser, windows, lang, cat)
		if !ok {
			for _, m := range windows {
				events = append(events, s.maintenanceEvent(m, lang, cat))
			}
			continue
		}
		events = append(events, evs...)
	}
	return events, nil
}

// seriesEvents writes one series' windows as a recurring event; false when
// the rule cannot be read.
func (s *Server) seriesEvents(ser *data.MaintenanceSeries, windows []*data.Maintenance, lang string, cat *catalogView) ([]calendar.Event, bool) {
	loc := s.opts.Location
	if ser == nil || len(windows) == 0 {
		return nil, false
	}
	r, err := ser.Rule(loc)
	if err != nil {
		return nil, false
	}
	slices.SortFunc(windows, func(a, b *data.Maintenance) int { return a.OccurrenceAt.Compare(*b.OccurrenceAt) })
	first, last := windows[0].OccurrenceAt.UTC(), windows[len(windows)-1].OccurrenceAt.UTC()
	ruleTimes := r.Between(first, last, true)
	inRule := map[int64]bool{}
	for _, t := range ruleTimes {
		inRule[t.Unix()] = true
	}
	// The calendar's rule starts at the first window it shows, so older
	// occurrences (outside the feed) are not repeated; a COUNT becomes the
	// UNTIL of the last occurrence, and a stopped series ends at its last
	// window.
	var rest []string
	for _, part := range strings.Split(ser.RRule, ";") {
		if !strings.HasPrefix(part, "COUNT=") && !strings.HasPrefix(part, "UNTIL=") {
			rest = append(rest, part)
		}
	}
	end := last
	if ser.EndedAt == nil {
		all := r.All()
		if len(all) > 0 && all[len(all)-1].After(end) {
			end = all[len(all)-1].UTC()
		}
	}
	rest = append(rest, "UNTIL="+end.UTC().Format("20060102T150405Z"))
	uid := s.eventUID("series", ser.ID)
	base := windows[0]
	for _, m := range windows {
		if !m.Ended() {
			base = m
			break
		}
	}
	master := s.maintenanceEvent(base, lang, cat)
	pg := &page{s: s, Lang: lang}
	master.UID, master.Zone, master.RRule = uid, loc, strings.Join(rest, ";")
	master.Summary = s.catalog.T(lang, "history.maintenance") + ": " + pg.L(ser.TitleJA, ser.TitleEN)
	master.Description = strings.TrimSpace(pg.Recurrence(ser) + "\n" + master.Description)
	master.Start, master.End, master.Cancelled = first, first.Add(ser.Duration()), false
	// Each edit of the series is a newer revision of the recurring event.
	master.Sequence = int(min(ser.UpdatedAt.Sub(ser.CreatedAt)/time.Second, 1<<30))
	master.Updated = ser.UpdatedAt
	byTime := map[int64]*data.Maintenance{}
	var out []calendar.Event
	for _, m := range windows {
		occ := m.OccurrenceAt.UTC()
		if !inRule[occ.Unix()] {
			// Made by an older rule: an event of its own.
			out = append(out, s.maintenanceEvent(m, lang, cat))
			continue
		}
		byTime[occ.Unix()] = m
		if m.Status == data.Cancelled {
			master.ExDates = append(master.ExDates, occ)
			continue
		}
		ev := s.maintenanceEvent(m, lang, cat)
		if m.Detached || !ev.Start.Equal(occ) || !ev.End.Equal(occ.Add(ser.Duration())) || m.TitleJA != ser.TitleJA || m.TitleEN != ser.TitleEN {
			ev.UID, ev.Zone, ev.RecurrenceID = uid, loc, occ
			ev.Sequence = max(ev.Sequence, master.Sequence)
			out = append(out, ev)
		}
	}
	for _, t := range ruleTimes {
		if byTime[t.Unix()] == nil {
			// An occurrence of the rule that was never made a window (its
			// time had passed when the series was saved).
			master.ExDates = append(master.ExDates, t.UTC())
		}
	}
	slices.SortFunc(master.ExDates, func(a, b time.Time) int { return a.Compare(b) })
	return append([]calendar.Event{master}, out...), true
}
