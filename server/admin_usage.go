package server

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type usagePage struct {
	Days, Months, Hours []data.UsageRow
	Routes, Statuses    []data.UsageRow
	MaxDay, MaxHour     int64
	Dropped, Failed     int64
	Kept                int64
}

// Share is n as a percentage of max, for the bars.
func (v *usagePage) Share(n, max int64) int {
	if max == 0 {
		return 0
	}
	return int(n * 100 / max)
}

func maxRequests(rows []data.UsageRow) int64 {
	var m int64
	for _, r := range rows {
		m = max(m, r.Requests)
	}
	return m
}

// showUsage reports how the service is used, from the access log: per day
// over the last month, per month over the last year, busiest hours, top
// pages and the status-code mix. Visitors are counted by a salted hash of
// their address, never the address.
func (s *Server) showUsage(c echo.Context) error {
	ctx := c.Request().Context()
	now := s.opts.Now().In(s.opts.Location)
	month := now.AddDate(0, 0, -30)
	year := time.Date(now.Year(), now.Month()-11, 1, 0, 0, 0, 0, s.opts.Location)
	v := &usagePage{}
	var err error
	if v.Days, err = s.store.UsageBy(ctx, "day", month, s.opts.Location); err != nil {
		return err
	}
	if v.Months, err = s.store.UsageBy(ctx, "month", year, s.opts.Location); err != nil {
		return err
	}
	if v.Hours, err = s.store.UsageBy(ctx, "hour", month, s.opts.Location); err != nil {
		return err
	}
	if v.Routes, err = s.store.TopRoutes(ctx, month, 20); err != nil {
		return err
	}
	if v.Statuses, err = s.store.StatusMix(ctx, month); err != nil {
		return err
	}
	if v.Kept, err = s.store.CountAccessLog(ctx); err != nil {
		return err
	}
	v.MaxDay, v.MaxHour = maxRequests(v.Days), maxRequests(v.Hours)
	if s.opts.AccessLog != nil {
		v.Dropped, v.Failed = s.opts.AccessLog.Dropped(), s.opts.AccessLog.Failed()
	}
	return s.render(c, http.StatusOK, "usage", &view{Title: s.t(c, "usage.title"), Data: v})
}

// exportUsage downloads requests and unique visitors per day over the last
// twelve months as CSV.
func (s *Server) exportUsage(c echo.Context) error {
	now := s.opts.Now().In(s.opts.Location)
	rows, err := s.store.UsageBy(c.Request().Context(), "day", now.AddDate(-1, 0, 0), s.opts.Location)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"date", "requests", "unique_visitors"})
	for _, r := range rows {
		w.Write([]string{r.Key, strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.Visitors, 10)})
	}
	w.Flush()
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="usage-`+now.Format("20060102")+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

type auditPage struct {
	Entries    []data.AuditEntry
	Operators  []data.Operator
	Operator   int64
	Action     string
	Page, Last int
	Query      string
}

// showAudit lists the audit trail, filtered by operator and action.
func (s *Server) showAudit(c echo.Context) error {
	ctx := c.Request().Context()
	n := pageParam(c)
	f := data.AuditFilter{Action: c.QueryParam("action"), Limit: adminPageSize, Offset: (n - 1) * adminPageSize}
	if id, err := strconv.ParseInt(c.QueryParam("operator"), 10, 64); err == nil && id > 0 {
		f.OperatorID = id
	}
	es, total, err := s.store.Audit(ctx, f)
	if err != nil {
		return err
	}
	ops, err := s.store.Operators(ctx)
	if err != nil {
		return err
	}
	q := "/admin/audit?" + url.Values{"action": {f.Action}, "operator": {strconv.FormatInt(f.OperatorID, 10)}}.Encode()
	return s.render(c, http.StatusOK, "audit", &view{Title: s.t(c, "audit.title"), Data: &auditPage{Entries: es, Operators: ops,
		Operator: f.OperatorID, Action: f.Action, Page: n, Last: lastPage(total), Query: q}})
}
