package demo

import (
	"strconv"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/upstream"
)

// upstreams seeds components that follow an upstream status source (kintone, the cloud provider).
func (s *seeder) upstreams() {
	for _, u := range []struct {
		comp    string
		in      data.UpstreamInput
		at      time.Time
		results []data.UpstreamResult
	}{
		{"connectors", data.UpstreamInput{Kind: data.UpstreamStatuspage, URL: "https://status.kintone.example.com/api/v2/summary.json",
			PageURL: "https://status.kintone.example.com/", NameJA: "kintone", NameEN: "kintone", Match: "kintone", IntervalS: 120, Enabled: true},
			s.day(-40, 10, 0), []data.UpstreamResult{
				{At: s.ago(3 * time.Hour), State: upstream.State{Status: data.Operational}, ETag: `W/"a1b2c3"`},
				{At: s.ago(2 * time.Minute), NotModified: true, ETag: `W/"a1b2c3"`},
			}},
		{"license", data.UpstreamInput{Kind: data.UpstreamFeed, URL: "https://status.cloud.example.net/history.atom",
			PageURL: "https://status.cloud.example.net/", NameJA: "クラウド基盤", NameEN: "Cloud provider",
			Match:     "major_outage: outage tokyo\npartial_outage: tokyo\nunder_maintenance: maintenance tokyo\nresolved: resolved, completed\nrecent: 24h",
			IntervalS: 300, Enabled: true},
			s.day(-30, 14, 0), []data.UpstreamResult{
				{At: s.ago(40 * time.Minute), State: upstream.State{Status: data.UnderMaintenance, Detail: "Scheduled network maintenance in Tokyo region",
					URL: "https://status.cloud.example.net/incidents/8841"}, LastModified: s.ago(45 * time.Minute).UTC().Format(http1123)},
			}},
		{"sync", data.UpstreamInput{Kind: data.UpstreamFeed, URL: "https://www.calendar.example.org/status/feed.rss",
			PageURL: "https://www.calendar.example.org/status/", NameJA: "外部カレンダー", NameEN: "Calendar service",
			Match: "partial_outage: calendar sync", IntervalS: 600, Enabled: true},
			s.day(-10, 9, 30), []data.UpstreamResult{
				{At: s.ago(8 * time.Minute), Error: "the upstream answered 503"},
			}},
	} {
		var id int64
		s.at(u.at, "upstream "+u.comp, func(st *data.Store) error {
			in := u.in
			in.ComponentID = s.comp[u.comp]
			made, err := st.CreateUpstream(s.ctx, in)
			if err != nil {
				return err
			}
			id = made.ID
			return s.audit(st, editorEmail, "upstream.create", "upstream="+strconv.FormatInt(made.ID, 10), in)
		})
		for _, r := range u.results {
			s.at(r.At, "poll upstream "+u.comp, func(st *data.Store) error {
				_, _, err := st.RecordUpstream(s.ctx, id, r, true)
				return err
			})
		}
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
