package server

// Branding, alert channels, integrations, the audit log and usage through
// the operator API, with the console's validation, confirmation and audit.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
	"github.com/oshirase/oshirase/internal/outbound"
)

func (s *Server) settingsOps() []apiOp {
	return []apiOp{
		{ID: "getBranding", Method: http.MethodGet, Path: "/branding", Tag: "branding", Summary: "The page's branding",
			Out: apiBranding{}, Code: http.StatusOK, Handle: s.apiGetBranding},
		{ID: "updateBranding", Method: http.MethodPut, Path: "/branding", Tag: "branding", Summary: "Replace the branding",
			Description: "Replaces every setting at once; an omitted one goes back to the default. An uploaded logo (PUT /branding/logo) stays " +
				"unless logo_url is given, which replaces it.",
			In: apiBrandingInput{}, Out: apiBranding{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiUpdateBranding},
		{ID: "uploadLogo", Method: http.MethodPut, Path: "/branding/logo", Tag: "branding", Summary: "Upload the logo",
			Description: "The request body is the image itself, sent as application/octet-stream or its image type: PNG, JPEG, GIF or WebP " +
				"(read from the bytes, not the Content-Type), up to 256 KiB and 4096 pixels a side; SVG is refused. It replaces a logo URL. " +
				"A file that is not such an image is a 422 naming logo.",
			Binary: []string{"application/octet-stream", "image/png", "image/jpeg", "image/gif", "image/webp"},
			Out:    apiBranding{}, Code: http.StatusOK, Idempotent: true, Handle: s.apiUploadLogo},
		{ID: "deleteLogo", Method: http.MethodDelete, Path: "/branding/logo", Tag: "branding", Summary: "Remove the logo (uploaded or by URL)",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteLogo, s.apiDeleteLogo)},

		{ID: "listAlertChannels", Method: http.MethodGet, Path: "/alert-channels", Tag: "alerts", Summary: "The operators' alert channels",
			Description: "Where what operators must act on (a monitor detecting a problem, for one) is sent besides email. Addresses are shown " +
				"as scheme and host only, as in the console.",
			Out: apiList[apiAlertChannel]{}, Code: http.StatusOK, Handle: s.apiListAlertChannels},
		{ID: "createAlertChannel", Method: http.MethodPost, Path: "/alert-channels", Tag: "alerts", Summary: "Verify and add an alert channel",
			Description: "As in the console, the address is checked (https, or an internal range an admin opened) and sent a verification: " +
				"Slack and Teams must accept a short message, a webhook must answer with the challenge. Only then is it saved.",
			In: apiAlertChannelInput{}, Out: apiAlertChannel{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiCreateAlertChannel},
		{ID: "deleteAlertChannel", Method: http.MethodDelete, Path: "/alert-channels/:id", IDs: []string{"ch"}, Tag: "alerts",
			Summary: "Delete an alert channel", Description: "What it had still to receive is dropped.",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteAlertChannel, s.apiDeleteAlertChannel)},

		{ID: "listIntegrations", Method: http.MethodGet, Path: "/integrations", Tag: "integrations", Summary: "The alert webhooks, newest first",
			Out: apiList[apiIntegration]{}, Code: http.StatusOK, Handle: s.apiListIntegrations},
		{ID: "createIntegration", Method: http.MethodPost, Path: "/integrations", Tag: "integrations", Summary: "Create an alert webhook",
			Description: "Answers the webhook URL, with its secret, this once: only its hash is kept. If it is lost, revoke the integration and create another.",
			In:          apiIntegrationInput{}, Out: apiNewIntegration{}, Code: http.StatusCreated, Idempotent: true, Handle: s.apiCreateIntegration},
		{ID: "revokeIntegration", Method: http.MethodDelete, Path: "/integrations/:id", IDs: []string{"in"}, Tag: "integrations",
			Summary: "Revoke an alert webhook", Description: "Its URL stops working for good and the alerts it reported are withdrawn.",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeRevokeIntegration, s.apiRevokeIntegration)},

		{ID: "listAuditEntries", Method: http.MethodGet, Path: "/audit", Tag: "audit", Summary: "The audit log, newest first",
			Query: append([]apiParam{
				{Name: "action", Doc: "Matches the action anywhere, ignoring case (\"branding\", \"api POST\").", Schema: openapi3.NewStringSchema()},
				{Name: "operator", Doc: "Only what this operator did (their email address), their API tokens included.", Schema: openapi3.NewStringSchema()},
				{Name: "since", Doc: "Only entries at or after this time.", Schema: openapi3.NewDateTimeSchema()},
				{Name: "until", Doc: "Only entries before this time.", Schema: openapi3.NewDateTimeSchema()},
			}, pagingParams...),
			Out: apiPage[apiAuditEntry]{}, Code: http.StatusOK, Handle: s.apiListAudit},

		{ID: "getUsage", Method: http.MethodGet, Path: "/usage", Tag: "usage", Summary: "How the service is used",
			Description: "The console's usage page: requests, bytes and unique visitors (counted by a salted hash, never the address) per day, " +
				"per month over the last twelve months, by hour of day, the top pages and the status-code mix, with the access log's state.",
			Query: []apiParam{{Name: "period", Doc: "month (the default): days, hours, pages and statuses over the last 30 days; " +
				"year: the same over the last twelve months (the days as the console's CSV export has them).",
				Schema: openapi3.NewStringSchema().WithEnum("month", "year")}},
			Out: apiUsage{}, Code: http.StatusOK, Handle: s.apiGetUsage},
	}
}

