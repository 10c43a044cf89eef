package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// slaSettingsPage is how availability is counted, and each product's
// commitment.
type slaSettingsPage struct {
	Products []data.Product
}

func (s *Server) renderSLASettings(c echo.Context, code int, f *form) error {
	ps, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, code, "sla_settings", &view{Title: s.t(c, "sla.settings"), Form: f, Data: &slaSettingsPage{Products: ps}})
}

func (s *Server) showSLASettings(c echo.Context) error {
	st, err := s.store.SLASettings(c.Request().Context())
	if err != nil {
		return err
	}
	ps, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"major_weight": {strconv.Itoa(st.MajorWeight)}, "partial_weight": {strconv.Itoa(st.PartialWeight)},
		"degraded_weight": {strconv.Itoa(st.DegradedWeight)}, "notice_days": {strconv.Itoa(st.NoticeDays)}, "credit_tiers": {st.CreditTiers}}}
	for _, p := range ps {
		f.Values.Set("target_"+strconv.FormatInt(p.ID, 10), p.SLATarget)
	}
	return s.renderSLASettings(c, http.StatusOK, f)
}

// saveSLASettings saves the counting rules and every product's
// commitment; nothing is saved when any value is refused.
func (s *Server) saveSLASettings(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	in := data.SLASettings{ID: 1, MajorWeight: f.intField("major_weight"), PartialWeight: f.intField("partial_weight"),
		DegradedWeight: f.intField("degraded_weight"), NoticeDays: f.intField("notice_days"), CreditTiers: strings.TrimSpace(f.Get("credit_tiers"))}
	ps, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	targets := map[int64]string{}
	for _, p := range ps {
		key := "target_" + strconv.FormatInt(p.ID, 10)
		targets[p.ID] = strings.TrimSpace(f.Get(key))
		if err := data.CheckSLATarget(targets[p.ID]); err != nil {
			f.fail(key, "bad_percent")
		}
	}
	if f.Invalid() {
		return s.renderSLASettings(c, http.StatusBadRequest, f)
	}
	if err := s.store.SaveSLASettings(ctx, in); f.absorb(err) {
		return s.renderSLASettings(c, http.StatusBadRequest, f)
	} else if err != nil {
		return err
	}
	for id, t := range targets {
		if err := s.store.SetProductSLATarget(ctx, id, t); err != nil {
			return err
		}
	}
	s.audit(c, "sla.settings", "sla", map[string]any{"settings": in, "targets": targets})
	return s.done(c, "flash.saved", "/admin/sla/settings")
}

// saveContractSLA sets a contract's own commitment, its service start and
// whether its report is mailed monthly.
func (s *Server) saveContractSLA(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := data.ContractSLA{SLATarget: strings.TrimSpace(f.Get("sla_target")), ReportMail: f.Is("sla_report_mail", "1")}
	fail := map[string]string{}
	if v := strings.TrimSpace(f.Get("started_at")); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, s.opts.Location)
		if err != nil {
			fail["started_at"] = "bad_date"
		}
		in.StartedAt = &t
	}
	if data.CheckSLATarget(in.SLATarget) != nil {
		fail["sla_target"] = "bad_percent"
	}
	if len(fail) > 0 {
		// The page again, with what was typed and why it was refused.
		ct, err := s.loadContract(c)
		if err != nil {
			return err
		}
		ct.SLATarget, ct.SLAReportMail = in.SLATarget, in.ReportMail
		return s.renderContractPage(c, http.StatusBadRequest, ct, fail)
	}
	if err := s.store.SetContractSLA(c.Request().Context(), id, in); err != nil {
		return err
	}
	s.audit(c, "contract.sla", "contract="+strconv.FormatInt(id, 10), in)
	return s.done(c, "flash.saved", "/admin/contracts/"+strconv.FormatInt(id, 10))
}
