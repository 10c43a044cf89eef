package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
)

// TestAccessLogUpgradeAndCommands starts a server on a database that still
// holds access-log rows, as one from before the files does: they move into
// files and counters, the table goes, new requests are appended, and the
// commands find and recount them.
func TestAccessLogUpgradeAndCommands(t *testing.T) {
	dsn := testDSN(t)
	t.Setenv("OSHIRASE_DATABASE", dsn)
	t.Setenv("OSHIRASE_TIMEZONE", "Asia/Tokyo")
	t.Setenv("OSHIRASE_INSTANCE", "web-1")
	dir := os.Getenv("OSHIRASE_ACCESS_LOG_DIR")
	cfg := mustConfig(t)
	store, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(cfg.Location)
	old := time.Date(now.Year(), now.Month(), now.Day()-3, 10, 0, 0, 0, cfg.Location)
	var rows []data.AccessLogEntry
	for i := range 30 {
		rows = append(rows, data.AccessLogEntry{At: old.Add(time.Duration(i) * time.Minute), Method: "GET", Route: "/admin/login",
			Path: "/admin/login", Status: 401, IP: "203.0.113.7", Visitor: "v1"})
	}
	if err := store.AddLegacyAccessLog(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	store.Close()

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitHealthy(t, addr, done)
	for range 5 {
		res, err := http.Get("http://" + addr + "/history")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	fs, _ := accesslog.List(dir)
	names := []string{}
	for _, f := range fs {
		names = append(names, f.Instance)
	}
	if len(fs) < 2 || !strings.Contains(strings.Join(names, " "), "moved-from-database") || !strings.Contains(strings.Join(names, " "), "web-1") {
		t.Fatalf("files: %+v", fs)
	}
	store, err = openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if store.HasLegacyAccessLog(context.Background()) {
		t.Fatal("the old table is still there")
	}
	if req, _, _ := store.UsageTotals(context.Background()); req < 35 {
		t.Fatalf("counters hold %d requests", req)
	}

	// An investigation three days later.
	var out, errs bytes.Buffer
	day := old.In(cfg.Location).Format("2006-01-02")
	if err := accesslogSearch(context.Background(), []string{"--from", day, "--to", day, "--ip", "203.0.113.0/24", "--status", "4xx"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 30 || !strings.Contains(out.String(), `"path":"/admin/login"`) || !strings.Contains(errs.String(), "30 entries matched") {
		t.Fatalf("search printed %q, %q", out.String(), errs.String())
	}
	for _, bad := range [][]string{{}, {"--from", "yesterday"}, {"--from", day, "--status", "teapot"}} {
		if err := accesslogSearch(context.Background(), bad, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	out.Reset()
	if err := accesslogRebuildUsage(context.Background(), nil, &out); err != nil || !strings.Contains(out.String(), "recounted 30 requests") {
		t.Fatalf("rebuild: %q %v", out.String(), err)
	}
}
