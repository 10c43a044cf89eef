package demo

import (
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"strings"
	"time"

	"github.com/oshirase/oshirase/data"
)

// worker names the instance that ran the story's checks.
const worker = "oshirase-1"

// check is a monitor and what it found over the last days.
type check struct {
	key, comp string
	in        data.MonitorInput
	// self is the target when watching the demo's own server ("%s" is
	// its host:port); empty pauses the check there.
	self string
	// typical is its usual response time.
	typical time.Duration
	// failing says why a check at t failed, or "" when it passed.
	failing func(t time.Time) string
	// pause, when set, is when an operator paused it.
	pause time.Time
}

// window fails the checks in [from, to) with why.
func window(from, to time.Time, why string) func(time.Time) string {
	return func(t time.Time) string {
		if !t.Before(from) && t.Before(to) {
			return why
		}
		return ""
	}
}

// flaky fails every other ten-minute check in [from, to).
func flaky(from, to time.Time, why string) func(time.Time) string {
	return func(t time.Time) string {
		if !t.Before(from) && t.Before(to) && (t.Unix()/600)%2 == 0 {
			return why
		}
		return ""
	}
}

func anyOf(fs ...func(time.Time) string) func(time.Time) string {
	return func(t time.Time) string {
		for _, f := range fs {
			if why := f(t); why != "" {
				return why
			}
		}
		return ""
	}
}

// checks are the vendor's monitors, of every kind, and the story their
// results tell: the License API slowed down this morning (the draft that
// became an incident, then a resolving draft), PDF rendering has been
// refusing connections for the last hour, the calendar CDN failed three
// days ago, and single failures here and there.
func (s *seeder) checks() []*check {
	input := func(name, kind, target string, edit func(*data.MonitorInput)) data.MonitorInput {
		in := data.DefaultMonitor
		in.Name, in.Kind, in.Target = name, kind, target
		if edit != nil {
			edit(&in)
		}
		return in
	}
	return []*check{
		{key: "license-http", comp: "license", self: "http://%s/healthz", typical: 85 * time.Millisecond,
			in: input("ライセンス認証API ヘルスチェック", data.MonitorHTTP, "https://license.hidamari-soft.example/v1/health", func(in *data.MonitorInput) {
				in.ExpectCodes, in.Keyword, in.FollowRedirects = "200,204", "ok", false
				in.Headers = "Accept: application/json\nX-Monitor: oshirase"
				in.FailureStatus = data.DegradedPerformance
			}),
			failing: anyOf(
				window(s.ago(5*time.Hour+25*time.Minute), s.ago(4*time.Hour+15*time.Minute), "timed out after 10s"),
				flaky(s.ago(4*time.Hour+15*time.Minute), s.ago(3*time.Hour+5*time.Minute), "status 503, expected 200,204"),
				window(s.day(-2, 11, 0), s.day(-2, 11, 30), "status 502, expected 200,204"))},
		{key: "calendar-cdn-http", comp: "calendar-cdn", self: "http://%s/brand.css", typical: 28 * time.Millisecond,
			in: input("配信CDN プラグインファイル", data.MonitorHTTP, "https://cdn.hidamari-soft.example/calendar/v3/plugin.js", func(in *data.MonitorInput) {
				in.Method, in.FailThreshold, in.TimeoutS = "HEAD", 2, 5
			}),
			failing: window(s.day(-3, 14, 0), s.day(-3, 15, 25), "dial tcp 192.0.2.80:443: i/o timeout")},
		{key: "renderer-tcp", comp: "renderer", self: "%s", typical: 4 * time.Millisecond,
			in: input("PDF生成サーバー 接続確認", data.MonitorTCP, "render.internal.hidamari-soft.example:7443", func(in *data.MonitorInput) {
				in.OKThreshold, in.TimeoutS = 1, 5
			}),
			failing: anyOf(
				window(s.ago(55*time.Minute), s.now.Add(time.Minute), "dial tcp 10.20.3.14:7443: connect: connection refused"),
				window(s.ago(31*time.Hour), s.ago(30*time.Hour+50*time.Minute), "dial tcp 10.20.3.14:7443: i/o timeout"))},
		{key: "reports-cdn-tls", comp: "reports-cdn", typical: 40 * time.Millisecond,
			in: input("配信CDN サーバー証明書", data.MonitorTLS, "cdn.hidamari-soft.example:443", func(in *data.MonitorInput) {
				in.WarnDays, in.IntervalS, in.FailThreshold, in.OKThreshold, in.FailureStatus = 21, 3600, 1, 1, data.DegradedPerformance
			}),
			failing: func(time.Time) string { return "" }},
		{key: "signin-dns", comp: "signin", typical: 12 * time.Millisecond,
			in: input("ログイン基盤 名前解決", data.MonitorDNS, "auth.hidamari-soft.example", func(in *data.MonitorInput) {
				in.DNSType, in.DNSExpect, in.DNSServer = "A", "203.0.113.24", "198.51.100.53:53"
				in.IntervalS, in.TimeoutS, in.FailThreshold, in.OKThreshold, in.FailureStatus = 300, 5, 2, 1, data.PartialOutage
			}),
			failing: window(s.ago(19*time.Hour), s.ago(18*time.Hour+50*time.Minute), "lookup auth.hidamari-soft.example on 198.51.100.53:53: i/o timeout")},
		{key: "portal-http", comp: "portal", typical: 180 * time.Millisecond, pause: s.day(-2, 18, 0),
			in: input("契約者ポータル トップページ", data.MonitorHTTP, "https://portal.hidamari-soft.example/", func(in *data.MonitorInput) {
				in.ExpectCodes, in.IntervalS, in.TimeoutS = "200-399", 300, 15
			}),
			failing: func(time.Time) string { return "" }},
	}
}

