package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/channelmsg"
	"github.com/oshirase/oshirase/internal/outbound"
)

// hookServer records what it is sent and answers with the status its
// function gives.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	status func(n int) int
}

func newHookServer(t *testing.T, status func(n int) int) *hookServer {
	h := &hookServer{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.heads = append(h.heads, r.Header.Clone())
		n := len(h.bodies)
		h.mu.Unlock()
		w.WriteHeader(h.status(n))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) got() ([][]byte, []http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...), append([]http.Header(nil), h.heads...)
}

func ok(int) int { return http.StatusOK }

func channelRig(t *testing.T) (*fixture, *ChannelSender) {
	f := newFixture(t, 0)
	client := outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AnonymousAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 2 * time.Second})
	w, err := channelmsg.New("http://status.example.com", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return f, NewChannelSender(f.store, client, w, ChannelOptions{Instance: "test", Now: f.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func addChannel(t *testing.T, f *fixture, in data.ChannelInput) *data.Channel {
	t.Helper()
	if in.Lang == "" {
		in.Lang = "en"
	}
	c, err := f.store.CreateChannel(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestChannelsGetTheNotice: one incident reaches a webhook (signed, the
// signature checked with an independent HMAC), Slack (a coloured
// attachment) and Teams (an Adaptive Card), in their language; a channel
// for another product gets nothing; email stays held without a relay.
func TestChannelsGetTheNotice(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	ps, _ := f.store.Products(ctx)
	other, _ := f.store.CreateProduct(ctx, data.ProductInput{NameJA: "別製品"})
	hook, slack, teams, elsewhere := newHookServer(t, ok), newHookServer(t, ok), newHookServer(t, ok), newHookServer(t, ok)
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: hook.URL, Secret: "whsec-test", ProductIDs: []int64{ps[0].ID}})
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: slack.URL, Lang: "ja"})
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelTeams, URL: teams.URL})
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: elsewhere.URL, ProductIDs: []int64{other.ID}})
	f.declare(t, true)
	st, err := sender.Sweep(ctx)
	if err != nil || st.Sent != 3 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	bodies, heads := hook.got()
	if len(bodies) != 1 {
		t.Fatalf("webhook got %d", len(bodies))
	}
	mac := hmac.New(sha256.New, []byte("whsec-test"))
	mac.Write([]byte(heads[0].Get("X-Oshirase-Timestamp") + "." + string(bodies[0])))
	if heads[0].Get("X-Oshirase-Signature") != "v1="+hex.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("signature %q does not verify", heads[0].Get("X-Oshirase-Signature"))
	}
	var wh struct {
		Incident struct {
			ID, Name, Status, Impact, Shortlink string
			Components                          []struct{ Name, Status string }
		}
	}
	if err := json.Unmarshal(bodies[0], &wh); err != nil || wh.Incident.Status != "investigating" || wh.Incident.Impact != "major" ||
		len(wh.Incident.Components) != 1 || wh.Incident.Components[0].Status != data.MajorOutage || wh.Incident.Shortlink == "" {
		t.Fatalf("webhook body %s (%v)", bodies[0], err)
	}
	sb, _ := slack.got()
	var sm struct {
		Text        string
		Attachments []struct {
			Color  string
			Blocks []map[string]any
		}
	}
	if err := json.Unmarshal(sb[0], &sm); err != nil || sm.Attachments[0].Color != "#d2312b" || len(sm.Attachments[0].Blocks) < 3 {
		t.Fatalf("slack body %s", sb[0])
	}
	if want := "CDNの障害 — 調査中"; sm.Text != want {
		t.Errorf("slack text %q, want %q (Japanese channel)", sm.Text, want)
	}
	tb, _ := teams.got()
	var tm struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type, Version string
				Body          []map[string]any
				Actions       []map[string]any
			}
		}
	}
	if err := json.Unmarshal(tb[0], &tm); err != nil || tm.Type != "message" || tm.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		tm.Attachments[0].Content.Type != "AdaptiveCard" || len(tm.Attachments[0].Content.Actions) != 1 {
		t.Fatalf("teams body %s", tb[0])
	}
	if b, _ := elsewhere.got(); len(b) != 0 {
		t.Fatal("a channel for another product got the notice")
	}
}

