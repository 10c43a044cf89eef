package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

// TestTwoInstancesOnePostgres runs two real "oshirase serve" processes on
// one PostgreSQL database: a declaration made through one shows on the
// other's page within 5 seconds, and its 1,000-recipient fanout is shared
// by both dispatchers with every address mailed exactly once.
func TestTwoInstancesOnePostgres(t *testing.T) {
	if os.Getenv("OSHIRASE_TEST_POSTGRES") == "" {
		t.Skip("two instances share a PostgreSQL database: set OSHIRASE_TEST_POSTGRES (CI does)")
	}
	if testing.Short() {
		t.Skip("builds and runs two servers")
	}
	dsn := testDSN(t)
	ctx := context.Background()
	t.Setenv("OSHIRASE_DATABASE", dsn)
	store, err := openStore(ctx, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.CreateProduct(ctx, productInput("krewDashboard"))
	c, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "配信CDN"})
	k, _ := store.CreateContract(ctx, data.ContractInput{Code: "K-BIG", Name: "大口顧客", Active: true, ProductIDs: []int64{p.ID}})
	for i := 0; i < 1000; i++ {
		if _, err := store.AddContact(ctx, k.ID, data.ContactInput{Email: fmt.Sprintf("user%04d@example.com", i), Lang: "ja", Role: data.RolePrimary}); err != nil {
			t.Fatal(err)
		}
	}
	defer store.Close()

	bin := filepath.Join(t.TempDir(), "oshirase")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	smtp := mailtest.Start(t)
	start := func(name string, admin bool) string {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "OSHIRASE_DATABASE="+dsn, "OSHIRASE_ADDR="+addr, "OSHIRASE_BASE_URL=http://"+addr,
			"OSHIRASE_INSTANCE="+name, "OSHIRASE_ACCESS_LOG_DIR="+t.TempDir(), "OSHIRASE_SNAPSHOT=off",
			"OSHIRASE_SMTP_URL="+smtp.URL(), "OSHIRASE_MAIL_FROM=Status <status@example.com>", "OSHIRASE_SMTP_RATE=10")
		if admin {
			cmd.Env = append(cmd.Env, "OSHIRASE_ADMIN_EMAIL=ops@example.com", "OSHIRASE_ADMIN_PASSWORD=a long enough password")
		}
		logf, _ := os.Create(filepath.Join(t.TempDir(), name+".log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
			}
		})
		waitHealthy(t, addr, nil)
		return addr
	}
	a := start("a", true)
	b := start("b", false)

	// Both have rendered the page before the change.
	pageOf := func(addr string) string {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 64<<10)
		for {
			n, err := res.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return sb.String()
	}
	pageOf(b)

	jar, _ := cookiejar.New(nil)
	br := &browser{t: t, base: "http://" + a, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	br.do("GET", "/admin/login", nil)
	if code, _, _ := br.do("POST", "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"a long enough password"}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	br.do("GET", "/admin/incidents/new", nil)
	declared := time.Now()
	code, _, loc := br.do("POST", "/admin/incidents", url.Values{"title_ja": {"二台構成での障害告知"}, "impact": {"critical"},
		"status": {"investigating"}, fmt.Sprintf("component_%d", c.ID): {"major_outage"}, "body_ja": {"調査中です。"}, "notify": {"1"}})
	if code != http.StatusSeeOther {
		t.Fatalf("declare: %d", code)
	}
	for !strings.Contains(pageOf(b), "二台構成での障害告知") {
		if time.Since(declared) > 5*time.Second {
			t.Fatalf("the other instance still does not show the incident after %s", time.Since(declared))
		}
		time.Sleep(100 * time.Millisecond)
	}
	shown := time.Since(declared)

	deadline := time.Now().Add(4 * time.Minute)
	for len(smtp.Messages()) < 1000 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	sent := time.Since(declared)
	time.Sleep(2 * time.Second) // anything sent twice would arrive by now
	msgs := smtp.Messages()
	seen := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			seen[to]++
		}
	}
	if len(msgs) != 1000 || len(seen) != 1000 {
		t.Fatalf("%d messages to %d addresses, want 1000 to 1000", len(msgs), len(seen))
	}
	id := regexp.MustCompile(`/admin/incidents/(\d+)`).FindStringSubmatch(loc)
	if id == nil {
		t.Fatalf("no incident in %q", loc)
	}
	ns, _, _, err := store.Notifications(ctx, 1, 0)
	if err != nil || len(ns) != 1 {
		t.Fatalf("notifications: %v %v", ns, err)
	}
	split, err := store.DeliveryClaimers(ctx, ns[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(split) != 2 {
		t.Fatalf("the fanout was not shared: %v", split)
	}
	t.Logf("shown on the other instance after %s; 1,000 messages sent in %s, split %v", shown.Round(time.Millisecond), sent.Round(time.Second), split)
}
