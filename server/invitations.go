package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

// invitationTTL is how long an invitation link works.
const invitationTTL = 72 * time.Hour

type invitePage struct {
	Roles       []string
	Langs       []string
	Link        string
	Invitations []data.Invitation
}

// inviteOperator makes a single-use, expiring link for a new operator, so
// no password is ever sent around; the admin passes the link on.
func (s *Server) inviteOperator(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	lang := f.Get("lang")
	if lang == "" {
		lang = langOf(c) // the inviting admin's, as the form proposes
	}
	if !data.ValidOperatorLang(lang) {
		f.fail("lang", "operatorlang_unknown")
	}
	token := randomToken()
	var inv *data.Invitation
	if !f.Invalid() {
		inv, err = s.store.CreateInvitation(c.Request().Context(), hashToken(token), f.Get("email"), f.Get("role"), lang, operatorOf(c).ID, invitationTTL)
	}
	if f.Invalid() || f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "operator_form", &view{Title: s.t(c, "operators.new"), Form: f,
			Data: &invitePage{Roles: []string{data.RoleEditor, data.RoleAdmin}, Langs: accountLangs()}})
	}
	if err != nil {
		return err
	}
	s.audit(c, "operator.invite", "email="+inv.Email, map[string]any{"role": inv.Role, "lang": lang, "expires_at": inv.ExpiresAt.Format(time.RFC3339)})
	link := s.opts.BaseURL.String() + "/admin/invite/" + token
	return s.render(c, http.StatusOK, "operator_form", &view{Title: s.t(c, "operators.new"), Form: &form{Values: map[string][]string{"lang": {langOf(c)}}},
		Data: &invitePage{Roles: []string{data.RoleEditor, data.RoleAdmin}, Langs: accountLangs(), Link: link}})
}

type acceptPage struct {
	Invitation *data.Invitation
	Langs      []string
}

// inviteeLang shows the invitation in the language the admin chose for
// it, unless the visitor chose another (?lang=, or this browser's cookie).
func inviteeLang(c echo.Context, inv *data.Invitation) string {
	_, cookie := c.Cookie("lang")
	if c.QueryParam("lang") == "" && cookie != nil && data.ValidOperatorLang(inv.Lang) {
		c.Set("lang", inv.Lang)
	}
	return langOf(c)
}

func (s *Server) showInvitation(c echo.Context) error {
	inv, err := s.store.Invitation(c.Request().Context(), hashToken(c.Param("token")))
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"lang": {inviteeLang(c, inv)}}}
	return s.render(c, http.StatusOK, "invite", &view{Title: s.t(c, "invite.title"), Form: f,
		Data: &acceptPage{Invitation: inv, Langs: accountLangs()}})
}

// acceptInvitation creates the account with the password its owner
// chose; the link then stops working.
func (s *Server) acceptInvitation(c echo.Context) error {
	token := c.Param("token")
	ctx := c.Request().Context()
	inv, err := s.store.Invitation(ctx, hashToken(token))
	if err != nil {
		return err
	}
	inviteeLang(c, inv)
	f, err := readForm(c)
	if err != nil {
		return err
	}
	pw, confirm := f.Get("new"), f.Get("confirm")
	f.Values.Del("new")
	f.Values.Del("confirm")
	// Where everyone but the break-glass admins signs in through the
	// identity provider, there is no password to choose: the account is
	// tied to the provider's at its first sign-in there, by its address.
	withPassword := s.passwordFor(inv.Email, inv.Role)
	if withPassword {
		if err := password.Check(pw, s.personalWords(inv.Email)...); err != nil {
			f.fail("new", passwordErrorKey(err))
		} else if pw != confirm {
			f.fail("confirm", "mismatch")
		}
	}
	lang := f.Get("lang") // "": the one the admin chose
	if lang != "" && !data.ValidOperatorLang(lang) {
		f.fail("lang", "operatorlang_unknown")
	}
	page := &acceptPage{Invitation: inv, Langs: accountLangs()}
	if f.Invalid() {
		return s.render(c, http.StatusBadRequest, "invite", &view{Title: s.t(c, "invite.title"), Form: f, Data: page})
	}
	hash := ""
	if withPassword {
		if hash, err = password.Hash(pw); err != nil {
			return err
		}
	}
	op, err := s.store.AcceptInvitation(ctx, hashToken(token), f.Get("name"), hash, lang)
	if f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "invite", &view{Title: s.t(c, "invite.title"), Form: f, Data: page})
	}
	if errors.Is(err, data.ErrNotFound) {
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	c.Set("operator", op)
	changes := map[string]any{"role": op.Role, "lang": op.Language()}
	if !withPassword {
		changes["sso"] = true
	}
	s.audit(c, "operator.accept_invitation", "email="+op.Email, changes)
	if !withPassword {
		c.Set("operator", nil)
		s.setFlash(c, "flash.sso_invite_accepted")
		return c.Redirect(http.StatusSeeOther, "/admin/login")
	}
	if err := s.startSession(c, op, false, "password"); err != nil {
		return err
	}
	s.setFlash(c, "flash.welcome")
	return c.Redirect(http.StatusSeeOther, "/admin")
}
