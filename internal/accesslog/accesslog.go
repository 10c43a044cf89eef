// Package accesslog records every HTTP request without slowing any, and
// keeps the record for as long as the law asks at any traffic.
//
// Entries go into a bounded queue; a background writer appends them each
// second to the day's file of this instance (JSON Lines, so zcat | jq
// reads them), compresses a day's file when the day is over, and deletes
// days older than the retention period. The same writer counts requests,
// bytes and visitors per hour, route and status class, and adds the counts
// to the database in batches: the usage page reads those counters, never
// the raw log. When the queue is full an entry is dropped and counted,
// never waited for; when the disk is full the entries that do not fit are
// counted as write errors and the file keeps only whole lines.
//
// Each instance notes beside its files how far into each day's file its
// counters are in the database; a start counts the rest, so a crash loses
// no counter for a line the file kept.
package accesslog

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oshirase/oshirase/data"
)

// Options configures a Recorder. Zero values take the defaults.
type Options struct {
	// Dir holds the daily files. Ignored when Stdout is set.
	Dir string
	// Stdout, when set, receives the JSON lines instead of files, for a
	// platform that collects standard output.
	Stdout io.Writer
	// Instance names this process in file names, so instances can share a
	// directory; default the host name.
	Instance string
	// Location decides where days and hours begin (default UTC).
	Location *time.Location
	// Retention is how many months of files are kept (default 13).
	Retention int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Secret salts the visitor hash.
	Secret string
	// Usage stores a batch of counters (store.AddUsage); nil counts nothing.
	Usage func(context.Context, *data.Usage) error
	// Queue is how many entries may wait for the writer (default 20,000).
	Queue int
	// Batch is how many waiting entries make the writer write before its
	// time (default 2,000).
	Batch int
	// Every is how often entries are written and synced (default 1 second):
	// a crash loses at most this much.
	Every time.Duration
	// UsageEvery is how often counters go to the database (default 10 s).
	UsageEvery time.Duration

	// wrap, when set, stands between the writer and the day's file, so a
	// test can fill the disk.
	wrap func(io.Writer) io.Writer
}

func (o *Options) defaults() {
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
	}
	o.Instance = safeInstance(o.Instance)
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Retention == 0 {
		o.Retention = 13
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Queue == 0 {
		o.Queue = 20000
	}
	if o.Batch == 0 {
		o.Batch = 2000
	}
	if o.Every == 0 {
		o.Every = time.Second
	}
	if o.UsageEvery == 0 {
		o.UsageEvery = 10 * time.Second
	}
}

// Recorder queues entries and writes them in the background.
type Recorder struct {
	opts Options
	log  *slog.Logger
	// The queue is a slice under a mutex, not a channel: a request appends
	// without waking the writer, which takes the whole slice each second
	// (or when Batch entries wait). A channel would wake it per entry.
	mu      sync.Mutex
	queue   []Entry
	kick    chan struct{}
	dropped atomic.Int64
	written atomic.Int64
	failed  atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup
	flushes chan chan struct{}
	// usage hands counters to the goroutine that stores them, so a slow
	// database never holds up the files.
	usage     chan usageBatch
	usageDone chan struct{}

	// Owned by the writer goroutine.
	out     *dayFile
	spare   []Entry
	pending *data.Usage
	mac     hash.Hash
	seen    map[string]string // address → visitor hash, cleared when large
	enc     *json.Encoder
	buf     bytes.Buffer
}

// New returns a Recorder; call Start. With files, it checks the directory
// can be written, compresses days this instance left open (a crash, or a
// stop over midnight) and deletes days past retention.
func New(opts Options, log *slog.Logger) (*Recorder, error) {
	opts.defaults()
	r := &Recorder{opts: opts, log: log, queue: make([]Entry, 0, min(opts.Queue, 1024)), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), flushes: make(chan chan struct{}), pending: data.NewUsage(),
		usage: make(chan usageBatch), usageDone: make(chan struct{}),
		mac: hmac.New(sha256.New, []byte(opts.Secret)), seen: map[string]string{}}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetEscapeHTML(false)
	if opts.Stdout == nil {
		if opts.Dir == "" {
			return nil, errors.New("accesslog: no directory for the access log")
		}
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("accesslog: %w", err)
		}
		r.out = &dayFile{dir: opts.Dir, instance: opts.Instance, log: log, wrap: opts.wrap, ends: map[string]int64{}}
		today := r.today()
		if opts.Usage != nil {
			r.out.marks = loadMarks(opts.Dir, opts.Instance, log)
			// Before tidy compresses a past day: its counters may be missing too.
			if err := r.recount(); err != nil {
				return nil, err
			}
		}
		if err := r.out.tidy(today); err != nil {
			return nil, err
		}
		if _, err := Prune(opts.Dir, KeepFrom(opts.Now(), opts.Retention, opts.Location)); err != nil {
			return nil, fmt.Errorf("accesslog: retention: %w", err)
		}
		// Open today's file now: a directory that cannot be written, or a
		// second process using the same instance name, is a start-up error.
		if err := r.out.open(today); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Recorder) today() string { return r.opts.Now().In(r.opts.Location).Format(DayLayout) }

