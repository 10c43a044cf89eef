package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// integrationsPage lists the alert webhooks; New is the address of one just
// created, shown once.
type integrationsPage struct {
	Integrations []data.Integration
	New          string
	Kinds        []string
	Statuses     []string
}

func (s *Server) renderIntegrations(c echo.Context, code int, f *form, newURL string) error {
	list, err := s.store.Integrations(c.Request().Context())
	if err != nil {
		return err
	}
	v := &integrationsPage{Integrations: list, New: newURL, Kinds: data.IntegrationKinds,
		Statuses: []string{data.MajorOutage, data.PartialOutage, data.DegradedPerformance}}
	return s.render(c, code, "integrations", &view{Title: s.t(c, "integrations.title"), Form: f, Data: v})
}

func (s *Server) listIntegrations(c echo.Context) error {
	return s.renderIntegrations(c, http.StatusOK, &form{Values: map[string][]string{"kind": {data.IntegrationAlertmanager},
		"failure_status": {data.MajorOutage}}}, "")
}

// createIntegration makes an alert webhook; its secret is shown once, in
// its address, and only its hash is kept.
func (s *Server) createIntegration(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	secret := randomToken()
	in, err := s.store.CreateIntegration(c.Request().Context(), f.Get("name"), f.Get("kind"), f.Get("failure_status"), hashToken(secret), operatorOf(c).ID)
	if f.absorb(err) {
		return s.renderIntegrations(c, http.StatusBadRequest, f, "")
	}
	if err != nil {
		return err
	}
	s.audit(c, "integration.create", "integration="+strconv.FormatInt(in.ID, 10), map[string]any{"name": in.Name, "kind": in.Kind})
	url := strings.TrimRight(s.opts.BaseURL.String(), "/") + "/api/hooks/" + strconv.FormatInt(in.ID, 10) + "/" + secret
	return s.renderIntegrations(c, http.StatusOK, &form{Values: map[string][]string{"kind": {data.IntegrationAlertmanager},
		"failure_status": {data.MajorOutage}}}, url)
}

func (s *Server) revokeIntegration(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	outs, err := s.store.RevokeIntegration(c.Request().Context(), id, !s.opts.MailEnabled)
	if err != nil {
		return err
	}
	s.audit(c, "integration.revoke", "integration="+strconv.FormatInt(id, 10), nil)
	if len(outs) > 0 {
		s.changed()
		s.afterNotice(data.Notice{Send: true, Hold: !s.opts.MailEnabled})
	}
	return s.done(c, "flash.saved", "/admin/integrations")
}
