package server

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
)

// decodeAPI reads an API answer into v.
func decodeAPI(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
}

// hostile calls must answer a 4xx error body, never a 5xx, and change
// nothing.
type hostileCall struct {
	method, path, body string
	code               int
}

func expectHostile(t *testing.T, a *testApp, tok string, calls []hostileCall) {
	t.Helper()
	before := a.state()
	for _, c := range calls {
		r := a.apiCall(tok, c.method, c.path, c.body)
		var e apiError
		if r.code != c.code || json.Unmarshal([]byte(r.body), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s %s %.60q: %d, want %d\n%s", c.method, c.path, c.body, r.code, c.code, r.body)
		}
	}
	if a.state() != before {
		t.Fatal("hostile calls changed state")
	}
}

func TestAPINoticesAnnouncements(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "お知らせ", data.ScopeWrite)
	reader := a.newToken(adm, "読むだけ", data.ScopeRead)
	product := apiRef("p", f.product)

	// Created, read back, listed.
	publish := a.clock.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	r := a.apiCall(tok, "POST", "/api/admin/announcements", `{"title_ja": "新機能のお知らせ", "title_en": "New feature", "body_ja": "本文です。",
		"product_id": "`+product+`", "publish_at": "`+publish.Format(time.RFC3339)+`"}`)
	expect(t, r, http.StatusCreated)
	var made apiAnnouncement
	decodeAPI(t, r, &made)
	if made.ProductID == nil || *made.ProductID != product || !made.PublishAt.Equal(publish) || made.Published || made.TitleEN != "New feature" {
		t.Fatalf("created %+v", made)
	}
	var got apiAnnouncement
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/announcements/"+made.ID, ""), &got)
	if !reflect.DeepEqual(got, made) {
		t.Fatalf("read back %+v, created %+v", got, made)
	}
	var page apiPage[apiAnnouncement]
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/announcements?per_page=1", ""), &page)
	if page.Total != 2 || len(page.Items) != 1 || page.NextPage == nil || *page.NextPage != 2 {
		t.Fatalf("page %+v", page)
	}
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/announcements?page=2&per_page=1", ""), &page)
	if len(page.Items) != 1 || page.NextPage != nil {
		t.Fatalf("page 2 %+v", page)
	}

	// Changed: product_id omitted is for all products; publish_at omitted is now.
	r = a.apiCall(tok, "PUT", "/api/admin/announcements/"+made.ID, `{"title_ja": "改題したお知らせ", "body_ja": "新しい本文"}`)
	expect(t, r, http.StatusOK, "改題したお知らせ")
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/announcements/"+made.ID, ""), &got)
	if got.ProductID != nil || !got.Published || got.BodyJA != "新しい本文" || got.TitleEN != "" {
		t.Fatalf("after update %+v", got)
	}
	expect(t, a.client().get("/news"), http.StatusOK, "改題したお知らせ")

	// The console's validation, as 422s naming the fields.
	for _, c := range []struct{ body, field string }{
		{`{"title_ja": "", "body_ja": "本文"}`, "title_ja"},
		{`{"title_ja": "x", "body_ja": ""}`, "body_ja"},
		{`{"title_ja": "x", "body_ja": "x", "product_id": "p999999"}`, "product_id"},
		{`{"title_ja": "x", "body_ja": "x", "product_id": "c1"}`, "product_id"},
		{`{"title_ja": "` + strings.Repeat("あ", 300) + `", "body_ja": "x"}`, "title_ja"},
	} {
		before := a.state()
		expect(t, a.apiCall(tok, "POST", "/api/admin/announcements", c.body), http.StatusUnprocessableEntity, `"`+c.field+`"`)
		expect(t, a.apiCall(tok, "PUT", "/api/admin/announcements/"+made.ID, c.body), http.StatusUnprocessableEntity, `"`+c.field+`"`)
		if a.state() != before {
			t.Fatalf("%s: an invalid body changed state", c.body)
		}
	}

	ann := "/api/admin/announcements/" + apiRef("a", f.announcement)
	expectHostile(t, a, tok, []hostileCall{
		{"GET", "/api/admin/announcements/" + apiRef("v", f.announcement), "", http.StatusNotFound},
		{"GET", "/api/admin/announcements/" + itoa(f.announcement), "", http.StatusNotFound},
		{"GET", "/api/admin/announcements/a999999", "", http.StatusNotFound},
		{"PUT", "/api/admin/announcements/a999999", `{"title_ja": "x", "body_ja": "x"}`, http.StatusNotFound},
		{"DELETE", "/api/admin/announcements/a999999", "", http.StatusNotFound},
		{"DELETE", "/api/admin/announcements/" + itoa(f.announcement), "", http.StatusNotFound},
		{"POST", "/api/admin/announcements", `{"title_ja": "x", "body_ja": "x", "evil": true}`, http.StatusBadRequest},
		{"POST", "/api/admin/announcements", `{"title_ja": 1, "body_ja": "x"}`, http.StatusBadRequest},
		{"POST", "/api/admin/announcements", `{"title_ja": "x", "body_ja": "x", "publish_at": "tomorrow"}`, http.StatusBadRequest},
		{"PUT", ann, `not json`, http.StatusBadRequest},
		{"GET", "/api/admin/announcements?page=0", "", http.StatusBadRequest},
		{"GET", "/api/admin/announcements?per_page=101", "", http.StatusBadRequest},
		{"GET", "/api/admin/announcements?page=x", "", http.StatusBadRequest},
		{"DELETE", ann + "?dry_run=maybe", "", http.StatusBadRequest},
	})
	expectHostile(t, a, reader, []hostileCall{
		{"POST", "/api/admin/announcements", `{"title_ja": "x", "body_ja": "x"}`, http.StatusForbidden},
		{"PUT", ann, `{"title_ja": "x", "body_ja": "x"}`, http.StatusForbidden},
		{"DELETE", ann, "", http.StatusForbidden},
		{"DELETE", ann + "?dry_run=true", "", http.StatusForbidden},
	})

	// Deleting: the dry run says so and deletes nothing.
	before := a.state()
	r = a.apiCall(tok, "DELETE", ann+"?dry_run=true", "")
	expect(t, r, http.StatusOK, `"dry_run":true`, "既存のお知らせ")
	if a.state() != before {
		t.Fatal("the dry run deleted")
	}
	expect(t, a.apiCall(tok, "DELETE", ann, ""), http.StatusOK, `"dry_run":false`, "既存のお知らせ")
	expect(t, a.apiCall(tok, "GET", ann, ""), http.StatusNotFound)
	expect(t, a.apiCall(tok, "DELETE", ann, ""), http.StatusNotFound)
}

