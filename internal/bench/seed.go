package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

// fixture is the size of the seeded database.
type fixture struct {
	Products, ComponentsEach int
	Days                     int // history the incidents spread over
	Incidents                int
	Contacts                 int
}

// seed builds the fixture in a new database: products and components, past
// incidents spread over the history (each resolved 90 minutes after it
// began, on one component, so the uptime bars have something to show), and
// an active contract on every product with Contacts addresses.
// seeded is what the harness needs to act as an operator.
type seeded struct {
	token     string // a write API token
	component int64
}

func seed(ctx context.Context, dsn string, f fixture) (seeded, error) {
	var out seeded
	now := time.Now()
	clock := now
	store, err := data.Open(dsn, data.Options{Now: func() time.Time { return clock }})
	if err != nil {
		return out, err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return out, err
	}
	// The operator exists already, as on a server that has run before:
	// the first start would otherwise hash a password (64 MiB, once).
	hash, err := password.Hash(password.Generate())
	if err != nil {
		return out, err
	}
	op, err := store.CreateOperator(ctx, data.NewOperator{Email: "ops@example.com", Role: data.RoleAdmin, PasswordHash: hash})
	if err != nil {
		return out, err
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	out.token = "bench-" + hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(out.token))
	if _, err := store.CreateAPIToken(ctx, "bench", hex.EncodeToString(sum[:]), data.ScopeWrite, "30d", op.ID); err != nil {
		return out, err
	}
	var comps, products []int64
	for p := range f.Products {
		prod, err := store.CreateProduct(ctx, data.ProductInput{NameJA: fmt.Sprintf("製品%d", p+1), NameEN: fmt.Sprintf("Product %d", p+1)})
		if err != nil {
			return out, err
		}
		products = append(products, prod.ID)
		for c := range f.ComponentsEach {
			cp, err := store.CreateComponent(ctx, data.ComponentInput{ProductID: prod.ID,
				NameJA: fmt.Sprintf("コンポーネント%d-%d", p+1, c+1), NameEN: fmt.Sprintf("Component %d-%d", p+1, c+1)})
			if err != nil {
				return out, err
			}
			comps = append(comps, cp.ID)
		}
	}
	span := time.Duration(f.Days) * 24 * time.Hour
	for i := range f.Incidents {
		// Oldest first, evenly over the span, ending two hours ago.
		clock = now.Add(-span + time.Duration(i)*span/time.Duration(max(f.Incidents, 1)) - 2*time.Hour)
		inc, err := store.CreateIncident(ctx, data.NewIncident{TitleJA: fmt.Sprintf("障害 %d", i+1), TitleEN: fmt.Sprintf("Incident %d", i+1),
			Impact: []string{"minor", "major", "critical"}[i%3], Status: data.Investigating,
			BodyJA: "調査しています。**詳細**は追ってお知らせします。", BodyEN: "We are investigating.",
			Components: map[int64]string{comps[i%len(comps)]: data.PartialOutage}})
		if err != nil {
			return out, err
		}
		clock = clock.Add(90 * time.Minute)
		if _, err := store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved,
			BodyJA: "復旧しました。", BodyEN: "Resolved."}); err != nil {
			return out, err
		}
	}
	clock = now
	out.component = comps[0]
	if f.Contacts > 0 {
		ic := data.ImportContract{Code: "BENCH", Name: "負荷試験", Active: true, ProductIDs: products}
		for i := range f.Contacts {
			ic.Contacts = append(ic.Contacts, data.ContactInput{Email: fmt.Sprintf("c%06d@example.com", i), Lang: "ja", Role: data.RolePrimary})
		}
		if _, err := store.ApplyImport(ctx, []data.ImportContract{ic}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// seedOlder adds n resolved incidents before the last 90 days, spread over
// the three years before: history that the status page must not pay for.
func seedOlder(ctx context.Context, dsn string, n int) error {
	now := time.Now()
	clock := now
	store, err := data.Open(dsn, data.Options{Now: func() time.Time { return clock }})
	if err != nil {
		return err
	}
	defer store.Close()
	products, err := store.Products(ctx)
	if err != nil {
		return err
	}
	var comps []int64
	for _, p := range products {
		for _, c := range p.Components {
			comps = append(comps, c.ID)
		}
	}
	end := now.AddDate(0, 0, -92)
	span := 3 * 365 * 24 * time.Hour
	for i := range n {
		clock = end.Add(-span + time.Duration(i)*span/time.Duration(n))
		inc, err := store.CreateIncident(ctx, data.NewIncident{TitleJA: fmt.Sprintf("過去の障害 %d", i+1), Impact: "minor",
			Status: data.Investigating, BodyJA: "調査しています。", Components: map[int64]string{comps[i%len(comps)]: data.DegradedPerformance}})
		if err != nil {
			return err
		}
		clock = clock.Add(30 * time.Minute)
		if _, err := store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"}); err != nil {
			return err
		}
		if i%10000 == 9999 {
			fmt.Fprintf(os.Stderr, "  %d of %d older incidents\n", i+1, n)
		}
	}
	return nil
}
