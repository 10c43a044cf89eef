package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/mail"
)

type preferencesPage struct {
	Contact *data.Contact
	Token   string
	Langs   []string
	Done    bool
}

// contactFromToken finds the contact a signed link was made for. A link
// that was tampered with, or whose contact is gone, is a 404.
func (s *Server) contactFromToken(c echo.Context) (*data.Contact, string, error) {
	token := c.Param("token")
	id, ok := mail.VerifyContactToken(s.opts.Secret, token)
	if !ok || s.opts.Secret == "" {
		return nil, "", echo.ErrNotFound
	}
	ct, err := s.store.Contact(c.Request().Context(), id)
	if err != nil {
		return nil, "", err
	}
	return ct, token, nil
}

func (s *Server) showPreferences(c echo.Context) error {
	ct, token, err := s.contactFromToken(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	f := &form{Values: map[string][]string{"lang": {ct.Lang}}}
	if ct.OptedOut {
		f.Values.Set("opt_out", "1")
	}
	return s.render(c, http.StatusOK, "preferences", &view{Title: s.t(c, "preferences.title"), Form: f,
		Data: &preferencesPage{Contact: ct, Token: token, Langs: data.ContactLanguages}})
}

func (s *Server) savePreferences(c echo.Context) error {
	ct, token, err := s.contactFromToken(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	err = s.store.SetContactPreferences(c.Request().Context(), ct.ID, f.Get("lang"), f.Get("opt_out") == "1")
	if f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "preferences", &view{Title: s.t(c, "preferences.title"), Form: f,
			Data: &preferencesPage{Contact: ct, Token: token, Langs: data.ContactLanguages}})
	}
	if err != nil {
		return err
	}
	ct, _ = s.store.Contact(c.Request().Context(), ct.ID)
	return s.render(c, http.StatusOK, "preferences", &view{Title: s.t(c, "preferences.title"), Form: f,
		Data: &preferencesPage{Contact: ct, Token: token, Langs: data.ContactLanguages, Done: true}})
}

type unsubscribePage struct {
	Token      string
	Done       bool
	Primary    bool
	Subscriber bool
}

// Action is where the unsubscribe form posts.
func (p *unsubscribePage) Action() string {
	if p.Subscriber {
		return "/subscribe/unsubscribe/" + p.Token
	}
	return "/unsubscribe/" + p.Token
}

// showUnsubscribe asks before unsubscribing: link checkers and mail
// scanners open links with GET, and must not unsubscribe anyone.
func (s *Server) showUnsubscribe(c echo.Context) error {
	ct, token, err := s.contactFromToken(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"),
		Data: &unsubscribePage{Token: token, Done: ct.OptedOut, Primary: ct.Role == data.RolePrimary}})
}

// unsubscribe is the RFC 8058 one-click endpoint: a mail client POSTs
// "List-Unsubscribe=One-Click" without cookies, so the signed token is the
// only credential, and no CSRF token is asked for.
func (s *Server) unsubscribe(c echo.Context) error {
	ct, token, err := s.contactFromToken(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	err = s.store.OptOut(c.Request().Context(), ct.ID)
	var v *data.ValidationError
	if errors.As(err, &v) {
		return s.render(c, http.StatusBadRequest, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"),
			Data: &unsubscribePage{Token: token, Primary: true}})
	}
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"), Data: &unsubscribePage{Token: token, Done: true}})
}
