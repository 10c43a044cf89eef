package server

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/contractcsv"
)

type contractListPage struct {
	Contracts  []data.Contract
	Products   map[int64]string
	Query      string
	State      string
	Page, Last int
	Total      int64
}

// productNames maps product ids to their Japanese names for lists.
func productNames(ps []data.Product) map[int64]string {
	m := map[int64]string{}
	for _, p := range ps {
		m[p.ID] = p.NameJA
	}
	return m
}

func (s *Server) listContracts(c echo.Context) error {
	ctx := c.Request().Context()
	n := pageParam(c)
	q, state := strings.TrimSpace(c.QueryParam("q")), c.QueryParam("state")
	if state != "active" && state != "ended" {
		state = ""
	}
	cs, total, err := s.store.Contracts(ctx, data.ContractFilter{Query: q, State: state, Limit: adminPageSize, Offset: (n - 1) * adminPageSize})
	if err != nil {
		return err
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "contracts", &view{Title: s.t(c, "contracts.title"), Data: &contractListPage{
		Contracts: cs, Products: productNames(products), Query: q, State: state, Page: n, Last: lastPage(total), Total: total}})
}

// PagerBase is the list URL with the search, for page links.
func (v *contractListPage) PagerBase() string {
	return "/admin/contracts?" + url.Values{"q": {v.Query}, "state": {v.State}}.Encode()
}

type contractFormPage struct {
	Contract *data.Contract
	// People holds the choices of the contract's addresses.
	People   map[string]data.Person
	Products []data.Product
	Roles    []string
	Langs    []string
}

func (s *Server) contractFormPage(c echo.Context, ct *data.Contract) (*contractFormPage, error) {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &contractFormPage{Contract: ct, Products: products, Roles: data.ContactRoles, Langs: data.ContactLanguages}, nil
}

func contractForm(ct *data.Contract) *form {
	f := &form{Values: map[string][]string{"code": {ct.Code}, "name": {ct.Name}}}
	if ct.Active {
		f.Values.Set("active", "1")
	}
	for _, id := range ct.ProductIDs() {
		f.Values.Add("products", strconv.FormatInt(id, 10))
	}
	return f
}

func (f *form) contractInput() data.ContractInput {
	return data.ContractInput{Code: f.Get("code"), Name: f.Get("name"), Active: f.Get("active") == "1", ProductIDs: f.idsField("products")}
}

func (s *Server) newContract(c echo.Context) error {
	v, err := s.contractFormPage(c, nil)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"active": {"1"}}}
	return s.render(c, http.StatusOK, "contract_form", &view{Title: s.t(c, "contracts.new"), Form: f, Data: v})
}

