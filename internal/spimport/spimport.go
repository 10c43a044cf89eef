// Package spimport reads a page in the Statuspage v2 JSON format
// (summary.json, components.json, incidents.json,
// scheduled-maintenances.json — files, or fetched from a page's
// /api/v2/) and maps it onto Oshirase's vocabulary as a data.HistoryImport.
//
// Mapping:
//
//	component group                  → product (ungrouped components: a product named after the page)
//	component                        → component of that product, its status as is
//	impact none/minor/major/critical → the same impact
//	impact "maintenance" or scheduled_for set → a maintenance window
//	incident status investigating/identified/monitoring/resolved → the same; postmortem → resolved
//	maintenance status scheduled/in_progress/verifying/completed → the same
//	update display_at (else created_at) → the update's time; affected_components → its components
//
// An update without affected_components keeps the previous update's
// components (the first: the incident's components, in the status its
// impact suggests). Components the page no longer lists are left out.
package spimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

// MaxDocument bounds one JSON document.
const MaxDocument = 32 << 20

// Options says how to read the text of a page.
type Options struct {
	// Lang is the language the page is written in: "ja" (default) fills
	// the Japanese texts only; "en" fills both, as Japanese is required.
	Lang string
	// Source overrides the source name (default: the page's URL, else id).
	Source string
}

