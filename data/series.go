package data

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
	"gorm.io/gorm"
)

// Recurring maintenance: a series holds the template of its windows and an
// RFC 5545 RRULE; its occurrences are made ordinary maintenance windows
// ahead of time (SeriesHorizon, and at least the next one), so their
// lifecycle, reminders and notices are those of any window.

// Series frequencies the console offers.
const (
	SeriesWeekly  = "weekly"
	SeriesMonthly = "monthly"
)

// Limits of a series.
const (
	// SeriesHorizon is how far ahead occurrences are made windows.
	SeriesHorizon     = 90 * 24 * time.Hour
	MaxSeriesCount    = 200
	MaxSeriesInterval = 12
	MaxSeriesDuration = 7 * 24 * time.Hour
	// MaxSeriesSpan is how far after its first start a series may end.
	MaxSeriesSpan = 3 * 366 * 24 * time.Hour
	// maxMaterialize caps the windows one pass makes for a series.
	maxMaterialize = 60
)

// SeriesWeekdays are the RRULE weekday codes, Monday first.
var SeriesWeekdays = []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}

var rruleWeekdays = map[string]rrule.Weekday{"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH, "FR": rrule.FR, "SA": rrule.SA, "SU": rrule.SU}

// SeriesInput is what an operator enters for a series.
type SeriesInput struct {
	Freq     string
	Interval int
	// Weekdays are the days of a weekly series (RRULE codes).
	Weekdays []string
	// Ordinal (1–4, or -1 for the last) and MonthWeekday pick the day of a
	// monthly series: Ordinal 2 and "TU" is the second Tuesday.
	Ordinal      int
	MonthWeekday string
	// FirstStartsAt is the first date and time; the rule's days and times
	// are those of Location.
	FirstStartsAt time.Time
	Duration      time.Duration
	// Until (the last day, inclusive) or Count ends the series; one is
	// required.
	Until time.Time
	Count int

	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	ComponentIDs     []int64
	Notify           bool
	// ReminderLead as in NewMaintenance: zero is a day, negative none.
	ReminderLead time.Duration
	OperatorID   int64
	Location     *time.Location
}

// RRuleString builds the rule of an input, without DTSTART.
func (in *SeriesInput) rule(f fieldErrors) string {
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	parts := []string{}
	if in.Interval < 1 || in.Interval > MaxSeriesInterval {
		f.add("interval", "series_interval")
	}
	switch in.Freq {
	case SeriesWeekly:
		parts = append(parts, "FREQ=WEEKLY")
		if len(in.Weekdays) == 0 {
			f.add("weekdays", "required")
		}
		var days []string
		for _, d := range SeriesWeekdays {
			if slices.Contains(in.Weekdays, d) {
				days = append(days, d)
			}
		}
		for _, d := range in.Weekdays {
			if _, ok := rruleWeekdays[d]; !ok {
				f.add("weekdays", "invalid_choice")
			}
		}
		if len(days) > 0 {
			parts = append(parts, "BYDAY="+strings.Join(days, ","))
		}
	case SeriesMonthly:
		parts = append(parts, "FREQ=MONTHLY")
		if _, ok := rruleWeekdays[in.MonthWeekday]; !ok {
			f.add("month_weekday", "invalid_choice")
		}
		if in.Ordinal != -1 && (in.Ordinal < 1 || in.Ordinal > 4) {
			f.add("ordinal", "invalid_choice")
		}
		parts = append(parts, "BYDAY="+strconv.Itoa(in.Ordinal)+in.MonthWeekday)
	default:
		f.add("freq", "invalid_choice")
	}
	if in.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(in.Interval))
	}
	if in.FirstStartsAt.IsZero() {
		f.add("starts_at", "required")
	}
	if in.Duration <= 0 || in.Duration > MaxSeriesDuration {
		f.add("duration", "series_duration")
	}
	switch {
	case in.Count == 0 && in.Until.IsZero():
		f.add("until", "series_end_required")
	case in.Count != 0 && !in.Until.IsZero():
		f.add("until", "series_end_both")
	case in.Count != 0:
		if in.Count < 1 || in.Count > MaxSeriesCount {
			f.add("count", "series_count")
		}
		parts = append(parts, "COUNT="+strconv.Itoa(in.Count))
	default:
		// The last day, inclusive, ends at midnight after it in the zone.
		y, m, d := in.Until.In(loc).Date()
		until := time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Second).UTC()
		switch {
		case !in.FirstStartsAt.IsZero() && until.Before(in.FirstStartsAt):
			f.add("until", "series_until_before")
		case !in.FirstStartsAt.IsZero() && until.Sub(in.FirstStartsAt) > MaxSeriesSpan:
			f.add("until", "series_too_long")
		}
		parts = append(parts, "UNTIL="+until.Format("20060102T150405Z"))
	}
	return strings.Join(parts, ";")
}

