package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

// outboundPage lists the local and private ranges monitors and operators'
// channels may reach: those opened by configuration (read only here) and
// those admins opened, each with why and by whom.
type outboundPage struct {
	Configured []netip.Prefix
	Opened     []data.OutboundRange
	// Names are the admins who opened the ranges, by operator id.
	Names map[int64]string
}

// OpenedBy is the address of the admin who opened r, or "".
func (v *outboundPage) OpenedBy(r data.OutboundRange) string {
	if r.CreatedBy == nil {
		return ""
	}
	return v.Names[*r.CreatedBy]
}

func (s *Server) renderOutbound(c echo.Context, code int, f *form) error {
	ctx := c.Request().Context()
	rs, err := s.store.OutboundRanges(ctx)
	if err != nil {
		return err
	}
	v := &outboundPage{Configured: s.opts.Outbound.Configured(), Opened: rs, Names: map[int64]string{}}
	ops, err := s.store.Operators(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		v.Names[op.ID] = op.Email
	}
	return s.render(c, code, "outbound", &view{Title: s.t(c, "outbound.title"), Form: f, Data: v})
}

func (s *Server) showOutbound(c echo.Context) error {
	return s.renderOutbound(c, http.StatusOK, &form{})
}

func (s *Server) openOutboundRange(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	id := operatorOf(c).ID
	r, err := s.store.OpenOutboundRange(c.Request().Context(), data.OpenRangeInput{Prefix: f.Get("prefix"), Note: f.Get("note"), CreatedBy: &id})
	if f.absorb(err) {
		return s.renderOutbound(c, http.StatusBadRequest, f)
	}
	if err != nil {
		return err
	}
	s.audit(c, "outbound.open", "range="+r.Prefix, map[string]any{"note": r.Note})
	if err := s.ReloadOutbound(c.Request().Context()); err != nil {
		return err
	}
	return s.done(c, "flash.range_opened", "/admin/outbound")
}

func (s *Server) closeOutboundRange(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	r, err := s.store.CloseOutboundRange(c.Request().Context(), id)
	if err != nil {
		return err
	}
	s.audit(c, "outbound.close", "range="+r.Prefix, map[string]any{"note": r.Note})
	if err := s.ReloadOutbound(c.Request().Context()); err != nil {
		return err
	}
	return s.done(c, "flash.range_closed", "/admin/outbound")
}

func (s *Server) describeCloseOutboundRange(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	rs, err := s.store.OutboundRanges(c.Request().Context())
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.ID == id {
			return &confirmPage{Question: s.t(c, "confirm.close_range", "Range", r.Prefix),
				Lines: []string{r.Note, s.t(c, "confirm.close_range_effect")}, Back: "/admin/outbound"}, nil
		}
	}
	return nil, echo.ErrNotFound
}

// ReloadOutbound reads the opened ranges into the outbound policy. It runs
// after an admin's change here and periodically (every instance reads the
// ranges another opened).
func (s *Server) ReloadOutbound(ctx context.Context) error {
	ps, err := s.store.OpenedPrefixes(ctx)
	if err != nil {
		return err
	}
	s.opts.Outbound.SetOpened(ps)
	return nil
}

// monitorReach refuses, as a field error, a monitor whose target or DNS
// server is an address the policy does not reach; a name is checked where
// it is dialled, and its check says so.
func (s *Server) monitorReach(in data.MonitorInput) error {
	for field, host := range in.Hosts() {
		if err := s.opts.Outbound.CheckHost(host); errors.Is(err, outbound.ErrNeverOpened) {
			return &data.ValidationError{Fields: map[string]string{field: "outbound_never"}}
		} else if err != nil {
			return &data.ValidationError{Fields: map[string]string{field: "outbound_internal"}}
		}
	}
	return nil
}
