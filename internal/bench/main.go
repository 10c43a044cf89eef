// Command bench measures Oshirase's public side against the speed of
// static bytes: it builds and starts the real `oshirase serve` on a seeded
// database, records what it answers for the status page, the JSON API, a
// feed and a conditional request, serves those same bytes with the same
// headers from a minimal net/http server, drives both in the same run and
// prints one table with the ratios. It then measures the memory after a
// long run, the render cost as history grows, and the email fanout beside a
// bare SMTP loop.
//
//	go run ./internal/bench                      # the whole report (about 6 minutes)
//	go run ./internal/bench -only http -duration 5s
//
// It is not run in CI: shared machines are too noisy for absolute figures,
// so every figure is quoted beside its baseline from the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-serve-baseline" {
		if err := serveBaseline(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.incidents, "incidents", 200, "past incidents in the fixture")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each load run")
	flag.StringVar(&o.conns, "conns", "64,256", "connection counts to run at")
	flag.DurationVar(&o.soak, "soak", 60*time.Second, "length of the run at 256 connections before reading RSS (0 skips)")
	flag.StringVar(&o.scale, "scale", "10,1000,100000", "past-incident counts for the render-cost check (empty skips)")
	flag.StringVar(&o.only, "only", "", "run one part: http, soak, scale, fanout or monitors")
	flag.IntVar(&o.monitors, "monitors", 500, "HTTP checks for the monitors part")
	flag.DurationVar(&o.monitorSpan, "monitor-span", 90*time.Second, "how long the monitors part measures")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory")
	flag.StringVar(&o.pprof, "pprof", "", "save a 10 s CPU profile of the server under load to this file")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	incidents   int
	duration    time.Duration
	conns       string
	soak        time.Duration
	scale       string
	only        string
	monitors    int
	monitorSpan time.Duration
	keep        bool
	pprof       string
}

func (o options) does(part string) bool { return o.only == "" || o.only == part }

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, o options) error {
	conns, err := ints(o.conns)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "oshirase-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("working directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "oshirase")
	fmt.Println("building oshirase …")
	if err := command("go", "build", "-o", bin, ".").Run(); err != nil {
		return fmt.Errorf("go build (run from the repository root): %w", err)
	}
	gen := newGenerator()
	fmt.Println("load generator:", gen.name())

	fix := fixture{Products: 3, ComponentsEach: 4, Days: 90, Incidents: o.incidents}
	if o.does("http") || o.does("soak") {
		dsn := "sqlite:" + filepath.Join(work, "bench.db")
		fmt.Printf("seeding %d products × %d components, %d incidents over %d days …\n", fix.Products, fix.ComponentsEach, fix.Incidents, fix.Days)
		if _, err := seed(ctx, dsn, fix); err != nil {
			return err
		}
		srv, err := startServer(bin, work, dsn, o.pprof != "")
		if err != nil {
			return err
		}
		defer srv.stop()
		targets, err := record(srv.url)
		if err != nil {
			return err
		}
		base, err := startBaseline(work, targets)
		if err != nil {
			return err
		}
		defer base.stop()
		if o.does("http") {
			if err := compareHTTP(gen, srv, base, targets, conns, o); err != nil {
				return err
			}
		}
		if o.does("soak") && o.soak > 0 {
			if err := soak(gen, srv, base, targets, o.soak); err != nil {
				return err
			}
		}
	}
	if o.does("scale") && o.scale != "" {
		sizes, err := ints(o.scale)
		if err != nil {
			return err
		}
		if err := scale(ctx, gen, bin, work, sizes); err != nil {
			return err
		}
	}
	if o.does("fanout") {
		if err := fanout(); err != nil {
			return err
		}
	}
	if o.does("monitors") && o.monitors > 0 {
		if err := monitorLoad(ctx, bin, work, o.monitors, o.monitorSpan); err != nil {
			return err
		}
	}
	return nil
}
