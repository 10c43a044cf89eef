package contractcsv

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
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

// TestParseChoiceValues: what CRM exports and Excel write for yes/no,
// languages and roles reads as the value it means, with any letter case
// and in full-width characters.
func TestParseChoiceValues(t *testing.T) {
	const head = "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\n"
	for _, c := range []struct {
		active, lang, role string
		wantActive         bool
		wantLang, wantRole string
	}{
		{"はい", "ja", "primary", true, "ja", data.RolePrimary},
		{"いいえ", "ja", "primary", false, "ja", data.RolePrimary},
		{"○", "", "", true, "ja", data.RolePrimary},
		{"〇", "", "", true, "ja", data.RolePrimary},
		{"◯", "", "", true, "ja", data.RolePrimary},
		{"×", "", "", false, "ja", data.RolePrimary},
		{"✕", "", "", false, "ja", data.RolePrimary},
		{"TRUE", "", "", true, "ja", data.RolePrimary},
		{"FALSE", "", "", false, "ja", data.RolePrimary},
		{"True", "", "", true, "ja", data.RolePrimary},
		{"1", "", "", true, "ja", data.RolePrimary},
		{"0", "", "", false, "ja", data.RolePrimary},
		{"１", "", "", true, "ja", data.RolePrimary},
		{"０", "", "", false, "ja", data.RolePrimary},
		{"yes", "", "", true, "ja", data.RolePrimary},
		{"No", "", "", false, "ja", data.RolePrimary},
		{"ＹＥＳ", "", "", true, "ja", data.RolePrimary},
		{"有効", "", "", true, "ja", data.RolePrimary},
		{"無効", "", "", false, "ja", data.RolePrimary},
		{"終了", "", "", false, "ja", data.RolePrimary},
		{"", "", "", true, "ja", data.RolePrimary},
		{" はい ", "English", "Additional", true, "en", data.RoleAdditional},
		{"はい", "英語", "追加連絡先", true, "en", data.RoleAdditional},
		{"はい", "日本語", "契約時の連絡先", true, "ja", data.RolePrimary},
		{"はい", "ＥＮ", "追加", true, "en", data.RoleAdditional},
	} {
		im := Parse(head+"C-1,A社,krewDashboard,"+c.active+",山田,y@example.jp,"+c.lang+","+c.role+"\n", products)
		if len(im.Problems) != 0 {
			t.Errorf("%q %q %q: problems %+v", c.active, c.lang, c.role, im.Problems)
			continue
		}
		got := im.Contracts[0]
		if got.Active != c.wantActive || got.Contacts[0].Lang != c.wantLang || got.Contacts[0].Role != c.wantRole {
			t.Errorf("%q %q %q: active %v lang %s role %s, want %v %s %s", c.active, c.lang, c.role,
				got.Active, got.Contacts[0].Lang, got.Contacts[0].Role, c.wantActive, c.wantLang, c.wantRole)
		}
	}
}

