package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/mail"
)

// declare posts a declaration through the console and returns its id.
func declareVia(t *testing.T, c *client, impact string, comps map[int64]string, notify bool, extra url.Values) string {
	t.Helper()
	c.get("/admin/incidents/new")
	form := url.Values{"title_ja": {"障害が発生しています"}, "title_en": {"We are seeing errors"}, "impact": {impact},
		"status": {"investigating"}, "body_ja": {"調査中です。"}, "body_en": {"We are investigating."}}
	for id, st := range comps {
		form.Set(componentField(id), st)
	}
	if notify {
		form.Set("notify", "1")
	}
	for k, v := range extra {
		form[k] = v
	}
	r := c.post("/admin/incidents", form)
	if r.code != http.StatusSeeOther {
		t.Fatalf("declare: %d\n%s", r.code, r.body)
	}
	return idFromLocation(t, r)
}

// TestChoicesBelongToTheAddress: opting out, the language and the
// preferences page follow the address across every contract it is on, and
// a CSV import never overwrites them.
func TestChoicesBelongToTheAddress(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	ctx := context.Background()
	p, cdn, _ := a.seedCatalog()
	q, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "krewSheet", NameEN: "krewSheet"})
	qc, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: q.ID, NameJA: "編集API", NameEN: "Editing API"})
	k1 := a.contractWith("K-012", []int64{p}, map[string]string{"twice@example.com": "additional/ja", "both@example.com": "primary/ja"})
	k2 := a.contractWith("K-020", []int64{p, q.ID}, map[string]string{"twice@example.com": "additional/en", "both@example.com": "additional/ja"})
	op := a.client()
	op.login("editor@example.com")

	// One-click unsubscribe through the first contract's link stops the
	// address everywhere.
	tok := mail.ContactToken(testSecret, a.contactID(k1, "twice@example.com"))
	pub := a.client()
	expect(t, pub.postRaw("/unsubscribe/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}}), http.StatusOK)
	declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, true, nil)
	got := rig.deliver()
	if _, ok := got["twice@example.com"]; ok {
		t.Fatalf("an unsubscribed address still got mail through its other contract: %v", recipients(got))
	}
	if len(got["both@example.com"]) != 1 {
		t.Fatalf("the registered contact got %d copies", len(got["both@example.com"]))
	}

	// The address that is primary at K-012 and additional at K-020 opens
	// its link from K-020: the page speaks of the address, not the row.
	tok2 := mail.ContactToken(testSecret, a.contactID(k2, "both@example.com"))
	page := pub.get("/preferences/" + tok2)
	expect(t, page, http.StatusOK, "both@example.com", "K-012", "K-020", "停止できません")
	// Opting out of what it may opt out of, and choosing English.
	expect(t, pub.post("/preferences/"+tok2, url.Values{"lang": {"en"}, "opt_out": {"1"}}), http.StatusOK, "設定を保存しました。", "ご希望により、現在は配信を停止しています。")

	// krewSheet is reached only through K-020, where the address is an
	// additional contact: nothing. krewDashboard through K-012, where it is
	// the registered contact: in English now.
	declareVia(t, op, "critical", map[int64]string{qc.ID: data.MajorOutage}, true, nil)
	if got := rig.deliver(); len(got["both@example.com"]) != 0 {
		t.Fatalf("opted-out additional address got mail: %v", recipients(got))
	}
	declareVia(t, op, "major", map[int64]string{cdn: data.PartialOutage}, true, nil)
	got = rig.deliver()
	if len(got["both@example.com"]) != 1 || !strings.HasPrefix(subject(t, got["both@example.com"][0]), "[") {
		t.Fatalf("registered contact: %d messages, want one in English", len(got["both@example.com"]))
	}

	// Re-importing the CSV with the contact's old language keeps the
	// person's choice, the preview says so, and the contract whose contacts
	// changed is not "unchanged".
	csv := "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n" +
		"K-012,顧客 K-012,krewDashboard,true,both,both@example.com,ja,primary\n" +
		"K-012,顧客 K-012,krewDashboard,true,new,new@example.com,ja,additional\n"
	op.get("/admin/contracts/import")
	preview := upload(t, op, "/admin/contracts/import", []byte(csv))
	expect(t, preview, http.StatusOK, "both@example.com", "本人が選んだ設定を保持します")
	res := op.post("/admin/contracts/import/apply", url.Values{"import": {importID(t, preview)}})
	expect(t, res, http.StatusOK, "更新1件")
	declareVia(t, op, "major", map[int64]string{cdn: data.PartialOutage}, true, nil)
	got = rig.deliver()
	if len(got["both@example.com"]) != 1 || !strings.HasPrefix(subject(t, got["both@example.com"][0]), "[") {
		t.Fatal("the import reset the language the person chose")
	}

	// An opt-out asked for by phone is recorded by an operator, audited.
	newAt := strconv.FormatInt(a.contactID(k1, "new@example.com"), 10)
	expect(t, op.get("/admin/contacts/"+newAt+"/address"), http.StatusOK, "K-012", "new@example.com")
	expect(t, op.post("/admin/contacts/"+newAt+"/address", url.Values{"lang": {"xx"}, "opt_out": {"1"}}), http.StatusBadRequest)
	expect(t, op.post("/admin/contacts/"+newAt+"/address", url.Values{"lang": {""}, "opt_out": {"1"}}), http.StatusSeeOther)
	declareVia(t, op, "major", map[int64]string{cdn: data.PartialOutage}, true, nil)
	if got := rig.deliver(); len(got["new@example.com"]) != 0 {
		t.Fatal("an opt-out recorded by an operator did not hold")
	}
	entries, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: "address.update", Limit: 10})
	if len(entries) != 1 || !strings.Contains(entries[0].Target, "new@example.com") {
		t.Fatalf("audit: %+v", entries)
	}
	// A registered contact cannot be opted out, not even by an operator.
	bothAt := strconv.FormatInt(a.contactID(k1, "both@example.com"), 10)
	op.get("/admin/contacts/" + bothAt + "/address")
	expect(t, op.post("/admin/contacts/"+bothAt+"/address", url.Values{"opt_out": {"1"}, "lang": {"en"}}), http.StatusSeeOther)
	declareVia(t, op, "major", map[int64]string{cdn: data.PartialOutage}, true, nil)
	if got := rig.deliver(); len(got["both@example.com"]) != 1 {
		t.Fatal("a registered contact's contractual notices were stopped")
	}
}

func importID(t *testing.T, r response) string {
	t.Helper()
	i := strings.Index(r.body, `name="import" value="`)
	if i < 0 {
		t.Fatalf("no import to apply\n%s", r.body)
	}
	rest := r.body[i+len(`name="import" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

var _ = slices.Contains[[]string]
