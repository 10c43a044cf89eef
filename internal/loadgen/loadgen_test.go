package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEveryAnswerAndItsLatency(t *testing.T) {
	var served atomic.Int64
	var gotEncoding atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		gotEncoding.Store(r.Header.Get("Accept-Encoding"))
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	h := http.Header{"Accept-Encoding": {"gzip"}}
	r, err := Run(context.Background(), srv.URL, h, 4, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Answers cut off by the end of the run are not counted; every counted
	// one was served.
	if r.Requests == 0 || r.Requests > served.Load() || r.Errors != 0 {
		t.Fatalf("%+v, served %d", r, served.Load())
	}
	if r.P50 < 2*time.Millisecond || r.P99 < r.P50 || r.RPS() <= 0 {
		t.Fatalf("latencies %+v", r)
	}
	if gotEncoding.Load() != "gzip" {
		t.Fatalf("Accept-Encoding %q", gotEncoding.Load())
	}
	r, _ = Run(context.Background(), srv.URL+"/missing", nil, 2, 100*time.Millisecond)
	if r.Errors == 0 || r.Errors != r.Requests {
		t.Fatalf("404s: %+v", r)
	}
	if _, err := Run(context.Background(), srv.URL, nil, 0, time.Second); err == nil {
		t.Fatal("no connections accepted")
	}
}