// Branding.

type apiFooterLink struct {
	LabelJA string `json:"label_ja" maxlen:"100"`
	LabelEN string `json:"label_en,omitempty" maxlen:"100" doc:"The Japanese label is used when empty."`
	URL     string `json:"url" maxlen:"500" doc:"https, http or mailto."`
}

type apiLogo struct {
	Type  string `json:"type" enum:"image/png,image/jpeg,image/gif,image/webp"`
	Bytes int    `json:"bytes"`
	Path  string `json:"path" doc:"Where the page serves it (relative to the site), versioned."`
}

type apiBranding struct {
	TitleJA     string          `json:"title_ja" doc:"The site title; empty is the default."`
	TitleEN     string          `json:"title_en"`
	CompanyJA   string          `json:"company_ja"`
	CompanyEN   string          `json:"company_en"`
	Accent      string          `json:"accent" doc:"#rrggbb, or empty for the default."`
	LogoURL     string          `json:"logo_url" doc:"An https address of the logo; empty when none (or when one is uploaded)."`
	Logo        *apiLogo        `json:"logo,omitempty" doc:"The uploaded logo; absent when none."`
	FooterLinks []apiFooterLink `json:"footer_links"`
	UpdatedAt   *time.Time      `json:"updated_at" doc:"null until it was first saved."`
}

type apiBrandingInput struct {
	TitleJA     string          `json:"title_ja,omitempty" maxlen:"100"`
	TitleEN     string          `json:"title_en,omitempty" maxlen:"100"`
	CompanyJA   string          `json:"company_ja,omitempty" maxlen:"100"`
	CompanyEN   string          `json:"company_en,omitempty" maxlen:"100"`
	Accent      string          `json:"accent,omitempty" doc:"#rrggbb; white text on it must have a contrast of 4.5:1 (WCAG AA)."`
	LogoURL     string          `json:"logo_url,omitempty" maxlen:"500" doc:"An https address; replaces an uploaded logo."`
	FooterLinks []apiFooterLink `json:"footer_links,omitempty" doc:"Up to 8."`
}

