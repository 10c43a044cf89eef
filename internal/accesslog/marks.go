package accesslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// marks is how far into each of its day files an instance's counters are
// in the database, kept in a small file beside the logs. The writer notes
// a new file; the usage goroutine moves the mark on after each commit.
type marks struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
	at   map[string]int64 // day → offset
}

// countedName is the file an instance keeps its marks in; List ignores it.
func countedName(instance string) string { return "counted." + instance + ".json" }

// loadMarks reads an instance's marks. Without them (a first start, a
// file that cannot be read) every existing line counts as counted: a
// lost counter is then lost as before, but none is counted twice.
func loadMarks(dir, instance string, log *slog.Logger) *marks {
	m := &marks{path: filepath.Join(dir, countedName(instance)), log: log, at: map[string]int64{}}
	b, err := os.ReadFile(m.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) || err == nil && json.Unmarshal(b, &m.at) != nil {
		log.Warn("the access log's counting marks could not be read; counters lost at the last stop stay lost", "file", m.path, "err", err)
		m.at = map[string]int64{}
	}
	return m
}

func (m *marks) snapshot() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.at)
}

// begin notes a day file the writer opens, unless it has a mark already.
func (m *marks) begin(day string, size int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.at[day]; ok {
		return
	}
	m.at[day] = size
	m.save()
}

// advance moves marks on to the ends of lines whose counters are stored.
func (m *marks) advance(ends map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for day, end := range ends {
		m.at[day] = max(m.at[day], end)
	}
	m.save()
}

// save writes the marks aside and renames them into place, keeping the
// last three days: a start recounts no further back.
func (m *marks) save() {
	days := slices.Sorted(maps.Keys(m.at))
	if len(days) > 3 {
		for _, d := range days[:len(days)-3] {
			delete(m.at, d)
		}
	}
	b, _ := json.Marshal(m.at)
	tmp := m.path + ".tmp"
	err := os.WriteFile(tmp, b, 0o640)
	if err == nil {
		err = os.Rename(tmp, m.path)
	}
	if err != nil {
		os.Remove(tmp)
		m.log.Error("the access log's counting marks could not be saved; a crash now may count some requests twice", "err", err)
	}
}

// recount adds to the pending counters the lines of this instance's files
// past their marks: lines written whose counters a crash kept from the
// database. They are stored with the first batch, and the marks move on
// only then, so a second crash recounts them again.
func (r *Recorder) recount() error {
	at := r.out.marks.snapshot()
	files, err := List(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("accesslog: %w", err)
	}
	var n int64
	bad := 0
	for _, f := range files {
		from, ok := at[f.Day]
		if f.Instance != r.opts.Instance || !ok {
			continue
		}
		end, b, err := readFrom(f.Path, from, func(e Entry) error {
			r.pending.Add(Key(e, r.opts.Location), e.Bytes, e.Visitor)
			n++
			return nil
		})
		if err != nil {
			return fmt.Errorf("accesslog: recount %s: %w", filepath.Base(f.Path), err)
		}
		bad += b
		if end > from {
			r.out.ends[f.Day] = end
		}
	}
	if n > 0 || bad > 0 {
		r.log.Info("counted the access log's lines whose counters the last stop lost", "requests", n, "unreadable", bad)
	}
	return nil
}
