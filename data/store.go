// Package data holds Oshirase's gorm models, its queries and its schema
// migrations. It is the only package that talks to the database.
package data

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound is returned when a row asked for by id or key does not exist.
var ErrNotFound = errors.New("data: not found")

// Options configures a Store.
type Options struct {
	// Now returns the current time; tests pass a clock they can move.
	Now func() time.Time
}

// Store is the database handle every other package goes through.
type Store struct {
	db      *gorm.DB
	dialect string
	now     func() time.Time
	fault   *atomic.Pointer[Fault]
	brand   *atomic.Pointer[brandEntry]
	// public is told when work of the store's own (not a request's)
	// changed what the public pages show; see OnPublicChange.
	public *atomic.Pointer[func()]
}

// Open connects to the database named by dsn: "sqlite:PATH" or a
// "postgres://" URL. It does not migrate; call Migrate.
func Open(dsn string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{now: func() time.Time { return opts.Now().UTC().Truncate(time.Microsecond) }, fault: &atomic.Pointer[Fault]{}, brand: &atomic.Pointer[brandEntry]{},
		public: &atomic.Pointer[func()]{}}
	var dialector gorm.Dialector
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("data: sqlite DSN has no path")
		}
		s.dialect = "sqlite"
		createPrivate(path)
		// WAL lets readers run beside the writer; immediate transactions take
		// the write lock up front so two writers wait (busy_timeout) instead of
		// failing with SQLITE_BUSY when they upgrade a read lock.
		q := url.Values{}
		q.Set("_journal_mode", "WAL")
		q.Set("_busy_timeout", "10000")
		q.Set("_foreign_keys", "on")
		q.Set("_txlock", "immediate")
		q.Set("_synchronous", "NORMAL")
		dialector = sqlite.Open("file:" + path + "?" + q.Encode())
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = "postgres"
		dialector = postgres.Open(dsn)
	default:
		return nil, errors.New("data: database must be sqlite:PATH or postgres://…")
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                s.now,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		// A database that is down at start is waited for (main serves the
		// last saved pages meanwhile), not a reason to fail here.
		DisableAutomaticPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("data: open %s: %w", s.dialect, err)
	}
	if err := registerFaults(db, s.fault); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if s.dialect == "postgres" {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s.db = db
	return s, nil
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Now is the store's clock, in UTC.
func (s *Store) Now() time.Time { return s.now() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.checkFault(ctx, false); err != nil {
		return err
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// WithClock returns a store on the same database that reads the time from
// now: tests that need real time (a slow relay) beside a moved clock.
func (s *Store) WithClock(now func() time.Time) *Store {
	return &Store{db: s.db, dialect: s.dialect, fault: s.fault, brand: s.brand, public: s.public, now: func() time.Time { return now().UTC().Truncate(time.Microsecond) }}
}

// Backup writes an online, consistent copy of a SQLite database to path
// (VACUUM INTO: readers and writers carry on meanwhile). It never
// overwrites a file. PostgreSQL has its own tools: pg_dump.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.dialect != "sqlite" {
		return errors.New("data: backup: this is a PostgreSQL database; back it up with pg_dump (and restore with pg_restore)")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("data: backup: %s exists already; give a new file", path)
	}
	// VACUUM INTO takes an empty file: made here, readable by the owner
	// only, as the database is.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("data: backup: %w", err)
	}
	f.Close()
	if err := s.db.WithContext(ctx).Exec("VACUUM INTO ?", path).Error; err != nil {
		os.Remove(path)
		return fmt.Errorf("data: backup: %w", err)
	}
	return nil
}

// createPrivate creates a SQLite database file that does not exist yet,
// empty and readable by its owner only (0600, as the secret file): SQLite
// itself would create it 0644, and it makes the -wal and -shm files with
// the database file's mode. An existing file is left as it is; an
// in-memory database or a URI has no file to make.
func createPrivate(path string) {
	if path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// It exists, or cannot be made (no such directory): SQLite says
		// so at the first query, as a database down at start would.
		return
	}
	f.Close()
}
