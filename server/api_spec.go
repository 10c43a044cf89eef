package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// The operator API is declared once, as a list of apiOp: the router serves
// that list and the OpenAPI document is made from it, the bodies' schemas
// from the Go types the handlers decode and encode. So a route cannot be
// undocumented, a path parameter cannot be described as another type than
// the one parsed, and a body cannot have a field the document lacks.
//
// Conventions of the Go types (read by apiSchemaTag below):
//   - a field is required unless its json tag says omitempty; a pointer is
//     nullable;
//   - `ref:"i"` makes a string an id of that kind ("i7"), `enum:"a,b"` lists
//     its values, `doc:"…"` describes it, `min:"30"`/`max:"100"` bound a
//     number, `maxlen:"255"` a string;
//   - request objects refuse unknown fields, as bindJSON does.

// apiAPIVersion is the document's version; README's changelog says what
// each version broke.
const apiAPIVersion = "2.0.0"

// apiOp is one operation of the operator API.
type apiOp struct {
	ID          string // operationId
	Method      string
	Path        string // relative to /api/admin, in Echo's form: /incidents/:id
	Tag         string
	Summary     string
	Description string
	// IDs is the kind of each path parameter in order ("i" for an
	// incident, see apiKinds).
	IDs   []string
	Query []apiParam
	In    any  // the request body's type (a zero value); nil for none
	CSV   bool // the body is text/csv rather than JSON
	// Binary lists the media types of a body that is raw bytes (an image).
	Binary []string
	Out    any // the success body's type; nil for none
	Code   int // the success status
	// Invalid is the 422 body when it is not the usual Error.
	Invalid any
	// Idempotent: takes an Idempotency-Key. Every call but a read and the
	// CSV import does (see apiOps); the import is idempotent by nature.
	Idempotent bool
	// Destructive: takes dry_run=true, which says what the call would
	// change and changes nothing.
	Destructive bool
	// Public: no token needed (the document itself).
	Public bool
	Handle echo.HandlerFunc
}

// apiParam is a query parameter.
type apiParam struct {
	Name, Doc string
	Schema    *openapi3.Schema
}

// apiKind is a kind of object the API hands out ids for.
type apiKind struct{ prefix, name string }

// apiKinds are the id prefixes: an id is its kind's prefix and a number,
// the same form in paths, bodies and the Statuspage JSON ("i7", "c3").
var apiKinds = map[string]string{
	"p": "product", "c": "component", "i": "incident", "u": "incident update",
	"m": "maintenance", "mu": "maintenance update", "k": "contract", "ct": "contact",
	"s": "subscriber", "a": "announcement", "v": "upgrade", "mon": "monitor",
	"n": "notification", "d": "delivery", "t": "template", "ch": "alert channel",
	"in": "integration", "ae": "audit entry", "dr": "draft",
}

// apiRef is the id of object n of a kind: apiRef("i", 7) is "i7".
func apiRef(kind string, n int64) string { return kind + strconv.FormatInt(n, 10) }

// apiRefs is apiRef over a list.
func apiRefs(kind string, ns []int64) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = apiRef(kind, n)
	}
	return out
}

