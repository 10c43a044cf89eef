package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

// walkSettings calls every operation for branding, alert channels, integrations, the audit log and usage, for TestOpenAPIWalk.
func walkSettings(a *testApp, f fixture, tok string) []walkCall {
	// An alert channel is verified on creation: a Teams receiver on
	// loopback, which the test's outbound policy allows.
	teams := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	a.t.Cleanup(teams.Close)
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	spare, err := a.store.CreateChannel(context.Background(), data.ChannelInput{Kind: data.ChannelSlack, URL: "https://hooks.slack.com/services/walk",
		Lang: "ja", Operator: true})
	if err != nil {
		a.t.Fatal(err)
	}
	return []walkCall{
		{"GET", "/api/admin/branding", "/api/admin/branding", ""},
		{"PUT", "/api/admin/branding", "/api/admin/branding", `{"title_ja": "お知らせ", "accent": "#1a4f8b", "footer_links": [{"label_ja": "会社", "url": "https://example.com/"}]}`},
		{"PUT", "/api/admin/branding/logo", "/api/admin/branding/logo", string(tinyPNG(a.t))},
		{"DELETE", "/api/admin/branding/logo", "/api/admin/branding/logo", ""},
		{"GET", "/api/admin/alert-channels", "/api/admin/alert-channels", ""},
		{"POST", "/api/admin/alert-channels", "/api/admin/alert-channels", `{"kind": "teams", "url": "` + teams.URL + `", "lang": "ja"}`},
		{"DELETE", "/api/admin/alert-channels/{id}", "/api/admin/alert-channels/" + apiRef("ch", spare.ID), ""},
		{"GET", "/api/admin/integrations", "/api/admin/integrations", ""},
		{"POST", "/api/admin/integrations", "/api/admin/integrations", `{"name": "Grafana", "kind": "grafana", "failure_status": "partial_outage"}`},
		{"DELETE", "/api/admin/integrations/{id}", "/api/admin/integrations/" + apiRef("in", f.integration), ""},
		{"GET", "/api/admin/audit", "/api/admin/audit?action=api", ""},
		{"GET", "/api/admin/usage", "/api/admin/usage?period=year", ""},
	}
}
