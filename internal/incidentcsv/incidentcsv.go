// Package incidentcsv writes the incident history as CSV (one row per
// update, oldest first within each incident) and reads what it wrote back
// as a data.HistoryImport, so another Oshirase (or a rerun) takes it in
// without duplicates.
//
// Columns: incident_id, title_ja, title_en, impact, status, started_at,
// resolved_at, update_id, update_status, update_at, body_ja, body_en,
// components. Times are RFC 3339 in UTC. components lists, one per line,
// "Product / Component = status". Cells that a spreadsheet would run as a
// formula get a leading quote (contractcsv.SafeCell), stripped on reading.
package incidentcsv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/contractcsv"
)

// Columns is the header.
var Columns = []string{"incident_id", "title_ja", "title_en", "impact", "status", "started_at", "resolved_at",
	"update_id", "update_status", "update_at", "body_ja", "body_en", "components"}

// MaxRows bounds what an import reads.
const MaxRows = 200000

const sep = " / "

// Write writes incidents (each with its updates, newest first as the
// store gives them) under a UTF-8 byte order mark, so spreadsheets read
// Japanese right.
func Write(w io.Writer, incs []data.Incident, products []data.Product) error {
	names := map[int64]string{}
	for _, p := range products {
		for _, c := range p.Components {
			names[c.ID] = p.NameJA + sep + c.NameJA
		}
	}
	if _, err := io.WriteString(w, "\xef\xbb\xbf"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, inc := range incs {
		for k := len(inc.Updates) - 1; k >= 0; k-- {
			u := inc.Updates[k]
			var comps []string
			for _, c := range u.Components {
				if n, ok := names[c.ComponentID]; ok {
					comps = append(comps, n+" = "+c.Status)
				}
			}
			row := []string{strconv.FormatInt(inc.ID, 10), inc.TitleJA, inc.TitleEN, inc.Impact, inc.Status, ts(&inc.StartedAt), ts(inc.ResolvedAt),
				strconv.FormatInt(u.ID, 10), u.Status, ts(&u.CreatedAt), u.BodyJA, u.BodyEN, strings.Join(comps, "\n")}
			for i := range row {
				row[i] = contractcsv.SafeCell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadError is a line that cannot be read.
type ReadError struct {
	Line   int
	Column string
	Reason string
}

func (e *ReadError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Column, e.Reason)
}

func unsafe(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

// Read parses what Write wrote (UTF-8 with or without a BOM, or Shift_JIS
// as a spreadsheet may save it) into an import from source. Products and
// components are found (or made) by their Japanese names.
func Read(raw []byte, source string) (*data.HistoryImport, error) {
	text, _, err := contractcsv.Decode(raw)
	if err != nil {
		return nil, &ReadError{Line: 1, Reason: err.Error()}
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = len(Columns)
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ReadError{Line: 1, Reason: "the file is empty"}
	}
	if err != nil {
		return nil, &ReadError{Line: 1, Reason: "not CSV of the incident export: " + err.Error()}
	}
	for i, c := range Columns {
		if strings.TrimSpace(head[i]) != c {
			return nil, &ReadError{Line: 1, Column: c, Reason: "column missing from the header (is this the incident export?)"}
		}
	}
	im := &data.HistoryImport{Source: source}
	groups := map[string]bool{}
	comps := map[string]bool{}
	index := map[string]int{}
	line := 1
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, &ReadError{Line: line, Reason: "not valid CSV: " + err.Error()}
		}
		if line > MaxRows {
			return nil, &ReadError{Line: line, Reason: "past the row limit"}
		}
		for i := range rec {
			rec[i] = unsafe(rec[i])
		}
		tm := func(col int, required bool) (*time.Time, error) {
			s := strings.TrimSpace(rec[col])
			if s == "" {
				if required {
					return nil, &ReadError{line, Columns[col], "required"}
				}
				return nil, nil
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, &ReadError{line, Columns[col], "not a time (RFC 3339)"}
			}
			return &t, nil
		}
		started, err := tm(5, true)
		if err != nil {
			return nil, err
		}
		resolved, err := tm(6, false)
		if err != nil {
			return nil, err
		}
		at, err := tm(9, true)
		if err != nil {
			return nil, err
		}
		u := data.ImportUpdate{ExternalID: "u" + rec[7], Status: rec[8], BodyJA: rec[10], BodyEN: rec[11], At: *at, Components: map[string]string{}}
		if strings.TrimSpace(rec[7]) == "" {
			return nil, &ReadError{line, "update_id", "required"}
		}
		for _, l := range strings.Split(rec[12], "\n") {
			if l = strings.TrimSpace(l); l == "" {
				continue
			}
			i := strings.LastIndex(l, " = ")
			j := strings.Index(l, sep)
			if i < 0 || j < 0 || j > i {
				return nil, &ReadError{line, "components", "not \"Product / Component = status\": " + l}
			}
			prod, comp, st := strings.TrimSpace(l[:j]), strings.TrimSpace(l[j+len(sep):i]), strings.TrimSpace(l[i+3:])
			key := prod + sep + comp
			if !groups[prod] {
				groups[prod] = true
				im.Groups = append(im.Groups, data.ImportGroup{ExternalID: prod, NameJA: prod})
			}
			if !comps[key] {
				comps[key] = true
				im.Components = append(im.Components, data.ImportComponent{ExternalID: key, GroupID: prod, NameJA: comp})
			}
			u.Components[key] = st
		}
		id := strings.TrimSpace(rec[0])
		if id == "" {
			return nil, &ReadError{line, "incident_id", "required"}
		}
		k, ok := index[id]
		if !ok {
			k = len(im.Incidents)
			index[id] = k
			im.Incidents = append(im.Incidents, data.ImportIncident{ExternalID: "i" + id, TitleJA: rec[1], TitleEN: rec[2], Impact: rec[3],
				Status: rec[4], StartedAt: *started, ResolvedAt: resolved})
		}
		im.Incidents[k].Updates = append(im.Incidents[k].Updates, u)
	}
	if len(im.Incidents) == 0 {
		return nil, &ReadError{Line: line, Reason: "no incidents in the file"}
	}
	if err := im.Validate(); err != nil {
		return nil, err
	}
	return im, nil
}

// Bytes is Write into a buffer.
func Bytes(incs []data.Incident, products []data.Product) ([]byte, error) {
	var b bytes.Buffer
	err := Write(&b, incs, products)
	return b.Bytes(), err
}
