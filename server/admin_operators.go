package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
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
	ctx := c.Request().Context()
	invs, err := s.store.Invitations(ctx)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"role": {data.RoleEditor}, "lang": {langOf(c)}}}
	return s.render(c, http.StatusOK, "operator_form", &view{Title: s.t(c, "operators.new"), Form: f,
		Data: &invitePage{Roles: []string{data.RoleEditor, data.RoleAdmin}, Langs: accountLangs(), Invitations: invs}})
}

func (s *Server) setOperatorRole(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	before, err := s.store.Operator(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.store.SetOperatorRole(c.Request().Context(), id, c.FormValue("role")); err != nil {
		return s.refusal(c, err)
	}
	s.audit(c, "operator.role", "operator="+before.Email, map[string][2]any{"role": {before.Role, c.FormValue("role")}})
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/operators")
}

func (s *Server) setOperatorDisabled(c echo.Context, disabled bool) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	before, err := s.store.Operator(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.store.SetOperatorDisabled(c.Request().Context(), id, disabled); err != nil {
		return s.refusal(c, err)
	}
	s.audit(c, "operator.disabled", "operator="+before.Email, map[string][2]any{"disabled": {before.Disabled, disabled}})
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/operators")
}

func (s *Server) disableOperator(c echo.Context) error { return s.setOperatorDisabled(c, true) }
func (s *Server) enableOperator(c echo.Context) error  { return s.setOperatorDisabled(c, false) }