func (s *Server) createContract(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.contractInput()
	var ct *data.Contract
	if !f.Invalid() {
		ct, err = s.store.CreateContract(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		v, verr := s.contractFormPage(c, nil)
		if verr != nil {
			return verr
		}
		return s.render(c, http.StatusBadRequest, "contract_form", &view{Title: s.t(c, "contracts.new"), Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/contracts/"+strconv.FormatInt(ct.ID, 10))
}

func (s *Server) loadContract(c echo.Context) (*data.Contract, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return s.store.Contract(c.Request().Context(), id)
}

// showContract is the contract's page: its details form, its contacts and
// a form to add one.
func (s *Server) showContract(c echo.Context) error {
	ct, err := s.loadContract(c)
	if err != nil {
		return err
	}
	return s.renderContractPage(c, http.StatusOK, ct, nil)
}

// renderContractPage shows a contract; fail, when set, marks fields of
// the page's smaller forms (the SLA card) as refused.
func (s *Server) renderContractPage(c echo.Context, code int, ct *data.Contract, fail map[string]string) error {
	v, err := s.contractFormPage(c, ct)
	if err != nil {
		return err
	}
	emails := make([]string, len(ct.Contacts))
	for i, x := range ct.Contacts {
		emails[i] = x.Email
	}
	if v.People, err = s.store.PeopleChoices(c.Request().Context(), emails); err != nil {
		return err
	}
	f := contractForm(ct)
	f.Values.Set("lang", "ja")
	f.Values.Set("role", data.RoleAdditional)
	for field, key := range fail {
		f.fail(field, key)
	}
	return s.render(c, code, "contract", &view{Title: ct.Name, Form: f, Data: v})
}

func (s *Server) updateContract(c echo.Context) error {
	ct, err := s.loadContract(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := f.contractInput()
	if !f.Invalid() {
		err = s.store.UpdateContract(c.Request().Context(), ct.ID, in)
	}
	if f.Invalid() || f.absorb(err) {
		v, verr := s.contractFormPage(c, ct)
		if verr != nil {
			return verr
		}
		return s.render(c, http.StatusBadRequest, "contract", &view{Title: ct.Name, Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	if after, err := s.store.Contract(c.Request().Context(), ct.ID); err == nil {
		changes := diff(auditFields(ct), auditFields(after))
		if b, a := ct.ProductIDs(), after.ProductIDs(); !sameIDs(b, a) {
			changes["Products"] = [2]any{b, a}
		}
		s.audit(c, "contract.update", "contract="+ct.Code, changes)
	}
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/contracts/"+strconv.FormatInt(ct.ID, 10))
}

func (f *form) contactInput() data.ContactInput {
	return data.ContactInput{Name: f.Get("contact_name"), Email: f.Get("email"), Lang: f.Get("lang"), Role: f.Get("role")}
}

func (s *Server) addContact(c echo.Context) error {
	ct, err := s.loadContract(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	if _, err := s.store.AddContact(c.Request().Context(), ct.ID, f.contactInput()); err != nil {
		if f.absorb(err) {
			v, verr := s.contractFormPage(c, ct)
			if verr != nil {
				return verr
			}
			for k, val := range contractForm(ct).Values {
				f.Values[k] = val
			}
			return s.render(c, http.StatusBadRequest, "contract", &view{Title: ct.Name, Form: f, Data: v})
		}
		return err
	}
	s.setFlash(c, "flash.contact_added")
	return c.Redirect(http.StatusSeeOther, "/admin/contracts/"+strconv.FormatInt(ct.ID, 10))
}

type contactFormPage struct {
	Contact *data.Contact
	Roles   []string
	Langs   []string
}

func (s *Server) editContact(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ct, err := s.store.Contact(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"contact_name": {ct.Name}, "email": {ct.Email}, "lang": {ct.Lang}, "role": {ct.Role}}}
	return s.render(c, http.StatusOK, "contact_form", &view{Title: s.t(c, "contacts.edit"), Form: f,
		Data: &contactFormPage{Contact: ct, Roles: data.ContactRoles, Langs: data.ContactLanguages}})
}

func (s *Server) updateContact(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ct, err := s.store.Contact(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	if err := s.store.UpdateContact(c.Request().Context(), id, f.contactInput()); err != nil {
		if f.absorb(err) {
			return s.render(c, http.StatusBadRequest, "contact_form", &view{Title: s.t(c, "contacts.edit"), Form: f,
				Data: &contactFormPage{Contact: ct, Roles: data.ContactRoles, Langs: data.ContactLanguages}})
		}
		return err
	}
	if after, err := s.store.Contact(c.Request().Context(), id); err == nil {
		s.auditEdit(c, "contact.update", "contact="+strconv.FormatInt(id, 10), ct, after)
	}
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/contracts/"+strconv.FormatInt(ct.ContractID, 10))
}

func (s *Server) deleteContact(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ct, err := s.store.Contact(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteContact(c.Request().Context(), id); err != nil {
		return err
	}
	s.setFlash(c, "flash.deleted")
	return c.Redirect(http.StatusSeeOther, "/admin/contracts/"+strconv.FormatInt(ct.ContractID, 10))
}

// exportContracts downloads every contract and contact as CSV.
func (s *Server) exportContracts(c echo.Context) error {
	ctx := c.Request().Context()
	cs, _, err := s.store.Contracts(ctx, data.ContractFilter{})
	if err != nil {
		return err
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := contractcsv.Write(&buf, cs, products); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="contracts-`+s.opts.Now().In(s.opts.Location).Format("20060102")+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

type importPage struct {
	ID     int64
	Import *contractcsv.Import
	// Kept lists the addresses whose own choices the import leaves alone.
	Kept []data.KeptChoice
	// PortalKept are contacts customers added that the import keeps.
	PortalKept []contractcsv.Removal
	Error      string
	Result     *data.ImportResult
	Problems   []contractcsv.Problem
	More       int
	// Removals are the contacts applying the import deletes, named before
	// the operator applies it; MoreRemovals counts those not listed.
	Removals     []contractcsv.Removal
	MoreRemovals int
	// Example is a file to copy, naming this instance's own products.
	Example string
}

// renderImport shows the import page with its example file.
func (s *Server) renderImport(c echo.Context, code int, page *importPage) error {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	page.Example = importExample(products)
	return s.render(c, code, "contracts_import", &view{Title: s.t(c, "contracts.import"), Data: page})
}

// importExample is the example file of the import page: two contacts of
// one contract using the first two products in the page's order, so the
// file imports as it is; without products, placeholder names.
func importExample(products []data.Product) string {
	var names []string
	for _, p := range products {
		if n := strings.TrimSpace(p.NameJA); n != "" && len(names) < 2 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		names = []string{"製品A", "製品B"}
	}
	uses := strings.Join(names, ";")
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(contractcsv.Columns)
	w.Write([]string{"C-001", "株式会社サンプル", uses, "true", "山田 太郎", "taro@example.jp", "ja", "primary"})
	w.Write([]string{"C-001", "株式会社サンプル", uses, "true", "John Smith", "john@example.com", "en", "additional"})
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// maxShownProblems keeps the preview readable when a whole file is wrong.
const maxShownProblems = 200

// maxShownRemovals bounds the preview's list of contacts an import deletes;
// the rest are counted.
const maxShownRemovals = 500

func (s *Server) showImport(c echo.Context) error {
	return s.renderImport(c, http.StatusOK, &importPage{})
}

// previewImport reads an uploaded CSV and shows what it would do and every
// bad line; nothing is written to the contracts yet.
func (s *Server) previewImport(c echo.Context) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return s.renderImport(c, http.StatusBadRequest, &importPage{Error: "csv_no_file"})
	}
	fd, err := fh.Open()
	if err != nil {
		return err
	}
	defer fd.Close()
	raw, err := io.ReadAll(io.LimitReader(fd, maxImportBytes+1))
	if err != nil {
		return err
	}
	page := &importPage{}
	if len(raw) > maxImportBytes {
		page.Error = "csv_too_large"
		return s.renderImport(c, http.StatusRequestEntityTooLarge, page)
	}
	text, enc, err := contractcsv.Decode(raw)
	if err != nil {
		page.Error = "csv_encoding"
		return s.renderImport(c, http.StatusBadRequest, page)
	}
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	page.Import = contractcsv.Parse(text, products)
	page.Import.Encoding = enc
	page.Problems = page.Import.Problems
	if len(page.Problems) > maxShownProblems {
		page.More = len(page.Problems) - maxShownProblems
		page.Problems = page.Problems[:maxShownProblems]
	}
	code := http.StatusOK
	if len(page.Import.Problems) > 0 {
		code = http.StatusBadRequest
	} else if page.ID, err = s.store.SaveImport(c.Request().Context(), text, operatorOf(c).ID); err != nil {
		return err
	} else if page.Kept, err = s.store.KeptChoices(c.Request().Context(), page.Import.Contracts); err != nil {
		return err
	} else if err = s.importRemovals(c, page); err != nil {
		return err
	}
	return s.renderImport(c, code, page)
}

// importRemovals lists on the preview the contacts the import would
// delete: every contact of a contract in the file that the file leaves out.
func (s *Server) importRemovals(c echo.Context, page *importPage) error {
	existing, _, err := s.store.Contracts(c.Request().Context(), data.ContractFilter{})
	if err != nil {
		return err
	}
	page.Removals = contractcsv.Removals(page.Import.Contracts, existing)
	page.PortalKept = contractcsv.PortalKept(page.Import.Contracts, existing)
	if len(page.Removals) > maxShownRemovals {
		page.MoreRemovals = len(page.Removals) - maxShownRemovals
		page.Removals = page.Removals[:maxShownRemovals]
	}
	return nil
}

// applyImport writes a previewed upload, all or nothing.
func (s *Server) applyImport(c echo.Context) error {
	id, err := strconv.ParseInt(c.FormValue("import"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
	}
	ctx := c.Request().Context()
	imp, err := s.store.Import(ctx, id)
	if err != nil {
		return err
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	// Parsed again: the products may have changed since the preview.
	parsed := contractcsv.Parse(imp.Content, products)
	page := &importPage{Import: parsed, Problems: parsed.Problems}
	if len(parsed.Problems) > 0 {
		return s.renderImport(c, http.StatusBadRequest, page)
	}
	res, err := s.store.ApplyImport(ctx, parsed.Contracts)
	if err != nil {
		return err
	}
	s.store.DeleteImport(ctx, id)
	page.Result = &res
	return s.renderImport(c, http.StatusOK, page)
}

// maxImportBytes bounds a CSV upload (about 50,000 contacts).
const maxImportBytes = 8 << 20

func sameIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[int64]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