func TestAPINoticesUpgrades(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	ctx := context.Background()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "バージョンアップ", data.ScopeWrite)
	reader := a.newToken(adm, "読むだけ", data.ScopeRead)
	product := apiRef("p", f.product)
	at := func(d time.Duration) string { return a.clock.Now().Add(d).UTC().Format(time.RFC3339) }
	body := func(version string, start time.Duration, extra string) string {
		return `{"product_id": "` + product + `", "version": "` + version + `", "starts_at": "` + at(start) + `", "ends_at": "` + at(start+time.Hour) +
			`", "summary_ja": "バージョンアップします。"` + extra + `}`
	}

	// Created with the default lead times, or the ones given; read back.
	r := a.apiCall(tok, "POST", "/api/admin/upgrades", body("3.0.0", 14*24*time.Hour, ""))
	expect(t, r, http.StatusCreated, `"lead_times":["7d","1d"]`, `"status":"scheduled"`)
	var up apiUpgrade
	decodeAPI(t, r, &up)
	if len(up.Notices) != 2 || up.Notices[0].Lead != "7d" || up.Notices[0].State != data.NoticePending || up.Notices[0].NotificationID != nil ||
		up.ProductID != product || up.Version != "3.0.0" {
		t.Fatalf("created %+v", up)
	}
	var got apiUpgrade
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/upgrades/"+up.ID, ""), &got)
	if got.ID != up.ID || got.Version != up.Version || len(got.Notices) != 2 {
		t.Fatalf("read back %+v", got)
	}
	r = a.apiCall(tok, "POST", "/api/admin/upgrades", body("3.1.0", 20*24*time.Hour, `, "lead_times": ["3h", "2d", "3h"]`))
	expect(t, r, http.StatusCreated, `"lead_times":["2d","3h"]`)
	var quiet apiUpgrade
	decodeAPI(t, a.apiCall(tok, "POST", "/api/admin/upgrades", body("3.2.0", 25*24*time.Hour, `, "lead_times": []`)), &quiet)
	if len(quiet.Notices) != 0 || len(quiet.LeadTimes) != 0 {
		t.Fatalf("no lead times: %+v", quiet)
	}
	expect(t, a.client().get("/upgrades/"+strings.TrimPrefix(up.ID, "v")), http.StatusOK, "3.0.0")

	// The console's validation.
	// (Only creating refuses a start in the past, in the console too.)
	expect(t, a.apiCall(tok, "POST", "/api/admin/upgrades", body("4.0", -time.Hour, "")), http.StatusUnprocessableEntity, `"starts_at"`)
	for _, c := range []struct{ body, field string }{
		{body("", 14*24*time.Hour, ""), "version"},
		{`{"product_id": "` + product + `", "version": "4.0", "starts_at": "` + at(48*time.Hour) + `", "ends_at": "` + at(47*time.Hour) + `", "summary_ja": "x"}`, "ends_at"},
		{body("4.0", 14*24*time.Hour, `, "lead_times": ["7x"]`), "lead_times"},
		{body("4.0", 14*24*time.Hour, `, "lead_times": ["91d"]`), "lead_times"},
		{body("4.0", 14*24*time.Hour, `, "lead_times": ["1d", "2d", "3d", "4d", "5d", "6d"]`), "lead_times"},
		{body("4.0", 14*24*time.Hour, `, "lead_times": ["7d, 1d"]`), "lead_times"},
		{strings.Replace(body("4.0", 14*24*time.Hour, ""), product, "p999999", 1), "product_id"},
		{strings.Replace(body("4.0", 14*24*time.Hour, ""), product, "c1", 1), "product_id"},
		{strings.Replace(body("4.0", 14*24*time.Hour, ""), `"バージョンアップします。"`, `""`, 1), "summary_ja"},
	} {
		before := a.state()
		if r := a.apiCall(tok, "POST", "/api/admin/upgrades", c.body); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, `"`+c.field+`"`) {
			t.Errorf("create %s: %d %s", c.body, r.code, r.body)
		}
		if r := a.apiCall(tok, "PUT", "/api/admin/upgrades/"+up.ID, c.body); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, `"`+c.field+`"`) {
			t.Errorf("update %s: %d %s", c.body, r.code, r.body)
		}
		if a.state() != before {
			t.Fatalf("%s: an invalid body changed state", c.body)
		}
	}

	// Filters.
	for _, c := range []struct {
		query string
		want  int64
	}{
		{"", 4}, {"?status=scheduled", 4}, {"?status=cancelled", 0}, {"?status=done", 0},
		{"?product=" + product, 4}, {"?product=p999999", 0},
		{"?since=" + at(16*24*time.Hour), 2}, {"?since=" + at(40*24*time.Hour), 0},
	} {
		var page apiPage[apiUpgrade]
		decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/upgrades"+c.query, ""), &page)
		if page.Total != c.want || len(page.Items) != int(c.want) {
			t.Errorf("%s: %d of %d, want %d", c.query, len(page.Items), page.Total, c.want)
		}
	}

	upg := "/api/admin/upgrades/" + apiRef("v", f.upgrade)
	expectHostile(t, a, tok, []hostileCall{
		{"GET", "/api/admin/upgrades?status=soon", "", http.StatusBadRequest},
		{"GET", "/api/admin/upgrades?product=c1", "", http.StatusBadRequest},
		{"GET", "/api/admin/upgrades?product=1", "", http.StatusBadRequest},
		{"GET", "/api/admin/upgrades?since=yesterday", "", http.StatusBadRequest},
		{"GET", "/api/admin/upgrades?per_page=0", "", http.StatusBadRequest},
		{"GET", "/api/admin/upgrades/" + apiRef("a", f.upgrade), "", http.StatusNotFound},
		{"GET", "/api/admin/upgrades/" + itoa(f.upgrade), "", http.StatusNotFound},
		{"PUT", "/api/admin/upgrades/v999999", body("x", 14*24*time.Hour, ""), http.StatusNotFound},
		{"POST", "/api/admin/upgrades/v999999/cancel", "", http.StatusNotFound},
		{"POST", "/api/admin/upgrades/" + itoa(f.upgrade) + "/cancel", "", http.StatusNotFound},
		{"POST", "/api/admin/upgrades", strings.Replace(body("x", 14*24*time.Hour, ""), "{", `{"evil": 1, `, 1), http.StatusBadRequest},
		{"POST", "/api/admin/upgrades", body("x", 14*24*time.Hour, `, "lead_times": "7d"`), http.StatusBadRequest},
		{"PUT", upg, `{"starts_at": "soon"}`, http.StatusBadRequest},
		{"POST", upg + "/cancel?dry_run=yes", "", http.StatusBadRequest},
	})
	expectHostile(t, a, reader, []hostileCall{
		{"POST", "/api/admin/upgrades", body("5.0", 14*24*time.Hour, ""), http.StatusForbidden},
		{"PUT", upg, body("5.0", 14*24*time.Hour, ""), http.StatusForbidden},
		{"POST", upg + "/cancel", "", http.StatusForbidden},
	})

	// The 7d notice of the fixture's upgrade went out (held: no SMTP);
	// moving the window tells those it told, and shows in its notices.
	fu, _ := a.store.Upgrade(ctx, f.upgrade)
	if _, err := a.store.SendUpgradeNotice(ctx, fu.Notices[0].ID, true); err != nil {
		t.Fatal(err)
	}
	decodeAPI(t, a.apiCall(reader, "GET", upg, ""), &got)
	told := got.Notices[0]
	if told.State != data.NoticeSent || told.NotificationID == nil || told.Deliveries.Held == 0 || told.Deliveries.Held != told.Deliveries.Total {
		t.Fatalf("the notice sent: %+v", told)
	}
	// Unchanged lead times when omitted; a new window is a new sequence
	// and a rescheduling notice to the same people.
	r = a.apiCall(tok, "PUT", upg, `{"product_id": "`+product+`", "version": "2.0.1", "starts_at": "`+at(12*24*time.Hour)+`", "ends_at": "`+at(12*24*time.Hour+time.Hour)+`", "summary_ja": "延期します。"}`)
	expect(t, r, http.StatusOK, `"version":"2.0.1"`, `"lead_times":["7d","1d"]`)
	var moved apiUpgrade
	decodeAPI(t, r, &moved)
	if moved.Sequence != got.Sequence+1 {
		t.Fatalf("sequence %d after %d", moved.Sequence, got.Sequence)
	}
	var resched apiPage[apiNotification]
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/notifications?kind="+data.UpgradeRescheduled, ""), &resched)
	if resched.Total != 1 || resched.Items[0].UpgradeID == nil || *resched.Items[0].UpgradeID != upg[len("/api/admin/upgrades/"):] ||
		resched.Items[0].Deliveries.Held != told.Deliveries.Total {
		t.Fatalf("rescheduling notices: %+v", resched)
	}

	// Cancelling: the dry run cancels nothing; then it is cancelled, and
	// those told hear of it; a second time is a 422.
	before := a.state()
	expect(t, a.apiCall(tok, "POST", upg+"/cancel?dry_run=true", ""), http.StatusOK, `"dry_run":true`, "2.0.1")
	if a.state() != before {
		t.Fatal("the dry run cancelled")
	}
	expect(t, a.apiCall(tok, "POST", upg+"/cancel", ""), http.StatusOK, `"dry_run":false`, "2.0.1")
	expect(t, a.apiCall(reader, "GET", upg, ""), http.StatusOK, `"status":"cancelled"`, `"state":"skipped"`)
	expect(t, a.apiCall(reader, "GET", "/api/admin/notifications?kind="+data.UpgradeCancelledK, ""), http.StatusOK, `"total":1`)
	expect(t, a.apiCall(tok, "POST", upg+"/cancel", ""), http.StatusUnprocessableEntity, `"status"`)
	expect(t, a.apiCall(tok, "PUT", upg, body("2.0.2", 14*24*time.Hour, "")), http.StatusUnprocessableEntity, `"status"`)
	expect(t, a.apiCall(reader, "GET", "/api/admin/upgrades?status=cancelled", ""), http.StatusOK, `"total":1`)

	// Once its window has passed, an upgrade is done.
	a.clock.Advance(15 * 24 * time.Hour)
	expect(t, a.apiCall(reader, "GET", "/api/admin/upgrades?status=done", ""), http.StatusOK, `"total":1`, `"version":"3.0.0"`, `"status":"done"`)
}

