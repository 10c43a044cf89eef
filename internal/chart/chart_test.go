package chart

import (
	"encoding/xml"
	"sort"
	"strconv"
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

// TestLatencyIsLegibleAtAnyWidth: the chart is drawn in CSS pixels (no
// viewBox on the outer drawing, so text is never scaled down on a phone),
// its labels are at least 11 px, and the y axis reads 0, the middle and
// the top of the scale, each on a grid line.
func TestLatencyIsLegibleAtAnyWidth(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		peak  int
		ticks []string
	}{
		{120, []string{"0 ms", "100 ms", "200 ms"}},
		{340, []string{"0 ms", "250 ms", "500 ms"}},
		{4, []string{"0 ms", "5 ms", "10 ms"}},
		{1500, []string{"0 ms", "1000 ms", "2000 ms"}},
	} {
		svg := Latency([]Point{{At: from, MeanMS: c.peak / 2}, {At: from.Add(time.Hour), MeanMS: c.peak}}, from, from.Add(2*time.Hour), "x", "2時間前", "現在")
		var root struct {
			XMLName xml.Name
			ViewBox string `xml:"viewBox,attr"`
			Height  string `xml:"height,attr"`
			Texts   []struct {
				Class    string `xml:"class,attr"`
				FontSize string `xml:"font-size,attr"`
				Text     string `xml:",chardata"`
			} `xml:"text"`
			Lines []struct {
				Class string `xml:"class,attr"`
				Y1    string `xml:"y1,attr"`
			} `xml:"line"`
		}
		if err := xml.Unmarshal([]byte(svg), &root); err != nil {
			t.Fatalf("not XML: %v\n%s", err, svg)
		}
		if root.ViewBox != "" || root.Height == "" {
			t.Fatalf("outer drawing scales its text (viewBox %q, height %q):\n%s", root.ViewBox, root.Height, svg)
		}
		var ticks []string
		for _, tx := range root.Texts {
			if n, err := strconv.Atoi(tx.FontSize); err != nil || n < 11 {
				t.Errorf("text %q at font-size %q", tx.Text, tx.FontSize)
			}
			if strings.HasSuffix(tx.Text, " ms") {
				ticks = append(ticks, tx.Text)
			}
		}
		sort.Slice(ticks, func(i, j int) bool {
			return len(ticks[i]) < len(ticks[j]) || len(ticks[i]) == len(ticks[j]) && ticks[i] < ticks[j]
		})
		if strings.Join(ticks, ",") != strings.Join(c.ticks, ",") {
			t.Errorf("peak %d: ticks %v, want %v", c.peak, ticks, c.ticks)
		}
		grid := 0
		for _, l := range root.Lines {
			if l.Class == "grid" {
				grid++
			}
		}
		if grid != 3 {
			t.Errorf("peak %d: %d grid lines, want 3", c.peak, grid)
		}
	}
}
