package server

import (
	"context"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
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
		items, more, err := s.store.News(ctx, newsPageSize, n*newsPageSize)
		if err != nil {
			return nil, err
		}
		if n > 0 && len(items) == 0 {
			return nil, data.ErrNotFound
		}
		products, err := s.store.Products(ctx)
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
