package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// FuzzFormParsers feeds arbitrary values to the form readers: they must
// never panic, and anything they accept must be well-formed.
func FuzzFormParsers(f *testing.F) {
	for _, s := range []string{"2026-11-26T09:00", "2026-13-45T99:99", "", "\xff", "7d, 1d", "1; DROP TABLE x", "99999999999999999999", "-1"} {
		f.Add(s)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	catalog := newCatalogView([]data.Product{{ID: 1, Components: []data.Component{{ID: 1}, {ID: 2}}}}, nil, nil)
	f.Fuzz(func(t *testing.T, v string) {
		fm := &form{Values: url.Values{"t": {v}, "n": {v}, "components": {v, "1"}, "component_1": {v}, "reminder": {v}}}
		// The range is in the zone the operator typed in, not in UTC.
		if tm := fm.timeField("t", tokyo, false); !tm.IsZero() && (tm.In(tokyo).Year() < 2000 || tm.In(tokyo).Year() > 2100) {
			t.Fatalf("accepted a time out of range: %v from %q", tm, v)
		}
		if id := fm.int64Field("n"); id < 0 {
			t.Fatalf("negative id %d", id)
		}
		for _, id := range fm.idsField("components") {
			if id <= 0 {
				t.Fatalf("component id %d from %q", id, v)
			}
		}
		for _, st := range fm.componentStatuses(catalog) {
			if !strings.Contains(strings.Join(data.ComponentStatuses, " "), st) {
				t.Fatalf("status %q accepted", st)
			}
		}
		fm.reminderLead()
		if leads, ok := data.ParseLeads(v); ok {
			for _, l := range leads {
				if l <= 0 {
					t.Fatalf("lead %v from %q", l, v)
				}
			}
		}
	})
}
