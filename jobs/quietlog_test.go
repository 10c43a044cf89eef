package jobs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// syncBuffer is a log a loop writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMonitorLoopLogsTheOutageNotEachSweep: while the database is down the
// runner sweeps every tick, and logs the stretch once, not per sweep
// (README: once, then once a minute, then when it is over).
func TestMonitorLoopLogsTheOutageNotEachSweep(t *testing.T) {
	f := newFixture(t, 0)
	var out syncBuffer
	r := NewMonitorRunner(f.store, MonitorOptions{Instance: "a", Now: f.clock.Now, Outbound: loopbackChecks}, slog.New(slog.NewTextHandler(&out, nil)))
	f.store.SetFault(func(context.Context, bool) error { return data.ErrUnavailable })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, 2*time.Millisecond); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out.String(), "\n") == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // some fifty sweeps more
	cancel()
	<-done
	if n := strings.Count(out.String(), "monitor sweep failed"); n != 1 {
		t.Fatalf("%d lines for one outage, want 1:\n%s", n, out.String())
	}
}
