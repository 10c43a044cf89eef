package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/incidentcsv"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/internal/spimport"
)

// Moving in from Statuspage (issue 25): an admin uploads a page's JSON
// documents (or the incident CSV another Oshirase exported), or names a
// page to fetch; the console shows the dry run's counts, then applies the
// same import. Nothing of it ever emails anyone.

// pendingImports keeps a checked import between its preview and its
// application, for the admin who checked it, for a while. It lives in
// this instance's memory: behind a load balancer an apply that lands on
// another instance asks to check again.
var pendingImports = struct {
	sync.Mutex
	m map[string]pendingImport
}{m: map[string]pendingImport{}}

type pendingImport struct {
	operator int64
	expires  time.Time
	im       *data.HistoryImport
}

const pendingFor = 30 * time.Minute

// maxImportFiles bounds one upload.
const maxImportFiles = 8

type spImportPage struct {
	URL, Lang string
	// Token names the checked import the apply form applies.
	Token    string
	Source   string
	Plan     *data.HistoryResult
	Result   *data.HistoryResult
	Error    string
	Detail   string
	Problems []data.ImportProblem
	More     int
	Kinds    []string
}

func (p *spImportPage) Count(r *data.HistoryResult, kind string) data.ImportCount {
	if r == nil || r.Counts[kind] == nil {
		return data.ImportCount{}
	}
	return *r.Counts[kind]
}

func (s *Server) renderSPImport(c echo.Context, code int, p *spImportPage) error {
	if p.Lang == "" {
		p.Lang = "ja"
	}
	p.Kinds = data.ImportKinds
	return s.render(c, code, "admin_import_statuspage", &view{Title: s.t(c, "spimport.title"), Data: p})
}

func (s *Server) showStatuspageImport(c echo.Context) error {
	return s.renderSPImport(c, http.StatusOK, &spImportPage{})
}

// readImport builds the import from the form: uploaded files, or a page
// to fetch.
func (s *Server) readImport(c echo.Context, p *spImportPage) (*data.HistoryImport, int, error) {
	ctx := c.Request().Context()
	p.URL, p.Lang = strings.TrimSpace(c.FormValue("url")), c.FormValue("lang")
	if p.Lang != "en" {
		p.Lang = "ja"
	}
	r := spimport.NewReader(spimport.Options{Lang: p.Lang})
	var files [][]byte
	var names []string
	if mf, err := c.MultipartForm(); err == nil && mf != nil {
		for _, fh := range mf.File["file"] {
			if len(files) == maxImportFiles {
				p.Error = "too_many_files"
				return nil, http.StatusBadRequest, nil
			}
			fd, err := fh.Open()
			if err != nil {
				return nil, 0, err
			}
			raw, err := io.ReadAll(io.LimitReader(fd, spimport.MaxDocument+1))
			fd.Close()
			if err != nil {
				return nil, 0, err
			}
			if len(raw) == 0 {
				continue
			}
			files, names = append(files, raw), append(names, fh.Filename)
		}
	}
	switch {
	case len(files) == 0 && p.URL == "":
		p.Error = "no_source"
		return nil, http.StatusBadRequest, nil
	case len(files) > 0 && p.URL != "":
		p.Error = "both_sources"
		return nil, http.StatusBadRequest, nil
	}
	// The incident CSV that incidents export wrote.
	if len(files) == 1 && isIncidentCSV(files[0]) {
		im, err := incidentcsv.Read(files[0], "incidents-csv")
		if err != nil {
			return nil, http.StatusBadRequest, s.importFailed(p, err)
		}
		return im, http.StatusOK, nil
	}
	for i, raw := range files {
		if err := r.Add(names[i], raw); err != nil {
			return nil, http.StatusBadRequest, s.importFailed(p, err)
		}
	}
	if p.URL != "" {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := spimport.Fetch(fctx, s.opts.Outbound, p.URL, r); err != nil {
			p.Error, p.Detail = "fetch_failed", err.Error()
			if errors.Is(err, outbound.ErrRefused) {
				p.Error = "refused" // said in the operator's words; the detail stays
			}
			return nil, http.StatusBadRequest, nil
		}
	}
	im, err := r.Import()
	if err != nil {
		return nil, http.StatusBadRequest, s.importFailed(p, err)
	}
	return im, http.StatusOK, nil
}

