// Package upstream reads the status sources a component follows: another
// Statuspage-format page (/api/v2/summary.json or components.json, one of
// its components chosen by id or name) or an Atom/RSS status feed whose
// entries the operator's rules pick. Fetch sends conditional requests
// (If-None-Match, If-Modified-Since) through the caller's client (the
// outbound policy), bounded in time and size; Statuspage and Feed turn a
// body into a State in the Statuspage vocabulary.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
)

// Kinds of source.
const (
	KindStatuspage = "statuspage"
	KindFeed       = "feed"
)

// Statuses, in the Statuspage vocabulary (as data's).
const (
	Operational         = "operational"
	DegradedPerformance = "degraded_performance"
	PartialOutage       = "partial_outage"
	MajorOutage         = "major_outage"
	UnderMaintenance    = "under_maintenance"
)

// MaxBody bounds what is read of an answer.
const MaxBody = 2 << 20

// DefaultTimeout bounds a whole fetch when the context has no deadline.
const DefaultTimeout = 15 * time.Second

// State is what the upstream says now.
type State struct {
	// Status is one of the Statuspage component statuses.
	Status string
	// Detail is the upstream's own words (an incident's name), URL a link
	// to it; either may be empty.
	Detail, URL string
}

// Response is what one fetch brought back.
type Response struct {
	// NotModified: the upstream answered 304; Body is empty.
	NotModified        bool
	Body               []byte
	ETag, LastModified string
}

