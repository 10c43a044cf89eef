package server

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

// withMail gives the test server a composer and says whether SMTP is
// configured; wakes counts the dispatcher nudges.
func (a *testApp) withMail(enabled bool) *int {
	a.t.Helper()
	base, _ := url.Parse("https://status.example.com")
	from, _ := mail.ParseFrom("Status <status@example.com>")
	comp, err := mail.NewComposer(mail.ComposerOptions{BaseURL: base, From: from, Secret: testSecret, Location: a.app.opts.Location, Now: a.clock.Now,
		Brand: a.store.CachedBranding})
	if err != nil {
		a.t.Fatal(err)
	}
	wakes := 0
	a.app.opts.Composer, a.app.opts.MailEnabled = comp, enabled
	a.app.opts.Wake = func() { wakes++ }
	return &wakes
}

// TestPublishingQueuesEmailForTheAudience declares an incident through the
// console with the email box ticked and follows the notice to the console's
// delivery page.
func TestPublishingQueuesEmailForTheAudience(t *testing.T) {
	a := newTestServer(t)
	wakes := a.withMail(true)
	f := a.seedAll()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		k, _ := a.store.CreateContract(ctx, data.ContractInput{Code: "M-" + strconv.Itoa(i), Name: "顧客" + strconv.Itoa(i), Active: true, ProductIDs: []int64{f.product}})
		a.store.AddContact(ctx, k.ID, data.ContactInput{Email: "p" + strconv.Itoa(i) + "@example.com", Lang: "ja", Role: data.RolePrimary})
		a.store.AddContact(ctx, k.ID, data.ContactInput{Email: "a" + strconv.Itoa(i) + "@example.com", Lang: "en", Role: data.RoleAdditional})
	}
	c := a.client()
	c.login("editor@example.com")
	cdn := strconv.FormatInt(f.cdn, 10)
	form := url.Values{"title_ja": {"CDNで障害が発生しています"}, "impact": {"major"}, "status": {"investigating"},
		"component_" + cdn: {"major_outage"}, "body_ja": {"調査中です。"}, "notify": {"1"}}

	// "Check recipients" shows the count and saves nothing.
	preview := url.Values{"preview": {"1"}}
	for k, v := range form {
		preview[k] = v
	}
	before := a.state()
	// 4 contracts (K-1 and M-0..2) with 2 contacts each.
	expect(t, c.post("/admin/incidents", preview), http.StatusOK, "公開すると、4件の契約の連絡先8名にメールでお知らせします。", `value="CDNで障害が発生しています"`)
	if a.state() != before {
		t.Fatal("the recipient check saved something")
	}
	// The script's endpoint says the same.
	expect(t, c.get("/admin/audience?impact=major&component="+cdn), http.StatusOK, `"contacts":8`, `"contracts":4`)
	expect(t, c.get("/admin/audience?impact=minor&component="+cdn), http.StatusOK, `"contacts":4`)
	expect(t, c.get("/admin/audience?impact=none&component="+cdn), http.StatusOK, `"contacts":0`)

	inc := idFromLocation(t, c.post("/admin/incidents", form))
	if *wakes != 1 {
		t.Fatalf("dispatcher woken %d times", *wakes)
	}
	list := c.get("/admin/notifications")
	expect(t, list, http.StatusOK, "CDNで障害が発生しています", "障害のお知らせ", "送信待ち 8")
	nid := regexp.MustCompile(`/admin/notifications/(\d+)"`).FindAllStringSubmatch(list.body, -1)[0][1]
	page := c.get("/admin/notifications/" + nid)
	// English for an English-speaking contact (listed first), Japanese for
	// a Japanese one.
	expect(t, page, http.StatusOK, "送信されるメール", "Subject: [Major incident] krewDashboard: CDNで障害が発生しています", "a0@example.com", "調査中です。")
	p0 := regexp.MustCompile(`\?delivery=(\d+)">p0@example.com`).FindStringSubmatch(page.body)
	if p0 == nil {
		t.Fatalf("no link to p0's message\n%s", page.body)
	}
	expect(t, c.get("/admin/notifications/"+nid+"?delivery="+p0[1]), http.StatusOK, "Subject: 【障害・重大】krewDashboard: CDNで障害が発生しています", "To: &lt;p0@example.com&gt;")
	html := regexp.MustCompile(`/admin/notifications/\d+/html/\d+`).FindString(page.body)
	r := c.get(html)
	expect(t, r, http.StatusOK, "<table")
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("email preview served without a sandbox: %v", r.header)
	}

	// An update without the box ticked emails nobody.
	c.get("/admin/incidents/" + inc)
	expect(t, c.post("/admin/incidents/"+inc+"/updates", url.Values{"status": {"identified"}, "component_" + cdn: {"major_outage"}, "body_ja": {"特定しました。"}}), http.StatusSeeOther)
	ns, _, total, _ := a.store.Notifications(ctx, 10, 0)
	if total != 3 { // the seeded one, the fixture's subscription confirmation and the declaration
		t.Fatalf("%d notifications: %+v", total, ns)
	}
	// Resolving with the box ticked reaches the same people.
	c.get("/admin/incidents/" + inc)
	expect(t, c.post("/admin/incidents/"+inc+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}, "notify": {"1"}}), http.StatusSeeOther)
	ns, counts, _, _ := a.store.Notifications(ctx, 10, 0)
	if ns[0].Kind != data.IncidentResolved || counts[ns[0].ID][data.DeliveryPending] != 8 {
		t.Fatalf("resolution notice %+v %v", ns[0], counts)
	}
}

