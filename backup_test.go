package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/server"
)

// TestBackupRestoresTheSamePage: "oshirase backup FILE" copies a live
// SQLite database; the copy, opened as a database, serves the identical
// status page and exports the identical contracts. It never overwrites a
// file; on PostgreSQL it says to use pg_dump.
func TestBackupRestoresTheSamePage(t *testing.T) {
	dsn := testDSN(t)
	t.Setenv("OSHIRASE_DATABASE", dsn)
	ctx := context.Background()
	store, err := openStore(ctx, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.CreateProduct(ctx, productInput("krewDashboard"))
	c, _ := store.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "配信CDN"})
	if _, err := store.CreateIncident(ctx, data.NewIncident{TitleJA: "配信の遅延", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{c.ID: data.PartialOutage}}); err != nil {
		t.Fatal(err)
	}
	k, _ := store.CreateContract(ctx, data.ContractInput{Code: "K-1", Name: "顧客", Active: true, ProductIDs: []int64{p.ID}})
	store.AddContact(ctx, k.ID, data.ContactInput{Name: "主 太郎", Email: "taro@example.com", Lang: "ja", Role: data.RolePrimary})
	store.Close()

	file := filepath.Join(t.TempDir(), "copy.db")
	var out strings.Builder
	err = backup(ctx, []string{file}, &out)
	if !strings.HasPrefix(dsn, "sqlite:") {
		if err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Fatalf("PostgreSQL backup: %v", err)
		}
		return
	}
	if err != nil || !strings.Contains(out.String(), "backup written") {
		t.Fatalf("backup: %v %s", err, out.String())
	}
	if err := backup(ctx, []string{file}, io.Discard); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second backup over the first: %v", err)
	}
	if err := backup(ctx, nil, io.Discard); err == nil {
		t.Fatal("no file given, no error")
	}

	var a, b strings.Builder
	if err := exportContracts(ctx, nil, &a); err != nil {
		t.Fatal(err)
	}
	if err := exportContracts(ctx, []string{"--database", "sqlite:" + file}, &b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() || !strings.Contains(b.String(), "taro@example.com") {
		t.Fatalf("contracts differ:\n%s\n---\n%s", a.String(), b.String())
	}
	if pa, pb := statusPage(t, dsn), statusPage(t, "sqlite:"+file); pa != pb || !strings.Contains(pb, "配信の遅延") {
		t.Fatalf("the restored page differs")
	}
}

// statusPage renders / from a database at a fixed moment.
func statusPage(t *testing.T, dsn string) string {
	t.Helper()
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	store, err := data.Open(dsn, data.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base, _ := url.Parse("http://status.example.com")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	app, err := server.New(server.Options{BaseURL: base, Location: tokyo, Now: func() time.Time { return at },
		Secret: "backup-test-secret-0123456789abcdef"}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d", dsn, rec.Code)
	}
	return rec.Body.String()
}
