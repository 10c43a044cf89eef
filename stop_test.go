package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

// waitHealthy waits until the server at addr answers /healthz.
func waitHealthy(t *testing.T, addr string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve ended before it was healthy: %v", err)
		default:
		}
		if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the server never became healthy")
}

// TestStopFitsTheGracePeriod: with a relay taking 20 s a message, a stop
// (what SIGTERM does) returns well within Docker's 10-second grace; the
// message in flight is not marked sent and no claim is left held.
func TestStopFitsTheGracePeriod(t *testing.T) {
	smtp := mailtest.Start(t)
	smtp.SlowData(20 * time.Second)
	dsn := testDSN(t)
	t.Setenv("OSHIRASE_DATABASE", dsn)
	t.Setenv("OSHIRASE_SMTP_URL", smtp.URL())
	t.Setenv("OSHIRASE_MAIL_FROM", "Status <status@example.com>")
	t.Setenv("OSHIRASE_ADMIN_EMAIL", "ops@example.com")
	t.Setenv("OSHIRASE_ADMIN_PASSWORD", "a long enough password")
	ctx := context.Background()
	store, err := openStore(ctx, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.CreateProduct(ctx, productInput("krewDashboard"))
	c, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "CDN"})
	k, _ := store.CreateContract(ctx, data.ContractInput{Code: "K-1", Name: "顧客", Active: true, ProductIDs: []int64{p.ID}})
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		store.AddContact(ctx, k.ID, data.ContactInput{Email: e, Lang: "ja", Role: data.RolePrimary})
	}
	if _, err := store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "critical", Status: data.Investigating, BodyJA: "調査中です。",
		Components: map[int64]string{c.ID: data.MajorOutage}, Notice: data.Notice{Send: true}}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	addr := freeAddr(t)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logged lockedBuffer
	go func() {
		done <- run(runCtx, []string{"serve", "--addr", addr}, slog.New(slog.NewTextHandler(&logged, nil)))
	}()
	waitHealthy(t, addr, done)
	for deadline := time.Now().Add(20 * time.Second); smtp.InData() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("nothing was being sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s")
	}
	if took := time.Since(stopped); took > 9*time.Second {
		t.Fatalf("stopping took %s; a container's grace is 10 s", took)
	}
	// The stop cut the message off, not the relay.
	if strings.Contains(logged.String(), "refuses to take mail") {
		t.Fatalf("our own stop was logged as the relay refusing mail:\n%s", logged.String())
	}
	store, err = data.Open(dsn, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, counts, _, _ := store.Notifications(ctx, 1, 0)
	for _, cs := range counts {
		if cs[data.DeliverySent] != 0 || cs[data.DeliverySending] != 0 || cs[data.DeliveryPending] != 3 {
			t.Fatalf("after the stop: %v", cs)
		}
	}
}

// TestStartCancelledAtAnyPointExitsCleanly: a stop that arrives while the
// server is still starting (migrating, say) is a clean exit, not an error.
func TestStartCancelledAtAnyPointExitsCleanly(t *testing.T) {
	t.Setenv("OSHIRASE_DATABASE", testDSN(t))
	t.Setenv("OSHIRASE_ADMIN_EMAIL", "ops@example.com")
	t.Setenv("OSHIRASE_ADMIN_PASSWORD", "a long enough password")
	for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--addr", freeAddr(t)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
		time.AfterFunc(after, cancel)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("cancelled %s into the start: %v", after, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("cancelled %s into the start: did not return", after)
		}
	}
}

