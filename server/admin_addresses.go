package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// addressPage is the console's view of one address: where it is listed,
// what it receives, and the choices an operator may record for it (an
// opt-out or a language asked for by phone).
type addressPage struct {
	// Contact is the listing the page was opened from.
	Contact int64
	Address *data.Address
	Lines   []string
	Langs   []string
}

// loadAddress finds the address of the contact named in the route.
func (s *Server) loadAddress(c echo.Context) (int64, *data.Address, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return 0, nil, err
	}
	a, err := s.store.AddressOfContact(c.Request().Context(), id)
	return id, a, err
}

func (s *Server) renderAddress(c echo.Context, code int, f *form, id int64, a *data.Address) error {
	lines, err := s.receiveLines(c, a)
	if err != nil {
		return err
	}
	return s.render(c, code, "address", &view{Title: a.Person.Email, Form: f,
		Data: &addressPage{Contact: id, Address: a, Lines: lines, Langs: data.ContactLanguages}})
}

func (s *Server) showAddress(c echo.Context) error {
	id, a, err := s.loadAddress(c)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"lang": {a.Person.Lang}}}
	if a.Person.OptedOut {
		f.Values.Set("opt_out", "1")
	}
	return s.renderAddress(c, http.StatusOK, f, id, a)
}

// saveAddress records choices on a person's behalf. The audit trail keeps
// who recorded what, before and after.
func (s *Server) saveAddress(c echo.Context) error {
	id, a, err := s.loadAddress(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	before := a.Person
	optOut := f.Get("opt_out") == "1" && a.Additional()
	err = s.store.SetChoices(c.Request().Context(), a.Person.Email, f.Get("lang"), optOut, data.ChosenByOperator)
	if f.absorb(err) {
		return s.renderAddress(c, http.StatusBadRequest, f, id, a)
	}
	if err != nil {
		return err
	}
	after, err := s.store.Address(c.Request().Context(), a.Person.Email)
	if err != nil {
		return err
	}
	s.auditEdit(c, "address.update", "address="+a.Person.Email, choicesAudit(before), choicesAudit(after.Person))
	return s.done(c, "flash.saved", "/admin/contacts/"+strconv.FormatInt(id, 10)+"/address")
}

// choicesAudit is what the audit trail records of a person's choices.
func choicesAudit(p data.Person) map[string]any {
	return map[string]any{"lang": p.Lang, "opted_out": p.OptedOut, "chosen_by": p.ChosenBy}
}
