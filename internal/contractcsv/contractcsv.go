// Package contractcsv reads and writes contracts with their contacts as CSV,
// the way operators keep them in a CRM or in Excel: one row per contact,
// UTF-8 (with or without BOM) or Shift_JIS.
package contractcsv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/width"

	"github.com/oshirase/oshirase/data"
)

// Columns are the header of an export; an import also accepts the
// Japanese names in japaneseColumns.
var Columns = []string{"contract_code", "contract_name", "products", "active", "contact_name", "contact_email", "contact_language", "contact_role"}

var japaneseColumns = map[string]string{
	"契約コード": "contract_code", "契約名": "contract_name", "製品": "products", "有効": "active",
	"担当者名": "contact_name", "メールアドレス": "contact_email", "言語": "contact_language", "区分": "contact_role",
}

// MaxRows bounds an import, so a wrong file cannot take the server down.
const MaxRows = 100000

// Problem is one bad line: its number in the file (the header is line 1),
// the column, and a message key (field.*) for the reason.
type Problem struct {
	Line int
	// Column is the column's name in Columns; Header is how the file's
	// header wrote it ("有効", "Active"), empty when the file lacks it.
	Column string
	Header string
	Reason string
	Value  string
	// Accepted lists what the column takes, for the message: its values,
	// the products that exist, or, for a missing column, its names.
	Accepted []string
}

// ColumnName is the column as the operator's file names it, else its name
// in Columns.
func (p Problem) ColumnName() string {
	if p.Header != "" {
		return p.Header
	}
	return p.Column
}

// AcceptedList joins Accepted with sep, for a message.
func (p Problem) AcceptedList(sep string) string { return strings.Join(p.Accepted, sep) }

// Import is a parsed file.
type Import struct {
	Contracts []data.ImportContract
	Rows      int
	Problems  []Problem
	// Encoding names what the file was read as: "UTF-8" or "Shift_JIS".
	Encoding string
}

// Contacts counts the contacts in the import.
func (im *Import) Contacts() int {
	n := 0
	for _, c := range im.Contracts {
		n += len(c.Contacts)
	}
	return n
}

// Decode turns the raw bytes of an upload into UTF-8 text: a UTF-8 BOM is
// dropped, valid UTF-8 is kept, anything else is read as Shift_JIS (what
// Excel in Japan saves).
func Decode(raw []byte) (string, string, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if utf8.Valid(raw) {
		return string(raw), "UTF-8", nil
	}
	b, err := japanese.ShiftJIS.NewDecoder().Bytes(raw)
	// The decoder turns bytes that are not Shift_JIS into U+FFFD rather
	// than failing; any of those means the guess was wrong.
	if err != nil || !utf8.Valid(b) || bytes.ContainsRune(b, utf8.RuneError) {
		return "", "", errors.New("the file is neither UTF-8 nor Shift_JIS")
	}
	return string(b), "Shift_JIS", nil
}

