package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

// The customer portal (/my): contract contacts sign in with a single-use
// link mailed to them, bound to the browser that asked, and see their
// contracts' status — contract-only components included — what concerns
// their products, and every notice sent to them. Sessions follow the
// operators' limits.

const (
	portalCookie  = "oshirase_portal"
	portalBrowser = "oshirase_portal_browser"
)

// portalIPLimit and portalEmailLimit bound sign-in link requests: each
// sends an email.
func portalIPLimit(n int) time.Duration { return growingDelay(n, 20) }
func portalEmailLimit(n int) time.Duration {
	if n >= 5 {
		return time.Hour
	}
	return 0
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// contactOf is the signed-in contact's address, or "".
func contactOf(c echo.Context) string {
	e, _ := c.Get("portal_email").(string)
	return e
}

// loadContact reads the portal session cookie, when there is one.
func (s *Server) loadContact(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(s.cookieName(portalCookie)); err == nil && ck.Value != "" {
			email, err := s.store.PortalSessionEmail(c.Request().Context(), sha256Hex(ck.Value), sessionIdle)
			switch {
			case err == nil:
				c.Set("portal_email", email)
				c.Set("portal_session", sha256Hex(ck.Value))
			case !errors.Is(err, data.ErrNotFound):
				return err
			}
		}
		return next(c)
	}
}

// requireContact sends a visitor without a portal session to sign in.
func (s *Server) requireContact(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if contactOf(c) == "" {
			if c.Request().Method == http.MethodGet {
				return c.Redirect(http.StatusSeeOther, "/my")
			}
			return echo.NewHTTPError(http.StatusUnauthorized, "error.login_required")
		}
		return next(c)
	}
}

// portalAudit records a portal action with the contact's address.
func (s *Server) portalAudit(c echo.Context, action, email string, changes any) {
	s.audit(c, action, "contact="+data.NormalizeEmail(email), changes)
}

// portalLoginPage is the sign-in form and what it says after a request.
type portalLoginPage struct {
	Sent bool
}

// portalHome is the signed-in contact's page: their contracts, each with
// its products' status, and what concerns them.
func (s *Server) showPortal(c echo.Context) error {
	if contactOf(c) == "" {
		f := &form{Values: map[string][]string{}}
		return s.render(c, http.StatusOK, "portal_login", &view{Title: s.t(c, "portal.title"), Form: f, Data: &portalLoginPage{}})
	}
	v, err := s.portalView(c.Request().Context(), contactOf(c), true)
	if err != nil {
		return err
	}
	// The latest notices first; all of them on request.
	if c.QueryParam("notices") != "all" && len(v.Deliveries) > shownNotices {
		v.MoreNotices = len(v.Deliveries) - shownNotices
		v.Deliveries = v.Deliveries[:shownNotices]
	}
	return s.render(c, http.StatusOK, "portal_home", &view{Title: s.t(c, "portal.title"), Data: v})
}

