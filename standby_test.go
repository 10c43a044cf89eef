package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStandbyTakesOverWithinFiveSeconds: a standby instance waiting for
// its database never pauses more than 5 s between tries, however long the
// database was away, so it takes over at most 5 s after the database is
// back (it took up to 30 s). The pauses run on the test's own clock.
func TestStandbyTakesOverWithinFiveSeconds(t *testing.T) {
	const maxTakeover = 5 * time.Second
	type pause struct {
		d    time.Duration
		fire chan time.Time
	}
	pauses := make(chan pause, 100)
	standbyAfter = func(d time.Duration) <-chan time.Time {
		p := pause{d, make(chan time.Time, 1)}
		pauses <- p
		return p.fire
	}
	t.Cleanup(func() { standbyAfter = time.After })
	next := func() pause {
		t.Helper()
		select {
		case p := <-pauses:
			return p
		case <-time.After(30 * time.Second):
			t.Fatal("the standby instance stopped trying")
			return pause{}
		}
	}

	dir := t.TempDir()
	dbDir := filepath.Join(dir, "db")
	os.Mkdir(dbDir, 0o755)
	t.Setenv("OSHIRASE_DATABASE", "sqlite:"+filepath.Join(dbDir, "oshirase.db"))
	t.Setenv("OSHIRASE_SNAPSHOT", filepath.Join(dir, "pages.snapshot"))
	t.Setenv("OSHIRASE_ADMIN_EMAIL", "ops@example.com")
	t.Setenv("OSHIRASE_ADMIN_PASSWORD", "a long enough password")
	ctx := context.Background()
	store, err := openStore(ctx, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	store.CreateProduct(ctx, productInput("krewDashboard"))
	store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A first run saves the pages.
	addr := freeAddr(t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, []string{"serve", "--addr", addr}, log) }()
	waitHealthy(t, addr, done)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "pages.snapshot")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pages were never saved")
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The database goes away, for long enough (on the test's clock) that
	// the pauses stop growing; a new instance starts anyway.
	if err := os.Rename(dbDir, dbDir+"-away"); err != nil {
		t.Fatal(err)
	}
	addr = freeAddr(t)
	runCtx, stop = context.WithCancel(ctx)
	defer stop()
	go func() { done <- run(runCtx, []string{"serve", "--addr", addr}, log) }()
	waitHealthy(t, addr, done)
	readyz := func() int {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	var away time.Duration
	var seen []time.Duration
	for i := 0; i < 8; i++ {
		p := next()
		seen = append(seen, p.d)
		if p.d > maxTakeover {
			t.Fatalf("pause %d: %s between tries (%v)", i+1, p.d, seen)
		}
		away += p.d
		p.fire <- time.Time{}
	}
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the database is down: %d", code)
	}

	// Back: the pause then under way is the longest the instance waits.
	p := next()
	if err := os.Rename(dbDir+"-away", dbDir); err != nil {
		t.Fatal(err)
	}
	if p.d > maxTakeover {
		t.Fatalf("after %s away the standby waits %s more to try again (pauses %v)", away, p.d, seen)
	}
	p.fire <- time.Time{}
	for deadline := time.Now().Add(60 * time.Second); readyz() != http.StatusOK; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the instance never took over once the database was back")
		}
		select {
		case p := <-pauses:
			t.Fatalf("the first try after the database came back failed; pausing %s more", p.d)
		default:
		}
	}
	t.Logf("took over %s (test clock) after the database came back, having waited %s; pauses %v", p.d, away, seen)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