func toAPIBranding(b data.Branding) apiBranding {
	out := apiBranding{TitleJA: b.TitleJA, TitleEN: b.TitleEN, CompanyJA: b.CompanyJA, CompanyEN: b.CompanyEN, Accent: b.Accent,
		LogoURL: b.LogoURL, FooterLinks: []apiFooterLink{}}
	if len(b.Logo) > 0 {
		out.Logo = &apiLogo{Type: b.LogoType, Bytes: len(b.Logo), Path: "/brand/logo?v=" + b.Version()}
	}
	for _, l := range b.Links() {
		out.FooterLinks = append(out.FooterLinks, apiFooterLink{LabelJA: l.LabelJA, LabelEN: l.LabelEN, URL: l.URL})
	}
	if !b.UpdatedAt.IsZero() {
		t := b.UpdatedAt.UTC()
		out.UpdatedAt = &t
	}
	return out
}

func (s *Server) apiBrandingAnswer(c echo.Context) error {
	b, err := s.store.Branding(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIBranding(b))
}

func (s *Server) apiGetBranding(c echo.Context) error { return s.apiBrandingAnswer(c) }

// apiSaveBranding saves the branding as the console does: validated by the
// store, audited as branding.update with what changed (the logo by its
// type, not its bytes), and the public page refreshed.
func (s *Server) apiSaveBranding(c echo.Context, in data.BrandingInput) error {
	ctx := c.Request().Context()
	before, err := s.store.Branding(ctx)
	if err != nil {
		return err
	}
	if err := s.store.SaveBranding(ctx, in); err != nil {
		return s.apiInvalid(err)
	}
	after, _ := s.store.Branding(ctx)
	after.Logo, before.Logo = nil, nil
	s.apiAudit(c, "branding.update", "branding", diff(auditFields(before), auditFields(after)))
	s.changed()
	return s.apiBrandingAnswer(c)
}

// brandingInputOf is the current branding as input, to change one part.
func brandingInputOf(b data.Branding) data.BrandingInput {
	return data.BrandingInput{TitleJA: b.TitleJA, TitleEN: b.TitleEN, CompanyJA: b.CompanyJA, CompanyEN: b.CompanyEN,
		Accent: b.Accent, LogoURL: b.LogoURL, KeepLogo: true, FooterLinks: b.Links()}
}

func (s *Server) apiUpdateBranding(c echo.Context) error {
	var in apiBrandingInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	input := data.BrandingInput{TitleJA: in.TitleJA, TitleEN: in.TitleEN, CompanyJA: in.CompanyJA, CompanyEN: in.CompanyEN,
		Accent: in.Accent, LogoURL: in.LogoURL, KeepLogo: true}
	for _, l := range in.FooterLinks {
		input.FooterLinks = append(input.FooterLinks, data.FooterLink{LabelJA: l.LabelJA, LabelEN: l.LabelEN, URL: l.URL})
	}
	return s.apiSaveBranding(c, input)
}

func (s *Server) apiUploadLogo(c echo.Context) error {
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, maxLogoUpload))
	if err != nil {
		return apiFail(http.StatusBadRequest, "bad_request", "The body could not be read.")
	}
	if len(raw) == 0 {
		return apiFields(map[string]string{"logo": s.catalog.T("en", "field.bad_image")})
	}
	b, err := s.store.Branding(c.Request().Context())
	if err != nil {
		return err
	}
	in := brandingInputOf(b)
	in.Logo, in.LogoURL = raw, ""
	return s.apiSaveBranding(c, in)
}

func (s *Server) describeDeleteLogo(c echo.Context) (*confirmPage, error) {
	b, err := s.store.Branding(c.Request().Context())
	if err != nil {
		return nil, err
	}
	if !b.HasLogo() {
		return nil, data.ErrNotFound
	}
	return &confirmPage{Question: s.t(c, "branding.logo_remove") + "?", Back: "/admin/branding"}, nil
}

func (s *Server) apiDeleteLogo(c echo.Context) error {
	ctx := c.Request().Context()
	before, err := s.store.Branding(ctx)
	if err != nil {
		return err
	}
	in := brandingInputOf(before)
	in.KeepLogo, in.LogoURL = false, ""
	if err := s.store.SaveBranding(ctx, in); err != nil {
		return s.apiInvalid(err)
	}
	after, _ := s.store.Branding(ctx)
	after.Logo, before.Logo = nil, nil
	s.apiAudit(c, "branding.update", "branding", diff(auditFields(before), auditFields(after)))
	s.changed()
	return nil
}