// ParseSeriesRule reads a stored rule from its first start, in the zone
// whose days and times it counts.
func ParseSeriesRule(rule string, first time.Time, loc *time.Location) (*rrule.RRule, error) {
	if loc == nil {
		loc = time.UTC
	}
	opt, err := rrule.StrToROption(rule)
	if err != nil {
		return nil, err
	}
	opt.Dtstart = first.In(loc)
	return rrule.NewRRule(*opt)
}

// Rule returns the series' rule counted in a zone.
func (ser *MaintenanceSeries) Rule(loc *time.Location) (*rrule.RRule, error) {
	return ParseSeriesRule(ser.RRule, ser.FirstStartsAt, loc)
}

// Duration is how long each occurrence lasts.
func (ser *MaintenanceSeries) Duration() time.Duration {
	return time.Duration(ser.DurationSeconds) * time.Second
}

// ComponentIDs lists the components every occurrence affects.
func (ser *MaintenanceSeries) ComponentIDs() []int64 {
	ids := make([]int64, len(ser.Components))
	for i, c := range ser.Components {
		ids[i] = c.ComponentID
	}
	slices.Sort(ids)
	return ids
}

// SeriesShape is a rule read back into the console's terms.
type SeriesShape struct {
	Freq         string
	Interval     int
	Weekdays     []string
	Ordinal      int
	MonthWeekday string
	Count        int
	Until        time.Time
}

// Shape reads the series' rule back for the console and the page.
func (ser *MaintenanceSeries) Shape() SeriesShape {
	sh := SeriesShape{Interval: 1}
	for _, part := range strings.Split(ser.RRule, ";") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "FREQ":
			sh.Freq = strings.ToLower(v)
		case "INTERVAL":
			sh.Interval, _ = strconv.Atoi(v)
		case "COUNT":
			sh.Count, _ = strconv.Atoi(v)
		case "UNTIL":
			sh.Until, _ = time.Parse("20060102T150405Z", v)
		case "BYDAY":
			for _, d := range strings.Split(v, ",") {
				if len(d) > 2 {
					sh.Ordinal, _ = strconv.Atoi(d[:len(d)-2])
					sh.MonthWeekday = d[len(d)-2:]
				} else {
					sh.Weekdays = append(sh.Weekdays, d)
				}
			}
		}
	}
	return sh
}

func (s *Store) validateSeries(tx *gorm.DB, f fieldErrors, in *SeriesInput) (string, error) {
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	validateBodies(f, in.BodyJA, in.BodyEN)
	rule := in.rule(f)
	if err := s.checkMaintenanceComponents(tx, f, in.ComponentIDs); err != nil {
		return "", err
	}
	if len(f) == 0 {
		r, err := ParseSeriesRule(rule, in.FirstStartsAt, in.Location)
		var first time.Time
		if err == nil {
			first = r.After(in.FirstStartsAt.In(r.OrigOptions.Dtstart.Location()), true)
		}
		switch {
		case err != nil:
			f.add("freq", "invalid_choice")
		case first.IsZero():
			f.add("starts_at", "series_nothing_ahead")
		case r.After(s.now(), false).IsZero():
			// Nothing ahead: a series wholly in the past makes no window.
			f.add("starts_at", "series_nothing_ahead")
		default:
			// RFC 5545 counts DTSTART as the first occurrence even when the
			// rule does not hold it: the series starts at the rule's first
			// day on or after the date given (its time of day kept).
			in.FirstStartsAt = first.UTC()
		}
	}
	return rule, nil
}

