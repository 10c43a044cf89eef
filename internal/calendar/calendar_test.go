package calendar

import (
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

func TestWriteParses(t *testing.T) {
	start := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	out := Write("Oshirase", []Event{
		{UID: "maintenance-1@status.example.com", Sequence: 2, Summary: "定期メンテナンス, 作業; 中\nです", Description: "長い説明",
			URL: "https://status.example.com/maintenance/1", Start: start, End: start.Add(2 * time.Hour), Updated: start.Add(-time.Hour)},
		{UID: "upgrade-3@status.example.com", Summary: "krewDashboard 3.2.0", Start: start, End: start.Add(time.Hour), Cancelled: true, Updated: start},
	})
	cal, err := ics.ParseCalendar(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	evs := cal.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e.Id() != "maintenance-1@status.example.com" || e.GetProperty(ics.ComponentPropertySequence).Value != "2" {
		t.Fatalf("uid/sequence %q", out)
	}
	if got := e.GetProperty(ics.ComponentPropertySummary).Value; got != "定期メンテナンス, 作業; 中\nです" {
		t.Fatalf("summary round trip %q", got)
	}
	if st, _ := e.GetStartAt(); !st.Equal(start) {
		t.Fatalf("start %v", st)
	}
	if evs[1].GetProperty(ics.ComponentPropertyStatus).Value != "CANCELLED" {
		t.Fatal("cancelled event not marked")
	}
	for _, line := range strings.Split(out, "\r\n") {
		if len(line) > 75 {
			t.Fatalf("line not folded: %q", line)
		}
	}
}

// TestBareCarriageReturnCannotInjectProperties: a CR in a body is escaped,
// not written raw, so no parser sees it as a line end starting a property.
func TestBareCarriageReturnCannotInjectProperties(t *testing.T) {
	start := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	for _, evil := range []string{"作業です。\rATTACH:https://attacker.example/x.ics", "a\r\nATTACH:https://attacker.example/y", "b\n\rX-EVIL:1"} {
		out := Write("Oshirase\rX-NAME:evil", []Event{{UID: "m-1@status.example.com", Summary: "件名\rORGANIZER:mailto:evil@attacker.example",
			Description: evil, Start: start, End: start.Add(time.Hour), Updated: start}})
		// Every CR is part of a CRLF line end; after unfolding, no line
		// starts a property the event did not set.
		if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\r") {
			t.Fatalf("a bare CR was written:\n%q", out)
		}
		for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n ", ""), "\r\n") {
			for _, bad := range []string{"ATTACH", "X-EVIL", "ORGANIZER", "X-NAME"} {
				if strings.HasPrefix(line, bad) {
					t.Fatalf("injected property %q:\n%s", line, out)
				}
			}
		}
		cal, err := ics.ParseCalendar(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if d := cal.Events()[0].GetProperty(ics.ComponentPropertyDescription); d == nil || !strings.Contains(d.Value, "attacker.example") && !strings.Contains(d.Value, "X-EVIL") {
			t.Fatalf("the description lost its text: %+v", d)
		}
	}
}

// TestMarkdownIsWrittenAsText: DESCRIPTION is plain text (RFC 5545
// 3.8.1.5), so an operator's markdown reaches calendars without its marks,
// after the event's own text.
func TestMarkdownIsWrittenAsText(t *testing.T) {
	start := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		desc, md, want string
	}{
		{"対象: 共通基盤 / アカウント・ログイン", "作業中は、**最大5分程度**、[管理画面](https://example.com/a)に接続できません。\n\n- 対象: `sign-in`",
			"対象: 共通基盤 / アカウント・ログイン\n\n作業中は、最大5分程度、管理画面 (https://example.com/a)に接続できません。\n\n- 対象: sign-in"},
		{"", "**only** markdown", "only markdown"},
		{"only text, **as written**", "", "only text, **as written**"},
		{"text", "<div>raw HTML only</div>", "text"},
	} {
		out := Write("Oshirase", []Event{{UID: "m-1@status.example.com", Summary: "作業", Description: c.desc, Markdown: c.md,
			Start: start, End: start.Add(time.Hour), Updated: start}})
		cal, err := ics.ParseCalendar(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if d := cal.Events()[0].GetProperty(ics.ComponentPropertyDescription); d == nil || d.Value != c.want {
			t.Errorf("%q + %q: description %+v, want %q", c.desc, c.md, d, c.want)
		}
	}
	// A CR in markdown cannot start a property either.
	out := Write("Oshirase", []Event{{UID: "m-1@status.example.com", Summary: "作業", Markdown: "**a**\rATTACH:https://attacker.example/x",
		Start: start, End: start.Add(time.Hour), Updated: start}})
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n ", ""), "\r\n") {
		if strings.HasPrefix(line, "ATTACH") {
			t.Fatalf("injected property %q:\n%s", line, out)
		}
	}
}
