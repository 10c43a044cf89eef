package server

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/contractcsv"
)

// Contracts, contacts, subscribers, announcements and upgrades through the
// operator API, with the console's validation.

type apiContact struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Lang  string `json:"lang"`
	Role  string `json:"role"`
}

type apiContract struct {
	ID         int64        `json:"id"`
	Code       string       `json:"code"`
	Name       string       `json:"name"`
	Active     bool         `json:"active"`
	ProductIDs []int64      `json:"product_ids"`
	Contacts   []apiContact `json:"contacts"`
}

func toAPIContract(k *data.Contract) apiContract {
	out := apiContract{ID: k.ID, Code: k.Code, Name: k.Name, Active: k.Active, ProductIDs: k.ProductIDs(), Contacts: []apiContact{}}
	if out.ProductIDs == nil {
		out.ProductIDs = []int64{}
	}
	for _, c := range k.Contacts {
		out.Contacts = append(out.Contacts, apiContact{ID: c.ID, Name: c.Name, Email: c.Email, Lang: c.Lang, Role: c.Role})
	}
	return out
}

type apiContractIn struct {
	Code       string  `json:"code"`
	Name       string  `json:"name"`
	Active     bool    `json:"active"`
	ProductIDs []int64 `json:"product_ids"`
}

func (in apiContractIn) input() data.ContractInput {
	return data.ContractInput{Code: in.Code, Name: in.Name, Active: in.Active, ProductIDs: in.ProductIDs}
}

func (s *Server) apiListContracts(c echo.Context) error {
	cs, _, err := s.store.Contracts(c.Request().Context(), data.ContractFilter{Query: c.QueryParam("q")})
	if err != nil {
		return err
	}
	out := make([]apiContract, len(cs))
	for i := range cs {
		out[i] = toAPIContract(&cs[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"contracts": out})
}

func (s *Server) apiContract(c echo.Context, id int64, code int) error {
	k, err := s.store.Contract(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "contract")
	}
	return c.JSON(code, map[string]any{"contract": toAPIContract(k)})
}

func (s *Server) apiCreateContract(c echo.Context) error {
	var in apiContractIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	k, err := s.store.CreateContract(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	return s.apiContract(c, k.ID, http.StatusCreated)
}

func (s *Server) apiUpdateContract(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContractIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.UpdateContract(c.Request().Context(), id, in.input()); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contract"))
	}
	return s.apiContract(c, id, http.StatusOK)
}

func (s *Server) apiAddContact(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContact
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if _, err := s.store.AddContact(c.Request().Context(), id, data.ContactInput{Name: in.Name, Email: in.Email, Lang: in.Lang, Role: in.Role}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contract"))
	}
	return s.apiContract(c, id, http.StatusCreated)
}

func (s *Server) apiDeleteContact(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteContact(c.Request().Context(), id); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contact"))
	}
	return c.NoContent(http.StatusNoContent)
}

type apiImportProblem struct {
	Line   int    `json:"line"`
	Column string `json:"column"`
	Reason string `json:"reason"`
	Value  string `json:"value"`
}

// apiImportContracts takes the console's CSV (UTF-8 or Shift_JIS) as the
// body. ?dry_run=true checks it and says what it would do; otherwise it is
// applied all or nothing. A file with problems changes nothing (422).
func (s *Server) apiImportContracts(c echo.Context) error {
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, maxImportBytes+1))
	if err != nil {
		return err
	}
	if len(raw) > maxImportBytes {
		return apiFail(http.StatusRequestEntityTooLarge, "too_large", "The file is larger than 8 MiB.")
	}
	text, enc, err := contractcsv.Decode(raw)
	if err != nil {
		return apiFail(http.StatusBadRequest, "bad_encoding", "The file is neither UTF-8 nor Shift_JIS.")
	}
	ctx := c.Request().Context()
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	parsed := contractcsv.Parse(text, products)
	out := map[string]any{"encoding": enc, "contracts": len(parsed.Contracts), "contacts": parsed.Contacts(), "dry_run": c.QueryParam("dry_run") == "true"}
	if len(parsed.Problems) > 0 {
		var ps []apiImportProblem
		for _, p := range parsed.Problems {
			ps = append(ps, apiImportProblem{Line: p.Line, Column: p.Column, Reason: s.catalog.T("en", "field."+p.Reason), Value: p.Value})
		}
		out["problems"] = ps
		return c.JSON(http.StatusUnprocessableEntity, out)
	}
	existing, _, err := s.store.Contracts(ctx, data.ContractFilter{})
	if err != nil {
		return err
	}
	kept := []string{}
	for _, k := range contractcsv.PortalKept(parsed.Contracts, existing) {
		kept = append(kept, k.ContractCode+" "+k.Email)
	}
	// Contacts customers added in the portal that the file leaves out:
	// kept, never removed by an import.
	out["portal_kept"] = kept
	if c.QueryParam("dry_run") == "true" {
		return c.JSON(http.StatusOK, out)
	}
	res, err := s.store.ApplyImport(ctx, parsed.Contracts)
	if err != nil {
		return err
	}
	out["result"] = map[string]int{"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged,
		"contacts": res.Contacts, "contacts_removed": res.ContactsRemoved}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiListSubscribers(c echo.Context) error {
	subs, total, err := s.store.Subscribers(c.Request().Context(), c.QueryParam("q"), 200, 0)
	if err != nil {
		return err
	}
	type sub struct {
		ID          int64      `json:"id"`
		Email       string     `json:"email"`
		Lang        string     `json:"lang"`
		ConfirmedAt *time.Time `json:"confirmed_at"`
	}
	out := make([]sub, len(subs))
	for i, x := range subs {
		out[i] = sub{ID: x.ID, Email: x.Email, Lang: x.Lang, ConfirmedAt: x.ConfirmedAt}
	}
	return c.JSON(http.StatusOK, map[string]any{"subscribers": out, "total": total})
}

