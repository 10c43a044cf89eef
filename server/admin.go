package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

func (s *Server) showLogin(c echo.Context) error {
	if operatorOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/admin")
	}
	if s.sso != nil {
		// Once a while, before the page says whether single sign-on
		// works (here only: no other page waits on the provider).
		s.sso.recheck(c.Request().Context(), false)
	}
	f := &form{Values: map[string][]string{"next": {localPath(c.QueryParam("next"))}}}
	return s.render(c, http.StatusOK, "login", &view{Title: s.t(c, "login.title"), Form: f})
}

func (s *Server) logout(c echo.Context) error {
	if operatorOf(c) != nil {
		s.audit(c, "logout", "", nil)
	}
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
	// Attention counts held and failed notices; FailingUpstreams are the
	// upstream sources whose last check failed (their state shown is old).
	Attention        data.Attention
	FailingUpstreams []data.Upstream
	// SSODown names the identity provider when its last look failed (the
	// login page looks; the dashboard only says what it found).
	SSODown string
}

// QualifiedName is a component's name with its product's, for the page.
func (d *dashboardPage) QualifiedName(id int64, lang string) string {
	return d.qualifiedName(id, lang, " / ")
}

func (s *Server) showDashboard(c echo.Context) error {
	ctx := c.Request().Context()
	cv, open, maints, err := s.liveCatalog(ctx)
	if err != nil {
		return err
	}
	att, err := s.store.NeedsAttention(ctx)
	if err != nil {
		return err
	}
	ups, err := s.store.Upstreams(ctx, 0)
	if err != nil {
		return err
	}
	v := &dashboardPage{catalogView: cv, Open: open, Current: maints, Statuses: data.ComponentStatuses, Attention: att}
	for _, u := range ups {
		if u.Enabled && u.LastError != "" {
			v.FailingUpstreams = append(v.FailingUpstreams, u)
		}
	}
	if s.sso != nil && s.sso.down.Load() {
		v.SSODown = s.sso.opts.Name
	}
	return s.render(c, http.StatusOK, "dashboard", &view{Title: s.t(c, "dashboard.title"), Data: v})
}

func passwordErrorKey(err error) string {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return "password_short"
	case errors.Is(err, password.ErrTooLong):
		return "too_long"
	case errors.Is(err, password.ErrCommon):
		return "password_common"
	case errors.Is(err, password.ErrPersonal):
		return "password_personal"
	default:
		return "bad_text"
	}
}

// personalWords are what an operator's password must not be built from:
// their address and the site's name in both languages.
func (s *Server) personalWords(email string) []string {
	return []string{email, s.catalog.T("ja", "site.name"), s.catalog.T("en", "site.name"), "oshirase"}
}
