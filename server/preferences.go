package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/mail"
)

// preferencesPage is one address's choices, reached from the signed link
// of any contract it is listed on: the choices belong to the address.
type preferencesPage struct {
	Address *data.Address
	// Lines say, contract by contract, what the address receives and
	// whether it may stop it.
	Lines []string
	Token string
	Langs []string
	Done  bool
	// Query keeps a language the visitor switched to ("?lang=en") on the
	// form's address, so the answer to it speaks that language too.
	Query string
}

// Action is where the preferences form posts.
func (p *preferencesPage) Action() string { return "/preferences/" + p.Token + p.Query }

// addressFromToken finds the address a signed link was made for. A link
// that was tampered with, or whose contact is gone, is a 404.
func (s *Server) addressFromToken(c echo.Context) (*data.Address, int64, string, error) {
	token := c.Param("token")
	var id int64
	ok := false
	for _, secret := range s.secrets() {
		if id, ok = mail.VerifyContactToken(secret, token); ok {
			break
		}
	}
	if !ok || s.opts.Secret == "" {
		return nil, 0, "", echo.ErrNotFound
	}
	a, err := s.store.AddressOfContact(c.Request().Context(), id)
	if err != nil {
		return nil, 0, "", err
	}
	return a, id, token, nil
}

// speakAs shows a contact's page in the address's own language: the link
// came from an email written in it, and a browser set to Japanese (or a
// cookie the status page left) must not turn an English reader's page into
// Japanese. Only the language links (?lang=) switch it. It returns the
// query that keeps a switch on the page's own links and forms.
func speakAs(c echo.Context, a *data.Address) string {
	if c.Request().URL.RawQuery != "" {
		if q := strings.ToLower(strings.TrimSpace(c.QueryParam("lang"))); locale.Supported(q) {
			return "?" + url.Values{"lang": {q}}.Encode()
		}
	}
	if l := a.Lang(); locale.Supported(l) {
		c.Set("lang", l)
	}
	return ""
}

// receiveLines says in the reader's language what the address receives
// through each active contract, from the notice policy.
func (s *Server) receiveLines(c echo.Context, a *data.Address) ([]string, error) {
	pol, err := s.store.Policy(c.Request().Context())
	if err != nil {
		return nil, err
	}
	what := func(role string) string {
		var impacts []string
		maint := false
		for _, p := range pol {
			on := p.NotifyPrimary
			if role == data.RoleAdditional {
				on = p.NotifyAdditional
			}
			switch {
			case !on:
			case p.Impact == data.PolicyMaintenance:
				maint = true
			default:
				impacts = append(impacts, s.t(c, "impact."+p.Impact))
			}
		}
		var parts []string
		if len(impacts) > 0 {
			parts = append(parts, s.t(c, "preferences.what_incidents", "Impacts", strings.Join(impacts, s.t(c, "list.sep_short"))))
		}
		if maint {
			parts = append(parts, s.t(c, "preferences.what_maintenance"))
		}
		if role == data.RolePrimary {
			parts = append(parts, s.t(c, "preferences.what_upgrades"))
		}
		if len(parts) == 0 {
			return ""
		}
		return strings.Join(parts, s.t(c, "list.sep"))
	}
	var lines []string
	for _, m := range a.Memberships {
		if !m.Active {
			continue
		}
		w := what(m.Role)
		key := "preferences.line_" + m.Role
		if w == "" {
			key += "_nothing"
		} else if m.Role == data.RoleAdditional && a.Person.OptedOut {
			key += "_stopped"
		}
		lines = append(lines, s.t(c, key, "Code", m.ContractCode, "Name", m.ContractName, "What", w))
	}
	return lines, nil
}

func (s *Server) preferencesView(c echo.Context, code int, f *form, a *data.Address, token, query string, done bool) error {
	lines, err := s.receiveLines(c, a)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, code, "preferences", &view{Title: s.t(c, "preferences.title"), Form: f,
		Data: &preferencesPage{Address: a, Lines: lines, Token: token, Langs: data.ContactLanguages, Done: done, Query: query}})
}

func choicesForm(a *data.Address) *form {
	f := &form{Values: map[string][]string{"lang": {a.Lang()}}}
	if a.Person.OptedOut {
		f.Values.Set("opt_out", "1")
	}
	return f
}

func (s *Server) showPreferences(c echo.Context) error {
	a, _, token, err := s.addressFromToken(c)
	if err != nil {
		return err
	}
	return s.preferencesView(c, http.StatusOK, choicesForm(a), a, token, speakAs(c, a), false)
}

func (s *Server) savePreferences(c echo.Context) error {
	a, _, token, err := s.addressFromToken(c)
	if err != nil {
		return err
	}
	// The answer speaks the language the form was shown in, not the one
	// just chosen for email.
	query := speakAs(c, a)
	f, err := readForm(c)
	if err != nil {
		return err
	}
	// Only an address that is an additional contact somewhere has anything
	// to opt out of; for the others the box is not even shown.
	optOut := f.Get("opt_out") == "1" && a.Additional()
	err = s.store.SetChoices(c.Request().Context(), a.Person.Email, f.Get("lang"), optOut, data.ChosenByPerson)
	if f.absorb(err) {
		return s.preferencesView(c, http.StatusBadRequest, f, a, token, query, false)
	}
	if err != nil {
		return err
	}
	if a, err = s.store.Address(c.Request().Context(), a.Person.Email); err != nil {
		return err
	}
	return s.preferencesView(c, http.StatusOK, choicesForm(a), a, token, query, true)
}

type unsubscribePage struct {
	Token      string
	Done       bool
	Primary    bool
	Subscriber bool
	// Email is the contact's address the page stops, in full: whoever
	// holds the link already sees it in full on the preferences page the
	// same token opens, and two colleagues' addresses masked alike
	// (r***@example.com) would not say which one this is.
	Email string
	// Query keeps a language the visitor switched to, as on preferences.
	Query string
}

// Action is where the unsubscribe form posts.
func (p *unsubscribePage) Action() string {
	if p.Subscriber {
		return "/subscribe/unsubscribe/" + p.Token
	}
	return "/unsubscribe/" + p.Token + p.Query
}

// showUnsubscribe asks before unsubscribing: link checkers and mail
// scanners open links with GET, and must not unsubscribe anyone.
func (s *Server) showUnsubscribe(c echo.Context) error {
	a, _, token, err := s.addressFromToken(c)
	if err != nil {
		return err
	}
	query := speakAs(c, a)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"),
		Data: &unsubscribePage{Token: token, Done: a.Person.OptedOut, Primary: !a.Additional(), Email: a.Person.Email, Query: query}})
}

// unsubscribe is the RFC 8058 one-click endpoint: a mail client POSTs
// "List-Unsubscribe=One-Click" without cookies, so the signed token is the
// only credential, and no CSRF token is asked for. It stops the address on
// every contract where it is an additional contact.
func (s *Server) unsubscribe(c echo.Context) error {
	a, id, token, err := s.addressFromToken(c)
	if err != nil {
		return err
	}
	// A mail client's one-click POST sends no Accept-Language worth
	// heeding; the page answers in the address's language.
	query := speakAs(c, a)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	err = s.store.OptOutAddress(c.Request().Context(), id)
	var v *data.ValidationError
	if errors.As(err, &v) {
		return s.render(c, http.StatusBadRequest, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"),
			Data: &unsubscribePage{Token: token, Primary: true, Email: a.Person.Email, Query: query}})
	}
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"), Data: &unsubscribePage{Token: token, Done: true, Email: a.Person.Email, Query: query}})
}
