package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/jobs"
)

var portalLinkRe = regexp.MustCompile(`https?://status\.example\.com(/my/login/[0-9]+\.[A-Za-z0-9_-]+)`)

// portalSignIn asks for a link as c and follows the one mailed, in c.
func portalSignIn(t *testing.T, rig *mailRig, c *client, email string) {
	t.Helper()
	c.get("/my")
	expect(t, c.post("/my/login", url.Values{"email": {email}}), http.StatusOK, "ログイン用のリンクをお送りしました")
	got := rig.deliver()[email]
	if len(got) != 1 {
		t.Fatalf("%s got %d sign-in emails", email, len(got))
	}
	text := textOf(t, got[0])
	link := portalLinkRe.FindStringSubmatch(text)
	if link == nil {
		t.Fatalf("no link in the email:\n%s", text)
	}
	expect(t, c.get(link[1]), http.StatusOK, "ログインする")
	expect(t, c.post(link[1], url.Values{}), http.StatusSeeOther)
}

// TestPortalSignIn: a contact asks for a link (the answer is the same for
// an unknown address, which gets no email), follows it in the browser that
// asked (once; not in another browser; not after 15 minutes), sees their
// contract and what was sent to them, and signs out. A contract with the
// portal turned off lets nobody in.
func TestPortalSignIn(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	p, cdn, _ := a.seedCatalog()
	other, err := a.store.CreateProduct(context.Background(), data.ProductInput{NameJA: "別の製品 OTHER-PRODUCT"})
	if err != nil {
		t.Fatal(err)
	}
	a.contractWith("K-1", []int64{p}, map[string]string{"alice@example.com": "primary/ja"})
	k2 := a.contractWith("K-2", []int64{other.ID}, map[string]string{"bob@example.com": "primary/en"})
	rig.deliver()

	anon := a.client()
	anon.get("/my")
	expect(t, anon.get("/my"), http.StatusOK, "ログイン用のリンクを送る")
	known := anon.post("/my/login", url.Values{"email": {"alice@example.com"}})
	anon.get("/my")
	unknown := anon.post("/my/login", url.Values{"email": {"nobody@example.com"}})
	if errorText(known.body) != errorText(unknown.body) || known.code != unknown.code || !strings.Contains(unknown.body, "お送りしました") {
		t.Fatalf("the answer tells a contact from a stranger: %d / %d", known.code, unknown.code)
	}
	mails := rig.deliver()
	if len(mails["nobody@example.com"]) != 0 || len(mails["alice@example.com"]) != 1 {
		t.Fatalf("mail went to %v", recipients(mails))
	}
	link := portalLinkRe.FindStringSubmatch(textOf(t, mails["alice@example.com"][0]))
	if link == nil || !strings.Contains(subject(t, mails["alice@example.com"][0]), "ログイン用リンク") {
		t.Fatalf("sign-in email: %q", subject(t, mails["alice@example.com"][0]))
	}
	// Another browser: refused, and the link still works where it was asked.
	thief := a.client()
	thief.get(link[1])
	expect(t, thief.post(link[1], url.Values{}), http.StatusBadRequest, "お申し込みいただいたブラウザーでのみ")
	// A forged link is a 404.
	expect(t, anon.get("/my/login/"+strings.Split(link[1], "/")[3][:2]+"AAAA"), http.StatusNotFound)
	expect(t, anon.get(link[1]), http.StatusOK, "ログインする")
	expect(t, anon.post(link[1], url.Values{}), http.StatusSeeOther)
	home := anon.get("/my")
	expect(t, home, http.StatusOK, "K-1", "alice@example.com", "ログアウト", "これまでにお送りしたお知らせ", "ログイン用リンク")
	expectNot(t, home, "K-2", "OTHER-PRODUCT", "bob@example.com")
	_ = cdn
	// Used once.
	again := a.client()
	again.get("/my")
	expect(t, anon.post(link[1], url.Values{}), http.StatusBadRequest, "すでに使われた")

	// Expired after 15 minutes.
	late := a.client()
	late.get("/my")
	late.post("/my/login", url.Values{"email": {"alice@example.com"}})
	lateLink := portalLinkRe.FindStringSubmatch(textOf(t, rig.deliver()["alice@example.com"][0]))
	a.clock.Advance(16 * time.Minute)
	late.get(lateLink[1])
	expect(t, late.post(lateLink[1], url.Values{}), http.StatusBadRequest, "有効期限")

	// The portal turned off for K-2: bob gets no link.
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/contracts/"+strconv.FormatInt(k2, 10)), http.StatusOK, "お客様ポータル（/my）にログインできます")
	expect(t, ed.post("/admin/contracts/"+strconv.FormatInt(k2, 10)+"/portal", url.Values{"open": {"0"}}), http.StatusSeeOther)
	expect(t, ed.get("/admin/contracts/"+strconv.FormatInt(k2, 10)), http.StatusOK, "ログインできません")
	b := a.client()
	b.get("/my")
	expect(t, b.post("/my/login", url.Values{"email": {"bob@example.com"}}), http.StatusOK, "お送りしました")
	if got := rig.deliver()["bob@example.com"]; len(got) != 0 {
		t.Fatalf("a contract with the portal off still let its contact in: %d emails", len(got))
	}

	// Signing out ends the session.
	anon.get("/my")
	expect(t, anon.post("/my/logout", url.Values{}), http.StatusSeeOther)
	expect(t, anon.get("/my"), http.StatusOK, "ログイン用のリンクを送る")
	expect(t, anon.get("/my/notices/1"), http.StatusSeeOther)

	// Audited with the contact.
	audit, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: "portal.login"})
	if len(audit) != 1 || audit[0].Target != "contact=alice@example.com" {
		t.Fatalf("sign-in not audited: %+v", audit)
	}
}

