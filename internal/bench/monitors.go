package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/oshirase/oshirase/data"
)

// monitorLoad runs the real server with n HTTP checks every 30 s against a
// local server and reports the server's CPU and memory while they run: an
// idle server of the same database beside it is the baseline.
func monitorLoad(ctx context.Context, bin, work string, n int, span time.Duration) error {
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	})}
	go target.Serve(ln)
	defer target.Close()
	url := "http://" + ln.Addr().String() + "/health"

	measure := func(name string, checks int) (cpu time.Duration, rss float64, results int64, err error) {
		dsn := "sqlite:" + filepath.Join(work, name+".db")
		if _, err := seed(ctx, dsn, fixture{Products: 5, ComponentsEach: 10, Days: 1}); err != nil {
			return 0, 0, 0, err
		}
		store, err := data.Open(dsn, data.Options{})
		if err != nil {
			return 0, 0, 0, err
		}
		ps, err := store.Products(ctx)
		if err != nil {
			return 0, 0, 0, err
		}
		var comps []int64
		for _, p := range ps {
			for _, c := range p.Components {
				comps = append(comps, c.ID)
			}
		}
		for i := 0; i < checks; i++ {
			in := data.DefaultMonitor
			in.ComponentID, in.Name, in.Target, in.IntervalS, in.TimeoutS = comps[i%len(comps)], fmt.Sprintf("check %d", i), url, 30, 10
			if _, err := store.CreateMonitor(ctx, in); err != nil {
				return 0, 0, 0, err
			}
		}
		store.Close()
		srv, err := startServer(bin, work, dsn, false)
		if err != nil {
			return 0, 0, 0, err
		}
		defer srv.stop()
		time.Sleep(5 * time.Second) // settle after the first sweep
		before := srv.cpu()
		start := hits.Load()
		var peak float64
		for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(time.Second) {
			peak = max(peak, srv.rss())
		}
		return srv.cpu() - before, peak, hits.Load() - start, nil
	}
	fmt.Printf("\n== monitors: %d HTTP checks every 30 s for %s (idle server beside it)\n", n, span)
	idleCPU, idleRSS, _, err := measure("idle", 0)
	if err != nil {
		return err
	}
	cpu, rss, results, err := measure("monitors", n)
	if err != nil {
		return err
	}
	secs := span.Seconds()
	fmt.Printf("%-10s %12s %12s %10s\n", "", "CPU %", "peak RSS MB", "checks/s")
	fmt.Printf("%-10s %12.2f %12.1f %10s\n", "idle", 100*idleCPU.Seconds()/secs, idleRSS, "-")
	fmt.Printf("%-10s %12.2f %12.1f %10.1f\n", "monitors", 100*cpu.Seconds()/secs, rss, float64(results)/secs)
	fmt.Printf("checks run: %d (expected about %d); CPU per check %.0f µs\n", results, int(float64(n)*secs/30),
		float64((cpu-idleCPU).Microseconds())/float64(max(results, 1)))
	return nil
}
