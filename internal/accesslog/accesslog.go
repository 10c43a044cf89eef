// Package accesslog records every HTTP request without slowing any: entries
// go into a bounded queue and a background writer stores them in batches.
// When the queue is full (the database is slow or down) an entry is
// dropped and counted, never waited for.
package accesslog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oshirase/oshirase/data"
)

// Options tunes a Recorder. Zero values take the defaults.
type Options struct {
	// Queue is how many entries may wait for the writer (default 20,000).
	Queue int
	// Batch is how many entries one write holds at most (default 500).
	Batch int
	// Every is how often a partial batch is written (default 1 second).
	Every time.Duration
}

// Recorder queues entries and writes them in the background.
type Recorder struct {
	write   func(context.Context, []data.AccessLogEntry) error
	opts    Options
	log     *slog.Logger
	queue   chan data.AccessLogEntry
	dropped atomic.Int64
	written atomic.Int64
	failed  atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup
	flushes chan chan struct{}
}

// New returns a Recorder that stores batches with write; call Start.
func New(write func(context.Context, []data.AccessLogEntry) error, opts Options, log *slog.Logger) *Recorder {
	if opts.Queue == 0 {
		opts.Queue = 20000
	}
	if opts.Batch == 0 {
		opts.Batch = 500
	}
	if opts.Every == 0 {
		opts.Every = time.Second
	}
	return &Recorder{write: write, opts: opts, log: log, queue: make(chan data.AccessLogEntry, opts.Queue),
		stop: make(chan struct{}), flushes: make(chan chan struct{})}
}

// Start runs the writer until Close.
func (r *Recorder) Start() {
	r.done.Add(1)
	go r.run()
}

// Record queues an entry. It never blocks: with the queue full the entry
// is dropped and counted.
func (r *Recorder) Record(e data.AccessLogEntry) {
	select {
	case r.queue <- e:
	default:
		r.dropped.Add(1)
	}
}

// Dropped counts entries lost to a full queue; Written those stored;
// Failed those a write error lost.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Written counts entries stored.
func (r *Recorder) Written() int64 { return r.written.Load() }

// Failed counts entries lost to write errors.
func (r *Recorder) Failed() int64 { return r.failed.Load() }

// Flush writes everything queued so far and returns when it is stored.
func (r *Recorder) Flush() {
	ack := make(chan struct{})
	select {
	case r.flushes <- ack:
		<-ack
	case <-r.stop:
	}
}

// Close writes what is queued and stops the writer.
func (r *Recorder) Close() {
	close(r.stop)
	r.done.Wait()
}

func (r *Recorder) run() {
	defer r.done.Done()
	tick := time.NewTicker(r.opts.Every)
	defer tick.Stop()
	batch := make([]data.AccessLogEntry, 0, r.opts.Batch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.write(ctx, batch); err != nil {
			r.failed.Add(int64(len(batch)))
			r.log.Error("access log entries could not be stored", "entries", len(batch), "err", err)
		} else {
			r.written.Add(int64(len(batch)))
		}
		batch = batch[:0]
	}
	drain := func() {
		for {
			select {
			case e := <-r.queue:
				batch = append(batch, e)
				if len(batch) == r.opts.Batch {
					flush()
				}
			default:
				flush()
				return
			}
		}
	}
	for {
		select {
		case e := <-r.queue:
			batch = append(batch, e)
			if len(batch) == r.opts.Batch {
				flush()
			}
		case <-tick.C:
			flush()
		case ack := <-r.flushes:
			drain()
			close(ack)
		case <-r.stop:
			drain()
			return
		}
	}
}