// TestPortalContactsSeeOnlyTheirOwn: signed in as the contacts of two
// contracts, neither sees the other's contract, product, incidents,
// maintenance or notices, on any portal route.
func TestPortalContactsSeeOnlyTheirOwn(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	ctx := context.Background()
	pa, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "製品A PRODUCT-A"})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "製品B PRODUCT-B"})
	ca, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: pa.ID, NameJA: "部品A COMP-A"})
	cb, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: pb.ID, NameJA: "部品B COMP-B"})
	a.contractWith("K-A", []int64{pa.ID}, map[string]string{"a@example.com": "primary/ja"})
	a.contractWith("K-B", []int64{pb.ID}, map[string]string{"b@example.com": "primary/ja"})
	incA, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害A INCIDENT-A", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{ca.ID: data.MajorOutage}, Notice: data.Notice{Send: true}})
	if err != nil {
		t.Fatal(err)
	}
	incB, _ := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害B INCIDENT-B", Impact: "minor", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cb.ID: data.PartialOutage}, Notice: data.Notice{Send: true}})
	rig.deliver()

	ua, ub := a.client(), a.client()
	portalSignIn(t, rig, ua, "a@example.com")
	portalSignIn(t, rig, ub, "b@example.com")
	home := ua.get("/my")
	expect(t, home, http.StatusOK, "K-A", "COMP-A", "INCIDENT-A")
	expectNot(t, home, "K-B", "PRODUCT-B", "COMP-B", "INCIDENT-B", "b@example.com")
	expect(t, ub.get("/my"), http.StatusOK, "K-B", "INCIDENT-B")
	expectNot(t, ub.get("/my"), "K-A", "COMP-A", "INCIDENT-A")

	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	expect(t, ua.get("/my/incidents/"+id(incA.ID)), http.StatusOK, "INCIDENT-A", "COMP-A")
	expect(t, ua.get("/my/incidents/"+id(incB.ID)), http.StatusNotFound)
	expect(t, ub.get("/my/incidents/"+id(incA.ID)), http.StatusNotFound)
	// Notices: each sees their own, never the other's.
	da, _, _ := a.store.DeliveriesTo(ctx, "a@example.com", 10)
	db, _, _ := a.store.DeliveriesTo(ctx, "b@example.com", 10)
	if len(da) < 2 || len(db) < 2 {
		t.Fatalf("deliveries: %d, %d", len(da), len(db))
	}
	for _, d := range da {
		expect(t, ua.get("/my/notices/"+id(d.ID)), http.StatusOK)
		expect(t, ub.get("/my/notices/"+id(d.ID)), http.StatusNotFound)
	}
	expect(t, ua.get("/my/notices/"+id(da[len(da)-1].ID)), http.StatusOK, "INCIDENT-A")
	for _, p := range []string{"/my/notices/abc", "/my/incidents/0", "/my/maintenance/999999"} {
		expect(t, ua.get(p), http.StatusNotFound)
	}
}