func isIncidentCSV(raw []byte) bool {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(raw, []byte(incidentcsv.Columns[0]+","))
}

// importFailed puts a reading problem on the page; it returns nil (the
// page is the answer) or an error that is not the input's.
func (s *Server) importFailed(p *spImportPage, err error) error {
	var ps data.ImportProblems
	var re *incidentcsv.ReadError
	var se *spimport.Error
	switch {
	case errors.As(err, &ps):
		p.Error = "problems"
		p.Problems = ps
		if len(p.Problems) > maxShownProblems {
			p.More = len(p.Problems) - maxShownProblems
			p.Problems = p.Problems[:maxShownProblems]
		}
	case errors.As(err, &re), errors.As(err, &se):
		p.Error, p.Detail = "unreadable", err.Error()
	default:
		return err
	}
	return nil
}

// previewStatuspageImport checks what was given and shows the dry run.
func (s *Server) previewStatuspageImport(c echo.Context) error {
	p := &spImportPage{}
	im, code, err := s.readImport(c, p)
	if err != nil {
		return err
	}
	if im == nil {
		return s.renderSPImport(c, code, p)
	}
	plan, err := s.store.ApplyHistoryImport(c.Request().Context(), *im, true)
	if err != nil {
		if ferr := s.importFailed(p, err); ferr != nil {
			return ferr
		}
		return s.renderSPImport(c, http.StatusBadRequest, p)
	}
	p.Plan, p.Source = &plan, im.Source
	b := make([]byte, 16)
	rand.Read(b)
	p.Token = hex.EncodeToString(b)
	now := time.Now()
	pendingImports.Lock()
	for k, v := range pendingImports.m {
		if now.After(v.expires) {
			delete(pendingImports.m, k)
		}
	}
	pendingImports.m[p.Token] = pendingImport{operator: operatorOf(c).ID, expires: now.Add(pendingFor), im: im}
	pendingImports.Unlock()
	return s.renderSPImport(c, http.StatusOK, p)
}

// applyStatuspageImport applies the import its preview checked.
func (s *Server) applyStatuspageImport(c echo.Context) error {
	token := c.FormValue("token")
	pendingImports.Lock()
	pi, ok := pendingImports.m[token]
	if ok && (pi.operator != operatorOf(c).ID || time.Now().After(pi.expires)) {
		ok = false
	}
	if ok {
		delete(pendingImports.m, token)
	}
	pendingImports.Unlock()
	p := &spImportPage{}
	if !ok {
		p.Error = "expired"
		return s.renderSPImport(c, http.StatusBadRequest, p)
	}
	res, err := s.store.ApplyHistoryImport(c.Request().Context(), *pi.im, false)
	if err != nil {
		if ferr := s.importFailed(p, err); ferr != nil {
			return ferr
		}
		return s.renderSPImport(c, http.StatusBadRequest, p)
	}
	created, updated, unchanged := res.Total()
	s.audit(c, "import.statuspage", "source="+pi.im.Source, map[string]int{"created": created, "updated": updated, "unchanged": unchanged})
	p.Result, p.Source = &res, pi.im.Source
	return s.renderSPImport(c, http.StatusOK, p)
}

// exportIncidentsCSV downloads the incident history as CSV, every update
// a row (incidentcsv); the import page reads it back.
func (s *Server) exportIncidentsCSV(c echo.Context) error {
	ctx := c.Request().Context()
	var all []data.Incident
	for off := 0; ; off += 500 {
		incs, total, err := s.store.FindIncidents(ctx, data.IncidentQuery{Limit: 500, Offset: off})
		if err != nil {
			return err
		}
		all = append(all, incs...)
		if len(incs) == 0 || int64(len(all)) >= total {
			break
		}
	}
	products, err := s.store.Products(ctx)
	if err != nil {
		return err
	}
	b, err := incidentcsv.Bytes(all, products)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="incidents-`+s.opts.Now().In(s.opts.Location).Format("20060102")+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b)
}
