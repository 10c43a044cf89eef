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

// Size of the drawing in CSS pixels: the outer drawing has no viewBox, so
// its text is drawn at its own size however wide the chart is (a scaled
// 600-unit drawing shrank 11 px labels to 6 px on a phone). Only the data
// sit in an inner drawing that stretches to the width.
const (
	width    = 600 // units across the inner drawing
	height   = 140
	top      = 16 // room for the top tick's label above its line
	bottom   = 20 // room for the range's ends below the plot
	fontSize = 12
)

// Latency draws points between from and to. label is the accessible name
// (read by screen readers instead of the drawing); axis labels name the two
// ends and 0, the middle and the top of the scale.
func Latency(points []Point, from, to time.Time, label, fromLabel, toLabel string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="latency-chart" width="100%%" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		height, html.EscapeString(label))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(label))
	span := to.Sub(from).Seconds()
	peak := 0
	for _, p := range points {
		peak = max(peak, p.MeanMS)
	}
	scale := niceCeil(peak)
	plot := float64(height - top - bottom)
	// y is in the inner drawing, whose units are pixels down from top.
	y := func(ms int) float64 { return plot * (1 - float64(ms)/float64(scale)) }
	x := func(t time.Time) float64 {
		if span <= 0 {
			return 0
		}
		return float64(width) * t.Sub(from).Seconds() / span
	}
	// Grid and ticks: 0, half and the top of the scale, each label just
	// above its line.
	for _, ms := range []int{scale, scale / 2, 0} {
		at := float64(top) + y(ms)
		fmt.Fprintf(&b, `<line class="grid" x1="0" x2="100%%" y1="%.1f" y2="%.1f"/>`, at, at)
		fmt.Fprintf(&b, `<text class="axis" x="2" y="%.1f" font-size="%d">%d ms</text>`, at-4, fontSize, ms)
	}
	fmt.Fprintf(&b, `<svg class="plot" x="0" y="%d" width="100%%" height="%.0f" viewBox="0 0 %d %.0f" preserveAspectRatio="none" overflow="visible">`,
		top, plot, width, plot)
	var line []string
	for _, p := range points {
		if p.Failures > 0 {
			fmt.Fprintf(&b, `<rect class="fail" x="%.1f" y="0" width="3" height="%.0f"/>`, x(p.At), plot)
		}
		if p.MeanMS > 0 || p.Failures == 0 {
			line = append(line, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.MeanMS)))
		}
	}
	if len(line) > 0 {
		fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(line, " "))
	}
	b.WriteString(`</svg>`)
	fmt.Fprintf(&b, `<text class="axis" x="2" y="%d" font-size="%d">%s</text>`, height-5, fontSize, html.EscapeString(fromLabel))
	fmt.Fprintf(&b, `<text class="axis end" x="100%%" dx="-2" y="%d" font-size="%d" text-anchor="end">%s</text>`, height-5, fontSize, html.EscapeString(toLabel))
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