func setSeriesComponents(tx *gorm.DB, id int64, ids []int64) error {
	if err := tx.Where("series_id = ?", id).Delete(&MaintenanceSeriesComponent{}).Error; err != nil {
		return err
	}
	seen := map[int64]bool{}
	var rows []MaintenanceSeriesComponent
	for _, c := range ids {
		if !seen[c] {
			seen[c] = true
			rows = append(rows, MaintenanceSeriesComponent{SeriesID: id, ComponentID: c})
		}
	}
	return tx.Create(&rows).Error
}

// CreateSeries saves a series and makes its first occurrences windows.
// With notify on, the first window is announced as any scheduled window
// is; each occurrence then has its own reminder, start and completion
// notices.
func (s *Store) CreateSeries(ctx context.Context, in SeriesInput, hold bool) (*MaintenanceSeries, error) {
	f := fieldErrors{}
	var ser MaintenanceSeries
	err := s.tx(ctx, func(tx *gorm.DB) error {
		rule, err := s.validateSeries(tx, f, &in)
		if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		ser = MaintenanceSeries{RRule: rule, FirstStartsAt: in.FirstStartsAt.UTC(), DurationSeconds: int64(in.Duration / time.Second),
			TitleJA: in.TitleJA, TitleEN: in.TitleEN, BodyJA: in.BodyJA, BodyEN: in.BodyEN, Notify: in.Notify,
			ReminderLeadSeconds: reminderSeconds(in.ReminderLead)}
		if err := tx.Select("*").Omit("id", "Components").Create(&ser).Error; err != nil {
			return err
		}
		if err := setSeriesComponents(tx, ser.ID, in.ComponentIDs); err != nil {
			return err
		}
		ser.Components = nil
		if err := tx.Where("series_id = ?", ser.ID).Find(&ser.Components).Error; err != nil {
			return err
		}
		_, err = s.materialize(tx, &ser, in.Location, in.OperatorID, true, hold)
		return err
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create series", err)
	}
	s.publicChanged()
	return &ser, nil
}

// materialize makes windows of the occurrences ahead (within SeriesHorizon,
// and at least the next one) that have none yet; a cancelled occurrence
// keeps its window, so it is never made again. announce sends the
// scheduled notice of the first window made, when the series notifies.
func (s *Store) materialize(tx *gorm.DB, ser *MaintenanceSeries, loc *time.Location, operatorID int64, announce, hold bool) (int, error) {
	if ser.EndedAt != nil {
		return 0, nil
	}
	r, err := ser.Rule(loc)
	if err != nil {
		return 0, fmt.Errorf("series %d: rule: %w", ser.ID, err)
	}
	now := s.now()
	times := r.Between(now, now.Add(SeriesHorizon), false)
	if len(times) == 0 {
		if next := r.After(now, false); !next.IsZero() {
			times = []time.Time{next}
		}
	}
	if len(times) > maxMaterialize {
		times = times[:maxMaterialize]
	}
	// A window edited through its own form is marked detached, so the
	// console says so and edits of the series leave it alone.
	var open []Maintenance
	if err := tx.Preload("Components").Where("series_id = ? AND status = ? AND detached = ?", ser.ID, Scheduled, false).Find(&open).Error; err != nil {
		return 0, err
	}
	for i := range open {
		if !ser.follows(&open[i]) {
			if err := tx.Model(&Maintenance{ID: open[i].ID}).Update("detached", true).Error; err != nil {
				return 0, err
			}
		}
	}
	var have []time.Time
	if err := tx.Model(&Maintenance{}).Where("series_id = ?", ser.ID).Pluck("occurrence_at", &have).Error; err != nil {
		return 0, err
	}
	made := 0
	for _, t := range times {
		t = t.UTC()
		if slices.ContainsFunc(have, func(h time.Time) bool { return h.Equal(t) }) {
			continue
		}
		occ := t
		m := Maintenance{TitleJA: ser.TitleJA, TitleEN: ser.TitleEN, Status: Scheduled, StartsAt: t, EndsAt: t.Add(ser.Duration()),
			ReminderLeadSeconds: ser.ReminderLeadSeconds, Notify: ser.Notify, SavedAt: &now, SeriesID: &ser.ID, OccurrenceAt: &occ}
		if err := tx.Select("*").Omit("id", "Components", "Updates").Create(&m).Error; err != nil {
			return made, err
		}
		if err := setMaintenanceComponents(tx, m.ID, ser.ComponentIDs()); err != nil {
			return made, err
		}
		u := MaintenanceUpdate{MaintenanceID: m.ID, Status: Scheduled, BodyJA: ser.BodyJA, BodyEN: ser.BodyEN}
		if operatorID != 0 {
			u.OperatorID = &operatorID
		}
		if err := tx.Create(&u).Error; err != nil {
			return made, err
		}
		if announce && made == 0 && ser.Notify {
			if err := s.queueMaintenanceNotice(tx, &m, &u, MaintenanceScheduled, hold); err != nil {
				return made, err
			}
		}
		made++
	}
	return made, nil
}

// MaterializeSeries makes the windows ahead of every running series, for
// the scheduled job; it reports how many it made.
func (s *Store) MaterializeSeries(ctx context.Context, loc *time.Location) (int, error) {
	var ids []int64
	if err := s.db.WithContext(ctx).Model(&MaintenanceSeries{}).Where("ended_at IS NULL").Order("id").Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("data: series: %w", err)
	}
	total := 0
	for _, id := range ids {
		err := s.tx(ctx, func(tx *gorm.DB) error {
			var ser MaintenanceSeries
			if err := tx.Preload("Components").First(&ser, id).Error; err != nil {
				return notFound(err)
			}
			n, err := s.materialize(tx, &ser, loc, 0, false, false)
			total += n
			return err
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return total, fmt.Errorf("data: materialize series %d: %w", id, err)
		}
	}
	if total > 0 {
		s.publicChanged()
	}
	return total, nil
}

// follows reports whether an occurrence still is what the series made of
// it: not edited on its own (Detached, or moved, renamed, given other
// components or another reminder through the window's own form).
func (ser *MaintenanceSeries) follows(m *Maintenance) bool {
	if m.Detached || m.OccurrenceAt == nil {
		return false
	}
	ids := m.ComponentIDs()
	slices.Sort(ids)
	return m.StartsAt.Equal(*m.OccurrenceAt) && m.EndsAt.Equal(m.OccurrenceAt.Add(ser.Duration())) &&
		m.TitleJA == ser.TitleJA && m.TitleEN == ser.TitleEN && m.ReminderLeadSeconds == ser.ReminderLeadSeconds &&
		slices.Equal(ids, ser.ComponentIDs())
}

// SeriesChange is what an edit of a series did to its windows.
type SeriesChange struct {
	Updated, Cancelled, Made, Detached int
}

// UpdateSeries changes a running series and its future windows that have
// not started and follow it; a window edited on its own is marked detached
// and left alone. Windows the new rule no longer holds are cancelled, with
// the notice when notice.Send; new ones are made.
func (s *Store) UpdateSeries(ctx context.Context, id int64, in SeriesInput, notice Notice) (*SeriesChange, error) {
	f := fieldErrors{}
	ch := &SeriesChange{}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var old MaintenanceSeries
		if err := tx.Preload("Components").First(&old, id).Error; err != nil {
			return notFound(err)
		}
		if old.EndedAt != nil {
			f.add("freq", "series_ended")
		}
		rule, err := s.validateSeries(tx, f, &in)
		if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		now := s.now()
		var future []Maintenance
		if err := tx.Preload("Components").Where("series_id = ? AND status = ? AND starts_at > ?", id, Scheduled, now).Order("starts_at").Find(&future).Error; err != nil {
			return err
		}
		ser := old
		ser.RRule, ser.FirstStartsAt, ser.DurationSeconds = rule, in.FirstStartsAt.UTC(), int64(in.Duration/time.Second)
		ser.TitleJA, ser.TitleEN, ser.BodyJA, ser.BodyEN = in.TitleJA, in.TitleEN, in.BodyJA, in.BodyEN
		ser.Notify, ser.ReminderLeadSeconds = in.Notify, reminderSeconds(in.ReminderLead)
		if err := tx.Model(&MaintenanceSeries{ID: id}).Updates(map[string]any{"rrule": ser.RRule, "first_starts_at": ser.FirstStartsAt,
			"duration_seconds": ser.DurationSeconds, "title_ja": ser.TitleJA, "title_en": ser.TitleEN, "body_ja": ser.BodyJA, "body_en": ser.BodyEN,
			"notify": ser.Notify, "reminder_lead_seconds": ser.ReminderLeadSeconds, "updated_at": now}).Error; err != nil {
			return err
		}
		if err := setSeriesComponents(tx, id, in.ComponentIDs); err != nil {
			return err
		}
		ser.Components = nil
		if err := tx.Where("series_id = ?", id).Find(&ser.Components).Error; err != nil {
			return err
		}
		r, err := ser.Rule(in.Location)
		if err != nil {
			return err
		}
		for i := range future {
			m := &future[i]
			if !old.follows(m) {
				if !m.Detached {
					if err := tx.Model(&Maintenance{ID: m.ID}).Update("detached", true).Error; err != nil {
						return err
					}
					ch.Detached++
				}
				continue
			}
			occ := m.OccurrenceAt.UTC()
			if kept := r.Between(occ, occ, true); len(kept) == 0 {
				u := NewMaintenanceUpdate{Status: Cancelled, BodyJA: seriesDroppedJA, BodyEN: seriesDroppedEN, OperatorID: in.OperatorID}
				if m.Notify {
					u.Notice = notice
				}
				if _, err := s.postMaintenanceUpdate(tx, m, u); err != nil {
					return err
				}
				ch.Cancelled++
				continue
			}
			fields := map[string]any{"title_ja": ser.TitleJA, "title_en": ser.TitleEN, "ends_at": occ.Add(ser.Duration()),
				"reminder_lead_seconds": ser.ReminderLeadSeconds, "notify": ser.Notify, "updated_at": now}
			if !m.EndsAt.Equal(occ.Add(ser.Duration())) {
				fields["sequence"] = m.Sequence + 1
				fields["saved_at"] = now
			}
			if m.ReminderLeadSeconds != ser.ReminderLeadSeconds {
				fields["reminder_sent_at"] = nil
			}
			if err := tx.Model(&Maintenance{ID: m.ID}).Updates(fields).Error; err != nil {
				return err
			}
			if err := setMaintenanceComponents(tx, m.ID, ser.ComponentIDs()); err != nil {
				return err
			}
			// The first message is the series' text.
			if err := tx.Model(&MaintenanceUpdate{}).Where("maintenance_id = ? AND status = ?", m.ID, Scheduled).
				Updates(map[string]any{"body_ja": ser.BodyJA, "body_en": ser.BodyEN, "updated_at": now}).Error; err != nil {
				return err
			}
			ch.Updated++
		}
		// When the rule moved the occurrences, the first new one is
		// announced as a new window would be, if asked.
		ch.Made, err = s.materialize(tx, &ser, in.Location, in.OperatorID, ch.Cancelled > 0 && notice.Send, notice.Hold)
		return err
	})
	if err != nil {
		return nil, wrapUnlessInvalid(fmt.Sprintf("update series %d", id), err)
	}
	s.publicChanged()
	return ch, nil
}

