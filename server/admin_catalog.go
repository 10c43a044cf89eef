package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type catalogAdminPage struct {
	*catalogView
	Statuses []string
}

func (s *Server) listProducts(c echo.Context) error {
	// Beside the status set by hand, the one the public page shows, which
	// an open incident or running maintenance can make worse.
	cv, _, _, err := s.liveCatalog(c.Request().Context())
	if err != nil {
		return err
	}
	v := &catalogAdminPage{catalogView: cv, Statuses: data.ComponentStatuses}
	return s.render(c, http.StatusOK, "products", &view{Title: s.t(c, "products.title"), Data: v})
}

func productForm(p *data.Product) *form {
	return &form{Values: map[string][]string{"name_ja": {p.NameJA}, "name_en": {p.NameEN},
		"description_ja": {p.DescriptionJA}, "description_en": {p.DescriptionEN}, "collapsed": {boolValue(p.Collapsed)}}}
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func (f *form) productInput() data.ProductInput {
	return data.ProductInput{NameJA: f.Get("name_ja"), NameEN: f.Get("name_en"),
		DescriptionJA: f.Get("description_ja"), DescriptionEN: f.Get("description_en"), Collapsed: f.Is("collapsed", "1")}
}

type productFormPage struct {
	Product *data.Product
}

func (s *Server) newProduct(c echo.Context) error {
	return s.render(c, http.StatusOK, "product_form", &view{Title: s.t(c, "products.new"), Data: &productFormPage{}})
}

func (s *Server) createProduct(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	if _, err := s.store.CreateProduct(c.Request().Context(), f.productInput()); err != nil {
		if f.absorb(err) {
			return s.render(c, http.StatusBadRequest, "product_form", &view{Title: s.t(c, "products.new"), Form: f, Data: &productFormPage{}})
		}
		return err
	}
	return s.done(c, "flash.saved", "/admin/products")
}

func (s *Server) editProduct(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, err := s.store.Product(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "product_form", &view{Title: s.t(c, "products.edit"), Form: productForm(p), Data: &productFormPage{Product: p}})
}

func (s *Server) updateProduct(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	before, err := s.store.Product(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.UpdateProduct(ctx, id, f.productInput()); err != nil {
		if f.absorb(err) {
			p, perr := s.store.Product(ctx, id)
			if perr != nil {
				return perr
			}
			return s.render(c, http.StatusBadRequest, "product_form", &view{Title: s.t(c, "products.edit"), Form: f, Data: &productFormPage{Product: p}})
		}
		return err
	}
	if after, err := s.store.Product(ctx, id); err == nil {
		s.auditEdit(c, "product.update", "product="+strconv.FormatInt(id, 10), before, after)
	}
	return s.done(c, "flash.saved", "/admin/products")
}

// refusal turns a refused delete, move or role change into a 400 page that says
// why, since those buttons have no form to show errors in.
func (s *Server) refusal(c echo.Context, err error) error {
	f := &form{}
	if f.absorb(err) {
		for _, key := range f.Errors {
			return echo.NewHTTPError(http.StatusBadRequest, "field."+key)
		}
	}
	return err
}

func (s *Server) deleteProduct(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteProduct(c.Request().Context(), id); err != nil {
		return s.refusal(c, err)
	}
	return s.done(c, "flash.deleted", "/admin/products")
}

func moveDelta(c echo.Context) (int, error) {
	switch c.FormValue("direction") {
	case "up":
		return -1, nil
	case "down":
		return 1, nil
	}
	return 0, echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
}

// mover handles "move up/down" for a product or a component: both lists are
// ordered on the products screen.
func (s *Server) mover(move func(ctx context.Context, id int64, delta int) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		d, err := moveDelta(c)
		if err != nil {
			return err
		}
		if err := move(c.Request().Context(), id, d); err != nil {
			return err
		}
		return s.done(c, "flash.saved", "/admin/products")
	}
}

type componentFormPage struct {
	Products  []data.Product
	Component *data.Component
}

func componentForm(cp *data.Component) *form {
	return &form{Values: map[string][]string{"product_id": {strconv.FormatInt(cp.ProductID, 10)},
		"name_ja": {cp.NameJA}, "name_en": {cp.NameEN}, "description_ja": {cp.DescriptionJA}, "description_en": {cp.DescriptionEN},
		"contract_only": {boolValue(cp.ContractOnly)}}}
}

func (f *form) componentInput() data.ComponentInput {
	return data.ComponentInput{ProductID: f.int64Field("product_id"), NameJA: f.Get("name_ja"), NameEN: f.Get("name_en"),
		DescriptionJA: f.Get("description_ja"), DescriptionEN: f.Get("description_en"), ContractOnly: f.Is("contract_only", "1")}
}

func (s *Server) renderComponentForm(c echo.Context, code int, f *form, cp *data.Component) error {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	title := s.t(c, "components.new")
	if cp != nil {
		title = s.t(c, "components.edit")
	}
	return s.render(c, code, "component_form", &view{Title: title, Form: f, Data: &componentFormPage{Products: products, Component: cp}})
}

func (s *Server) newComponent(c echo.Context) error {
	return s.renderComponentForm(c, http.StatusOK, &form{Values: map[string][]string{"product_id": {c.QueryParam("product")}}}, nil)
}

func (s *Server) createComponent(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.componentInput()
	if !f.Invalid() {
		_, err = s.store.CreateComponent(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderComponentForm(c, http.StatusBadRequest, f, nil)
	}
	if err != nil {
		return err
	}
	return s.done(c, "flash.saved", "/admin/products")
}

func (s *Server) editComponent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	cp, err := s.store.Component(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.renderComponentForm(c, http.StatusOK, componentForm(cp), cp)
}

func (s *Server) updateComponent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	cp, err := s.store.Component(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.componentInput()
	if !f.Invalid() {
		err = s.store.UpdateComponent(c.Request().Context(), id, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.renderComponentForm(c, http.StatusBadRequest, f, cp)
	}
	if err != nil {
		return err
	}
	if after, err := s.store.Component(c.Request().Context(), id); err == nil {
		s.auditEdit(c, "component.update", "component="+strconv.FormatInt(id, 10), cp, after)
	}
	return s.done(c, "flash.saved", "/admin/products")
}

func (s *Server) deleteComponent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteComponent(c.Request().Context(), id); err != nil {
		return s.refusal(c, err)
	}
	return s.done(c, "flash.deleted", "/admin/products")
}

// setComponentStatus sets the status an operator chose by hand. Open
// incidents and running maintenance may still show it worse.
func (s *Server) setComponentStatus(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	before, err := s.store.Component(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.store.SetComponentStatus(c.Request().Context(), id, c.FormValue("status")); err != nil {
		return s.refusal(c, err)
	}
	s.audit(c, "component.status", "component="+strconv.FormatInt(id, 10), map[string][2]any{"Status": {before.Status, c.FormValue("status")}})
	back := "/admin"
	if c.FormValue("back") == "products" {
		back = "/admin/products"
	}
	return s.done(c, "flash.status_set", back)
}