type document struct {
	Page *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"page"`
	Components            *[]component `json:"components"`
	Incidents             *[]incident  `json:"incidents"`
	ScheduledMaintenances *[]incident  `json:"scheduled_maintenances"`
}

type component struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Status      string   `json:"status"`
	Description *string  `json:"description"`
	Position    int      `json:"position"`
	GroupID     *string  `json:"group_id"`
	Group       bool     `json:"group"`
	Components  []string `json:"components"`
}

type affected struct {
	Code      string `json:"code"`
	NewStatus string `json:"new_status"`
}

type update struct {
	ID                 string      `json:"id"`
	Status             string      `json:"status"`
	Body               string      `json:"body"`
	CreatedAt          string      `json:"created_at"`
	DisplayAt          string      `json:"display_at"`
	AffectedComponents *[]affected `json:"affected_components"`
}

type incident struct {
	ID              string      `json:"id"`
	Name            string      `json:"name"`
	Status          string      `json:"status"`
	Impact          string      `json:"impact"`
	CreatedAt       string      `json:"created_at"`
	StartedAt       string      `json:"started_at"`
	ResolvedAt      *string     `json:"resolved_at"`
	ScheduledFor    *string     `json:"scheduled_for"`
	ScheduledUntil  *string     `json:"scheduled_until"`
	IncidentUpdates []update    `json:"incident_updates"`
	Components      []component `json:"components"`
}

// Error is a document that cannot be read, named.
type Error struct {
	Doc string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Doc, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// ErrNotStatuspage: valid JSON, but nothing of a Statuspage page in it.
var ErrNotStatuspage = errors.New("not a Statuspage-format document (no page, components, incidents or scheduled_maintenances)")

// Reader collects documents, then maps them.
type Reader struct {
	opts      Options
	pageID    string
	pageName  string
	pageURL   string
	comps     map[string]component
	compOrder []string
	incs      map[string]incident
	incOrder  []string
}

// NewReader starts an empty reader.
func NewReader(opts Options) *Reader {
	if opts.Lang != "en" {
		opts.Lang = "ja"
	}
	return &Reader{opts: opts, comps: map[string]component{}, incs: map[string]incident{}}
}

// Add reads one document; name says which, in errors.
func (r *Reader) Add(name string, raw []byte) error {
	if len(raw) > MaxDocument {
		return &Error{name, fmt.Errorf("larger than %d MiB", MaxDocument>>20)}
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	var d document
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		return &Error{name, fmt.Errorf("not valid JSON: %v", err)}
	}
	if d.Page == nil && d.Components == nil && d.Incidents == nil && d.ScheduledMaintenances == nil {
		return &Error{name, ErrNotStatuspage}
	}
	if d.Page != nil {
		if r.pageID != "" && d.Page.ID != "" && d.Page.ID != r.pageID {
			return &Error{name, fmt.Errorf("is page %q, the others page %q", d.Page.ID, r.pageID)}
		}
		if d.Page.ID != "" {
			r.pageID = d.Page.ID
		}
		if d.Page.Name != "" {
			r.pageName = d.Page.Name
		}
		if d.Page.URL != "" {
			r.pageURL = d.Page.URL
		}
	}
	if d.Components != nil {
		for _, c := range *d.Components {
			r.addComponent(c, true)
		}
	}
	for _, list := range []*[]incident{d.Incidents, d.ScheduledMaintenances} {
		if list == nil {
			continue
		}
		for _, i := range *list {
			if old, ok := r.incs[i.ID]; ok {
				// summary.json lists the unresolved ones, incidents.json
				// the same with every update: keep the fuller one.
				if len(i.IncidentUpdates) < len(old.IncidentUpdates) {
					continue
				}
			} else {
				r.incOrder = append(r.incOrder, i.ID)
			}
			r.incs[i.ID] = i
			for _, c := range i.Components {
				r.addComponent(c, false)
			}
		}
	}
	return nil
}

func (r *Reader) addComponent(c component, authoritative bool) {
	if _, ok := r.comps[c.ID]; ok && !authoritative {
		return
	}
	if _, ok := r.comps[c.ID]; !ok {
		r.compOrder = append(r.compOrder, c.ID)
	}
	r.comps[c.ID] = c
}

func (r *Reader) text(s string) (ja, en string) {
	s = strings.TrimSpace(s)
	if r.opts.Lang == "en" {
		return s, s
	}
	return s, ""
}

// pageGroup is the product ungrouped components go to.
const pageGroup = "_page"

// Source is the name reruns are recognised by.
func (r *Reader) Source() string {
	switch {
	case r.opts.Source != "":
		return r.opts.Source
	case r.pageURL != "":
		return "statuspage:" + strings.TrimSuffix(r.pageURL, "/")
	case r.pageID != "":
		return "statuspage:" + r.pageID
	}
	return ""
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// timeOf reads a time the mapping needs; a bad one becomes a problem.
func (r *Reader) timeOf(ps *data.ImportProblems, where, field string, vals ...string) time.Time {
	for _, v := range vals {
		if t, ok := parseTime(v); ok {
			return t
		} else if v != "" {
			*ps = append(*ps, data.ImportProblem{Where: where, Field: field, Reason: "bad_time"})
			return time.Time{}
		}
	}
	return time.Time{}
}

var incidentStatus = map[string]string{"investigating": data.Investigating, "identified": data.Identified, "monitoring": data.Monitoring,
	"resolved": data.Resolved, "postmortem": data.Resolved}

var maintenanceStatus = map[string]string{"scheduled": data.Scheduled, "in_progress": data.InProgress, "verifying": data.Verifying,
	"completed": data.Completed, "cancelled": data.Cancelled}

// impactStatus is what an impact puts a component in when the source
// names no status.
var impactStatus = map[string]string{"none": data.DegradedPerformance, "minor": data.DegradedPerformance, "major": data.PartialOutage,
	"critical": data.MajorOutage}

func mapped(m map[string]string, v string) string {
	if s, ok := m[v]; ok {
		return s
	}
	return v // left for validation to name
}

// Import maps what was read. It fails with data.ImportProblems when
// something cannot be mapped; Validate of the result is run too.
func (r *Reader) Import() (*data.HistoryImport, error) {
	out := &data.HistoryImport{Source: r.Source()}
	var ps data.ImportProblems
	groups := map[string]bool{}
	var ungrouped bool
	for _, id := range r.compOrder {
		c := r.comps[id]
		if c.Group {
			groups[id] = true
		}
	}
	for _, id := range r.compOrder {
		c := r.comps[id]
		desc := ""
		if c.Description != nil {
			desc = *c.Description
		}
		nja, nen := r.text(c.Name)
		dja, den := r.text(desc)
		if c.Group {
			out.Groups = append(out.Groups, data.ImportGroup{ExternalID: c.ID, NameJA: nja, NameEN: nen, DescJA: dja, DescEN: den})
			continue
		}
		g := pageGroup
		if c.GroupID != nil && groups[*c.GroupID] {
			g = *c.GroupID
		} else {
			ungrouped = true
		}
		out.Components = append(out.Components, data.ImportComponent{ExternalID: c.ID, GroupID: g, NameJA: nja, NameEN: nen,
			DescJA: dja, DescEN: den, Status: c.Status})
	}
	if ungrouped {
		name := r.pageName
		if name == "" {
			name = "Statuspage"
		}
		nja, nen := r.text(name)
		out.Groups = append(out.Groups, data.ImportGroup{ExternalID: pageGroup, NameJA: nja, NameEN: nen})
	}
	known := func(code string) bool {
		c, ok := r.comps[code]
		return ok && !c.Group
	}
	for _, id := range r.incOrder {
		i := r.incs[id]
		where := "incident " + i.ID
		maint := i.Impact == "maintenance" || i.ScheduledFor != nil
		// Updates come newest first: the timeline is built oldest first.
		ups := slices.Clone(i.IncidentUpdates)
		slices.Reverse(ups)
		var timeline []data.ImportUpdate
		var prev map[string]string
		for k, u := range ups {
			uw := where + " update " + u.ID
			at := r.timeOf(&ps, uw, "display_at", u.DisplayAt, u.CreatedAt)
			st := mapped(incidentStatus, u.Status)
			if maint {
				st = mapped(maintenanceStatus, u.Status)
			}
			comps := map[string]string{}
			switch {
			case u.AffectedComponents != nil && len(*u.AffectedComponents) > 0:
				for _, a := range *u.AffectedComponents {
					if known(a.Code) {
						comps[a.Code] = a.NewStatus
					}
				}
			case k == 0:
				for _, c := range i.Components {
					if known(c.ID) {
						comps[c.ID] = impactStatus[i.Impact]
						if comps[c.ID] == "" {
							comps[c.ID] = data.DegradedPerformance
						}
					}
				}
			default:
				for c, s := range prev {
					comps[c] = s
				}
			}
			prev = comps
			body := strings.TrimSpace(u.Body)
			if body == "" {
				body = u.Status
			}
			bja, ben := r.text(body)
			timeline = append(timeline, data.ImportUpdate{ExternalID: u.ID, Status: st, BodyJA: bja, BodyEN: ben, At: at, Components: comps})
		}
		tja, ten := r.text(i.Name)
		if maint {
			m := data.ImportMaintenance{ExternalID: i.ID, TitleJA: tja, TitleEN: ten, Status: mapped(maintenanceStatus, i.Status), Updates: timeline}
			if i.ScheduledFor != nil {
				m.StartsAt = r.timeOf(&ps, where, "scheduled_for", *i.ScheduledFor)
			}
			if i.ScheduledUntil != nil {
				m.EndsAt = r.timeOf(&ps, where, "scheduled_until", *i.ScheduledUntil)
			}
			for k := range m.Updates {
				m.Updates[k].Components = nil
			}
			for _, c := range i.Components {
				if known(c.ID) {
					m.ComponentIDs = append(m.ComponentIDs, c.ID)
				}
			}
			for _, u := range timeline {
				switch u.Status {
				case data.InProgress:
					if m.StartedAt == nil {
						t := u.At
						m.StartedAt = &t
					}
				case data.Completed:
					t := u.At
					m.CompletedAt = &t
				}
			}
			out.Maintenances = append(out.Maintenances, m)
			continue
		}
		inc := data.ImportIncident{ExternalID: i.ID, TitleJA: tja, TitleEN: ten, Impact: i.Impact, Status: mapped(incidentStatus, i.Status), Updates: timeline}
		inc.StartedAt = r.timeOf(&ps, where, "started_at", i.StartedAt, i.CreatedAt)
		if len(timeline) > 0 && (inc.StartedAt.IsZero() || timeline[0].At.Before(inc.StartedAt)) {
			inc.StartedAt = timeline[0].At
		}
		if i.ResolvedAt != nil && inc.Status == data.Resolved {
			t := r.timeOf(&ps, where, "resolved_at", *i.ResolvedAt)
			if !t.IsZero() {
				inc.ResolvedAt = &t
			}
		}
		out.Incidents = append(out.Incidents, inc)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// Documents are the JSON documents fetched from a page, in order.
var Documents = []string{"summary.json", "incidents.json", "scheduled-maintenances.json"}

// APIBase turns what an operator typed (the page, its /api/v2/ or one of
// its documents) into the page's /api/v2/ address.
func APIBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("not a page address: %q", raw)
	}
	u.RawQuery, u.Fragment = "", ""
	p := u.Path
	if i := strings.Index(p, "/api/v2"); i >= 0 {
		p = p[:i]
	}
	u.Path = strings.TrimSuffix(p, "/") + "/api/v2/"
	return u.String(), nil
}

// Fetch reads a page's documents over the outbound policy: https only
// (unless the policy allows http), no private address unless opened,
// each redirect checked. A missing incidents or maintenance document is
// not an error (summary.json is required).
func Fetch(ctx context.Context, oc *outbound.Client, page string, r *Reader) error {
	base, err := APIBase(page)
	if err != nil {
		return err
	}
	if err := oc.CheckURL(base); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	hc := oc.Checker(nil, true)
	for i, name := range Documents {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+name, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "Oshirase-import/1")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", base+name, err)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocument+1))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", base+name, err)
		}
		if resp.StatusCode == http.StatusNotFound && i > 0 {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: answered %d", base+name, resp.StatusCode)
		}
		if err := r.Add(base+name, raw); err != nil {
			return err
		}
	}
	return nil
}
