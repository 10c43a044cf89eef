package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

// recipientsOf lists who the newest notification goes to.
func recipientsOf(t *testing.T, a *testApp) map[string]string {
	t.Helper()
	ns, _, _, _ := a.store.Notifications(context.Background(), 1, 0)
	if len(ns) == 0 {
		return nil
	}
	ds, _, _ := a.store.Deliveries(context.Background(), ns[0].ID, "", 1000, 0)
	out := map[string]string{}
	for _, d := range ds {
		out[d.Email] = d.Role
	}
	return out
}

func declare(t *testing.T, a *testApp, comp int64, impact string) {
	t.Helper()
	if _, err := a.store.CreateIncident(context.Background(), data.NewIncident{TitleJA: "障害", Impact: impact, Status: data.Investigating,
		BodyJA: "x", Components: map[int64]string{comp: data.MajorOutage}, Notice: data.Notice{Send: true, Hold: true}}); err != nil {
		t.Fatal(err)
	}
}

// TestPublicSubscription: double opt-in before any notice, one copy for an
// address that is also a contact, unsubscribe stops the next notice.
func TestPublicSubscription(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	c := a.client()
	expect(t, c.get("/subscribe"), http.StatusOK, "メールで受け取る")
	expect(t, c.post("/subscribe", url.Values{"email": {"not an address"}, "lang": {"ja"}}), http.StatusBadRequest, "メールアドレスを正しく入力してください。")
	c.get("/subscribe")
	expect(t, c.post("/subscribe", url.Values{"email": {"Fan@Example.com"}, "lang": {"en"}, "products": {itoa(f.product)}}), http.StatusOK, "確認メールをお送りしました")

	// The confirmation is the only email so far.
	conf := recipientsOf(t, a)
	if len(conf) != 1 || conf["fan@example.com"] != data.RoleSubscriber {
		t.Fatalf("confirmation recipients %v", conf)
	}
	ns, _, _, _ := a.store.Notifications(context.Background(), 1, 0)
	ds, _, _ := a.store.Deliveries(context.Background(), ns[0].ID, "", 1, 0)
	msg, err := a.app.opts.Composer.Compose(ds[0], ns[0])
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`/subscribe/confirm/[0-9]+\.[A-Za-z0-9_-]+`).FindString(msg.Text)
	if link == "" || msg.Subject != "[Please confirm] Email updates from the status page" {
		t.Fatalf("confirmation email: %q\n%s", msg.Subject, msg.Text)
	}

	// Before confirming: not in any notice.
	declare(t, a, f.cdn, "major")
	if r := recipientsOf(t, a); r["fan@example.com"] != "" {
		t.Fatalf("unconfirmed subscriber emailed: %v", r)
	}
	// A GET does not confirm; the POST does.
	expect(t, c.get(link), http.StatusOK, "登録を完了する")
	declare(t, a, f.cdn, "major")
	if r := recipientsOf(t, a); r["fan@example.com"] != "" {
		t.Fatal("GET confirmed the subscription")
	}
	c.get(link)
	expect(t, c.post(link, nil), http.StatusOK, "登録が完了しました")
	declare(t, a, f.cdn, "major")
	r := recipientsOf(t, a)
	if r["fan@example.com"] != data.RoleSubscriber || r["taro@example.com"] != data.RolePrimary {
		t.Fatalf("after confirming: %v", r)
	}
	// "none" impact: below the subscriber threshold (minor by default), and
	// the policy emails no contact either: no notification at all.
	_, _, before, _ := a.store.Notifications(context.Background(), 1, 0)
	declare(t, a, f.cdn, "none")
	if _, _, after, _ := a.store.Notifications(context.Background(), 1, 0); after != before {
		t.Fatal("an impact-none incident emailed someone")
	}

	// A contact who also subscribes gets one copy, as a contact.
	c2 := a.client()
	c2.get("/subscribe")
	c2.post("/subscribe", url.Values{"email": {"taro@example.com"}, "lang": {"ja"}})
	sub := lastSubscriber(t, a, "taro@example.com")
	a.store.ConfirmSubscriber(context.Background(), sub)
	declare(t, a, f.cdn, "critical")
	r = recipientsOf(t, a)
	if r["taro@example.com"] != data.RolePrimary || len(r) != 3 {
		t.Fatalf("contact and subscriber: %v", r)
	}

	// Unsubscribe (one click, no cookie) stops the next notice.
	fan := lastSubscriber(t, a, "fan@example.com")
	tok := mail.SubscriberToken(testSecret, mail.PurposeUnsubscribe, fan)
	res, err := http.Post(a.srv.URL+"/subscribe/unsubscribe/"+tok, "application/x-www-form-urlencoded", nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("one-click: %v %v", res, err)
	}
	res.Body.Close()
	declare(t, a, f.cdn, "major")
	if r := recipientsOf(t, a); r["fan@example.com"] != "" {
		t.Fatalf("unsubscribed address emailed: %v", r)
	}
	if r := a.client().get("/subscribe/unsubscribe/" + tok); r.code != http.StatusNotFound {
		t.Fatalf("unsubscribe link after unsubscribing: %d", r.code)
	}
}