func (s *Server) apiDeleteSubscriber(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.Unsubscribe(c.Request().Context(), id); err != nil {
		return notFoundJSON(err, "subscriber")
	}
	return c.NoContent(http.StatusNoContent)
}

type apiAnnouncementIn struct {
	TitleJA   string     `json:"title_ja"`
	TitleEN   string     `json:"title_en"`
	BodyJA    string     `json:"body_ja"`
	BodyEN    string     `json:"body_en"`
	ProductID *int64     `json:"product_id"`
	PublishAt *time.Time `json:"publish_at"`
}

func (in apiAnnouncementIn) input() data.AnnouncementInput {
	out := data.AnnouncementInput{TitleJA: in.TitleJA, TitleEN: in.TitleEN, BodyJA: in.BodyJA, BodyEN: in.BodyEN, ProductID: in.ProductID}
	if in.PublishAt != nil {
		out.PublishAt = *in.PublishAt
	}
	return out
}

func (s *Server) apiCreateAnnouncement(c echo.Context) error {
	var in apiAnnouncementIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a, err := s.store.CreateAnnouncement(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, map[string]any{"announcement": map[string]any{"id": a.ID, "title_ja": a.TitleJA, "publish_at": a.PublishAt.UTC()}})
}

func (s *Server) apiUpdateAnnouncement(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiAnnouncementIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.UpdateAnnouncement(c.Request().Context(), id, in.input()); err != nil {
		return s.apiInvalid(notFoundJSON(err, "announcement"))
	}
	s.changed()
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiDeleteAnnouncement(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteAnnouncement(c.Request().Context(), id); err != nil {
		return notFoundJSON(err, "announcement")
	}
	s.changed()
	return c.NoContent(http.StatusNoContent)
}

type apiUpgradeIn struct {
	ProductID int64     `json:"product_id"`
	Version   string    `json:"version"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	SummaryJA string    `json:"summary_ja"`
	SummaryEN string    `json:"summary_en"`
	NotesJA   string    `json:"notes_ja"`
	NotesEN   string    `json:"notes_en"`
}

func (s *Server) apiListUpgrades(c echo.Context) error {
	us, _, err := s.store.Upgrades(c.Request().Context(), 100, 0)
	if err != nil {
		return err
	}
	type up struct {
		ID        int64     `json:"id"`
		ProductID int64     `json:"product_id"`
		Version   string    `json:"version"`
		Status    string    `json:"status"`
		StartsAt  time.Time `json:"starts_at"`
		EndsAt    time.Time `json:"ends_at"`
	}
	out := make([]up, len(us))
	for i, u := range us {
		out[i] = up{ID: u.ID, ProductID: u.ProductID, Version: u.Version, Status: u.Status, StartsAt: u.StartsAt.UTC(), EndsAt: u.EndsAt.UTC()}
	}
	return c.JSON(http.StatusOK, map[string]any{"upgrades": out})
}

func (s *Server) apiCreateUpgrade(c echo.Context) error {
	var in apiUpgradeIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	u, err := s.store.CreateUpgrade(c.Request().Context(), data.UpgradeInput{ProductID: in.ProductID, Version: in.Version, StartsAt: in.StartsAt,
		EndsAt: in.EndsAt, SummaryJA: in.SummaryJA, SummaryEN: in.SummaryEN, NotesJA: in.NotesJA, NotesEN: in.NotesEN, LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, map[string]any{"upgrade": map[string]any{"id": u.ID, "version": u.Version, "status": u.Status}})
}

func (s *Server) apiCancelUpgrade(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Notify bool `json:"notify"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	if err := s.store.CancelUpgrade(c.Request().Context(), id, n); err != nil {
		return s.apiInvalid(notFoundJSON(err, "upgrade"))
	}
	s.changed()
	s.afterNotice(n)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiUpdateContact(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContact
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.UpdateContact(c.Request().Context(), id, data.ContactInput{Name: in.Name, Email: in.Email, Lang: in.Lang, Role: in.Role}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contact"))
	}
	return c.NoContent(http.StatusNoContent)
}

// apiUpdateUpgrade changes an upgrade; a new window tells those already
// told (as the console does).
func (s *Server) apiUpdateUpgrade(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiUpgradeIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	old, err := s.store.Upgrade(ctx, id)
	if err != nil {
		return notFoundJSON(err, "upgrade")
	}
	leads, ok := data.ParseLeads(old.LeadTimes)
	if !ok {
		leads = data.DefaultLeadTimes
	}
	n := data.Notice{Send: true, Hold: !s.opts.MailEnabled}
	if err := s.store.UpdateUpgrade(ctx, id, data.UpgradeInput{ProductID: in.ProductID, Version: in.Version, StartsAt: in.StartsAt,
		EndsAt: in.EndsAt, SummaryJA: in.SummaryJA, SummaryEN: in.SummaryEN, NotesJA: in.NotesJA, NotesEN: in.NotesEN, LeadTimes: leads}, n); err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.afterNotice(n)
	return c.NoContent(http.StatusNoContent)
}
