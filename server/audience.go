package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// audienceView tells an operator, before they publish, who will be emailed.
type audienceView struct {
	Contacts, Contracts int
	Held                bool
}

func (s *Server) audience(ctx context.Context, policyRow string, componentIDs []int64) (*audienceView, error) {
	a, err := s.store.NoticeAudience(ctx, policyRow, componentIDs)
	if err != nil {
		return nil, err
	}
	return &audienceView{Contacts: len(a.Recipients), Contracts: a.Contracts, Held: !s.opts.MailEnabled}, nil
}

// notice reads the "send email" checkbox of a publishing form.
func (s *Server) notice(f *form) data.Notice {
	return data.Notice{Send: f.Get("notify") == "1", Hold: !s.opts.MailEnabled}
}

// afterNotice wakes the dispatcher when something was queued.
func (s *Server) afterNotice(n data.Notice) {
	if n.Send && !n.Hold {
		s.opts.Wake()
	}
}

func ids(m map[int64]string) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

// showAudience answers the forms' script with the count for what is chosen
// so far: ?impact=major&component=3&component=5, or ?maintenance=1, and
// &incident=ID to include the components an incident already affects.
func (s *Server) showAudience(c echo.Context) error {
	ctx := c.Request().Context()
	row := c.QueryParam("impact")
	if c.QueryParam("maintenance") != "" {
		row = data.PolicyMaintenance
	}
	var comps []int64
	for _, v := range c.QueryParams()["component"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			comps = append(comps, id)
		}
	}
	if v := c.QueryParam("incident"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
		}
		inc, err := s.store.Incident(ctx, id)
		if err != nil {
			return err
		}
		if row == "" {
			row = inc.Impact
		}
		comps = append(comps, ids(inc.ComponentStatuses())...)
	}
	a, err := s.audience(ctx, row, comps)
	if err != nil {
		if f := (&form{}); f.absorb(err) {
			return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
		}
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"contacts": a.Contacts, "contracts": a.Contracts,
		"text": s.t(c, audienceKey(a), "Contacts", a.Contacts, "Contracts", a.Contracts)})
}

func audienceKey(a *audienceView) string {
	switch {
	case a.Contacts == 0:
		return "audience.none"
	case a.Held:
		return "audience.held"
	default:
		return "audience.will_send"
	}
}

// AudienceText is the sentence the forms show.
func (p *page) AudienceText(a *audienceView) string {
	if a == nil {
		return ""
	}
	return p.T(audienceKey(a), "Contacts", a.Contacts, "Contracts", a.Contracts)
}