// sweeps are the moments the story's checks ran: every half hour for
// three days, then every ten minutes for the last day, which is as fine as
// the page's 24-hour chart (15-minute points) needs.
func (s *seeder) sweeps() []time.Time {
	var out []time.Time
	for k := 144; k >= 1; k-- {
		out = append(out, s.ago(24*time.Hour+time.Duration(k)*30*time.Minute))
	}
	for k := 144; k >= 0; k-- {
		out = append(out, s.ago(time.Duration(k)*10*time.Minute))
	}
	return out
}

// ranges opens, as an admin would, the internal range the payment API's
// check needs and, for a demo that checks itself, this machine's address.
func (s *seeder) ranges() {
	opened := []data.OpenRangeInput{{Prefix: "10.20.0.0/16", Note: "社内ネットワークの決済 API（監視用）"}}
	if s.opts.Self != "" {
		host, _, _ := net.SplitHostPort(selfAddr(s.opts.Self))
		opened = append(opened, data.OpenRangeInput{Prefix: host, Note: "デモ: このサーバー自身の監視"})
	}
	for i, in := range opened {
		s.at(s.sweeps()[0].Add(-20*time.Minute+time.Duration(i)*time.Second), "range "+in.Prefix, func(st *data.Store) error {
			id := s.op[adminEmail]
			in.CreatedBy = &id
			r, err := st.OpenOutboundRange(s.ctx, in)
			if err != nil {
				return err
			}
			return s.audit(st, adminEmail, "outbound.open", "range="+r.Prefix, map[string]any{"note": r.Note})
		})
	}
}

