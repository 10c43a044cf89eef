package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/password"
)

type operatorsPage struct {
	Operators []data.Operator
	Roles     []string
}

func (s *Server) listOperators(c echo.Context) error {
	ops, err := s.store.Operators(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "operators", &view{Title: s.t(c, "operators.title"),
		Data: &operatorsPage{Operators: ops, Roles: []string{data.RoleEditor, data.RoleAdmin}}})
}

func (s *Server) newOperator(c echo.Context) error {
	f := &form{Values: map[string][]string{"role": {data.RoleEditor}}}
	return s.render(c, http.StatusOK, "operator_form", &view{Title: s.t(c, "operators.new"), Form: f,
		Data: &operatorsPage{Roles: []string{data.RoleEditor, data.RoleAdmin}}})
}

func (s *Server) createOperator(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	pw := f.Get("password")
	f.Values.Del("password")
	hash := ""
	if !data.ValidEmail(data.NormalizeEmail(f.Get("email"))) {
		// Checked here too so that a bad password does not hide it.
		f.fail("email", "bad_email")
	}
	if err := password.Check(pw); err != nil {
		f.fail("password", passwordErrorKey(err))
	} else if hash, err = password.Hash(pw); err != nil {
		return err
	}
	if !f.Invalid() {
		_, err = s.store.CreateOperator(c.Request().Context(), data.NewOperator{Email: f.Get("email"), Name: f.Get("name"),
			Role: f.Get("role"), PasswordHash: hash})
	}
	if f.Invalid() || f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "operator_form", &view{Title: s.t(c, "operators.new"), Form: f,
			Data: &operatorsPage{Roles: []string{data.RoleEditor, data.RoleAdmin}}})
	}
	if err != nil {
		return err
	}
	s.setFlash(c, "flash.operator_added")
	return c.Redirect(http.StatusSeeOther, "/admin/operators")
}

func (s *Server) setOperatorRole(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.SetOperatorRole(c.Request().Context(), id, c.FormValue("role")); err != nil {
		return s.refusal(c, err)
	}
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/operators")
}

func (s *Server) setOperatorDisabled(c echo.Context, disabled bool) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.SetOperatorDisabled(c.Request().Context(), id, disabled); err != nil {
		return s.refusal(c, err)
	}
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/operators")
}

func (s *Server) disableOperator(c echo.Context) error { return s.setOperatorDisabled(c, true) }
func (s *Server) enableOperator(c echo.Context) error  { return s.setOperatorDisabled(c, false) }