// Messages of windows a series' change or stop cancels.
const (
	seriesDroppedJA = "定期メンテナンスの予定が変更されたため、この回は実施いたしません。"
	seriesDroppedEN = "The recurring maintenance was rescheduled, so this occurrence will not take place."
	seriesStoppedJA = "定期メンテナンスを終了したため、この回は実施いたしません。"
	seriesStoppedEN = "The recurring maintenance has ended, so this occurrence will not take place."
)

// StopSeries ends a series: no window is made after it, and its windows
// that have not started are cancelled, each with its cancellation notice
// when notice.Send and the window notifies. A window under way goes on.
func (s *Store) StopSeries(ctx context.Context, id, operatorID int64, notice Notice) (int, error) {
	cancelled := 0
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var ser MaintenanceSeries
		if err := tx.First(&ser, id).Error; err != nil {
			return notFound(err)
		}
		if ser.EndedAt != nil {
			return (fieldErrors{"freq": "series_ended"}).err()
		}
		now := s.now()
		if err := tx.Model(&MaintenanceSeries{ID: id}).Updates(map[string]any{"ended_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		var future []Maintenance
		if err := tx.Where("series_id = ? AND status = ? AND starts_at > ?", id, Scheduled, now).Order("starts_at").Find(&future).Error; err != nil {
			return err
		}
		for i := range future {
			u := NewMaintenanceUpdate{Status: Cancelled, BodyJA: seriesStoppedJA, BodyEN: seriesStoppedEN, OperatorID: operatorID}
			if future[i].Notify {
				u.Notice = notice
			}
			if _, err := s.postMaintenanceUpdate(tx, &future[i], u); err != nil {
				return err
			}
			cancelled++
		}
		return nil
	})
	if err != nil {
		return 0, wrapUnlessInvalid(fmt.Sprintf("stop series %d", id), err)
	}
	s.publicChanged()
	return cancelled, nil
}