// TestChannelRetriesAndDisables: 5xx and timeouts retry with backoff; a
// channel failing for three days is disabled and its owner emailed once.
func TestChannelRetriesAndDisables(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	flaky := newHookServer(t, func(n int) int {
		if n <= 2 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	c := addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: flaky.URL, Secret: "s"})
	f.declare(t, true)
	if st, _ := sender.Sweep(ctx); st.Retried != 1 {
		t.Fatalf("first: %+v", st)
	}
	if st, _ := sender.Sweep(ctx); st.Sent+st.Retried != 0 {
		t.Fatalf("retried before its time: %+v", st)
	}
	f.clock.Advance(time.Minute)
	if st, _ := sender.Sweep(ctx); st.Retried != 1 {
		t.Fatalf("second: %+v", st)
	}
	f.clock.Advance(5 * time.Minute)
	if st, _ := sender.Sweep(ctx); st.Sent != 1 {
		t.Fatalf("third: %+v", st)
	}
	if got, _ := f.store.Channel(ctx, c.ID); got.FailingSince != nil {
		t.Fatal("a success did not clear the failures")
	}

	var calls atomic.Int64
	dead := newHookServer(t, func(int) int { calls.Add(1); return http.StatusServiceUnavailable })
	d := addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: dead.URL, OwnerEmail: "owner@example.com"})
	f.declare(t, true)
	sender.Sweep(ctx)
	for i := 0; i < 40; i++ {
		f.clock.Advance(3 * time.Hour)
		sender.Sweep(ctx)
	}
	got, _ := f.store.Channel(ctx, d.ID)
	if got.DisabledAt == nil {
		t.Fatalf("still enabled after %d calls over days", calls.Load())
	}
	kinds := recipients(t, f.store)
	if len(kinds[data.ChannelDisabledKind]) != 1 || kinds[data.ChannelDisabledKind][0][0] != "owner@example.com" {
		t.Fatalf("owner notices: %v", kinds[data.ChannelDisabledKind])
	}
	before := calls.Load()
	f.declare(t, true)
	sender.Sweep(ctx)
	if calls.Load() != before {
		t.Fatal("a disabled channel was sent to")
	}
}

// TestOperatorChannelGetsMonitorAlerts: the operators' own channel hears
// what operators must act on; subscribers' channels do not.
func TestOperatorChannelGetsMonitorAlerts(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	ops, subs := newHookServer(t, ok), newHookServer(t, ok)
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: ops.URL, Operator: true})
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelSlack, URL: subs.URL})
	if _, err := f.store.Signal(ctx, data.Signal{ComponentID: f.comp, Source: "monitor:1", Status: data.MajorOutage, Detail: "API: status 503"}); err != nil {
		t.Fatal(err)
	}
	sender.Sweep(ctx)
	b, _ := ops.got()
	if len(b) != 1 {
		t.Fatalf("operator channel got %d", len(b))
	}
	if s, _ := subs.got(); len(s) != 0 {
		t.Fatal("a subscriber's channel got an operator alert")
	}
}

