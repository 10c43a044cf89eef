package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	e := data.AuditEntry{IP: c.RealIP(), Action: auditOutcome("api "+c.Request().Method+" "+c.Path(), preview, status), Target: auditTarget(c),
		OperatorEmail: "token:" + tok.Name, OperatorID: tok.CreatedBy}
	b, _ := json.Marshal(map[string]any{"status": status, "token_id": tok.ID})
	e.Changes = string(b)
	if aerr := s.store.AddAudit(c.Request().Context(), e); aerr != nil {
		s.log.Error("could not audit an API call", "err", aerr)
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
		switch {
		case errors.As(err, &te):
			msg = "Field \"" + te.Field + "\" must be " + te.Type.String() + "."
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

type apiComponentStatus struct {
	Status string `json:"status"`
}

// componentsMap reads {"12": "major_outage"} into component statuses.
func componentsMap(in map[string]string) (map[int64]string, error) {
	out := map[int64]string{}
	for k, v := range in {
		id, err := strconv.ParseInt(strings.TrimPrefix(k, "c"), 10, 64)
		if err != nil || id <= 0 {
			return nil, apiFail(http.StatusBadRequest, "bad_request", "Component ids in \"components\" must be numbers.")
		}
		out[id] = v
	}
	return out, nil
}

func (s *Server) apiNotice(notify bool) data.Notice {
	return data.Notice{Send: notify, Hold: !s.opts.MailEnabled}
}

func (s *Server) apiListComponents(c echo.Context) error {
	d, err := s.loadOperatorAPI(c.Request().Context(), "en")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"components": d.components()})
}

func (s *Server) apiSetComponentStatus(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiComponentStatus
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.SetComponentStatus(c.Request().Context(), id, in.Status); err != nil {
		return s.apiInvalid(notFoundJSON(err, "component"))
	}
	s.changed()
	return c.JSON(http.StatusOK, map[string]any{"id": componentID(id), "status": in.Status})
}

type apiNewIncident struct {
	TitleJA    string            `json:"title_ja"`
	TitleEN    string            `json:"title_en"`
	Impact     string            `json:"impact"`
	Status     string            `json:"status"`
	BodyJA     string            `json:"body_ja"`
	BodyEN     string            `json:"body_en"`
	Components map[string]string `json:"components"`
	StartedAt  *time.Time        `json:"started_at"`
	Notify     bool              `json:"notify"`
}

func (s *Server) apiIncident(c echo.Context, id int64, code int) error {
	inc, err := s.store.Incident(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	d, err := s.loadOperatorAPI(c.Request().Context(), "en")
	if err != nil {
		return err
	}
	return c.JSON(code, map[string]any{"incident": d.incident(inc)})
}

func (s *Server) apiCreateIncident(c echo.Context) error {
	var in apiNewIncident
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	comps, err := componentsMap(in.Components)
	if err != nil {
		return err
	}
	if in.Status == "" {
		in.Status = data.Investigating
	}
	ni := data.NewIncident{TitleJA: in.TitleJA, TitleEN: in.TitleEN, Impact: in.Impact, Status: in.Status, BodyJA: in.BodyJA,
		BodyEN: in.BodyEN, Components: comps, Notice: s.apiNotice(in.Notify)}
	if in.StartedAt != nil {
		ni.StartedAt = *in.StartedAt
	}
	inc, err := s.store.CreateIncident(c.Request().Context(), ni)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.afterNotice(ni.Notice)
	return s.apiIncident(c, inc.ID, http.StatusCreated)
}

type apiUpdate struct {
	Status     string            `json:"status"`
	BodyJA     string            `json:"body_ja"`
	BodyEN     string            `json:"body_en"`
	Components map[string]string `json:"components"`
	Notify     bool              `json:"notify"`
	// Reopen must be true to post a non-resolved update to a resolved
	// incident; At is the time the update describes (default now).
	Reopen bool       `json:"reopen"`
	At     *time.Time `json:"at"`
}

func (s *Server) apiPostUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiUpdate
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	return s.apiUpdateIncident(c, id, in)
}