// Parse reads CSV text against the products that exist. Every bad line is
// reported; the contracts are only meant to be applied when there is none.
func Parse(text string, products []data.Product) *Import {
	im := &Import{}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		im.Problems = append(im.Problems, Problem{Line: 1, Reason: "csv_empty"})
		return im
	}
	col := map[string]int{}
	// written is each column as the file's header spells it, so messages
	// name the column the operator sees in their spreadsheet.
	written := map[string]string{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		name := h
		if en, ok := japaneseColumns[h]; ok {
			name = en
		}
		name = strings.ToLower(name)
		col[name] = i
		written[name] = h
	}
	for _, c := range Columns {
		if _, ok := col[c]; !ok {
			im.Problems = append(im.Problems, Problem{Line: 1, Column: c, Reason: "csv_missing_column", Accepted: columnNames(c)})
		}
	}
	if len(im.Problems) > 0 {
		return im
	}
	byName := map[string]int64{}
	var productList []string
	for _, p := range products {
		for _, name := range []string{p.NameJA, p.NameEN} {
			name = strings.TrimSpace(name)
			if key := strings.ToLower(name); name != "" {
				if _, dup := byName[key]; !dup {
					productList = append(productList, name)
				}
				byName[key] = p.ID
			}
		}
	}
	type seen struct {
		index int
		line  int
	}
	contracts := map[string]seen{}
	emails := map[string]map[string]int{}
	for {
		line, _ := r.FieldPos(0)
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			im.Problems = append(im.Problems, Problem{Line: line, Reason: "csv_syntax"})
			// The reader cannot resynchronise reliably after a quoting error.
			break
		}
		line, _ = r.FieldPos(0)
		im.Rows++
		if im.Rows > MaxRows {
			im.Problems = append(im.Problems, Problem{Line: line, Reason: "csv_too_many_rows"})
			break
		}
		get := func(name string) string {
			i := col[name]
			if i >= len(rec) {
				return ""
			}
			return unsafeCell(strings.TrimSpace(rec[i]))
		}
		bad := func(column, reason, value string, accepted ...string) {
			im.Problems = append(im.Problems, Problem{Line: line, Column: column, Header: written[column], Reason: reason, Value: Quote(value), Accepted: accepted})
		}
		if len(rec) != len(header) {
			bad("", "csv_column_count", strconv.Itoa(len(rec)))
			continue
		}
		ic := data.ImportContract{Code: get("contract_code"), Name: get("contract_name")}
		if ic.Code == "" {
			bad("contract_code", "required", "")
			continue
		}
		if !text1(ic.Code, data.MaxCode) {
			bad("contract_code", "bad_text", ic.Code)
			continue
		}
		if ic.Name == "" {
			bad("contract_name", "required", "")
		} else if !text1(ic.Name, data.MaxTitle) {
			bad("contract_name", "bad_text", ic.Name)
		}
		active, ok := activeChoices.parse(get("active"))
		if !ok {
			bad("active", "invalid_choice", get("active"), activeChoices.shown...)
		}
		ic.Active = active == "true"
		for _, name := range splitProducts(get("products")) {
			id, ok := byName[strings.ToLower(name)]
			if !ok {
				bad("products", "unknown_product", name, productList...)
				continue
			}
			ic.ProductIDs = append(ic.ProductIDs, id)
		}
		sort.Slice(ic.ProductIDs, func(i, j int) bool { return ic.ProductIDs[i] < ic.ProductIDs[j] })

		var contact *data.ContactInput
		if email := get("contact_email"); email != "" || get("contact_name") != "" {
			ct := data.ContactInput{Name: get("contact_name"), Email: data.NormalizeEmail(email)}
			if !data.ValidEmail(ct.Email) {
				bad("contact_email", "bad_email", email)
			}
			if !text1(ct.Name, data.MaxName) {
				bad("contact_name", "bad_text", ct.Name)
			}
			if ct.Lang, ok = langChoices.parse(get("contact_language")); !ok {
				bad("contact_language", "invalid_choice", get("contact_language"), langChoices.shown...)
			}
			if ct.Role, ok = roleChoices.parse(get("contact_role")); !ok {
				bad("contact_role", "invalid_choice", get("contact_role"), roleChoices.shown...)
			}
			contact = &ct
		}

		prev, known := contracts[ic.Code]
		if !known {
			contracts[ic.Code] = seen{index: len(im.Contracts), line: line}
			emails[ic.Code] = map[string]int{}
			im.Contracts = append(im.Contracts, ic)
			prev = contracts[ic.Code]
		} else {
			// Every row of a contract repeats its details; they must agree,
			// or the code is used for two different contracts.
			first := im.Contracts[prev.index]
			if first.Name != ic.Name || first.Active != ic.Active || fmt.Sprint(first.ProductIDs) != fmt.Sprint(ic.ProductIDs) {
				bad("contract_code", "duplicate_code", fmt.Sprintf("%s (%d)", ic.Code, prev.line))
				continue
			}
		}
		if contact != nil {
			if at, dup := emails[ic.Code][contact.Email]; dup {
				bad("contact_email", "duplicate_contact", fmt.Sprintf("%s (%d)", contact.Email, at))
				continue
			}
			emails[ic.Code][contact.Email] = line
			c := &im.Contracts[prev.index]
			c.Contacts = append(c.Contacts, *contact)
		}
	}
	if im.Rows == 0 && len(im.Problems) == 0 {
		im.Problems = append(im.Problems, Problem{Line: 2, Reason: "csv_empty"})
	}
	return im
}