// Alert channels.

type apiChannelDelivery struct {
	ID             string    `json:"id" ref:"d"`
	NotificationID string    `json:"notification_id" ref:"n"`
	State          string    `json:"state"`
	Attempts       int       `json:"attempts"`
	LastError      string    `json:"last_error"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type apiAlertChannel struct {
	ID           string              `json:"id" ref:"ch"`
	Kind         string              `json:"kind" enum:"webhook,slack,teams"`
	Address      string              `json:"address" doc:"Scheme and host only: the rest of a Slack or Teams address is its secret."`
	Lang         string              `json:"lang" enum:"ja,en"`
	State        string              `json:"state" enum:"working,failing,disabled"`
	LastError    string              `json:"last_error"`
	FailingSince *time.Time          `json:"failing_since"`
	DisabledAt   *time.Time          `json:"disabled_at"`
	CreatedAt    time.Time           `json:"created_at"`
	LastDelivery *apiChannelDelivery `json:"last_delivery,omitempty" doc:"The latest attempted delivery; absent when none."`
}

type apiAlertChannelInput struct {
	Kind string `json:"kind" enum:"webhook,slack,teams"`
	URL  string `json:"url" maxlen:"2000" doc:"Its full address (kept, never shown again)."`
	Lang string `json:"lang" enum:"ja,en"`
}

func toAPIAlertChannel(ch data.Channel, last *data.Delivery) apiAlertChannel {
	out := apiAlertChannel{ID: apiRef("ch", ch.ID), Kind: ch.Kind, Address: ch.Address(), Lang: ch.Lang, State: "working",
		LastError: ch.LastError, FailingSince: utcp(ch.FailingSince), DisabledAt: utcp(ch.DisabledAt), CreatedAt: ch.CreatedAt.UTC()}
	switch {
	case ch.DisabledAt != nil:
		out.State = "disabled"
	case ch.FailingSince != nil:
		out.State = "failing"
	}
	if last != nil {
		out.LastDelivery = &apiChannelDelivery{ID: apiRef("d", last.ID), NotificationID: apiRef("n", last.NotificationID), State: last.State,
			Attempts: last.Attempts, LastError: last.LastError, UpdatedAt: last.UpdatedAt.UTC()}
	}
	return out
}

func (s *Server) apiListAlertChannels(c echo.Context) error {
	all, err := s.store.ChannelSummaries(c.Request().Context())
	if err != nil {
		return err
	}
	out := []apiAlertChannel{}
	for _, ch := range all {
		if ch.Operator {
			out = append(out, toAPIAlertChannel(ch.Channel, ch.Last))
		}
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

// apiCreateAlertChannel is the console's addChannel for operators: the
// same checks, the same verification, the same audit.
func (s *Server) apiCreateAlertChannel(c echo.Context) error {
	var body apiAlertChannelInput
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	in := data.ChannelInput{Kind: body.Kind, URL: strings.TrimSpace(body.URL), Lang: body.Lang, Operator: true}
	if err := s.store.ValidateChannel(ctx, in); err != nil {
		return s.apiInvalid(err)
	}
	urlFail := func(key string) error {
		return apiFields(map[string]string{"url": s.catalog.T("en", "field."+key)})
	}
	client := s.opts.Outbound
	if err := client.CheckURL(in.URL); err != nil {
		return urlFail(refusedKey(err, true))
	}
	if in.Kind == data.ChannelWebhook {
		in.Secret = "whsec_" + randomToken()
	}
	challenge := randomToken()
	msg, err := s.opts.Channels.Verification(in.Kind, in.Lang, challenge, s.siteName(in.Lang))
	if err != nil {
		return err
	}
	res, err := client.Post(ctx, in.URL, msg, in.Secret, s.opts.Now())
	switch {
	case errors.Is(err, outbound.ErrRefused):
		return urlFail(refusedKey(err, true))
	case err != nil, res.Status < 200 || res.Status > 299:
		return urlFail("channel_unreachable")
	case in.Kind == data.ChannelWebhook && !bytes.Contains(res.Body, []byte(challenge)):
		return urlFail("channel_no_challenge")
	}
	ch, err := s.store.CreateChannel(ctx, in)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.apiAudit(c, "channel.create", "channel="+strconv.FormatInt(ch.ID, 10), map[string]any{"kind": ch.Kind, "operator": true})
	return c.JSON(http.StatusCreated, toAPIAlertChannel(*ch, nil))
}

// alertChannel is an operators' channel; a subscriber's is no such thing
// here.
func (s *Server) alertChannel(c echo.Context) (*data.Channel, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, data.ErrNotFound
	}
	ch, err := s.store.Channel(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if !ch.Operator {
		return nil, data.ErrNotFound
	}
	return ch, nil
}

func (s *Server) describeDeleteAlertChannel(c echo.Context) (*confirmPage, error) {
	ch, err := s.alertChannel(c)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "alerts.delete_confirm"),
		Lines: []string{s.t(c, "channel_kind."+ch.Kind) + " " + ch.Address()}, Back: "/admin/alerts"}, nil
}

func (s *Server) apiDeleteAlertChannel(c echo.Context) error {
	ch, err := s.alertChannel(c)
	if err != nil {
		return notFoundJSON(err, "alert channel")
	}
	if err := s.store.DeleteChannel(c.Request().Context(), ch.ID); err != nil {
		return notFoundJSON(err, "alert channel")
	}
	s.apiAudit(c, "channel.delete", "channel="+strconv.FormatInt(ch.ID, 10), nil)
	return nil
}

// Integrations.

type apiIntegration struct {
	ID            string     `json:"id" ref:"in"`
	Name          string     `json:"name"`
	Kind          string     `json:"kind" enum:"alertmanager,grafana,generic"`
	FailureStatus string     `json:"failure_status" enum:"degraded_performance,partial_outage,major_outage" doc:"What a firing alert reports when it names no status."`
	CreatedAt     time.Time  `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	RevokedAt     *time.Time `json:"revoked_at" doc:"null while it works."`
}

