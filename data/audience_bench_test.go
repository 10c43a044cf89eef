package data_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// BenchmarkNoticeAudience100k is the "will email N contacts" preview an
// operator sees while declaring an incident, with 100,000 contacts on 100
// contracts: go test -run '^$' -bench NoticeAudience ./data/ (and with
// OSHIRASE_TEST_POSTGRES for PostgreSQL).
func BenchmarkNoticeAudience100k(b *testing.B) {
	ctx := context.Background()
	store := datatest.Open(b, datatest.NewClock(time.Now()))
	prod, err := store.CreateProduct(ctx, data.ProductInput{NameJA: "製品"})
	if err != nil {
		b.Fatal(err)
	}
	comp, err := store.CreateComponent(ctx, data.ComponentInput{ProductID: prod.ID, NameJA: "API"})
	if err != nil {
		b.Fatal(err)
	}
	var cs []data.ImportContract
	for k := range 100 {
		ic := data.ImportContract{Code: fmt.Sprintf("K-%03d", k), Name: fmt.Sprintf("顧客%d", k), Active: true, ProductIDs: []int64{prod.ID}}
		for i := range 1000 {
			role := data.RolePrimary
			if i%4 == 0 {
				role = data.RoleAdditional
			}
			ic.Contacts = append(ic.Contacts, data.ContactInput{Email: fmt.Sprintf("c%03d-%04d@example.com", k, i), Lang: "ja", Role: role})
		}
		cs = append(cs, ic)
	}
	if _, err := store.ApplyImport(ctx, cs); err != nil {
		b.Fatal(err)
	}
	// count is what the preview runs; list, the whole recipient list a
	// notice is sent to, is the baseline it replaced.
	for name, f := range map[string]func(context.Context, string, []int64) (data.Audience, error){
		"count": store.NoticeAudienceCount, "list": store.NoticeAudience} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				a, err := f(ctx, "major", []int64{comp.ID})
				if err != nil || a.Contacts != 75000+25000 {
					b.Fatalf("%+v %v", a.Contacts, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/preview")
		})
	}
}
