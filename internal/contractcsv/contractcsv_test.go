package contractcsv

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

var products = []data.Product{{ID: 1, NameJA: "krewDashboard", NameEN: "krewDashboard"}, {ID: 2, NameJA: "krewシート", NameEN: "krewSheet"}}

const good = `contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role
C-001,株式会社サンプル,krewDashboard;krewSheet,true,山田 太郎,taro@example.jp,ja,primary
C-001,株式会社サンプル,krewDashboard;krewSheet,true,John Smith,John@Example.com,en,additional
C-002,終了した会社,krewシート,false,,,,
`

func TestParseGoodFile(t *testing.T) {
	im := Parse(good, products)
	if len(im.Problems) != 0 {
		t.Fatalf("problems %+v", im.Problems)
	}
	if len(im.Contracts) != 2 || im.Rows != 3 || im.Contacts() != 2 {
		t.Fatalf("%+v", im)
	}
	c := im.Contracts[0]
	if c.Code != "C-001" || !c.Active || len(c.ProductIDs) != 2 || c.Contacts[1].Email != "john@example.com" || c.Contacts[1].Role != data.RoleAdditional {
		t.Fatalf("%+v", c)
	}
	if im.Contracts[1].Active || len(im.Contracts[1].Contacts) != 0 {
		t.Fatalf("%+v", im.Contracts[1])
	}
}

func TestParseReportsEveryBadLine(t *testing.T) {
	text := `契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分
C-001,A社,krewDashboard,有効,A,a@example.com,ja,primary
C-001,A社,krewDashboard,有効,B,not-an-email,ja,primary
C-002,B社,NoSuchProduct,有効,C,c@example.com,ja,primary
C-001,別の会社,krewDashboard,有効,D,d@example.com,ja,primary
C-003,C社,krewDashboard,たぶん,E,e@example.com,fr,boss
C-001,A社,krewDashboard,有効,A again,A@example.com,ja,additional
,名無し,krewDashboard,有効,F,f@example.com,ja,primary
C-004,D社,krewDashboard,有効,G
`
	im := Parse(text, products)
	want := []struct {
		line        int
		column, why string
	}{
		{3, "contact_email", "bad_email"},
		{4, "products", "unknown_product"},
		{5, "contract_code", "duplicate_code"},
		{6, "active", "invalid_choice"},
		{6, "contact_language", "invalid_choice"},
		{6, "contact_role", "invalid_choice"},
		{7, "contact_email", "duplicate_contact"},
		{8, "contract_code", "required"},
		{9, "", "csv_column_count"},
	}
	if len(im.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d: %+v", len(im.Problems), len(want), im.Problems)
	}
	for i, w := range want {
		p := im.Problems[i]
		if p.Line != w.line || p.Column != w.column || p.Reason != w.why {
			t.Errorf("problem %d: %+v, want line %d %s %s", i, p, w.line, w.column, w.why)
		}
	}
	for _, bad := range []string{"", "a,b\n1,2\n", "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n\"unterminated,x\n"} {
		if im := Parse(bad, products); len(im.Problems) == 0 {
			t.Errorf("%q: no problem reported", bad)
		}
	}
}

func TestDecodeShiftJIS(t *testing.T) {
	sjis, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	text, enc, err := Decode(sjis)
	if err != nil || enc != "Shift_JIS" || text != good {
		t.Fatalf("%q %s %v", text, enc, err)
	}
	text, enc, _ = Decode(append([]byte("\xef\xbb\xbf"), good...))
	if enc != "UTF-8" || text != good {
		t.Fatalf("BOM: %s", enc)
	}
	if _, _, err := Decode([]byte{0xff, 0xfe, 0x00, 0x81}); err == nil {
		t.Fatal("binary junk decoded")
	}
}

// TestExportImportRoundTrip exports what an import wrote and imports it
// again: nothing changes.
func TestExportImportRoundTrip(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)))
	ctx := context.Background()
	s.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard", NameEN: "krewDashboard"})
	s.CreateProduct(ctx, data.ProductInput{NameJA: "krewシート", NameEN: "krewSheet"})
	prods, _ := s.Products(ctx)
	text := good + "C-003,\"=HYPERLINK(\"\"http://evil\"\")\",krewDashboard,true,@SUM(1),x@example.com,ja,primary\n" +
		// Valid addresses that a spreadsheet would run as formulas.
		"C-004,式,krewDashboard,true,a,=2+5@example.com,ja,primary\n" +
		"C-004,式,krewDashboard,true,b,+1+1@example.com,ja,additional\n" +
		"C-004,式,krewDashboard,true,c,-1-1@example.com,ja,additional\n" +
		"C-004,式,krewDashboard,true,d,=cmd|'/ccalc'!a0@example.com,ja,additional\n"
	im := Parse(text, prods)
	if len(im.Problems) != 0 {
		t.Fatalf("%+v", im.Problems)
	}
	res, err := s.ApplyImport(ctx, im.Contracts)
	if err != nil || res.Created != 4 || res.Contacts != 7 {
		t.Fatalf("%+v %v", res, err)
	}
	contracts, _, _ := s.Contracts(ctx, data.ContractFilter{})
	var out bytes.Buffer
	if err := Write(&out, contracts, prods); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `,"=HYPERLINK`) || !strings.Contains(out.String(), `,"'=HYPERLINK`) || !strings.Contains(out.String(), ",'@SUM(1)") {
		t.Fatalf("formula not neutralised:\n%s", out.String())
	}
	// No cell of any column starts with a character a spreadsheet runs.
	r := csv.NewReader(strings.NewReader(out.String()))
	rows, _ := r.ReadAll()
	for _, row := range rows[1:] {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %d exported as %q", i, cell)
			}
		}
	}
	decoded, _, _ := Decode(out.Bytes())
	again := Parse(decoded, prods)
	if len(again.Problems) != 0 {
		t.Fatalf("export does not import: %+v\n%s", again.Problems, out.String())
	}
	res, err = s.ApplyImport(ctx, again.Contracts)
	if err != nil || res.Created != 0 || res.Updated != 0 || res.Unchanged != 4 || res.ContactsRemoved != 0 {
		t.Fatalf("second import changed things: %+v %v", res, err)
	}
	after, _, _ := s.Contracts(ctx, data.ContractFilter{})
	var out2 bytes.Buffer
	Write(&out2, after, prods)
	if out.String() != out2.String() {
		t.Fatalf("round trip differs:\n%s\n---\n%s", out.String(), out2.String())
	}
	if !strings.Contains(out.String(), `=HYPERLINK(""http://evil"")`) {
		t.Fatalf("name not kept: %s", out.String())
	}

	// A contact dropped from the file is removed; an opted-out one who stays
	// keeps the opt-out.
	c, _ := s.Contract(ctx, contracts[0].ID)
	var john int64
	for _, ct := range c.Contacts {
		if ct.Email == "john@example.com" {
			john = ct.ID
		}
	}
	s.OptOutAddress(ctx, john)
	lines := strings.Split(good, "\n")
	res, err = s.ApplyImport(ctx, Parse(strings.Join([]string{lines[0], lines[2]}, "\n"), prods).Contracts)
	if err != nil || res.ContactsRemoved != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	kept, _ := s.AddressOfContact(ctx, john)
	if !kept.Person.OptedOut {
		t.Fatal("import reset an opt-out")
	}
}
