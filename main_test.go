package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
	"github.com/oshirase/oshirase/internal/config"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeStartsAndStopsGracefully starts the real server on a fresh
// database with nothing configured, finds the generated password in the
// log, and shuts it down the way SIGTERM does.
func TestServeStartsAndStopsGracefully(t *testing.T) {
	dsn := testDSN(t)
	for _, k := range []string{"OSHIRASE_ADMIN_EMAIL", "OSHIRASE_ADMIN_PASSWORD", "OSHIRASE_BASE_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("OSHIRASE_DATABASE", dsn)
	addr := freeAddr(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", addr}, log) }()

	waitHealthy(t, addr, done)
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("server never answered: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", res.StatusCode)
	}
	res, err = http.Get("http://" + addr + "/")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("status page: %v %v", res, err)
	}
	res.Body.Close()
	t.Setenv("OSHIRASE_ADDR", addr)
	if err := healthcheck(); err != nil {
		t.Fatalf("healthcheck: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	out := logs.String()
	if !strings.Contains(out, "email=admin@localhost password=") || !strings.Contains(out, "shutting down") {
		t.Fatalf("log:\n%s", out)
	}

	// A second start finds the operator and prints no password again.
	logs.Reset()
	ctx, cancel = context.WithCancel(context.Background())
	addr2 := freeAddr(t)
	go func() { done <- run(ctx, []string{"serve", "--addr", addr2}, log) }()
	waitHealthy(t, addr2, done) // a signal, not a fixed sleep
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "password=") {
		t.Fatalf("password printed twice:\n%s", logs.String())
	}
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	t.Setenv("OSHIRASE_DATABASE", "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	t.Setenv("OSHIRASE_TIMEZONE", "Nowhere/Special")
	err := run(context.Background(), []string{"serve"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "OSHIRASE_TIMEZONE") {
		t.Fatalf("error %v does not name OSHIRASE_TIMEZONE", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestOperatorAddFromCommandLine(t *testing.T) {
	dsn := testDSN(t)
	t.Setenv("OSHIRASE_DATABASE", dsn)
	t.Setenv("OSHIRASE_TIMEZONE", "")
	r, w, _ := os.Pipe()
	w.WriteString("日本語のパスワードでも大丈夫\n")
	w.Close()
	out, _ := os.CreateTemp(t.TempDir(), "out")
	if err := addOperator([]string{"--email", "Ops@Example.com", "--role", "admin", "--password-stdin"}, r, out); err != nil {
		t.Fatal(err)
	}
	if err := addOperator([]string{"--email", "ops@example.com", "--role", "editor"}, r, out); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate: %v", err)
	}
	if err := addOperator([]string{"--email", "x@example.com", "--role", "root"}, r, out); err == nil || !strings.Contains(err.Error(), "--role") {
		t.Fatalf("bad role: %v", err)
	}
	if err := addOperator([]string{"--email", "gen@example.com"}, r, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(b), "added ops@example.com (admin)") || !strings.Contains(string(b), "password: ") {
		t.Fatalf("output:\n%s", b)
	}
	store, err := data.Open(dsn, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ops, _ := store.Operators(context.Background())
	if len(ops) != 2 || ops[1].Email != "ops@example.com" || ops[1].Role != data.RoleAdmin {
		t.Fatalf("operators: %+v", ops)
	}
}

// syncWriter lets the server goroutine and the test share a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func mustConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func productInput(name string) data.ProductInput { return data.ProductInput{NameJA: name} }

// testDSN is a fresh database for one test; on PostgreSQL, which needs a
// secret in the environment (instances must share it), one is set too.
func testDSN(t *testing.T) string {
	dsn := datatest.DSN(t)
	// Never the working directory: each test its own access log.
	t.Setenv("OSHIRASE_ACCESS_LOG_DIR", t.TempDir())
	if !strings.HasPrefix(dsn, "sqlite:") {
		t.Setenv("OSHIRASE_SECRET", "postgres-test-run-secret-0123456789abcdef")
	}
	return dsn
}
