package accesslog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/oshirase/oshirase/data"
)

// legacyInstance names the files the old table's rows move to.
const legacyInstance = "moved-from-database"

// MoveLegacy moves the rows of the access_log table (schema 3 to 8) into
// daily files in dir and their counts into the usage counters, then drops
// the table. Day by day, the file is written whole first; the rows are
// deleted and counted in one transaction after it. A stop part way leaves
// the rest of the rows for the next start, which rewrites the file of the
// day it was on: nothing is lost or counted twice.
func MoveLegacy(ctx context.Context, store *data.Store, dir string, loc *time.Location, log *slog.Logger) (int64, error) {
	if !store.HasLegacyAccessLog(ctx) {
		return 0, nil
	}
	first, last, n, err := store.LegacyAccessLogSpan(ctx)
	if err != nil {
		return 0, fmt.Errorf("accesslog: old access log: %w", err)
	}
	var moved int64
	if n > 0 {
		log.Info("moving the access log out of the database into files", "entries", n, "dir", dir)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return 0, fmt.Errorf("accesslog: %w", err)
		}
		f := first.In(loc)
		day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
		for !day.After(last) {
			next := day.AddDate(0, 0, 1)
			k, err := moveDay(ctx, store, dir, day, next, loc)
			if errors.Is(err, data.ErrMovedMeanwhile) {
				log.Warn("another instance moved this day of the access log first", "day", day.Format(DayLayout))
			} else if err != nil {
				return moved, err
			}
			moved += k
			day = next
		}
	}
	if _, _, left, err := store.LegacyAccessLogSpan(ctx); err != nil || left > 0 {
		return moved, fmt.Errorf("accesslog: %d old entries are still in the database (%v); the next start tries again", left, err)
	}
	if err := store.DropLegacyAccessLog(ctx); err != nil {
		return moved, fmt.Errorf("accesslog: drop the old access log: %w", err)
	}
	if moved > 0 {
		log.Info("the access log moved into files", "entries", moved, "dir", dir)
	}
	return moved, nil
}

func moveDay(ctx context.Context, store *data.Store, dir string, from, to time.Time, loc *time.Location) (int64, error) {
	path := filepath.Join(dir, name(from.Format(DayLayout), legacyInstance)+".gz")
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return 0, fmt.Errorf("accesslog: %w", err)
	}
	defer os.Remove(tmp)
	zw := gzip.NewWriter(out)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	u := data.NewUsage()
	var n, after int64
	for {
		rows, err := store.LegacyAccessLog(ctx, from, to, after, 5000)
		if err != nil {
			out.Close()
			return 0, fmt.Errorf("accesslog: read old entries: %w", err)
		}
		for _, r := range rows {
			e := Entry{At: r.At.UTC(), Method: r.Method, Route: r.Route, Path: r.Path, Status: r.Status, Bytes: r.Bytes,
				LatencyUS: r.LatencyUS, IP: r.IP, UserAgent: r.UserAgent, Visitor: r.Visitor}
			if r.OperatorID != nil {
				e.Operator = *r.OperatorID
			}
			if err := enc.Encode(&e); err != nil {
				out.Close()
				return 0, err
			}
			u.Add(Key(e, loc), e.Bytes, e.Visitor)
			after = r.ID
		}
		n += int64(len(rows))
		if len(rows) < 5000 {
			break
		}
	}
	err = zw.Close()
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if n == 0 {
		return 0, nil
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return 0, fmt.Errorf("accesslog: write %s: %w", filepath.Base(path), err)
	}
	if err := store.RetireLegacyAccessLog(ctx, from, to, n, u); err != nil {
		return 0, err
	}
	return n, nil
}