// TestHeldWithoutSMTP: no SMTP server, deliveries are held and shown, and
// cannot be released until one is configured.
func TestHeldWithoutSMTP(t *testing.T) {
	a := newTestServer(t)
	wakes := a.withMail(false)
	f := a.seedAll()
	c := a.client()
	c.login("editor@example.com")
	expect(t, c.get("/admin/incidents/new"), http.StatusOK, "メールでお知らせする（契約の連絡先・メール配信の登録者）")
	c.get("/admin/incidents/" + strconv.FormatInt(f.incident, 10))
	form := url.Values{"status": {"monitoring"}, "component_" + strconv.FormatInt(f.cdn, 10): {"degraded_performance"}, "body_ja": {"監視中です。"}, "notify": {"1"}, "preview": {"1"}}
	expect(t, c.post("/admin/incidents/"+strconv.FormatInt(f.incident, 10)+"/updates", form), http.StatusOK, "SMTPサーバーが未設定のため、送信は保留されます。")
	form.Del("preview")
	expect(t, c.post("/admin/incidents/"+strconv.FormatInt(f.incident, 10)+"/updates", form), http.StatusSeeOther)
	if *wakes != 0 {
		t.Fatal("woke a dispatcher that does not exist")
	}
	nid := strconv.FormatInt(f.notification, 10)
	expect(t, c.get("/admin/notifications/"+nid), http.StatusOK, "保留 1", "OSHIRASE_SMTP_URL", "Subject: ")
	expect(t, c.post("/admin/notifications/"+nid+"/release", nil), http.StatusBadRequest, "SMTPサーバーが設定されていないため")
	// Once SMTP exists, release queues them.
	a.app.opts.MailEnabled = true
	c.get("/admin/notifications/" + nid)
	expect(t, c.post("/admin/notifications/"+nid+"/release", nil), http.StatusSeeOther)
	counts, _ := a.store.DeliveryCounts(context.Background(), f.notification)
	if counts[data.DeliveryPending] != 1 || counts[data.DeliveryHeld] != 0 || *wakes != 1 {
		t.Fatalf("after release: %v, %d wakes", counts, *wakes)
	}
}

func upload(t *testing.T, c *client, path string, content []byte) response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", c.csrf)
	fw, _ := w.CreateFormFile("file", "contracts.csv")
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.a.srv.URL+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

