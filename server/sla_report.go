package server

import (
	"bytes"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/contractcsv"
	"github.com/oshirase/oshirase/internal/sla"
)

// SLA reports (稼働実績報告書): per contract, for a month or any range of
// days in the page's time zone; the same view for operators (every
// contract) and for the contract's contacts in the portal.

// slaReportPage is one contract's report.
type slaReportPage struct {
	Contract *data.Contract
	Report   *sla.Report
	// Month is the month shown ("2026-11"), empty for a range of days;
	// From and To are the first and last day (inclusive).
	Month, From, To string
	// Prev and Next are the neighbouring months, for the month links.
	Prev, Next string
	// Incidents are the incidents the report names, for their titles and
	// postmortems.
	Incidents map[int64]*data.Incident
	// Base is where incident links point: "/incidents/" or "/my/incidents/".
	Base, Self string
	Company    string
	// FromDay and LastDay are the period's first and last day; Future: the
	// period has not begun yet.
	FromDay, LastDay time.Time
	Future           bool
	// Counted is whether the time counted differs from the period (a
	// service start or end inside it, or a period still running).
	Counted bool
	// Settings are the rules the figures were counted with.
	Settings *data.SLASettings
}

// Title is an incident's title in lang.
func (v *slaReportPage) Title(id int64, lang string) string {
	if inc := v.Incidents[id]; inc != nil {
		return pickLang(lang, inc.TitleJA, inc.TitleEN)
	}
	return "#" + strconv.FormatInt(id, 10)
}

// HasPostmortem says whether the incident's postmortem is published.
func (v *slaReportPage) HasPostmortem(id int64) bool {
	inc := v.Incidents[id]
	return inc != nil && inc.PostmortemPublishedAt != nil
}

// errBadPeriod is a period the report cannot be made for.
var errBadPeriod = echo.NewHTTPError(http.StatusBadRequest, "field.bad_period")

// slaPeriod reads ?month=2026-11 or ?from=2026-11-01&to=2026-11-30 (days
// inclusive) in the page's zone; without either, the last whole month.
func (s *Server) slaPeriod(c echo.Context) (from, to time.Time, month string, err error) {
	loc := s.opts.Location
	if f, t := c.QueryParam("from"), c.QueryParam("to"); f != "" || t != "" {
		a, err1 := time.ParseInLocation(time.DateOnly, f, loc)
		b, err2 := time.ParseInLocation(time.DateOnly, t, loc)
		if err1 != nil || err2 != nil || b.Before(a) || b.Sub(a) > 366*24*time.Hour {
			return from, to, "", errBadPeriod
		}
		return a, b.AddDate(0, 0, 1), "", nil
	}
	m := c.QueryParam("month")
	if m == "" {
		now := s.opts.Now().In(loc)
		m = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc).AddDate(0, -1, 0).Format("2006-01")
	}
	start, err := time.ParseInLocation("2006-01", m, loc)
	if err != nil || start.Year() < 2000 || start.Year() > 2100 {
		return from, to, "", errBadPeriod
	}
	return start, start.AddDate(0, 1, 0), m, nil
}