type apiIntegrationInput struct {
	Name          string `json:"name" maxlen:"100"`
	Kind          string `json:"kind" enum:"alertmanager,grafana,generic"`
	FailureStatus string `json:"failure_status" enum:"degraded_performance,partial_outage,major_outage"`
}

type apiNewIntegration struct {
	Integration apiIntegration `json:"integration"`
	HookURL     string         `json:"hook_url" doc:"Where the monitoring system posts its alerts; it holds the secret and is shown only now."`
}

func toAPIIntegration(in *data.Integration) apiIntegration {
	return apiIntegration{ID: apiRef("in", in.ID), Name: in.Name, Kind: in.Kind, FailureStatus: in.FailureStatus, CreatedAt: in.CreatedAt.UTC(),
		LastUsedAt: utcp(in.LastUsedAt), RevokedAt: utcp(in.RevokedAt)}
}

func (s *Server) apiListIntegrations(c echo.Context) error {
	list, err := s.store.Integrations(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiIntegration, len(list))
	for i := range list {
		out[i] = toAPIIntegration(&list[i])
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

func (s *Server) apiCreateIntegration(c echo.Context) error {
	var body apiIntegrationInput
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	var by int64
	if tok, ok := c.Get("api_token").(*data.APIToken); ok && tok != nil && tok.CreatedBy != nil {
		by = *tok.CreatedBy
	}
	secret := randomToken()
	in, err := s.store.CreateIntegration(c.Request().Context(), body.Name, body.Kind, body.FailureStatus, hashToken(secret), by)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.apiAudit(c, "integration.create", "integration="+strconv.FormatInt(in.ID, 10), map[string]any{"name": in.Name, "kind": in.Kind})
	url := strings.TrimRight(s.opts.BaseURL.String(), "/") + "/api/hooks/" + strconv.FormatInt(in.ID, 10) + "/" + secret
	return c.JSON(http.StatusCreated, apiNewIntegration{Integration: toAPIIntegration(in), HookURL: url})
}

func (s *Server) describeRevokeIntegration(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, data.ErrNotFound
	}
	in, err := s.store.Integration(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if in.RevokedAt != nil {
		return nil, data.ErrNotFound // revoked already: nothing to do
	}
	return &confirmPage{Question: s.t(c, "integrations.revoke_confirm"), Lines: []string{in.Name}, Back: "/admin/integrations"}, nil
}

func (s *Server) apiRevokeIntegration(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	outs, err := s.store.RevokeIntegration(c.Request().Context(), id, !s.opts.MailEnabled)
	if err != nil {
		return notFoundJSON(err, "integration")
	}
	s.apiAudit(c, "integration.revoke", "integration="+strconv.FormatInt(id, 10), nil)
	if len(outs) > 0 {
		s.changed()
		s.afterNotice(data.Notice{Send: true, Hold: !s.opts.MailEnabled})
	}
	return nil
}

// The audit log.

type apiAuditEntry struct {
	ID       string         `json:"id" ref:"ae"`
	At       time.Time      `json:"at"`
	Operator string         `json:"operator" doc:"The operator's email address, \"token:NAME\" for an API token, empty for the system."`
	IP       string         `json:"ip"`
	Action   string         `json:"action"`
	Target   string         `json:"target"`
	Changes  map[string]any `json:"changes" doc:"{\"field\": [before, after]} for edits, the fields of what was created, or what a call answered."`
}

func apiTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apiFail(http.StatusBadRequest, "bad_request", `"`+name+`" must be a date-time such as 2026-12-01T00:00:00Z.`)
	}
	return t, nil
}

