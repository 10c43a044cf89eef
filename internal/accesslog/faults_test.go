package accesslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// fullDisk lets room bytes through to the file and then fails as a full
// disk does: a short write and ENOSPC. Freeing the disk is setting room
// to a large number.
type fullDisk struct {
	w    io.Writer
	room *atomic.Int64
}

func (d fullDisk) Write(p []byte) (int, error) {
	left := d.room.Load()
	if int64(len(p)) <= left {
		d.room.Add(-int64(len(p)))
		return d.w.Write(p)
	}
	n, _ := d.w.Write(p[:max(left, 0)])
	d.room.Add(-int64(n))
	return n, syscall.ENOSPC
}

// TestAFullDiskLosesWholeLinesAndCountsThem fills the disk in the middle
// of a line, at a line's end and before any byte: the day file keeps only
// whole lines, every entry is either written or counted as a write error,
// and once the disk has room again writing resumes on a clean line.
func TestAFullDiskLosesWholeLinesAndCountsThem(t *testing.T) {
	line := func() int64 { // the length of one line the rig writes
		var b bytes.Buffer
		g := newRig(t, nil, nil)
		g.hit("/", 200, "192.0.2.1")
		g.rec.Close()
		b.Write(must(os.ReadFile(filepath.Join(g.dir, "access-2026-11-30.web-1.jsonl"))))
		return int64(b.Len())
	}()
	for _, tc := range []struct {
		name    string
		room    int64 // bytes the disk takes before it is full
		written int64 // entries of the 10 that fit
	}{
		{"full before any byte", 0, 0},
		{"full mid-line", 3*line + line/2, 3},
		{"full at a line's end", 4 * line, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			room := &atomic.Int64{}
			room.Store(tc.room)
			g := newRig(t, nil, func(o *Options) {
				o.wrap = func(w io.Writer) io.Writer { return fullDisk{w, room} }
			})
			for range 10 {
				g.hit("/", 200, "192.0.2.1")
			}
			g.rec.Flush()
			if g.rec.Written() != tc.written || g.rec.Failed() != 10-tc.written || g.rec.Dropped() != 0 {
				t.Fatalf("written %d, failed %d, dropped %d; want %d written", g.rec.Written(), g.rec.Failed(), g.rec.Dropped(), tc.written)
			}
			path := filepath.Join(g.dir, "access-2026-11-30.web-1.jsonl")
			if es := readAll(t, path); int64(len(es)) != tc.written {
				t.Fatalf("the file holds %d entries, want %d", len(es), tc.written)
			}
			room.Store(1 << 30)
			g.hit("/history", 200, "192.0.2.1")
			g.rec.Flush()
			es := readAll(t, path)
			if int64(len(es)) != tc.written+1 || es[len(es)-1].Path != "/history" {
				t.Fatalf("after the disk has room: %d entries", len(es))
			}
			if b := must(os.ReadFile(path)); b[len(b)-1] != '\n' {
				t.Fatal("the file does not end with a whole line")
			}
		})
	}
}

// TestAFailingStdoutIsCountedAsWriteErrors: standard output that refuses
// the lines counts them as write errors, not as a full queue.
func TestAFailingStdoutIsCountedAsWriteErrors(t *testing.T) {
	room := &atomic.Int64{}
	g := newRig(t, nil, func(o *Options) { o.Stdout = fullDisk{io.Discard, room} })
	for range 5 {
		g.hit("/", 200, "192.0.2.1")
	}
	g.rec.Flush()
	if g.rec.Failed() != 5 || g.rec.Dropped() != 0 || g.rec.Written() != 0 {
		t.Fatalf("failed %d, dropped %d, written %d", g.rec.Failed(), g.rec.Dropped(), g.rec.Written())
	}
}

// TestAKillLosesNoCounterTheFilesHold stops the recorder the way kill -9
// does for the counters (the lines are in the file, the counters never
// reached the database) and starts it again: the start counts what the
// files hold and nothing twice.
func TestAKillLosesNoCounterTheFilesHold(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(g *rig) // after the kill, before the start
		want  int64        // requests counted for the day
	}{
		{"lines written, counters lost", func(*rig) {}, 30},
		{"and the last line cut short", func(g *rig) {
			f := must(os.OpenFile(filepath.Join(g.dir, "access-2026-11-30.web-1.jsonl"), os.O_APPEND|os.O_WRONLY, 0))
			f.WriteString(`{"at":"2026-11-30T01:00:00Z","meth`)
			f.Close()
		}, 30},
		{"another instance's file is left to it", func(g *rig) {
			other := filepath.Join(g.dir, "access-2026-11-30.web-2.jsonl")
			b := must(os.ReadFile(filepath.Join(g.dir, "access-2026-11-30.web-1.jsonl")))
			os.WriteFile(other, b, 0o640)
		}, 30},
		{"a file from before the counting marks", func(g *rig) {
			os.Remove(filepath.Join(g.dir, countedName(g.opts.Instance)))
		}, 10}, // nothing known is counted twice; what was lost stays lost
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := datatest.Open(t, datatest.NewClock(time.Now()))
			var down atomic.Bool
			g := newRig(t, store, func(o *Options) {
				o.Usage = func(ctx context.Context, u *data.Usage) error {
					if down.Load() {
						return errors.New("killed")
					}
					return store.AddUsage(ctx, u)
				}
			})
			for i := range 10 {
				g.hit("/", 200, fmt.Sprintf("10.0.0.%d", i))
			}
			g.rec.Flush() // these counters are stored
			for i := range 20 {
				g.hit("/history", 200, fmt.Sprintf("10.0.1.%d", i))
			}
			down.Store(true)
			g.rec.Flush() // these lines are written, their counters are not
			g.rec.Close()
			tc.crash(g)

			down.Store(false)
			g.clock.Advance(time.Minute)
			g.start()
			g.rec.Flush()
			rows, err := store.UsageByDay(context.Background(), "2026-11-30")
			if err != nil || len(rows) != 1 || rows[0].Requests != tc.want {
				t.Fatalf("after the start: %+v (%v), want %d requests", rows, err, tc.want)
			}
			// A second start finds nothing more to count.
			g.rec.Close()
			g.start()
			g.hit("/", 200, "10.0.0.1")
			g.rec.Flush()
			rows, _ = store.UsageByDay(context.Background(), "2026-11-30")
			if rows[0].Requests != tc.want+1 {
				t.Fatalf("after a second start: %d requests, want %d", rows[0].Requests, tc.want+1)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestCutTornLineKeepsWholeLines: a start on a full disk cannot end a cut
// line with a newline, so it cuts the line off instead.
func TestCutTornLineKeepsWholeLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{\"a\":1}\n{\"a\":2}\n{\"a\"", "{\"a\":1}\n{\"a\":2}\n"},
		{"{\"a\"", ""},
	} {
		path := filepath.Join(t.TempDir(), "f")
		os.WriteFile(path, []byte(tc.in), 0o640)
		f := must(os.OpenFile(path, os.O_RDWR, 0))
		size, err := cutTornLine(f, int64(len(tc.in)))
		f.Close()
		if got := string(must(os.ReadFile(path))); err != nil || got != tc.want || size != int64(len(tc.want)) {
			t.Errorf("%q: kept %q (size %d), %v; want %q", tc.in, got, size, err, tc.want)
		}
	}
}