// TestProblemsNameTheFilesColumnAndTheAcceptedValues: a message names the
// column as the file's header wrote it and lists what the column takes.
func TestProblemsNameTheFilesColumnAndTheAcceptedValues(t *testing.T) {
	for _, c := range []struct {
		name, text           string
		column, header, why  string
		accepts, notAccepted []string
	}{
		{"japanese header", "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\nC-1,A社,krewDashboard,たぶん,山田,y@example.jp,ja,primary\n",
			"active", "有効", "invalid_choice", []string{"はい", "いいえ", "○", "×", "true", "false", "1", "0", "yes", "no"}, []string{"〇"}},
		{"english header keeps its case", "contract_code,contract_name,products,Active,contact_name,contact_email,contact_language,contact_role\nC-1,A社,krewDashboard,maybe,山田,y@example.jp,ja,primary\n",
			"active", "Active", "invalid_choice", []string{"はい", "true"}, nil},
		{"language", "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\nC-1,A社,krewDashboard,はい,山田,y@example.jp,fr,primary\n",
			"contact_language", "言語", "invalid_choice", []string{"ja", "en", "日本語", "英語"}, nil},
		{"role", "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\nC-1,A社,krewDashboard,はい,山田,y@example.jp,ja,boss\n",
			"contact_role", "区分", "invalid_choice", []string{"primary", "additional", "契約時の連絡先", "追加連絡先"}, nil},
		{"product", "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\nC-1,A社,krewExcel,はい,山田,y@example.jp,ja,primary\n",
			"products", "製品", "unknown_product", []string{"krewDashboard", "krewシート", "krewSheet"}, nil},
		{"missing column", "契約コード,契約名,製品,担当者名,メールアドレス,言語,区分\n",
			"active", "", "csv_missing_column", []string{"active", "有効"}, nil},
		{"email", "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\nC-1,A社,krewDashboard,はい,山田,not-an-address,ja,primary\n",
			"contact_email", "メールアドレス", "bad_email", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			im := Parse(c.text, products)
			if len(im.Problems) != 1 {
				t.Fatalf("problems %+v", im.Problems)
			}
			p := im.Problems[0]
			if p.Column != c.column || p.Header != c.header || p.Reason != c.why {
				t.Fatalf("%+v, want column %s header %q reason %s", p, c.column, c.header, c.why)
			}
			if want := c.header; want != "" && p.ColumnName() != want {
				t.Errorf("ColumnName %q, want %q", p.ColumnName(), want)
			} else if want == "" && p.ColumnName() != c.column {
				t.Errorf("ColumnName %q, want %q", p.ColumnName(), c.column)
			}
			list := p.AcceptedList("、")
			for _, v := range c.accepts {
				if !contains(p.Accepted, v) {
					t.Errorf("accepted %q lacks %q", list, v)
				}
			}
			for _, v := range c.notAccepted {
				if contains(p.Accepted, v) {
					t.Errorf("accepted %q lists the variant %q", list, v)
				}
			}
			if len(c.accepts) == 0 && len(p.Accepted) != 0 {
				t.Errorf("accepted %q for a column without choices", list)
			}
		})
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestRemovals: the contacts an import deletes are those of the contracts
// it lists that its rows leave out; other contracts are left alone.
func TestRemovals(t *testing.T) {
	existing := []data.Contract{
		{Code: "C-001", Name: "株式会社サンプル", Contacts: []data.Contact{
			{Name: "山田 太郎", Email: "taro@example.jp"}, {Name: "John Smith", Email: "john@example.com"}, {Name: "旧担当", Email: "old@example.jp"}}},
		{Code: "C-002", Name: "終了した会社", Contacts: []data.Contact{{Name: "佐藤", Email: "sato@example.jp"}}},
		{Code: "C-009", Name: "ファイルにない会社", Contacts: []data.Contact{{Name: "鈴木", Email: "suzuki@example.jp"}}},
	}
	for _, c := range []struct {
		name string
		text string
		want []Removal
	}{
		{"the file as it is", good, []Removal{
			{ContractCode: "C-001", ContractName: "株式会社サンプル", Name: "旧担当", Email: "old@example.jp"},
			{ContractCode: "C-002", ContractName: "終了した会社", Name: "佐藤", Email: "sato@example.jp"}}},
		{"only one contract", strings.Join(strings.Split(good, "\n")[:2], "\n") + "\n", []Removal{
			{ContractCode: "C-001", ContractName: "株式会社サンプル", Name: "John Smith", Email: "john@example.com"},
			{ContractCode: "C-001", ContractName: "株式会社サンプル", Name: "旧担当", Email: "old@example.jp"}}},
		{"a new contract", "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\nC-100,新規,krewDashboard,true,a,a@example.com,ja,primary\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			im := Parse(c.text, products)
			if len(im.Problems) != 0 {
				t.Fatalf("%+v", im.Problems)
			}
			got := Removals(im.Contracts, existing)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("removals\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

// TestRemovalsAreWhatApplyRemoves: the preview's list is exactly what
// the store deletes.
func TestRemovalsAreWhatApplyRemoves(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)))
	ctx := context.Background()
	s.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard", NameEN: "krewDashboard"})
	s.CreateProduct(ctx, data.ProductInput{NameJA: "krewシート", NameEN: "krewSheet"})
	prods, _ := s.Products(ctx)
	first := Parse(good+"C-002,終了した会社,krewシート,false,佐藤,sato@example.jp,ja,primary\n", prods)
	// C-002 is listed twice with the same details, once without a contact.
	if len(first.Problems) != 0 {
		t.Fatalf("%+v", first.Problems)
	}
	if _, err := s.ApplyImport(ctx, first.Contracts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(good, "\n")
	next := Parse(strings.Join([]string{lines[0], lines[2], lines[3]}, "\n"), prods)
	before, _, _ := s.Contracts(ctx, data.ContractFilter{})
	removals := Removals(next.Contracts, before)
	res, err := s.ApplyImport(ctx, next.Contracts)
	if err != nil || res.ContactsRemoved != len(removals) || len(removals) != 2 {
		t.Fatalf("%+v %v, preview listed %+v", res, err, removals)
	}
	after, _, _ := s.Contracts(ctx, data.ContractFilter{})
	left := map[string]bool{}
	for _, c := range after {
		for _, ct := range c.Contacts {
			left[c.Code+" "+ct.Email] = true
		}
	}
	for _, r := range removals {
		if left[r.ContractCode+" "+r.Email] {
			t.Errorf("%+v listed as removed but still there", r)
		}
	}
}
