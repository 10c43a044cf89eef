package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
)

type fixture struct {
	upstream                                                                            int64
	product, cdn, api, incident, incidentUpdate, maintenance, maintenanceUpdate, editor int64
	contract, contact, notification, delivery                                           int64
	upgrade, announcement                                                               int64
	invite                                                                              string
	token                                                                               int64
	subscriber, member                                                                  int64
	template                                                                            int64
	integration, monitor, channel, alertChannel                                         int64
	series                                                                              int64
	outboundRange                                                                       int64
}

// seedAll gives every route a real id to act on.
func (a *testApp) seedAll() fixture {
	a.t.Helper()
	ctx := context.Background()
	f := fixture{}
	f.product, f.cdn, f.api = a.seedCatalog()
	inc, err := a.store.CreateIncident(ctx, data.NewIncident{TitleJA: "既存の障害", Impact: "minor", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{f.cdn: data.PartialOutage}})
	if err != nil {
		a.t.Fatal(err)
	}
	a.clock.Advance(time.Minute)
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Identified, BodyJA: "特定しました。",
		Components: map[int64]string{f.cdn: data.PartialOutage}}); err != nil {
		a.t.Fatal(err)
	}
	f.incident, f.incidentUpdate = inc.ID, inc.Updates[0].ID
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "既存のメンテナンス", BodyJA: "予定です。",
		StartsAt: a.clock.Now().Add(time.Hour), EndsAt: a.clock.Now().Add(2 * time.Hour), ComponentIDs: []int64{f.api}})
	if err != nil {
		a.t.Fatal(err)
	}
	full, _ := a.store.Maintenance(ctx, m.ID)
	f.maintenance, f.maintenanceUpdate = m.ID, full.Updates[0].ID
	ed, _ := a.store.OperatorByEmail(ctx, "editor@example.com")
	f.editor = ed.ID
	k, err := a.store.CreateContract(ctx, data.ContractInput{Code: "K-1", Name: "既存の契約", Active: true, ProductIDs: []int64{f.product}})
	if err != nil {
		a.t.Fatal(err)
	}
	ct, err := a.store.AddContact(ctx, k.ID, data.ContactInput{Name: "追加 花子", Email: "hanako@example.com", Lang: "ja", Role: data.RoleAdditional})
	if err != nil {
		a.t.Fatal(err)
	}
	f.contract, f.contact = k.ID, ct.ID
	if _, err := a.store.AddContact(ctx, k.ID, data.ContactInput{Name: "主 太郎", Email: "taro@example.com", Lang: "en", Role: data.RolePrimary}); err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.store.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Identified, BodyJA: "続報です。",
		Components: map[int64]string{f.cdn: data.PartialOutage}, Notice: data.Notice{Send: true, Hold: true}}); err != nil {
		a.t.Fatal(err)
	}
	ns, _, _, _ := a.store.Notifications(ctx, 1, 0)
	ds, _, _ := a.store.Deliveries(ctx, ns[0].ID, "", 1, 0)
	f.notification, f.delivery = ns[0].ID, ds[0].ID
	u, err := a.store.CreateUpgrade(ctx, data.UpgradeInput{ProductID: f.product, Version: "2.0.0", StartsAt: a.clock.Now().Add(10 * 24 * time.Hour),
		EndsAt: a.clock.Now().Add(10*24*time.Hour + time.Hour), SummaryJA: "既存のバージョンアップ", LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		a.t.Fatal(err)
	}
	an, err := a.store.CreateAnnouncement(ctx, data.AnnouncementInput{TitleJA: "既存のお知らせ", BodyJA: "本文"})
	if err != nil {
		a.t.Fatal(err)
	}
	f.upgrade, f.announcement = u.ID, an.ID
	f.invite = "invitation-token-for-tests-0123456789"
	if _, err := a.store.CreateInvitation(ctx, hashToken(f.invite), "invited@example.com", data.RoleEditor, "ja", 0, 72*time.Hour); err != nil {
		a.t.Fatal(err)
	}
	admin, _ := a.store.OperatorByEmail(ctx, "admin@example.com")
	tok, err := a.store.CreateAPIToken(ctx, "fixture", hashToken("osh_fixture_token"), data.ScopeRead, "", admin.ID)
	if err != nil {
		a.t.Fatal(err)
	}
	f.token = tok.ID
	sub, err := a.store.Subscribe(ctx, "reader@example.com", "ja", nil, true)
	if err != nil {
		a.t.Fatal(err)
	}
	f.subscriber = sub.ID
	tpl, err := a.store.CreateTemplate(ctx, data.TemplateInput{Name: "CDN遅延", TitleJA: "配信CDNの遅延", BodyJA: "調査中です。",
		Impact: "minor", Status: data.Investigating, Components: map[int64]string{f.cdn: data.DegradedPerformance}})
	if err != nil {
		a.t.Fatal(err)
	}
	f.template = tpl.ID
	in, err := a.store.CreateIntegration(ctx, "既存の連携", data.IntegrationAlertmanager, data.MajorOutage, hashToken("fixture-hook-secret"), admin.ID)
	if err != nil {
		a.t.Fatal(err)
	}
	f.integration = in.ID
	mi := data.DefaultMonitor
	mi.ComponentID, mi.Name, mi.Target = f.api, "既存の監視", "https://api.example.com/health"
	mon, err := a.store.CreateMonitor(ctx, mi)
	if err != nil {
		a.t.Fatal(err)
	}
	f.monitor = mon.ID
	up, err := a.store.CreateUpstream(ctx, data.UpstreamInput{ComponentID: f.cdn, Kind: data.UpstreamStatuspage,
		URL: "https://status.example.net/api/v2/summary.json", NameJA: "kintone", Match: "kintone", IntervalS: 300, Enabled: true})
	if err != nil {
		a.t.Fatal(err)
	}
	f.upstream = up.ID
	r, err := a.store.OpenOutboundRange(ctx, data.OpenRangeInput{Prefix: "10.21.0.0/16", Note: "社内の決済 API"})
	if err != nil {
		a.t.Fatal(err)
	}
	f.outboundRange = r.ID
	// On a product of its own, so it joins no fixture notice's audience.
	quiet, err := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "通知のない製品"})
	if err != nil {
		a.t.Fatal(err)
	}
	ch, err := a.store.CreateChannel(ctx, data.ChannelInput{Kind: data.ChannelWebhook, URL: "https://hooks.example.com/x", Lang: "ja", Secret: "s",
		ProductIDs: []int64{quiet.ID}})
	if err != nil {
		a.t.Fatal(err)
	}
	f.channel = ch.ID
	return f
}

