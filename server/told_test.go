package server

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// The console tells an operator what customers were really told: these
// tests walk the demo, where no mail server is configured.

var noticeStateSpan = regexp.MustCompile(`<span class="notice-state[^"]*">(.*?)</span>`)

// TestToldUpgradeNoticesSayWhatTheirDeliveriesDid: an advance notice whose
// emails are all held reads as held, with counts, on the upgrades list and
// on the upgrade's page, never as 送信済み; released, it reads as waiting.
func TestToldUpgradeNoticesSayWhatTheirDeliveriesDid(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	ctx := context.Background()
	op := a.client()
	op.login(f.AdminEmail)

	u, err := a.store.Upgrade(ctx, f.NextUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	var written []int64
	want := map[int64]int{} // notification → deliveries
	for _, n := range u.Notices {
		if n.State != data.NoticeSent || n.NotificationID == nil {
			continue
		}
		counts, err := a.store.DeliveryCounts(ctx, *n.NotificationID)
		if err != nil {
			t.Fatal(err)
		}
		if counts[data.DeliveryHeld] == 0 || counts[data.DeliverySent] != 0 {
			t.Fatalf("the demo's notice %d is not all held: %v", n.ID, counts)
		}
		written = append(written, *n.NotificationID)
		want[*n.NotificationID] = counts[data.DeliveryHeld]
	}
	if len(written) == 0 {
		t.Fatal("the demo's next upgrade has no notice written; the test proves nothing")
	}
	check := func(where, body string) {
		t.Helper()
		for _, m := range noticeStateSpan.FindAllStringSubmatch(body, -1) {
			if text := strings.TrimSpace(html.UnescapeString(m[1])); strings.HasSuffix(text, "送信済み") {
				t.Errorf("%s: a notice reads %q, with no word on its deliveries", where, text)
			}
		}
	}
	for _, path := range []string{"/admin/upgrades", "/admin/upgrades/" + itoa(f.NextUpgrade)} {
		page := op.get(path)
		check(path, page.body)
		for _, nid := range written {
			expect(t, page, http.StatusOK, fmt.Sprintf("保留 %d / %d", want[nid], want[nid]))
		}
		expectNot(t, page, "送信済み 0")
	}
	expect(t, op.get("/admin/upgrades/"+itoa(f.NextUpgrade)), http.StatusOK, `href="/admin/notifications/`+itoa(written[0])+`"`)

	// Released (an SMTP server was configured since), it waits to be sent.
	if _, err := a.store.ReleaseHeld(ctx, written[0]); err != nil {
		t.Fatal(err)
	}
	page := op.get("/admin/upgrades")
	expect(t, page, http.StatusOK, fmt.Sprintf("送信待ち %d / %d", want[written[0]], want[written[0]]))
	check("/admin/upgrades after release", page.body)

	// In English too.
	op.speak("en")
	page = op.get("/admin/upgrades/" + itoa(f.NextUpgrade))
	expect(t, page, http.StatusOK, fmt.Sprintf("Pending %d / %d", want[written[0]], want[written[0]]))
}

// tally counts a notification's deliveries: emails by state, and channel
// posts.
func tally(t *testing.T, a *testApp, nid int64) (emails map[string]int, channels int) {
	t.Helper()
	ds, _, err := a.store.Deliveries(context.Background(), nid, "", 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	emails = map[string]int{}
	for _, d := range ds {
		if d.ChannelID != nil {
			channels++
		} else {
			emails[d.State]++
		}
	}
	return emails, channels
}

// latestOf is the newest notification of one of these kinds (an operators'
// alert that a notice is held is written just after it).
func latestOf(t *testing.T, a *testApp, kinds ...string) data.Notification {
	t.Helper()
	ns, _, _, err := a.store.Notifications(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		for _, k := range kinds {
			if n.Kind == k {
				return n
			}
		}
	}
	t.Fatalf("no notification of kinds %v", kinds)
	return data.Notification{}
}

// TestToldPublishSaysEmailsAndChannelPostsApart: the form counts the
// channel posts apart from the emails, and the flash after publishing says
// how many emails were written and that they are held, and how many
// channel posts go out: the same numbers as the deliveries written.
func TestToldPublishSaysEmailsAndChannelPostsApart(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	op := a.client()
	op.login(f.AdminEmail)
	comp := itoa(f.LicenseAPI)

	steps := []struct {
		name, form, post string
		values           url.Values
	}{
		{"incident", "/admin/incidents/new", "/admin/incidents", url.Values{"title_ja": {"認証に失敗します"}, "impact": {"major"},
			"status": {"investigating"}, "body_ja": {"調査中です。"}, "component_" + comp: {"major_outage"}, "notify": {"1"}}},
		{"maintenance", "/admin/maintenance/new", "/admin/maintenance", url.Values{"title_ja": {"認証基盤の作業"},
			"starts_at": {localInput(a.clock.Now().Add(48*time.Hour), a.app.opts.Location)},
			"ends_at":   {localInput(a.clock.Now().Add(50*time.Hour), a.app.opts.Location)},
			"body_ja":   {"作業を予定しています。"}, "components": {comp}, "notify": {"1"}, "reminder": {"1d"}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			op.get(s.form)
			preview := url.Values{"preview": {"1"}}
			for k, v := range s.values {
				preview[k] = v
			}
			form := op.post(s.post, preview)
			expect(t, form, http.StatusOK)

			r := op.post(s.post, s.values)
			expect(t, r, http.StatusSeeOther)
			n := latestOf(t, a, data.IncidentOpened, data.MaintenanceScheduled)
			emails, channels := tally(t, a, n.ID)
			held := emails[data.DeliveryHeld]
			if channels == 0 || held == 0 || held != emails[data.DeliveryHeld]+emails[data.DeliveryPending]+emails[data.DeliverySent] {
				t.Fatalf("the demo's notice should hold its emails and post to channels: %v, %d channels", emails, channels)
			}
			// Before: the form's sentence counts the emails and, apart, the
			// channel posts.
			expect(t, form, http.StatusOK, fmt.Sprintf("と、通知チャネル%d件", channels))
			sentence := html.UnescapeString(regexp.MustCompile(`(?s)<p class="audience"[^>]*>(.*?)</p>`).FindStringSubmatch(form.body)[1])
			contacts, subs := 0, 0
			fmt.Sscanf(regexp.MustCompile(`連絡先(\d+)名`).FindStringSubmatch(sentence)[1], "%d", &contacts)
			fmt.Sscanf(regexp.MustCompile(`登録者(\d+)名`).FindStringSubmatch(sentence)[1], "%d", &subs)
			if contacts+subs != held {
				t.Errorf("the form said %d contacts and %d subscribers, %d emails were written: %s", contacts, subs, held, sentence)
			}
			// After: what really happens.
			page := op.get(r.header.Get("Location"))
			expect(t, page, http.StatusOK, fmt.Sprintf("%d件の宛先へのメールを作成しました", held), "送信は保留されています",
				fmt.Sprintf("通知チャネル%d件に投稿しています", channels), `href="/admin/notifications/`+itoa(n.ID)+`"`)
			expectNot(t, page, "メールを送信しています", fmt.Sprintf("%d件の宛先", held+channels))
			// The form's script asks the same question.
			expect(t, op.get("/admin/audience?impact=major&component="+comp), http.StatusOK, fmt.Sprintf(`"channels":%d`, channels))
		})
	}

	// With a mail server, the flash says the emails are being sent, and
	// still counts the channel posts apart.
	a.withMail(true)
	op.get("/admin/incidents/new")
	r := op.post("/admin/incidents", steps[0].values)
	n := latestOf(t, a, data.IncidentOpened)
	emails, channels := tally(t, a, n.ID)
	page := op.get(r.header.Get("Location"))
	expect(t, page, http.StatusOK, fmt.Sprintf("%d件の宛先にメールを送信しています", emails[data.DeliveryPending]),
		fmt.Sprintf("通知チャネル%d件に投稿しています", channels))
	expectNot(t, page, "保留")
}

// TestToldEveryNotificationShowsItsSubject: the console's list of
// notifications shows each one's subject, whatever its kind; the
// subscription confirmation, which has no title of its own, included.
func TestToldEveryNotificationShowsItsSubject(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	op := a.client()
	op.login(f.AdminEmail)
	ns, _, total, err := a.store.Notifications(context.Background(), 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, n := range ns {
		kinds[n.Kind] = true
	}
	if !kinds[data.SubscriptionConfirm] {
		t.Fatal("the demo has no subscription confirmation; the test proves nothing")
	}
	row := regexp.MustCompile(`(?s)<td class="small"[^>]*>([^<]*)</td>\s*<td[^>]*><a href="/admin/notifications/(\d+)">(.*?)</a></td>`)
	for _, lang := range []string{"ja", "en"} {
		op.speak(lang)
		seen := 0
		for p := 1; p <= lastPage(total); p++ {
			page := op.get(fmt.Sprintf("/admin/notifications?page=%d", p))
			expect(t, page, http.StatusOK)
			for _, m := range row.FindAllStringSubmatch(page.body, -1) {
				seen++
				subject := strings.TrimSpace(html.UnescapeString(m[3]))
				if subject == "" || strings.Contains(subject, "件名なし") || strings.Contains(subject, "untitled") || strings.Contains(subject, "email.") {
					t.Errorf("%s: notification %s (%s) is listed as %q", lang, m[2], m[1], subject)
				}
			}
		}
		if seen != int(total) {
			t.Fatalf("%s: %d rows for %d notifications", lang, seen, total)
		}
	}
	op.speak("ja")
	expect(t, op.get("/admin/notifications?page="+fmt.Sprint(lastPage(total))), http.StatusOK, "【ご登録の確認】障害・メンテナンス情報のメール配信")
}

// TestToldAuditKeepsPreviewsAndRefusalsApart: a preview and a refused
// action are recorded as what they were, never like the change itself.
func TestToldAuditKeepsPreviewsAndRefusalsApart(t *testing.T) {
	a := newTestServer(t)
	f := a.seedDemo()
	ctx := context.Background()
	op := a.client()
	op.login(f.AdminEmail)
	newest := func() data.AuditEntry {
		t.Helper()
		es, _, err := a.store.Audit(ctx, data.AuditFilter{Limit: 1})
		if err != nil || len(es) == 0 {
			t.Fatalf("no audit entry (%v)", err)
		}
		return es[0]
	}
	comp := itoa(f.LicenseAPI)
	declare := url.Values{"title_ja": {"認証に失敗します"}, "impact": {"major"}, "status": {"investigating"}, "body_ja": {"調査中です。"},
		"component_" + comp: {"major_outage"}, "notify": {"1"}}

	// A preview (it says 保存しません) is marked as one.
	op.get("/admin/incidents/new")
	preview := url.Values{"preview": {"1"}}
	for k, v := range declare {
		preview[k] = v
	}
	expect(t, op.post("/admin/incidents", preview), http.StatusOK, "保存しません")
	if e := newest(); e.Action != "POST /admin/incidents (preview)" {
		t.Errorf("a preview is audited as %q", e.Action)
	}
	// A refused declaration is marked failed.
	bad := url.Values{"impact": {"major"}, "status": {"investigating"}, "body_ja": {"x"}}
	expect(t, op.post("/admin/incidents", bad), http.StatusBadRequest)
	if e := newest(); e.Action != "POST /admin/incidents (failed: 400)" {
		t.Errorf("a refused declaration is audited as %q", e.Action)
	}
	// The real one reads as the change.
	expect(t, op.post("/admin/incidents", declare), http.StatusSeeOther)
	if e := newest(); e.Action != "POST /admin/incidents" {
		t.Errorf("a declaration is audited as %q", e.Action)
	}

	// The CSV import: uploading only checks the file; a rejected one is
	// marked failed, a good one a preview; only applying it is the change.
	op.get("/admin/contracts/import")
	header := "contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n"
	r := upload(t, op, "/admin/contracts/import", []byte(header+"K-X,X,NoSuch,true,a,not-an-address,ja,primary\n"))
	expect(t, r, http.StatusBadRequest)
	if e := newest(); e.Action != "POST /admin/contracts/import (preview, failed: 400)" {
		t.Errorf("a rejected import is audited as %q", e.Action)
	}
	products, _ := a.store.Products(ctx)
	good := header + "K-CSV,CSV 顧客," + products[0].NameJA + ",true,山田,yamada@example.jp,ja,primary\n"
	r = upload(t, op, "/admin/contracts/import", []byte(good))
	expect(t, r, http.StatusOK)
	if e := newest(); e.Action != "POST /admin/contracts/import (preview)" {
		t.Errorf("an import's preview is audited as %q", e.Action)
	}
	expect(t, op.post("/admin/contracts/import/apply", url.Values{"import": {importID(t, r)}}), http.StatusOK)
	if e := newest(); e.Action != "POST /admin/contracts/import/apply" {
		t.Errorf("applying an import is audited as %q", e.Action)
	}

	// The API: a dry run is a preview, a rejected file failed.
	api := func(path, body, want string) {
		t.Helper()
		a.apiCall(f.APIToken, "POST", path, body)
		if e := newest(); e.Action != want {
			t.Errorf("%s is audited as %q, want %q", path, e.Action, want)
		}
	}
	api("/api/admin/contracts/import?dry_run=true", good, "api POST /api/admin/contracts/import (preview)")
	api("/api/admin/contracts/import", header+"K-X,X,NoSuch,true,a,not-an-address,ja,primary\n", "api POST /api/admin/contracts/import (failed: 422)")
	api("/api/admin/contracts/import", good, "api POST /api/admin/contracts/import")
}
