package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// hookAlert is one alert in a webhook: Alertmanager's and Grafana's
// payloads share this shape (Grafana adds fields we do not need).
type hookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Fingerprint string            `json:"fingerprint"`
}

// hookPayload is an Alertmanager or Grafana webhook body.
type hookPayload struct {
	Status string      `json:"status"`
	Alerts []hookAlert `json:"alerts"`
}

// genericHook is the documented generic JSON: one alert per request.
type genericHook struct {
	Component string `json:"component"`
	Status    string `json:"status"`
	Severity  string `json:"severity"`
	ID        string `json:"id"`
	Summary   string `json:"summary"`
}

// Labels that name a component and, optionally, the status a firing alert
// means.
const (
	labelComponent      = "component"
	labelOshiraseComp   = "oshirase_component"
	labelOshiraseStatus = "oshirase_status"
)

type hookResult struct {
	Accepted int      `json:"accepted"`
	Changed  int      `json:"changed"`
	Ignored  []string `json:"ignored,omitempty"`
}

// alertHook receives an alert webhook. A firing alert reports its
// component as failing, a resolved one withdraws the report: exactly what
// a monitor crossing its threshold does. The same alert sent again changes
// nothing. An unknown or revoked integration, or a wrong secret, is 404.
func (s *Server) alertHook(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("integration"), 10, 64)
	if err != nil {
		return apiFail(http.StatusNotFound, "not_found", "No such integration.")
	}
	in, err := s.store.Integration(ctx, id)
	if err != nil || in.RevokedAt != nil {
		if err != nil && !errors.Is(err, data.ErrNotFound) {
			return err
		}
		return apiFail(http.StatusNotFound, "not_found", "No such integration.")
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(c.Param("secret"))), []byte(in.SecretHash)) != 1 {
		return apiFail(http.StatusNotFound, "not_found", "No such integration.")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAPIBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxAPIBody {
		return apiFail(http.StatusRequestEntityTooLarge, "too_large", "The payload is too large.")
	}
	// As at the edge for forms (rejectBadText) and in the operator API:
	// encoding/json would turn invalid UTF-8 into U+FFFD without a word,
	// and PostgreSQL refuses NUL (raw, or escaped as \u0000 in a string).
	if !goodText(string(body)) {
		return apiFail(http.StatusBadRequest, "bad_text", "The payload must be valid UTF-8 without NUL characters.")
	}
	alerts, err := parseHook(in.Kind, body)
	if err != nil {
		return apiFail(http.StatusBadRequest, "bad_payload", err.Error())
	}
	if !alertsGoodText(alerts) {
		return apiFail(http.StatusBadRequest, "bad_text", "The payload must be valid UTF-8 without NUL characters.")
	}
	res := hookResult{}
	for i, a := range alerts {
		key := a.Labels[labelOshiraseComp]
		if key == "" {
			key = a.Labels[labelComponent]
		}
		if key == "" {
			res.Ignored = append(res.Ignored, fmt.Sprintf("alert %d: no %q label", i+1, labelComponent))
			continue
		}
		comp, err := s.store.ComponentByKey(ctx, key)
		if errors.Is(err, data.ErrNotFound) {
			res.Ignored = append(res.Ignored, fmt.Sprintf("alert %d: no component with key %q", i+1, key))
			continue
		}
		if err != nil {
			return err
		}
		status := in.FailureStatus
		if st := a.Labels[labelOshiraseStatus]; st != "" {
			if st != data.DegradedPerformance && st != data.PartialOutage && st != data.MajorOutage {
				res.Ignored = append(res.Ignored, fmt.Sprintf("alert %d: %q is not a status", i+1, st))
				continue
			}
			status = st
		}
		if a.Status == "resolved" {
			status = data.Operational
		}
		detail := a.Annotations["summary"]
		if detail == "" {
			detail = a.Labels["alertname"]
		}
		fp := fingerprint(a)
		if in.Kind == data.IntegrationGeneric && a.Fingerprint == "" {
			fp = "component:" + strconv.FormatInt(comp.ID, 10)
		}
		out, err := s.store.Signal(ctx, data.Signal{ComponentID: comp.ID, Source: fmt.Sprintf("hook:%d:%s", in.ID, fp),
			Status: status, Detail: in.Name + ": " + detail, Hold: !s.opts.MailEnabled})
		if err != nil {
			return err
		}
		res.Accepted++
		if out != nil {
			res.Changed++
		}
	}
	if res.Accepted == 0 {
		return apiFail(http.StatusBadRequest, "no_component", strings.Join(res.Ignored, "; "))
	}
	if err := s.store.TouchIntegration(ctx, in.ID); err != nil {
		return err
	}
	s.audit(c, "integration.alert", "integration="+strconv.FormatInt(in.ID, 10), res)
	if res.Changed > 0 {
		s.changed()
		s.afterNotice(data.Notice{Send: true, Hold: !s.opts.MailEnabled})
	}
	return c.JSON(http.StatusOK, res)
}

// parseHook reads a webhook body of an integration's kind into alerts.
func parseHook(kind string, body []byte) ([]hookAlert, error) {
	if kind == data.IntegrationGeneric {
		var g genericHook
		if err := json.Unmarshal(body, &g); err != nil {
			return nil, fmt.Errorf("the body is not the generic JSON: %v", err)
		}
		if g.Component == "" {
			return nil, errors.New(`"component" is required`)
		}
		if g.Status != "firing" && g.Status != "resolved" {
			return nil, errors.New(`"status" must be "firing" or "resolved"`)
		}
		labels := map[string]string{labelComponent: g.Component}
		if g.Severity != "" {
			labels[labelOshiraseStatus] = g.Severity
		}
		// Without an id, one alert per component: "cdn" and its id are the
		// same alert (see alertHook).
		return []hookAlert{{Status: g.Status, Labels: labels, Annotations: map[string]string{"summary": g.Summary}, Fingerprint: g.ID}}, nil
	}
	var p hookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("the body is not an alert webhook payload: %v", err)
	}
	if len(p.Alerts) == 0 {
		return nil, errors.New(`"alerts" is empty`)
	}
	for i, a := range p.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, fmt.Errorf(`alert %d: "status" must be "firing" or "resolved"`, i+1)
		}
	}
	return p.Alerts, nil
}

// alertsGoodText reports whether every string decoded from a webhook is
// good text: a \u0000 escape decodes to a NUL the raw body does not show.
func alertsGoodText(alerts []hookAlert) bool {
	for _, a := range alerts {
		if !goodText(a.Status) || !goodText(a.Fingerprint) {
			return false
		}
		for _, m := range []map[string]string{a.Labels, a.Annotations} {
			for k, v := range m {
				if !goodText(k) || !goodText(v) {
					return false
				}
			}
		}
	}
	return true
}

// fingerprint names an alert across sends: its own fingerprint, else its
// labels.
func fingerprint(a hookAlert) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, a.Labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
