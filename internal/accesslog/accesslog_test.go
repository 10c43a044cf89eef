package accesslog

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/oshirase/oshirase/data"
)

func TestRecordNeverBlocksAndCountsOverflow(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	stored := 0
	r := New(func(_ context.Context, es []data.AccessLogEntry) error {
		<-release // a database that does not answer
		mu.Lock()
		stored += len(es)
		mu.Unlock()
		return nil
	}, Options{Queue: 100, Batch: 10}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Start()
	// The writer takes one batch of 10 and hangs; 100 more fit the queue.
	for i := 0; i < 1000; i++ {
		r.Record(data.AccessLogEntry{Path: "/"})
	}
	if d := r.Dropped(); d < 1000-110 || d > 1000-100 {
		t.Fatalf("dropped %d", d)
	}
	close(release)
	r.Close()
	if got := int64(stored); got+r.Dropped() != 1000 || r.Written() != got {
		t.Fatalf("stored %d + dropped %d != 1000", got, r.Dropped())
	}
}