func (s *Server) apiUpdateIncident(c echo.Context, id int64, in apiUpdate) error {
	ctx := c.Request().Context()
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return notFoundJSON(err, "incident")
	}
	comps, err := componentsMap(in.Components)
	if err != nil {
		return err
	}
	if in.Components == nil {
		comps = inc.ComponentStatuses() // unchanged unless given
	}
	if in.Status == data.Resolved {
		comps = map[int64]string{}
		for cid := range inc.ComponentStatuses() {
			comps[cid] = data.Operational
		}
	}
	n := s.apiNotice(in.Notify)
	up := data.NewIncidentUpdate{Status: in.Status, BodyJA: in.BodyJA, BodyEN: in.BodyEN, Components: comps, Notice: n, Reopen: in.Reopen}
	if in.At != nil {
		up.At = *in.At
	}
	if _, err := s.store.PostIncidentUpdate(ctx, id, up); err != nil {
		return s.apiInvalid(notFoundJSON(err, "incident"))
	}
	s.changed()
	s.afterNotice(n)
	return s.apiIncident(c, id, http.StatusCreated)
}

type apiResolve struct {
	BodyJA string `json:"body_ja"`
	BodyEN string `json:"body_en"`
	Notify bool   `json:"notify"`
}

func (s *Server) apiResolve(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiResolve
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.BodyJA) == "" {
		in.BodyJA = "復旧しました。"
		if in.BodyEN == "" {
			in.BodyEN = "This incident has been resolved."
		}
	}
	return s.apiUpdateIncident(c, id, apiUpdate{Status: data.Resolved, BodyJA: in.BodyJA, BodyEN: in.BodyEN, Notify: in.Notify})
}

type apiNewMaintenance struct {
	TitleJA    string    `json:"title_ja"`
	TitleEN    string    `json:"title_en"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	BodyJA     string    `json:"body_ja"`
	BodyEN     string    `json:"body_en"`
	Components []int64   `json:"components"`
	Notify     bool      `json:"notify"`
}

func (s *Server) apiCreateMaintenance(c echo.Context) error {
	var in apiNewMaintenance
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	m, err := s.store.CreateMaintenance(c.Request().Context(), data.NewMaintenance{TitleJA: in.TitleJA, TitleEN: in.TitleEN,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, BodyJA: in.BodyJA, BodyEN: in.BodyEN, ComponentIDs: in.Components, Notice: n})
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.afterNotice(n)
	return s.apiMaintenance(c, m.ID, http.StatusCreated)
}

// apiMaintenance answers with a maintenance window in Statuspage's shape.
func (s *Server) apiMaintenance(c echo.Context, id int64, code int) error {
	full, err := s.store.Maintenance(c.Request().Context(), id)
	if err != nil {
		return err
	}
	d, err := s.loadOperatorAPI(c.Request().Context(), "en")
	if err != nil {
		return err
	}
	return c.JSON(code, map[string]any{"scheduled_maintenance": d.maintenance(full)})
}

type apiNotification struct {
	ID         int64          `json:"id"`
	Kind       string         `json:"kind"`
	Title      string         `json:"title"`
	CreatedAt  time.Time      `json:"created_at"`
	Deliveries map[string]int `json:"deliveries"`
}

func (s *Server) apiListNotifications(c echo.Context) error {
	ns, counts, total, err := s.store.Notifications(c.Request().Context(), 50, 0)
	if err != nil {
		return err
	}
	out := []apiNotification{}
	for _, n := range ns {
		content, _ := n.Decode()
		out = append(out, apiNotification{ID: n.ID, Kind: n.Kind, Title: content.TitleJA, CreatedAt: n.CreatedAt.UTC(), Deliveries: counts[n.ID]})
	}
	return c.JSON(http.StatusOK, map[string]any{"notifications": out, "total": total})
}

func (s *Server) apiGetNotification(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	n, err := s.store.Notification(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "notification")
	}
	counts, err := s.store.DeliveryCounts(c.Request().Context(), id)
	if err != nil {
		return err
	}
	content, _ := n.Decode()
	return c.JSON(http.StatusOK, map[string]any{"notification": apiNotification{ID: n.ID, Kind: n.Kind, Title: content.TitleJA,
		CreatedAt: n.CreatedAt.UTC(), Deliveries: counts}})
}
