package data_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
	"github.com/oshirase/oshirase/internal/upstream"
)

// TestUpstreamClaimAndRecord: a due upstream is claimed by one worker at a
// time; a result sets the next poll; a move raises the signal and a 304 or
// a failure leaves the state as it was.
func TestUpstreamClaimAndRecord(t *testing.T) {
	ctx := context.Background()
	clock := datatest.NewClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	s := datatest.Open(t, clock)
	p, err := s.CreateProduct(ctx, data.ProductInput{NameJA: "製品", NameEN: "Product"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "連携", NameEN: "Connect"})
	if err != nil {
		t.Fatal(err)
	}
	var v *data.ValidationError
	if _, err := s.CreateUpstream(ctx, data.UpstreamInput{ComponentID: c.ID + 100, Kind: "x", URL: "ftp://x", IntervalS: 10}); !errors.As(err, &v) ||
		v.Fields["component_id"] != "invalid_choice" || v.Fields["kind"] != "invalid_choice" || v.Fields["url"] != "bad_url" ||
		v.Fields["interval_s"] != "upstream_interval" || v.Fields["name_ja"] != "required" {
		t.Fatalf("invalid input: %v", err)
	}
	u, err := s.CreateUpstream(ctx, data.UpstreamInput{ComponentID: c.ID, Kind: data.UpstreamStatuspage, URL: " https://status.example.net/api/v2/summary.json ",
		NameJA: "kintone", Match: "kintone", IntervalS: 120, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if u.URL != "https://status.example.net/api/v2/summary.json" || u.Source() != "upstream:"+strconv.FormatInt(u.ID, 10) {
		t.Fatalf("created %+v", u)
	}

	// Eight workers at once: one gets it.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got int
	)
	for range 8 {
		wg.Go(func() {
			us, err := s.ClaimUpstreams(ctx, 10)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got += len(us)
			mu.Unlock()
		})
	}
	wg.Wait()
	if got != 1 {
		t.Fatalf("claimed %d times", got)
	}

	now := clock.Now()
	out, changed, err := s.RecordUpstream(ctx, u.ID, data.UpstreamResult{At: now, State: upstream.State{Status: data.MajorOutage, Detail: "接続できません\x00", URL: "https://status.example.net/i/1"},
		ETag: `"e1"`}, true)
	if err != nil || !changed || out == nil || out.To != data.MajorOutage {
		t.Fatalf("outage: %+v %v %v", out, changed, err)
	}
	u, _ = s.Upstream(ctx, u.ID)
	if u.State != data.MajorOutage || u.ETag != `"e1"` || u.NextCheckAt == nil || !u.NextCheckAt.Equal(now.Add(120*time.Second)) || !u.Troubled() {
		t.Fatalf("after the outage %+v", u)
	}
	if us, _ := s.ClaimUpstreams(ctx, 10); len(us) != 0 {
		t.Fatalf("claimed before its interval: %+v", us)
	}
	clock.Advance(121 * time.Second)
	for _, res := range []data.UpstreamResult{{At: clock.Now(), NotModified: true}, {At: clock.Now(), Error: "the upstream answered 503"}} {
		out, changed, err := s.RecordUpstream(ctx, u.ID, res, true)
		if err != nil || changed || out != nil {
			t.Fatalf("%+v: %+v %v %v", res, out, changed, err)
		}
	}
	u, _ = s.Upstream(ctx, u.ID)
	if u.State != data.MajorOutage || u.ETag != `"e1"` || u.LastError != "the upstream answered 503" {
		t.Fatalf("after a 304 and a failure %+v", u)
	}
	// The upstream's maintenance shows but withdraws the signal.
	out, changed, err = s.RecordUpstream(ctx, u.ID, data.UpstreamResult{At: clock.Now(), State: upstream.State{Status: data.UnderMaintenance}}, true)
	if err != nil || !changed || out == nil || out.To != data.Operational {
		t.Fatalf("maintenance: %+v %v %v", out, changed, err)
	}
	sigs, _ := s.Signals(ctx, c.ID)
	if len(sigs) != 0 {
		t.Fatalf("signals %+v", sigs)
	}
	if _, err := s.DeleteUpstream(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordUpstream(ctx, u.ID, data.UpstreamResult{At: clock.Now()}, true); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("recording a deleted upstream: %v", err)
	}
}