func TestAPINoticesNotifications(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	ctx := context.Background()
	adm := a.client()
	adm.login("admin@example.com")
	tok := a.newToken(adm, "通知", data.ScopeWrite)
	reader := a.newToken(adm, "読むだけ", data.ScopeRead)
	nid := apiRef("n", f.notification)
	ntf := "/api/admin/notifications/" + nid
	counts := func(id int64) map[string]int {
		t.Helper()
		c, err := a.store.DeliveryCounts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	held := counts(f.notification)[data.DeliveryHeld]
	if held == 0 {
		t.Fatal("the fixture's notice is not held")
	}

	// Read: the list with filters, one with its counts, its deliveries.
	var n apiNotification
	decodeAPI(t, a.apiCall(reader, "GET", ntf, ""), &n)
	if n.ID != nid || n.Deliveries.Held != held || n.Deliveries.Total != held || n.IncidentID == nil || *n.IncidentID != apiRef("i", f.incident) || n.TitleJA != "既存の障害" || n.Subject == "" {
		t.Fatalf("notification %+v", n)
	}
	for _, c := range []struct {
		query string
		want  bool
	}{
		{"", true}, {"?state=held", true}, {"?state=failed", false}, {"?state=sent", false}, {"?state=pending", false},
		{"?kind=" + n.Kind, true}, {"?kind=upgrade_notice", false},
		{"?since=" + n.CreatedAt.Format(time.RFC3339), true}, {"?since=" + n.CreatedAt.Add(time.Hour).Format(time.RFC3339), false},
	} {
		var page apiPage[apiNotification]
		decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/notifications"+c.query, ""), &page)
		found := false
		for _, x := range page.Items {
			found = found || x.ID == nid
		}
		if found != c.want {
			t.Errorf("%s: listed %v, want %v (%+v)", c.query, found, c.want, page)
		}
	}
	var ds apiPage[apiDelivery]
	decodeAPI(t, a.apiCall(reader, "GET", ntf+"/deliveries?state=held", ""), &ds)
	if int(ds.Total) != held || len(ds.Items) != held || ds.Items[0].NotificationID != nid || ds.Items[0].State != data.DeliveryHeld || ds.Items[0].Address == "" {
		t.Fatalf("deliveries %+v", ds)
	}
	expect(t, a.apiCall(reader, "GET", ntf+"/deliveries?state=sent", ""), http.StatusOK, `"total":0`)
	decodeAPI(t, a.apiCall(reader, "GET", ntf+"/deliveries?per_page=1", ""), &ds)
	if len(ds.Items) != 1 || (held > 1) != (ds.NextPage != nil) {
		t.Fatalf("paged deliveries %+v", ds)
	}

	// Hostile input, and a read token's writes.
	expectHostile(t, a, tok, []hostileCall{
		{"GET", "/api/admin/notifications?state=lost", "", http.StatusBadRequest},
		{"GET", "/api/admin/notifications?kind=Robert%27%29%3B%20DROP", "", http.StatusBadRequest},
		{"GET", "/api/admin/notifications?since=now", "", http.StatusBadRequest},
		{"GET", "/api/admin/notifications?page=-1", "", http.StatusBadRequest},
		{"GET", "/api/admin/notifications/" + apiRef("d", f.notification), "", http.StatusNotFound},
		{"GET", "/api/admin/notifications/" + itoa(f.notification), "", http.StatusNotFound},
		{"GET", "/api/admin/notifications/n999999", "", http.StatusNotFound},
		{"GET", "/api/admin/notifications/n999999/deliveries", "", http.StatusNotFound},
		{"GET", ntf + "/deliveries?state=lost", "", http.StatusBadRequest},
		{"GET", ntf + "/deliveries?per_page=500", "", http.StatusBadRequest},
		{"POST", "/api/admin/notifications/n999999/retry", "", http.StatusNotFound},
		{"POST", "/api/admin/notifications/n999999/discard", "", http.StatusNotFound},
		{"POST", "/api/admin/notifications/n999999/retry-bounced", "", http.StatusNotFound},
		{"POST", "/api/admin/notifications/" + itoa(f.notification) + "/discard", "", http.StatusNotFound},
		{"POST", ntf + "/retry-bounced?delivery=" + nid, "", http.StatusBadRequest},
		{"POST", ntf + "/retry-bounced?delivery=d999999", "", http.StatusNotFound},
		{"POST", ntf + "/discard?dry_run=1", "", http.StatusBadRequest},
		// Without an SMTP server, releasing is refused, even as a dry run.
		{"POST", ntf + "/release", "", http.StatusUnprocessableEntity},
		{"POST", ntf + "/release?dry_run=true", "", http.StatusUnprocessableEntity},
	})
	expectHostile(t, a, reader, []hostileCall{
		{"POST", ntf + "/release", "", http.StatusForbidden},
		{"POST", ntf + "/discard", "", http.StatusForbidden},
		{"POST", ntf + "/retry", "", http.StatusForbidden},
		{"POST", ntf + "/retry-bounced", "", http.StatusForbidden},
		{"POST", "/api/admin/notifications/discard-held", "", http.StatusForbidden},
	})

	// With an SMTP server: a dry run sends nothing and changes no state;
	// release sends.
	rig := a.withSMTP()
	before := counts(f.notification)
	expect(t, a.apiCall(tok, "POST", ntf+"/release?dry_run=true", ""), http.StatusOK, `"dry_run":true`)
	expect(t, a.apiCall(tok, "POST", ntf+"/discard?dry_run=true", ""), http.StatusOK, `"dry_run":true`)
	expect(t, a.apiCall(tok, "POST", "/api/admin/notifications/discard-held?dry_run=true", ""), http.StatusOK, `"dry_run":true`)
	if got := rig.deliver(); len(got) != 0 || !mapsEqual(counts(f.notification), before) {
		t.Fatalf("dry runs sent %v; counts %v, were %v", recipients(got), counts(f.notification), before)
	}
	expect(t, a.apiCall(tok, "POST", ntf+"/release", ""), http.StatusOK, `"dry_run":false`)
	sent := rig.deliver()
	decodeAPI(t, a.apiCall(reader, "GET", ntf, ""), &n)
	if len(sent) != held || n.Deliveries.Held != 0 || n.Deliveries.Sent != held {
		t.Fatalf("after release %+v, sent to %v", n.Deliveries, recipients(sent))
	}

	// A recipient's server refuses a new notice (bounced). Retrying it:
	// the dry run changes nothing; one of another notification is not
	// found; then it goes.
	if _, err := a.store.AddContact(ctx, f.contract, data.ContactInput{Name: "不在", Email: "gone@example.com", Lang: "ja", Role: data.RolePrimary}); err != nil {
		t.Fatal(err)
	}
	var refuse atomic.Bool
	refuse.Store(true)
	rig.smtp.RefuseRcpt(func(rcpt string) *smtp.SMTPError {
		if refuse.Load() && rcpt == "gone@example.com" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	})
	expect(t, a.apiCall(tok, "POST", "/api/admin/incidents", `{"title_ja": "届かない障害", "impact": "critical", "body_ja": "調査中です。", "components": {"`+apiRef("c", f.cdn)+`": "major_outage"}, "notify": true}`), http.StatusCreated)
	rig.deliver()
	var failed apiPage[apiNotification]
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/notifications?state=failed", ""), &failed)
	if failed.Total != 1 || failed.Items[0].Deliveries.Bounced != 1 {
		t.Fatalf("nothing bounced: %+v", failed)
	}
	loud := "/api/admin/notifications/" + failed.Items[0].ID
	loudID, _ := parseRef("n", failed.Items[0].ID)
	expect(t, a.apiCall(reader, "GET", "/api/admin/notifications?state=bounced", ""), http.StatusOK, `"total":1`)
	decodeAPI(t, a.apiCall(reader, "GET", loud+"/deliveries?state=bounced", ""), &ds)
	bounced := ds.Items[0]
	if bounced.Address != "gone@example.com" || bounced.LastError == "" || bounced.Attempts == 0 || bounced.ContactID == nil {
		t.Fatalf("bounced %+v", bounced)
	}
	refuse.Store(false)
	before = counts(loudID)
	expect(t, a.apiCall(tok, "POST", loud+"/retry-bounced?dry_run=true&delivery="+bounced.ID, ""), http.StatusOK, `"dry_run":true`, "1")
	expectHostile(t, a, tok, []hostileCall{
		{"POST", ntf + "/retry-bounced?delivery=" + bounced.ID, "", http.StatusNotFound},
		{"POST", ntf + "/retry-bounced?dry_run=true&delivery=" + bounced.ID, "", http.StatusNotFound},
	})
	if !mapsEqual(counts(loudID), before) {
		t.Fatal("the dry run retried")
	}
	expect(t, a.apiCall(tok, "POST", loud+"/retry-bounced?delivery="+bounced.ID, ""), http.StatusOK, `"dry_run":false`)
	if got := rig.deliver(); len(got["gone@example.com"]) != 1 || len(got) != 1 {
		t.Fatalf("retried to %v", recipients(got))
	}
	expect(t, a.apiCall(tok, "POST", loud+"/retry", ""), http.StatusOK, `"bounced":0`, `"failed":0`)

	// A notice held while SMTP was down: discarded, nothing is left to send.
	a.app.opts.MailEnabled = false
	declare := func() int64 {
		t.Helper()
		r := a.apiCall(tok, "POST", "/api/admin/incidents", `{"title_ja": "保留される障害", "impact": "major", "body_ja": "調査中です。", "components": {"`+apiRef("c", f.cdn)+`": "major_outage"}, "notify": true}`)
		expect(t, r, http.StatusCreated)
		var page apiPage[apiNotification]
		decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/notifications?state=held&per_page=1", ""), &page)
		if len(page.Items) != 1 || page.Items[0].Deliveries.Held == 0 {
			t.Fatalf("nothing held: %+v", page)
		}
		id, _ := parseRef("n", page.Items[0].ID)
		return id
	}
	second := declare()
	a.app.opts.MailEnabled = true
	path := "/api/admin/notifications/" + apiRef("n", second)
	before = counts(second)
	expect(t, a.apiCall(tok, "POST", path+"/discard?dry_run=true", ""), http.StatusOK, `"dry_run":true`, itoa(int64(before[data.DeliveryHeld])))
	if !mapsEqual(counts(second), before) {
		t.Fatal("the dry run discarded")
	}
	expect(t, a.apiCall(tok, "POST", path+"/discard", ""), http.StatusOK, `"dry_run":false`)
	if c := counts(second); c[data.DeliveryHeld] != 0 || c[data.DeliveryDiscarded] != before[data.DeliveryHeld] {
		t.Fatalf("after discard %v", c)
	}
	expect(t, a.apiCall(tok, "POST", path+"/release", ""), http.StatusOK)
	if got := rig.deliver(); len(got) != 0 {
		t.Fatalf("a discarded notice was sent to %v", recipients(got))
	}

	// Every held notice at once.
	a.app.opts.MailEnabled = false
	third, fourth := declare(), declare()
	a.app.opts.MailEnabled = true
	att, _ := a.store.NeedsAttention(ctx)
	if att.HeldNotices < 2 {
		t.Fatalf("held %+v", att)
	}
	expect(t, a.apiCall(tok, "POST", "/api/admin/notifications/discard-held?dry_run=true", ""), http.StatusOK, `"dry_run":true`)
	if att2, _ := a.store.NeedsAttention(ctx); att2 != att {
		t.Fatalf("the dry run discarded: %+v", att2)
	}
	expect(t, a.apiCall(tok, "POST", "/api/admin/notifications/discard-held", ""), http.StatusOK, `"dry_run":false`)
	if att, _ := a.store.NeedsAttention(ctx); att.Held != 0 || counts(third)[data.DeliveryHeld] != 0 || counts(fourth)[data.DeliveryHeld] != 0 {
		t.Fatalf("after discarding all: %+v", att)
	}
	if got := rig.deliver(); len(got) != 0 {
		t.Fatalf("discarded notices were sent to %v", recipients(got))
	}
	var discarded apiPage[apiNotification]
	decodeAPI(t, a.apiCall(reader, "GET", "/api/admin/notifications?state=discarded", ""), &discarded)
	if discarded.Total < 3 {
		t.Fatalf("discarded %+v", discarded)
	}
}

func mapsEqual(x, y map[string]int) bool {
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if y[k] != v {
			return false
		}
	}
	return true
}
