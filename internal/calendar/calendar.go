// Package calendar writes maintenance windows and version upgrades as
// iCalendar (RFC 5545), for calendar subscriptions and email attachments.
package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/oshirase/oshirase/internal/markdown"
)

// Event is one maintenance window or upgrade.
type Event struct {
	// UID is stable for the life of the event: a reschedule updates the
	// event in calendars instead of adding a second one.
	UID string
	// Sequence rises with each reschedule or cancellation (RFC 5545 3.8.7.4).
	Sequence int
	Summary  string
	// Description is plain text, and Markdown what an operator wrote:
	// DESCRIPTION is TEXT (RFC 5545 3.8.1.5), which calendars show as
	// written, so the markdown is rendered to text and follows the
	// description after a blank line.
	Description string
	Markdown    string
	URL         string
	Start, End  time.Time
	Cancelled   bool
	Updated     time.Time

	// Zone, when set, writes the start, end, RECURRENCE-ID and EXDATE in
	// it (TZID, with its VTIMEZONE), so a rule's days are the zone's days.
	// Only a zone with one offset (FixedOffset) is written so.
	Zone *time.Location
	// RRule makes the event a recurring one (RFC 5545 3.8.5.3), ExDates
	// the occurrences it does not hold (skipped or cancelled).
	RRule   string
	ExDates []time.Time
	// RecurrenceID makes the event the override of one occurrence of the
	// recurring event with the same UID (RFC 5545 3.8.4.4).
	RecurrenceID time.Time
}

// FixedOffset reports whether a zone keeps one UTC offset (no summer
// time) over the coming years, so a VTIMEZONE of one STANDARD rule
// describes it exactly.
func FixedOffset(loc *time.Location) bool {
	if loc == nil {
		return false
	}
	_, first := time.Date(2020, 1, 1, 0, 0, 0, 0, loc).Zone()
	for m := 0; m < 12*12; m++ {
		if _, off := time.Date(2020, time.Month(1+m), 15, 0, 0, 0, 0, loc).Zone(); off != first {
			return false
		}
	}
	return true
}

const localLayout = "20060102T150405"

func offset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec%3600/60)
}

// zoned reports whether the event's times are written in its zone.
func (e Event) zoned() bool { return e.Zone != nil && FixedOffset(e.Zone) }

// description is the event's DESCRIPTION: the text, then the markdown as
// text.
func (e Event) description() string {
	md := markdown.PlainText(e.Markdown)
	switch {
	case md == "":
		return e.Description
	case strings.TrimSpace(e.Description) == "":
		return md
	}
	return strings.TrimRight(e.Description, "\n") + "\n\n" + md
}

// text makes a value safe for golang-ical, which escapes LF, comma,
// semicolon and backslash but writes a bare CR raw; a parser that ends
// lines at CR would then read what follows as a property of its own (an
// ATTACH of an attacker's URL, say). Every CR becomes a line break, which
// the library escapes as \n (RFC 5545 3.3.11).
func text(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// Write renders events as one VCALENDAR with METHOD:PUBLISH.
func Write(name string, events []Event) string {
	name = text(name)
	cal := ics.NewCalendarFor("Oshirase")
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(name)
	cal.SetXWRCalName(name)
	zones := map[string]bool{}
	for _, e := range events {
		if e.zoned() && !zones[e.Zone.String()] {
			zones[e.Zone.String()] = true
			tz := cal.AddTimezone(text(e.Zone.String()))
			name, off := time.Date(2020, 1, 1, 0, 0, 0, 0, e.Zone).Zone()
			st := tz.AddStandard()
			st.SetProperty(ics.ComponentPropertyDtStart, "19700101T000000")
			st.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), offset(off))
			st.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), offset(off))
			st.SetProperty(ics.ComponentProperty(ics.PropertyTzname), text(name))
		}
	}
	for _, e := range events {
		ev := cal.AddEvent(e.UID)
		ev.SetDtStampTime(e.Updated.UTC())
		ev.SetModifiedAt(e.Updated.UTC())
		if e.zoned() {
			tzid := ics.WithTZID(text(e.Zone.String()))
			ev.SetProperty(ics.ComponentPropertyDtStart, e.Start.In(e.Zone).Format(localLayout), tzid)
			ev.SetProperty(ics.ComponentPropertyDtEnd, e.End.In(e.Zone).Format(localLayout), tzid)
			if !e.RecurrenceID.IsZero() {
				ev.SetProperty(ics.ComponentPropertyRecurrenceId, e.RecurrenceID.In(e.Zone).Format(localLayout), tzid)
			}
			if e.RRule != "" {
				ev.AddRrule(text(e.RRule))
			}
			if len(e.ExDates) > 0 {
				ds := make([]string, len(e.ExDates))
				for i, d := range e.ExDates {
					ds[i] = d.In(e.Zone).Format(localLayout)
				}
				ev.AddExdate(strings.Join(ds, ","), tzid)
			}
		} else {
			ev.SetStartAt(e.Start.UTC())
			ev.SetEndAt(e.End.UTC())
			if !e.RecurrenceID.IsZero() {
				ev.SetProperty(ics.ComponentPropertyRecurrenceId, e.RecurrenceID.UTC().Format("20060102T150405Z"))
			}
		}
		ev.SetSummary(text(e.Summary))
		if d := e.description(); d != "" {
			ev.SetDescription(text(d))
		}
		if e.URL != "" {
			ev.SetURL(text(e.URL))
		}
		ev.SetProperty(ics.ComponentPropertySequence, strconv.Itoa(e.Sequence))
		if e.Cancelled {
			ev.SetStatus(ics.ObjectStatusCancelled)
		} else {
			ev.SetStatus(ics.ObjectStatusConfirmed)
		}
	}
	// RFC 5545 lines end in CRLF; the library defaults to LF.
	return cal.Serialize(ics.WithNewLineWindows)
}