// Start runs the writer until Close.
func (r *Recorder) Start() {
	r.done.Add(1)
	go r.run()
	go r.storeUsage()
}

// Record queues an entry. It never blocks: with the queue full the entry
// is dropped and counted.
func (r *Recorder) Record(e Entry) {
	r.mu.Lock()
	if len(r.queue) >= r.opts.Queue {
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	r.queue = append(r.queue, e)
	n := len(r.queue)
	r.mu.Unlock()
	if n == r.opts.Batch {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// take swaps the queue for an empty one and returns what it held.
func (r *Recorder) take() []Entry {
	r.mu.Lock()
	batch := r.queue
	r.queue = r.spare[:0]
	r.mu.Unlock()
	r.spare = batch
	return batch
}

// Dropped counts entries lost to a full queue.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Written counts entries stored.
func (r *Recorder) Written() int64 { return r.written.Load() }

// Failed counts entries lost to write errors.
func (r *Recorder) Failed() int64 { return r.failed.Load() }

// Dir is where the files are; empty when entries go to standard output.
func (r *Recorder) Dir() string {
	if r.out == nil {
		return ""
	}
	return r.opts.Dir
}

// Retention is how many months of files are kept.
func (r *Recorder) Retention() int { return r.opts.Retention }

// Flush writes everything queued so far, stores the counters, and returns
// when both are done.
func (r *Recorder) Flush() {
	ack := make(chan struct{})
	select {
	case r.flushes <- ack:
		<-ack
	case <-r.stop:
	}
}

// Close writes what is queued, stores the counters, closes today's file
// and stops the writer.
func (r *Recorder) Close() {
	close(r.stop)
	r.done.Wait()
}

func (r *Recorder) run() {
	defer r.done.Done()
	tick := time.NewTicker(r.opts.Every)
	defer tick.Stop()
	usageTick := time.NewTicker(r.opts.UsageEvery)
	defer usageTick.Stop()
	drain := func() {
		if batch := r.take(); len(batch) > 0 {
			r.write(batch)
		}
	}
	// handOver gives the counters to the usage goroutine; wait says to
	// wait until they are stored (a flush, a stop).
	handOver := func(wait bool) {
		if r.opts.Usage == nil || (r.pending.Empty() && !wait) {
			return
		}
		b := usageBatch{u: r.pending}
		if r.out != nil {
			b.ends = r.out.ends
		}
		if wait {
			b.done = make(chan struct{})
			r.usage <- b
			<-b.done
		} else {
			select {
			case r.usage <- b:
			default:
				return // still storing the last batch: keep counting
			}
		}
		r.pending = data.NewUsage()
		if r.out != nil {
			r.out.ends = map[string]int64{}
		}
	}
	for {
		select {
		case <-r.kick:
			drain()
		case <-tick.C:
			drain()
			r.sync()
			r.rotate()
		case <-usageTick.C:
			handOver(false)
		case ack := <-r.flushes:
			drain()
			r.sync()
			r.rotate()
			handOver(true)
			if r.out != nil {
				r.out.compressing.Wait()
			}
			close(ack)
		case <-r.stop:
			drain()
			r.sync()
			handOver(true)
			close(r.usage)
			<-r.usageDone
			if r.out != nil {
				r.out.close()
				r.out.compressing.Wait()
			}
			return
		}
	}
}

// sync makes what was written survive a crash of the machine.
func (r *Recorder) sync() {
	if r.out != nil && r.out.f != nil && r.out.dirty {
		if err := r.out.f.Sync(); err != nil {
			r.log.Error("the access log could not be synced", "err", err)
		}
		r.out.dirty = false
	}
}

type usageBatch struct {
	u *data.Usage
	// ends is, per day, the offset in this instance's file up to which
	// the lines are counted in u.
	ends map[string]int64
	done chan struct{}
}

// storeUsage adds counters to the database as the writer hands them over.
// What cannot be stored (the database is down) is kept and added with the
// next batch: an outage delays the usage page, it does not lose counts.
func (r *Recorder) storeUsage() {
	defer close(r.usageDone)
	var carry *data.Usage
	ends := map[string]int64{}
	for b := range r.usage {
		if carry == nil {
			carry = b.u
		} else {
			carry.Merge(b.u)
		}
		for day, end := range b.ends {
			ends[day] = max(ends[day], end)
		}
		if !carry.Empty() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := r.opts.Usage(ctx, carry); err != nil {
				r.log.Warn("usage counters could not be stored; kept for the next try", "err", err)
			} else {
				carry = nil
				// Noted after the commit: a crash between the two counts
				// this one batch again at the next start, never loses it.
				if r.out != nil && len(ends) > 0 {
					r.out.marks.advance(ends)
					ends = map[string]int64{}
				}
			}
			cancel()
		}
		if b.done != nil {
			close(b.done)
		}
	}
}

// write appends a batch to the log and counts it.
func (r *Recorder) write(batch []Entry) {
	for i := range batch {
		e := &batch[i]
		if e.Visitor == "" && e.IP != "" {
			e.Visitor = r.visitor(e.IP)
		}
		r.pending.Add(Key(*e, r.opts.Location), e.Bytes, e.Visitor)
	}
	var (
		n   int
		err error
	)
	if r.out != nil {
		n, err = r.out.write(batch, r.opts.Location, r.enc, &r.buf)
	} else {
		r.buf.Reset()
		for i := range batch {
			r.enc.Encode(&batch[i])
		}
		var k int
		k, err = r.opts.Stdout.Write(r.buf.Bytes())
		n = bytes.Count(r.buf.Bytes()[:k], []byte("\n"))
	}
	r.written.Add(int64(n))
	if err != nil {
		r.failed.Add(int64(len(batch) - n))
		r.log.Error("access log entries could not be written", "entries", len(batch)-n, "err", err)
	}
}

// rotate closes the day's file once the day is over (compressing it in the
// background) and then applies retention, so files roll over at midnight
// even when no request comes.
func (r *Recorder) rotate() {
	if r.out == nil || r.out.day == "" || r.out.day >= r.today() {
		return
	}
	r.out.finish()
	if _, err := Prune(r.opts.Dir, KeepFrom(r.opts.Now(), r.opts.Retention, r.opts.Location)); err != nil {
		r.log.Error("old access log files could not be deleted", "err", err)
	}
}

// visitor is a salted hash of an address: unique visitors can be counted
// without reading addresses, and the salt (the server secret) keeps the
// hash from being reversed by trying every IPv4 address.
func (r *Recorder) visitor(ip string) string {
	if v, ok := r.seen[ip]; ok {
		return v
	}
	r.mac.Reset()
	r.mac.Write([]byte("visitor:" + ip))
	v := hex.EncodeToString(r.mac.Sum(nil)[:12])
	if len(r.seen) >= 50000 {
		clear(r.seen)
	}
	r.seen[ip] = v
	return v
}

// Key is the usage counter an entry adds to.
func Key(e Entry, loc *time.Location) data.UsageKey {
	t := e.At.In(loc)
	route := e.Route
	if route == "" {
		route = "(no route)"
	}
	return data.UsageKey{Day: t.Format(DayLayout), Hour: t.Hour(), Method: e.Method, Route: route, Class: e.Status / 100}
}

// dayFile is the file an instance appends the current day to.
type dayFile struct {
	dir, instance string
	log           *slog.Logger
	wrap          func(io.Writer) io.Writer
	day           string
	f             *os.File
	w             io.Writer // f, or what a test put in front of it
	size          int64     // where the next line goes in f
	dirty         bool      // written since the last sync
	compressing   sync.WaitGroup
	// marks is how far the stored counters reach in each day's file (nil
	// when nothing is counted); ends is how far the counters not yet
	// handed over reach.
	marks *marks
	ends  map[string]int64
}

// open opens (or reopens, after a restart) the day's file for appending,
// locked so no second process with the same instance name writes it.
func (d *dayFile) open(day string) error {
	path := filepath.Join(d.dir, name(day, d.instance))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("accesslog: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("accesslog: %s is written by another process; give each instance its own OSHIRASE_INSTANCE", path)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("accesslog: %w", err)
	}
	size := info.Size()
	// A crash may have cut the last line short; start on a fresh line so
	// only that line is lost.
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte("\n")); err == nil {
				size++
			} else if size, err = cutTornLine(f, size); err != nil {
				f.Close()
				return fmt.Errorf("accesslog: %s ends with a cut line that cannot be ended: %w", path, err)
			}
		}
	}
	d.day, d.f, d.w, d.size = day, f, io.Writer(f), size
	if d.wrap != nil {
		d.w = d.wrap(f)
	}
	if d.marks != nil {
		// A file this version has not seen was counted by whoever wrote it.
		d.marks.begin(day, size)
	}
	return nil
}

