package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/password"
)

func (s *Server) showLogin(c echo.Context) error {
	if operatorOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/admin")
	}
	f := &form{Values: map[string][]string{"next": {localPath(c.QueryParam("next"))}}}
	return s.render(c, http.StatusOK, "login", &view{Title: s.t(c, "login.title"), Form: f})
}

// login checks the credentials and starts a new session. The message for a
// wrong address and a wrong password is the same, and takes as long.
func (s *Server) login(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	email, pw := f.Get("email"), f.Get("password")
	f.Values.Del("password")
	ctx := c.Request().Context()
	op, err := s.store.OperatorByEmail(ctx, email)
	switch {
	case errors.Is(err, data.ErrNotFound):
		password.VerifyDummy(pw)
	case err != nil:
		return err
	}
	if op == nil || !password.Verify(pw, op.PasswordHash) || op.Disabled {
		s.log.Info("login failed", "email", data.NormalizeEmail(email), "ip", c.RealIP())
		f.fail("email", "bad_login")
		return s.render(c, http.StatusUnauthorized, "login", &view{Title: s.t(c, "login.title"), Form: f})
	}
	// A fresh random id at every login: a session id planted before login
	// is worth nothing after it.
	if old, ok := c.Get("session").(string); ok {
		s.store.DeleteSession(ctx, old)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	if err := s.store.CreateSession(ctx, hashToken(token), op.ID, sessionLifetime); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName("oshirase_session"), Value: token, Path: "/", HttpOnly: true,
		Secure: s.secure(), SameSite: http.SameSiteLaxMode, MaxAge: int(sessionLifetime.Seconds())})
	s.log.Info("login", "operator", op.ID, "ip", c.RealIP())
	target := localPath(f.Get("next"))
	if target == "" {
		target = "/admin"
	}
	return c.Redirect(http.StatusSeeOther, target)
}

func (s *Server) logout(c echo.Context) error {
	if id, ok := c.Get("session").(string); ok {
		if err := s.store.DeleteSession(c.Request().Context(), id); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	s.setFlash(c, "flash.logged_out")
	return c.Redirect(http.StatusSeeOther, "/admin/login")
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.cookieName("oshirase_session"), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
}

type dashboardPage struct {
	*catalogView
	Open     []data.Incident
	Current  []data.Maintenance
	Statuses []string
}

func (s *Server) showDashboard(c echo.Context) error {
	ctx := c.Request().Context()
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	open, err := s.store.OpenIncidents(ctx)
	if err != nil {
		return err
	}
	maints, err := s.store.CurrentMaintenances(ctx)
	if err != nil {
		return err
	}
	v := &dashboardPage{catalogView: newCatalogView(products, open, maints), Open: open, Current: maints, Statuses: data.ComponentStatuses}
	return s.render(c, http.StatusOK, "dashboard", &view{Title: s.t(c, "dashboard.title"), Data: v})
}

func (s *Server) showAccount(c echo.Context) error {
	return s.render(c, http.StatusOK, "account", &view{Title: s.t(c, "account.title")})
}

// changePassword asks for the current password again before setting a new
// one, and ends the operator's other sessions.
func (s *Server) changePassword(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
	current, next, confirm := f.Get("current"), f.Get("new"), f.Get("confirm")
	f.Values = nil // never echo passwords back
	if !password.Verify(current, op.PasswordHash) {
		f.fail("current", "bad_password")
	}
	if err := password.Check(next); err != nil {
		f.fail("new", passwordErrorKey(err))
	} else if next != confirm {
		f.fail("confirm", "mismatch")
	}
	if f.Invalid() {
		return s.render(c, http.StatusBadRequest, "account", &view{Title: s.t(c, "account.title"), Form: f})
	}
	hash, err := password.Hash(next)
	if err != nil {
		return err
	}
	sess, _ := c.Get("session").(string)
	if err := s.store.SetOperatorPassword(c.Request().Context(), op.ID, hash, sess); err != nil {
		return err
	}
	s.setFlash(c, "flash.password_changed")
	return c.Redirect(http.StatusSeeOther, "/admin/account")
}

func passwordErrorKey(err error) string {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return "password_short"
	case errors.Is(err, password.ErrTooLong):
		return "too_long"
	case errors.Is(err, password.ErrCommon):
		return "password_common"
	default:
		return "bad_text"
	}
}
