package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/jobs"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// openLoopback lets the operators' requests, and (as only tests can) the
// anonymous ones, reach the loopback receivers a test starts.
func (a *testApp) openLoopback() {
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: loopback, AnonymousAllow: loopback})
}

// monitorRunner checks under the server's outbound policy.
func (a *testApp) monitorRunner() *jobs.MonitorRunner {
	return jobs.NewMonitorRunner(a.store, jobs.MonitorOptions{Instance: "test", Now: a.clock.Now, Location: a.app.opts.Location,
		Outbound: a.app.opts.Outbound}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// metadataStandIn is a loopback stand-in for a cloud metadata service: it
// answers a credential to anyone who sends Metadata-Flavor.
func metadataStandIn(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Metadata-Flavor") == "" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, `{"access_token":"s3cret-token"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func checkForm(name, kind, target string, extra ...string) url.Values {
	v := url.Values{"name": {name}, "kind": {kind}, "target": {target}, "method": {"GET"}, "expect_codes": {"200-299"},
		"follow_redirects": {"1"}, "warn_days": {"14"}, "dns_type": {"A"}, "interval_s": {"30"}, "timeout_s": {"2"},
		"fail_threshold": {"3"}, "ok_threshold": {"2"}, "failure_status": {"major_outage"}, "enabled": {"1"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// TestMonitorsFollowTheOutboundPolicy: an editor (console) or a write
// token (API) cannot aim a check at this machine or a private network:
// an address is refused when saved, a name where it is dialled (the same
// answer for an open and a closed port, no byte of an answer read), every
// redirect hop is checked, forbidden headers are refused. An admin opens a
// range, audited; closing it closes the way again.
func TestMonitorsFollowTheOutboundPolicy(t *testing.T) {
	a := newTestServer(t)
	_, cdn, _ := a.seedCatalog()
	meta, hits := metadataStandIn(t)
	metaPort := meta.Listener.Addr().(*net.TCPAddr).Port
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	ed := a.client()
	ed.login("editor@example.com")
	comp := "/admin/components/" + strconv.FormatInt(cdn, 10) + "/monitors"
	ed.get(comp + "/new")
	internal, never := "社内・ローカルのネットワーク", "どの範囲を許可しても接続できません"
	for _, b := range []struct {
		v    url.Values
		want string
	}{
		{checkForm("meta", "http", meta.URL+"/computeMetadata/v1/token", "keyword", "s3"), internal},
		{checkForm("meta6", "http", "http://[::ffff:127.0.0.1]:"+strconv.Itoa(metaPort)+"/"), internal},
		{checkForm("metadata", "http", "http://169.254.169.254/latest/meta-data/"), never},
		{checkForm("this host", "http", "http://0.0.0.0:"+strconv.Itoa(metaPort)+"/"), never},
		{checkForm("scan", "tcp", open.Addr().String()), internal},
		{checkForm("scan", "tls", "10.0.0.8:443"), internal},
		{checkForm("dns", "dns", "example.com", "dns_server", "127.0.0.1:53"), internal},
	} {
		expect(t, ed.post(comp, b.v), http.StatusBadRequest, b.want)
	}
	for _, h := range []string{"Host: metadata.google.internal", "Metadata-Flavor: Google", "connection: close",
		"X-aws-ec2-metadata-token: x", "Transfer-Encoding: chunked", "X-Forwarded-For: 10.0.0.1"} {
		expect(t, ed.post(comp, checkForm("hdr", "http", "https://status.example.net/", "headers", "Accept: */*\n"+h)),
			http.StatusBadRequest, "送信できません")
	}
	if ms, _ := a.store.Monitors(context.Background()); len(ms) != 0 {
		t.Fatalf("refused forms saved %d monitors", len(ms))
	}

	// The API refuses the same, with the field named.
	adm := a.client()
	adm.login("admin@example.com")
	write := a.newToken(adm, "automation", "write")
	c := `"` + apiRef("c", cdn) + `"`
	r := a.apiCall(write, http.MethodPost, "/api/admin/monitors", `{"component_id": `+c+`, "name": "scan", "kind": "tcp", "target": "`+open.Addr().String()+`"}`)
	expect(t, r, http.StatusUnprocessableEntity, `"target"`)
	r = a.apiCall(write, http.MethodPost, "/api/admin/monitors", `{"component_id": `+c+`, "name": "h", "kind": "http", "target": "https://status.example.net/", "headers": "Metadata-Flavor: Google"}`)
	expect(t, r, http.StatusUnprocessableEntity, `"headers"`)

	// A name is checked where it is dialled: "localhost" saves, and every
	// check of it fails alike, whether the port is open or closed.
	for _, v := range []url.Values{
		checkForm("meta by name", "http", "http://localhost:"+strconv.Itoa(metaPort)+"/token", "keyword", "s3", "headers", "Accept: application/json"),
		checkForm("open port", "tcp", strings.Replace(open.Addr().String(), "127.0.0.1", "localhost", 1)),
		checkForm("closed port", "tcp", strings.Replace(closedAddr, "127.0.0.1", "localhost", 1)),
		checkForm("dns by name", "dns", "example.com", "dns_server", "localhost:53"),
	} {
		expect(t, ed.post(comp, v), http.StatusSeeOther)
	}
	runner := a.monitorRunner()
	check := func() map[string]data.CheckResult {
		t.Helper()
		ms, _ := a.store.Monitors(context.Background())
		out := map[string]data.CheckResult{}
		for i := range ms {
			out[ms[i].Name] = runner.Check(context.Background(), &ms[i])
		}
		return out
	}
	for name, res := range check() {
		if res.OK || !strings.Contains(res.Error, "address refused") {
			t.Errorf("%s: %+v, want refused", name, res)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the metadata stand-in was reached %d times", hits.Load())
	}

	// Only an admin opens a range; hostile ranges are refused.
	expect(t, ed.get("/admin/outbound"), http.StatusForbidden)
	expect(t, ed.postRaw("/admin/outbound", url.Values{"prefix": {"127.0.0.0/8"}, "note": {"x"}}), http.StatusForbidden)
	expect(t, adm.get("/admin/outbound"), http.StatusOK, "許可している範囲はありません")
	for _, b := range []struct{ prefix, note, want string }{
		{"0.0.0.0/0", "all", "範囲が広すぎます"},
		{"::/0", "all", "範囲が広すぎます"},
		{"169.254.169.254", "metadata", "メタデータ"},
		{"0.0.0.0", "this host", "このサーバー自身を指す"},
		{"fe80::1%eth0", "zone", "ゾーン"},
		{"8.8.8.8", "public", "公開アドレス"},
		{"127.0.0.1/33", "bad", "CIDR 形式"},
		{"<script>", "bad", "CIDR 形式"},
		{"127.0.0.1", "", "入力してください"},
	} {
		expect(t, adm.post("/admin/outbound", url.Values{"prefix": {b.prefix}, "note": {b.note}}), http.StatusBadRequest, b.want)
	}
	if rs, _ := a.store.OutboundRanges(context.Background()); len(rs) != 0 {
		t.Fatalf("refused ranges saved: %+v", rs)
	}
	expect(t, adm.post("/admin/outbound", url.Values{"prefix": {"127.0.0.1"}, "note": {"社内の監視対象（テスト）"}}), http.StatusSeeOther)
	expect(t, adm.get("/admin/outbound"), http.StatusOK, "範囲を許可しました")
	expect(t, adm.post("/admin/outbound", url.Values{"prefix": {"127.0.0.1/32"}, "note": {"again"}}), http.StatusBadRequest, "すでに許可")
	expect(t, adm.get("/admin/outbound"), http.StatusOK, "127.0.0.1/32", "社内の監視対象（テスト）", "admin@example.com")
	audit, _, _ := a.store.Audit(context.Background(), data.AuditFilter{Action: "outbound.open"})
	if len(audit) != 1 || audit[0].Target != "range=127.0.0.1/32" || !strings.Contains(audit[0].Changes, "社内の監視対象") {
		t.Fatalf("opening not audited: %+v", audit[:min(len(audit), 1)])
	}

	// Opened: the port is reached, and an address now saves.
	res := check()
	if !res["open port"].OK || res["closed port"].OK || strings.Contains(res["closed port"].Error, "address refused") {
		t.Fatalf("after opening: %+v", res)
	}
	// The metadata stand-in was asked without Metadata-Flavor (refused as a
	// header), so it kept its secret: the keyword is not found.
	if res["meta by name"].OK {
		t.Fatalf("the keyword matched the stand-in's secret: %+v", res["meta by name"])
	}
	expect(t, ed.post(comp, checkForm("scan ok", "tcp", open.Addr().String())), http.StatusSeeOther)

	// A redirect from the opened address to another loopback address is
	// checked at that hop.
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 here:", err)
	}
	otherSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "internal") })}
	go otherSrv.Serve(other)
	defer otherSrv.Close()
	front := httptest.NewServer(http.RedirectHandler("http://"+other.Addr().String()+"/", http.StatusFound))
	defer front.Close()
	expect(t, ed.post(comp, checkForm("redirected", "http", front.URL+"/", "keyword", "internal")), http.StatusSeeOther)
	if got := check()["redirected"]; got.OK || !strings.Contains(got.Error, "127.0.0.2") {
		t.Fatalf("redirect to an unopened address: %+v", got)
	}

	// Closing asks first, then closes the way at once.
	rs, _ := a.store.OutboundRanges(context.Background())
	closeURL := "/admin/outbound/" + strconv.FormatInt(rs[0].ID, 10) + "/close"
	expect(t, adm.post(closeURL, url.Values{}), http.StatusOK, "127.0.0.1/32 の許可を取り消しますか")
	expect(t, adm.post(closeURL, url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expect(t, adm.get("/admin/outbound"), http.StatusOK, "範囲の許可を取り消しました")
	if got := check()["open port"]; got.OK || !strings.Contains(got.Error, "address refused") {
		t.Fatalf("after closing: %+v", got)
	}
	audit, _, _ = a.store.Audit(context.Background(), data.AuditFilter{Action: "outbound.close"})
	if len(audit) != 1 || audit[0].Target != "range=127.0.0.1/32" {
		t.Fatalf("closing not audited: %+v", audit[0])
	}
}

// TestAnonymousChannelsNeverReachOperatorRanges: a range opened for the
// operators' webhooks (OSHIRASE_OUTBOUND_ALLOW) is not open to a visitor
// subscribing from the public page: nothing is sent there, open or closed
// port alike; the operators' own channel still verifies there.
func TestAnonymousChannelsNeverReachOperatorRanges(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	a.app.opts.Outbound = outbound.New(outbound.Options{AllowHTTP: true, Allow: loopback})
	a.app.opts.AnonymousVerifyFloor = -1
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Write(body) // echoes the challenge
	}))
	defer recv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String() + "/hook"
	closed.Close()
	byName := strings.Replace(recv.URL, "127.0.0.1", "localhost", 1) + "/hook"

	pub := a.client()
	var answers []string
	for _, u := range []string{recv.URL + "/hook", closedURL, byName} {
		pub.get("/subscribe/channel")
		r := pub.post("/subscribe/channel", url.Values{"kind": {"webhook"}, "url": {u}, "lang": {"ja"}})
		expect(t, r, http.StatusBadRequest, "この URL には送信できません")
		answers = append(answers, errorText(r.body))
	}
	if got.Load() != 0 {
		t.Fatalf("a visitor's subscription reached the operators' range %d times", got.Load())
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Fatalf("answers differ between open, closed and named: %q", answers)
	}
	if chs, _ := a.store.Channels(context.Background(), false); len(chs) != 0 {
		t.Fatalf("saved: %+v", chs)
	}
	adm := a.client()
	adm.login("admin@example.com")
	adm.get("/admin/alerts")
	expect(t, adm.post("/admin/alerts", url.Values{"kind": {"webhook"}, "url": {"http://10.9.9.9/hook"}, "lang": {"ja"}}), http.StatusBadRequest, "「社内アドレスの許可」で範囲を許可")
	expect(t, adm.post("/admin/alerts", url.Values{"kind": {"webhook"}, "url": {"http://169.254.169.254/"}, "lang": {"ja"}}), http.StatusBadRequest, "どの範囲を許可しても")
	expect(t, adm.post("/admin/alerts", url.Values{"kind": {"webhook"}, "url": {recv.URL + "/hook"}, "lang": {"ja"}}), http.StatusSeeOther)
	if got.Load() != 1 {
		t.Fatalf("the operators' webhook got %d verifications", got.Load())
	}
}

