package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oshirase/oshirase/internal/loadgen"
)

// generator drives one URL at a number of connections for a while.
type generator interface {
	name() string
	run(url string, header map[string]string, conns int, d time.Duration) (loadgen.Result, error)
}

// newGenerator picks wrk when it is installed (it costs the machine less
// than a Go client), the repository's Go load generator otherwise.
func newGenerator() generator {
	if path, err := exec.LookPath("wrk"); err == nil {
		return wrk{path}
	}
	return goGen{}
}

type goGen struct{}

func (goGen) name() string { return "internal/loadgen (Go; install wrk for a lighter client)" }

func (goGen) run(url string, header map[string]string, conns int, d time.Duration) (loadgen.Result, error) {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return loadgen.Run(context.Background(), url, h, conns, d)
}

type wrk struct{ path string }

func (w wrk) name() string { return "wrk (" + w.path + ")" }

func (w wrk) run(url string, header map[string]string, conns int, d time.Duration) (loadgen.Result, error) {
	args := []string{"-t", strconv.Itoa(min(conns, runtime.NumCPU())), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(d.Seconds())) + "s", "--latency"}
	for k, v := range header {
		args = append(args, "-H", k+": "+v)
	}
	out, err := exec.Command(w.path, append(args, url)...).CombinedOutput()
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(out, d)
}