func (s *Server) apiListAudit(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f := data.AuditFilter{Action: c.QueryParam("action"), Limit: per, Offset: (page - 1) * per}
	if len(f.Action) > 200 {
		return apiFail(http.StatusBadRequest, "bad_request", `"action" is longer than 200 characters.`)
	}
	if f.From, err = apiTime(c, "since"); err != nil {
		return err
	}
	if f.To, err = apiTime(c, "until"); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return apiFail(http.StatusBadRequest, "bad_request", `"until" must be after "since".`)
	}
	if email := strings.TrimSpace(c.QueryParam("operator")); email != "" {
		ops, err := s.store.Operators(ctx)
		if err != nil {
			return err
		}
		for _, op := range ops {
			if strings.EqualFold(op.Email, email) {
				f.OperatorID = op.ID
			}
		}
		if f.OperatorID == 0 {
			return apiFail(http.StatusBadRequest, "bad_request", `"operator" is not an operator's email address.`)
		}
	}
	es, total, err := s.store.Audit(ctx, f)
	if err != nil {
		return err
	}
	out := make([]apiAuditEntry, len(es))
	for i, e := range es {
		changes := map[string]any{}
		if e.Changes != "" {
			if json.Unmarshal([]byte(e.Changes), &changes) != nil || changes == nil {
				changes = map[string]any{"value": e.Changes}
			}
		}
		out[i] = apiAuditEntry{ID: apiRef("ae", e.ID), At: e.At.UTC(), Operator: e.OperatorEmail, IP: e.IP, Action: e.Action, Target: e.Target, Changes: changes}
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

// Usage.

type apiUsageRow struct {
	Key      string `json:"key" doc:"The day (YYYY-MM-DD), month (YYYY-MM), hour (00–23), route or status class."`
	Requests int64  `json:"requests"`
	Bytes    int64  `json:"bytes"`
	Visitors int64  `json:"visitors" doc:"Unique visitors; 0 where not counted (hours, routes, statuses)."`
}

type apiAccessLog struct {
	Directory       string `json:"directory" doc:"This instance's access-log directory; empty when the log goes to standard output."`
	Files           int    `json:"files"`
	Bytes           int64  `json:"bytes"`
	Oldest          string `json:"oldest" doc:"The oldest file's day; empty when none."`
	RetentionMonths int    `json:"retention_months" doc:"How many months the files are kept."`
	Dropped         int64  `json:"dropped" doc:"Lines dropped because the writer fell behind."`
	Failed          int64  `json:"failed" doc:"Lines that could not be written."`
}

type apiUsage struct {
	Period      string        `json:"period" enum:"month,year"`
	From        string        `json:"from" doc:"The first day counted in days, hours, routes and statuses (YYYY-MM-DD)."`
	Days        []apiUsageRow `json:"days"`
	Months      []apiUsageRow `json:"months" doc:"The last twelve months."`
	Hours       []apiUsageRow `json:"hours"`
	Routes      []apiUsageRow `json:"routes" doc:"The 20 most requested pages."`
	Statuses    []apiUsageRow `json:"statuses"`
	Requests    int64         `json:"requests" doc:"Every request the counters hold."`
	DaysCounted int64         `json:"days_counted"`
	AccessLog   *apiAccessLog `json:"access_log,omitempty" doc:"Absent when this instance keeps no access log."`
}

func toAPIUsageRows(rows []data.UsageRow) []apiUsageRow {
	out := make([]apiUsageRow, len(rows))
	for i, r := range rows {
		out[i] = apiUsageRow{Key: r.Key, Requests: r.Requests, Bytes: r.Bytes, Visitors: r.Visitors}
	}
	return out
}

func (s *Server) apiGetUsage(c echo.Context) error {
	period := c.QueryParam("period")
	now := s.opts.Now().In(s.opts.Location)
	var from string
	switch period {
	case "", "month":
		period, from = "month", now.AddDate(0, 0, -30).Format(accesslog.DayLayout)
	case "year":
		from = now.AddDate(-1, 0, 0).Format(accesslog.DayLayout)
	default:
		return apiFail(http.StatusBadRequest, "bad_request", `"period" must be month or year.`)
	}
	year := time.Date(now.Year(), now.Month()-11, 1, 0, 0, 0, 0, s.opts.Location).Format(accesslog.DayLayout)
	ctx := c.Request().Context()
	out := apiUsage{Period: period, From: from}
	for _, q := range []struct {
		rows *[]apiUsageRow
		get  func() ([]data.UsageRow, error)
	}{
		{&out.Days, func() ([]data.UsageRow, error) { return s.store.UsageByDay(ctx, from) }},
		{&out.Months, func() ([]data.UsageRow, error) { return s.store.UsageByMonth(ctx, year) }},
		{&out.Hours, func() ([]data.UsageRow, error) { return s.store.UsageByHour(ctx, from) }},
		{&out.Routes, func() ([]data.UsageRow, error) { return s.store.TopRoutes(ctx, from, 20) }},
		{&out.Statuses, func() ([]data.UsageRow, error) { return s.store.StatusMix(ctx, from) }},
	} {
		rows, err := q.get()
		if err != nil {
			return err
		}
		*q.rows = toAPIUsageRows(rows)
	}
	var err error
	if out.Requests, out.DaysCounted, err = s.store.UsageTotals(ctx); err != nil {
		return err
	}
	if rec := s.opts.AccessLog; rec != nil {
		l := &apiAccessLog{Dropped: rec.Dropped(), Failed: rec.Failed(), RetentionMonths: rec.Retention(), Directory: rec.Dir()}
		if l.Directory != "" {
			fs, err := accesslog.List(l.Directory)
			if err != nil {
				return err
			}
			for _, f := range fs {
				l.Files++
				l.Bytes += f.Size
			}
			if len(fs) > 0 {
				l.Oldest = fs[0].Day
			}
		}
		out.AccessLog = l
	}
	return c.JSON(http.StatusOK, out)
}
