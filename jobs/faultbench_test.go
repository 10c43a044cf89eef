package jobs

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

// The fault benchmark: a fanout through a relay that refuses at the
// session level, then is slow, while the dispatcher is killed with
// SIGKILL and restarted. Not run by default:
//
//	go test -run TestFaultBench -faultbench -v ./jobs/
//
// It prints delivered, lost and duplicated messages and the time from the
// restart to the last delivery.
var (
	faultBench  = flag.Bool("faultbench", false, "run the fault benchmark")
	fbRecips    = flag.Int("faultbench.recipients", 5000, "recipients of the notice")
	fbRefuse    = flag.Duration("faultbench.refuse", 20*time.Second, "how long the relay answers 554 at EHLO")
	fbSlow      = flag.Duration("faultbench.slow", 7*time.Second, "how long each message takes while the relay is slow")
	fbSlowFor   = flag.Duration("faultbench.slowfor", 30*time.Second, "how long the relay is slow after it accepts again")
	fbKillAfter = flag.Duration("faultbench.kill", 35*time.Second, "when the dispatcher is killed (from the start)")
	fbConns     = flag.Int("faultbench.connections", 4, "SMTP connections of the dispatcher")
)

// TestFaultBenchDispatcher is the dispatcher process of the benchmark; it
// does nothing unless started by TestFaultBench.
func TestFaultBenchDispatcher(t *testing.T) {
	dsn, smtpURL := os.Getenv("FAULTBENCH_DSN"), os.Getenv("FAULTBENCH_SMTP")
	if dsn == "" || smtpURL == "" {
		t.Skip("the dispatcher process of TestFaultBench")
	}
	store, err := data.Open(dsn, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mail.ParseSMTPURL(smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("https://status.example.com")
	from, _ := mail.ParseFrom("Status <status@example.com>")
	comp, err := mail.NewComposer(mail.ComposerOptions{BaseURL: base, From: from, Secret: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(store, mail.NewSender(cfg, "localhost"), comp, DispatchOptions{Workers: *fbConns, Rate: -1},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	for {
		d.Sweep(context.Background())
		wait := 200 * time.Millisecond
		if next, err := store.NextDue(context.Background()); err == nil && !next.IsZero() {
			wait = max(min(time.Until(next), time.Second), 50*time.Millisecond)
		}
		time.Sleep(wait)
	}
}

func TestFaultBench(t *testing.T) {
	if !*faultBench {
		t.Skip("the fault benchmark runs with -faultbench")
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "bench.db")
	if pg := os.Getenv("OSHIRASE_TEST_POSTGRES"); pg != "" {
		t.Log("on SQLite; the PostgreSQL run uses the same code with FAULTBENCH on a schema of its own")
	}
	store, err := data.Open(dsn, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := store.CreateProduct(ctx, data.ProductInput{NameJA: "krewDashboard"})
	c, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "CDN"})
	for i := 0; i < *fbRecips; i++ {
		k, err := store.CreateContract(ctx, data.ContractInput{Code: fmt.Sprintf("C%05d", i), Name: "顧客", Active: true, ProductIDs: []int64{p.ID}})
		if err != nil {
			t.Fatal(err)
		}
		store.AddContact(ctx, k.ID, data.ContactInput{Email: fmt.Sprintf("user%05d@example.com", i), Lang: "ja", Role: data.RolePrimary})
	}
	srv := mailtest.Start(t)
	start := time.Now()
	var phase atomic.Int32 // 0 refusing, 1 slow, 2 normal
	srv.RefuseSession(func() *smtp.SMTPError {
		if phase.Load() == 0 {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Service unavailable; client blocked"}
		}
		return nil
	})
	go func() {
		time.Sleep(*fbRefuse)
		phase.Store(1)
		srv.SlowData(*fbSlow)
		time.Sleep(*fbSlowFor)
		phase.Store(2)
		srv.SlowData(0)
	}()
	if _, err := store.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "critical", Status: data.Investigating, BodyJA: "調査中です。",
		Components: map[int64]string{c.ID: data.MajorOutage}, Notice: data.Notice{Send: true}}); err != nil {
		t.Fatal(err)
	}
	startDispatcher := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFaultBenchDispatcher$", fmt.Sprintf("-faultbench.connections=%d", *fbConns))
		cmd.Env = append(os.Environ(), "FAULTBENCH_DSN="+dsn, "FAULTBENCH_SMTP="+srv.URL())
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	cmd := startDispatcher()
	time.Sleep(time.Until(start.Add(*fbKillAfter)))
	inFlight := srv.InData()
	sentBefore := len(srv.Messages())
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	restarted := time.Now()
	cmd = startDispatcher()
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}()
	last := restarted
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		got := srv.ByRecipient()
		if len(got) >= *fbRecips {
			last = time.Now()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A moment for stragglers (duplicates would show up now).
	time.Sleep(3 * time.Second)
	msgs := srv.Messages()
	got := srv.ByRecipient()
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	_ = msgs
	counts := map[string]int{}
	ns, all, _, _ := store.Notifications(ctx, 1, 0)
	if len(ns) > 0 {
		counts = all[ns[0].ID]
	}
	t.Logf("fault benchmark: %d recipients; relay refused at EHLO for %s, then %s a message for %s; dispatcher killed at %s (%d sent, %d in flight) and restarted",
		*fbRecips, *fbRefuse, *fbSlow, *fbSlowFor, *fbKillAfter, sentBefore, inFlight)
	t.Logf("delivered %d, lost %d, duplicated %d (in flight at the kill: %d); restart to last delivery ≈ %s; states %v",
		len(got), *fbRecips-len(got), dups, inFlight, last.Sub(restarted).Round(100*time.Millisecond), counts)
	if len(got) != *fbRecips {
		t.Errorf("%d recipients never got the notice", *fbRecips-len(got))
	}
	if dups > inFlight {
		t.Errorf("%d duplicates, more than the %d in flight at the kill", dups, inFlight)
	}
}
