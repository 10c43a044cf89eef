package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/internal/config"
	"github.com/oshirase/oshirase/internal/outbound"
)

func runOut(t *testing.T, f func(context.Context, []string, io.Writer) error, args ...string) (string, error) {
	t.Helper()
	var b bytes.Buffer
	err := f(context.Background(), args, &b)
	return b.String(), err
}

// TestImportStatuspageCommand imports the fixtures from files, reruns
// (nothing new), dry-runs a fetch from a page over HTTP, then exports the
// incident history and imports it into another database.
func TestImportStatuspageCommand(t *testing.T) {
	t.Setenv("OSHIRASE_DATABASE", testDSN(t))
	dir := filepath.Join("internal", "spimport", "testdata")
	files := []string{filepath.Join(dir, "summary.json"), filepath.Join(dir, "incidents.json"), filepath.Join(dir, "scheduled-maintenances.json")}
	out, err := runOut(t, importStatuspage, append([]string{"--lang", "en"}, files...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "incidents           2 created, 0 updated, 0 unchanged") {
		t.Errorf("first run:\n%s", out)
	}
	out, err = runOut(t, importStatuspage, append([]string{"--lang", "en"}, files...)...)
	if err != nil || !strings.Contains(out, "incidents           0 created, 0 updated, 2 unchanged") {
		t.Errorf("rerun: %v\n%s", err, out)
	}

	// The same page, fetched: the same source, so nothing new.
	mux := http.NewServeMux()
	for _, n := range []string{"summary.json", "incidents.json", "scheduled-maintenances.json"} {
		raw, _ := os.ReadFile(filepath.Join(dir, n))
		mux.HandleFunc("/api/v2/"+n, func(w http.ResponseWriter, _ *http.Request) { w.Write(raw) })
	}
	page := httptest.NewServer(mux)
	defer page.Close()
	// Refused under the default policy: loopback, and plain http.
	if out, err := runOut(t, importStatuspage, "--dry-run", "--url", page.URL); err == nil {
		t.Fatalf("loopback fetched under the default policy:\n%s", out)
	}
	old := importOutbound
	importOutbound = func(*config.Config) *outbound.Client {
		return outbound.New(outbound.Options{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, MaxResponse: 32 << 20})
	}
	defer func() { importOutbound = old }()
	out, err = runOut(t, importStatuspage, "--dry-run", "--lang", "en", "--url", page.URL+"/")
	if err != nil || !strings.Contains(out, "dry run: nothing was changed") || !strings.Contains(out, "maintenances        0 created, 0 updated, 2 unchanged") {
		t.Errorf("fetch: %v\n%s", err, out)
	}

	// Hostile input: a clear error, nothing saved.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"page": {"id": "x"}, "incidents": [{"id": "i", "name": "n", "status": "weird", "impact": "major", "started_at": "2026-01-01T00:00:00Z", "incident_updates": []}]}`), 0o600)
	if out, err := runOut(t, importStatuspage, bad); err == nil || !strings.Contains(err.Error(), "nothing was imported") || !strings.Contains(out, "status: invalid_choice") {
		t.Errorf("hostile: %v\n%s", err, out)
	}

	csvFile := filepath.Join(t.TempDir(), "incidents.csv")
	if out, err := runOut(t, exportIncidents, csvFile); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Setenv("OSHIRASE_DATABASE", testDSN(t))
	if out, err := runOut(t, importIncidents, csvFile); err != nil || !strings.Contains(out, "incidents           2 created") {
		t.Fatalf("csv import: %v\n%s", err, out)
	}
	if out, err := runOut(t, importIncidents, "--dry-run", csvFile); err != nil || !strings.Contains(out, "incidents           0 created, 0 updated, 2 unchanged") {
		t.Fatalf("csv rerun: %v\n%s", err, out)
	}
}
