package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// The operator API lets monitoring systems declare incidents, post updates,
// set component statuses, schedule maintenance and watch deliveries, with
// bearer tokens that admins create and revoke in the console. Errors are
// JSON with a code and a message; bad input is never a 500.

// apiError is the body of every API error.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func apiFail(code int, kind, message string) *echo.HTTPError {
	return &echo.HTTPError{Code: code, Message: apiError{Error: apiErrorBody{Code: kind, Message: message}}}
}

// maxAPIBody bounds an API request body.
const maxAPIBody = 256 << 10

// requireToken authenticates a bearer token and checks its scope: reading
// needs any live token, changing needs a write token. Every use is audited.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		raw, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || raw == "" || len(raw) > 200 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="oshirase"`)
			return apiFail(http.StatusUnauthorized, "unauthorized", "An API token is required: Authorization: Bearer TOKEN.")
		}
		tok, err := s.store.UseAPIToken(c.Request().Context(), hashToken(strings.TrimSpace(raw)))
		if errors.Is(err, data.ErrNotFound) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="oshirase", error="invalid_token"`)
			return apiFail(http.StatusUnauthorized, "unauthorized", "The API token is unknown or revoked.")
		}
		if err != nil {
			return err
		}
		if c.Request().Method != http.MethodGet && tok.Scope != data.ScopeWrite {
			return apiFail(http.StatusForbidden, "forbidden", "This API token may only read.")
		}
		c.Set("api_token", tok)
		err = next(c)
		s.auditToken(c, tok, err)
		return err
	}
}

func (s *Server) auditToken(c echo.Context, tok *data.APIToken, err error) {
	status := c.Response().Status
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	}
	// A dry run only says what it would do: marked, as a failure is.
	preview := c.Request().Method != http.MethodGet && c.QueryParam("dry_run") == "true"
	target := auditTarget(c)
	if refs, ok := c.Get("api_refs").(string); ok {
		target = refs // the ids as the API hands them out
	}
	e := data.AuditEntry{IP: c.RealIP(), Action: auditOutcome("api "+c.Request().Method+" "+c.Path(), preview, status), Target: target,
		OperatorEmail: "token:" + tok.Name, OperatorID: tok.CreatedBy}
	b, _ := json.Marshal(map[string]any{"status": status, "token": tok.Name})
	e.Changes = string(b)
	// The client may hang up once it has its answer: the audit is written
	// all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 10*time.Second)
	defer cancel()
	if aerr := s.store.AddAudit(ctx, e); aerr != nil {
		s.log.Error("could not audit an API call", "err", aerr)
	}
}

// apiAudit records what the console records in detail for the same change
// (its action and a before/after diff), in the token's name; every call is
// also audited as an API call by requireToken.
func (s *Server) apiAudit(c echo.Context, action, target string, changes any) {
	e := data.AuditEntry{IP: c.RealIP(), Action: action, Target: target}
	if tok, ok := c.Get("api_token").(*data.APIToken); ok && tok != nil {
		e.OperatorEmail, e.OperatorID = "token:"+tok.Name, tok.CreatedBy
	}
	if changes != nil {
		if b, err := json.Marshal(changes); err == nil {
			e.Changes = string(b)
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 10*time.Second)
	defer cancel()
	if err := s.store.AddAudit(ctx, e); err != nil {
		s.log.Error("could not write the audit trail", "action", action, "err", err)
	}
}

// bindJSON decodes a request body strictly: unknown fields, wrong types,
// trailing data and oversized bodies are 400s that say what was wrong.
func bindJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAPIBody+1))
	if err != nil {
		return apiFail(http.StatusBadRequest, "bad_request", "The body could not be read.")
	}
	if len(body) > maxAPIBody {
		return apiFail(http.StatusRequestEntityTooLarge, "too_large", "The body is larger than 256 KiB.")
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD without a word,
	// and PostgreSQL refuses NUL: both are refused here.
	if !utf8.Valid(body) || bytes.Contains(body, []byte(`\u0000`)) || bytes.IndexByte(body, 0) >= 0 {
		return apiFail(http.StatusBadRequest, "bad_text", "Text must be valid UTF-8 without NUL characters.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := "The body is not valid JSON for this call."
		var te *json.UnmarshalTypeError
		var pe *time.ParseError
		switch {
		case errors.As(err, &te) && te.Field == "":
			msg = "The body must be a JSON object."
		case errors.As(err, &te):
			msg = "Field \"" + te.Field + "\" must be " + jsonKind(te.Type) + "."
		case errors.As(err, &pe):
			msg = "A date-time is not valid (" + strconv.Quote(pe.Value) + "): write it as RFC 3339 with a zone, such as 2026-12-01T09:00:00+09:00."
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			msg = "Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
		}
		return apiFail(http.StatusBadRequest, "bad_request", msg)
	}
	if dec.More() {
		return apiFail(http.StatusBadRequest, "bad_request", "Only one JSON object is allowed.")
	}
	return nil
}

// jsonKind names a Go type as JSON does.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		if t == reflect.TypeFor[time.Time]() {
			return "a date-time string"
		}
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map:
		return "an object"
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return "a date-time string"
		}
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// apiInvalid turns field errors into a 422 naming each field.
func (s *Server) apiInvalid(err error) error {
	var v *data.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	fields := map[string]string{}
	for k, key := range v.Fields {
		fields[k] = s.catalog.T("en", "field."+key)
	}
	return &echo.HTTPError{Code: http.StatusUnprocessableEntity, Message: apiError{Error: apiErrorBody{
		Code: "invalid", Message: "Some fields are not valid.", Fields: fields}}}
}

func apiID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apiFail(http.StatusNotFound, "not_found", "No such "+name+".")
	}
	return id, nil
}

func notFoundJSON(err error, what string) error {
	if errors.Is(err, data.ErrNotFound) {
		return apiFail(http.StatusNotFound, "not_found", "No such "+what+".")
	}
	return err
}

type apiSetComponentStatus struct {
	Status string `json:"status" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance"`
}

// componentsMap reads {"c12": "major_outage"} into component statuses.
func componentsMap(in map[string]string) (map[int64]string, error) {
	out := map[int64]string{}
	for k, v := range in {
		id, err := bodyRef("c", "components", k)
		if err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, nil
}

func (s *Server) apiNotice(notify bool) data.Notice {
	return data.Notice{Send: notify, Hold: !s.opts.MailEnabled}
}

func (s *Server) apiSetComponentStatus(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiSetComponentStatus
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.SetComponentStatus(c.Request().Context(), id, in.Status); err != nil {
		return s.apiInvalid(notFoundJSON(err, "component"))
	}
	s.changed()
	return s.apiShowComponent(c, id, http.StatusOK)
}
