package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// recentChannelDeliveries is how many of a channel's deliveries the
// console shows.
const recentChannelDeliveries = 30

// channelsConsole is what the alerts page shows of every channel: the
// operators' and the public's, each with its latest delivery, and, when
// one is picked, its recent deliveries. A receiver that refuses or has
// gone is seen here, not only in the log.
type channelsConsole struct {
	OperatorChannels, PublicChannels []data.ChannelSummary
	Selected                         *data.Channel
	Deliveries                       []data.Delivery
}

func (s *Server) channelsConsole(ctx context.Context) (channelsConsole, error) {
	var v channelsConsole
	all, err := s.store.ChannelSummaries(ctx)
	if err != nil {
		return v, err
	}
	for _, c := range all {
		if c.Operator {
			v.OperatorChannels = append(v.OperatorChannels, c)
		} else {
			v.PublicChannels = append(v.PublicChannels, c)
		}
	}
	return v, nil
}

// showAlerts is the operators' own channels (admins) — what operators
// must act on — and the state of every public channel subscription;
// ?channel=ID adds that channel's recent deliveries.
func (s *Server) showAlerts(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := s.channelPageData(ctx, true)
	if err != nil {
		return err
	}
	if q := c.QueryParam("channel"); q != "" {
		id, err := strconv.ParseInt(q, 10, 64)
		if err != nil {
			return echo.ErrNotFound
		}
		if v.Selected, err = s.store.Channel(ctx, id); errors.Is(err, data.ErrNotFound) {
			return echo.ErrNotFound
		} else if err != nil {
			return err
		}
		if v.Deliveries, err = s.store.ChannelDeliveries(ctx, id, recentChannelDeliveries); err != nil {
			return err
		}
	}
	f := &form{Values: map[string][]string{"lang": {langOf(c)}, "kind": {data.ChannelSlack}}}
	return s.render(c, http.StatusOK, "alerts", &view{Title: s.t(c, "alerts.title"), Form: f, Data: v})
}
