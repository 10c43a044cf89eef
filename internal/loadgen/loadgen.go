// Package loadgen drives an HTTP server with a fixed number of keep-alive
// connections for a fixed time and reports throughput and latency
// percentiles: the bench harness's load generator where wrk is not
// installed.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result is what one run measured.
type Result struct {
	Requests int64
	// Errors counts failed requests and answers with a status of 400 or
	// more.
	Errors   int64
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run sends GET url with header over conns connections, each waiting for
// its answer before the next request, for d.
func Run(ctx context.Context, url string, header http.Header, conns int, d time.Duration) (Result, error) {
	if conns < 1 || d <= 0 {
		return Result{}, fmt.Errorf("loadgen: need at least one connection and a duration")
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		// The caller's Accept-Encoding is sent as given and the body is
		// read as it comes, compressed or not.
		DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	probe, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lat := make([][]time.Duration, conns)
	errs := make([]int64, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				req := probe.Clone(ctx)
				req.Header = header.Clone()
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs[i]++
					}
					continue
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if ctx.Err() != nil {
					break // cut off by the end of the run: not counted
				}
				if err != nil || res.StatusCode >= 400 {
					errs[i]++
				}
				mine = append(mine, time.Since(t0))
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	r := Result{Elapsed: min(time.Since(start), d)}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r.Requests = int64(len(all))
	for _, e := range errs {
		r.Errors += e
	}
	if len(all) > 0 {
		r.P50 = all[len(all)*50/100]
		r.P99 = all[min(len(all)*99/100, len(all)-1)]
	}
	return r, nil
}
