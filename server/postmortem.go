package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// postmortemPage is the console's form for an incident's postmortem.
type postmortemPage struct {
	Incident *data.Incident
	// Audience is who a notice reaches: the incident's impact and scope.
	Audience *audienceView
}

func (s *Server) loadPostmortemPage(c echo.Context) (*postmortemPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	inc, err := s.store.Incident(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	scope := map[int64]bool{}
	var comps []int64
	for _, u := range inc.Updates {
		for _, cs := range u.Components {
			if !scope[cs.ComponentID] {
				scope[cs.ComponentID] = true
				comps = append(comps, cs.ComponentID)
			}
		}
	}
	a, err := s.audience(c.Request().Context(), inc.Impact, comps)
	if err != nil && !(&form{}).absorb(err) {
		return nil, err
	}
	if a == nil {
		a = &audienceView{Held: !s.opts.MailEnabled}
	}
	return &postmortemPage{Incident: inc, Audience: a}, nil
}

func (s *Server) editPostmortem(c echo.Context) error {
	v, err := s.loadPostmortemPage(c)
	if err != nil {
		return err
	}
	inc := v.Incident
	f := &form{Values: map[string][]string{"postmortem_ja": {inc.PostmortemJA}, "postmortem_en": {inc.PostmortemEN},
		"publish": {boolValue(inc.PostmortemPublishedAt != nil)}}}
	return s.render(c, http.StatusOK, "postmortem", &view{Title: s.t(c, "postmortem.title"), Form: f, Data: v})
}

func (s *Server) savePostmortem(c echo.Context) error {
	v, err := s.loadPostmortemPage(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := data.PostmortemInput{BodyJA: f.Get("postmortem_ja"), BodyEN: f.Get("postmortem_en"), Publish: f.Is("publish", "1"),
		Notice: s.notice(f), OperatorID: &operatorOf(c).ID}
	since := s.opts.Now()
	res, err := s.store.SavePostmortem(c.Request().Context(), v.Incident.ID, in)
	if f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "postmortem", &view{Title: s.t(c, "postmortem.title"), Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	s.audit(c, "incident.postmortem", "incident="+strconv.FormatInt(v.Incident.ID, 10), map[string]any{"published": res.Published, "notified": res.Notified})
	s.changed()
	flash := "flash.postmortem_draft"
	if res.Published {
		flash = "flash.postmortem_published"
	}
	if !res.Notified {
		in.Notice = data.Notice{}
	}
	return s.published(c, in.Notice, flash, "/admin/incidents/"+strconv.FormatInt(v.Incident.ID, 10)+"/postmortem", v.Incident.ID, 0, since)
}
