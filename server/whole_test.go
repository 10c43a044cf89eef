package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestPreviewWithEveryChannelKind: with an operators' alert channel and
// subscribers' webhook, Slack and Teams channels configured, and no relay
// (so the publish also alerts the operators that the notice is held), the
// preview still shows the customer email in each language, addressed to
// a contact, and never the operators' alert or a channel's pseudo-address.
func TestPreviewWithEveryChannelKind(t *testing.T) {
	a := newTestServer(t)
	a.withMail(false)
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"ja@example.com": "primary/ja", "en@example.com": "additional/en"})
	ctx := context.Background()
	for _, in := range []data.ChannelInput{
		{Kind: data.ChannelWebhook, URL: "https://hooks.example.net/ops", Lang: "ja", Operator: true, Secret: "s1"},
		{Kind: data.ChannelSlack, URL: "https://hooks.slack.com/services/T/B/X", Lang: "ja", OwnerEmail: "slack@example.com"},
		{Kind: data.ChannelTeams, URL: "https://example.webhook.office.com/x", Lang: "en", OwnerEmail: "teams@example.com"},
		{Kind: data.ChannelWebhook, URL: "https://hooks.example.net/sub", Lang: "en", OwnerEmail: "hook@example.com", Secret: "s2"},
	} {
		if _, err := a.store.CreateChannel(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	op := a.client()
	op.login("editor@example.com")
	op.get("/admin/incidents/new")
	cid := strconv.FormatInt(cdn, 10)
	form := url.Values{"title_ja": {"配信CDNで表示が遅くなっています"}, "title_en": {"Slow delivery CDN"}, "impact": {"major"}, "status": {"investigating"},
		"body_ja": {"現在、調査中です。"}, "body_en": {"We are investigating."}, "component_" + cid: {"degraded_performance"},
		"notify": {"1"}, "preview": {"1"}}
	r := op.post("/admin/incidents", form)
	expect(t, r, http.StatusOK,
		"Subject: 【障害・重大】krewDashboard: 配信CDNで表示が遅くなっています", "To: &#34;ja&#34; &lt;ja@example.com&gt;",
		"Subject: [Major incident] krewDashboard: Slow delivery CDN", "To: &#34;en&#34; &lt;en@example.com&gt;")
	expectNot(t, r, "channel:", "email.subject.", "notice_held")
}

// TestAutomaticTransitionsRefreshEveryRepresentation: a window the
// scheduler opens and closes, and an announcement whose publication time
// comes, are on the page, the window's page and the Statuspage JSON for
// the very next visitor, as an operator's change is.
func TestAutomaticTransitionsRefreshEveryRepresentation(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	ctx := context.Background()
	start := a.clock.Now().Add(time.Hour).Truncate(time.Minute)
	m, err := a.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "CDN設備の更新", TitleEN: "CDN upgrade",
		StartsAt: start, EndsAt: start.Add(time.Hour), ReminderLead: -1, ComponentIDs: []int64{cdn},
		BodyJA: "配信設備を更新します。", BodyEN: "We will upgrade the delivery servers."})
	if err != nil {
		t.Fatal(err)
	}
	news, err := a.store.CreateAnnouncement(ctx, data.AnnouncementInput{TitleJA: "年末年始のサポート窓口", TitleEN: "Support over the holidays",
		BodyJA: "お知らせです。", BodyEN: "A notice.", PublishAt: start.Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	a.app.Changed() // as the console does after its own change
	pub := a.client()
	mpath := "/maintenance/" + strconv.FormatInt(m.ID, 10)
	jsonPath := "/api/v2/scheduled-maintenances.json"
	// One read: the first visitor after the change must see it.
	read := func(path string) string { return pub.get(path).body }
	statusOf := func() string {
		var doc struct {
			ScheduledMaintenances []struct {
				Status string `json:"status"`
			} `json:"scheduled_maintenances"`
		}
		if err := json.Unmarshal([]byte(read(jsonPath)), &doc); err != nil || len(doc.ScheduledMaintenances) != 1 {
			t.Fatalf("%s: %v %+v", jsonPath, err, doc)
		}
		return doc.ScheduledMaintenances[0].Status
	}
	if got := statusOf(); got != "scheduled" {
		t.Fatalf("before the window: %s", got)
	}
	for _, p := range []string{"/", mpath} {
		if !strings.Contains(read(p), "予定") {
			t.Fatalf("%s before the window does not say scheduled", p)
		}
	}

	// The window opens: the scheduler advances it.
	a.clock.Set(start.Add(time.Second))
	if moved, err := a.store.AutoAdvanceMaintenance(ctx, m.ID, data.Notice{}); err != nil || moved != data.InProgress {
		t.Fatalf("advance: %q %v", moved, err)
	}
	if got := statusOf(); got != "in_progress" {
		t.Fatalf("JSON after the start: %s", got)
	}
	for _, p := range []string{"/", mpath} {
		if body := read(p); !strings.Contains(body, "実施中") {
			t.Fatalf("%s after the start does not say in progress", p)
		}
	}
	// The announcement's time comes: nothing runs, time passes.
	if strings.Contains(read("/news"), "年末年始のサポート窓口") {
		t.Fatal("the announcement is on /news before its time")
	}
	a.clock.Set(news.PublishAt.Add(time.Second))
	if !strings.Contains(read("/news"), "年末年始のサポート窓口") {
		t.Fatal("the announcement is not on /news once its time has come")
	}
	// The window closes.
	a.clock.Set(start.Add(time.Hour + time.Second))
	if moved, err := a.store.AutoAdvanceMaintenance(ctx, m.ID, data.Notice{}); err != nil || moved != data.Completed {
		t.Fatalf("advance: %q %v", moved, err)
	}
	if got := statusOf(); got != "completed" {
		t.Fatalf("JSON after the end: %s", got)
	}
	if body := read(mpath); !strings.Contains(body, "完了") {
		t.Fatalf("%s after the end does not say completed", mpath)
	}
	if strings.Contains(read("/"), "実施中") {
		t.Fatal("/ still says in progress after the end")
	}
}