// parseRef reads an id of a kind; anything else (another kind, a bare
// number, a sign, leading zeros) is not one.
func parseRef(kind, s string) (int64, bool) {
	digits, ok := strings.CutPrefix(s, kind)
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 18 {
		return 0, false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// bodyRef reads an id given in a body field; a malformed one is a 422
// naming the field.
func bodyRef(kind, field, s string) (int64, error) {
	n, ok := parseRef(kind, s)
	if !ok {
		return 0, apiFields(map[string]string{field: refHint(kind)})
	}
	return n, nil
}

// bodyRefs is bodyRef over a list.
func bodyRefs(kind, field string, ss []string) ([]int64, error) {
	out := make([]int64, 0, len(ss))
	for _, s := range ss {
		n, err := bodyRef(kind, field, s)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func refHint(kind string) string {
	name := []rune(apiKinds[kind])
	name[0] = unicode.ToUpper(name[0])
	return fmt.Sprintf("%s ids look like %s7.", string(name), kind)
}

// apiFields is a 422 naming fields.
func apiFields(fields map[string]string) *echo.HTTPError {
	return &echo.HTTPError{Code: http.StatusUnprocessableEntity, Message: apiError{Error: apiErrorBody{
		Code: "invalid", Message: "Some fields are not valid.", Fields: fields}}}
}

// apiRequest refuses query parameters the operation does not take (so a
// dry_run sent to a call without one is an error, not done for real),
// checks the path's ids against their kinds and hands the handler the bare
// numbers, so c.Param("id") is "7" for /incidents/i7.
func apiRequest(op apiOp) echo.MiddlewareFunc {
	kinds := op.IDs
	takes := map[string]bool{}
	for _, q := range op.Query {
		takes[q.Name] = true
	}
	if op.Destructive {
		takes["dry_run"] = true
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().URL.RawQuery != "" {
				for name := range c.QueryParams() {
					if !takes[name] {
						return apiFail(http.StatusBadRequest, "bad_request", "This call takes no query parameter "+strconv.Quote(name)+".")
					}
				}
			}
			vals := c.ParamValues()
			var refs []string
			if len(kinds) > 0 {
				c.Set("api_kind", apiKinds[kinds[0]])
			}
			out := make([]string, len(vals))
			for i, v := range vals {
				if i >= len(kinds) {
					out[i] = v
					continue
				}
				n, ok := parseRef(kinds[i], v)
				if !ok {
					return apiFail(http.StatusNotFound, "not_found", "No such "+apiKinds[kinds[i]]+": "+refHint(kinds[i]))
				}
				out[i] = strconv.FormatInt(n, 10)
				refs = append(refs, c.ParamNames()[i]+"="+v)
			}
			c.SetParamValues(out...)
			if refs != nil {
				c.Set("api_refs", strings.Join(refs, " "))
			}
			return next(c)
		}
	}
}

// registerAPI serves the operations under /api/admin.
func (s *Server) registerAPI(e *echo.Echo, group *echo.Group) {
	for _, op := range s.apiOps() {
		mw := []echo.MiddlewareFunc{apiRequest(op)}
		if op.Idempotent {
			mw = append(mw, s.idempotent)
		}
		if op.Public {
			e.Add(op.Method, "/api/admin"+op.Path, op.Handle, mw...)
			continue
		}
		group.Add(op.Method, op.Path, op.Handle, mw...)
	}
}

// apiOps is every operation of the operator API, in the document's order.
func (s *Server) apiOps() []apiOp {
	var ops []apiOp
	for _, part := range [][]apiOp{
		s.catalogOps(), s.incidentOps(), s.maintenanceOps(), s.editOps(), s.peopleOps(), s.noticeOps(), s.monitorOps(), s.settingsOps(),
		{{ID: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Tag: "meta", Summary: "This document", Public: true,
			Out: map[string]any{}, Code: http.StatusOK, Handle: s.showOpenAPI}},
	} {
		ops = append(ops, part...)
	}
	for i := range ops {
		ops[i].Idempotent = ops[i].Method != http.MethodGet && !ops[i].CSV
	}
	return ops
}

// apiShow answers a read of one object (GET /things/:id) with show, which
// also answers the calls that change it.
func apiShow(show func(c echo.Context, id int64, code int) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := apiID(c, "id")
		if err != nil {
			return err
		}
		return show(c, id, http.StatusOK)
	}
}

// Paging: lists take page (from 1) and per_page (1–100, 50 unless given)
// and answer a page with the total and the next page's number.

// apiPage is one page of a list.
type apiPage[T any] struct {
	Items    []T   `json:"items"`
	Page     int   `json:"page"`
	PerPage  int   `json:"per_page"`
	Total    int64 `json:"total"`
	NextPage *int  `json:"next_page" doc:"The next page's number; null on the last page."`
}

func newAPIPage[T any](items []T, page, per int, total int64) apiPage[T] {
	if items == nil {
		items = []T{}
	}
	p := apiPage[T]{Items: items, Page: page, PerPage: per, Total: total}
	if int64(page*per) < total {
		next := page + 1
		p.NextPage = &next
	}
	return p
}

var pagingParams = []apiParam{
	{Name: "page", Doc: "The page, from 1.", Schema: &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: ptr(1.0), Default: 1}},
	{Name: "per_page", Doc: "Items per page, 1 to 100.", Schema: &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: ptr(1.0), Max: ptr(100.0), Default: 50}},
}

func ptr[T any](v T) *T { return &v }

