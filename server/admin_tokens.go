package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type tokensPage struct {
	Tokens    []data.APIToken
	New       string
	Lifetimes []string
}

func (s *Server) listTokens(c echo.Context) error {
	return s.renderTokens(c, http.StatusOK, &form{Values: map[string][]string{"scope": {data.ScopeRead}, "expires": {data.DefaultTokenLifetime}}}, "")
}

func (s *Server) renderTokens(c echo.Context, code int, f *form, newToken string) error {
	ts, err := s.store.APITokens(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, code, "tokens", &view{Title: s.t(c, "tokens.title"), Form: f, Data: &tokensPage{Tokens: ts, New: newToken, Lifetimes: data.TokenLifetimes}})
}

// createToken makes an API token and shows it once; only its hash is kept.
func (s *Server) createToken(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	raw := "osh_" + randomToken()
	tok, err := s.store.CreateAPIToken(c.Request().Context(), f.Get("name"), hashToken(raw), f.Get("scope"), f.Get("expires"), operatorOf(c).ID)
	if f.absorb(err) {
		return s.renderTokens(c, http.StatusBadRequest, f, "")
	}
	if err != nil {
		return err
	}
	s.audit(c, "token.create", "token="+tok.Name, map[string]any{"scope": tok.Scope, "expires": tok.ExpiresAt})
	return s.renderTokens(c, http.StatusOK, &form{Values: map[string][]string{"scope": {data.ScopeRead}, "expires": {data.DefaultTokenLifetime}}}, raw)
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	tok, err := s.store.APIToken(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.store.RevokeAPIToken(c.Request().Context(), id); err != nil {
		return err
	}
	s.audit(c, "token.revoke", "token="+tok.Name, nil)
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/tokens")
}