// errorText is the form's error summary on a page, for comparing answers.
func errorText(body string) string {
	i := strings.Index(body, `<p class="error" id="e-url">`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</")
	return body[i : i+j]
}

// TestAnonymousVerificationTellsNothingOfAPort: where a visitor may send
// (here loopback, opened to visitors as only tests can), a receiver that
// answers 200 without the challenge, one that answers 500 and a closed port
// get one message, and none is answered before the floor.
func TestAnonymousVerificationTellsNothingOfAPort(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	a.openLoopback()
	a.app.opts.AnonymousVerifyFloor = 300 * time.Millisecond
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer ok.Close()
	fails := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer fails.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()
	pub := a.client()
	var answers []string
	for _, u := range []string{ok.URL, fails.URL, closedURL} {
		pub.get("/subscribe/channel")
		start := time.Now()
		r := pub.post("/subscribe/channel", url.Values{"kind": {"webhook"}, "url": {u}, "lang": {"ja"}})
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("%s answered after %s, before the floor", u, d)
		}
		expect(t, r, http.StatusBadRequest, "challenge の値を含む正常な応答")
		answers = append(answers, errorText(r.body))
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Fatalf("answers differ: %q", answers)
	}
}

// TestSecretsNeverLogged: no route's secret parameter reaches the access
// log or an error line, whatever the answer (accepted, wrong method,
// wrong secret, a failure inside).
func TestSecretsNeverLogged(t *testing.T) {
	a := newTestServer(t)
	a.seedCatalog()
	rec := a.withAccessLog(nil)
	var logs bytes.Buffer
	a.app.log = slog.New(slog.NewTextHandler(&logs, nil))
	adm := a.client()
	adm.login("admin@example.com")
	adm.get("/admin/integrations")
	r := adm.post("/admin/integrations", url.Values{"name": {"am"}, "kind": {"alertmanager"}, "failure_status": {"major_outage"}})
	hook := regexp.MustCompile(`/api/hooks/\d+/[A-Za-z0-9_-]+`).FindString(r.body)
	if hook == "" {
		t.Fatalf("no hook address shown")
	}
	secret := hook[strings.LastIndex(hook, "/")+1:]
	body := `{"version":"4","status":"firing","alerts":[]}`
	post := func(method, path string) {
		req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		c := a.client()
		c.allow5xx = true
		c.do(req)
	}
	post(http.MethodPost, hook)
	post(http.MethodGet, hook)
	post(http.MethodPost, hook+"x")
	post(http.MethodPost, "/api/hooks/999/"+secret)
	a.store.SetFault(func(context.Context, bool) error { return errors.New("boom") })
	post(http.MethodPost, hook)
	a.store.SetFault(nil)
	rec.Flush()
	entries := accessEntries(t, rec)
	if len(entries) < 5 {
		t.Fatalf("%d entries", len(entries))
	}
	for _, e := range entries {
		if strings.Contains(e.Path, secret) {
			t.Errorf("the secret is in the access log: %+v", e)
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("the failure logged nothing:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("the secret is in the log:\n%s", logs.String())
	}

	// Every route with a secret parameter, swept: its value never shows.
	e := a.app.echo
	for _, rt := range e.Routes() {
		if !strings.Contains(rt.Path, ":") {
			continue
		}
		path := rt.Path
		for _, seg := range strings.Split(rt.Path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				path = strings.Replace(path, seg, "SENTINEL-"+name, 1)
			}
		}
		req := httptest.NewRequest(rt.Method, path, nil)
		c := e.NewContext(req, httptest.NewRecorder())
		e.Router().Find(rt.Method, path, c)
		logged := loggedPath(c)
		for _, name := range c.ParamNames() {
			if secretParams[name] && strings.Contains(logged, "SENTINEL-"+name) {
				t.Errorf("%s %s logs its %s: %s", rt.Method, rt.Path, name, logged)
			}
		}
	}
}