// Fetch gets url with the validators of the last answer. Anything but a
// 2xx or a 304 is an error, as is a body longer than MaxBody.
func Fetch(ctx context.Context, client *http.Client, url, etag, lastModified string) (*Response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "Oshirase-Upstream/1")
	req.Header.Set("Accept", "application/json, application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errors.New("timed out")
		}
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotModified {
		return &Response{NotModified: true, ETag: orElse(res.Header.Get("ETag"), etag), LastModified: orElse(res.Header.Get("Last-Modified"), lastModified)}, nil
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, fmt.Errorf("the upstream answered %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errors.New("timed out")
		}
		return nil, err
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("the answer is larger than %d MiB", MaxBody>>20)
	}
	return &Response{Body: body, ETag: res.Header.Get("ETag"), LastModified: res.Header.Get("Last-Modified")}, nil
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// summary is what summary.json and components.json hold (the parts read).
type summary struct {
	Page struct {
		URL string `json:"url"`
	} `json:"page"`
	Components []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"components"`
	Incidents []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		Shortlink  string `json:"shortlink"`
		Components []struct {
			ID string `json:"id"`
		} `json:"components"`
	} `json:"incidents"`
	ScheduledMaintenances []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		Shortlink  string `json:"shortlink"`
		Components []struct {
			ID string `json:"id"`
		} `json:"components"`
	} `json:"scheduled_maintenances"`
}

// Statuses are the statuses a Statuspage component may have.
var Statuses = []string{Operational, DegradedPerformance, PartialOutage, MajorOutage, UnderMaintenance}

// Statuspage reads a Statuspage-format summary.json or components.json
// and returns the status of the component match names: its id, or else
// its name (letter case and surrounding spaces ignored). An open incident
// (or a maintenance in progress) naming that component gives the detail
// and the link.
func Statuspage(body []byte, match string) (State, error) {
	var s summary
	if err := json.Unmarshal(body, &s); err != nil {
		return State{}, errors.New("the answer is not Statuspage-format JSON")
	}
	match = strings.TrimSpace(match)
	idx := -1
	for i, c := range s.Components {
		if c.ID == match {
			idx = i
			break
		}
	}
	if idx < 0 {
		for i, c := range s.Components {
			if strings.EqualFold(strings.TrimSpace(c.Name), match) {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		return State{}, fmt.Errorf("the upstream has no component %q (%d components listed)", clip(match, 100), len(s.Components))
	}
	c := s.Components[idx]
	st := State{Status: c.Status}
	if !oneOf(st.Status, Statuses) {
		return State{}, fmt.Errorf("the upstream gives the component an unknown status %q", clip(c.Status, 50))
	}
	if st.Status == Operational {
		return st, nil
	}
	for _, in := range s.Incidents {
		if in.Status == "resolved" || in.Status == "postmortem" {
			continue
		}
		for _, ic := range in.Components {
			if ic.ID == c.ID {
				return State{Status: st.Status, Detail: clip(in.Name, 300), URL: httpURL(in.Shortlink)}, nil
			}
		}
	}
	for _, m := range s.ScheduledMaintenances {
		if m.Status != "in_progress" && m.Status != "verifying" {
			continue
		}
		for _, mc := range m.Components {
			if mc.ID == c.ID {
				return State{Status: st.Status, Detail: clip(m.Name, 300), URL: httpURL(m.Shortlink)}, nil
			}
		}
	}
	return st, nil
}

// Rule picks feed entries: every word must appear (letter case ignored)
// in the entry's title or text, and a match puts the component in Status.
type Rule struct {
	Status string
	Words  []string
}

// Rules are a feed's rules, one a line:
//
//	major_outage: kintone 障害
//	partial_outage: kintone
//	resolved: 復旧, resolved, completed
//	recent: 24h
//
// The first rule an entry matches gives its status. "resolved" lists the
// words (comma separated) that mark an entry as settled (default:
// resolved, completed, 復旧, 解決, 完了); "recent" how long an entry
// counts (default 24h, from its update time). Lines starting with # are
// comments.
type Rules struct {
	Match    []Rule
	Resolved []string
	Recent   time.Duration
}

// DefaultResolved are the words that mark an entry as settled.
var DefaultResolved = []string{"resolved", "completed", "復旧", "解決", "完了"}

// ErrRules is wrapped by every error of ParseRules.
var ErrRules = errors.New("upstream: bad rules")

// ParseRules reads rules (see Rules).
func ParseRules(s string) (Rules, error) {
	r := Rules{Resolved: DefaultResolved, Recent: 24 * time.Hour}
	if !utf8.ValidString(s) || len(s) > 4000 {
		return r, fmt.Errorf("%w: not text", ErrRules)
	}
	for n, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if !ok || val == "" {
			return r, fmt.Errorf("%w: line %d is not \"status: words\"", ErrRules, n+1)
		}
		switch {
		case key == "resolved":
			r.Resolved = nil
			for _, w := range strings.Split(val, ",") {
				if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
					r.Resolved = append(r.Resolved, w)
				}
			}
		case key == "recent":
			d, err := time.ParseDuration(val)
			if err != nil || d < time.Hour || d > 30*24*time.Hour {
				return r, fmt.Errorf("%w: line %d: recent is between 1h and 720h", ErrRules, n+1)
			}
			r.Recent = d
		case oneOf(key, []string{DegradedPerformance, PartialOutage, MajorOutage, UnderMaintenance}):
			r.Match = append(r.Match, Rule{Status: key, Words: strings.Fields(strings.ToLower(val))})
		default:
			return r, fmt.Errorf("%w: line %d: unknown status %q", ErrRules, n+1, clip(key, 40))
		}
	}
	if len(r.Match) == 0 {
		return r, fmt.Errorf("%w: no rule names a status", ErrRules)
	}
	return r, nil
}

var tags = regexp.MustCompile(`<[^>]*>`)

// text is an entry's words without markup.
func text(s string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(s, " "))), " ")
}

// Feed reads an Atom or RSS feed and returns the worst status the rules
// give an entry updated within Recent of now and not settled: its latest
// words (the title, and the start of its text, where Statuspage-format
// feeds put the latest update) carry none of the resolved words. No such
// entry is operational.
func Feed(body []byte, rules Rules, now time.Time) (State, error) {
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return State{}, errors.New("the answer is not an Atom or RSS feed")
	}
	best := State{Status: Operational}
	for _, it := range f.Items {
		at := it.UpdatedParsed
		if at == nil {
			at = it.PublishedParsed
		}
		if at == nil || now.Sub(*at) > rules.Recent || at.After(now.Add(time.Hour)) {
			continue
		}
		body := text(it.Description + " " + it.Content)
		all := strings.ToLower(it.Title + " " + body)
		latest := strings.ToLower(it.Title + " " + clip(body, 200))
		settled := false
		for _, w := range rules.Resolved {
			if strings.Contains(latest, w) {
				settled = true
				break
			}
		}
		if settled {
			continue
		}
		for _, r := range rules.Match {
			hit := true
			for _, w := range r.Words {
				if !strings.Contains(all, w) {
					hit = false
					break
				}
			}
			if hit {
				if rank(r.Status) > rank(best.Status) {
					best = State{Status: r.Status, Detail: clip(text(it.Title), 300), URL: httpURL(it.Link)}
				}
				break
			}
		}
	}
	return best, nil
}

func rank(s string) int {
	switch s {
	case UnderMaintenance:
		return 1
	case DegradedPerformance:
		return 2
	case PartialOutage:
		return 3
	case MajorOutage:
		return 4
	}
	return 0
}

// httpURL keeps a link only if it is http(s): the page shows it.
func httpURL(s string) string {
	s = strings.TrimSpace(s)
	if (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && len(s) <= 2000 && !strings.ContainsAny(s, " \t\r\n\"<>") {
		return s
	}
	return ""
}

func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if v == s {
			return true
		}
	}
	return false
}
