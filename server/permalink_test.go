package server

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestAddToCalendarAndPermalinks: maintenance and upgrade pages offer the
// event for a calendar (a one-event .ics with the same UID and sequence as
// the calendar feed, so an update replaces it, and a Google Calendar
// link); every announcement has its own page, which the news list and the
// feeds link to; one not yet published is not found.
func TestAddToCalendarAndPermalinks(t *testing.T) {
	a := newTestServer(t)
	f := a.seedAll()
	pub := a.client()
	mid := strconv.FormatInt(f.maintenance, 10)
	page := pub.get("/maintenance/" + mid)
	expect(t, page, http.StatusOK, "カレンダーに追加", `href="/maintenance/`+mid+`/event.ics"`, "https://calendar.google.com/calendar/render?action=TEMPLATE")
	ics := pub.get("/maintenance/" + mid + "/event.ics")
	if ics.code != http.StatusOK || !strings.HasPrefix(ics.header.Get("Content-Type"), "text/calendar") ||
		!strings.Contains(ics.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("event.ics: %d %v", ics.code, ics.header)
	}
	uid := "UID:maintenance-" + mid + "@status.example.com"
	if !strings.Contains(ics.body, uid) || strings.Count(ics.body, "BEGIN:VEVENT") != 1 {
		t.Fatalf("event.ics:\n%s", ics.body)
	}
	if feed := pub.get("/maintenance.ics"); !strings.Contains(feed.body, uid) {
		t.Fatal("the feed and the single event do not share a UID")
	}
	uid2 := strconv.FormatInt(f.upgrade, 10)
	expect(t, pub.get("/upgrades/"+uid2), http.StatusOK, `href="/upgrades/`+uid2+`/event.ics"`)
	expect(t, pub.get("/upgrades/"+uid2+"/event.ics"), http.StatusOK, "UID:upgrade-"+uid2+"@status.example.com")
	expect(t, pub.get("/maintenance/999999/event.ics"), http.StatusNotFound)

	// A window that is over offers no calendar.
	a.clock.Advance(3 * time.Hour)
	a.store.PostMaintenanceUpdate(t.Context(), f.maintenance, data.NewMaintenanceUpdate{Status: data.Completed, BodyJA: "終了しました。"})
	a.app.changed()
	expectNot(t, pub.get("/maintenance/"+mid), "カレンダーに追加")

	// Announcements.
	an := strconv.FormatInt(f.announcement, 10)
	expect(t, pub.get("/news"), http.StatusOK, `href="/news/`+an+`"`)
	expect(t, pub.get("/news/"+an), http.StatusOK, "<h1>既存のお知らせ</h1>", "本文")
	en := a.client()
	en.lang = "en"
	expect(t, en.get("/news/"+an), http.StatusOK, "既存のお知らせ")
	if feed := pub.get("/feed.atom"); !strings.Contains(feed.body, "http://status.example.com/news/"+an) {
		t.Fatalf("the feed does not link the announcement's page:\n%s", feed.body)
	}
	later, err := a.store.CreateAnnouncement(t.Context(), data.AnnouncementInput{TitleJA: "予約投稿", BodyJA: "まだです。", PublishAt: a.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, pub.get("/news/"+strconv.FormatInt(later.ID, 10)), http.StatusNotFound)
	expect(t, pub.get("/news/abc"), http.StatusNotFound)
}