// addAlertChannel adds an operators' channel, for the routes that act on
// one. Not part of seedAll: it joins every held notice's alerts.
func (a *testApp) addAlertChannel(f *fixture) {
	op, err := a.store.CreateChannel(context.Background(), data.ChannelInput{Kind: data.ChannelSlack, URL: "https://hooks.slack.com/services/x",
		Lang: "ja", Operator: true})
	if err != nil {
		a.t.Fatal(err)
	}
	f.alertChannel = op.ID
}

// addMember adds a confirmed subscriber, for the settings link. Not part
// of seedAll: a confirmed subscriber joins every notice's audience.
func (a *testApp) addMember(f *fixture) {
	ctx := context.Background()
	member, err := a.store.Subscribe(ctx, "member@example.com", "en", nil, true)
	if err == nil {
		err = a.store.ConfirmSubscriber(ctx, member.ID)
	}
	if err != nil {
		a.t.Fatal(err)
	}
	f.member = member.ID
}

// path fills a route pattern with ids that exist.
func (f fixture) path(pattern string) string {
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	p := pattern
	switch {
	case strings.HasPrefix(p, "/admin/incidents/"), strings.HasPrefix(p, "/incidents/"):
		p = strings.Replace(p, ":uid", id(f.incidentUpdate), 1)
		p = strings.Replace(p, ":id", id(f.incident), 1)
	case strings.HasPrefix(p, "/admin/maintenance/"), strings.HasPrefix(p, "/maintenance/"):
		p = strings.Replace(p, ":uid", id(f.maintenanceUpdate), 1)
		p = strings.Replace(p, ":id", id(f.maintenance), 1)
	case strings.HasPrefix(p, "/admin/series/"):
		p = strings.Replace(p, ":id", id(f.series), 1)
	case strings.HasPrefix(p, "/admin/products/"):
		p = strings.Replace(p, ":id", id(f.product), 1)
	case strings.HasPrefix(p, "/admin/components/"):
		p = strings.Replace(p, ":id", id(f.cdn), 1)
	case strings.HasPrefix(p, "/admin/operators/"):
		p = strings.Replace(p, ":id", id(f.editor), 1)
	case strings.HasPrefix(p, "/admin/templates/"):
		p = strings.Replace(p, ":id", id(f.template), 1)
	case strings.HasPrefix(p, "/admin/contracts/"):
		p = strings.Replace(p, ":id", id(f.contract), 1)
	case strings.HasPrefix(p, "/admin/contacts/"):
		p = strings.Replace(p, ":id", id(f.contact), 1)
	case strings.HasPrefix(p, "/admin/subscribers/"):
		p = strings.Replace(p, ":id", id(f.member), 1) // after the settings rows, which use it too
	case strings.HasPrefix(p, "/admin/notifications/"):
		p = strings.Replace(p, ":delivery", id(f.delivery), 1)
		p = strings.Replace(p, ":id", id(f.notification), 1)
	case strings.HasPrefix(p, "/admin/upgrades/"), strings.HasPrefix(p, "/upgrades/"):
		p = strings.Replace(p, ":id", id(f.upgrade), 1)
	case strings.HasPrefix(p, "/admin/announcements/"), strings.HasPrefix(p, "/news/"):
		p = strings.Replace(p, ":id", id(f.announcement), 1)
	case strings.Contains(p, ":product"):
		p = strings.Replace(p, ":product", id(f.product), 1)
	case strings.HasPrefix(p, "/subscribe/channel/"):
		p = strings.Replace(p, ":token", mail.SubscriberToken(testSecret, "channel-manage", f.channel), 1)
	case strings.HasPrefix(p, "/admin/alerts/"):
		p = strings.Replace(p, ":id", id(f.alertChannel), 1)
	case strings.HasPrefix(p, "/my/confirm/"):
		p = strings.Replace(p, ":token", mail.SubscriberToken(testSecret, mail.PurposeContactConfirm, f.contact), 1)
	case strings.HasPrefix(p, "/my/login/"):
		p = strings.Replace(p, ":token", mail.SubscriberToken(testSecret, mail.PurposePortalLink, 1), 1)
	case strings.HasPrefix(p, "/my/"):
		p = strings.Replace(p, ":id", id(f.incident), 1)
	case strings.HasPrefix(p, "/admin/outbound/"):
		p = strings.Replace(p, ":id", id(f.outboundRange), 1)
	case strings.HasPrefix(p, "/admin/upstreams/"):
		p = strings.Replace(p, ":id", id(f.upstream), 1)
	case strings.HasPrefix(p, "/admin/monitors/"):
		p = strings.Replace(p, ":id", id(f.monitor), 1)
	case strings.HasPrefix(p, "/admin/drafts/"):
		p = strings.Replace(p, ":id", "1", 1) // none waiting: dismissing says so
	case strings.HasPrefix(p, "/admin/integrations/"):
		p = strings.Replace(p, ":id", id(f.integration), 1)
	case strings.HasPrefix(p, "/admin/tokens/"):
		p = strings.Replace(p, ":id", id(f.token), 1)
	case strings.HasPrefix(p, "/subscribe/confirm/"):
		p = strings.Replace(p, ":token", mail.SubscriberToken(testSecret, mail.PurposeConfirm, f.subscriber), 1)
	case strings.HasPrefix(p, "/subscribe/manage/"):
		p = strings.Replace(p, ":token", mail.SubscriberToken(testSecret, mail.PurposeManage, f.member), 1)
	case strings.HasPrefix(p, "/subscribe/unsubscribe/"):
		p = strings.Replace(p, ":token", mail.SubscriberToken(testSecret, mail.PurposeUnsubscribe, f.subscriber), 1)
	case strings.HasPrefix(p, "/admin/invite/"):
		p = strings.Replace(p, ":token", f.invite, 1)
	case strings.Contains(p, ":token"):
		p = strings.Replace(p, ":token", mail.ContactToken(testSecret, f.contact), 1)
	case strings.HasPrefix(p, "/static/"):
		p = "/static/x/style.css"
	}
	return p
}

