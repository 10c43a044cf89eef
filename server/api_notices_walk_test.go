package server

import (
	"context"
	"time"

	"github.com/oshirase/oshirase/data"
)

// walkNotices calls every operation for announcements, upgrades, notifications and deliveries, for TestOpenAPIWalk.
func walkNotices(a *testApp, f fixture, tok string) []walkCall {
	a.t.Helper()
	ctx := context.Background()
	// Their own announcement and upgrade to delete and cancel, so the
	// fixture's stay for others.
	an, err := a.store.CreateAnnouncement(ctx, data.AnnouncementInput{TitleJA: "消すお知らせ", BodyJA: "本文"})
	if err != nil {
		a.t.Fatal(err)
	}
	up, err := a.store.CreateUpgrade(ctx, data.UpgradeInput{ProductID: f.product, Version: "9.9.9", StartsAt: a.clock.Now().Add(20 * 24 * time.Hour),
		EndsAt: a.clock.Now().Add(20*24*time.Hour + time.Hour), SummaryJA: "取りやめるバージョンアップ", LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		a.t.Fatal(err)
	}
	// Releasing takes an SMTP server (nothing is sent here: no dispatcher
	// runs in the walk).
	a.app.opts.MailEnabled = true
	at := func(d time.Duration) string { return a.clock.Now().Add(d).UTC().Format(time.RFC3339) }
	ann := "/api/admin/announcements/" + apiRef("a", f.announcement)
	upg := "/api/admin/upgrades/" + apiRef("v", f.upgrade)
	ntf := "/api/admin/notifications/" + apiRef("n", f.notification)
	product := `"` + apiRef("p", f.product) + `"`
	return []walkCall{
		{"GET", "/api/admin/announcements", "/api/admin/announcements?per_page=10", ""},
		{"POST", "/api/admin/announcements", "/api/admin/announcements", `{"title_ja": "API のお知らせ", "body_ja": "本文です。", "product_id": ` + product + `}`},
		{"GET", "/api/admin/announcements/{id}", ann, ""},
		{"PUT", "/api/admin/announcements/{id}", ann, `{"title_ja": "既存のお知らせ（改題）", "body_ja": "本文", "publish_at": "` + at(time.Hour) + `"}`},
		{"DELETE", "/api/admin/announcements/{id}", "/api/admin/announcements/" + apiRef("a", an.ID), ""},
		{"GET", "/api/admin/upgrades", "/api/admin/upgrades?status=scheduled&product=" + apiRef("p", f.product), ""},
		{"POST", "/api/admin/upgrades", "/api/admin/upgrades", `{"product_id": ` + product + `, "version": "3.0.0", "starts_at": "` + at(30*24*time.Hour) +
			`", "ends_at": "` + at(30*24*time.Hour+time.Hour) + `", "summary_ja": "API のバージョンアップ", "lead_times": ["3d", "3h"]}`},
		{"GET", "/api/admin/upgrades/{id}", upg, ""},
		{"PUT", "/api/admin/upgrades/{id}", upg, `{"product_id": ` + product + `, "version": "2.0.1", "starts_at": "` + at(11*24*time.Hour) +
			`", "ends_at": "` + at(11*24*time.Hour+time.Hour) + `", "summary_ja": "既存のバージョンアップ（延期）"}`},
		{"POST", "/api/admin/upgrades/{id}/cancel", "/api/admin/upgrades/" + apiRef("v", up.ID) + "/cancel", ""},
		{"GET", "/api/admin/notifications", "/api/admin/notifications?state=held", ""},
		{"GET", "/api/admin/notifications/{id}", ntf, ""},
		{"GET", "/api/admin/notifications/{id}/deliveries", ntf + "/deliveries?state=held", ""},
		{"POST", "/api/admin/notifications/{id}/retry", ntf + "/retry", ""},
		{"POST", "/api/admin/notifications/{id}/retry-bounced", ntf + "/retry-bounced?dry_run=true", ""},
		{"POST", "/api/admin/notifications/{id}/release", ntf + "/release?dry_run=true", ""},
		{"POST", "/api/admin/notifications/{id}/discard", ntf + "/discard", ""},
		{"POST", "/api/admin/notifications/discard-held", "/api/admin/notifications/discard-held", ""},
	}
}