// text1 checks one line of text: valid, no control characters, not too long.
func text1(s string, max int) bool {
	if utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func splitProducts(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '；' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// choices is a column with a fixed set of values: what a cell may say
// (compared without case, full-width letters and digits read as ASCII) and
// the value each means. An empty cell means the default.
type choices struct {
	values map[string]string
	// shown lists the words in the order a message gives them; spelling
	// variants (〇 for ○) are accepted without being listed.
	shown []string
}

func newChoices(def string, words map[string][]string, variants map[string]string, shown ...string) choices {
	c := choices{values: map[string]string{"": def}, shown: shown}
	for value, ws := range words {
		for _, w := range ws {
			c.values[normalize(w)] = value
		}
	}
	for variant, w := range variants {
		c.values[normalize(variant)] = c.values[normalize(w)]
	}
	return c
}

func (c choices) parse(s string) (string, bool) {
	v, ok := c.values[normalize(s)]
	return v, ok
}

func normalize(s string) string { return strings.ToLower(strings.TrimSpace(width.Fold.String(s))) }

// The words Japanese CRMs and spreadsheets write, in both languages (the
// README lists them).
var (
	activeChoices = newChoices("true", map[string][]string{
		"true":  {"はい", "○", "有効", "true", "1", "yes", "active"},
		"false": {"いいえ", "×", "無効", "終了", "false", "0", "no", "ended"},
	}, map[string]string{"〇": "○", "◯": "○", "✕": "×", "✖": "×"},
		"はい", "いいえ", "○", "×", "有効", "無効", "終了", "true", "false", "1", "0", "yes", "no", "active", "ended")
	langChoices = newChoices("ja", map[string][]string{
		"ja": {"ja", "日本語", "japanese"},
		"en": {"en", "英語", "english"},
	}, nil, "ja", "en", "日本語", "英語", "japanese", "english")
	roleChoices = newChoices(data.RolePrimary, map[string][]string{
		data.RolePrimary:    {"primary", "契約時の連絡先", "主担当", "主"},
		data.RoleAdditional: {"additional", "追加連絡先", "追加"},
	}, nil, "primary", "additional", "契約時の連絡先", "追加連絡先", "主担当", "主", "追加")
)

// columnNames are the header names an import accepts for a column.
func columnNames(c string) []string {
	out := []string{c}
	for ja, en := range japaneseColumns {
		if en == c {
			out = append(out, ja)
		}
	}
	return out
}

// Removal is a contact that applying an import deletes.
type Removal struct {
	ContractCode, ContractName string
	Name, Email                string
}

// Removals lists the contacts that applying contracts deletes from
// existing (the stored contracts with their contacts): those of a contract
// the import lists whose address its rows leave out, as
// data.Store.ApplyImport decides. Contracts the import does not list keep
// their contacts. The order is the file's, then by address.
func Removals(contracts []data.ImportContract, existing []data.Contract) []Removal {
	removed, _ := leftOut(contracts, existing)
	return removed
}

// PortalKept lists the contacts customers added in the portal that the
// import does not list: the import keeps them (the preview says so).
func PortalKept(contracts []data.ImportContract, existing []data.Contract) []Removal {
	_, kept := leftOut(contracts, existing)
	return kept
}

// leftOut sorts the existing contacts an import does not list into those
// it removes and those it keeps, because the customer added them in the
// portal (an import never undoes the customer's change).
func leftOut(contracts []data.ImportContract, existing []data.Contract) (removed, kept []Removal) {
	byCode := map[string]*data.Contract{}
	for i := range existing {
		byCode[existing[i].Code] = &existing[i]
	}
	for _, in := range contracts {
		old, ok := byCode[in.Code]
		if !ok {
			continue
		}
		listed := map[string]bool{}
		for _, ct := range in.Contacts {
			listed[ct.Email] = true
		}
		var gone, stay []Removal
		for _, ct := range old.Contacts {
			if listed[ct.Email] {
				continue
			}
			r := Removal{ContractCode: old.Code, ContractName: old.Name, Name: ct.Name, Email: ct.Email}
			if ct.AddedByContactID != nil {
				stay = append(stay, r)
			} else {
				gone = append(gone, r)
			}
		}
		byEmail := func(rs []Removal) { sort.Slice(rs, func(i, j int) bool { return rs[i].Email < rs[j].Email }) }
		byEmail(gone)
		byEmail(stay)
		removed, kept = append(removed, gone...), append(kept, stay...)
	}
	return removed, kept
}

// Write exports contracts as CSV in UTF-8 with a BOM (so Excel opens it
// right), one row per contact, in the columns Parse reads. A contract
// without contacts is one row with the contact columns empty.
func Write(w io.Writer, contracts []data.Contract, products []data.Product) error {
	names := map[int64]string{}
	for _, p := range products {
		names[p.ID] = p.NameJA
	}
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(Columns); err != nil {
		return err
	}
	for _, c := range contracts {
		var prods []string
		for _, id := range c.ProductIDs() {
			prods = append(prods, names[id])
		}
		sort.Strings(prods)
		active := "true"
		if !c.Active {
			active = "false"
		}
		base := []string{safeCell(c.Code), safeCell(c.Name), safeCell(strings.Join(prods, ";")), safeCell(active)}
		if len(c.Contacts) == 0 {
			if err := cw.Write(append(base, "", "", "", "")); err != nil {
				return err
			}
		}
		for _, ct := range c.Contacts {
			if err := cw.Write(append(append([]string(nil), base...), safeCell(ct.Name), safeCell(ct.Email), safeCell(ct.Lang), safeCell(ct.Role))); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// safeCell keeps a spreadsheet from running a cell as a formula (CSV
// injection): a leading =, +, - or @ gets a quote in front, which Excel
// hides and our import strips again.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// unsafeCell undoes safeCell.
func unsafeCell(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

// maxQuoted is how much of a bad value a message repeats.
const maxQuoted = 80

// Quote shortens a value for a message: its first 80 characters and its
// length when longer, so a 10 MB cell is not printed back in full.
func Quote(v string) string {
	if utf8.RuneCountInString(v) <= maxQuoted {
		return v
	}
	r := []rune(v)
	return string(r[:maxQuoted]) + "… (" + strconv.Itoa(len(v)) + " bytes)"
}

// SafeCell is safeCell for other exports: a cell a spreadsheet will not
// run as a formula.
func SafeCell(s string) string { return safeCell(s) }
