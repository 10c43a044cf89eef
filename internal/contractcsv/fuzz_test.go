package contractcsv

import (
	"testing"

	"github.com/oshirase/oshirase/data"
)

// FuzzParse: any file parses without panicking, and every contract it
// accepts without problems carries valid addresses.
func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\nC,A,krewDashboard,有効,a,a@example.com,ja,primary\n")
	f.Add("contract_code\n\"unterminated")
	f.Fuzz(func(t *testing.T, text string) {
		im := Parse(text, products)
		if len(im.Problems) > 0 {
			return
		}
		for _, c := range im.Contracts {
			for _, ct := range c.Contacts {
				if !data.ValidEmail(ct.Email) {
					t.Fatalf("accepted contact %q", ct.Email)
				}
			}
		}
	})
}
