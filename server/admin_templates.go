package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// templatePage is the list of incident templates and the form for one.
type templatePage struct {
	*incidentFormPage
	Template *data.IncidentTemplate
}

// ProductName names a template's product, or says it is for any.
func (v *templatePage) ProductName(p *page, id *int64) string {
	if id != nil {
		for _, pr := range v.Products {
			if pr.ID == *id {
				return p.L(pr.NameJA, pr.NameEN)
			}
		}
	}
	return p.T("templates.any_product")
}

func (s *Server) templatePage(c echo.Context, t *data.IncidentTemplate) (*templatePage, error) {
	v, err := s.incidentFormPage(c, nil)
	if err != nil {
		return nil, err
	}
	v.IncidentStatuses = []string{data.Investigating, data.Identified, data.Monitoring}
	return &templatePage{incidentFormPage: v, Template: t}, nil
}

func (s *Server) listTemplates(c echo.Context) error {
	v, err := s.templatePage(c, nil)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "templates", &view{Title: s.t(c, "templates.title"), Data: v})
}

func templateForm(t *data.IncidentTemplate) *form {
	f := &form{Values: map[string][]string{"impact": {"minor"}, "status": {data.Investigating}}}
	if t == nil {
		return f
	}
	f.Values = map[string][]string{"name": {t.Name}, "title_ja": {t.TitleJA}, "title_en": {t.TitleEN}, "body_ja": {t.BodyJA},
		"body_en": {t.BodyEN}, "impact": {t.Impact}, "status": {t.Status}}
	if t.ProductID != nil {
		f.Values.Set("product", strconv.FormatInt(*t.ProductID, 10))
	}
	for id, st := range t.ComponentStatuses() {
		f.Values.Set(componentField(id), st)
	}
	return f
}

func (s *Server) newTemplate(c echo.Context) error {
	v, err := s.templatePage(c, nil)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "template_form", &view{Title: s.t(c, "templates.new"), Form: templateForm(nil), Data: v})
}

func (s *Server) loadTemplate(c echo.Context) (*data.IncidentTemplate, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return s.store.Template(c.Request().Context(), id)
}

func (s *Server) editTemplate(c echo.Context) error {
	t, err := s.loadTemplate(c)
	if err != nil {
		return err
	}
	v, err := s.templatePage(c, t)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "template_form", &view{Title: s.t(c, "templates.edit"), Form: templateForm(t), Data: v})
}

func (f *form) templateInput(v *catalogView) data.TemplateInput {
	in := data.TemplateInput{Name: f.Get("name"), TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"), BodyJA: f.Get("body_ja"),
		BodyEN: f.Get("body_en"), Impact: f.Get("impact"), Status: f.Get("status"), Components: f.componentStatuses(v)}
	if p := f.Get("product"); p != "" {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			f.fail("product", "invalid_choice")
		}
		in.ProductID = id
	}
	return in
}

// saveTemplate creates a template (no id in the route) or replaces one.
func (s *Server) saveTemplate(c echo.Context) error {
	var t *data.IncidentTemplate
	if c.Param("id") != "" {
		var err error
		if t, err = s.loadTemplate(c); err != nil {
			return err
		}
	}
	v, err := s.templatePage(c, t)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.templateInput(v.catalogView)
	title := s.t(c, "templates.new")
	if !f.Invalid() {
		if t == nil {
			t, err = s.store.CreateTemplate(c.Request().Context(), in)
		} else {
			title = s.t(c, "templates.edit")
			err = s.store.UpdateTemplate(c.Request().Context(), t.ID, in)
		}
	}
	if f.Invalid() || f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "template_form", &view{Title: title, Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	s.audit(c, "template.save", "template="+strconv.FormatInt(t.ID, 10), map[string]any{"name": in.Name, "impact": in.Impact,
		"title_ja": in.TitleJA, "product": in.ProductID})
	return s.done(c, "flash.template_saved", "/admin/templates/"+strconv.FormatInt(t.ID, 10))
}

func (s *Server) deleteTemplate(c echo.Context) error {
	t, err := s.loadTemplate(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTemplate(c.Request().Context(), t.ID); err != nil {
		return err
	}
	s.audit(c, "template.delete", "template="+strconv.FormatInt(t.ID, 10), map[string]any{"name": t.Name})
	return s.done(c, "flash.deleted", "/admin/templates")
}

func (s *Server) describeDeleteTemplate(c echo.Context) (*confirmPage, error) {
	t, err := s.loadTemplate(c)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_template", "Name", t.Name),
		Lines: []string{s.t(c, "confirm.delete_template_effect")}, Back: "/admin/templates"}, nil
}
