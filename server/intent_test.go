package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
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
	// One copy, naming both contracts it is sent for.
	if text := textOf(t, got["both@example.com"][0]); !strings.Contains(text, "K-012（顧客 K-012）: krewDashboard") ||
		!strings.Contains(text, "K-020（顧客 K-020）: krewDashboard") {
		t.Fatalf("the email does not say which contracts it is for:\n%s", text)
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

// latestNotification returns the newest notification and its counts.
func (a *testApp) latestNotification() (data.Notification, map[string]int) {
	a.t.Helper()
	ns, counts, _, err := a.store.Notifications(context.Background(), 1, 0)
	if err != nil || len(ns) == 0 {
		a.t.Fatalf("no notification: %v", err)
	}
	return ns[0], counts[ns[0].ID]
}

func (a *testApp) notificationCount() int64 {
	_, _, total, _ := a.store.Notifications(context.Background(), 1, 0)
	return total
}

// TestEmailOnlyWhenTheOperatorChoseIt: later steps start from the choice
// made at declaration; held notices can be discarded, and a stale one is
// sent only after the operator is told how old it is.
func TestEmailOnlyWhenTheOperatorChoseIt(t *testing.T) {
	a := newTestServer(t)
	a.withMail(false)
	_, cdn, _ := a.seedCatalog()
	p, _ := a.store.Products(context.Background())
	a.contractWith("K-1", []int64{p[0].ID}, map[string]string{"p@example.com": "primary/ja", "x@example.com": "additional/en"})
	op := a.client()
	op.login("editor@example.com")
	checked := `name="notify" value="1" checked`

	// Declared without email: the update form's box starts off.
	quiet := declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, false, nil)
	expectNot(t, op.get("/admin/incidents/"+quiet), checked)
	// Declared with email: it starts on.
	loud := declareVia(t, op, "critical", map[int64]string{cdn: data.MajorOutage}, true, nil)
	expect(t, op.get("/admin/incidents/"+loud), http.StatusOK, checked)
	held, counts := a.latestNotification()
	if counts[data.DeliveryHeld] != 2 {
		t.Fatalf("held: %v", counts)
	}
	// Maintenance scheduled without email: its forms start off too.
	op.get("/admin/maintenance/new")
	r := op.post("/admin/maintenance", url.Values{"title_ja": {"作業"}, "body_ja": {"予定です。"}, "starts_at": {"2026-11-28T10:00"},
		"ends_at": {"2026-11-28T12:00"}, "components": {strconv.FormatInt(cdn, 10)}, "reminder": {"1d"}})
	mid := idFromLocation(t, r)
	expectNot(t, op.get("/admin/maintenance/"+mid), checked)

	// The incident is resolved quietly; two months later SMTP is set up and
	// the operator goes to release the old notice.
	op.get("/admin/incidents/" + loud)
	expect(t, op.post("/admin/incidents/"+loud+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}}), http.StatusSeeOther)
	a.clock.Advance(60 * 24 * time.Hour)
	op.login("editor@example.com")
	a.app.opts.MailEnabled = true
	nid := strconv.FormatInt(held.ID, 10)
	op.get("/admin/notifications/" + nid)
	ask := op.post("/admin/notifications/"+nid+"/release", nil)
	expect(t, ask, http.StatusOK, "60日前", "復旧済み", `name="confirm" value="1"`)
	if _, c := a.latestNotification(); c[data.DeliveryHeld] != 2 {
		t.Fatalf("released without confirmation: %v", c)
	}
	// Discarding asks too, then discards: nothing is ever sent.
	expect(t, op.post("/admin/notifications/"+nid+"/discard", nil), http.StatusOK, `name="confirm" value="1"`)
	expect(t, op.post("/admin/notifications/"+nid+"/discard", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if _, c := a.latestNotification(); c[data.DeliveryHeld] != 0 || c[data.DeliveryDiscarded] != 2 {
		t.Fatalf("after discard: %v", c)
	}
	expect(t, op.post("/admin/notifications/"+nid+"/release", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if _, c := a.latestNotification(); c[data.DeliveryPending] != 0 {
		t.Fatalf("a discarded notice was released: %v", c)
	}

	// Discard every held notice at once.
	a.app.opts.MailEnabled = false
	for i := 0; i < 2; i++ {
		declareVia(t, op, "critical", map[int64]string{cdn: data.MajorOutage}, true, nil)
	}
	expect(t, op.get("/admin"), http.StatusOK, "保留中のお知らせ")
	expect(t, op.post("/admin/notifications/discard-held", nil), http.StatusOK, "2件")
	expect(t, op.post("/admin/notifications/discard-held", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	ns, all, _, _ := a.store.Notifications(context.Background(), 10, 0)
	for _, n := range ns {
		if all[n.ID][data.DeliveryHeld] != 0 {
			t.Fatalf("notification %d still holds %v", n.ID, all[n.ID])
		}
	}
}

// TestDeletingAnUpdateNeverRewritesTheIncident: deleting asks first and
// says what changes; the incident keeps its status; reopening is its own
// explicit step with its own update.
func TestDeletingAnUpdateNeverRewritesTheIncident(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	op := a.client()
	op.login("editor@example.com")
	id := declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, false, nil)
	a.clock.Advance(time.Hour)
	op.get("/admin/incidents/" + id)
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}}), http.StatusSeeOther)
	a.clock.Advance(5 * 24 * time.Hour)
	op.login("editor@example.com")
	inc, _ := a.store.Incident(context.Background(), mustInt(t, id))
	resolution := strconv.FormatInt(inc.Updates[0].ID, 10)

	// Without confirmation nothing happens; the question says what stays.
	op.get("/admin/incidents/" + id)
	r := op.post("/admin/incidents/"+id+"/updates/"+resolution+"/delete", nil)
	expect(t, r, http.StatusOK, `name="confirm" value="1"`, "ステータスは変わりません")
	if got, _ := a.store.Incident(context.Background(), inc.ID); len(got.Updates) != 2 {
		t.Fatal("deleted without confirmation")
	}
	expect(t, op.post("/admin/incidents/"+id+"/updates/"+resolution+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	got, _ := a.store.Incident(context.Background(), inc.ID)
	if got.Status != data.Resolved || got.ResolvedAt == nil || len(got.Updates) != 1 {
		t.Fatalf("after deleting the resolution: %s, %d updates", got.Status, len(got.Updates))
	}
	a.app.changed()
	home := a.client().get("/")
	expect(t, home, http.StatusOK, "すべてのサービスは正常に稼働しています")
	expectNot(t, home, "発生中の障害")

	// A resolved incident takes no ordinary update: reopening is explicit.
	op.get("/admin/incidents/" + id)
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"investigating"}, "body_ja": {"再発しました。"}}), http.StatusBadRequest, "再開")
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"investigating"}, "body_ja": {"再発しました。"}, "reopen": {"1"},
		componentField(cdn): {data.PartialOutage}}), http.StatusSeeOther)
	if got, _ := a.store.Incident(context.Background(), inc.ID); got.Status != data.Investigating || got.ResolvedAt != nil {
		t.Fatalf("reopen: %s", got.Status)
	}

	// Every destructive console action asks first.
	f := a.seedAll()
	a.addMember(&f)
	for _, path := range []string{
		"/admin/products/" + strconv.FormatInt(f.product, 10) + "/delete",
		"/admin/components/" + strconv.FormatInt(f.cdn, 10) + "/delete",
		"/admin/contacts/" + strconv.FormatInt(f.contact, 10) + "/delete",
		"/admin/upgrades/" + strconv.FormatInt(f.upgrade, 10) + "/cancel",
		"/admin/announcements/" + strconv.FormatInt(f.announcement, 10) + "/delete",
		"/admin/notifications/" + strconv.FormatInt(f.notification, 10) + "/discard",
	} {
		before := a.state()
		op.get("/admin")
		expect(t, op.post(path, nil), http.StatusOK, `name="confirm" value="1"`)
		if a.state() != before {
			t.Errorf("%s changed something without confirmation", path)
		}
	}
	admin := a.client()
	admin.login("admin@example.com")
	for _, path := range []string{
		"/admin/operators/" + strconv.FormatInt(f.editor, 10) + "/disable",
		"/admin/subscribers/" + strconv.FormatInt(f.member, 10) + "/delete",
	} {
		before := a.state()
		admin.get("/admin")
		expect(t, admin.post(path, nil), http.StatusOK, `name="confirm" value="1"`)
		if a.state() != before {
			t.Errorf("%s changed something without confirmation", path)
		}
	}
}

