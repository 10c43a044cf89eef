package data

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"
)

// ErrUnavailable marks an error as the database being unreachable, hung,
// closed or read-only: not the request's fault, and worth a 503.
var ErrUnavailable = errors.New("data: the database is unavailable")

// Unavailable reports whether err says the database cannot serve now
// (down, unreachable, timed out, closed, read-only) rather than that the
// request was wrong.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrReadonly, sqlite3.ErrCantOpen, sqlite3.ErrIoErr, sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrFull:
			return true
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P: operator intervention (shutdown);
		// 25006: read-only transaction; 53: insufficient resources.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "25006" || strings.HasPrefix(pe.Code, "53")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is closed") || strings.Contains(msg, "readonly database") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "broken pipe")
}

// ReadOnly reports whether err says the database takes no writes: a
// read-only file or a read-only replica. That is a configuration to fix,
// not an outage to wait out.
func ReadOnly(err error) bool {
	if err == nil {
		return false
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrReadonly {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "25006" {
		return true
	}
	return strings.Contains(err.Error(), "readonly database") || strings.Contains(err.Error(), "read-only transaction")
}

// Fault is called before every statement the store runs (write says
// whether it changes anything); an error fails the statement, and a fault
// may also block. Fault tests use it to make a real database hang, go down
// or turn read-only at a moment they choose.
type Fault func(ctx context.Context, write bool) error

// SetFault installs f (nil removes it).
func (s *Store) SetFault(f Fault) {
	if f == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&f)
}

func (s *Store) checkFault(ctx context.Context, write bool) error {
	if f := s.fault.Load(); f != nil {
		return (*f)(ctx, write)
	}
	return nil
}

// registerFaults hooks the fault check before every kind of statement.
func registerFaults(db *gorm.DB, fault *atomic.Pointer[Fault]) error {
	hook := func(write bool) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			if f := fault.Load(); f != nil {
				if err := (*f)(tx.Statement.Context, write); err != nil {
					tx.AddError(err)
				}
			}
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().Before("gorm:query").Register("oshirase:fault_query", hook(false)),
		cb.Row().Before("gorm:row").Register("oshirase:fault_row", hook(false)),
		cb.Raw().Before("gorm:raw").Register("oshirase:fault_raw", hook(true)),
		cb.Create().Before("gorm:create").Register("oshirase:fault_create", hook(true)),
		cb.Update().Before("gorm:update").Register("oshirase:fault_update", hook(true)),
		cb.Delete().Before("gorm:delete").Register("oshirase:fault_delete", hook(true)),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckWritable tries a write and rolls it back: a read-only file or a
// read-only replica fails here, at start and in /readyz, rather than on
// the first operator action.
func (s *Store) CheckWritable(ctx context.Context) error {
	probe := errors.New("probe done")
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM settings WHERE key = ?", "writable-probe").Error; err != nil {
			return err
		}
		if err := tx.Exec("INSERT INTO settings (key, value) VALUES (?, ?)", "writable-probe", "").Error; err != nil {
			return err
		}
		return probe
	})
	if errors.Is(err, probe) {
		return nil
	}
	return err
}
