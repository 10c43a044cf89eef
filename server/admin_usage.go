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
	"github.com/oshirase/oshirase/internal/accesslog"
)

type usagePage struct {
	Days, Months, Hours []data.UsageRow
	Routes, Statuses    []data.UsageRow
	MaxDay, MaxHour     int64
	Dropped, Failed     int64
	// Requests and DaysCounted are what the counters hold.
	Requests, DaysCounted int64
	// Log is this instance's access-log directory; empty when the log
	// goes to standard output.
	Log      string
	Files    int
	LogBytes int64
	Oldest   string
	// Retention is how many months the files are kept.
	Retention int
}

// Share is n as a percentage of max, for the bars.
func (v *usagePage) Share(n, max int64) int {
	if max == 0 {
		return 0
	}
	return int(n * 100 / max)
}

// Size writes a byte count for people: 950 B, 12.3 KB, 4.5 MB, 1.2 GB.
func (v *usagePage) Size(n int64) string {
	f, units := float64(n), []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

func maxRequests(rows []data.UsageRow) int64 {
	var m int64
	for _, r := range rows {
		m = max(m, r.Requests)
	}
	return m
}

// showUsage reports how the service is used, from the usage counters the
// access log keeps: per day over the last month, per month over the last
// year, busiest hours, top pages and the status-code mix. Visitors are
// counted by a salted hash of their address, never the address.
func (s *Server) showUsage(c echo.Context) error {
	ctx := c.Request().Context()
	now := s.opts.Now().In(s.opts.Location)
	month := now.AddDate(0, 0, -30).Format(accesslog.DayLayout)
	year := time.Date(now.Year(), now.Month()-11, 1, 0, 0, 0, 0, s.opts.Location).Format(accesslog.DayLayout)
	v := &usagePage{}
	var err error
	if v.Days, err = s.store.UsageByDay(ctx, month); err != nil {
		return err
	}
	if v.Months, err = s.store.UsageByMonth(ctx, year); err != nil {
		return err
	}
	if v.Hours, err = s.store.UsageByHour(ctx, month); err != nil {
		return err
	}
	if v.Routes, err = s.store.TopRoutes(ctx, month, 20); err != nil {
		return err
	}
	if v.Statuses, err = s.store.StatusMix(ctx, month); err != nil {
		return err
	}
	if v.Requests, v.DaysCounted, err = s.store.UsageTotals(ctx); err != nil {
		return err
	}
	v.MaxDay, v.MaxHour = maxRequests(v.Days), maxRequests(v.Hours)
	if rec := s.opts.AccessLog; rec != nil {
		v.Dropped, v.Failed, v.Retention = rec.Dropped(), rec.Failed(), rec.Retention()
		if v.Log = rec.Dir(); v.Log != "" {
			fs, err := accesslog.List(v.Log)
			if err != nil {
				return err
			}
			for _, f := range fs {
				v.Files++
				v.LogBytes += f.Size
			}
			if len(fs) > 0 {
				v.Oldest = fs[0].Day
			}
		}
	}
	return s.render(c, http.StatusOK, "usage", &view{Title: s.t(c, "usage.title"), Data: v})
}

// exportUsage downloads requests, bytes and unique visitors per day over
// the last twelve months as CSV.
func (s *Server) exportUsage(c echo.Context) error {
	now := s.opts.Now().In(s.opts.Location)
	rows, err := s.store.UsageByDay(c.Request().Context(), now.AddDate(-1, 0, 0).Format(accesslog.DayLayout))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"date", "requests", "bytes", "unique_visitors"})
	for _, r := range rows {
		w.Write([]string{r.Key, strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(r.Visitors, 10)})
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
