// Package calendar writes maintenance windows and version upgrades as
// iCalendar (RFC 5545), for calendar subscriptions and email attachments.
package calendar

import (
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
}

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
	for _, e := range events {
		ev := cal.AddEvent(e.UID)
		ev.SetDtStampTime(e.Updated.UTC())
		ev.SetModifiedAt(e.Updated.UTC())
		ev.SetStartAt(e.Start.UTC())
		ev.SetEndAt(e.End.UTC())
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