// TestSLAReportPages: an operator and the contract's contact read the
// same report (HTML and CSV); another contract's contact gets a 404; a
// bad period is a clear 400; the month's breaches list the missed one.
func TestSLAReportPages(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	ctx := context.Background()
	tokyo := a.app.opts.Location
	pa, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "製品A", NameEN: "Product A"})
	ca, _ := a.store.CreateComponent(ctx, data.ComponentInput{ProductID: pa.ID, NameJA: "部品A"})
	if err := a.store.SetProductSLATarget(ctx, pa.ID, "99.9"); err != nil {
		t.Fatal(err)
	}
	ka := a.contractWith("K-A", []int64{pa.ID}, map[string]string{"a@example.com": "primary/ja"})
	a.contractWith("K-B", []int64{pa.ID}, map[string]string{"b@example.com": "primary/ja"})
	// A 90-minute major outage on 2026-10-10 (JST): October has 44,640
	// minutes, so availability is (44640-90)/44640 = 99.798 %, missed.
	start := time.Date(2026, 10, 10, 9, 0, 0, 0, tokyo)
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害 OUTAGE-A", Impact: "major", Status: data.Investigating, BodyJA: "調査中です。",
		Components: map[int64]string{ca.ID: data.MajorOutage}, StartedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(90 * time.Minute)
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。", At: end}); err != nil {
		t.Fatal(err)
	}
	rig.deliver()
	k := strconv.FormatInt(ka, 10)
	ed := a.client()
	ed.login("editor@example.com")
	r := ed.get("/admin/contracts/" + k + "/sla?month=2026-10")
	expect(t, r, http.StatusOK, "稼働実績報告書", "顧客 K-A 御中", "99.798 %", "90.0 分", "未達", "OUTAGE-A", "2026年10月1日 – 2026年10月31日", "「重大な障害」の時間を100%")
	csvr := ed.get("/admin/contracts/" + k + "/sla?month=2026-10&format=csv")
	expect(t, csvr, http.StatusOK, "99.798", "OUTAGE-A")
	if !strings.HasPrefix(csvr.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV content type %q", csvr.header.Get("Content-Type"))
	}
	for _, bad := range []string{"?month=2026-13", "?month=abc", "?from=2026-10-05&to=2026-10-01", "?from=2020-01-01&to=2026-01-01", "?from=x&to=y"} {
		expect(t, ed.get("/admin/contracts/"+k+"/sla"+bad), http.StatusBadRequest, "期間は")
	}
	expect(t, ed.get("/admin/sla?month=2026-10"), http.StatusOK, "SLA 未達の一覧", "顧客 K-A", "顧客 K-B", "99.798")
	expect(t, ed.get("/admin/sla?month=2026-11"), http.StatusOK, "SLA 未達の契約はありません")
	expect(t, ed.get("/admin/contracts/"+k+"/sla?month=2031-01"), http.StatusOK, "まだ始まっていない")
	expect(t, ed.get("/admin/contracts/"+k+"/sla?month=2026-10&format=xml"), http.StatusBadRequest, "csv だけ")

	ua, ub := a.client(), a.client()
	portalSignIn(t, rig, ua, "a@example.com")
	portalSignIn(t, rig, ub, "b@example.com")
	expect(t, ua.get("/my/contracts/"+k+"/sla?month=2026-10"), http.StatusOK, "99.798 %", "OUTAGE-A", `href="/my/incidents/`)
	expect(t, ua.get("/my/contracts/"+k+"/sla?month=2026-10&format=csv"), http.StatusOK, "99.798")
	expect(t, ub.get("/my/contracts/"+k+"/sla?month=2026-10"), http.StatusNotFound)
	expect(t, ub.get("/my/contracts/"+k+"/sla?month=2026-10&format=csv"), http.StatusNotFound)
}

