package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// The console's view of public subscribers: who asked for email, what
// they chose, and a way to remove an address on request.

type subscriberListPage struct {
	Subscribers []data.Subscriber
	Products    map[int64]string
	Query       string
	Page, Last  int
	Total       int64
}

// PagerBase is the list URL with the search, for page links.
func (v *subscriberListPage) PagerBase() string {
	return "/admin/subscribers?" + url.Values{"q": {v.Query}}.Encode()
}

func (s *Server) listSubscribers(c echo.Context) error {
	ctx := c.Request().Context()
	n := pageParam(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	subs, total, err := s.store.Subscribers(ctx, q, adminPageSize, (n-1)*adminPageSize)
	if err != nil {
		return err
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscribers", &view{Title: s.t(c, "subscribers.title"), Data: &subscriberListPage{
		Subscribers: subs, Products: productNames(products), Query: q, Page: n, Last: lastPage(total), Total: total}})
}

// deleteSubscriber forgets an address, as unsubscribing does.
func (s *Server) deleteSubscriber(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.Unsubscribe(c.Request().Context(), id); err != nil {
		return err
	}
	return s.done(c, "flash.deleted", "/admin/subscribers")
}
