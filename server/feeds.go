package server

import (
	"context"
	"fmt"
	"html"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/calendar"
)

// productParam reads the product of a per-product feed, calendar or
// badge; 0 means every product.
func (s *Server) productParam(ctx context.Context, c echo.Context) (int64, *data.Product, error) {
	v := c.Param("product")
	if v == "" {
		return 0, nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, echo.ErrNotFound
	}
	p, err := s.store.Public().Product(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	return id, p, nil
}

// canonicalProduct refuses a product id written any other way than its
// canonical form (leading zeros, a sign): the page cache is keyed by path,
// and one id must be one entry, not as many as an attacker can spell.
func canonicalProduct(c echo.Context) error {
	v := c.Param("product")
	if v == "" {
		return nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != v {
		return echo.ErrNotFound
	}
	return nil
}

// concerns reports whether a news item is about a product (0: all).
func concerns(item data.NewsItem, product int64, cat *catalogView) bool {
	componentProduct := func(id int64) int64 {
		if c := cat.Component(id); c != nil {
			return c.ProductID
		}
		return 0
	}
	if product == 0 {
		return true
	}
	switch {
	case item.Announcement != nil:
		return item.Announcement.ProductID == nil || *item.Announcement.ProductID == product
	case item.Upgrade != nil:
		return item.Upgrade.ProductID == product
	case item.Incident != nil:
		for _, u := range item.Incident.Updates {
			for _, c := range u.Components {
				if componentProduct(c.ComponentID) == product {
					return true
				}
			}
		}
	case item.Maintenance != nil:
		for _, id := range item.Maintenance.ComponentIDs() {
			if componentProduct(id) == product {
				return true
			}
		}
	}
	return false
}

// feed serves Atom or RSS of incidents, maintenance, upgrades and
// announcements, newest first, in the visitor's language.
func (s *Server) feed(c echo.Context) error {
	atom := strings.HasSuffix(c.Request().URL.Path, ".atom")
	ctype := "application/rss+xml; charset=utf-8"
	if atom {
		ctype = "application/atom+xml; charset=utf-8"
	}
	lang := langOf(c)
	if err := canonicalProduct(c); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	return s.cache.serveType(c, "feed|"+c.Request().URL.Path+"|"+lang, ctype, func(ctx context.Context) ([]byte, error) {
		product, p, err := s.productParam(ctx, c)
		if err != nil {
			return nil, err
		}
		items, _, err := s.store.Public().News(ctx, 200, 0)
		if err != nil {
			return nil, err
		}
		cp, err := s.plainCatalog(ctx)
		if err != nil {
			return nil, err
		}
		pg := &page{s: s, Lang: lang}
		base := strings.TrimRight(s.opts.BaseURL.String(), "/")
		// Titled as the page is: the branded title, else the default.
		title := pg.SiteName()
		if p != nil {
			title += " — " + pg.L(p.NameJA, p.NameEN)
		}
		// The site is every entry's author (RFC 4287 wants one).
		f := &feeds.Feed{Title: title, Link: &feeds.Link{Href: base + "/"}, Description: s.catalog.T(lang, "feed.description"),
			Id: base + c.Request().URL.Path, Author: &feeds.Author{Name: pg.SiteName()}}
		for _, it := range items {
			if !concerns(it, product, cp) || len(f.Items) == 50 {
				continue
			}
			fi := &feeds.Item{Created: it.At}
			switch {
			case it.Announcement != nil:
				a := it.Announcement
				fi.Title = pg.L(a.TitleJA, a.TitleEN)
				fi.Link = &feeds.Link{Href: base + "/news/" + strconv.FormatInt(a.ID, 10)}
				fi.Id = fi.Link.Href
				fi.Description = string(pg.MD(a.BodyJA, a.BodyEN))
				fi.Updated = a.UpdatedAt
			case it.Upgrade != nil:
				u := it.Upgrade
				fi.Title = s.catalog.T(lang, "history.upgrade") + ": " + it.ProductName(lang) + " " + u.Version
				fi.Link = &feeds.Link{Href: base + "/upgrades/" + strconv.FormatInt(u.ID, 10)}
				fi.Id = fi.Link.Href
				fi.Description = html.EscapeString(pg.T("maintenance.window", "From", pg.Time(u.StartsAt), "To", pg.Time(u.EndsAt)))
				if u.Status == data.UpgradeCancelled {
					// As the page and /news say, and as cancelled maintenance
					// reads here: the window that will not happen is kept,
					// marked as called off.
					fi.Title += " (" + pg.T("upgrade.cancelled") + ")"
					fi.Description = "<p>" + html.EscapeString(pg.T("upgrade.cancelled_note")) + "</p><p><del>" + fi.Description + "</del></p>"
				}
				fi.Description += string(pg.MD(u.SummaryJA, u.SummaryEN))
				fi.Updated = u.UpdatedAt
			case it.Incident != nil:
				i := it.Incident
				fi.Title = s.catalog.T(lang, "history.incident") + ": " + pg.L(i.TitleJA, i.TitleEN) + " (" + pg.Status("incident", i.Status) + ")"
				fi.Link = &feeds.Link{Href: base + "/incidents/" + strconv.FormatInt(i.ID, 10)}
				fi.Id = fi.Link.Href
				if affects := pg.Affects(cp, i); affects != "" {
					fi.Description = "<p>" + html.EscapeString(pg.T("incident.affects")+" "+affects) + "</p>"
				}
				if u := i.Latest(); u != nil {
					fi.Description += string(pg.MD(u.BodyJA, u.BodyEN))
				}
				fi.Updated = i.UpdatedAt
			case it.Maintenance != nil:
				m := it.Maintenance
				fi.Title = s.catalog.T(lang, "history.maintenance") + ": " + pg.L(m.TitleJA, m.TitleEN) + " (" + pg.Status("maintenance", m.Status) + ")"
				fi.Link = &feeds.Link{Href: base + "/maintenance/" + strconv.FormatInt(m.ID, 10)}
				fi.Id = fi.Link.Href
				fi.Description = html.EscapeString(pg.T("maintenance.window", "From", pg.Time(m.StartsAt), "To", pg.Time(m.EndsAt)))
				if affects := pg.Affects(cp, m); affects != "" {
					fi.Description += "<p>" + html.EscapeString(pg.T("maintenance.affects")+" "+affects) + "</p>"
				}
				fi.Updated = m.UpdatedAt
			}
			if fi.Updated.After(f.Updated) {
				f.Updated = fi.Updated
			}
			f.Items = append(f.Items, fi)
		}
		if f.Updated.IsZero() {
			f.Updated = s.opts.Now()
		}
		var out string
		if atom {
			// gorilla/feeds takes an Atom feed's id from its link, which
			// every feed here shares: each feed gets its own (its address).
			af := (&feeds.Atom{Feed: f}).AtomFeed()
			af.Id = f.Id
			out, err = feeds.ToXML(af)
		} else {
			// RSS 2.0's managingEditor is an email address, the name after
			// it in parentheses; gorilla/feeds writes " (name)" for an
			// author without one, which validators refuse. The security
			// contact is the one address the site already publishes (every
			// footer, security.txt); without it there is no editor.
			f.Author = nil
			if addr := s.editorAddress(); addr != "" {
				f.Author = &feeds.Author{Name: pg.SiteName(), Email: addr}
			}
			out, err = f.ToRss()
		}
		return []byte(out), err
	})
}

// editorAddress is the feeds' editor: the security contact when it is an
// email address (it may be an https:// page), else empty.
func (s *Server) editorAddress() string {
	if strings.HasPrefix(s.opts.SecurityContact, "https://") {
		return ""
	}
	a, err := netmail.ParseAddress(s.opts.SecurityContact)
	if err != nil {
		return ""
	}
	return a.Address
}

// icsCalendar serves upcoming maintenance windows and upgrades as
// iCalendar, cancelled ones marked so, with stable UIDs and sequences.
func (s *Server) icsCalendar(c echo.Context) error {
	lang := langOf(c)
	if err := canonicalProduct(c); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	return s.cache.serveType(c, "ics|"+c.Request().URL.Path+"|"+lang, "text/calendar; charset=utf-8", func(ctx context.Context) ([]byte, error) {
		product, p, err := s.productParam(ctx, c)
		if err != nil {
			return nil, err
		}
		ms, us, err := s.store.Public().CalendarEvents(ctx, s.opts.Now().AddDate(0, 0, -30))
		if err != nil {
			return nil, err
		}
		cp, err := s.plainCatalog(ctx)
		if err != nil {
			return nil, err
		}
		pg := &page{s: s, Lang: lang}
		name := pg.SiteName()
		if p != nil {
			name += " — " + pg.L(p.NameJA, p.NameEN)
		}
		var kept []data.Maintenance
		for i := range ms {
			if concerns(data.NewsItem{Maintenance: &ms[i]}, product, cp) {
				kept = append(kept, ms[i])
			}
		}
		// Windows of a recurring series are one recurring event.
		events, err := s.maintenanceEvents(ctx, kept, lang, cp)
		if err != nil {
			return nil, err
		}
		for i := range us {
			u := &us[i]
			if product != 0 && u.ProductID != product {
				continue
			}
			events = append(events, s.upgradeEvent(u, lang))
		}
		return []byte(calendar.Write(name, events)), nil
	})
}

func (s *Server) eventUID(kind string, id int64) string {
	return fmt.Sprintf("%s-%d@%s", kind, id, s.opts.BaseURL.Hostname())
}

func (s *Server) maintenanceEvent(m *data.Maintenance, lang string, cat *catalogView) calendar.Event {
	pg := &page{s: s, Lang: lang}
	affects, body := "", ""
	if a := pg.Affects(cat, m); a != "" {
		affects = pg.T("maintenance.affects") + " " + a
	}
	if n := len(m.Updates); n > 0 {
		body = pg.L(m.Updates[n-1].BodyJA, m.Updates[n-1].BodyEN)
	}
	start, end, seq := maintenanceSpan(m)
	return calendar.Event{UID: s.eventUID("maintenance", m.ID), Sequence: seq,
		Summary: s.catalog.T(lang, "history.maintenance") + ": " + pg.L(m.TitleJA, m.TitleEN), Description: affects, Markdown: body,
		URL:   strings.TrimRight(s.opts.BaseURL.String(), "/") + "/maintenance/" + strconv.FormatInt(m.ID, 10),
		Start: start, End: end, Cancelled: m.Status == data.Cancelled, Updated: m.UpdatedAt}
}

// maintenanceSpan is when a window takes place in calendars, and the
// event's revision: the planned window, until the work is completed; then
// when it actually started and ended, as a new revision (RFC 5545 3.8.7.4:
// a moved DTSTART or DTEND raises SEQUENCE) so calendars that hold the
// planned one replace it. The stored sequence already counts reschedules
// and a cancellation.
func maintenanceSpan(m *data.Maintenance) (start, end time.Time, seq int) {
	start, end, seq = m.StartsAt, m.EndsAt, m.Sequence
	if m.Status != data.Completed || m.CompletedAt == nil {
		return start, end, seq
	}
	if m.StartedAt != nil && m.StartedAt.Before(*m.CompletedAt) {
		start = *m.StartedAt
	}
	// Completed before it was due to start, without ever starting: an
	// event cannot end before it begins, so it keeps its planned end.
	if m.CompletedAt.After(start) {
		end = *m.CompletedAt
	}
	if !start.Equal(m.StartsAt) || !end.Equal(m.EndsAt) {
		seq++
	}
	return start, end, seq
}

func (s *Server) upgradeEvent(u *data.Upgrade, lang string) calendar.Event {
	pg := &page{s: s, Lang: lang}
	name := ""
	if u.Product != nil {
		name = pg.L(u.Product.NameJA, u.Product.NameEN) + " "
	}
	return calendar.Event{UID: s.eventUID("upgrade", u.ID), Sequence: u.Sequence,
		Summary: s.catalog.T(lang, "history.upgrade") + ": " + name + u.Version, Markdown: pg.L(u.SummaryJA, u.SummaryEN),
		URL:   strings.TrimRight(s.opts.BaseURL.String(), "/") + "/upgrades/" + strconv.FormatInt(u.ID, 10),
		Start: u.StartsAt, End: u.EndsAt, Cancelled: u.Status == data.UpgradeCancelled, Updated: u.UpdatedAt}
}

var badgeColors = map[string]string{data.Operational: "#1f9d55", data.UnderMaintenance: "#3b73d1",
	data.DegradedPerformance: "#b58100", data.PartialOutage: "#d0650a", data.MajorOutage: "#d2312b"}

// indicatorColors colour the page's status indicator as badgeColors do
// the component status each indicator stands for.
var indicatorColors = map[string]string{"none": badgeColors[data.Operational], "maintenance": badgeColors[data.UnderMaintenance],
	"minor": badgeColors[data.DegradedPerformance], "major": badgeColors[data.PartialOutage], "critical": badgeColors[data.MajorOutage]}

// badge draws the current status as a small SVG: the page's, in the words
// summary.json uses (both come from pageStatus), or one component's with
// ?component=ID, as components.json shows it, named with its product.
func (s *Server) badge(c echo.Context) error {
	lang := langOf(c)
	comp := c.QueryParam("component")
	var compID int64
	if comp != "" {
		v, err := strconv.ParseInt(strings.TrimPrefix(comp, "c"), 10, 64)
		if err != nil || v <= 0 {
			return echo.ErrNotFound
		}
		compID = v
	}
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	return s.cache.serveType(c, "badge|"+strconv.FormatInt(compID, 10)+"|"+lang, "image/svg+xml; charset=utf-8", func(ctx context.Context) ([]byte, error) {
		d, err := s.loadAPI(ctx, lang)
		if err != nil {
			return nil, err
		}
		if compID != 0 {
			if d.catalog.Component(compID) == nil {
				return nil, data.ErrNotFound
			}
			// Always "Product / Component", as pages and email name a
			// component away from its product's block: a badge is shown
			// elsewhere, two products may each have a "CDN", and a label
			// qualified only when the name is shared would change on
			// badges already embedded the day a second one is added.
			status := d.catalog.Status[compID]
			return badgeSVG(d.catalog.qualifiedName(compID, lang, " / "), s.catalog.T(lang, "component."+status), badgeColors[status]), nil
		}
		st := d.status()
		return badgeSVG(s.catalog.T(lang, "badge.label"), st.Description, indicatorColors[st.Indicator]), nil
	})
}

// badgeSVG draws a two-part badge. Widths are estimated per character
// (wide for CJK), which is what badge services do too.
func badgeSVG(label, value, color string) []byte {
	w := func(s string) int {
		n := 0
		for _, r := range s {
			if r > 0x2E80 {
				n += 12
			} else {
				n += 7
			}
		}
		return n + 12
	}
	lw, vw := w(label), w(value)
	esc := html.EscapeString
	return []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title>`+
		`<rect width="%d" height="20" rx="3" fill="#555"/><rect x="%d" width="%d" height="20" rx="3" fill="%s"/><rect x="%d" width="4" height="20" fill="%s"/>`+
		`<g fill="#fff" font-family="Verdana,Hiragino Sans,Noto Sans JP,sans-serif" font-size="11">`+
		`<text x="6" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		lw+vw, esc(label), esc(value), esc(label), esc(value), lw+vw, lw, vw, color, lw, color, esc(label), lw+6, esc(value)))
}

// liveCatalog is the catalogue with the statuses shown now (open
// incidents and current maintenance), and those incidents and windows.
func (s *Server) liveCatalog(ctx context.Context) (*catalogView, []data.Incident, []data.Maintenance, error) {
	products, err := s.store.Products(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	open, err := s.store.OpenIncidents(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	maints, err := s.store.CurrentMaintenances(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return newCatalogView(products, open, maints), open, maints, nil
}

// plainCatalog is the products and components the public sees, without
// statuses: what feeds and the calendar need to say which product a
// component is of.
func (s *Server) plainCatalog(ctx context.Context) (*catalogView, error) {
	products, err := s.store.Public().Products(ctx)
	if err != nil {
		return nil, err
	}
	return newCatalogView(products, nil, nil), nil
}
