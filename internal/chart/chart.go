// Package chart draws response times as a small SVG line chart, on the
// server, so the public page stays cacheable bytes without script.
package chart

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// Point is the mean response time of a stretch, and whether checks failed
// in it.
type Point struct {
	At       time.Time
	MeanMS   int
	Failures int
}

// Size of the drawing, in its own units; CSS scales it to the width.
const (
	width  = 600
	height = 120
	top    = 8
	bottom = 18
)

// Latency draws points between from and to. label is the accessible name
// (read by screen readers instead of the drawing); axis labels name the two
// ends and the top of the scale.
func Latency(points []Point, from, to time.Time, label, fromLabel, toLabel string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="latency-chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width, height, html.EscapeString(label))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(label))
	span := to.Sub(from).Seconds()
	peak := 0
	for _, p := range points {
		peak = max(peak, p.MeanMS)
	}
	scale := niceCeil(peak)
	plot := float64(height - top - bottom)
	y := func(ms int) float64 { return float64(top) + plot*(1-float64(ms)/float64(scale)) }
	x := func(t time.Time) float64 {
		if span <= 0 {
			return 0
		}
		return float64(width) * t.Sub(from).Seconds() / span
	}
	// Grid: the top of the scale and its half.
	for _, ms := range []int{scale, scale / 2} {
		fmt.Fprintf(&b, `<line class="grid" x1="0" x2="%d" y1="%.1f" y2="%.1f"/>`, width, y(ms), y(ms))
	}
	fmt.Fprintf(&b, `<text class="axis" x="2" y="%.1f">%d ms</text>`, y(scale)+10, scale)
	var line []string
	for _, p := range points {
		if p.Failures > 0 {
			fmt.Fprintf(&b, `<rect class="fail" x="%.1f" y="%d" width="3" height="%.0f"/>`, x(p.At), top, plot)
		}
		if p.MeanMS > 0 || p.Failures == 0 {
			line = append(line, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.MeanMS)))
		}
	}
	if len(line) > 0 {
		fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(line, " "))
	}
	fmt.Fprintf(&b, `<text class="axis" x="2" y="%d">%s</text>`, height-4, html.EscapeString(fromLabel))
	fmt.Fprintf(&b, `<text class="axis end" x="%d" y="%d" text-anchor="end">%s</text>`, width-2, height-4, html.EscapeString(toLabel))
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds a peak up to 1, 2 or 5 times a power of ten (at least
// 10 ms), so the scale reads well.
func niceCeil(v int) int {
	if v < 10 {
		return 10
	}
	for p := 10; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}