// slaReportView builds the report of one contract for the request's period.
func (s *Server) slaReportView(c echo.Context, contractID int64, base, self string) (*slaReportPage, error) {
	ctx := c.Request().Context()
	from, to, month, err := s.slaPeriod(c)
	if err != nil {
		return nil, err
	}
	k, err := s.store.Contract(ctx, contractID)
	if errors.Is(err, data.ErrNotFound) {
		return nil, echo.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	r, err := s.store.SLAReport(ctx, contractID, from, to)
	if err != nil {
		return nil, err
	}
	v := &slaReportPage{Contract: k, Report: r, Month: month, From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly),
		Incidents: map[int64]*data.Incident{}, Base: base, Self: self}
	if month != "" {
		v.Prev, v.Next = from.AddDate(0, -1, 0).Format("2006-01"), from.AddDate(0, 1, 0).Format("2006-01")
	}
	for _, p := range r.Products {
		for _, ir := range p.Incidents {
			if _, ok := v.Incidents[ir.ID]; ok {
				continue
			}
			if inc, err := s.store.Incident(ctx, ir.ID); err == nil {
				v.Incidents[ir.ID] = inc
			}
		}
	}
	v.Company = s.store.CachedBranding(ctx).Company(langOf(c))
	v.FromDay, v.LastDay, v.Future = from, to.AddDate(0, 0, -1), from.After(s.opts.Now())
	v.Counted = !r.NotStarted && !r.Ended && (!r.Start.Equal(from) || !r.End.Equal(to))
	if v.Settings, err = s.store.SLASettings(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Server) renderSLAReport(c echo.Context, v *slaReportPage) error {
	return s.render(c, http.StatusOK, "sla_report", &view{Title: s.t(c, "sla.title") + " " + v.Contract.Name, Data: v})
}

// slaCSV writes the report as CSV: one row per product, then one per
// incident and window, every cell safe from formula injection.
func (s *Server) slaCSV(c echo.Context, v *slaReportPage) error {
	lang := langOf(c)
	t := func(id string) string { return s.catalog.T(lang, id) }
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // Excel reads UTF-8 only with a BOM
	w := csv.NewWriter(&buf)
	safe := func(cells ...string) []string {
		for i := range cells {
			cells[i] = contractcsv.SafeCell(cells[i])
		}
		return cells
	}
	w.Write(safe(t("sla.csv_kind"), t("sla.product"), t("sla.target"), t("sla.availability"), t("sla.downtime"), t("sla.verdict"),
		t("sla.credit"), t("sla.csv_item"), t("sla.start"), t("sla.end"), t("sla.detail")))
	when := func(x time.Time) string { return x.In(s.opts.Location).Format("2006-01-02 15:04") }
	for _, p := range v.Report.Products {
		name := pickLang(lang, p.NameJA, p.NameEN)
		w.Write(safe(t("sla.csv_product"), name, p.Target, p.AvailabilityText, p.DowntimeMinutes, t("sla.verdict."+p.Verdict), p.CreditText, "", "", "", ""))
		for _, ir := range p.Incidents {
			w.Write(safe(t("sla.csv_incident"), name, "", "", strconv.FormatFloat(ir.Downtime.Minutes(), 'f', 1, 64), "", "",
				v.Title(ir.ID, lang), when(ir.Start), when(ir.End), t("impact."+ir.Impact)))
		}
		for _, wr := range p.Maintenance {
			detail := t("sla.counted")
			if wr.Excluded {
				detail = t("sla.excluded")
			}
			w.Write(safe(t("sla.csv_maintenance"), name, "", "", "", "", "", pickLang(lang, wr.TitleJA, wr.TitleEN), when(wr.Start), when(wr.End), detail))
		}
	}
	w.Flush()
	name := "sla-" + v.Contract.Code + "-" + v.From + ".csv"
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+sanitizeFilename(name)+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// sanitizeFilename keeps a file name to safe ASCII.
func sanitizeFilename(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Operators: any contract's report, and the month's breaches.

func (s *Server) showContractSLA(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	v, err := s.slaReportView(c, id, "/incidents/", "/admin/contracts/"+strconv.FormatInt(id, 10)+"/sla")
	if err != nil {
		return err
	}
	return s.answerSLA(c, v)
}

// slaBreachesPage lists who missed a commitment in a month.
type slaBreachesPage struct {
	Month, Prev, Next string
	Breaches          []data.SLABreach
}

func (s *Server) showSLABreaches(c echo.Context) error {
	from, to, month, err := s.slaPeriod(c)
	if err != nil {
		return err
	}
	if month == "" {
		return errBadPeriod
	}
	bs, err := s.store.SLABreaches(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	v := &slaBreachesPage{Month: month, Prev: from.AddDate(0, -1, 0).Format("2006-01"), Next: from.AddDate(0, 1, 0).Format("2006-01"), Breaches: bs}
	return s.render(c, http.StatusOK, "sla_breaches", &view{Title: s.t(c, "sla.breaches"), Data: v})
}

// The portal: a contact's own contracts only.

func (s *Server) showPortalSLA(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	_, contracts, err := s.store.PortalContacts(c.Request().Context(), contactOf(c))
	if err != nil {
		return err
	}
	mine := false
	for _, k := range contracts {
		mine = mine || k.ID == id
	}
	if !mine {
		return echo.ErrNotFound
	}
	v, err := s.slaReportView(c, id, "/my/incidents/", "/my/contracts/"+strconv.FormatInt(id, 10)+"/sla")
	if err != nil {
		return err
	}
	return s.answerSLA(c, v)
}

// answerSLA answers the report as HTML, or as CSV with ?format=csv; any
// other format is a 400.
func (s *Server) answerSLA(c echo.Context, v *slaReportPage) error {
	switch c.QueryParam("format") {
	case "":
		return s.renderSLAReport(c, v)
	case "csv":
		return s.slaCSV(c, v)
	}
	return echo.NewHTTPError(http.StatusBadRequest, "field.bad_format")
}