// requestPortalLink mails a sign-in link. Every address gets the same
// answer (no account enumeration); requests are throttled per address
// and per typed email, counted before anything is sent.
func (s *Server) requestPortalLink(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	render := func(code int, p *portalLoginPage) error {
		return s.render(c, code, "portal_login", &view{Title: s.t(c, "portal.title"), Form: f, Data: p})
	}
	email := data.NormalizeEmail(f.Get("email"))
	if !data.ValidEmail(email) {
		f.fail("email", "bad_email")
		return render(http.StatusBadRequest, &portalLoginPage{})
	}
	keys := map[string]func(int) time.Duration{
		data.ThrottleKey("portal-ip", c.RealIP()):            portalIPLimit,
		data.ThrottleKey("portal-email", s.keyedHash(email)): portalEmailLimit,
	}
	if until, err := s.store.ReserveAttempt(ctx, keys); err != nil {
		return err
	} else if !until.IsZero() {
		s.retryAfter(c, until)
		f.fail("email", "subscribe_throttled")
		return render(http.StatusTooManyRequests, &portalLoginPage{})
	}
	// The link works only in this browser: it holds a random value whose
	// hash the link's row keeps.
	nonce := randomToken()
	if ck, err := c.Cookie(s.cookieName(portalBrowser)); err == nil && len(ck.Value) >= 32 {
		nonce = ck.Value // the same browser asking again keeps its value
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(portalBrowser), Value: nonce, Path: "/", MaxAge: int(data.PortalLinkLifetime / time.Second),
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	hold := !s.opts.MailEnabled
	made, err := s.store.RequestPortalLink(ctx, email, langOf(c), sha256Hex(nonce), hold, func(id int64) string {
		return sha256Hex(mail.SubscriberToken(s.opts.Secret, mail.PurposePortalLink, id))
	})
	if err != nil {
		return err
	}
	if made {
		s.portalAudit(c, "portal.link_sent", email, nil)
		if !hold {
			s.opts.Wake()
		}
	}
	return render(http.StatusOK, &portalLoginPage{Sent: true})
}

// portalLinkID verifies the link's signature: a forged one is a 404.
func (s *Server) portalLinkID(c echo.Context) (int64, error) {
	if s.opts.Secret == "" {
		return 0, echo.ErrNotFound
	}
	for _, secret := range s.secrets() {
		if id, ok := mail.VerifySubscriberToken(secret, mail.PurposePortalLink, c.Param("token")); ok {
			return id, nil
		}
	}
	return 0, echo.ErrNotFound
}

// portalLinkPage is the page a sign-in link opens: a button, or why the
// link does not work.
type portalLinkPage struct {
	Token, Problem string
}

// showPortalLink asks for a click before the link is spent: mail scanners
// that open links do not sign anyone in, nor use the link up.
func (s *Server) showPortalLink(c echo.Context) error {
	if _, err := s.portalLinkID(c); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "portal_link", &view{Title: s.t(c, "portal.title"), Data: &portalLinkPage{Token: c.Param("token")}})
}

