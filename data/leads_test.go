package data

import (
	"testing"
	"time"
)

func TestParseLeads(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []time.Duration
		ok   bool
	}{
		{"7d, 1d", []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}, true},
		{"3h、30m", []time.Duration{3 * time.Hour, 30 * time.Minute}, true},
		{"90d", []time.Duration{MaxLead}, true},
		{"", nil, true},
		{"91d", nil, false},
		{"2161h", nil, false},
		{"107000d", nil, false}, // would overflow time.Duration
		{"9223372036854775807m", nil, false},
		{"0d", nil, false},
		{"-1d", nil, false},
		{"7w", nil, false},
		{"d", nil, false},
		{"7日", nil, false},
	} {
		got, ok := ParseLeads(tc.in)
		if ok != tc.ok || len(got) != len(tc.want) {
			t.Errorf("ParseLeads(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ParseLeads(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}
