package server

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/static"
)

// The embeddable notice: a product includes /embed.js (or frames
// /embed/products/{id}) to show, inside its own pages, a banner for that
// product's open incidents and its maintenance under way or soon. The
// script reads /embed/products/{id}/{lang}.json: public data only (a
// PublicView), served from the page cache like the Statuspage JSON, so it
// keeps answering while the database is down. No cookie is read or set
// (the language is in the path, not ?lang=), CORS is open, and neither the
// script nor its stylesheet needs eval or inline style: the banner lives in
// a shadow root styled by /static/VERSION/embed.css from this origin.

// embedSoon is how far ahead a scheduled window is announced.
const embedSoon = 24 * time.Hour

type embedNotice struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`  // incident, maintenance
	State  string `json:"state"` // an incident's status; maintenance: in_progress or soon
	Impact string `json:"impact,omitempty"`
	Label  string `json:"label"`
	Title  string `json:"title"`
	When   string `json:"when"`
	URL    string `json:"url"`
	// Start (and for a window its end) in RFC 3339, for scripts of one's own.
	StartsAt string `json:"starts_at"`
	EndsAt   string `json:"ends_at,omitempty"`
}

type embedDoc struct {
	Product struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"product"`
	Lang    string            `json:"lang"`
	PageURL string            `json:"page_url"`
	CSS     string            `json:"css"`
	Labels  map[string]string `json:"labels"`
	Notices []embedNotice     `json:"notices"`
}

// embedLang reads the language of an embed path's last part ("ja.json",
// "en"); "" for one we do not speak.
func embedLang(file, suffix string) string {
	l, ok := strings.CutSuffix(file, suffix)
	if !ok || !locale.Supported(l) {
		return ""
	}
	return l
}

// embedProduct is the product id of the path, written canonically.
func embedProduct(c echo.Context) (int64, bool) {
	v := c.Param("product")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != v {
		return 0, false
	}
	return id, true
}

func embedFail(c echo.Context, code int, kind, msg string) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(code, apiError{Error: apiErrorBody{Code: kind, Message: msg}})
}

// embedJSON serves /embed/products/:product/{ja,en}.json.
func (s *Server) embedJSON(c echo.Context) error {
	h := c.Response().Header()
	// No cookie, whatever the query says (negotiateLanguage sets one for ?lang=).
	h.Del("Set-Cookie")
	h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	parts := strings.Split(c.Request().URL.Path, "/")
	lang := embedLang(parts[len(parts)-1], ".json")
	id, ok := embedProduct(c)
	if !ok || lang == "" {
		return embedFail(c, http.StatusNotFound, "not_found", "No such product.")
	}
	err := s.cache.serveType(c, "embed|"+strconv.FormatInt(id, 10)+"|"+lang, echo.MIMEApplicationJSON, func(ctx context.Context) ([]byte, error) {
		return s.renderEmbed(ctx, id, lang)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, data.ErrNotFound):
		return embedFail(c, http.StatusNotFound, "not_found", "No such product.")
	case data.Unavailable(err), errors.As(err, new(errPageFailing)):
		h.Set("Retry-After", "60")
		return embedFail(c, http.StatusServiceUnavailable, "unavailable", "Not available right now; try again shortly.")
	}
	return err
}

// renderEmbed builds the JSON of one product in one language.
func (s *Server) renderEmbed(ctx context.Context, id int64, lang string) ([]byte, error) {
	d, err := s.loadAPI(ctx, lang)
	if err != nil {
		return nil, err
	}
	var product *data.Product
	for i := range d.catalog.Products {
		if d.catalog.Products[i].ID == id {
			product = &d.catalog.Products[i]
		}
	}
	if product == nil || len(product.Components) == 0 {
		return nil, data.ErrNotFound
	}
	mine := map[int64]bool{}
	for _, c := range product.Components {
		mine[c.ID] = true
	}
	t := func(key string, args ...any) string { return s.catalog.T(lang, key, args...) }
	base := strings.TrimRight(s.opts.BaseURL.String(), "/")
	q := ""
	if lang != locale.Languages[0] {
		q = "?lang=" + lang
	}
	now := s.opts.Now()
	out := embedDoc{Lang: lang, PageURL: base + "/" + q, CSS: "/static/" + static.Version + "/embed.css",
		Labels:  map[string]string{"region": t("embed.region"), "dismiss": t("embed.dismiss"), "details": t("embed.details")},
		Notices: []embedNotice{}}
	out.Product.ID, out.Product.Name = product.ID, d.text(product.NameJA, product.NameEN)
	for i := range d.incidents {
		inc := &d.incidents[i]
		if !inc.Open() || !incidentTouches(inc, mine) {
			continue
		}
		out.Notices = append(out.Notices, embedNotice{ID: "i" + strconv.FormatInt(inc.ID, 10), Kind: "incident", State: inc.Status,
			Impact: inc.Impact, Label: t("embed.incident"), Title: d.text(inc.TitleJA, inc.TitleEN),
			When: t("embed.since", "Time", embedTime(s, lang, inc.StartedAt)), StartsAt: inc.StartedAt.UTC().Format(time.RFC3339),
			URL: base + "/incidents/" + strconv.FormatInt(inc.ID, 10) + q})
	}
	for i := range d.maintenances {
		m := &d.maintenances[i]
		touches := false
		for _, cid := range m.ComponentIDs() {
			touches = touches || mine[cid]
		}
		if !touches {
			continue
		}
		n := embedNotice{ID: "m" + strconv.FormatInt(m.ID, 10), Kind: "maintenance", Title: d.text(m.TitleJA, m.TitleEN),
			StartsAt: m.StartsAt.UTC().Format(time.RFC3339), EndsAt: m.EndsAt.UTC().Format(time.RFC3339),
			URL: base + "/maintenance/" + strconv.FormatInt(m.ID, 10) + q}
		switch {
		case m.Active():
			n.State, n.Label = "in_progress", t("embed.maintenance_now")
			n.When = t("embed.until", "Time", embedTime(s, lang, m.EndsAt))
		case m.Status == data.Scheduled && m.StartsAt.Sub(now) <= embedSoon && m.EndsAt.After(now):
			n.State, n.Label = "soon", t("embed.maintenance_soon")
			from, to := embedWindow(s, lang, m.StartsAt, m.EndsAt)
			n.When = t("embed.window", "From", from, "To", to)
		default:
			continue
		}
		out.Notices = append(out.Notices, n)
	}
	return json.Marshal(out)
}

