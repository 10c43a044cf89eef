package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(method, path string, form url.Values) (int, string, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		form.Set("csrf", b.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if m := csrfField.FindSubmatch(raw); m != nil {
		b.csrf = string(m[1])
	}
	return res.StatusCode, string(raw), res.Header.Get("Location")
}

// TestIncidentEmailLeavesWithinSeconds runs the real server with an SMTP
// server, builds a catalogue and a contract through the console, declares
// an incident with the email box ticked, and waits for the message: the
// dispatcher is woken by the declaration, not by its poll.
func TestIncidentEmailLeavesWithinSeconds(t *testing.T) {
	smtp := mailtest.Start(t)
	t.Setenv("OSHIRASE_DATABASE", testDSN(t))
	t.Setenv("OSHIRASE_SMTP_URL", smtp.URL())
	t.Setenv("OSHIRASE_MAIL_FROM", "Status <status@example.com>")
	t.Setenv("OSHIRASE_ADMIN_EMAIL", "ops@example.com")
	t.Setenv("OSHIRASE_ADMIN_PASSWORD", "a long enough password")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: "http://" + addr, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	waitHealthy(t, addr, nil)
	b.do("GET", "/admin/login", nil)
	if code, _, _ := b.do("POST", "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"a long enough password"}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	b.do("GET", "/admin/products/new", nil)
	b.do("POST", "/admin/products", url.Values{"name_ja": {"krewDashboard"}})
	_, page, _ := b.do("GET", "/admin/products", nil)
	pid := regexp.MustCompile(`/admin/products/(\d+)/edit`).FindStringSubmatch(page)[1]
	b.do("POST", "/admin/components", url.Values{"product_id": {pid}, "name_ja": {"CDN"}})
	_, page, _ = b.do("GET", "/admin/products", nil)
	cid := regexp.MustCompile(`/admin/components/(\d+)/edit`).FindStringSubmatch(page)[1]
	_, _, loc := b.do("POST", "/admin/contracts", url.Values{"code": {"K-1"}, "name": {"株式会社サンプル"}, "products": {pid}, "active": {"1"}})
	b.do("GET", loc, nil)
	b.do("POST", loc+"/contacts", url.Values{"contact_name": {"山田 太郎"}, "email": {"taro@example.jp"}, "lang": {"ja"}, "role": {"primary"}})

	b.do("GET", "/admin/incidents/new", nil)
	code, _, _ := b.do("POST", "/admin/incidents", url.Values{"title_ja": {"CDNで障害が発生しています"}, "impact": {"critical"},
		"status": {"investigating"}, "component_" + cid: {"major_outage"}, "body_ja": {"調査中です。"}, "notify": {"1"}})
	if code != http.StatusSeeOther {
		t.Fatalf("declare: %d", code)
	}
	// Woken by the declaration, not by the minute tick; generous for a
	// busy machine, and still far under a minute.
	deadline := time.Now().Add(20 * time.Second)
	for len(smtp.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	msgs := smtp.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "taro@example.jp" {
		t.Fatalf("received %+v", msgs)
	}
	if subj := msgs[0].Parse(t).Header.Get("Subject"); !strings.Contains(subj, "=?UTF-8?") {
		t.Fatalf("subject %q", subj)
	}
	// The message links to a preferences page that works.
	link := regexp.MustCompile(`/preferences/[0-9]+\.[A-Za-z0-9_=-]+`).Find(msgs[0].Data)
	if link == nil {
		t.Fatalf("no preferences link in\n%s", msgs[0].Data)
	}
	if code, body, _ := b.do("GET", string(link), nil); code != http.StatusOK || !strings.Contains(body, "taro@example.jp") {
		t.Fatalf("preferences link: %d", code)
	}
}

func TestContractsCommands(t *testing.T) {
	dsn := testDSN(t)
	t.Setenv("OSHIRASE_DATABASE", dsn)
	dir := t.TempDir()
	ctx := context.Background()
	// A product to refer to, made through the store as the console would.
	store, err := openStore(ctx, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	store.CreateProduct(ctx, productInput("krewDashboard"))
	store.Close()

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\nC-1,A社,NoSuch,true,a,a@example.com,ja,primary\n"), 0o600)
	var out strings.Builder
	err = importContracts(ctx, []string{bad}, &out)
	if err == nil || !strings.Contains(out.String(), "line 2: products names an unknown product: NoSuch") {
		t.Fatalf("bad file: %v\n%s", err, out.String())
	}
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("contract_code,contract_name,products,active,contact_name,contact_email,contact_language,contact_role\nC-1,A社,krewDashboard,true,a,a@example.com,ja,primary\n"), 0o600)
	out.Reset()
	if err := importContracts(ctx, []string{"--dry-run", good}, &out); err != nil || !strings.Contains(out.String(), "dry run") {
		t.Fatalf("dry run: %v %s", err, out.String())
	}
	out.Reset()
	if err := exportContracts(ctx, nil, &out); err != nil || strings.Contains(out.String(), "C-1") {
		t.Fatalf("dry run wrote: %v %s", err, out.String())
	}
	out.Reset()
	if err := importContracts(ctx, []string{good}, &out); err != nil || !strings.Contains(out.String(), "1 contracts created") {
		t.Fatalf("import: %v %s", err, out.String())
	}
	out.Reset()
	if err := exportContracts(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "C-1,A社,krewDashboard,true,a,a@example.com,ja,primary") {
		t.Fatalf("export: %v %s", err, out.String())
	}
}

func TestMailTestCommand(t *testing.T) {
	smtp := mailtest.Start(t)
	t.Setenv("OSHIRASE_SMTP_URL", smtp.URL())
	t.Setenv("OSHIRASE_MAIL_FROM", "Status <status@example.com>")
	var out strings.Builder
	if err := mailTest(context.Background(), []string{"--to", "me@example.com"}, &out); err != nil {
		t.Fatal(err)
	}
	if got := smtp.ByRecipient(); got["me@example.com"] != 1 {
		t.Fatalf("received %v", got)
	}
	t.Setenv("OSHIRASE_SMTP_URL", "smtp://127.0.0.1:1?tls=none")
	err := mailTest(context.Background(), []string{"--to", "me@example.com"}, &out)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "check the host and port") {
		t.Fatalf("unreachable server: %v", err)
	}
	t.Setenv("OSHIRASE_SMTP_URL", "smtp://"+smtp.Addr+"?tls=starttls")
	err = mailTest(context.Background(), []string{"--to", "me@example.com"}, &out)
	if err == nil || !strings.Contains(err.Error(), "refusing to send in clear") {
		t.Fatalf("no STARTTLS: %v", err)
	}
}

func TestJobsRunCommand(t *testing.T) {
	t.Setenv("OSHIRASE_DATABASE", testDSN(t))
	t.Setenv("OSHIRASE_SMTP_URL", "")
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := runJob(context.Background(), []string{"retention"}, &out, log); err != nil || !strings.Contains(out.String(), "retention: job.summary.cleanup Entries=0") {
		t.Fatalf("%v %q", err, out.String())
	}
	if err := runJob(context.Background(), []string{"nonsense"}, &out, log); err == nil || !strings.Contains(err.Error(), "upgrade-notices") {
		t.Fatalf("unknown job: %v", err)
	}
}
