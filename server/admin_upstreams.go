package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

// upstreamsPage is what a component follows: each upstream source, its
// last poll, state and error.
type upstreamsPage struct {
	Component *data.Component
	Product   *data.Product
	Upstreams []data.Upstream
}

func (s *Server) showUpstreams(c echo.Context) error {
	comp, prod, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	us, err := s.store.Upstreams(c.Request().Context(), comp.ID)
	if err != nil {
		return err
	}
	v := &upstreamsPage{Component: comp, Product: prod, Upstreams: us}
	return s.render(c, http.StatusOK, "admin_upstreams", &view{Title: s.t(c, "upstream.title") + ": " + comp.NameJA, Data: v})
}

// upstreamFormPage is the form of one upstream.
type upstreamFormPage struct {
	Component *data.Component
	Upstream  *data.Upstream
	Kinds     []string
}

func upstreamForm(in data.UpstreamInput) *form {
	return &form{Values: map[string][]string{"kind": {in.Kind}, "url": {in.URL}, "page_url": {in.PageURL}, "name_ja": {in.NameJA},
		"name_en": {in.NameEN}, "match": {in.Match}, "interval_s": {strconv.Itoa(in.IntervalS)}, "enabled": {boolValue(in.Enabled)}}}
}

func (f *form) upstreamInput(componentID int64) data.UpstreamInput {
	return data.UpstreamInput{ComponentID: componentID, Kind: f.Get("kind"), URL: f.Get("url"), PageURL: f.Get("page_url"),
		NameJA: f.Get("name_ja"), NameEN: f.Get("name_en"), Match: f.Get("match"), IntervalS: f.intField("interval_s"),
		Enabled: f.Is("enabled", "1")}
}

// upstreamReach refuses, before anything is saved, an address the outbound
// policy never lets a poll reach (the poller checks every dial again).
func (s *Server) upstreamReach(in data.UpstreamInput) error {
	u, err := url.Parse(in.URL)
	if err != nil {
		return nil // the store says what is wrong with it
	}
	if err := s.opts.Outbound.CheckHost(u.Hostname()); errors.Is(err, outbound.ErrNeverOpened) {
		return data.Invalid("url", "outbound_never")
	} else if err != nil {
		return data.Invalid("url", "outbound_internal")
	}
	return nil
}

func (s *Server) renderUpstreamForm(c echo.Context, code int, f *form, comp *data.Component, u *data.Upstream) error {
	title := s.t(c, "upstream.new")
	if u != nil {
		title = s.t(c, "upstream.edit")
	}
	return s.render(c, code, "admin_upstream_form", &view{Title: title, Form: f,
		Data: &upstreamFormPage{Component: comp, Upstream: u, Kinds: data.UpstreamKinds}})
}

func (s *Server) newUpstream(c echo.Context) error {
	comp, _, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	return s.renderUpstreamForm(c, http.StatusOK, upstreamForm(data.DefaultUpstream), comp, nil)
}

func (s *Server) createUpstream(c echo.Context) error {
	comp, _, err := s.loadComponent(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.upstreamInput(comp.ID)
	var u *data.Upstream
	if err = s.upstreamReach(in); err == nil && !f.Invalid() {
		u, err = s.store.CreateUpstream(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderUpstreamForm(c, http.StatusBadRequest, f, comp, nil)
	}
	if err != nil {
		return err
	}
	s.audit(c, "upstream.create", "upstream="+strconv.FormatInt(u.ID, 10), in)
	return s.done(c, "flash.saved", "/admin/components/"+strconv.FormatInt(comp.ID, 10)+"/upstreams")
}

// loadUpstream reads the upstream of the request's :id and its component.
func (s *Server) loadUpstream(c echo.Context) (*data.Upstream, *data.Component, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, nil, err
	}
	ctx := c.Request().Context()
	u, err := s.store.Upstream(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	comp, err := s.store.Component(ctx, u.ComponentID)
	if err != nil {
		return nil, nil, err
	}
	return u, comp, nil
}

func (s *Server) editUpstream(c echo.Context) error {
	u, comp, err := s.loadUpstream(c)
	if err != nil {
		return err
	}
	return s.renderUpstreamForm(c, http.StatusOK, upstreamForm(u.Input()), comp, u)
}

func (s *Server) updateUpstream(c echo.Context) error {
	u, comp, err := s.loadUpstream(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.upstreamInput(u.ComponentID)
	var out *data.SignalOutcome
	if err = s.upstreamReach(in); err == nil && !f.Invalid() {
		out, err = s.store.UpdateUpstream(c.Request().Context(), u.ID, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderUpstreamForm(c, http.StatusBadRequest, f, comp, u)
	}
	if err != nil {
		return err
	}
	s.audit(c, "upstream.update", "upstream="+strconv.FormatInt(u.ID, 10), in)
	s.changed()
	s.afterSignal(out)
	return s.done(c, "flash.saved", "/admin/components/"+strconv.FormatInt(u.ComponentID, 10)+"/upstreams")
}

func (s *Server) deleteUpstream(c echo.Context) error {
	u, _, err := s.loadUpstream(c)
	if err != nil {
		return err
	}
	out, err := s.store.DeleteUpstream(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	s.audit(c, "upstream.delete", "upstream="+strconv.FormatInt(u.ID, 10), map[string]any{"name": u.NameJA, "url": u.URL})
	s.changed()
	s.afterSignal(out)
	return s.done(c, "flash.deleted", "/admin/components/"+strconv.FormatInt(u.ComponentID, 10)+"/upstreams")
}

// troubledUpstreams are the upstream sources in trouble of the components
// the view shows (never a contract-only component's on a public page).
func (s *Server) troubledUpstreams(ctx context.Context, v *catalogView) (map[int64][]data.Upstream, error) {
	all, err := s.store.Upstreams(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := map[int64][]data.Upstream{}
	for _, u := range all {
		if u.Troubled() && v.components[u.ComponentID] != nil {
			out[u.ComponentID] = append(out[u.ComponentID], u)
		}
	}
	return out, nil
}
