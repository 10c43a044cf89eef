package jobs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/outbound"
)

type monitorRig struct {
	*fixture
	runner *MonitorRunner
	t      *testing.T
}

func newMonitorRig(t *testing.T, contacts int, instance string) *monitorRig {
	f := newFixture(t, contacts)
	if _, err := f.store.CreateOperator(context.Background(), data.NewOperator{Email: "ops@example.com", Role: data.RoleAdmin, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	return &monitorRig{fixture: f, t: t, runner: NewMonitorRunner(f.store, MonitorOptions{Instance: instance, Now: f.clock.Now, Outbound: loopbackChecks,
		Hold: func() bool { return true }}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (r *monitorRig) monitor(in data.MonitorInput) *data.Monitor {
	r.t.Helper()
	in.ComponentID = r.comp
	m, err := r.store.CreateMonitor(context.Background(), in)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// step moves the clock one interval and runs what is due.
func (r *monitorRig) step(d time.Duration) MonitorStats {
	r.t.Helper()
	r.clock.Advance(d)
	st, err := r.runner.Sweep(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *monitorRig) component() data.Component {
	ps, _ := r.store.Products(context.Background())
	return ps[0].Components[0]
}

func (r *monitorRig) kinds() map[string]int {
	ns, _, _, _ := r.store.Notifications(context.Background(), 1000, 0)
	out := map[string]int{}
	for _, n := range ns {
		out[n.Kind]++
	}
	return out
}

func httpMonitor(url string) data.MonitorInput {
	in := data.DefaultMonitor
	in.Name, in.Target, in.IntervalS, in.FailThreshold, in.OKThreshold, in.Keyword = "API", url, 30, 2, 2, "ok"
	return in
}

// TestMonitorThresholdsFlapsAndDrafts: an HTTP server that fails and
// recovers on cue. A failure below the threshold is nothing; crossing it
// prepares a draft and tells the operators, never the customers; a
// recovery before anyone published withdraws the draft; once an operator
// has published, a recovery prepares the resolving update.
func TestMonitorThresholdsFlapsAndDrafts(t *testing.T) {
	r := newMonitorRig(t, 2, "a")
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "all ok")
	}))
	defer srv.Close()
	ctx := context.Background()
	if due, _ := r.store.MonitorsDue(ctx); due {
		t.Fatal("due without a monitor")
	}
	m := r.monitor(httpMonitor(srv.URL))
	if due, _ := r.store.MonitorsDue(ctx); !due {
		t.Fatal("a new monitor is not due")
	}

	if st := r.step(0); st.Checks != 1 || st.Failures != 0 {
		t.Fatalf("first sweep %+v", st)
	}
	if due, _ := r.store.MonitorsDue(ctx); due {
		t.Fatal("due again before its interval")
	}
	if st := r.step(10 * time.Second); st.Checks != 0 {
		t.Fatalf("a check ran before its interval: %+v", st)
	}
	r.step(20 * time.Second)
	if got, _ := r.store.Monitor(ctx, m.ID); got.State != data.MonitorUp {
		t.Fatalf("after two good checks: %s", got.State)
	}
	// A flap: one failure, then good again.
	failing.Store(true)
	r.step(30 * time.Second)
	failing.Store(false)
	r.step(30 * time.Second)
	if n := len(r.kinds()); n != 0 {
		t.Fatalf("a flap below the threshold sent %v", r.kinds())
	}
	if d, _ := r.store.IncidentDrafts(ctx, "", 10); len(d) != 0 {
		t.Fatalf("a flap prepared %d drafts", len(d))
	}

	// Down: two failures in a row.
	failing.Store(true)
	r.step(30 * time.Second)
	st := r.step(30 * time.Second)
	if st.Changes != 1 {
		t.Fatalf("crossing the threshold: %+v", st)
	}
	if c := r.component(); c.AutoStatus != data.MajorOutage {
		t.Fatalf("automatic status %q", c.AutoStatus)
	}
	drafts, _ := r.store.IncidentDrafts(ctx, data.DraftWaiting, 10)
	if len(drafts) != 1 || drafts[0].Kind != data.DraftOpen || drafts[0].Status != data.MajorOutage || !strings.Contains(drafts[0].Detail, "503") {
		t.Fatalf("drafts %+v", drafts)
	}
	if open, _ := r.store.OpenIncidents(ctx); len(open) != 0 {
		t.Fatal("a draft was published")
	}
	if k := r.kinds(); k[data.MonitorAlertDown] != 1 || len(k) != 1 {
		t.Fatalf("notices %v: the operators only", k)
	}
	// Still down: nothing new.
	r.step(30 * time.Second)
	if k := r.kinds(); k[data.MonitorAlertDown] != 1 {
		t.Fatalf("a standing outage alerted again: %v", k)
	}
	// Recovers before anyone published: the draft is withdrawn.
	failing.Store(false)
	r.step(30 * time.Second)
	r.step(30 * time.Second)
	if d, _ := r.store.IncidentDraft(ctx, drafts[0].ID); d.State != data.DraftSuperseded {
		t.Fatalf("draft after recovery: %s", d.State)
	}
	if k := r.kinds(); k[data.MonitorAlertUp] != 1 {
		t.Fatalf("recovery not told: %v", k)
	}

	// Down again; an operator publishes the draft.
	failing.Store(true)
	r.step(30 * time.Second)
	r.step(30 * time.Second)
	drafts, _ = r.store.IncidentDrafts(ctx, data.DraftWaiting, 10)
	if len(drafts) != 1 {
		t.Fatalf("second outage: %d drafts", len(drafts))
	}
	inc, err := r.store.CreateIncident(ctx, data.NewIncident{TitleJA: drafts[0].TitleJA, Impact: drafts[0].Impact, Status: data.Investigating,
		BodyJA: drafts[0].BodyJA, Components: map[int64]string{r.comp: drafts[0].Status}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.CloseDraft(ctx, drafts[0].ID, data.DraftPublished, &inc.ID); err != nil {
		t.Fatal(err)
	}
	failing.Store(false)
	r.step(30 * time.Second)
	r.step(30 * time.Second)
	resolve, _ := r.store.IncidentDrafts(ctx, data.DraftWaiting, 10)
	if len(resolve) != 1 || resolve[0].Kind != data.DraftResolve || resolve[0].IncidentID == nil || *resolve[0].IncidentID != inc.ID {
		t.Fatalf("resolving draft %+v", resolve)
	}
	if got, _ := r.store.Incident(ctx, inc.ID); !got.Open() {
		t.Fatal("the incident was resolved without an operator")
	}
}

// TestMonitorAutoPublish: with automatic publication the incident is
// declared and resolved by itself; with email off only the operators hear
// of it, with email on every contact gets exactly the opening and the
// resolution.
func TestMonitorAutoPublish(t *testing.T) {
	for _, notify := range []bool{false, true} {
		r := newMonitorRig(t, 2, "a")
		ctx := context.Background()
		if err := r.store.SetAutomation(ctx, r.comp, data.Automation{AutoPublish: true, AutoImpact: "critical", AutoNotify: notify}); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		in := data.DefaultMonitor
		in.Name, in.Kind, in.Target, in.IntervalS, in.TimeoutS, in.FailThreshold, in.OKThreshold, in.FailureStatus = "TCP", data.MonitorTCP, addr, 30, 2, 1, 1, data.PartialOutage
		r.monitor(in)
		r.step(0)
		ln.Close() // the port closes
		r.step(30 * time.Second)
		open, _ := r.store.OpenIncidents(ctx)
		if len(open) != 1 || open[0].Impact != "critical" || open[0].ComponentStatuses()[r.comp] != data.PartialOutage {
			t.Fatalf("notify=%v: automatic incident %+v", notify, open)
		}
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("could not listen again on %s: %v", addr, err)
		}
		go func() {
			for {
				c, err := ln2.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		r.step(30 * time.Second)
		ln2.Close()
		if open, _ := r.store.OpenIncidents(ctx); len(open) != 0 {
			t.Fatalf("notify=%v: not resolved on recovery", notify)
		}
		got := recipients(t, r.store)
		if len(got[data.MonitorAlertDown]) != 1 || len(got[data.MonitorAlertUp]) != 1 {
			t.Fatalf("operators: %v", got)
		}
		want := 0
		if notify {
			want = 1
		}
		if len(got[data.IncidentOpened]) != want || len(got[data.IncidentResolved]) != want {
			t.Fatalf("notify=%v: customers got %v", notify, got)
		}
		if notify && len(got[data.IncidentOpened][0]) != 2 {
			t.Fatalf("opening went to %v", got[data.IncidentOpened][0])
		}
		if d, _ := r.store.IncidentDrafts(ctx, "", 10); len(d) != 0 {
			t.Fatalf("automatic publication left drafts: %+v", d)
		}
	}
}

// TestTLSAndDNSChecks: a certificate that expires soon fails once the
// clock is within the warning; a DNS answer is compared with the expected
// record, from a DNS server in the test.
func TestTLSAndDNSChecks(t *testing.T) {
	r := newMonitorRig(t, 0, "a")
	ctx := context.Background()
	// A certificate valid for 20 more days.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(20 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	r.runner.opts.RootCAs = pool
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	in := data.DefaultMonitor
	in.Name, in.Kind, in.Target, in.WarnDays, in.IntervalS, in.FailThreshold = "TLS", data.MonitorTLS, "localhost:"+port, 14, 3600, 1
	tm := r.monitor(in)
	if res := r.runner.Check(ctx, tm); !res.OK {
		t.Fatalf("a certificate with 20 days left failed: %s", res.Error)
	}
	r.clock.Advance(7 * 24 * time.Hour)
	if res := r.runner.Check(ctx, tm); res.OK || !strings.Contains(res.Error, "expires in 13 days") {
		t.Fatalf("13 days before expiry: %+v", res)
	}
	r.clock.Advance(30 * 24 * time.Hour)
	if res := r.runner.Check(ctx, tm); res.OK {
		t.Fatal("an expired certificate passed")
	}

	// DNS, from miekg/dns serving one A record.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var answer atomic.Value
	answer.Store("192.0.2.10")
	mux := dns.NewServeMux()
	mux.HandleFunc("status.example.test.", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		rr, _ := dns.NewRR("status.example.test. 60 IN A " + answer.Load().(string))
		m.Answer = append(m.Answer, rr)
		w.WriteMsg(m)
	})
	ds := &dns.Server{PacketConn: pc, Handler: mux}
	var started sync.WaitGroup
	started.Add(1)
	ds.NotifyStartedFunc = started.Done
	go ds.ActivateAndServe()
	started.Wait()
	defer ds.Shutdown()
	dn := data.DefaultMonitor
	dn.Name, dn.Kind, dn.Target, dn.DNSType, dn.DNSExpect, dn.DNSServer = "DNS", data.MonitorDNS, "status.example.test", "A", "192.0.2.10", pc.LocalAddr().String()
	dm := r.monitor(dn)
	if res := r.runner.Check(ctx, dm); !res.OK {
		t.Fatalf("DNS: %s", res.Error)
	}
	answer.Store("198.51.100.7")
	if res := r.runner.Check(ctx, dm); res.OK || !strings.Contains(res.Error, "198.51.100.7") {
		t.Fatalf("a wrong answer passed: %+v", res)
	}
	dm.Target = "missing.example.test"
	if res := r.runner.Check(ctx, dm); res.OK {
		t.Fatal("a name without records passed")
	}
}

// TestEachCheckRunsOnOneInstance: two runners (two instances) sweeping at
// the same moment run each due check once between them.
func TestEachCheckRunsOnOneInstance(t *testing.T) {
	r := newMonitorRig(t, 0, "a")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	for i := 0; i < 40; i++ {
		in := httpMonitor(srv.URL)
		in.Keyword = ""
		r.monitor(in)
	}
	other := NewMonitorRunner(r.store, MonitorOptions{Instance: "b", Now: r.clock.Now, Concurrency: 4, Outbound: loopbackChecks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for round := 1; round <= 3; round++ {
		var wg sync.WaitGroup
		var sa, sb MonitorStats
		wg.Add(2)
		go func() { defer wg.Done(); sa, _ = r.runner.Sweep(context.Background()) }()
		go func() { defer wg.Done(); sb, _ = other.Sweep(context.Background()) }()
		wg.Wait()
		if sa.Checks+sb.Checks != 40 || hits.Load() != int64(40*round) {
			t.Fatalf("round %d: a ran %d, b ran %d, server saw %d", round, sa.Checks, sb.Checks, hits.Load())
		}
		r.clock.Advance(30 * time.Second)
	}
}

// TestMonitorResultsRetention: raw results go after a month; per-day
// counts stay for the uptime window.
func TestMonitorResultsRetention(t *testing.T) {
	r := newMonitorRig(t, 0, "a")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	m := r.monitor(httpMonitor(srv.URL))
	r.step(0)
	r.clock.Advance(40 * 24 * time.Hour)
	r.step(0)
	ctx := context.Background()
	n, err := r.store.PruneMonitorResults(ctx, 400, time.UTC)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	days, err := r.store.MonitorDays(ctx, []int64{m.ID}, r.clock.Now().AddDate(0, 0, -90), time.UTC)
	if err != nil || len(days) != 2 {
		t.Fatalf("per-day counts %v %v", days, err)
	}
}

// loopbackChecks opens loopback to checks: the targets tests start listen
// there (TestMonitorsRefuseUnopenedRanges checks the default).
var loopbackChecks = outbound.New(outbound.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

// TestMonitorsRefuseUnopenedRanges: a runner without opened ranges dials
// no loopback address for any kind of check (a DNS server named by the
// operator included), and the answer is the same for an open port.
func TestMonitorsRefuseUnopenedRanges(t *testing.T) {
	f := newFixture(t, 0)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	r := NewMonitorRunner(f.store, MonitorOptions{Instance: "a", Now: f.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, m := range []data.Monitor{
		{Kind: data.MonitorHTTP, Target: srv.URL, Method: "GET", ExpectCodes: "200-299", TimeoutS: 2},
		{Kind: data.MonitorHTTP, Target: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), Method: "GET", ExpectCodes: "200-299", TimeoutS: 2},
		{Kind: data.MonitorTCP, Target: host, TimeoutS: 2},
		{Kind: data.MonitorTLS, Target: host, TimeoutS: 2},
		{Kind: data.MonitorDNS, Target: "example.com", DNSType: "A", DNSServer: host, TimeoutS: 2},
	} {
		if res := r.Check(context.Background(), &m); res.OK || !strings.Contains(res.Error, "address refused") {
			t.Errorf("%s %s: %+v, want refused", m.Kind, m.Target, res)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback server was reached %d times", hits.Load())
	}
}

// TestCheckErrorsHideTheResolver: a name that does not resolve says so,
// without the address of the DNS server asked.
func TestCheckErrorsHideTheResolver(t *testing.T) {
	f := newFixture(t, 0)
	r := NewMonitorRunner(f.store, MonitorOptions{Instance: "a", Now: f.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m := data.Monitor{Kind: data.MonitorHTTP, Target: "http://no-such-host.invalid/", Method: "GET", ExpectCodes: "200-299", TimeoutS: 3}
	res := r.Check(context.Background(), &m)
	if res.OK || !strings.Contains(res.Error, "no-such-host.invalid") || strings.Contains(res.Error, ":53") {
		t.Fatalf("%+v", res)
	}
}
