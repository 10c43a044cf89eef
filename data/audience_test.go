package data_test

import (
	"context"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// TestAudienceCountIsTheListCounted: the preview counts in the database
// what the notice is sent to, through every rule at once: addresses on
// several contracts, an additional contact who opted out, an inactive
// contract, another product, and subscribers who are also contacts.
func TestAudienceCountIsTheListCounted(t *testing.T) {
	ctx := context.Background()
	store := datatest.Open(t, datatest.NewClock(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)))
	p1, _ := store.CreateProduct(ctx, data.ProductInput{NameJA: "製品A"})
	p2, _ := store.CreateProduct(ctx, data.ProductInput{NameJA: "製品B"})
	c1, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p1.ID, NameJA: "API"})
	c2, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p2.ID, NameJA: "API"})
	contact := func(email, role string) data.ContactInput {
		return data.ContactInput{Email: email, Lang: "ja", Role: role}
	}
	_, err := store.ApplyImport(ctx, []data.ImportContract{
		{Code: "K-1", Name: "一", Active: true, ProductIDs: []int64{p1.ID}, Contacts: []data.ContactInput{
			contact("a@example.com", data.RolePrimary), contact("b@example.com", data.RoleAdditional), contact("out@example.com", data.RoleAdditional)}},
		{Code: "K-2", Name: "二", Active: true, ProductIDs: []int64{p1.ID, p2.ID}, Contacts: []data.ContactInput{
			contact("a@example.com", data.RoleAdditional), contact("c@example.com", data.RolePrimary)}},
		{Code: "K-3", Name: "三", Active: false, ProductIDs: []int64{p1.ID}, Contacts: []data.ContactInput{contact("gone@example.com", data.RolePrimary)}},
		{Code: "K-4", Name: "四", Active: true, ProductIDs: []int64{p2.ID}, Contacts: []data.ContactInput{contact("d@example.com", data.RolePrimary)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetChoices(ctx, "out@example.com", "", true, data.ChosenByPerson); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"a@example.com", "fan@example.com", "other@example.com"} {
		products := []int64{p1.ID}
		if email == "other@example.com" {
			products = []int64{p2.ID}
		}
		sub, err := store.Subscribe(ctx, email, "en", products, false)
		if err != nil {
			t.Fatal(err)
		}
		store.ConfirmSubscriber(ctx, sub.ID)
	}
	for _, impact := range append([]string{data.PolicyMaintenance}, data.Impacts...) {
		for _, comps := range [][]int64{{c1.ID}, {c2.ID}, {c1.ID, c2.ID}, nil} {
			list, err := store.NoticeAudience(ctx, impact, comps)
			if err != nil {
				t.Fatal(err)
			}
			count, err := store.NoticeAudienceCount(ctx, impact, comps)
			if err != nil {
				t.Fatal(err)
			}
			if list.Contacts != count.Contacts || list.Subscribers != count.Subscribers || list.Contracts != count.Contracts {
				t.Errorf("%s %v: listed %+v, counted %+v", impact, comps, list, count)
			}
		}
	}
	if a, _ := store.NoticeAudienceCount(ctx, "major", []int64{c1.ID}); a.Contacts == 0 || a.Subscribers == 0 {
		t.Fatalf("the fixture proves nothing: %+v", a)
	}
	if _, err := store.NoticeAudienceCount(ctx, "apocalyptic", []int64{c1.ID}); err == nil {
		t.Fatal("an unknown impact was counted")
	}
}