// usePortalLink spends the link and starts a session.
func (s *Server) usePortalLink(c echo.Context) error {
	id, err := s.portalLinkID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	browser := ""
	if ck, err := c.Cookie(s.cookieName(portalBrowser)); err == nil {
		browser = sha256Hex(ck.Value)
	}
	email, err := s.store.UsePortalLink(ctx, id, sha256Hex(c.Param("token")), browser)
	problem := ""
	switch {
	case errors.Is(err, data.ErrLinkUsed), errors.Is(err, data.ErrNotFound):
		problem = "portal.link_used"
	case errors.Is(err, data.ErrLinkExpired):
		problem = "portal.link_expired"
	case errors.Is(err, data.ErrLinkOtherBrowser):
		problem = "portal.link_other_browser"
	case err != nil:
		return err
	}
	if problem != "" {
		s.audit(c, "portal.link_refused", "", map[string]any{"why": problem})
		return s.render(c, http.StatusBadRequest, "portal_link", &view{Title: s.t(c, "portal.title"), Data: &portalLinkPage{Problem: problem}})
	}
	if contacts, _, err := s.store.PortalContacts(ctx, email); err != nil {
		return err
	} else if len(contacts) == 0 {
		// Access ended between the request and the click.
		return s.render(c, http.StatusBadRequest, "portal_link", &view{Title: s.t(c, "portal.title"), Data: &portalLinkPage{Problem: "portal.link_used"}})
	}
	if old, ok := c.Get("portal_session").(string); ok {
		s.store.DeletePortalSession(ctx, old)
	}
	token := randomToken()
	if err := s.store.CreatePortalSession(ctx, sha256Hex(token), email, data.ClientInfo{UserAgent: c.Request().UserAgent(), IP: c.RealIP()}, sessionLifetime); err != nil {
		return err
	}
	s.rotateCSRF(c)
	c.SetCookie(&http.Cookie{Name: s.cookieName(portalCookie), Value: token, Path: "/", HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	c.SetCookie(&http.Cookie{Name: s.cookieName(portalBrowser), Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	s.portalAudit(c, "portal.login", email, nil)
	return c.Redirect(http.StatusSeeOther, "/my")
}

func (s *Server) portalLogout(c echo.Context) error {
	if id, ok := c.Get("portal_session").(string); ok {
		if err := s.store.DeletePortalSession(c.Request().Context(), id); err != nil {
			return err
		}
		s.portalAudit(c, "portal.logout", contactOf(c), nil)
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(portalCookie), Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, "/my")
}

// portalContract is one of the contact's contracts as the portal shows it.
type portalContract struct {
	Contract data.Contract
	// Role is the contact's role in it; PreferencesToken signs their
	// preferences page.
	Role             string
	PreferencesToken string
	Products         []portalProduct
}

// portalProduct is a product of the contract with its components' status
// now (the worst of the operator's status, open incidents and running
// maintenance, as on the page).
type portalProduct struct {
	Product    data.Product
	Components []portalComponent
	Status     string
}

type portalComponent struct {
	Component data.Component
	Status    string
}

// portalPage is everything the signed-in contact may see.
type portalPage struct {
	Email       string
	Contracts   []portalContract
	Incidents   []data.Incident
	Maintenance []data.Maintenance
	Upgrades    []data.Upgrade
	Deliveries  []portalDelivery
	// MoreNotices is how many older notices are not listed.
	MoreNotices int
}

// shownNotices is how many notices the portal lists before "show all".
const shownNotices = 20

// portalDelivery is a notice sent to the contact's address.
type portalDelivery struct {
	Delivery data.Delivery
	Subject  string
	Kind     string
}

// portalView gathers what the contact's contracts concern. Only products
// of their contracts appear; components come from the full catalog, so
// contract-only ones are there.
// With events false it stops at the contracts (their products and
// components), for pages that only need to know what is the contact's.
func (s *Server) portalView(ctx context.Context, email string, events bool) (*portalPage, error) {
	contacts, contracts, err := s.store.PortalContacts(ctx, email)
	if err != nil {
		return nil, err
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return nil, err
	}
	open, err := s.store.OpenIncidents(ctx)
	if err != nil {
		return nil, err
	}
	running, err := s.store.CurrentMaintenances(ctx)
	if err != nil {
		return nil, err
	}
	shown := map[int64]string{}
	for _, inc := range open {
		for id, st := range inc.ComponentStatuses() {
			shown[id] = data.Worst(shown[id], st)
		}
	}
	for _, m := range running {
		if m.Status == data.InProgress || m.Status == data.Verifying {
			for _, mc := range m.Components {
				shown[mc.ComponentID] = data.Worst(shown[mc.ComponentID], data.UnderMaintenance)
			}
		}
	}
	mine := map[int64]bool{}    // products of the contact's contracts
	myComps := map[int64]bool{} // their components
	v := &portalPage{Email: email}
	for _, ct := range contracts {
		pc := portalContract{Contract: ct}
		for _, cc := range contacts {
			if cc.ContractID == ct.ID {
				pc.Role = cc.Role
				if s.opts.Secret != "" {
					pc.PreferencesToken = mail.ContactToken(s.opts.Secret, cc.ID)
				}
			}
		}
		for _, p := range products {
			if !slices.Contains(ct.ProductIDs(), p.ID) {
				continue
			}
			mine[p.ID] = true
			pp := portalProduct{Product: p, Status: data.Operational}
			for _, comp := range p.Components {
				myComps[comp.ID] = true
				st := data.Worst(comp.Status, shown[comp.ID])
				pp.Components = append(pp.Components, portalComponent{Component: comp, Status: st})
				pp.Status = data.Worst(pp.Status, st)
			}
			pc.Products = append(pc.Products, pp)
		}
		v.Contracts = append(v.Contracts, pc)
	}
	if !events {
		return v, nil
	}
	touches := func(ids []int64) bool {
		for _, id := range ids {
			if myComps[id] {
				return true
			}
		}
		return false
	}
	recent, _, err := s.store.RecentIncidents(ctx, 100, 0)
	if err != nil {
		return nil, err
	}
	for _, inc := range recent {
		var ids []int64
		for id := range inc.ComponentStatuses() {
			ids = append(ids, id)
		}
		for _, u := range inc.Updates {
			for _, uc := range u.Components {
				ids = append(ids, uc.ComponentID)
			}
		}
		if touches(ids) {
			v.Incidents = append(v.Incidents, inc)
		}
	}
	windows, _, err := s.store.RecentMaintenances(ctx, 100, 0)
	if err != nil {
		return nil, err
	}
	for _, m := range windows {
		var ids []int64
		for _, mc := range m.Components {
			ids = append(ids, mc.ComponentID)
		}
		if touches(ids) {
			v.Maintenance = append(v.Maintenance, m)
		}
	}
	upgrades, err := s.store.UpcomingUpgrades(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range upgrades {
		if mine[u.ProductID] {
			v.Upgrades = append(v.Upgrades, u)
		}
	}
	ds, ns, err := s.store.DeliveriesTo(ctx, email, 200)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		pd := portalDelivery{Delivery: d}
		if n, ok := ns[d.NotificationID]; ok {
			pd.Kind = n.Kind
			if s.opts.Composer != nil {
				if m, err := s.opts.Composer.Compose(d, n); err == nil {
					pd.Subject = m.Subject
				}
			}
		}
		v.Deliveries = append(v.Deliveries, pd)
	}
	return v, nil
}

// portalNotice is one notice sent to the contact, as it was written.
type portalNotice struct {
	Delivery      data.Delivery
	Subject, Text string
}

// showPortalNotice shows a notice sent to the signed-in address; any other
// delivery is a 404.
func (s *Server) showPortalNotice(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, n, err := s.store.DeliveryTo(c.Request().Context(), contactOf(c), id)
	if errors.Is(err, data.ErrNotFound) || (err == nil && s.opts.Composer == nil) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	m, err := s.opts.Composer.Compose(*d, *n)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "portal_notice", &view{Title: m.Subject, Data: &portalNotice{Delivery: *d, Subject: m.Subject, Text: m.Text}})
}

// portalEvent is an incident or a maintenance window of the contact's
// products, with the names of the components it touches.
type portalEvent struct {
	Incident    *data.Incident
	Maintenance *data.Maintenance
	Names       map[int64]string
}

// portalComponentNames are the names of the contact's components (in the
// page's language); an event that touches none of them is not theirs.
func (s *Server) portalComponentNames(c echo.Context) (map[int64]string, error) {
	v, err := s.portalView(c.Request().Context(), contactOf(c), false)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, ct := range v.Contracts {
		for _, p := range ct.Products {
			for _, comp := range p.Components {
				names[comp.Component.ID] = pickLang(langOf(c), p.Product.NameJA, p.Product.NameEN) + " / " + pickLang(langOf(c), comp.Component.NameJA, comp.Component.NameEN)
			}
		}
	}
	return names, nil
}

func (s *Server) showPortalIncident(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	names, err := s.portalComponentNames(c)
	if err != nil {
		return err
	}
	inc, err := s.store.Incident(c.Request().Context(), id)
	if errors.Is(err, data.ErrNotFound) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	for _, u := range inc.Updates {
		for _, uc := range u.Components {
			if _, ok := names[uc.ComponentID]; ok {
				return s.render(c, http.StatusOK, "portal_incident", &view{Title: pickLang(langOf(c), inc.TitleJA, inc.TitleEN),
					Data: &portalEvent{Incident: inc, Names: names}})
			}
		}
	}
	return echo.ErrNotFound
}

func (s *Server) showPortalMaintenance(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	names, err := s.portalComponentNames(c)
	if err != nil {
		return err
	}
	m, err := s.store.Maintenance(c.Request().Context(), id)
	if errors.Is(err, data.ErrNotFound) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	for _, mc := range m.Components {
		if _, ok := names[mc.ComponentID]; ok {
			return s.render(c, http.StatusOK, "portal_incident", &view{Title: pickLang(langOf(c), m.TitleJA, m.TitleEN),
				Data: &portalEvent{Maintenance: m, Names: names}})
		}
	}
	return echo.ErrNotFound
}

// setContractPortal opens or closes the portal to a contract's contacts.
func (s *Server) setContractPortal(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	open := f.Is("open", "1")
	if err := s.store.SetContractPortal(c.Request().Context(), id, open); err != nil {
		return err
	}
	s.audit(c, "contract.portal", "contract="+strconv.FormatInt(id, 10), map[string]any{"open": open})
	return s.done(c, "flash.saved", "/admin/contracts/"+strconv.FormatInt(id, 10))
}

// portalContactsPage is where a primary contact manages the contract's
// additional contacts.
type portalContactsPage struct {
	Contract       data.Contract
	Langs          []string
	Added, Removed bool
}

// portalContract is the contract :id if the signed-in contact is its
// primary contact; any other is a 404.
func (s *Server) portalPrimaryContract(c echo.Context) (*data.Contract, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	contacts, contracts, err := s.store.PortalContacts(c.Request().Context(), contactOf(c))
	if err != nil {
		return nil, err
	}
	for _, cc := range contacts {
		if cc.ContractID == id && cc.Role == data.RolePrimary {
			for i := range contracts {
				if contracts[i].ID == id {
					return &contracts[i], nil
				}
			}
		}
	}
	return nil, echo.ErrNotFound
}

func (s *Server) renderPortalContacts(c echo.Context, code int, f *form) error {
	k, err := s.portalPrimaryContract(c)
	if err != nil {
		return err
	}
	return s.render(c, code, "portal_contacts", &view{Title: s.t(c, "portal.contacts"), Form: f, Data: &portalContactsPage{Contract: *k, Langs: data.ContactLanguages,
		Added: c.QueryParam("added") == "1", Removed: c.QueryParam("removed") == "1"}})
}

func (s *Server) showPortalContacts(c echo.Context) error {
	return s.renderPortalContacts(c, http.StatusOK, &form{Values: map[string][]string{"lang": {langOf(c)}}})
}

func (s *Server) addPortalContact(c echo.Context) error {
	k, err := s.portalPrimaryContract(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	hold := !s.opts.MailEnabled
	ct, err := s.store.AddPortalContact(c.Request().Context(), k.ID, contactOf(c), data.ContactInput{Name: f.Get("name"), Email: f.Get("email"), Lang: f.Get("lang")}, hold)
	if f.absorb(err) {
		return s.renderPortalContacts(c, http.StatusBadRequest, f)
	}
	if err != nil {
		return err
	}
	s.portalAudit(c, "portal.contact_add", contactOf(c), map[string]any{"contract": k.Code, "added": ct.Email, "lang": ct.Lang})
	if !hold {
		s.opts.Wake()
	}
	return c.Redirect(http.StatusSeeOther, "/my/contracts/"+strconv.FormatInt(k.ID, 10)+"/contacts?added=1")
}

func (s *Server) removePortalContact(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ct, err := s.store.RemovePortalContact(c.Request().Context(), id, contactOf(c))
	if errors.Is(err, data.ErrNotFound) || errors.Is(err, data.ErrNotPrimary) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	s.portalAudit(c, "portal.contact_remove", contactOf(c), map[string]any{"contract_id": ct.ContractID, "removed": ct.Email})
	return c.Redirect(http.StatusSeeOther, "/my/contracts/"+strconv.FormatInt(ct.ContractID, 10)+"/contacts?removed=1")
}

// describeRemovePortalContact asks before a contact is removed.
func (s *Server) describeRemovePortalContact(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	contacts, contracts, err := s.store.PortalContacts(c.Request().Context(), contactOf(c))
	if err != nil {
		return nil, err
	}
	for _, k := range contracts {
		for _, ct := range k.Contacts {
			if ct.ID != id || ct.Role != data.RoleAdditional {
				continue
			}
			for _, me := range contacts {
				if me.ContractID == k.ID && me.Role == data.RolePrimary {
					return &confirmPage{Question: s.t(c, "portal.remove_question", "Email", ct.Email),
						Lines: []string{s.t(c, "portal.remove_effect")}, Back: "/my/contracts/" + strconv.FormatInt(k.ID, 10) + "/contacts"}, nil
				}
			}
		}
	}
	return nil, echo.ErrNotFound
}

// contactConfirmID verifies a confirmation link's signature.
func (s *Server) contactConfirmID(c echo.Context) (int64, error) {
	for _, secret := range s.secrets() {
		if id, ok := mail.VerifySubscriberToken(secret, mail.PurposeContactConfirm, c.Param("token")); ok && s.opts.Secret != "" {
			return id, nil
		}
	}
	return 0, echo.ErrNotFound
}

// portalConfirmPage is the confirmation of an address a customer added.
type portalConfirmPage struct {
	Token string
	Done  bool
}

func (s *Server) showContactConfirm(c echo.Context) error {
	if _, err := s.contactConfirmID(c); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "portal_confirm", &view{Title: s.t(c, "portal.confirm_title"), Data: &portalConfirmPage{Token: c.Param("token")}})
}

func (s *Server) confirmContact(c echo.Context) error {
	id, err := s.contactConfirmID(c)
	if err != nil {
		return err
	}
	ct, err := s.store.ConfirmContact(c.Request().Context(), id)
	if errors.Is(err, data.ErrNotFound) {
		return echo.ErrNotFound // removed before confirming
	} else if err != nil {
		return err
	}
	s.portalAudit(c, "portal.contact_confirm", ct.Email, nil)
	return s.render(c, http.StatusOK, "portal_confirm", &view{Title: s.t(c, "portal.confirm_title"), Data: &portalConfirmPage{Done: true}})
}
