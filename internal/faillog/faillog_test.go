package faillog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestAStretchIsThreeLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), "still down")
	l.Every, l.Quiet = 20*time.Millisecond, 10*time.Millisecond
	down := errors.New("database is down")
	cases := []struct {
		name  string
		do    func()
		lines int // lines logged so far
	}{
		{"first failure", func() { l.Fail("sweep failed", down) }, 1},
		{"many more at once", func() {
			for range 100 {
				l.Fail("sweep failed", down)
			}
		}, 1},
		{"a success too soon does not end it", func() { l.OK("back") }, 1},
		{"a summary after Every", func() { time.Sleep(25 * time.Millisecond); l.Fail("sweep failed", down) }, 2},
		{"quiet, then the end", func() { time.Sleep(15 * time.Millisecond); l.OK("back") }, 3},
		{"successes after the end say nothing", func() { l.OK("back") }, 3},
		{"a new stretch starts afresh", func() { l.Fail("sweep failed", down) }, 4},
	}
	for _, tc := range cases {
		tc.do()
		if got := strings.Count(buf.String(), "\n"); got != tc.lines {
			t.Fatalf("%s: %d lines, want %d:\n%s", tc.name, got, tc.lines, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "msg=\"still down\"") || !strings.Contains(buf.String(), "failures=102") {
		t.Fatalf("the summary does not sum up:\n%s", buf.String())
	}
}