var confirmLinkRe = regexp.MustCompile(`https?://status\.example\.com(/my/confirm/[0-9]+\.[A-Za-z0-9_-]+)`)

// TestPrimaryContactManagesAdditionalContacts: the primary contact adds an
// additional contact, who gets a confirmation email and no notice until
// confirming; removal asks first; an additional contact, or another
// contract's primary, cannot manage them; operators see who added whom.
func TestPrimaryContactManagesAdditionalContacts(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	ctx := context.Background()
	p, cdn, _ := a.seedCatalog()
	ka := a.contractWith("K-A", []int64{p}, map[string]string{"boss@example.com": "primary/ja", "staff@example.com": "additional/ja"})
	a.contractWith("K-B", []int64{p}, map[string]string{"other@example.com": "primary/ja"})
	rig.deliver()
	k := strconv.FormatInt(ka, 10)

	boss := a.client()
	portalSignIn(t, rig, boss, "boss@example.com")
	expect(t, boss.get("/my"), http.StatusOK, `href="/my/contracts/`+k+`/contacts"`)
	page := boss.get("/my/contracts/" + k + "/contacts")
	expect(t, page, http.StatusOK, "staff@example.com", "追加連絡先を登録する")
	for _, bad := range []url.Values{{"email": {"not an address"}, "lang": {"ja"}}, {"email": {"staff@example.com"}, "lang": {"ja"}},
		{"email": {"x@example.com"}, "lang": {"fr"}}} {
		expect(t, boss.post("/my/contracts/"+k+"/contacts", bad), http.StatusBadRequest)
	}
	expect(t, boss.post("/my/contracts/"+k+"/contacts", url.Values{"name": {"新人"}, "email": {"New@Example.com"}, "lang": {"en"}}), http.StatusSeeOther)
	expect(t, boss.get("/my/contracts/"+k+"/contacts?added=1"), http.StatusOK, "new@example.com", "メールアドレスの確認待ち", "追加連絡先を登録しました")
	got := rig.deliver()["new@example.com"]
	if len(got) != 1 {
		t.Fatalf("the added address got %d emails", len(got))
	}
	text := textOf(t, got[0])
	link := confirmLinkRe.FindStringSubmatch(text)
	if link == nil || !strings.Contains(text, "boss") {
		t.Fatalf("confirmation email:\n%s", text)
	}
	// Unconfirmed: an incident reaches boss and staff, not the new address.
	a.app.opts.Wake = func() {}
	admin := a.client()
	admin.login("admin@example.com")
	admin.get("/admin/incidents/new")
	expect(t, admin.post("/admin/incidents", url.Values{"title_ja": {"障害です"}, "impact": {"major"}, "status": {"investigating"},
		"body_ja": {"調査中です。"}, "component_" + strconv.FormatInt(cdn, 10): {data.MajorOutage}, "notify": {"1"}}), http.StatusSeeOther)
	mails := rig.deliver()
	if len(mails["new@example.com"]) != 0 || len(mails["boss@example.com"]) != 1 {
		t.Fatalf("before confirming, mail went to %v", recipients(mails))
	}
	// Confirmed: the next notice reaches it.
	pub := a.client()
	expect(t, pub.get(link[1]), http.StatusOK, "確認する")
	expect(t, pub.post(link[1], url.Values{}), http.StatusOK, "確認が完了しました")
	expect(t, admin.get("/admin/contracts/"+k), http.StatusOK, "お客様がポータルで追加")

	// A later import that leaves the added address out keeps it, and says so.
	tok := a.newToken(admin, "import", "write")
	csvText := "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n" +
		"K-A,顧客 K-A,krewDashboard,true,boss,boss@example.com,ja,primary\nK-A,顧客 K-A,krewDashboard,true,staff,staff@example.com,ja,additional\n"
	expect(t, a.apiCall(tok, http.MethodPost, "/api/admin/contracts/import?dry_run=true", csvText), http.StatusOK, `"portal_kept":["K-A new@example.com"]`)
	expect(t, a.apiCall(tok, http.MethodPost, "/api/admin/contracts/import", csvText), http.StatusOK, `"contacts_removed":0`)
	if a.contactID(ka, "new@example.com") == 0 {
		t.Fatal("the import removed a contact the customer added")
	}

	// Others cannot manage K-A's contacts.
	staff, other := a.client(), a.client()
	portalSignIn(t, rig, staff, "staff@example.com")
	portalSignIn(t, rig, other, "other@example.com")
	newID := a.contactID(ka, "new@example.com")
	for _, c := range []*client{staff, other} {
		expect(t, c.get("/my/contracts/"+k+"/contacts"), http.StatusNotFound)
		expect(t, c.post("/my/contracts/"+k+"/contacts", url.Values{"email": {"y@example.com"}, "lang": {"ja"}}), http.StatusNotFound)
		expect(t, c.post("/my/contacts/"+strconv.FormatInt(newID, 10)+"/remove", url.Values{"confirm": {"1"}}), http.StatusNotFound)
	}
	// The primary contact cannot be removed from the portal.
	expect(t, boss.post("/my/contacts/"+strconv.FormatInt(a.contactID(ka, "boss@example.com"), 10)+"/remove", url.Values{}), http.StatusNotFound)
	// Removal asks first, then removes.
	rm := "/my/contacts/" + strconv.FormatInt(newID, 10) + "/remove"
	expect(t, boss.post(rm, url.Values{}), http.StatusOK, "new@example.com を追加連絡先から削除しますか")
	expect(t, boss.post(rm, url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expectNot(t, boss.get("/my/contracts/"+k+"/contacts"), "new@example.com")
	for _, action := range []string{"portal.contact_add", "portal.contact_confirm", "portal.contact_remove"} {
		if audit, _, _ := a.store.Audit(ctx, data.AuditFilter{Action: action}); len(audit) != 1 {
			t.Errorf("%s audited %d times", action, len(audit))
		}
	}
}

// TestSLASettings: an admin sets how availability counts and each
// product's commitment; refused values save nothing; an editor cannot; a
// contract gets its own commitment, start date and monthly mail choice.
func TestSLASettings(t *testing.T) {
	a := newTestServer(t)
	p, _, _ := a.seedCatalog()
	ctx := context.Background()
	k := a.contractWith("K-1", []int64{p}, map[string]string{"a@example.com": "primary/ja"})
	pid := "target_" + strconv.FormatInt(p, 10)
	good := url.Values{"major_weight": {"100"}, "partial_weight": {"50"}, "degraded_weight": {"10"}, "notice_days": {"5"},
		"credit_tiers": {"99.9:10,99.0:25"}, pid: {"99.95"}}
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/sla/settings"), http.StatusForbidden)
	adm := a.client()
	adm.login("admin@example.com")
	expect(t, adm.get("/admin/sla/settings"), http.StatusOK, "SLA の設定", "初期値は、重大な停止100%")
	for field, bad := range map[string]string{"partial_weight": "101", "notice_days": "-1", "credit_tiers": "abc", pid: "100.5", "major_weight": "x"} {
		v := cloneValues(good)
		v.Set(field, bad)
		expect(t, adm.post("/admin/sla/settings", v), http.StatusBadRequest)
		st, _ := a.store.SLASettings(ctx)
		if st.PartialWeight != 30 || st.NoticeDays != 3 {
			t.Fatalf("a refused form (%s=%s) saved: %+v", field, bad, st)
		}
	}
	expect(t, adm.post("/admin/sla/settings", good), http.StatusSeeOther)
	st, _ := a.store.SLASettings(ctx)
	prod, _ := a.store.Product(ctx, p)
	if st.PartialWeight != 50 || st.NoticeDays != 5 || st.CreditTiers != "99.9:10,99.0:25" || prod.SLATarget != "99.95" {
		t.Fatalf("saved %+v, target %q", st, prod.SLATarget)
	}
	ks := strconv.FormatInt(k, 10)
	expect(t, ed.post("/admin/contracts/"+ks+"/sla", url.Values{"sla_target": {"99.5"}, "started_at": {"2026-11-16"}, "sla_report_mail": {"1"}}), http.StatusSeeOther)
	expect(t, ed.post("/admin/contracts/"+ks+"/sla", url.Values{"sla_target": {"abc"}}), http.StatusBadRequest, "100以下の数値")
	expect(t, ed.post("/admin/contracts/"+ks+"/sla", url.Values{"started_at": {"16/11/2026"}}), http.StatusBadRequest, "2026-11-16")
	c, _ := a.store.Contract(ctx, k)
	if c.SLATarget != "99.5" || !c.SLAReportMail || c.StartedAt == nil || c.StartedAt.In(a.app.opts.Location).Format(time.DateOnly) != "2026-11-16" {
		t.Fatalf("contract SLA %+v", c)
	}
	expect(t, ed.get("/admin/contracts/"+ks), http.StatusOK, `value="99.5"`, `value="2026-11-16"`)
}

// TestMonthlySLAReportMail: on the 1st the job mails last month's report
// to the primary contacts of the contracts that asked for it, once; other
// contracts and additional contacts get nothing.
func TestMonthlySLAReportMail(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	ctx := context.Background()
	p, _, _ := a.seedCatalog()
	if err := a.store.SetProductSLATarget(ctx, p, "99.9"); err != nil {
		t.Fatal(err)
	}
	on := a.contractWith("K-ON", []int64{p}, map[string]string{"boss@example.com": "primary/ja", "staff@example.com": "additional/ja"})
	a.contractWith("K-OFF", []int64{p}, map[string]string{"quiet@example.com": "primary/ja"})
	if err := a.store.SetContractSLA(ctx, on, data.ContractSLA{ReportMail: true}); err != nil {
		t.Fatal(err)
	}
	rig.deliver()
	tasks := &jobs.Tasks{Store: a.store, Now: a.clock.Now, Location: a.app.opts.Location, Dispatcher: rig.disp}
	var run func(context.Context) (string, error)
	for _, j := range tasks.Jobs() {
		if j.Name == jobs.JobSLAReports {
			run = j.Run
		}
	}
	if run == nil {
		t.Fatal("no SLA report job")
	}
	for i := 0; i < 2; i++ {
		if _, err := run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := rig.deliver()
	if len(got["boss@example.com"]) != 1 || len(got) != 1 {
		t.Fatalf("reports went to %v", recipients(got))
	}
	m := got["boss@example.com"][0]
	last := a.clock.Now().In(a.app.opts.Location).AddDate(0, -1, 0).Format("2006-01")
	text := textOf(t, m)
	if !strings.Contains(subject(t, m), "稼働実績報告書") || !strings.Contains(text, "顧客 K-ON "+last) || !strings.Contains(text, "稼働率 100.000%") ||
		!strings.Contains(text, "/my/contracts/"+strconv.FormatInt(on, 10)+"/sla?month="+last) {
		t.Fatalf("report email %q:\n%s", subject(t, m), text)
	}
}