func lastSubscriber(t *testing.T, a *testApp, email string) int64 {
	t.Helper()
	for id := int64(1); id < 20; id++ {
		if s, err := a.store.Subscriber(context.Background(), id); err == nil && s.Email == email {
			return s.ID
		}
	}
	t.Fatalf("no subscriber %s", email)
	return 0
}

// TestSubscriptionIsRateLimited: the form cannot flood an inbox.
func TestSubscriptionIsRateLimited(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	limited := 0
	for i := 0; i < 6; i++ {
		c.get("/subscribe")
		if r := c.post("/subscribe", url.Values{"email": {"victim@example.com"}, "lang": {"ja"}}); r.code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 3 {
		t.Fatalf("%d of 6 requests for one address limited, want 3", limited)
	}
	ns, _, total, _ := a.store.Notifications(context.Background(), 100, 0)
	if total != 3 {
		t.Fatalf("%d confirmation emails for one address: %v", total, ns)
	}
}

func TestSubscriberThresholdIsConfigurable(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	sub, _ := a.store.Subscribe(context.Background(), "fan@example.com", "ja", nil, true)
	a.store.ConfirmSubscriber(context.Background(), sub.ID)
	adm := a.client()
	adm.login("admin@example.com")
	adm.get("/admin/policy")
	expect(t, adm.post("/admin/policy", url.Values{"form": {"policy"}, "critical_primary": {"1"}, "major_primary": {"1"}, "minor_primary": {"1"},
		"subscriber_min_impact": {"critical"}}), http.StatusSeeOther)
	declare(t, a, f.cdn, "major")
	if r := recipientsOf(t, a); r["fan@example.com"] != "" {
		t.Fatalf("subscriber emailed about a major incident with the threshold at critical: %v", r)
	}
	declare(t, a, f.cdn, "critical")
	if r := recipientsOf(t, a); r["fan@example.com"] != data.RoleSubscriber {
		t.Fatalf("critical incident: %v", r)
	}
	expect(t, adm.post("/admin/policy", url.Values{"form": {"policy"}, "subscriber_min_impact": {"sometimes"}}), http.StatusBadRequest)
}

// TestSubscriberChangesSettings: asking again from a confirmed address
// sends a settings link instead of a confirmation; the settings page
// changes language and products, refuses bad input whole, and opens only
// with a valid link to a confirmed subscription.
func TestSubscriberChangesSettings(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	ctx := context.Background()
	sub, err := a.store.Subscribe(ctx, "fan@example.com", "en", []int64{f.product}, true)
	if err != nil {
		t.Fatal(err)
	}
	manage := "/subscribe/manage/" + mail.SubscriberToken(testSecret, mail.PurposeManage, sub.ID)
	c := a.client()
	if r := c.get(manage); r.code != http.StatusNotFound {
		t.Fatalf("settings of an unconfirmed subscription: %d", r.code)
	}
	if err := a.store.ConfirmSubscriber(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}

	// The form again, with other choices: the same answer, a settings
	// link by email, and the choices unchanged.
	c.get("/subscribe")
	expect(t, c.post("/subscribe", url.Values{"email": {"FAN@example.com"}, "lang": {"ja"}}), http.StatusOK, "メールをお送りしました")
	ns, _, _, _ := a.store.Notifications(ctx, 1, 0)
	if len(ns) != 1 || ns[0].Kind != data.SubscriptionManage {
		t.Fatalf("newest notification %+v", ns)
	}
	ds, _, _ := a.store.Deliveries(ctx, ns[0].ID, "", 10, 0)
	if len(ds) != 1 || ds[0].Lang != "en" {
		t.Fatalf("settings email deliveries %+v", ds)
	}
	msg, err := a.app.opts.Composer.Compose(ds[0], ns[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, manage) || msg.Subject != "[Settings] Email updates from the status page" {
		t.Fatalf("settings email: %q\n%s", msg.Subject, msg.Text)
	}
	if got, _ := a.store.Subscriber(ctx, sub.ID); got.Lang != "en" || got.AllProducts || len(got.Products) != 1 {
		t.Fatalf("asking again changed the subscription: %+v", got)
	}

	// Every notice carries the settings link too.
	declare(t, a, f.cdn, "major")
	ns, _, _, _ = a.store.Notifications(ctx, 1, 0)
	ds, _, _ = a.store.Deliveries(ctx, ns[0].ID, "", 100, 0)
	var notice *mail.Message
	for _, d := range ds {
		if d.Email == "fan@example.com" {
			notice, err = a.app.opts.Composer.Compose(d, ns[0])
		}
	}
	if err != nil || notice == nil || !strings.Contains(notice.Text, manage) {
		t.Fatalf("notice to a subscriber lacks the settings link: %v", err)
	}

	// The page shows the current choices.
	r := c.get(manage)
	expect(t, r, http.StatusOK, "メール配信の設定", "fan@example.com", `value="`+itoa(f.product)+`" checked`, `value="en" selected`)

	// Hostile input: refused whole, with the reason, the subscription as it was.
	for _, bad := range []url.Values{
		{"lang": {"xx"}},
		{"lang": {"ja"}, "products": {"junk"}},
		{"lang": {"ja"}, "products": {"999999"}},
		{"lang": {"ja"}, "products": {"-1"}},
		{"lang": {"ja\x00"}},
	} {
		c.get(manage)
		want := "選択肢から選んでください。"
		if strings.ContainsRune(bad.Get("lang"), 0) {
			want = "使用できない文字が含まれています。"
		}
		expect(t, c.post(manage, bad), http.StatusBadRequest, want)
		if got, _ := a.store.Subscriber(ctx, sub.ID); got.Lang != "en" || got.AllProducts || len(got.Products) != 1 {
			t.Fatalf("%v half-saved: %+v", bad, got)
		}
	}

	// Japanese, every product.
	c.get(manage)
	expect(t, c.post(manage, url.Values{"lang": {"ja"}}), http.StatusOK, "設定を保存しました。")
	if got, _ := a.store.Subscriber(ctx, sub.ID); got.Lang != "ja" || !got.AllProducts || len(got.Products) != 0 {
		t.Fatalf("after saving: %+v", got)
	}
	// A forged or wrong-purpose link is a 404.
	for _, link := range []string{
		"/subscribe/manage/" + itoa(sub.ID) + ".AAAAAAAAAAAAAAAAAAAAAA",
		"/subscribe/manage/" + mail.SubscriberToken(testSecret, mail.PurposeUnsubscribe, sub.ID),
	} {
		if r := c.get(link); r.code != http.StatusNotFound {
			t.Fatalf("%s: %d", link, r.code)
		}
	}
}

// TestConsoleSubscribers: operators see who subscribed, search by
// address (LIKE wildcards taken literally) and remove one on request.
func TestConsoleSubscribers(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	ctx := context.Background()
	fan, err := a.store.Subscribe(ctx, "fan_1@example.com", "en", []int64{f.product}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.ConfirmSubscriber(ctx, fan.ID); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.login("editor@example.com")
	expect(t, c.get("/admin/subscribers"), http.StatusOK, "fan_1@example.com", "reader@example.com", "確認待ち", "に登録", "2件")
	r := c.get("/admin/subscribers?q=FAN_")
	expect(t, r, http.StatusOK, "fan_1@example.com", "1件")
	if strings.Contains(r.body, "reader@example.com") {
		t.Fatal("search matched the other address")
	}
	// "_" and "%" are characters here, not wildcards.
	expect(t, c.get("/admin/subscribers?q=%25"), http.StatusOK, "0件", "該当する登録者はいません。")
	expect(t, c.get("/admin/subscribers?q=fan%5F"), http.StatusOK, "fan_1@example.com")
	expect(t, c.get("/admin/subscribers?q=fanx1"), http.StatusOK, "0件")

	c.get("/admin/subscribers")
	if r := c.post("/admin/subscribers/"+itoa(fan.ID)+"/delete", url.Values{"confirm": {"1"}}); r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin/subscribers" {
		t.Fatalf("delete: %d %s", r.code, r.header.Get("Location"))
	}
	expect(t, c.get("/admin/subscribers"), http.StatusOK, "削除しました", "1件")
	if _, err := a.store.Subscriber(ctx, fan.ID); err == nil {
		t.Fatal("deleted subscriber still there")
	}
	if _, err := a.store.Subscriber(ctx, f.subscriber); err != nil {
		t.Fatalf("the other subscriber went too: %v", err)
	}
	for _, path := range []string{"/admin/subscribers/" + itoa(fan.ID) + "/delete", "/admin/subscribers/999999/delete", "/admin/subscribers/x/delete"} {
		c.get("/admin/subscribers")
		if r := c.post(path, nil); r.code != http.StatusNotFound && r.code != http.StatusBadRequest {
			t.Fatalf("%s: %d", path, r.code)
		}
	}
}