// state is a fingerprint of everything a POST could change.
func (a *testApp) state() string {
	a.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	ps, _ := a.store.Products(ctx)
	for _, p := range ps {
		b.WriteString(p.NameJA + "|" + strconv.Itoa(p.Position) + ";")
		for _, c := range p.Components {
			b.WriteString(c.NameJA + "|" + c.Status + "|" + strconv.Itoa(c.Position) + ";")
		}
	}
	incs, total, _ := a.store.RecentIncidents(ctx, 100, 0)
	b.WriteString(strconv.FormatInt(total, 10))
	for _, i := range incs {
		b.WriteString(i.TitleJA + i.Status + strconv.Itoa(len(i.Updates)))
	}
	ms, _, _ := a.store.RecentMaintenances(ctx, 100, 0)
	for _, m := range ms {
		b.WriteString(m.TitleJA + m.Status + strconv.Itoa(len(m.Updates)))
	}
	ops, _ := a.store.Operators(ctx)
	for _, o := range ops {
		b.WriteString(o.Email + o.Role + strconv.FormatBool(o.Disabled))
	}
	cs, _, _ := a.store.Contracts(ctx, data.ContractFilter{})
	for _, c := range cs {
		b.WriteString(c.Code + c.Name + strconv.FormatBool(c.Active) + strconv.Itoa(len(c.Products)))
		for _, ct := range c.Contacts {
			b.WriteString(ct.Email + ct.Lang + ct.Role)
		}
	}
	var emails []string
	for _, c := range cs {
		for _, ct := range c.Contacts {
			emails = append(emails, ct.Email)
		}
	}
	people, _ := a.store.PeopleChoices(ctx, emails)
	for _, e := range emails {
		b.WriteString(e + people[e].Lang + strconv.FormatBool(people[e].OptedOut))
	}
	us, _, _ := a.store.Upgrades(ctx, 100, 0)
	for _, u := range us {
		b.WriteString(u.Version + u.Status + u.StartsAt.String() + u.LeadTimes)
	}
	as, _, _ := a.store.Announcements(ctx, 100, 0)
	for _, an := range as {
		b.WriteString(an.TitleJA + an.BodyJA)
	}
	pol, _ := a.store.Policy(ctx)
	for _, p := range pol {
		b.WriteString(p.Impact + strconv.FormatBool(p.NotifyPrimary) + strconv.FormatBool(p.NotifyAdditional))
	}
	ns, counts, _, _ := a.store.Notifications(ctx, 100, 0)
	for _, n := range ns {
		b.WriteString(fmt.Sprint(n.ID, counts[n.ID]))
	}
	return b.String()
}

