package server

import (
	"io"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/contractcsv"
)

// Contracts, contacts and subscribers through the operator API, with the
// console's validation.

type apiContact struct {
	ID            string     `json:"id" ref:"ct"`
	Name          string     `json:"name"`
	Email         string     `json:"email"`
	Lang          string     `json:"lang" enum:"ja,en"`
	Role          string     `json:"role" enum:"primary,additional"`
	ConfirmedAt   *time.Time `json:"confirmed_at" doc:"null while a contact a customer added in the portal has not confirmed; it gets no notices until then."`
	AddedInPortal bool       `json:"added_in_portal" doc:"Added by the contract's primary contact in the portal; an import keeps it."`
}

type apiContactInput struct {
	Name  *string `json:"name,omitempty" maxlen:"100" doc:"Omitted on a change: kept."`
	Email string  `json:"email" maxlen:"254"`
	Lang  string  `json:"lang" enum:"ja,en"`
	Role  string  `json:"role" enum:"primary,additional"`
}

type apiContract struct {
	ID             string       `json:"id" ref:"k"`
	Code           string       `json:"code"`
	Name           string       `json:"name"`
	Active         bool         `json:"active"`
	EndedAt        *time.Time   `json:"ended_at"`
	PortalDisabled bool         `json:"portal_disabled" doc:"The customer portal is closed to its contacts."`
	SLATarget      string       `json:"sla_target" doc:"Its own availability commitment in percent, or empty for its products'."`
	SLAReportMail  bool         `json:"sla_report_mail" doc:"The month's SLA report is mailed to its primary contacts."`
	StartedAt      *time.Time   `json:"started_at" doc:"When its service began; no SLA period counts before it."`
	ProductIDs     []string     `json:"product_ids" ref:"p"`
	Contacts       []apiContact `json:"contacts"`
}

func toAPIContract(k *data.Contract) apiContract {
	out := apiContract{ID: apiRef("k", k.ID), Code: k.Code, Name: k.Name, Active: k.Active, EndedAt: utcp(k.EndedAt), PortalDisabled: k.PortalDisabled,
		SLATarget: k.SLATarget, SLAReportMail: k.SLAReportMail, StartedAt: utcp(k.StartedAt), ProductIDs: apiRefs("p", k.ProductIDs()), Contacts: []apiContact{}}
	for _, c := range k.Contacts {
		out.Contacts = append(out.Contacts, apiContact{ID: apiRef("ct", c.ID), Name: c.Name, Email: c.Email, Lang: c.Lang, Role: c.Role,
			ConfirmedAt: utcp(c.ConfirmedAt), AddedInPortal: c.AddedByContactID != nil})
	}
	return out
}

type apiContractInput struct {
	Code       string    `json:"code" maxlen:"50"`
	Name       string    `json:"name" maxlen:"200"`
	Active     *bool     `json:"active,omitempty" doc:"false ends the contract (its contacts get no more notices). true unless given to create; omitted on a change: kept."`
	ProductIDs *[]string `json:"product_ids,omitempty" ref:"p" doc:"The products it uses. None unless given to create; omitted on a change: kept."`
}

// input makes the store's input, with what was left out taken from old
// (nil when creating).
func (in apiContractInput) input(old *data.Contract) (data.ContractInput, error) {
	out := data.ContractInput{Code: in.Code, Name: in.Name, Active: true}
	if old != nil {
		out.Active, out.ProductIDs = old.Active, old.ProductIDs()
	}
	if in.Active != nil {
		out.Active = *in.Active
	}
	if in.ProductIDs != nil {
		ids, err := bodyRefs("p", "product_ids", *in.ProductIDs)
		if err != nil {
			return out, err
		}
		out.ProductIDs = ids
	}
	return out, nil
}

// contractFields names the store's fields as the API's.
var contractFields = map[string]string{"products": "product_ids"}