// apiPaging reads page and per_page.
func apiPaging(c echo.Context) (page, per int, err error) {
	page, per = 1, 50
	if v := c.QueryParam("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 || page > 1_000_000 {
			return 0, 0, apiFail(http.StatusBadRequest, "bad_request", `"page" must be a whole number from 1.`)
		}
	}
	if v := c.QueryParam("per_page"); v != "" {
		if per, err = strconv.Atoi(v); err != nil || per < 1 || per > 100 {
			return 0, 0, apiFail(http.StatusBadRequest, "bad_request", `"per_page" must be a whole number from 1 to 100.`)
		}
	}
	return page, per, nil
}

// apiConsequence is what a destructive call changed, or with dry_run would
// change, in the words the console's confirmation uses.
type apiConsequence struct {
	DryRun   bool     `json:"dry_run" doc:"true: nothing was changed; this says what the call would do."`
	Question string   `json:"question"`
	Effects  []string `json:"effects"`
}

// destructive answers a dry run with what the call would change, and
// otherwise does it and answers what it changed.
func (s *Server) destructive(describe describer, do func(c echo.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		dry, err := apiDryRun(c)
		if err != nil {
			return err
		}
		p, err := describe(c)
		if err != nil {
			what, _ := c.Get("api_kind").(string)
			return notFoundJSON(err, what)
		}
		out := apiConsequence{DryRun: dry, Effects: []string{}}
		if p != nil {
			out.Question = p.Question
			out.Effects = append(out.Effects, p.Lines...)
		}
		if dry {
			return c.JSON(http.StatusOK, out)
		}
		if err := do(c); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

func apiDryRun(c echo.Context) (bool, error) {
	switch c.QueryParam("dry_run") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, apiFail(http.StatusBadRequest, "bad_request", `"dry_run" must be true or false.`)
}

func (s *Server) showOpenAPI(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	doc, err := s.openAPIJSON()
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, doc)
}

// openAPIJSON is the document, made once per server (its base address is
// the server's).
func (s *Server) openAPIJSON() ([]byte, error) {
	s.apiDoc.Do(func() {
		doc, err := s.openAPIDoc()
		if err == nil {
			s.apiDocJSON, err = json.Marshal(doc)
		}
		s.apiDocErr = err
	})
	return s.apiDocJSON, s.apiDocErr
}

// openAPIDoc makes the OpenAPI 3.0 document of the operator API.
func (s *Server) openAPIDoc() (*openapi3.T, error) {
	schemas := openapi3.Schemas{}
	gen := openapi3gen.NewGenerator(
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true, ExportTopLevelSchema: true, ExportGenerics: true}),
		openapi3gen.CreateTypeNameGenerator(apiTypeName),
		openapi3gen.SchemaCustomizer(apiSchemaTag))
	schemaOf := func(v any) (*openapi3.SchemaRef, error) {
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			return openapi3.NewObjectSchema().NewRef(), nil
		}
		return gen.NewSchemaRefForValue(v, schemas)
	}
	errRef, err := schemaOf(apiError{})
	if err != nil {
		return nil, err
	}
	errResp := func(desc string) *openapi3.ResponseRef {
		return &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc).WithJSONSchemaRef(errRef)}
	}
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "Oshirase operator API", Version: apiAPIVersion,
			Description: "What the console does, for automation: incidents, maintenance, component statuses, the catalogue, contracts and contacts, " +
				"notices and their deliveries, monitors, templates, branding, alert channels, integrations, the audit log and usage. " +
				"Authenticate with a bearer token an admin creates in the console (scope read or write). Ids are strings with a kind prefix " +
				"(\"i7\" is incident 7, \"c3\" component 3), the same in paths, bodies and the public Statuspage JSON. Lists are paged with " +
				"page and per_page. Errors are {\"error\": {\"code\", \"message\", \"fields\"}}."},
		Servers:  openapi3.Servers{{URL: s.opts.BaseURL.String()}},
		Security: openapi3.SecurityRequirements{{"bearer": []string{}}},
		Components: &openapi3.Components{
			Schemas: schemas,
			SecuritySchemes: openapi3.SecuritySchemes{"bearer": &openapi3.SecuritySchemeRef{
				Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer")}},
		},
		Paths: openapi3.NewPaths(),
	}
	keyParam := openapi3.NewHeaderParameter("Idempotency-Key").WithSchema(&openapi3.Schema{Type: &openapi3.Types{"string"}, MinLength: 1, MaxLength: ptr(uint64(maxIdempotencyKey))})
	keyParam.Description = "Makes the call safe to retry: the same key and body within 24 hours return the first answer (marked Idempotent-Replayed: true) " +
		"and do nothing again; the same key with another body is a 422 (idempotency_key_reused); while the first is still running, a 409 " +
		"(request_in_progress). Keys are per token."
	dryParam := openapi3.NewQueryParameter("dry_run").WithSchema(openapi3.NewBoolSchema())
	dryParam.Description = "true: say what the call would change, and change nothing."
	pathParam := regexp.MustCompile(`:(\w+)`)
	for _, op := range s.apiOps() {
		o := openapi3.NewOperation()
		o.OperationID, o.Summary, o.Description, o.Tags = op.ID, op.Summary, op.Description, []string{op.Tag}
		names := pathParam.FindAllStringSubmatch(op.Path, -1)
		if len(names) != len(op.IDs) {
			return nil, fmt.Errorf("%s: %d path parameters, %d kinds", op.ID, len(names), len(op.IDs))
		}
		for i, m := range names {
			kind := op.IDs[i]
			p := openapi3.NewPathParameter(m[1]).WithSchema(refSchema(kind))
			p.Description = "The " + apiKinds[kind] + "'s id."
			o.AddParameter(p)
		}
		for _, q := range op.Query {
			p := openapi3.NewQueryParameter(q.Name).WithSchema(q.Schema)
			p.Description = q.Doc
			o.AddParameter(p)
		}
		if op.Destructive {
			o.AddParameter(dryParam)
		}
		if op.Idempotent {
			o.AddParameter(keyParam)
		}
		if op.In != nil || op.Binary != nil {
			rb := openapi3.NewRequestBody().WithRequired(true)
			if op.Binary != nil {
				rb = rb.WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema().WithFormat("binary"), op.Binary))
			} else if op.CSV {
				rb = rb.WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{"text/csv"}))
			} else {
				ref, err := schemaOf(op.In)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", op.ID, err)
				}
				rb = rb.WithJSONSchemaRef(ref)
			}
			o.RequestBody = &openapi3.RequestBodyRef{Value: rb}
		}
		ok := openapi3.NewResponse().WithDescription(http.StatusText(op.Code))
		if op.Out != nil {
			ref, err := schemaOf(op.Out)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op.ID, err)
			}
			ok = ok.WithJSONSchemaRef(ref)
		}
		o.AddResponse(op.Code, ok)
		if op.Public {
			o.Security = &openapi3.SecurityRequirements{}
		} else {
			o.Responses.Set("400", errResp("Malformed JSON, an unknown field, a wrong type or a bad query parameter"))
			o.Responses.Set("401", errResp("No token, or an unknown or revoked one"))
			o.Responses.Set("404", errResp("No such object (or an id of another kind)"))
			if op.Method != http.MethodGet {
				o.Responses.Set("403", errResp("A read token on a call that changes something"))
				o.Responses.Set("413", errResp("The body is larger than the call takes"))
				if op.Invalid != nil {
					ref, err := schemaOf(op.Invalid)
					if err != nil {
						return nil, err
					}
					o.Responses.Set("422", &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("Invalid input; nothing changed").WithJSONSchemaRef(ref)})
				} else {
					o.Responses.Set("422", errResp("Invalid fields, named in fields; nothing changed"))
				}
			}
			if op.Idempotent {
				o.Responses.Set("409", errResp("A request with this Idempotency-Key is still being answered"))
			}
			o.Responses.Set("default", errResp("Anything else, such as 503 database_unavailable, with nothing half-done"))
		}
		doc.AddOperation(pathParam.ReplaceAllString("/api/admin"+op.Path, "{$1}"), op.Method, o)
	}
	nameEnums(schemas)
	return doc, nil
}

