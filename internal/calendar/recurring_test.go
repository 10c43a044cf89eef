package calendar

import (
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"
)

// TestRecurringEventParsesAndExpands: a recurring event is written in its
// zone with a VTIMEZONE, RRULE and EXDATE, an override with RECURRENCE-ID;
// golang-ical reads it back and rrule-go expands it to the occurrences
// meant (Tuesdays at 02:00 in Tokyo, though that is Monday in UTC).
func TestRecurringEventParsesAndExpands(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 2, 0, 0, 0, tokyo)
	out := Write("Oshirase", []Event{
		{UID: "series-1@example.com", Summary: "毎週", Start: start, End: start.Add(time.Hour), Updated: start, Zone: tokyo,
			RRule: "FREQ=WEEKLY;BYDAY=TU;COUNT=4", ExDates: []time.Time{start.AddDate(0, 0, 14)}},
		{UID: "series-1@example.com", Summary: "延長", Start: start.AddDate(0, 0, 7).Add(time.Hour), End: start.AddDate(0, 0, 7).Add(3 * time.Hour),
			Updated: start, Zone: tokyo, RecurrenceID: start.AddDate(0, 0, 7)},
	})
	for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("a bare line break in %q", line)
		}
	}
	cal, err := ics.ParseCalendar(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	tz := cal.Timezones()
	if len(tz) != 1 || tz[0].GetProperty(ics.ComponentPropertyTzid).Value != "Asia/Tokyo" {
		t.Fatalf("VTIMEZONE: %s", out)
	}
	evs := cal.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	master := evs[0]
	dt := master.GetProperty(ics.ComponentPropertyDtStart)
	if dt.Value != "20261201T020000" || dt.ICalParameters["TZID"][0] != "Asia/Tokyo" {
		t.Fatalf("DTSTART %v", dt)
	}
	opt, err := rrule.StrToROption(master.GetProperty(ics.ComponentPropertyRrule).Value)
	if err != nil {
		t.Fatal(err)
	}
	opt.Dtstart = start
	r, _ := rrule.NewRRule(*opt)
	set := rrule.Set{}
	set.RRule(r)
	ex := master.GetProperty(ics.ComponentPropertyExdate)
	if ex.Value != "20261215T020000" {
		t.Fatalf("EXDATE %v", ex)
	}
	d, _ := time.ParseInLocation("20060102T150405", ex.Value, tokyo)
	set.ExDate(d)
	got := set.All()
	want := []time.Time{start, start.AddDate(0, 0, 7), start.AddDate(0, 0, 21)}
	if len(got) != len(want) {
		t.Fatalf("expands to %v", got)
	}
	for i := range want {
		if !got[i].Equal(want[i]) || got[i].In(tokyo).Weekday() != time.Tuesday {
			t.Errorf("occurrence %d: %s, want %s", i, got[i], want[i])
		}
	}
	o := evs[1]
	if o.Id() != master.Id() || o.GetProperty(ics.ComponentPropertyRecurrenceId).Value != "20261208T020000" ||
		o.GetProperty(ics.ComponentPropertyDtStart).Value != "20261208T030000" {
		t.Errorf("override: %s", out)
	}
}

// TestZoneWithSummerTimeIsWrittenInUTC: a zone with summer time is not
// described by one STANDARD rule, so its times stay UTC.
func TestZoneWithSummerTimeIsWrittenInUTC(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if FixedOffset(ny) || !FixedOffset(tokyo) || !FixedOffset(time.UTC) {
		t.Fatal("FixedOffset")
	}
	start := time.Date(2026, 12, 1, 2, 0, 0, 0, ny)
	out := Write("x", []Event{{UID: "a", Start: start, End: start.Add(time.Hour), Updated: start, Zone: ny}})
	if strings.Contains(out, "VTIMEZONE") || !strings.Contains(out, "DTSTART:20261201T070000Z") {
		t.Errorf("%s", out)
	}
}