// TestBackfilledIncidentKeepsItsTimes: each update carries the time it
// describes; the timeline, the resolution and the bars follow those times,
// and a backfilled incident starts with email off.
func TestBackfilledIncidentKeepsItsTimes(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	op := a.client()
	op.login("editor@example.com")
	checked := `name="notify" value="1" checked`
	expect(t, op.get("/admin/incidents/new"), http.StatusOK, checked)
	back := op.get("/admin/incidents/new?backfill=1")
	expect(t, back, http.StatusOK, `name="at"`)
	expectNot(t, back, checked)

	// 21 Sep, 10:00 to 12:30 in Tokyo; today is 26 Nov.
	id := declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, false, url.Values{
		"started_at": {"2026-09-21T10:00"}, "at": {"2026-09-21T10:05"}})
	expectNot(t, op.get("/admin/incidents/"+id), checked)
	// An update cannot describe the future, nor come before the last one.
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}, "at": {"2026-12-01T10:00"}}),
		http.StatusBadRequest, "未来の日時は指定できません。", `value="2026-12-01T10:00"`)
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}, "at": {"2026-09-21T09:00"}}),
		http.StatusBadRequest, "直前の更新")
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"identified"}, "body_ja": {"原因を特定しました。"}, "at": {"2026-09-21T11:00"},
		componentField(cdn): {data.PartialOutage}}), http.StatusSeeOther)
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}, "at": {"2026-09-21T12:30"}}), http.StatusSeeOther)

	inc, _ := a.store.Incident(context.Background(), mustInt(t, id))
	tokyo := a.app.opts.Location
	want := []string{"2026-09-21 12:30", "2026-09-21 11:00", "2026-09-21 10:05"}
	for i, u := range inc.Updates {
		if got := u.CreatedAt.In(tokyo).Format("2006-01-02 15:04"); got != want[i] {
			t.Errorf("update %d at %s, want %s", i, got, want[i])
		}
	}
	if inc.ResolvedAt == nil || inc.ResolvedAt.In(tokyo).Format("2006-01-02 15:04") != "2026-09-21 12:30" {
		t.Fatalf("resolved at %v", inc.ResolvedAt)
	}
	page := a.client().get("/incidents/" + id)
	page.body = shown(page.body) // the hidden stale notice carries the render's time
	expect(t, page, http.StatusOK, "9月21日", "12:30")
	expectNot(t, page, "11月26日")
	if n := a.notificationCount(); n != 0 {
		t.Fatalf("a backfilled incident sent %d notices", n)
	}
}

