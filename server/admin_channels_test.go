package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/jobs"
)

// TestAdminChannelsShowsEveryChannel: the console's alerts page lists the
// public channel subscriptions beside the operators' channels, each with
// its kind, host (never the secret path), owner, state and last delivery;
// a receiver that answered 410 shows stopped at once, one that answered
// 404 failing, and a channel's recent deliveries are a link away. What
// receivers and subscribers wrote is escaped.
func TestAdminChannelsShowsEveryChannel(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	ctx := context.Background()
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	hostile := `<script>alert("x")</script>`
	gone := newEndpoint(t, func(string) (int, string) { return http.StatusGone, hostile })
	missing := newEndpoint(t, func(string) (int, string) { return http.StatusNotFound, hostile })
	add := func(in data.ChannelInput) *data.Channel {
		t.Helper()
		if in.Lang == "" {
			in.Lang = "ja"
		}
		ch, err := a.store.CreateChannel(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	g := add(data.ChannelInput{Kind: data.ChannelWebhook, URL: gone.URL + "/T0SECRETGONE", OwnerEmail: "gone@customer.example"})
	m := add(data.ChannelInput{Kind: data.ChannelSlack, URL: missing.URL + "/T0SECRETMISSING", OwnerEmail: "missing@customer.example"})
	other, _ := a.store.CreateProduct(ctx, data.ProductInput{NameJA: "別製品"})
	add(data.ChannelInput{Kind: data.ChannelTeams, URL: "https://evil.example.com/" + hostile, OwnerEmail: "o'neil&co@customer.example",
		ProductIDs: []int64{other.ID}})
	ops := newEndpoint(t, func(string) (int, string) { return http.StatusOK, "" })
	add(data.ChannelInput{Kind: data.ChannelTeams, URL: ops.URL + "/T0SECRETOPS", Operator: true})

	editor := a.client()
	editor.login("editor@example.com")
	declareVia(t, editor, "major", map[int64]string{cdn: data.PartialOutage}, true, nil)
	sender := jobs.NewChannelSender(a.store, a.app.opts.Outbound, a.app.opts.Channels, jobs.ChannelOptions{Now: a.clock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := sender.Sweep(ctx); err != nil {
		t.Fatal(err)
	}

	expect(t, editor.get("/admin/alerts"), http.StatusForbidden)
	admin := a.client()
	admin.login("admin@example.com")
	r := admin.get("/admin/alerts")
	expect(t, r, http.StatusOK, "公開ページから登録された", "運用者用の通知先",
		gone.URL, missing.URL, ops.URL, "https://evil.example.com",
		"gone@customer.example", "missing@customer.example", "o&#39;neil&amp;co@customer.example",
		"配信の失敗が続いたか、受信側に拒否されたため停止しました", "配信に失敗しています",
		"HTTP 410: &lt;script&gt;", "HTTP 404: &lt;script&gt;",
		fmt.Sprintf(`href="/admin/alerts?channel=%d#deliveries"`, g.ID), fmt.Sprintf(`href="/admin/alerts?channel=%d#deliveries"`, m.ID))
	expectNot(t, r, hostile, "neil&co", "T0SECRET")
	if i, j := strings.Index(r.body, "運用者用の通知先"), strings.Index(r.body, "公開ページから登録された"); i > j {
		t.Error("the operators' channels are not listed first")
	}

	r = admin.get(fmt.Sprintf("/admin/alerts?channel=%d", m.ID))
	expect(t, r, http.StatusOK, "最近の配信", `href="/admin/notifications/`, "HTTP 404: &lt;script&gt;", "送信待ち")
	expectNot(t, r, hostile, "T0SECRET")
	expect(t, admin.get("/admin/alerts?channel=999999"), http.StatusNotFound)
	expect(t, admin.get("/admin/alerts?channel=x"), http.StatusNotFound)

	// The console speaks the operator's own language: the header's switch
	// sets it.
	admin.get("/admin/alerts")
	expect(t, admin.post("/admin/account/lang", url.Values{"lang": {"en"}, "back": {"/admin/alerts"}}), http.StatusSeeOther)
	expect(t, admin.get("/admin/alerts"), http.StatusOK, "Public webhook, Slack and Teams subscriptions", "Operators&#39; channels", "Recent deliveries")
}
