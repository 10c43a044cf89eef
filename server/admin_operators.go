package server

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type operatorsPage struct {
	Operators []data.Operator
	Roles     []string
	// Sessions is how many browsers each operator is signed in on.
	Sessions map[int64]int
}

func (s *Server) listOperators(c echo.Context) error {
	ctx := c.Request().Context()
	ops, err := s.store.Operators(ctx)
	if err != nil {
		return err
	}
	counts, err := s.store.LiveSessionCounts(ctx, sessionIdle)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "operators", &view{Title: s.t(c, "operators.title"),
		Data: &operatorsPage{Operators: ops, Roles: []string{data.RoleEditor, data.RoleAdmin}, Sessions: counts}})
}

// operatorSessionsPage lists another operator's sessions for an admin, who
// may end any of them (a lost laptop, someone leaving) without disabling
// the account.
type operatorSessionsPage struct {
	Operator *data.Operator
	Sessions []sessionRow
}

// operatorSessions is the operator the path names and their live sessions.
func (s *Server) operatorSessions(c echo.Context) (*data.Operator, []data.Session, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, nil, err
	}
	ctx := c.Request().Context()
	op, err := s.store.Operator(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	sessions, err := s.store.OperatorSessions(ctx, op.ID, sessionIdle)
	return op, sessions, err
}

func (s *Server) showOperatorSessions(c echo.Context) error {
	op, sessions, err := s.operatorSessions(c)
	if err != nil {
		return err
	}
	current, _ := c.Get("session").(string)
	v := &operatorSessionsPage{Operator: op}
	for _, x := range sessions {
		if !x.MFAPending {
			v.Sessions = append(v.Sessions, s.sessionRow(x, current))
		}
	}
	return s.render(c, http.StatusOK, "operator_sessions", &view{Title: s.t(c, "sessions.of", "Email", op.Email), Data: v})
}

// endOperatorSessions ends one session of an operator (the form names it)
// or all of them. Ending the admin's own current session signs them out.
func (s *Server) endOperatorSessions(c echo.Context) error {
	op, sessions, err := s.operatorSessions(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ref := c.FormValue("session")
	current, _ := c.Get("session").(string)
	var ended []map[string]any
	signedOut := false
	for _, x := range sessions {
		if ref != "" && !hmac.Equal([]byte(s.sessionRef(x.ID)), []byte(ref)) {
			continue
		}
		if err := s.store.DeleteOperatorSession(ctx, op.ID, x.ID); errors.Is(err, data.ErrNotFound) {
			continue // ended meanwhile
		} else if err != nil {
			return err
		}
		ended = append(ended, map[string]any{"browser": shortUserAgent(x.UserAgent), "ip": x.IP, "last_ip": x.LastIP})
		signedOut = signedOut || x.ID == current
	}
	if ref != "" && len(ended) == 0 {
		return data.ErrNotFound
	}
	s.audit(c, "operator.sessions_end", "operator="+op.Email, map[string]any{"sessions": ended, "all": ref == ""})
	if signedOut {
		s.clearSessionCookie(c)
		return c.Redirect(http.StatusSeeOther, "/admin/login")
	}
	s.setFlash(c, "sessions.flash_ended")
	return c.Redirect(http.StatusSeeOther, "/admin/operators/"+strconv.FormatInt(op.ID, 10)+"/sessions")
}

// describeEndOperatorSessions asks before signing an operator out of
// every browser (one named session goes without asking, as on the
// account page).
func (s *Server) describeEndOperatorSessions(c echo.Context) (*confirmPage, error) {
	if c.FormValue("session") != "" {
		return nil, nil
	}
	op, sessions, err := s.operatorSessions(c)
	if err != nil {
		return nil, err
	}
	back := "/admin/operators/" + strconv.FormatInt(op.ID, 10) + "/sessions"
	lines := []string{s.t(c, "sessions.end_all_effect", "Count", len(sessions))}
	if me := operatorOf(c); me != nil && me.ID == op.ID {
		lines = append(lines, s.t(c, "sessions.end_all_self"))
	}
	return &confirmPage{Question: s.t(c, "sessions.end_all_confirm", "Email", op.Email), Lines: lines, Back: back,
		Button: s.t(c, "sessions.end_all")}, nil
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
