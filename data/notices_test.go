package data_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// TestRoutingMatrix builds one contact for every combination of role,
// contract state and product coverage, and checks that a notice of each
// impact reaches exactly those the default policy names, once each.
func TestRoutingMatrix(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	_, cdn, _ := seed(t, s)
	other, _ := s.CreateProduct(ctx, data.ProductInput{NameJA: "krewSheet"})
	otherComp, _ := s.CreateComponent(ctx, data.ComponentInput{ProductID: other.ID, NameJA: "Excel"})
	affected, _ := s.Component(ctx, cdn.ID)

	type who struct{ role, state, coverage string }
	var all []who
	for _, role := range data.ContactRoles {
		for _, state := range []string{"active", "ended"} {
			for _, coverage := range []string{"uses", "other"} {
				w := who{role, state, coverage}
				all = append(all, w)
				prod := affected.ProductID
				if coverage == "other" {
					prod = other.ID
				}
				c, err := s.CreateContract(ctx, data.ContractInput{Code: fmt.Sprintf("%s-%s-%s", role, state, coverage),
					Name: "顧客", Active: state == "active", ProductIDs: []int64{prod}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddContact(ctx, c.ID, data.ContactInput{Email: address(w.role, w.state, w.coverage), Lang: "ja", Role: role}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// The same address at two active contracts: one copy. Listed as
	// additional at one and primary at the other: treated as primary.
	for i, role := range []string{data.RoleAdditional, data.RolePrimary} {
		c, _ := s.CreateContract(ctx, data.ContractInput{Code: fmt.Sprintf("dup-%d", i), Name: "重複", Active: true, ProductIDs: []int64{affected.ProductID}})
		s.AddContact(ctx, c.ID, data.ContactInput{Email: "Shared@Example.com", Lang: "en", Role: role})
	}
	// An additional contact who opted out hears nothing.
	c, _ := s.CreateContract(ctx, data.ContractInput{Code: "optout", Name: "配信停止", Active: true, ProductIDs: []int64{affected.ProductID}})
	out, _ := s.AddContact(ctx, c.ID, data.ContactInput{Email: "out@example.com", Lang: "ja", Role: data.RoleAdditional})
	if err := s.OptOutAddress(ctx, out.ID); err != nil {
		t.Fatal(err)
	}

	policy := map[string][]string{"critical": {"primary", "additional"}, "major": {"primary", "additional"}, "minor": {"primary"}, "none": nil}
	for impact, roles := range policy {
		want := map[string]string{}
		for _, w := range all {
			if w.state == "active" && w.coverage == "uses" && contains(roles, w.role) {
				want[address(w.role, w.state, w.coverage)] = w.role
			}
		}
		if contains(roles, data.RolePrimary) {
			want["shared@example.com"] = data.RolePrimary
		}
		aud, err := s.NoticeAudience(ctx, impact, []int64{cdn.ID})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range aud.Recipients {
			if _, dup := got[r.Email]; dup {
				t.Errorf("%s: %s listed twice", impact, r.Email)
			}
			got[r.Email] = r.Role
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			t.Errorf("impact %s:\n got  %v\n want %v", impact, sorted(got), sorted(want))
		}

		// Declaring an incident writes the same list as deliveries, in the
		// same transaction.
		inc, err := s.CreateIncident(ctx, data.NewIncident{TitleJA: "障害 " + impact, Impact: impact, Status: data.Investigating, BodyJA: "x",
			Components: map[int64]string{cdn.ID: data.MajorOutage}, Notice: data.Notice{Send: true}})
		if err != nil {
			t.Fatal(err)
		}
		ns, counts, _, _ := s.Notifications(ctx, 100, 0)
		var found *data.Notification
		for i := range ns {
			if ns[i].IncidentID != nil && *ns[i].IncidentID == inc.ID {
				found = &ns[i]
			}
		}
		if len(want) == 0 {
			if found != nil {
				t.Errorf("impact %s wrote a notification with nobody to send to", impact)
			}
			continue
		}
		if found == nil || counts[found.ID][data.DeliveryPending] != len(want) {
			t.Errorf("impact %s: notification %+v counts %v, want %d pending", impact, found, counts, len(want))
		}
	}
	// A component of the other product reaches only the other product's
	// active contracts.
	aud, _ := s.NoticeAudience(ctx, "critical", []int64{otherComp.ID})
	if len(aud.Recipients) != 2 || aud.Contracts != 2 {
		t.Errorf("other product: %+v", aud)
	}
	if err := s.OptOutAddress(ctx, mustContact(t, s, "primary-active-uses@example.com")); err == nil {
		t.Error("a primary contact opted out")
	}
}

func mustContact(t *testing.T, s *data.Store, email string) int64 {
	cs, _, err := s.Contracts(context.Background(), data.ContractFilter{Query: email})
	if err != nil || len(cs) != 1 {
		t.Fatalf("contract of %s: %v %v", email, cs, err)
	}
	for _, c := range cs[0].Contacts {
		if c.Email == email {
			return c.ID
		}
	}
	t.Fatalf("no contact %s", email)
	return 0
}

func address(role, state, coverage string) string {
	return fmt.Sprintf("%s-%s-%s@example.com", role, state, coverage)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func TestClaimsAndAttempts(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	_, cdn, _ := seed(t, s)
	ps, _ := s.Products(ctx)
	c, _ := s.CreateContract(ctx, data.ContractInput{Code: "A", Name: "A社", Active: true, ProductIDs: []int64{ps[0].ID}})
	for i := 0; i < 5; i++ {
		s.AddContact(ctx, c.ID, data.ContactInput{Email: fmt.Sprintf("u%d@example.com", i), Lang: "ja", Role: data.RolePrimary})
	}
	if _, err := s.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "major", Status: data.Investigating, BodyJA: "x",
		Components: map[int64]string{cdn.ID: data.MajorOutage}, Notice: data.Notice{Send: true}}); err != nil {
		t.Fatal(err)
	}
	a, err := s.ClaimDeliveries(ctx, "w1", 3, time.Minute)
	if err != nil || len(a) != 3 {
		t.Fatalf("first claim: %d %v", len(a), err)
	}
	if content, err := a[0].Notification.Decode(); err != nil || content.TitleJA != "障害" || content.Path == "" || len(content.Products) != 1 {
		t.Fatalf("content %+v %v", content, err)
	}
	b, _ := s.ClaimDeliveries(ctx, "w2", 10, time.Minute)
	if len(b) != 2 {
		t.Fatalf("second claimer got %d, want the 2 left", len(b))
	}
	// w1 dies; after its lease w3 takes its rows, and w1 can no longer
	// record anything for them.
	clock.Advance(2 * time.Minute)
	c3, _ := s.ClaimDeliveries(ctx, "w3", 10, time.Minute)
	if len(c3) != 5 {
		t.Fatalf("after the leases ran out: %d", len(c3))
	}
	if err := s.RecordAttempt(ctx, a[0].Delivery.ID, "w1", data.Outcome{State: data.DeliverySent}); err == nil {
		t.Fatal("a claimer whose lease ran out recorded an attempt")
	}
	next := clock.Now().Add(time.Minute)
	for i, cl := range c3 {
		o := data.Outcome{State: data.DeliverySent, MessageID: "<m@x>"}
		switch i {
		case 0:
			o = data.Outcome{State: data.DeliveryPending, Code: 451, Error: "try later", NextAttempt: next}
		case 1:
			o = data.Outcome{State: data.DeliveryBounced, Code: 550, Error: "no such user"}
		}
		if err := s.RecordAttempt(ctx, cl.Delivery.ID, "w3", o); err != nil {
			t.Fatal(err)
		}
	}
	if due, _ := s.NextDue(ctx); !due.Equal(next) {
		t.Fatalf("next due %v, want %v", due, next)
	}
	if got, _ := s.ClaimDeliveries(ctx, "w4", 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed %d before the retry was due", len(got))
	}
	clock.Advance(time.Minute)
	got, _ := s.ClaimDeliveries(ctx, "w4", 10, time.Minute)
	if len(got) != 1 || got[0].Delivery.Attempts != 1 {
		t.Fatalf("retry claim: %+v", got)
	}
	d, attempts, _ := s.Delivery(ctx, got[0].Delivery.ID)
	if len(attempts) != 1 || attempts[0].Code != 451 || d.LastError != "try later" {
		t.Fatalf("attempts %+v", attempts)
	}
	counts, _ := s.DeliveryCounts(ctx, got[0].Delivery.NotificationID)
	if counts[data.DeliverySent] != 3 || counts[data.DeliveryBounced] != 1 || counts[data.DeliverySending] != 1 {
		t.Fatalf("counts %v", counts)
	}
	if err := s.ReleaseClaims(ctx, "w4", []int64{got[0].Delivery.ID}); err != nil {
		t.Fatal(err)
	}
	counts, _ = s.DeliveryCounts(ctx, got[0].Delivery.NotificationID)
	if counts[data.DeliveryPending] != 1 {
		t.Fatalf("released claim not pending: %v", counts)
	}
}

func TestContractsValidationAndSearch(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	p, _, _ := seed(t, s)
	c, err := s.CreateContract(ctx, data.ContractInput{Code: "C-001", Name: "株式会社サンプル", Active: true, ProductIDs: []int64{p.ID}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateContract(ctx, data.ContractInput{Code: "C-001", Name: "別会社", Active: true})
	fieldErr(t, err, "code", "duplicate_code")
	_, err = s.CreateContract(ctx, data.ContractInput{Code: "C-002", Name: "x", ProductIDs: []int64{9999}})
	fieldErr(t, err, "products", "invalid_choice")
	_, err = s.AddContact(ctx, c.ID, data.ContactInput{Email: "a@b.c\r\nBcc: evil@example.com", Lang: "ja", Role: data.RolePrimary})
	fieldErr(t, err, "email", "bad_email")
	_, err = s.AddContact(ctx, c.ID, data.ContactInput{Email: "a@example.com", Lang: "fr", Role: data.RolePrimary})
	fieldErr(t, err, "lang", "invalid_choice")
	if _, err := s.AddContact(ctx, c.ID, data.ContactInput{Name: "山田 太郎", Email: "Taro@Example.com", Lang: "ja", Role: data.RolePrimary}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AddContact(ctx, c.ID, data.ContactInput{Email: "taro@example.com", Lang: "en", Role: data.RoleAdditional})
	fieldErr(t, err, "email", "email_taken")

	ended, _ := s.CreateContract(ctx, data.ContractInput{Code: "C-100", Name: "終了した会社", Active: false})
	if ended.Active || ended.EndedAt == nil {
		t.Fatalf("ended contract stored as %+v", ended)
	}
	for q, want := range map[string]int{"サンプル": 1, "taro@": 1, "c-": 2, "%": 0, "_": 0, "": 2} {
		cs, total, err := s.Contracts(ctx, data.ContractFilter{Query: q, Limit: 10})
		if err != nil || int(total) != want || len(cs) != want {
			t.Errorf("search %q: %d (%d) %v", q, total, len(cs), err)
		}
	}
	if _, total, _ := s.Contracts(ctx, data.ContractFilter{State: "ended"}); total != 1 {
		t.Errorf("ended filter: %d", total)
	}
	if err := s.UpdateContract(ctx, c.ID, data.ContractInput{Code: "C-001", Name: "株式会社サンプル", Active: false}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Contract(ctx, c.ID)
	if got.Active || got.EndedAt == nil || len(got.Products) != 0 || !strings.Contains(got.Contacts[0].Email, "taro") {
		t.Fatalf("after ending: %+v", got)
	}
}

func TestSettingsAgreeOnOneValue(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	v1, err := s.EnsureSetting(ctx, "secret", "first")
	if err != nil || v1 != "first" {
		t.Fatalf("%q %v", v1, err)
	}
	if v2, _ := s.EnsureSetting(ctx, "secret", "second"); v2 != "first" {
		t.Fatalf("second instance got %q", v2)
	}
}
