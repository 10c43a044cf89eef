package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
	"github.com/oshirase/oshirase/mail/mailtest"
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
	dsn := datatest.DSN(t)
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
	go func() {
		done <- run(runCtx, []string{"serve", "--addr", addr}, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	t.Setenv("OSHIRASE_DATABASE", datatest.DSN(t))
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
