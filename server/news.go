package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/calendar"
)

const newsPageSize = 20

type newsPage struct {
	*catalogView
	Items       []data.NewsItem
	Page        int
	More        bool
	Newer, Next int
}

// showNews is the お知らせ page: announcements, upgrades, incidents and
// maintenance, newest first.
func (s *Server) showNews(c echo.Context) error {
	n := 0
	if q := c.QueryParam("page"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 0 || v > 500 {
			return echo.ErrNotFound
		}
		n = v
	}
	lang := langOf(c)
	return s.cache.serve(c, "news|"+strconv.Itoa(n)+"|"+lang, func(ctx context.Context) ([]byte, error) {
		pub := s.store.Public()
		items, more, err := pub.News(ctx, newsPageSize, n*newsPageSize)
		if err != nil {
			return nil, err
		}
		if n > 0 && len(items) == 0 {
			return nil, data.ErrNotFound
		}
		products, err := pub.Products(ctx)
		if err != nil {
			return nil, err
		}
		v := &newsPage{catalogView: newCatalogView(products, nil, nil), Items: items, Page: n, More: more, Newer: n - 1, Next: n + 1}
		return s.renderPublic(lang, "/news", "news", &view{Title: s.catalog.T(lang, "news.title"), Data: v})
	})
}

type upgradePage struct {
	Upgrade *data.Upgrade
}

func (s *Server) showPublicUpgrade(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	lang := langOf(c)
	path := c.Request().URL.Path
	return s.cache.serve(c, "upgrade|"+strconv.FormatInt(id, 10)+"|"+lang, func(ctx context.Context) ([]byte, error) {
		u, err := s.store.Upgrade(ctx, id)
		if err != nil {
			return nil, err
		}
		title := ""
		if u.Product != nil {
			title = (&page{s: s, Lang: lang}).L(u.Product.NameJA, u.Product.NameEN) + " " + u.Version
		}
		return s.renderPublic(lang, path, "upgrade", &view{Title: title, Data: &upgradePage{Upgrade: u}})
	})
}

// announcementPage is one announcement on its own page.
type announcementPage struct {
	Announcement *data.Announcement
	Product      *data.Product
}

// showAnnouncement is an announcement's permalink. One scheduled for later
// is not found until then.
func (s *Server) showAnnouncement(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	lang := langOf(c)
	path := c.Request().URL.Path
	return s.cache.serve(c, "announcement|"+strconv.FormatInt(id, 10)+"|"+lang, func(ctx context.Context) ([]byte, error) {
		a, err := s.store.Announcement(ctx, id)
		if err != nil {
			return nil, err
		}
		if a.PublishAt.After(s.opts.Now()) {
			return nil, data.ErrNotFound
		}
		v := &announcementPage{Announcement: a}
		if a.ProductID != nil {
			if v.Product, err = s.store.Product(ctx, *a.ProductID); err != nil && !errors.Is(err, data.ErrNotFound) {
				return nil, err
			}
		}
		title := (&page{s: s, Lang: lang}).L(a.TitleJA, a.TitleEN)
		return s.renderPublic(lang, path, "announcement", &view{Title: title, Data: v})
	})
}

// maintenanceEventICS offers one maintenance window for a calendar, with
// the UID and sequence of the calendar feed: importing it and later the
// feed (or a newer copy) updates the same event.
func (s *Server) maintenanceEventICS(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := s.store.Public().Maintenance(ctx, id)
	if err != nil {
		return err
	}
	cp, err := s.plainCatalog(ctx)
	if err != nil {
		return err
	}
	if m.SeriesID != nil {
		// An occurrence of a series is offered as the series' recurring
		// event, with the UID the calendar feed gives it.
		if evs, ok, err := s.seriesICS(ctx, m, langOf(c), cp); err != nil || ok {
			if err != nil {
				return err
			}
			return s.serveEvents(c, "maintenance-"+strconv.FormatInt(id, 10), evs[0].Summary, evs)
		}
	}
	ev := s.maintenanceEvent(m, langOf(c), cp)
	return s.serveEvent(c, "maintenance-"+strconv.FormatInt(id, 10), ev)
}

// upgradeEventICS offers one upgrade for a calendar, as above.
func (s *Server) upgradeEventICS(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	u, err := s.store.Upgrade(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.serveEvent(c, "upgrade-"+strconv.FormatInt(id, 10), s.upgradeEvent(u, langOf(c)))
}

func (s *Server) serveEvent(c echo.Context, name string, ev calendar.Event) error {
	return s.serveEvents(c, name, ev.Summary, []calendar.Event{ev})
}

func (s *Server) serveEvents(c echo.Context, name, title string, evs []calendar.Event) error {
	h := c.Response().Header()
	h.Set("Content-Disposition", `attachment; filename="`+name+`.ics"`)
	h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", []byte(calendar.Write(title, evs)))
}

// GoogleCalendar is a link that opens Google Calendar's new-event form
// filled in with an event (other calendars take the .ics).
func (p *page) GoogleCalendar(title, details string, start, end time.Time) string {
	const layout = "20060102T150405Z"
	q := url.Values{"action": {"TEMPLATE"}, "text": {title}, "details": {details},
		"dates": {start.UTC().Format(layout) + "/" + end.UTC().Format(layout)}}
	return "https://calendar.google.com/calendar/render?" + q.Encode()
}