// apiEnums are value sets used in many places: each is one named schema,
// so a generated client has one type for it rather than one per field.
var apiEnums = []struct {
	name   string
	values []string
}{
	{"ComponentStatus", []string{data.Operational, data.DegradedPerformance, data.PartialOutage, data.MajorOutage, data.UnderMaintenance}},
	{"Impact", []string{"none", "minor", "major", "critical"}},
	{"IncidentStatus", []string{data.Investigating, data.Identified, data.Monitoring, data.Resolved}},
	{"MaintenanceStatus", []string{data.Scheduled, data.InProgress, data.Verifying, data.Completed, data.Cancelled}},
	{"Language", []string{"ja", "en"}},
	{"ContactRole", []string{"primary", "additional"}},
	{"FailureStatus", []string{data.DegradedPerformance, data.PartialOutage, data.MajorOutage}},
	{"MonitorKind", []string{"http", "tcp", "tls", "dns"}},
}

// nameEnums replaces each inline use of an apiEnums set by a reference to
// its schema; a field's own description stays beside the reference.
func nameEnums(schemas openapi3.Schemas) {
	named := map[string]string{}
	for _, e := range apiEnums {
		named[strings.Join(e.values, ",")] = e.name
		schemas[e.name] = openapi3.NewStringSchema().WithEnum(anys(e.values)...).NewRef()
	}
	replace := func(ref *openapi3.SchemaRef) *openapi3.SchemaRef {
		if ref == nil || ref.Ref != "" || ref.Value == nil || len(ref.Value.Enum) == 0 {
			return ref
		}
		vals := make([]string, len(ref.Value.Enum))
		for i, v := range ref.Value.Enum {
			vals[i], _ = v.(string)
		}
		name, ok := named[strings.Join(vals, ",")]
		if !ok {
			return ref
		}
		to := openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
		if ref.Value.Description == "" {
			return to
		}
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Description: ref.Value.Description, AllOf: openapi3.SchemaRefs{to}}}
	}
	for name, s := range schemas {
		if s.Value == nil || slices.ContainsFunc(apiEnums, func(e struct {
			name   string
			values []string
		}) bool {
			return e.name == name
		}) {
			continue
		}
		for prop, p := range s.Value.Properties {
			s.Value.Properties[prop] = replace(p)
			if p.Value != nil && p.Value.Items != nil {
				p.Value.Items = replace(p.Value.Items)
			}
			if p.Value != nil && p.Value.AdditionalProperties.Schema != nil {
				p.Value.AdditionalProperties.Schema = replace(p.Value.AdditionalProperties.Schema)
			}
		}
	}
}