func TestContractsImportExportAndSearch(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	c := a.client()
	c.login("editor@example.com")
	c.get("/admin/contracts/import")

	bad := "契約コード,契約名,製品,有効,担当者名,メールアドレス,言語,区分\n" +
		"C-1,株式会社いろは,krewDashboard,有効,山田,yamada@example.jp,ja,primary\n" +
		"C-2,株式会社にほへ,存在しない製品,有効,佐藤,sato@example.jp,ja,primary\n" +
		"C-3,株式会社とちり,krewDashboard,有効,鈴木,not-an-address,ja,primary\n" +
		"C-1,別の会社,krewDashboard,有効,田中,tanaka@example.jp,ja,additional\n"
	sjis, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte(bad))
	r := upload(t, c, "/admin/contracts/import", sjis)
	expect(t, r, http.StatusBadRequest, "Shift_JIS", "3件の問題があるため取り込めません", `<td>3</td><td class="nowrap">製品</td><td>登録されていない製品です。登録されている製品: krewDashboard`,
		"メールアドレスを正しく入力してください。", "この契約コードは別の内容ですでに使われています。")
	expectNot(t, r, "import/apply")

	good := "\ufeffcontract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n"
	for i := 0; i < 60; i++ {
		good += "C-" + strconv.Itoa(100+i) + ",株式会社" + strconv.Itoa(i) + ",krewDashboard,true,担当" + strconv.Itoa(i) + ",u" + strconv.Itoa(i) + "@example.com,ja,primary\n"
	}
	c.get("/admin/contracts/import")
	r = upload(t, c, "/admin/contracts/import", []byte(good))
	expect(t, r, http.StatusOK, "60行を読み込みました（UTF-8）。契約60件、連絡先60名です。", "import/apply")
	if n, _, _ := a.store.Contracts(context.Background(), data.ContractFilter{}); len(n) != 0 {
		t.Fatal("the preview imported")
	}
	imp := regexp.MustCompile(`name="import" value="(\d+)"`).FindStringSubmatch(r.body)[1]
	expect(t, c.post("/admin/contracts/import/apply", url.Values{"import": {imp}}), http.StatusOK, "取り込みが完了しました", "新規60件")

	// Search and paging through them.
	expect(t, c.get("/admin/contracts"), http.StatusOK, "60件", "1 / 3 ページ")
	r = c.get("/admin/contracts?q=u42%40")
	expect(t, r, http.StatusOK, "1件", "株式会社42")
	expect(t, c.get("/admin/contracts?q=%25"), http.StatusOK, "0件")
	expect(t, c.get("/admin/contracts?page=3"), http.StatusOK, "株式会社59")

	// Export gives back what was imported.
	exp := c.get("/admin/contracts/export.csv")
	if exp.code != http.StatusOK || !strings.HasPrefix(exp.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(exp.body, "C-142,株式会社42,krewDashboard,true,担当42,u42@example.com,ja,primary") {
		t.Fatalf("export: %d %v\n%.300s", exp.code, exp.header, exp.body)
	}
}

func TestContractAndContactForms(t *testing.T) {
	a := newTestServer(t)
	p, _, _ := a.seedCatalog()
	c := a.client()
	c.login("editor@example.com")
	c.get("/admin/contracts/new")
	r := c.post("/admin/contracts", url.Values{"code": {""}, "name": {"株式会社テスト"}, "products": {strconv.FormatInt(p, 10)}, "active": {"1"}})
	expect(t, r, http.StatusBadRequest, "入力してください。", `value="株式会社テスト"`)
	id := idFromLocation(t, c.post("/admin/contracts", url.Values{"code": {"T-1"}, "name": {"株式会社テスト"}, "products": {strconv.FormatInt(p, 10)}, "active": {"1"}}))
	c.get("/admin/contracts/" + id)
	r = c.post("/admin/contracts/"+id+"/contacts", url.Values{"contact_name": {"担当"}, "email": {"bad address"}, "lang": {"ja"}, "role": {"primary"}})
	expect(t, r, http.StatusBadRequest, "メールアドレスを正しく入力してください。", `value="bad address"`)
	expect(t, c.post("/admin/contracts/"+id+"/contacts", url.Values{"contact_name": {"担当"}, "email": {"tanto@example.com"}, "lang": {"en"}, "role": {"primary"}}), http.StatusSeeOther)
	expect(t, c.get("/admin/contracts/"+id), http.StatusOK, "tanto@example.com", "契約時の連絡先", "英語")
	// End the contract.
	expect(t, c.post("/admin/contracts/"+id, url.Values{"code": {"T-1"}, "name": {"株式会社テスト"}, "confirm": {"1"}}), http.StatusSeeOther)
	expect(t, c.get("/admin/contracts/"+id), http.StatusOK, "終了")
	k, _ := a.store.Contract(context.Background(), mustInt(t, id))
	if k.Active || k.EndedAt == nil || len(k.Products) != 0 {
		t.Fatalf("ended contract %+v", k)
	}
}

