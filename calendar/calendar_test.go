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