func (s *Server) peopleOps() []apiOp {
	return []apiOp{
		{ID: "listContracts", Method: http.MethodGet, Path: "/contracts", Tag: "contracts", Summary: "List contracts and their contacts",
			Query: append([]apiParam{{Name: "q", Doc: "Matches the code, the name or a contact's email, anywhere.", Schema: openapi3.NewStringSchema()},
				{Name: "state", Doc: "active or ended; both unless given.", Schema: openapi3.NewStringSchema().WithEnum("active", "ended")}}, pagingParams...),
			Out: apiPage[apiContract]{}, Code: http.StatusOK, Handle: s.apiListContracts},
		{ID: "createContract", Method: http.MethodPost, Path: "/contracts", Tag: "contracts", Summary: "Create a contract",
			In: apiContractInput{}, Out: apiContract{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiCreateContract},
		{ID: "getContract", Method: http.MethodGet, Path: "/contracts/:id", IDs: []string{"k"}, Tag: "contracts", Summary: "One contract and its contacts",
			Out: apiContract{}, Code: http.StatusOK, Handle: apiShow(s.apiContract)},
		{ID: "updateContract", Method: http.MethodPut, Path: "/contracts/:id", IDs: []string{"k"}, Tag: "contracts", Summary: "Change a contract",
			In: apiContractInput{}, Out: apiContract{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiUpdateContract},
		{ID: "setContractPortal", Method: http.MethodPut, Path: "/contracts/:id/portal", IDs: []string{"k"}, Tag: "contracts",
			Summary: "Open or close the customer portal to a contract's contacts",
			In:      apiContractPortal{}, Out: apiContract{}, Code: http.StatusOK, Handle: s.apiSetContractPortal},
		{ID: "setContractSLA", Method: http.MethodPut, Path: "/contracts/:id/sla", IDs: []string{"k"}, Tag: "contracts",
			Summary: "A contract's availability commitment, the start of its service and its monthly report mail",
			In:      apiContractSLA{}, Out: apiContract{}, Code: http.StatusOK, Handle: s.apiSetContractSLA},
		{ID: "addContact", Method: http.MethodPost, Path: "/contracts/:id/contacts", IDs: []string{"k"}, Tag: "contracts", Summary: "Add a contact to a contract",
			In: apiContactInput{}, Out: apiContract{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiAddContact},
		{ID: "updateContact", Method: http.MethodPut, Path: "/contacts/:id", IDs: []string{"ct"}, Tag: "contracts", Summary: "Change a contact",
			In: apiContactInput{}, Out: apiContract{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiUpdateContact},
		{ID: "deleteContact", Method: http.MethodDelete, Path: "/contacts/:id", IDs: []string{"ct"}, Tag: "contracts", Summary: "Remove a contact",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteContact, s.apiDeleteContact)},
		{ID: "importContracts", Method: http.MethodPost, Path: "/contracts/import", Tag: "contracts",
			Summary:     "Import contracts and contacts from the console's CSV (UTF-8 or Shift_JIS)",
			Description: "Each imported contract's contacts become exactly the file's, except those customers added in the portal, which are kept. A file with problems changes nothing.",
			Query:       []apiParam{{Name: "dry_run", Doc: "true: check and count, change nothing.", Schema: openapi3.NewBoolSchema()}},
			In:          "", CSV: true, Out: apiImport{}, Invalid: apiImport{}, Code: http.StatusOK, Handle: s.apiImportContracts},
		{ID: "listSubscribers", Method: http.MethodGet, Path: "/subscribers", Tag: "subscribers", Summary: "List email subscribers",
			Query: append([]apiParam{{Name: "q", Doc: "Matches the address, anywhere.", Schema: openapi3.NewStringSchema()}}, pagingParams...),
			Out:   apiPage[apiSubscriber]{}, Code: http.StatusOK, Handle: s.apiListSubscribers},
		{ID: "deleteSubscriber", Method: http.MethodDelete, Path: "/subscribers/:id", IDs: []string{"s"}, Tag: "subscribers", Summary: "Remove a subscriber",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteSubscriber, s.apiDeleteSubscriber)},
	}
}

func (s *Server) apiListContracts(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	state := c.QueryParam("state")
	if state != "" && state != "active" && state != "ended" {
		return apiFail(http.StatusBadRequest, "bad_request", `"state" must be active or ended.`)
	}
	cs, total, err := s.store.Contracts(c.Request().Context(), data.ContractFilter{Query: c.QueryParam("q"), State: state, Limit: per, Offset: (page - 1) * per})
	if err != nil {
		return err
	}
	out := make([]apiContract, len(cs))
	for i := range cs {
		out[i] = toAPIContract(&cs[i])
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

func (s *Server) apiContract(c echo.Context, id int64, code int) error {
	k, err := s.store.Contract(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "contract")
	}
	return c.JSON(code, toAPIContract(k))
}

func (s *Server) apiCreateContract(c echo.Context) error {
	var in apiContractInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	input, err := in.input(nil)
	if err != nil {
		return err
	}
	k, err := s.store.CreateContract(c.Request().Context(), input)
	if err != nil {
		return s.apiInvalid(apiRenamed(err, contractFields))
	}
	return s.apiContract(c, k.ID, http.StatusCreated)
}

func (s *Server) apiUpdateContract(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContractInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	old, err := s.store.Contract(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "contract")
	}
	input, err := in.input(old)
	if err != nil {
		return err
	}
	if err := s.store.UpdateContract(c.Request().Context(), id, input); err != nil {
		return s.apiInvalid(apiRenamed(notFoundJSON(err, "contract"), contractFields))
	}
	return s.apiContract(c, id, http.StatusOK)
}

type apiContractPortal struct {
	Open bool `json:"open"`
}

func (s *Server) apiSetContractPortal(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContractPortal
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.SetContractPortal(c.Request().Context(), id, in.Open); err != nil {
		return notFoundJSON(err, "contract")
	}
	s.apiAudit(c, "contract.portal", "contract="+apiRef("k", id), map[string]any{"open": in.Open})
	return s.apiContract(c, id, http.StatusOK)
}

type apiContractSLA struct {
	SLATarget  string     `json:"sla_target,omitempty" doc:"Availability committed to in percent (\"99.95\"), overriding its products'; empty: theirs."`
	StartedAt  *time.Time `json:"started_at,omitempty" doc:"When its service began; no SLA period counts before it."`
	ReportMail bool       `json:"report_mail,omitempty" doc:"Mail the month's report to its primary contacts."`
}

func (s *Server) apiSetContractSLA(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContractSLA
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if data.CheckSLATarget(in.SLATarget) != nil {
		return apiFields(map[string]string{"sla_target": "A percentage above 0 and at most 100, such as 99.9."})
	}
	if err := s.store.SetContractSLA(c.Request().Context(), id, data.ContractSLA{SLATarget: in.SLATarget, StartedAt: in.StartedAt, ReportMail: in.ReportMail}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contract"))
	}
	s.apiAudit(c, "contract.sla", "contract="+apiRef("k", id), map[string]any{"sla_target": in.SLATarget, "report_mail": in.ReportMail})
	return s.apiContract(c, id, http.StatusOK)
}

func (s *Server) apiAddContact(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContactInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if _, err := s.store.AddContact(c.Request().Context(), id, data.ContactInput{Name: deref(in.Name), Email: in.Email, Lang: in.Lang, Role: in.Role}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contract"))
	}
	return s.apiContract(c, id, http.StatusCreated)
}

func (s *Server) apiUpdateContact(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiContactInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	ct, err := s.store.Contact(ctx, id)
	if err != nil {
		return notFoundJSON(err, "contact")
	}
	name := ct.Name
	if in.Name != nil {
		name = *in.Name
	}
	if err := s.store.UpdateContact(ctx, id, data.ContactInput{Name: name, Email: in.Email, Lang: in.Lang, Role: in.Role}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contact"))
	}
	return s.apiContract(c, ct.ContractID, http.StatusOK)
}

func (s *Server) apiDeleteContact(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteContact(c.Request().Context(), id); err != nil {
		return s.apiInvalid(notFoundJSON(err, "contact"))
	}
	return nil
}

type apiImportProblem struct {
	Line   int    `json:"line"`
	Column string `json:"column"`
	Reason string `json:"reason"`
	Value  string `json:"value"`
}

// apiImport is what an import found and did (or, as a dry run, would do).
type apiImport struct {
	Encoding   string             `json:"encoding" doc:"The file's encoding as read."`
	Contracts  int                `json:"contracts"`
	Contacts   int                `json:"contacts"`
	DryRun     bool               `json:"dry_run"`
	Problems   []apiImportProblem `json:"problems" doc:"Line by line; any problem means nothing changed (422)."`
	PortalKept []string           `json:"portal_kept" doc:"Contacts customers added in the portal that the file leaves out: kept (\"CODE email\")."`
	Result     *apiImportResult   `json:"result,omitempty" doc:"What was done; absent for a dry run or a file with problems."`
}

type apiImportResult struct {
	Created         int `json:"created"`
	Updated         int `json:"updated"`
	Unchanged       int `json:"unchanged"`
	Contacts        int `json:"contacts"`
	ContactsRemoved int `json:"contacts_removed"`
}

// apiImportContracts takes the console's CSV (UTF-8 or Shift_JIS) as the
// body. ?dry_run=true checks it and says what it would do; otherwise it is
// applied all or nothing. A file with problems changes nothing (422).
func (s *Server) apiImportContracts(c echo.Context) error {
	dry, err := apiDryRun(c)
	if err != nil {
		return err
	}
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
	out := apiImport{Encoding: enc, Contracts: len(parsed.Contracts), Contacts: parsed.Contacts(), DryRun: dry, Problems: []apiImportProblem{}, PortalKept: []string{}}
	if len(parsed.Problems) > 0 {
		for _, p := range parsed.Problems {
			out.Problems = append(out.Problems, apiImportProblem{Line: p.Line, Column: p.Column, Reason: s.catalog.T("en", "field."+p.Reason), Value: p.Value})
		}
		return c.JSON(http.StatusUnprocessableEntity, out)
	}
	existing, _, err := s.store.Contracts(ctx, data.ContractFilter{})
	if err != nil {
		return err
	}
	// Contacts customers added in the portal that the file leaves out:
	// kept, never removed by an import.
	for _, k := range contractcsv.PortalKept(parsed.Contracts, existing) {
		out.PortalKept = append(out.PortalKept, k.ContractCode+" "+k.Email)
	}
	if dry {
		return c.JSON(http.StatusOK, out)
	}
	res, err := s.store.ApplyImport(ctx, parsed.Contracts)
	if err != nil {
		return err
	}
	out.Result = &apiImportResult{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, Contacts: res.Contacts, ContactsRemoved: res.ContactsRemoved}
	return c.JSON(http.StatusOK, out)
}

type apiSubscriber struct {
	ID          string     `json:"id" ref:"s"`
	Email       string     `json:"email"`
	Lang        string     `json:"lang" enum:"ja,en"`
	AllProducts bool       `json:"all_products"`
	ProductIDs  []string   `json:"product_ids" ref:"p" doc:"The products followed when not all."`
	ConfirmedAt *time.Time `json:"confirmed_at" doc:"null until the address is confirmed (double opt-in)."`
	CreatedAt   time.Time  `json:"created_at"`
}

func (s *Server) apiListSubscribers(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	subs, total, err := s.store.Subscribers(c.Request().Context(), c.QueryParam("q"), per, (page-1)*per)
	if err != nil {
		return err
	}
	out := make([]apiSubscriber, len(subs))
	for i, x := range subs {
		ids := make([]int64, len(x.Products))
		for j, p := range x.Products {
			ids[j] = p.ProductID
		}
		out[i] = apiSubscriber{ID: apiRef("s", x.ID), Email: x.Email, Lang: x.Lang, AllProducts: x.AllProducts, ProductIDs: apiRefs("p", ids),
			ConfirmedAt: utcp(x.ConfirmedAt), CreatedAt: x.CreatedAt.UTC()}
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

func (s *Server) apiDeleteSubscriber(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.Unsubscribe(c.Request().Context(), id); err != nil {
		return notFoundJSON(err, "subscriber")
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