func routes(a *testApp, method string) []string {
	var out []string
	for _, r := range a.app.Echo().Routes() {
		if r.Method == method {
			out = append(out, r.Path)
		}
	}
	if len(out) == 0 {
		a.t.Fatalf("no %s routes", method)
	}
	return out
}

// TestEveryPostNeedsCSRF sends every POST route, as a signed-in admin,
// without a token and with a wrong one: each is refused and nothing changes.
func TestEveryPostNeedsCSRF(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	c := a.client()
	c.login("admin@example.com")
	before := a.state()
	for _, pattern := range routes(a, http.MethodPost) {
		if pattern == "/unsubscribe/:token" || pattern == "/subscribe/unsubscribe/:token" || strings.HasPrefix(pattern, "/api/") {
			continue // one-click unsubscribe (RFC 8058) and the API: their tokens are the check
		}
		path := f.path(pattern)
		form := url.Values{"title_ja": {"x"}, "name_ja": {"x"}, "status": {"resolved"}, "body_ja": {"x"}, "direction": {"up"}, "role": {"admin"}}
		r := c.postRaw(path, form)
		if r.code != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d", path, r.code)
		}
		form.Set("csrf", "wrong-token-wrong-token-wrong-tok")
		r = c.postRaw(path, form)
		if r.code != http.StatusForbidden || !strings.Contains(r.body, "フォームの有効期限が切れました") {
			t.Errorf("POST %s with a wrong token: %d", path, r.code)
		}
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin") // must not stand in for the token
		if r := c.do(req); r.code != http.StatusForbidden {
			t.Errorf("POST %s with only Sec-Fetch-Site: %d", path, r.code)
		}
	}
	if after := a.state(); after != before {
		t.Fatalf("refused requests changed state:\nbefore %s\nafter  %s", before, after)
	}
	// The header works too.
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/admin/components/"+strconv.FormatInt(f.cdn, 10)+"/status",
		strings.NewReader("status=major_outage"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", c.csrf)
	if r := c.do(req); r.code != http.StatusSeeOther {
		t.Fatalf("POST with X-CSRF-Token header: %d", r.code)
	}
}

