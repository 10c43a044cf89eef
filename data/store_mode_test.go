package data_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/oshirase/oshirase/data"
)

// TestSQLiteFilesPrivate: a new SQLite database, its -wal and -shm files
// and its backups are readable by their owner only (0600), as the secret
// file is; SQLite alone would make them 0644. This is about files, so it
// runs on SQLite whatever the database of the other tests.
func TestSQLiteFilesPrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "oshirase.db")
	s, err := data.Open("sqlite:"+path, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(name), mode)
		}
	}
	backup := filepath.Join(dir, "backup.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("backup: mode %o, want 600", mode)
	}
	if fi.Size() == 0 {
		t.Error("the backup is empty")
	}
	// The backup is a database.
	b, err := data.Open("sqlite:"+backup, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Branding(ctx); err != nil {
		t.Fatalf("the backup has no tables: %v", err)
	}
	// A backup never overwrites.
	if err := s.Backup(ctx, backup); err == nil {
		t.Fatal("a backup overwrote a file")
	}
}