// TestAudienceSentenceIsExact: contract contacts and public subscribers are
// counted apart, a step that sends nothing says so, and publishing says
// where to watch the sending.
func TestAudienceSentenceIsExact(t *testing.T) {
	a := newTestServer(t)
	a.withMail(true)
	f := fixture{}
	f.product, f.cdn, f.api = a.seedCatalog()
	a.addMember(&f)
	a.contractWith("K-1", []int64{f.product}, map[string]string{"p@example.com": "primary/ja", "x@example.com": "additional/en"})
	op := a.client()
	op.login("editor@example.com")
	cdn := strconv.FormatInt(f.cdn, 10)

	op.get("/admin/incidents/new")
	form := url.Values{"title_ja": {"障害"}, "impact": {"major"}, "status": {"investigating"}, "body_ja": {"調査中です。"},
		"component_" + cdn: {"major_outage"}, "notify": {"1"}, "preview": {"1"}}
	expect(t, op.post("/admin/incidents", form), http.StatusOK, "1件の契約の連絡先2名", "メール配信の登録者1名")
	expect(t, op.get("/admin/audience?impact=major&component="+cdn), http.StatusOK, `"contacts":2`, `"subscribers":1`, `"contracts":1`)
	expect(t, op.get("/admin/incidents/new"), http.StatusOK, "メールでお知らせする（契約の連絡先・メール配信の登録者）")

	// Publishing: the flash says how many and links to the progress.
	form.Del("preview")
	r := op.post("/admin/incidents", form)
	n, counts := a.latestNotification()
	if counts[data.DeliveryPending] != 3 {
		t.Fatalf("queued %v", counts)
	}
	expect(t, op.get(r.header.Get("Location")), http.StatusOK, "3件の宛先にメールを送信しています", `href="/admin/notifications/`+strconv.FormatInt(n.ID, 10)+`"`)

	// A maintenance step that sends nothing says so, before and after.
	m, err := a.store.CreateMaintenance(context.Background(), data.NewMaintenance{TitleJA: "作業", BodyJA: "予定です。",
		StartsAt: a.clock.Now().Add(time.Hour), EndsAt: a.clock.Now().Add(3 * time.Hour), ComponentIDs: []int64{f.cdn}, Notice: data.Notice{Send: true}})
	if err != nil {
		t.Fatal(err)
	}
	mid := strconv.FormatInt(m.ID, 10)
	a.store.PostMaintenanceUpdate(context.Background(), m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"})
	page := op.get("/admin/maintenance/" + mid)
	expect(t, page, http.StatusOK, `data-audience="/admin/audience?maintenance_id=`+mid+`"`)
	expect(t, op.get("/admin/audience?maintenance_id="+mid+"&status=verifying"), http.StatusOK, `"contacts":0`, "この更新ではメールは送信されません")
	expect(t, op.get("/admin/audience?maintenance_id="+mid+"&status=completed"), http.StatusOK, `"contacts":2`)
	before := a.notificationCount()
	r = op.post("/admin/maintenance/"+mid+"/updates", url.Values{"status": {"verifying"}, "body_ja": {"確認中です。"}, "notify": {"1"}, "preview": {"1"}})
	expect(t, r, http.StatusOK, "この更新ではメールは送信されません")
	expect(t, op.post("/admin/maintenance/"+mid+"/updates", url.Values{"status": {"verifying"}, "body_ja": {"確認中です。"}, "notify": {"1"}}), http.StatusSeeOther)
	if a.notificationCount() != before {
		t.Fatal("a verifying update sent mail")
	}
}

// TestSameNamedComponentsAreToldApart: wherever a component is named away
// from its product's own block, the product qualifies it.
func TestSameNamedComponentsAreToldApart(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	ctx := context.Background()
	p1, cdn1, _ := a.seedCatalog()
	p2, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "krewSheet", NameEN: "krewSheet"})
	c2, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: p2.ID, NameJA: "配信CDN", NameEN: "Delivery CDN"})
	a.app.changed()
	a.contractWith("K-1", []int64{p1, p2.ID}, map[string]string{"p@example.com": "primary/ja"})
	op := a.client()
	op.login("editor@example.com")
	id := declareVia(t, op, "major", map[int64]string{cdn1: data.MajorOutage, c2.ID: data.PartialOutage}, true, nil)
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "CDNの作業", BodyJA: "実施します。",
		StartsAt: a.clock.Now().Add(time.Hour), EndsAt: a.clock.Now().Add(2 * time.Hour), ComponentIDs: []int64{c2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	a.app.changed()
	one, two := "krewDashboard / 配信CDN", "krewSheet / 配信CDN"
	pub := a.client()
	home := pub.get("/")
	expect(t, home, http.StatusOK, one, two)
	expect(t, pub.get("/incidents/"+id), http.StatusOK, one, two)
	expect(t, pub.get("/maintenance/"+strconv.FormatInt(m.ID, 10)), http.StatusOK, two)
	en := a.client()
	en.lang = "en"
	expect(t, en.get("/incidents/"+id), http.StatusOK, "krewDashboard / Delivery CDN", "krewSheet / Delivery CDN")
	// The JSON speaks English to clients that ask for nothing, Japanese when asked.
	expect(t, pub.get("/api/v2/incidents.json"), http.StatusOK, `"name":"krewDashboard - Delivery CDN"`, `"name":"krewSheet - Delivery CDN"`)
	expect(t, pub.get("/api/v2/incidents.json?lang=ja"), http.StatusOK, `"name":"krewDashboard - 配信CDN"`, `"name":"krewSheet - 配信CDN"`)
	// Statuspage names a window's components in its in-progress update.
	a.store.PostMaintenanceUpdate(ctx, m.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "開始しました。"})
	a.app.changed()
	expect(t, pub.get("/api/v2/scheduled-maintenances.json?lang=ja"), http.StatusOK, `"name":"krewSheet - 配信CDN"`)
	expect(t, pub.get("/feed.atom"), http.StatusOK, one, two)
	expect(t, pub.get("/maintenance.ics"), http.StatusOK, "krewSheet / 配信CDN")
	got := rig.deliver()["p@example.com"]
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	text := textOf(t, got[0])
	if !strings.Contains(text, one) || !strings.Contains(text, two) {
		t.Fatalf("email does not qualify the components:\n%s", text)
	}
}