// DetachOccurrence marks a window edited on its own, so edits of its
// series leave it alone.
func (s *Store) DetachOccurrence(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Model(&Maintenance{}).Where("id = ? AND series_id IS NOT NULL", id).Update("detached", true)
	return rowsOrNotFound(res, "occurrence", id)
}

// Series returns one series with its components.
func (s *Store) Series(ctx context.Context, id int64) (*MaintenanceSeries, error) {
	var ser MaintenanceSeries
	if err := s.db.WithContext(ctx).Preload("Components").First(&ser, id).Error; err != nil {
		return nil, fmt.Errorf("data: series %d: %w", id, notFound(err))
	}
	return &ser, nil
}

// AllSeries lists the series, running first, newest first.
func (s *Store) AllSeries(ctx context.Context) ([]MaintenanceSeries, error) {
	var out []MaintenanceSeries
	err := s.db.WithContext(ctx).Preload("Components").Order("CASE WHEN ended_at IS NULL THEN 0 ELSE 1 END, id DESC").Limit(500).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("data: series: %w", err)
	}
	return out, nil
}

// SeriesByIDs returns the series of some windows, by id.
func (s *Store) SeriesByIDs(ctx context.Context, ids []int64) (map[int64]*MaintenanceSeries, error) {
	out := map[int64]*MaintenanceSeries{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []MaintenanceSeries
	if err := s.db.WithContext(ctx).Preload("Components").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("data: series: %w", err)
	}
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// SeriesOccurrences returns a series' windows, by occurrence.
func (s *Store) SeriesOccurrences(ctx context.Context, id int64) ([]Maintenance, error) {
	var ms []Maintenance
	err := preloadMaintenance(s.db.WithContext(ctx)).Where("series_id = ?", id).Order("occurrence_at, id").Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("data: series %d occurrences: %w", id, err)
	}
	return ms, nil
}