// refSchema is the schema of an id of a kind.
func refSchema(kind string) *openapi3.Schema {
	return &openapi3.Schema{Type: &openapi3.Types{"string"}, Pattern: "^" + kind + "[1-9][0-9]*$", Example: kind + "7"}
}

// apiTypeName names a Go type's schema: apiIncident is Incident,
// apiPage[apiIncident] is IncidentPage.
func apiTypeName(t reflect.Type) string {
	clean := func(n string) string {
		if i := strings.LastIndexByte(n, '.'); i >= 0 {
			n = n[i+1:]
		}
		n = strings.TrimPrefix(n, "api")
		if n == "" {
			return n
		}
		r := []rune(n)
		r[0] = unicode.ToUpper(r[0])
		return string(r)
	}
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 && strings.HasSuffix(name, "]") {
		return clean(name[i+1:len(name)-1]) + clean(name[:i])
	}
	return clean(name)
}

// apiSchemaTag applies the conventions above to a schema made from a Go type.
func apiSchemaTag(_ string, t reflect.Type, tag reflect.StructTag, schema *openapi3.Schema) error {
	if t.Kind() == reflect.Struct && schema.Properties != nil {
		schema.AdditionalProperties = openapi3.AdditionalProperties{Has: ptr(false)}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if !strings.Contains(opts, "omitempty") {
				schema.Required = append(schema.Required, name)
			}
		}
	}
	if d := tag.Get("doc"); d != "" {
		schema.Description = d
	}
	// The items of a list or a map were made with the same tag: the
	// constraints are theirs.
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		return nil
	}
	target := schema
	if kind := tag.Get("ref"); kind != "" {
		if _, ok := apiKinds[kind]; !ok {
			return errors.New("unknown id kind " + kind)
		}
		target.Pattern, target.Example = "^"+kind+"[1-9][0-9]*$", kind+"7"
		if target.Description == "" {
			target.Description = "The " + apiKinds[kind] + "'s id."
		}
	}
	if e := tag.Get("enum"); e != "" {
		for _, v := range strings.Split(e, ",") {
			target.Enum = append(target.Enum, v)
		}
	}
	for key, set := range map[string]func(float64){"min": func(v float64) { schema.Min = &v }, "max": func(v float64) { schema.Max = &v }} {
		if v := tag.Get(key); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return err
			}
			set(f)
		}
	}
	if v := tag.Get("maxlen"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return err
		}
		schema.MaxLength = &n
	}
	return nil
}