// incidentTouches reports whether an incident's timeline names one of the
// components.
func incidentTouches(inc *data.Incident, mine map[int64]bool) bool {
	for _, u := range inc.Updates {
		for _, uc := range u.Components {
			if mine[uc.ComponentID] {
				return true
			}
		}
	}
	return false
}

// embedTime writes a time short, in the page's zone, naming the zone.
func embedTime(s *Server, lang string, t time.Time) string {
	t = t.In(s.opts.Location)
	if lang == "ja" {
		return t.Format("1月2日 15:04 MST")
	}
	return t.Format("Jan 2, 15:04 MST")
}

// embedWindow writes a window's two ends; within one day the end is the
// time alone ("Nov 26, 16:30 – 18:30 JST").
func embedWindow(s *Server, lang string, from, to time.Time) (string, string) {
	f, t := from.In(s.opts.Location), to.In(s.opts.Location)
	if f.Format(time.DateOnly) != t.Format(time.DateOnly) {
		return embedTime(s, lang, from), embedTime(s, lang, to)
	}
	day := "Jan 2, 15:04"
	if lang == "ja" {
		day = "1月2日 15:04"
	}
	return f.Format(day), t.Format("15:04 MST")
}

// embedScript serves /embed.js: the static file under a stable address
// (the snippet cannot carry a version), cached for an hour.
func (s *Server) embedScript(c echo.Context) error {
	b, err := fs.ReadFile(static.FS, "embed.js")
	if err != nil {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age=3600")
	h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", b)
}

// framePolicy is the iframe page's policy: this origin's script, style and
// JSON only, framed by any site.
const framePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *"

type embedFramePage struct {
	Product int64
}

// embedFrame serves the iframe alternative: /embed/products/:product (the
// browser's language) or /embed/products/:product/{ja,en}. It is a shell
// that needs no database: the same script fills it from the JSON.
func (s *Server) embedFrame(c echo.Context) error {
	id, ok := embedProduct(c)
	if !ok {
		return echo.ErrNotFound
	}
	lang := langOf(c)
	if last := c.Request().URL.Path[strings.LastIndex(c.Request().URL.Path, "/")+1:]; last != c.Param("product") {
		if lang = embedLang(last, ""); lang == "" {
			return echo.ErrNotFound
		}
	}
	// A product the public does not see (unknown, or only contract-only
	// components) has no frame. The JSON's cached copy says so without the
	// database; a first view asks it, and an outage shows the frame anyway
	// (its script then says what it can).
	if s.cache.get(echo.MIMEApplicationJSON+"|embed|"+strconv.FormatInt(id, 10)+"|"+lang) == nil {
		if _, err := s.renderEmbed(c.Request().Context(), id, lang); errors.Is(err, data.ErrNotFound) {
			return echo.ErrNotFound
		}
	}
	h := c.Response().Header()
	h.Del("Set-Cookie")
	h.Add(echo.HeaderVary, "Accept-Language")
	h.Set("Content-Security-Policy", framePolicy)
	h.Del("X-Frame-Options")
	h.Set(echo.HeaderCacheControl, "public, max-age=300")
	p := s.newPage(lang, c.Request().URL.Path, &view{Title: s.catalog.T(lang, "embed.region"), Data: embedFramePage{Product: id}})
	t, err := s.pages.set("embed_frame")
	if err != nil {
		return err
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "embed-frame", p); err != nil {
		return err
	}
	return c.HTML(http.StatusOK, buf.String())
}

// embedPreflight answers a browser that asks before reading the JSON.
func embedPreflight(c echo.Context) error { return corsPreflight(c) }