// TestOperatorChannelsHearOfRelayAndJobs: the relay starting to refuse
// mail and a job starting to fail reach the operators' channels once each.
func TestOperatorChannelsHearOfRelayAndJobs(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	ops := newHookServer(t, ok)
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: ops.URL, Operator: true})
	for i := 0; i < 2; i++ {
		if err := f.store.SetRelayTrouble(ctx, data.RelayTrouble{Stage: "MAIL", Code: 550, Message: "sender rejected", Since: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		run, _ := f.store.StartRun(ctx, "retention", "a", nil)
		f.store.FinishRun(ctx, run.ID, data.RunFailed, "", "disk full")
	}
	sender.Sweep(ctx)
	b, _ := ops.got()
	if len(b) != 2 {
		t.Fatalf("operator channel got %d alerts, want 2 (relay, job), once each", len(b))
	}
	joined := string(b[0]) + string(b[1])
	for _, want := range []string{`"event":"relay_refusing"`, `"event":"job_failed"`, "disk full", "sender rejected"} {
		if !strings.Contains(joined, want) {
			t.Errorf("alerts lack %s:\n%s", want, joined)
		}
	}
}

// TestComponentUpdatesReachWebhooks: a status set by hand is sent to the
// product's channels as Statuspage's component_update, never by email.
func TestComponentUpdatesReachWebhooks(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	hook := newHookServer(t, ok)
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: hook.URL, Secret: "s"})
	if err := f.store.SetComponentStatus(ctx, f.comp, data.DegradedPerformance); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetComponentStatus(ctx, f.comp, data.DegradedPerformance); err != nil { // no change, no notice
		t.Fatal(err)
	}
	sender.Sweep(ctx)
	b, _ := hook.got()
	if len(b) != 1 {
		t.Fatalf("%d component updates sent", len(b))
	}
	var v struct {
		ComponentUpdate struct {
			NewStatus   string `json:"new_status"`
			OldStatus   string `json:"old_status"`
			ComponentID string `json:"component_id"`
		} `json:"component_update"`
		Component struct{ ID, Name, Status string }
	}
	json.Unmarshal(b[0], &v)
	if v.ComponentUpdate.NewStatus != data.DegradedPerformance || v.ComponentUpdate.OldStatus != data.Operational || v.Component.Name != "CDN" {
		t.Fatalf("component update %s", b[0])
	}
	if k := recipients(t, f.store); len(k[data.ComponentUpdated]) != 1 || k[data.ComponentUpdated][0][0] != "channel:1" {
		t.Fatalf("deliveries %v", k)
	}
}

// TestOperatorChannelsHearOfHeldAndFailedNotices: a notice held for want
// of a relay, and a notice whose email fails for good (once per notice),
// reach the operators' channels.
func TestOperatorChannelsHearOfHeldAndFailedNotices(t *testing.T) {
	f, sender := channelRig(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		k, _ := f.store.CreateContract(ctx, data.ContractInput{Code: "F" + string(rune('A'+i)), Name: "顧客", Active: true, ProductIDs: []int64{1}})
		f.store.AddContact(ctx, k.ID, data.ContactInput{Email: "bad" + string(rune('a'+i)) + "@example.com", Lang: "ja", Role: data.RolePrimary})
	}
	ops := newHookServer(t, ok)
	addChannel(t, f, data.ChannelInput{Kind: data.ChannelWebhook, URL: ops.URL, Operator: true})
	f.declare(t, true) // held: no relay
	f.declare(t, false)
	claims, err := f.store.ClaimDeliveries(ctx, "w", 10, time.Minute)
	if err != nil || len(claims) != 2 {
		t.Fatalf("claims %d %v", len(claims), err)
	}
	for _, c := range claims {
		if err := f.store.RecordAttempt(ctx, c.Delivery.ID, "w", data.Outcome{State: data.DeliveryFailed, Code: 550, Error: "550 no such user"}); err != nil {
			t.Fatal(err)
		}
	}
	sender.Sweep(ctx)
	b, _ := ops.got()
	events := map[string]int{}
	for _, x := range b {
		var v struct{ Event string }
		json.Unmarshal(x, &v)
		events[v.Event]++
	}
	if events[data.AlertNoticeHeld] != 1 || events[data.AlertDeliveriesFailed] != 1 {
		t.Fatalf("operator alerts %v", events)
	}
}