var (
	wrkPercentile = regexp.MustCompile(`^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkTotal      = regexp.MustCompile(`^\s+(\d+) requests in`)
	wrkErrors     = regexp.MustCompile(`^\s+Non-2xx or 3xx responses: (\d+)`)
	wrkSocket     = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's --latency report.
func parseWrk(out []byte, d time.Duration) (loadgen.Result, error) {
	r := loadgen.Result{Elapsed: d}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkPercentile.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
			if m[1] == "50" {
				r.P50 = time.Duration(v * float64(unit))
			} else {
				r.P99 = time.Duration(v * float64(unit))
			}
		}
		if m := wrkTotal.FindStringSubmatch(line); m != nil {
			r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if m := wrkErrors.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			r.Errors += n
		}
		if m := wrkSocket.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.ParseInt(s, 10, 64)
				r.Errors += n
			}
		}
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("wrk printed no result: %s", out)
	}
	return r, nil
}

type row struct {
	target           string
	conns            int
	ours, base       loadgen.Result
	oursMB, baseM    float64
	oursCPU, baseCPU time.Duration // CPU time per request
}

// measure runs one load and the CPU time the server spent on it.
func measure(gen generator, p *process, t target, conns int, d time.Duration) (loadgen.Result, time.Duration, error) {
	before := p.cpu()
	r, err := gen.run(p.url+t.Path, t.Header, conns, d)
	if err != nil || r.Requests == 0 {
		return r, 0, err
	}
	return r, (p.cpu() - before) / time.Duration(r.Requests), nil
}

// compareHTTP runs each target against Oshirase and the baseline in turn,
// at each connection count, and prints the table.
func compareHTTP(gen generator, srv, base *process, ts []target, conns []int, o options) error {
	fmt.Printf("\n## Public side: Oshirase vs a minimal net/http server writing the same bytes (%s per run)\n\n", o.duration)
	for _, t := range ts {
		if t.Status == http.StatusOK {
			fmt.Printf("- %s %s: %d bytes (%s), ETag %s\n", t.Name, t.Path, t.Bytes, t.Encoded, t.ETag)
		}
	}
	var rows []row
	for _, c := range conns {
		for _, t := range ts {
			if o.pprof != "" && c == conns[len(conns)-1] && t.Name == "page" {
				go profile(srv, o.pprof)
			}
			// Warm both up briefly so neither pays for first connections.
			gen.run(srv.url+t.Path, t.Header, c, time.Second)
			gen.run(base.url+t.Path, t.Header, c, time.Second)
			ours, oursCPU, err := measure(gen, srv, t, c, o.duration)
			if err != nil {
				return err
			}
			oursMB := srv.rss()
			b, baseCPU, err := measure(gen, base, t, c, o.duration)
			if err != nil {
				return err
			}
			rows = append(rows, row{target: t.Name, conns: c, ours: ours, base: b, oursMB: oursMB, baseM: base.rss(), oursCPU: oursCPU, baseCPU: baseCPU})
			fmt.Fprintf(os.Stderr, "  %s at %d: %.0f vs %.0f req/s\n", t.Name, c, ours.RPS(), b.RPS())
		}
	}
	printRows(rows)
	return nil
}

func printRows(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "target\tconns\toshirase req/s\tbaseline req/s\tratio\tp50 o/b\tp99 o/b\tp99 ratio\tCPU µs/req o/b\terrors o/b\tRSS MB o/b\t")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%.0f\t%.2f×\t%s / %s\t%s / %s\t%.2f×\t%.1f / %.1f\t%d / %d\t%.0f / %.0f\t\n", r.target, r.conns,
			r.ours.RPS(), r.base.RPS(), r.ours.RPS()/r.base.RPS(), ms(r.ours.P50), ms(r.base.P50), ms(r.ours.P99), ms(r.base.P99),
			float64(r.ours.P99)/float64(max(r.base.P99, 1)), us(r.oursCPU), us(r.baseCPU), r.ours.Errors, r.base.Errors, r.oursMB, r.baseM)
	}
	w.Flush()
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }

// profile saves a CPU profile of the server taken while it is under load.
func profile(srv *process, file string) {
	time.Sleep(2 * time.Second)
	res, err := http.Get(srv.debugURL + "/debug/pprof/profile?seconds=10")
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer res.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer f.Close()
	io.Copy(f, res.Body)
	fmt.Fprintln(os.Stderr, "  CPU profile saved to", file)
}

// soak holds 256 connections on the status page for d and reads both
// servers' memory after it.
func soak(gen generator, srv, base *process, ts []target, d time.Duration) error {
	fmt.Printf("\n## Memory: RSS after %s at 256 connections on the status page\n\n", d)
	before := srv.rss()
	ours, err := gen.run(srv.url+ts[0].Path, ts[0].Header, 256, d)
	if err != nil {
		return err
	}
	after := srv.rss()
	b, err := gen.run(base.url+ts[0].Path, ts[0].Header, 256, d)
	if err != nil {
		return err
	}
	fmt.Printf("oshirase: %.1f MB before, %.1f MB after %d requests (%.0f req/s); baseline: %.1f MB after %d requests\n",
		before, after, ours.Requests, ours.RPS(), base.rss(), b.Requests)
	return nil
}

// scale seeds a database per history size and reports the time until the
// server is ready (every public page rendered), the JSON sizes, the page's
// throughput and the memory.
func scale(ctx context.Context, gen generator, bin, work string, sizes []int) error {
	type res struct {
		n                    int
		ready                time.Duration
		page, summary, incs  int
		rps                  float64
		rss                  float64
		render, renderRepeat time.Duration
	}
	var out []res
	for _, n := range sizes {
		dsn := "sqlite:" + filepath.Join(work, fmt.Sprintf("scale-%d.db", n))
		// The last 90 days hold the same 200 incidents at every size (as
		// a vendor's recent past does); the rest is older history.
		fmt.Fprintf(os.Stderr, "seeding %d incidents …\n", n)
		recent := min(n, 200)
		op, err := seed(ctx, dsn, fixture{Products: 3, ComponentsEach: 4, Days: 90, Incidents: recent})
		if err != nil {
			return err
		}
		if n > recent {
			if err := seedOlder(ctx, dsn, n-recent); err != nil {
				return err
			}
		}
		t0 := time.Now()
		srv, err := startServer(bin, work, dsn, false)
		if err != nil {
			return err
		}
		r := res{n: n, ready: time.Since(t0)}
		r.page = size(srv.url + "/")
		r.summary = size(srv.url + "/api/v2/summary.json")
		r.incs = size(srv.url + "/api/v2/incidents.json")
		// A change renders every public page again: time from an operator's
		// change (through the API) to the new status page being served.
		if r.render, err = changeToVisible(srv.url, op); err != nil {
			srv.stop()
			return err
		}
		r.renderRepeat = timed(srv.url + "/history?page=2")
		l, err := gen.run(srv.url+"/", map[string]string{"Accept-Encoding": "gzip"}, 64, 5*time.Second)
		if err != nil {
			srv.stop()
			return err
		}
		r.rps, r.rss = l.RPS(), srv.rss()
		srv.stop()
		out = append(out, r)
	}
	fmt.Printf("\n## History size: the cached page and the JSON stay flat\n\n")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "incidents\tstart to ready\tpage bytes\tsummary.json\tincidents.json\tchange to new page\tGET /history?page=2\tpage req/s\tRSS MB\t")
	for _, r := range out {
		fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%.0f\t%.0f\t\n", r.n, r.ready.Round(time.Millisecond), r.page, r.summary, r.incs,
			ms(r.render), ms(r.renderRepeat), r.rps, r.rss)
	}
	w.Flush()
	return nil
}

// changeToVisible sets a component's status through the API and waits for
// the status page to change.
func changeToVisible(base string, op seeded) (time.Duration, error) {
	etag := func() string {
		res, err := http.Get(base + "/")
		if err != nil {
			return ""
		}
		res.Body.Close()
		return res.Header.Get("ETag")
	}
	before := etag()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/admin/components/%d/status", base, op.component),
		strings.NewReader(`{"status":"degraded_performance"}`))
	req.Header.Set("Authorization", "Bearer "+op.token)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("setting a component's status: %s", res.Status)
	}
	for time.Since(t0) < time.Minute {
		if etag() != before {
			return time.Since(t0), nil
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("the status page did not change within a minute")
}

func size(url string) int {
	res, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return len(b)
}

func timed(url string) time.Duration {
	t0 := time.Now()
	size(url)
	return time.Since(t0)
}

var msgsPerSec = regexp.MustCompile(`BenchmarkNotice10k/(\S+?)(-\d+)?\s.*?([\d.]+) msgs/s`)

// fanout runs the 10,000-recipient notice benchmark, which sends through
// the whole pipeline and through a bare SMTP loop in the same run.
func fanout() error {
	fmt.Printf("\n## Email fanout: 10,000 recipients, whole pipeline vs a bare SMTP loop\n\n")
	out, err := exec.Command("go", "test", "-run", "^$", "-bench", "Notice10k", "-benchtime", "1x", "./jobs/").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench Notice10k: %v\n%s", err, out)
	}
	rates := map[string]float64{}
	var order []string
	for _, m := range msgsPerSec.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[3], 64)
		rates[m[1]] = v
		order = append(order, m[1])
	}
	bare := rates["bare-loop-1conn"]
	if bare == 0 {
		return fmt.Errorf("no bare-loop figure in:\n%s", out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "run\tmsgs/s\tratio to bare loop\t")
	for _, name := range order {
		fmt.Fprintf(w, "%s\t%.0f\t%.2f×\t\n", name, rates[name], rates[name]/bare)
	}
	w.Flush()
	return nil
}