// TestEditorCannotManageOperators checks the one line between the roles.
func TestEditorCannotManageOperators(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	before := a.state()
	ed := a.client()
	ed.login("editor@example.com")
	if strings.Contains(ed.get("/admin").body, `href="/admin/operators"`) {
		t.Error("editors see the operators menu")
	}
	if after := a.state(); after != before {
		t.Fatalf("editor changed operators")
	}

	// An admin can, and a disabled editor is signed out at once.
	adm := a.client()
	adm.login("admin@example.com")
	expect(t, adm.get("/admin/operators"), http.StatusOK, "editor@example.com")
	expect(t, adm.post("/admin/operators/"+strconv.FormatInt(f.editor, 10)+"/disable", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if r := ed.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("disabled editor still signed in: %d", r.code)
	}
	// The last admin cannot disable themselves.
	me, _ := a.store.OperatorByEmail(context.Background(), "admin@example.com")
	r := adm.post("/admin/operators/"+strconv.FormatInt(me.ID, 10)+"/disable", url.Values{"confirm": {"1"}})
	expect(t, r, http.StatusBadRequest, "有効な管理者が1人もいなくなるため")
	// New operators are invited by a single-use, expiring link.
	adm.get("/admin/operators/new")
	r = adm.post("/admin/operators", url.Values{"email": {"not-an-address"}, "role": {"editor"}})
	expect(t, r, http.StatusBadRequest, "メールアドレスを正しく入力してください。", `value="not-an-address"`)
	r = adm.post("/admin/operators", url.Values{"email": {"new@example.com"}, "role": {"editor"}})
	expect(t, r, http.StatusOK, "招待リンク")
	link := regexp.MustCompile(`http://status\.example\.com(/admin/invite/[A-Za-z0-9_-]+)`).FindStringSubmatch(r.body)
	if link == nil {
		t.Fatalf("no invitation link\n%s", r.body)
	}
	nc := a.client()
	expect(t, nc.get(link[1]), http.StatusOK, "new@example.com")
	expect(t, nc.post(link[1], url.Values{"name": {"新人"}, "new": {"short"}, "confirm": {"short"}}), http.StatusBadRequest, "パスワードは8文字以上")
	expect(t, nc.post(link[1], url.Values{"name": {"新人"}, "new": {"password1"}, "confirm": {"password1"}}), http.StatusBadRequest, "よく使われているパスワード")
	expect(t, nc.post(link[1], url.Values{"name": {"新人"}, "new": {"パスワードは日本語でも使えます"}, "confirm": {"パスワードは日本語でも使えます"}}), http.StatusSeeOther)
	expect(t, nc.get("/admin"), http.StatusOK, "new@example.com")
	// The link works once.
	if r := a.client().get(link[1]); r.code != http.StatusNotFound {
		t.Fatalf("used invitation: %d", r.code)
	}
	nc2 := a.client()
	nc2.get("/admin/login")
	expect(t, nc2.post("/admin/login", url.Values{"email": {"NEW@example.com"}, "password": {"パスワードは日本語でも使えます"}}), http.StatusSeeOther)
	// An invitation expires.
	r = adm.post("/admin/operators", url.Values{"email": {"late@example.com"}, "role": {"editor"}})
	late := regexp.MustCompile(`/admin/invite/[A-Za-z0-9_-]+`).FindString(r.body)
	a.clock.Advance(73 * time.Hour)
	if r := a.client().get(late); r.code != http.StatusNotFound {
		t.Fatalf("expired invitation: %d", r.code)
	}
}

func TestLoginAndSessions(t *testing.T) {
	a := newTestServer(t)
	c := a.client()
	c.get("/admin/login")
	r := c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"wrong password"}})
	expect(t, r, http.StatusUnauthorized, "メールアドレスまたはパスワードが正しくありません。", `value="admin@example.com"`)
	r = c.post("/admin/login", url.Values{"email": {"nobody@example.com"}, "password": {"correct horse battery"}})
	expect(t, r, http.StatusUnauthorized, "メールアドレスまたはパスワードが正しくありません。")

	// A redirect after login stays on this site.
	for next, want := range map[string]string{"/admin/incidents": "/admin/incidents", "//evil.example/x": "/admin",
		"https://evil.example": "/admin", "/\\evil.example": "/admin"} {
		c := a.client()
		c.get("/admin/login")
		r := c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}, "next": {next}})
		if got := r.header.Get("Location"); got != want {
			t.Errorf("next=%q went to %q, want %q", next, got, want)
		}
	}

	// The session cookie is HttpOnly and SameSite=Lax, and its value
	// changes at every login.
	var cookies []string
	for i := 0; i < 2; i++ {
		c.get("/admin/login")
		r = c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})
		sc := r.header.Get("Set-Cookie")
		for _, h := range r.header.Values("Set-Cookie") {
			if strings.HasPrefix(h, "oshirase_session=") {
				sc = h
			}
		}
		if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
			t.Fatalf("session cookie %q", sc)
		}
		cookies = append(cookies, sc)
	}
	if cookies[0] == cookies[1] {
		t.Fatal("session id did not change at login")
	}
	c.get("/admin")
	expect(t, c.post("/admin/logout", nil), http.StatusSeeOther)
	if r := c.get("/admin"); r.code != http.StatusSeeOther {
		t.Fatalf("still signed in after logout: %d", r.code)
	}

	// Changing the password asks for the current one.
	c.login("admin@example.com")
	c.get("/admin/account")
	r = c.post("/admin/account/password", url.Values{"current": {"nope"}, "new": {"新しいとても長いパスワード"}, "confirm": {"新しいとても長いパスワード"}})
	expect(t, r, http.StatusBadRequest, "現在のパスワードが正しくありません。")
	r = c.post("/admin/account/password", url.Values{"current": {"correct horse battery"}, "new": {"新しいとても長いパスワード"}, "confirm": {"新しいとても長いパスワード"}})
	expect(t, r, http.StatusSeeOther)
	expect(t, c.get("/admin/account"), http.StatusOK, "パスワードを変更しました。")
}