// TestTemplatesAndPreview: a template fills the declaration form in one
// step; the preview shows the message and the email for one contact of
// each language, and saves nothing.
func TestTemplatesAndPreview(t *testing.T) {
	a := newTestServer(t)
	a.withMail(true)
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"ja@example.com": "primary/ja", "en@example.com": "additional/en"})
	op := a.client()
	op.login("editor@example.com")
	pid, cid := strconv.FormatInt(p, 10), strconv.FormatInt(cdn, 10)

	// Managed in the console, refused whole on bad input, audited.
	op.get("/admin/templates/new")
	bad := url.Values{"name": {""}, "product": {pid}, "title_ja": {"配信CDNの遅延"}, "impact": {"apocalyptic"}, "status": {"investigating"},
		"body_ja": {"x"}}
	expect(t, op.post("/admin/templates", bad), http.StatusBadRequest, `value="配信CDNの遅延"`)
	good := url.Values{"name": {"CDN遅延"}, "product": {pid}, "title_ja": {"配信CDNで表示が遅くなっています"}, "title_en": {"Slow delivery CDN"},
		"impact": {"major"}, "status": {"investigating"}, "body_ja": {"現在、**調査中**です。"}, "body_en": {"We are **investigating**."},
		"component_" + cid: {"degraded_performance"}}
	tid := idFromLocation(t, op.post("/admin/templates", good))
	expect(t, op.get("/admin/templates"), http.StatusOK, "CDN遅延", "krewDashboard")
	entries, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: "template", Limit: 10})
	if len(entries) == 0 {
		t.Fatal("creating a template was not audited")
	}

	// One select fills the declaration form.
	filled := op.get("/admin/incidents/new?template=" + tid)
	expect(t, filled, http.StatusOK, `value="配信CDNで表示が遅くなっています"`, `value="Slow delivery CDN"`, "現在、**調査中**です。",
		`<option value="major" selected>`, `<option value="degraded_performance" selected>`)

	// Preview: the rendered message and the email per language, nothing saved.
	before := a.state()
	form := url.Values{"title_ja": {"配信CDNで表示が遅くなっています"}, "title_en": {"Slow delivery CDN"}, "impact": {"major"}, "status": {"investigating"},
		"body_ja": {"現在、**調査中**です。"}, "body_en": {"We are **investigating**."}, "component_" + cid: {"degraded_performance"},
		"notify": {"1"}, "preview": {"1"}}
	r := op.post("/admin/incidents", form)
	expect(t, r, http.StatusOK, "<strong>調査中</strong>", "<strong>investigating</strong>",
		"Subject: 【障害・重大】krewDashboard: 配信CDNで表示が遅くなっています", "To: &#34;ja&#34; &lt;ja@example.com&gt;",
		"Subject: [Major incident] krewDashboard: Slow delivery CDN", "To: &#34;en&#34; &lt;en@example.com&gt;",
		"krewDashboard / 配信CDN: パフォーマンス低下")
	if a.state() != before || a.notificationCount() != 0 {
		t.Fatal("the preview saved something")
	}
	// The update form previews too, from the incident as it stands.
	id := declareVia(t, op, "major", map[int64]string{cdn: data.DegradedPerformance}, false, nil)
	op.get("/admin/incidents/" + id + "?template=" + tid)
	r = op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"identified"}, "body_ja": {"原因を**特定**しました。"},
		"component_" + cid: {"degraded_performance"}, "notify": {"1"}, "preview": {"1"}})
	expect(t, r, http.StatusOK, "<strong>特定</strong>", "【障害・重大・続報】")
	if n := a.notificationCount(); n != 0 {
		t.Fatalf("the update preview queued %d notices", n)
	}
	// Deleting a template asks first.
	expect(t, op.post("/admin/templates/"+tid+"/delete", nil), http.StatusOK, `name="confirm" value="1"`)
	expect(t, op.post("/admin/templates/"+tid+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expectNot(t, op.get("/admin/templates"), "CDN遅延")
}

// TestAPIReopensOnlyWhenAsked: the operator API follows the console's
// rule: a resolved incident takes a non-resolved update only with
// "reopen": true.
func TestAPIReopensOnlyWhenAsked(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	adm := a.client()
	adm.login("admin@example.com")
	writer := a.newToken(adm, "監視", "write")
	op := a.client()
	op.login("editor@example.com")
	id := declareVia(t, op, "minor", map[int64]string{cdn: data.PartialOutage}, false, nil)
	op.get("/admin/incidents/" + id)
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}}), http.StatusSeeOther)
	path := "/api/admin/incidents/i" + id + "/updates"
	expect(t, a.apiCall(writer, "POST", path, `{"status":"investigating","body_ja":"再発しました。"}`), http.StatusUnprocessableEntity, "status")
	expect(t, a.apiCall(writer, "POST", path, `{"status":"investigating","body_ja":"再発しました。","reopen":true}`), http.StatusCreated)
	if inc, _ := a.store.Incident(context.Background(), mustInt(t, id)); inc.Status != data.Investigating {
		t.Fatalf("after reopening through the API: %s", inc.Status)
	}
}