// cutTornLine removes a cut last line that a newline cannot end (the disk
// is full): truncating needs no room. Lines are at most 1 MiB, as Read
// reads them.
func cutTornLine(f *os.File, size int64) (int64, error) {
	tail := make([]byte, min(size, 1<<20))
	if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return size, err
	}
	keep := size - int64(len(tail)) + int64(bytes.LastIndexByte(tail, '\n')+1)
	return keep, f.Truncate(keep)
}

// write appends entries to the file of their day, opening the next day's
// file when the first entry of a new day comes, and says how many it
// wrote. An entry stamped just before midnight that arrives after the
// change goes into the new file; its own time says which day it belongs
// to. A write cut short (a full disk) is cut back to its last whole line,
// so the file only ever holds whole lines.
func (d *dayFile) write(batch []Entry, loc *time.Location, enc *json.Encoder, buf *bytes.Buffer) (int, error) {
	start := 0
	for start < len(batch) {
		day := batch[start].At.In(loc).Format(DayLayout)
		if d.f == nil || day > d.day {
			d.finish()
			if err := d.open(day); err != nil {
				return start, err
			}
		}
		end := start + 1
		for end < len(batch) && batch[end].At.In(loc).Format(DayLayout) <= d.day {
			end++
		}
		buf.Reset()
		for i := start; i < end; i++ {
			enc.Encode(&batch[i])
		}
		n, err := d.w.Write(buf.Bytes())
		if err != nil {
			whole := bytes.LastIndexByte(buf.Bytes()[:n], '\n') + 1
			if whole < n {
				if terr := d.f.Truncate(d.size + int64(whole)); terr != nil {
					// The file's end is unknown: reopening it puts the
					// next line on a fresh one.
					d.log.Error("a cut access log line could not be removed", "err", terr)
					d.close()
				}
			}
			d.size += int64(whole)
			d.ends[d.day] = d.size
			d.dirty = d.dirty || whole > 0
			return start + bytes.Count(buf.Bytes()[:whole], []byte("\n")), err
		}
		d.size += int64(n)
		d.ends[d.day] = d.size
		d.dirty = true
		start = end
	}
	return len(batch), nil
}

