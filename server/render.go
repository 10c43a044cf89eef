package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/static"
	"github.com/oshirase/oshirase/templates"
)

// renderer holds one template set per page, each parsed with the layout and
// the partials, so that every page can define "title" and "content".
// renderer parses each page's template set (the page with the layout and
// partials) when it is first used: every set is checked at start, but a
// public instance only ever keeps the dozen it serves, not the console's
// sixty (about 200 KB each).
type renderer struct {
	files map[string]string // page name → file
	mu    sync.RWMutex
	sets  map[string]*template.Template
}

func parseSet(file string) (*template.Template, error) {
	return template.New("layout.html").Funcs(funcs).ParseFS(templates.FS, "layout.html", "partials/*.html", file)
}

// set returns a page's parsed templates, parsing them on first use.
func (r *renderer) set(name string) (*template.Template, error) {
	r.mu.RLock()
	t, ok := r.sets[name]
	r.mu.RUnlock()
	if ok {
		return t, nil
	}
	file, ok := r.files[name]
	if !ok {
		return nil, fmt.Errorf("server: no page %q", name)
	}
	t, err := parseSet(file)
	if err != nil {
		return nil, fmt.Errorf("server: parse %s: %w", file, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if have, ok := r.sets[name]; ok {
		return have, nil
	}
	r.sets[name] = t
	return t, nil
}

var funcs = template.FuncMap{
	"statusClass": func(s string) string { return "st-" + strings.ReplaceAll(s, "_", "-") },
	"add":         func(a, b int) int { return a + b },
	"lower":       strings.ToLower,
	"minutesOf":   func(d time.Duration) int { return int((d + 30*time.Second) / time.Minute) },
}

func newRenderer() (*renderer, error) {
	names, err := fs.Glob(templates.FS, "pages/*.html")
	if err != nil {
		return nil, err
	}
	r := &renderer{files: map[string]string{}, sets: map[string]*template.Template{}}
	for _, name := range names {
		// Checked now, so a broken template stops the start, not a request.
		if _, err := parseSet(name); err != nil {
			return nil, fmt.Errorf("server: parse %s: %w", name, err)
		}
		r.files[strings.TrimSuffix(path.Base(name), ".html")] = name
	}
	return r, nil
}

// view is what a handler hands to a page: its title, the form being edited
// (with what was typed and what is wrong), and the page's own data.
type view struct {
	Title string
	Form  *form
	Data  any
}

// page is the envelope every template renders: the view plus what the
// layout needs (language, CSRF token, operator, flash) and the helpers that
// depend on the language and zone.
type page struct {
	*view
	s        *Server
	Lang     string
	Path     string
	CSRF     string
	Operator *data.Operator
	Flash    string
	// FlashLink, when set, is where the flash's progress can be watched.
	FlashLink string
	// Relay is what the mail relay said when it last refused to take mail,
	// shown on every console page until mail goes through again.
	Relay *data.RelayTrouble
	// Drafts counts the draft incidents waiting for an operator.
	Drafts int64
	// RenderTrouble says the public pages cannot be rendered (and
	// customers see old copies), on every console page while it lasts.
	RenderTrouble *renderTrouble
	Now           time.Time
	Asset         string
	Admin         bool
}

// Current reports whether a navigation link leads to the section shown:
// the home pages exactly, any other section with what lies under it.
func (p *page) Current(href string) bool {
	if href == "/" || href == "/admin" {
		return p.Path == href
	}
	return p.Path == href || strings.HasPrefix(p.Path, href+"/")
}

func (s *Server) newPage(lang, path string, v *view) *page {
	p := &page{view: v, s: s, Lang: lang, Path: path, Now: s.opts.Now(), Asset: "/static/" + static.Version}
	if p.Form == nil {
		p.Form = &form{}
	}
	return p
}

func (s *Server) execute(name string, p *page) ([]byte, error) {
	t, err := s.pages.set(name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("server: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// renderPublic renders a public page from its language and path alone, so
// the page cache can render it outside any request.
func (s *Server) renderPublic(lang, path, name string, v *view) ([]byte, error) {
	return s.execute(name, s.newPage(lang, path, v))
}

// render writes a whole page. It renders into memory first, so a template
// error becomes a clean 500 rather than half a page.
func (s *Server) render(c echo.Context, code int, name string, v *view) error {
	p := s.newPage(langOf(c), c.Request().URL.Path, v)
	p.CSRF, _ = c.Get("csrf").(string)
	if p.Admin = strings.HasPrefix(p.Path, "/admin"); p.Admin {
		p.Operator = operatorOf(c)
		p.Flash, p.FlashLink = s.takeFlash(c)
		if p.Operator != nil {
			// Every console page says so while the relay refuses mail.
			p.Relay, _ = s.store.RelayTrouble(c.Request().Context())
			// And while monitors or webhooks wait for someone to confirm.
			p.Drafts, _ = s.store.WaitingDrafts(c.Request().Context())
			// And while the public pages cannot be rendered.
			p.RenderTrouble = s.health.trouble()
		}
	}
	b, err := s.execute(name, p)
	if err != nil {
		return err
	}
	return c.HTMLBlob(code, b)
}

// t translates a message id into the request's language.
func (s *Server) t(c echo.Context, id string, args ...any) string {
	return s.catalog.T(langOf(c), id, args...)
}

// T translates a message id.
func (p *page) T(id string, args ...any) string { return p.s.catalog.T(p.Lang, id, args...) }

// TT translates like T, for messages that carry markup in their
// arguments (a <time> from When): every other argument is escaped here,
// the translation itself is ours.
func (p *page) TT(id string, args ...any) template.HTML {
	esc := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case template.HTML:
			esc[i] = string(v)
		case string:
			esc[i] = template.HTMLEscapeString(v)
		default:
			esc[i] = a // numbers, for plural forms
		}
	}
	return template.HTML(p.s.catalog.T(p.Lang, id, esc...))
}

// When is a moment as Time shows it, inside a <time> element: machines
// read the instant, and the stylesheet keeps it from wrapping mid-date.
func (p *page) When(t time.Time) template.HTML {
	return template.HTML(`<time datetime="` + p.ISO(t) + `">` + template.HTMLEscapeString(p.Time(t)) + `</time>`)
}

// StaleNotice is the out-of-date notice of a public page, with the time
// it was rendered, inside the comment markers the page cache uncovers
// when it serves this copy after it stopped being current (staleCopy).
// html/template drops comments written in a template, hence a value.
func (p *page) StaleNotice() template.HTML {
	return template.HTML(string(staleOpen) + `<div class="stale-banner" role="status">` + string(p.TT("stale.notice", "Time", p.When(p.Now))) +
		`</div>` + string(staleClose))
}

// L picks the Japanese or English version of an operator-written text; the
// English one falls back to Japanese when it was left empty.
func (p *page) L(ja, en string) string { return pickLang(p.Lang, ja, en) }

// MD renders the markdown of L(ja, en) safely.
func (p *page) MD(ja, en string) template.HTML { return p.s.md.HTML(p.L(ja, en)) }

// Status names a component, incident or maintenance status.
func (p *page) Status(kind, s string) string { return p.T(kind + "." + s) }

func (p *page) local(t time.Time) time.Time { return t.In(p.s.opts.Location) }

// Minutes shows a number of minutes as hours and minutes.
func (p *page) Minutes(m int) string {
	return p.T("duration", "Hours", m/60, "Minutes", m%60)
}

// Time shows a moment with its zone, such as "2026年11月26日 16:30 JST".
func (p *page) Time(t time.Time) string { return locale.FormatTime(p.Lang, t, p.s.opts.Location) }

// Second is a moment to the second, for pauses of seconds (the relay's
// next try): "16:30:05 JST".
func (p *page) Second(t time.Time) template.HTML {
	return template.HTML(`<time datetime="` + p.ISO(t) + `">` + template.HTMLEscapeString(p.local(t).Format("15:04:05 MST")) + `</time>`)
}

// Zone names the zone times are shown in, such as "JST (Asia/Tokyo)".
func (p *page) Zone() string {
	return p.local(p.Now).Format("MST") + " (" + p.s.opts.Location.String() + ")"
}

// Clock shows only the time of day with the zone.
func (p *page) Clock(t time.Time) string { return p.local(t).Format("15:04 MST") }

// DateISO is the day of t in the page's zone, as a date input reads it.
func (p *page) DateISO(t time.Time) string { return p.local(t).Format(time.DateOnly) }

// Date shows the calendar day of a moment in the configured zone.
func (p *page) Date(t time.Time) string {
	t = p.local(t)
	if p.Lang == "en" {
		return t.Format("Jan 2, 2006")
	}
	return t.Format("2006年1月2日")
}

// Month names a month, such as "2026年11月" or "November 2026".
func (p *page) Month(t time.Time) string {
	t = p.local(t)
	if p.Lang == "en" {
		return t.Format("January 2006")
	}
	return t.Format("2006年1月")
}

// ISO gives the machine-readable form for <time datetime>.
func (p *page) ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Ago describes a moment relative to now: "3時間前", "in 2 days".
func (p *page) Ago(t time.Time) string {
	d := p.Now.Sub(t)
	prefix := "ago."
	if d < 0 {
		prefix, d = "in.", -d
	}
	switch {
	case d < time.Minute:
		return p.T("ago.now")
	case d < time.Hour:
		return p.T(prefix+"minutes", "Count", int(d/time.Minute))
	case d < 48*time.Hour:
		return p.T(prefix+"hours", "Count", int(d/time.Hour))
	default:
		return p.T(prefix+"days", "Count", int(d/(24*time.Hour)))
	}
}

// Duration describes a length of time, such as "1時間30分".
func (p *page) Duration(from time.Time, to *time.Time) string {
	end := p.Now
	if to != nil {
		end = *to
	}
	d := end.Sub(from).Round(time.Minute)
	if d < time.Minute {
		d = time.Minute
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	return p.T("duration", "Hours", h, "Minutes", m)
}

// LangURL links to the current page in another language.
func (p *page) LangURL(lang string) string {
	return p.Path + "?" + url.Values{"lang": {lang}}.Encode()
}

// SecurityContact is the address for security reports, if configured.
func (p *page) SecurityContact() string { return p.s.opts.SecurityContact }

// Field describes one form field for the "field" partial.
func (p *page) Field(name, kind, label string, required bool) fieldView {
	f := fieldView{Name: name, Kind: kind, Label: p.T(label), Value: p.Form.Get(name),
		Error: p.Form.errorText(p, name), Required: required}
	if p.s.catalog.Has(p.Lang, label+"_hint") {
		f.Hint = p.T(label + "_hint")
	}
	return f
}

type fieldView struct {
	Name, Kind, Label, Value, Error, Hint string
	Required                              bool
}

// serveStatic serves embedded assets. The version in the path lets them be
// cached for a year; an old version still gets today's file.
func (s *Server) serveStatic(c echo.Context) error {
	name := path.Clean(c.Param("*"))
	if name == "." || strings.HasPrefix(name, "..") || strings.Contains(name, "/") {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(static.FS, name)
	if err != nil {
		return echo.ErrNotFound
	}
	ctype := map[string]string{".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".js": "text/javascript; charset=utf-8"}[path.Ext(name)]
	if ctype == "" {
		return echo.ErrNotFound
	}
	if c.Param("version") == static.Version {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	}
	return c.Blob(http.StatusOK, ctype, b)
}

// timelineView feeds the "timeline" partial, shared by incidents and
// maintenance, on the public page and in the console.
type timelineView struct {
	Page    *page
	Kind    string
	Updates any
	Catalog *catalogView
	Admin   bool
	Base    string
}

// Timeline prepares a timeline of incident or maintenance updates. base is
// the console address of the incident or maintenance; empty on public pages.
func (p *page) Timeline(kind string, updates any, catalog *catalogView, base string) timelineView {
	return timelineView{Page: p, Kind: kind, Updates: updates, Catalog: catalog, Admin: base != "", Base: base}
}

// FieldError is the translated error of a form field, empty when none.
func (p *page) FieldError(name string) string { return p.Form.errorText(p, name) }

type moveView struct {
	Page         *page
	Action       string
	Index, Count int
}

// Move feeds the "move" partial: up and down buttons for item index of count.
func (p *page) Move(action string, index, count int) moveView {
	return moveView{Page: p, Action: action, Index: index, Count: count}
}

type selectView struct {
	Name, Label, Error string
	Options            []optionView
}

type optionView struct {
	Value, Label string
	Selected     bool
}

// Select feeds the "select" partial: one option per value, each labelled
// by the message prefix+value.
func (p *page) Select(name, label, prefix string, values []string) selectView {
	v := selectView{Name: name, Label: p.T(label), Error: p.FieldError(name)}
	for _, val := range values {
		v.Options = append(v.Options, optionView{Value: val, Label: p.T(prefix + val), Selected: p.Form.Is(name, val)})
	}
	return v
}

type pagerView struct {
	P          *page
	Page, Last int
	Base       string
}

// Pager feeds the "admin-pager" partial. base may carry a query (a
// search) that the page links keep.
func (p *page) Pager(n, last int, base string) pagerView {
	return pagerView{P: p, Page: n, Last: last, Base: base}
}

// URL links to page n, keeping the rest of the base URL's query.
func (v pagerView) URL(n int) string {
	u, err := url.Parse(v.Base)
	if err != nil {
		return v.Base
	}
	q := u.Query()
	q.Set("page", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String()
}

type progressView struct {
	Page *page
	P    progress
}

// Progress feeds the "progress" partial.
func (p *page) Progress(pr progress) progressView { return progressView{Page: p, P: pr} }

// Lead writes a lead time in words: "7日", "3 hours".
func (p *page) Lead(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return p.T("lead.days", "Count", int(d/(24*time.Hour)))
	case d%time.Hour == 0:
		return p.T("lead.hours", "Count", int(d/time.Hour))
	}
	return p.T("lead.minutes", "Count", int(d/time.Minute))
}

// RunSummary says what a job run did, in words: summaries are stored as a
// message id and counts (see jobs.Summary); anything else shows as it is.
func (p *page) RunSummary(s string) string {
	fields := strings.Fields(s)
	if len(fields) == 0 || !strings.HasPrefix(fields[0], "job.summary.") || !p.s.catalog.Has(p.Lang, fields[0]) {
		return s
	}
	var args []any
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return s
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return s
		}
		args = append(args, k, n)
	}
	return p.T(fields[0], args...)
}

// Scopes lists the API token scopes for the token form.
func (p *page) Scopes() []string { return []string{data.ScopeRead, data.ScopeWrite} }