// TestStartsWhileTheDatabaseIsDown: an instance that starts while its
// database does not answer serves the last saved status page (marked
// stale in a header, for operators), answers 503 for the console, and
// takes over in full by itself once the database is back.
func TestStartsWhileTheDatabaseIsDown(t *testing.T) {
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

	// The database goes away; a new instance starts anyway.
	if err := os.Rename(dbDir, dbDir+"-away"); err != nil {
		t.Fatal(err)
	}
	addr = freeAddr(t)
	runCtx, stop = context.WithCancel(ctx)
	defer stop()
	go func() { done <- run(runCtx, []string{"serve", "--addr", addr}, log) }()
	waitHealthy(t, addr, done)
	get := func(path string) (int, string, http.Header) {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	code, body, h := get("/")
	if code != http.StatusOK || !strings.Contains(body, "krewDashboard") || h.Get("X-Oshirase-Stale") == "" {
		t.Fatalf("status page while the database is down: %d stale=%q", code, h.Get("X-Oshirase-Stale"))
	}
	if code, _, _ := get("/api/v2/status.json"); code != http.StatusOK {
		t.Fatalf("status JSON while the database is down: %d", code)
	}
	if code, _, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the database is down: %d", code)
	}
	if code, body, _ := get("/admin/login"); code != http.StatusServiceUnavailable || !strings.Contains(body, "データベースに接続できません") {
		t.Fatalf("console while the database is down: %d", code)
	}

	// Back: the instance takes over in full by itself.
	if err := os.Rename(dbDir+"-away", dbDir); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the instance never took over once the database was back")
		}
	}
	if code, _, _ := get("/admin/login"); code != http.StatusOK {
		t.Fatalf("console after the database came back: %d", code)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyDatabaseStopsStartup: a database file that takes no writes
// is refused at start with a message naming the variable, rather than
// starting and failing every write.
func TestReadOnlyDatabaseStopsStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oshirase.db")
	t.Setenv("OSHIRASE_DATABASE", "sqlite:"+path)
	t.Setenv("OSHIRASE_ADMIN_EMAIL", "ops@example.com")
	t.Setenv("OSHIRASE_ADMIN_PASSWORD", "a long enough password")
	store, err := openStore(context.Background(), mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	// Immutable even for root, which ignores file modes.
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make a file immutable here (chattr: %v %s)", err, out)
	}
	defer exec.Command("chattr", "-i", path).Run()
	err = run(context.Background(), []string{"serve", "--addr", freeAddr(t)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "OSHIRASE_DATABASE") || !strings.Contains(err.Error(), "writes") {
		t.Fatalf("serve on a read-only database: %v", err)
	}
}

// TestReadOnlyCommandsRefuseAMissingDatabase: a dry run (or an export)
// against a mistyped SQLite path says so, and creates nothing.
func TestReadOnlyCommandsRefuseAMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "oshirase-typo.db")
	t.Setenv("OSHIRASE_DATABASE", "sqlite:"+missing)
	csv := filepath.Join(dir, "contracts.csv")
	os.WriteFile(csv, []byte("contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n"), 0o644)
	var out strings.Builder
	err := importContracts(context.Background(), []string{"--dry-run", csv}, &out)
	if err == nil || !strings.Contains(err.Error(), "OSHIRASE_DATABASE") || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("dry run on a missing database: %v", err)
	}
	if err := exportContracts(context.Background(), nil, &out); err == nil {
		t.Fatal("export from a missing database succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a database was created at the mistyped path: %v", err)
	}
}

// TestBadCellIsQuotedShort: a huge bad cell is quoted by its first 80
// characters and its length, not in full.
func TestBadCellIsQuotedShort(t *testing.T) {
	t.Setenv("OSHIRASE_DATABASE", testDSN(t))
	store, err := openStore(context.Background(), mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	dir := t.TempDir()
	huge := strings.Repeat("x", 10<<20)
	csv := filepath.Join(dir, "contracts.csv")
	os.WriteFile(csv, []byte("contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\n"+
		"C-1,会社,krewDashboard,true,山田,"+huge+",ja,primary\n"), 0o644)
	var out strings.Builder
	if err := importContracts(context.Background(), []string{"--dry-run", csv}, &out); err == nil {
		t.Fatal("a bad file was accepted")
	}
	if out.Len() > 2000 || !strings.Contains(out.String(), "10485760") {
		t.Fatalf("output of %d bytes:\n%.500s", out.Len(), out.String())
	}
}

// TestSecretStaysOutOfTheDatabase: with OSHIRASE_SECRET unset, the
// generated secret is kept in a file only this user reads, beside the
// SQLite file; one an earlier version kept in the database moves there,
// unchanged, so links already sent keep working.
func TestSecretStaysOutOfTheDatabase(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		dir := t.TempDir()
		db := filepath.Join(dir, "oshirase.db")
		t.Setenv("OSHIRASE_DATABASE", "sqlite:"+db)
		t.Setenv("OSHIRASE_SECRET", "")
		t.Setenv("OSHIRASE_ADMIN_EMAIL", "ops@example.com")
		t.Setenv("OSHIRASE_ADMIN_PASSWORD", "a long enough password")
		ctx := context.Background()
		store, err := openStore(ctx, mustConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		old := "0123456789abcdef0123456789abcdef-from-an-earlier-version"
		if legacy {
			store.SetSetting(ctx, "secret", old)
		}
		store.Close()
		addr := freeAddr(t)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- run(runCtx, []string{"serve", "--addr", addr}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
		waitHealthy(t, addr, done)
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(db + ".secret")
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("secret file: %v %v", fi, err)
		}
		b, _ := os.ReadFile(db + ".secret")
		if legacy && strings.TrimSpace(string(b)) != old {
			t.Fatal("the earlier secret was not kept")
		}
		store, _ = openStore(ctx, mustConfig(t))
		if v, _ := store.Setting(ctx, "secret"); v != "" {
			t.Fatal("the secret is still in the database")
		}
		store.Close()
	}
	// PostgreSQL: instances must share it, the database must not hold it.
	t.Setenv("OSHIRASE_DATABASE", "postgres://postgres@127.0.0.1:5432/test")
	t.Setenv("OSHIRASE_SECRET", "")
	if _, err := loadConfig(nil); err == nil || !strings.Contains(err.Error(), "OSHIRASE_SECRET") {
		t.Fatalf("PostgreSQL without a secret: %v", err)
	}
}

// lockedBuffer is a log written by the server while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
