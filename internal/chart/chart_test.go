package chart

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 10}, {7, 10}, {10, 10}, {11, 20}, {120, 200}, {201, 500}, {501, 1000}, {4999, 5000}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestLatencyIsWellFormedSVG: the drawing parses as XML, names itself for
// screen readers, draws a point per stretch with a mean and marks the
// stretches with failures; hostile labels are escaped.
func TestLatencyIsWellFormedSVG(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	pts := []Point{{At: from, MeanMS: 120}, {At: from.Add(time.Hour), MeanMS: 340, Failures: 1}, {At: from.Add(2 * time.Hour), MeanMS: 0, Failures: 3}}
	svg := Latency(pts, from, from.Add(24*time.Hour), `応答時間 <script>"x"</script>`, "24時間前", "現在")
	if err := xml.Unmarshal([]byte(svg), new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("not XML: %v\n%s", err, svg)
	}
	for _, want := range []string{`role="img"`, `aria-label="応答時間 &lt;script&gt;`, `500 ms`, `class="fail"`, `>24時間前<`, `>現在<`} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %q in\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "<script>") {
		t.Fatal("a label reached the SVG unescaped")
	}
	if n := strings.Count(svg, `class="fail"`); n != 2 {
		t.Errorf("%d failure marks, want 2", n)
	}
	line := svg[strings.Index(svg, `points="`)+8:]
	line = line[:strings.Index(line, `"`)]
	if n := len(strings.Fields(line)); n != 2 {
		t.Errorf("%d points on the line, want 2 (a stretch of only failures has no mean)", n)
	}
	if empty := Latency(nil, from, from.Add(time.Hour), "x", "a", "b"); strings.Contains(empty, "polyline") {
		t.Error("no points drew a line")
	}
}