// TestSecureCookiesOverHTTPS checks the cookie flags when the base URL is
// https: __Host- prefix and Secure.
func TestSecureCookiesOverHTTPS(t *testing.T) {
	a := newTestServer(t)
	a.app.opts.BaseURL, _ = url.Parse("https://status.example.com")
	a.app.echo = a.app.routes()
	r := a.client().get("/admin/login")
	found := false
	for _, h := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "__Host-oshirase_csrf=") {
			found = true
			if !strings.Contains(h, "Secure") || !strings.Contains(h, "Path=/") {
				t.Errorf("csrf cookie %q", h)
			}
		}
	}
	if !found {
		t.Fatalf("no __Host- csrf cookie in %v", r.header.Values("Set-Cookie"))
	}
}

// addSeries gives the fixture a recurring maintenance series (three weekly
// windows), for the routes that need one; apart, so the other tests'
// counts of windows stay theirs.
func (a *testApp) addSeries(f *fixture) {
	a.t.Helper()
	ctx := context.Background()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	ser, err := a.store.CreateSeries(ctx, data.SeriesInput{Freq: data.SeriesWeekly, Interval: 1, Weekdays: []string{"TU"}, FirstStartsAt: t0.AddDate(0, 0, 7),
		Duration: time.Hour, Count: 3, TitleJA: "定期メンテナンス", BodyJA: "定期作業", ComponentIDs: []int64{f.cdn}, Location: tokyo}, true)
	if err != nil {
		a.t.Fatal(err)
	}
	f.series = ser.ID
}
