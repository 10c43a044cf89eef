package accesslog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oshirase/oshirase/data"
)

// Filter picks entries for an investigation. Zero fields match anything.
type Filter struct {
	From, To time.Time // [From, To)
	// Path matches the logged path exactly or as a prefix ("/incidents/").
	Path string
	// Status is a code ("404") or a class ("5xx").
	Status string
	// IP is an address or a network ("203.0.113.0/24").
	IP string
}

type matcher struct {
	Filter
	code, class int
	prefix      netip.Prefix
}

func (f Filter) compile() (*matcher, error) {
	m := &matcher{Filter: f}
	if !f.To.After(f.From) {
		return nil, fmt.Errorf("--to must be after --from")
	}
	switch s := strings.ToLower(f.Status); {
	case s == "":
	case len(s) == 3 && strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '5':
		m.class = int(s[0] - '0')
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("--status %q is neither a status code (404) nor a class (5xx)", f.Status)
		}
		m.code = n
	}
	if f.IP != "" {
		p, err := netip.ParsePrefix(f.IP)
		if err != nil {
			a, aerr := netip.ParseAddr(f.IP)
			if aerr != nil {
				return nil, fmt.Errorf("--ip %q is neither an address nor a network", f.IP)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		m.prefix = p.Masked()
	}
	return m, nil
}

func (m *matcher) match(e *Entry) bool {
	if e.At.Before(m.From) || !e.At.Before(m.To) {
		return false
	}
	if m.Path != "" && e.Path != m.Path && !strings.HasPrefix(e.Path, m.Path) {
		return false
	}
	if (m.code != 0 && e.Status != m.code) || (m.class != 0 && e.Status/100 != m.class) {
		return false
	}
	if m.prefix.IsValid() {
		a, err := netip.ParseAddr(e.IP)
		if err != nil || !m.prefix.Contains(a.Unmap()) {
			return false
		}
	}
	return true
}

// SearchResult says what a search read.
type SearchResult struct {
	Files, Matched, Bad int
}

// Search writes the entries in dir that match f to out as JSON lines, day
// by day, each day's entries of every instance in time order.
func Search(dir string, loc *time.Location, f Filter, out io.Writer) (SearchResult, error) {
	var res SearchResult
	m, err := f.compile()
	if err != nil {
		return res, err
	}
	files, err := List(dir)
	if err != nil {
		return res, err
	}
	// A day's file may hold an entry stamped just before its midnight.
	first := f.From.In(loc).AddDate(0, 0, -1).Format(DayLayout)
	last := f.To.In(loc).Format(DayLayout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var day []Entry
	flush := func() error {
		sortByTime(day)
		for i := range day {
			if err := enc.Encode(&day[i]); err != nil {
				return err
			}
		}
		res.Matched += len(day)
		day = day[:0]
		return nil
	}
	for i, file := range files {
		if file.Day < first || file.Day > last {
			continue
		}
		res.Files++
		bad, err := Read(file.Path, func(e Entry) error {
			if m.match(&e) {
				day = append(day, e)
			}
			return nil
		})
		res.Bad += bad
		if err != nil {
			return res, fmt.Errorf("%s: %w", file.Path, err)
		}
		if i+1 == len(files) || files[i+1].Day != file.Day {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

// sortByTime orders a day's entries of all instances; each instance's are
// already in order, and equal times keep it.
func sortByTime(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int { return a.At.Compare(b.At) })
}

// Rebuild recounts usage from every file in dir and replaces the counters
// of the days before today with the recount. Today is left to the running
// instances, whose counters for the entries already written are still on
// their way to the database.
func Rebuild(ctx context.Context, dir string, loc *time.Location, today string, replace func(context.Context, []string, *data.Usage) error) (days []string, requests int64, bad int, err error) {
	files, err := List(dir)
	if err != nil {
		return nil, 0, 0, err
	}
	u := data.NewUsage()
	for _, file := range files {
		b, err := Read(file.Path, func(e Entry) error {
			if k := Key(e, loc); k.Day < today {
				u.Add(k, e.Bytes, e.Visitor)
			}
			return nil
		})
		bad += b
		if err != nil {
			return nil, 0, bad, fmt.Errorf("%s: %w", file.Path, err)
		}
	}
	// Every day a file names is recounted, even one that turned out empty.
	days = u.Days()
	for _, f := range files {
		if f.Day < today {
			days = append(days, f.Day)
		}
	}
	slices.Sort(days)
	days = slices.Compact(days)
	if err := replace(ctx, days, u); err != nil {
		return nil, 0, bad, err
	}
	return days, u.Requests(), bad, nil
}
