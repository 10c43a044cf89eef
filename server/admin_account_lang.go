package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// accountLangs are the languages an operator can choose, for the account
// page's and the invitation forms' choices.
func accountLangs() []string { return data.OperatorLangs }

// changeLanguage sets the language of the operator's console, emails and
// channel alerts. Anything but a language offered is refused and saves
// nothing. The page that follows already speaks the new language.
func (s *Server) changeLanguage(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	op := operatorOf(c)
	lang := f.Get("lang")
	if err := s.store.SetOperatorLang(c.Request().Context(), op.ID, lang); err != nil {
		if f.absorb(err) {
			return s.renderAccount(c, http.StatusBadRequest, f)
		}
		return err
	}
	if lang != op.Language() {
		s.audit(c, "account.lang", "", map[string][2]any{"lang": {op.Language(), lang}})
	}
	s.setFlash(c, "flash.saved")
	// The header's switch comes back to the page it was on.
	back := f.Get("back")
	if !strings.HasPrefix(back, "/admin") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = "/admin/account"
	}
	return c.Redirect(http.StatusSeeOther, back)
}