// close closes the current file, which a restart the same day reopens.
func (d *dayFile) close() {
	if d.f != nil {
		if d.dirty {
			d.f.Sync()
			d.dirty = false
		}
		d.f.Close()
		d.f = nil
	}
}

// finish closes the file of a day that is over and compresses it in the
// background.
func (d *dayFile) finish() {
	if d.f == nil {
		return
	}
	d.close()
	path := filepath.Join(d.dir, name(d.day, d.instance))
	d.compressing.Add(1)
	go func() {
		defer d.compressing.Done()
		if err := compress(path); err != nil {
			d.log.Error("a closed day's access log could not be compressed", "file", path, "err", err)
		}
	}()
}

// tidy finishes what a crash or a stop over midnight left: plain files of
// past days of this instance (and of any instance, two days on) are
// compressed; a compression cut short is redone.
func (d *dayFile) tidy(today string) error {
	fs, err := List(d.dir)
	if err != nil {
		return fmt.Errorf("accesslog: %w", err)
	}
	gz := map[string]bool{}
	for _, f := range fs {
		if f.Compressed {
			gz[f.Day+"/"+f.Instance] = true
		}
	}
	t, err := time.Parse(DayLayout, today)
	if err != nil {
		return err
	}
	stale := t.AddDate(0, 0, -1).Format(DayLayout)
	for _, f := range fs {
		if f.Compressed || f.Day >= today || (f.Instance != d.instance && f.Day >= stale) {
			continue
		}
		if gz[f.Day+"/"+f.Instance] {
			os.Remove(f.Path) // renamed, then stopped before removing the plain file
			continue
		}
		if err := compress(f.Path); err != nil {
			return err
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(d.dir, "access-*.gz.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return nil
}