// monitoring makes the monitors and runs their checks over four days, as
// the monitor runner would have: claimed, checked, recorded, so streaks,
// states and drafts follow.
func (s *seeder) monitoring() {
	s.ranges()
	checks := s.checks()
	byID := map[int64]*check{}
	first := s.sweeps()[0]
	for i, c := range checks {
		s.at(first.Add(-10*time.Minute+time.Duration(i)*time.Second), "monitor "+c.key, func(st *data.Store) error {
			c.in.ComponentID = s.comp[c.comp]
			if s.opts.Self != "" && c.self != "" {
				c.in.Target = fmt.Sprintf(c.self, selfAddr(s.opts.Self))
				if c.in.Kind == data.MonitorHTTP {
					c.in.Method = "GET"
				}
			}
			m, err := st.CreateMonitor(s.ctx, c.in)
			if err != nil {
				return err
			}
			s.mon[c.key] = m.ID
			byID[m.ID] = c
			s.f.Monitors = append(s.f.Monitors, m.ID)
			return s.audit(st, adminEmail, "monitor.create", fmt.Sprintf("monitor=%d", m.ID), c.in)
		})
		if !c.pause.IsZero() {
			s.at(c.pause, "pause "+c.key, func(st *data.Store) error { return s.pauseCheck(st, c) })
		} else if s.opts.Self != "" && c.self == "" {
			s.at(s.now, "pause "+c.key, func(st *data.Store) error { return s.pauseCheck(st, c) })
		}
	}
	for _, t := range s.sweeps() {
		s.at(t, "checks", func(st *data.Store) error {
			ms, err := st.ClaimMonitors(s.ctx, worker, 50)
			if err != nil {
				return err
			}
			for _, m := range ms {
				c := byID[m.ID]
				res := data.CheckResult{At: t, OK: true, Latency: c.latency(t)}
				if why := c.failing(t); why != "" {
					res.OK, res.Error = false, why
					res.Latency = c.latency(t) / 3
					if m.Kind == data.MonitorHTTP && strings.HasPrefix(why, "timed out") {
						res.Latency = m.Timeout()
					}
				}
				if _, err := st.RecordCheck(s.ctx, m.ID, worker, res, s.loc); err != nil {
					return err
				}
			}
			return nil
		})
	}
	s.signals()
}

func (s *seeder) pauseCheck(st *data.Store, c *check) error {
	in := c.in
	in.ComponentID, in.Enabled = s.comp[c.comp], false
	if _, err := st.UpdateMonitor(s.ctx, s.mon[c.key], in); err != nil {
		return err
	}
	return s.audit(st, adminEmail, "monitor.update", fmt.Sprintf("monitor=%d", s.mon[c.key]), map[string][2]any{"Enabled": {true, false}})
}

// latency is a check's response time at t: its usual one, a third slower
// in office hours, and a little noise that is the same on every run.
func (c *check) latency(t time.Time) time.Duration {
	h := fnv.New32a()
	fmt.Fprint(h, c.key, t.Unix())
	noise := float64(h.Sum32()%1000)/1000*0.3 - 0.15
	hour := float64(t.UTC().Add(9*time.Hour).Hour()) + float64(t.Minute())/60
	busy := 0.0
	if hour > 8 && hour < 20 {
		busy = 0.35 * math.Sin(math.Pi*(hour-8)/12)
	}
	return time.Duration(float64(c.typical) * (1 + busy + noise))
}

// selfAddr is host:port with a wildcard host replaced by loopback.
func selfAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// signals are what the alert webhooks reported: Grafana and the job
// monitor each fired and resolved before anyone published (drafts
// superseded), the job monitor fired on the portal minutes ago (a draft
// waits), and Alertmanager fired on the relay, whose alerts publish an
// incident by themselves.
func (s *seeder) signals() {
	for _, h := range []struct {
		at                      time.Time
		integ, comp, fp, status string
		detail                  string
	}{
		{s.day(-9, 3, 10), "jobs", "signin", "signin-batch", "", "夜間バッチ「アカウント同期」が失敗しました"},
		{s.day(-9, 3, 25), "jobs", "signin", "signin-batch", data.Operational, "resolved"},
		{s.day(-2, 10, 12), "grafana", "connectors", "d1f0c2a7", "", "Connector error rate above 5% for 5m"},
		{s.day(-2, 10, 31), "grafana", "connectors", "d1f0c2a7", data.Operational, "resolved"},
		{s.ago(40 * time.Minute), "alertmanager", "relay", "5b9e1c04a7d3", data.PartialOutage,
			"WebhookRelayDeliveryFailing: 5xx ratio 12% (relay-2, relay-3)"},
		{s.ago(12 * time.Minute), "jobs", "portal", "portal-invoices", "", "請求書PDFの作成ジョブが30分以上遅れています"},
	} {
		s.at(h.at, "alert webhook "+h.integ+" on "+h.comp, func(st *data.Store) error {
			out, err := s.hook(st, h.integ, h.comp, h.fp, h.status, h.detail)
			if err != nil {
				return err
			}
			if out != nil && out.Action == "published" {
				s.f.Automatic = out.IncidentID
				s.f.Incidents = append(s.f.Incidents, out.IncidentID)
			}
			return nil
		})
	}
}