func mustInt(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPolicyIsForAdmins(t *testing.T) {
	a := newTestServer(t)
	ed := a.client()
	ed.login("editor@example.com")
	expect(t, ed.get("/admin/policy"), http.StatusOK, "通知ポリシーは管理者のみ変更できます。")
	expect(t, ed.post("/admin/policy", url.Values{"form": {"policy"}, "minor_additional": {"1"}}), http.StatusForbidden)
	adm := a.client()
	adm.login("admin@example.com")
	adm.get("/admin/policy")
	expect(t, adm.post("/admin/policy", url.Values{"form": {"policy"}, "critical_primary": {"1"}, "critical_additional": {"1"},
		"major_primary": {"1"}, "minor_primary": {"1"}, "minor_additional": {"1"}, "maintenance_primary": {"1"}}), http.StatusSeeOther)
	pol, _ := a.store.Policy(context.Background())
	if !pol[2].NotifyAdditional || pol[1].NotifyAdditional || pol[4].NotifyAdditional {
		t.Fatalf("policy %+v", pol)
	}
}

// TestPreferencesAndOneClickUnsubscribe follows the signed links in an
// email.
func TestPreferencesAndOneClickUnsubscribe(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	token := mail.ContactToken(testSecret, f.contact)
	c := a.client()
	r := c.get("/preferences/" + token)
	expect(t, r, http.StatusOK, "hanako@example.com", "お知らせメールを受け取らない")
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("preferences cacheable: %v", r.header)
	}
	// A tampered or foreign token is a 404, whatever the id.
	for _, bad := range []string{token + "x", strconv.FormatInt(f.contact+1, 10) + token[strings.Index(token, "."):], "1.AAAAAAAAAAAAAAAAAAAAAA", "garbage"} {
		if r := c.get("/preferences/" + bad); r.code != http.StatusNotFound {
			t.Errorf("token %q: %d", bad, r.code)
		}
	}
	expect(t, c.post("/preferences/"+token, url.Values{"lang": {"en"}}), http.StatusOK, "設定を保存しました。")
	addr, _ := a.store.AddressOfContact(context.Background(), f.contact)
	if addr.Lang() != "en" || addr.Person.OptedOut || addr.Person.ChosenBy != data.ChosenByPerson {
		t.Fatalf("after saving: %+v", addr)
	}
	// GET never unsubscribes (link scanners); the RFC 8058 POST does, with
	// no cookie and no CSRF token.
	// The contact reads English now: its links open in English.
	expect(t, c.get("/unsubscribe/"+token), http.StatusOK, "Unsubscribe")
	addr, _ = a.store.AddressOfContact(context.Background(), f.contact)
	if addr.Person.OptedOut {
		t.Fatal("GET unsubscribed")
	}
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/unsubscribe/"+token, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("one-click: %v %v", res, err)
	}
	res.Body.Close()
	addr, _ = a.store.AddressOfContact(context.Background(), f.contact)
	if !addr.Person.OptedOut {
		t.Fatal("one-click unsubscribe did not opt out")
	}
	aud, _ := a.store.NoticeAudience(context.Background(), "critical", []int64{f.cdn})
	for _, r := range aud.Recipients {
		if r.Email == "hanako@example.com" {
			t.Fatal("opted-out contact still in the audience")
		}
	}
	// A primary contact cannot opt out, by either route.
	k, _ := a.store.Contract(context.Background(), f.contract)
	var primary int64
	for _, x := range k.Contacts {
		if x.Role == data.RolePrimary {
			primary = x.ID
		}
	}
	ptoken := mail.ContactToken(testSecret, primary)
	expect(t, c.get("/preferences/"+ptoken+"?lang=ja"), http.StatusOK, "配信を停止できません")
	c.get("/preferences/" + ptoken)
	c.post("/preferences/"+ptoken, url.Values{"lang": {"ja"}, "opt_out": {"1"}})
	expect(t, c.postRaw("/unsubscribe/"+ptoken, url.Values{"List-Unsubscribe": {"One-Click"}}), http.StatusBadRequest)
	if addr, _ := a.store.AddressOfContact(context.Background(), primary); addr.Person.OptedOut {
		t.Fatal("primary contact opted out")
	}
	_ = time.Second
}
