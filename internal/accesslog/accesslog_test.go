package accesslog

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

var tokyo = mustZone("Asia/Tokyo")

func mustZone(n string) *time.Location {
	l, err := time.LoadLocation(n)
	if err != nil {
		panic(err)
	}
	return l
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rig is a recorder writing to a temporary directory on a clock the test
// moves. Its ticks are an hour apart: the test flushes by hand.
type rig struct {
	t     *testing.T
	dir   string
	clock *datatest.Clock
	opts  Options
	rec   *Recorder
}

func newRig(t *testing.T, store *data.Store, mod func(*Options)) *rig {
	t.Helper()
	g := &rig{t: t, dir: t.TempDir(), clock: datatest.NewClock(time.Date(2026, 11, 30, 10, 0, 0, 0, tokyo))}
	g.opts = Options{Dir: g.dir, Instance: "web-1", Location: tokyo, Now: g.clock.Now, Secret: "s",
		Every: time.Hour, UsageEvery: time.Hour}
	if store != nil {
		g.opts.Usage = store.AddUsage
	}
	if mod != nil {
		mod(&g.opts)
	}
	g.start()
	return g
}

func (g *rig) start() {
	g.t.Helper()
	r, err := New(g.opts, quiet())
	if err != nil {
		g.t.Fatal(err)
	}
	r.Start()
	g.rec = r
	g.t.Cleanup(func() {
		select {
		case <-r.stop:
		default:
			r.Close()
		}
	})
}

// hit records a request at the clock's time.
func (g *rig) hit(path string, status int, ip string) {
	g.rec.Record(Entry{At: g.clock.Now().UTC(), Method: "GET", Route: path, Path: path, Status: status, Bytes: 100, IP: ip})
}

func (g *rig) files() map[string]File {
	g.t.Helper()
	fs, err := List(g.dir)
	if err != nil {
		g.t.Fatal(err)
	}
	m := map[string]File{}
	for _, f := range fs {
		m[filepath.Base(f.Path)] = f
	}
	return m
}

func readAll(t *testing.T, path string) []Entry {
	t.Helper()
	var es []Entry
	bad, err := Read(path, func(e Entry) error { es = append(es, e); return nil })
	if err != nil || bad != 0 {
		t.Fatalf("read %s: %d bad lines, %v", path, bad, err)
	}
	return es
}

func TestFilesRotateAtMidnightInTheConfiguredZone(t *testing.T) {
	g := newRig(t, nil, nil)
	// 23:30 and 00:30 in Tokyo are the same day in UTC (14:30, 15:30).
	g.clock.Set(time.Date(2026, 11, 30, 23, 30, 0, 0, tokyo))
	g.hit("/", 200, "192.0.2.1")
	g.hit("/history", 200, "192.0.2.2")
	g.rec.Flush()
	if _, ok := g.files()["access-2026-11-30.web-1.jsonl"]; !ok {
		t.Fatalf("no plain file for the open day: %v", g.files())
	}
	g.clock.Set(time.Date(2026, 12, 1, 0, 30, 0, 0, tokyo))
	g.rec.Flush() // no request yet: the day still closes
	fs := g.files()
	closed, ok := fs["access-2026-11-30.web-1.jsonl.gz"]
	if !ok || len(fs) != 1 {
		t.Fatalf("files after midnight: %v", fs)
	}
	g.hit("/", 304, "192.0.2.3")
	g.rec.Flush()
	es := readAll(t, closed.Path)
	if len(es) != 2 || es[0].Path != "/" || es[1].Path != "/history" {
		t.Fatalf("closed day holds %+v", es)
	}
	// The compressed file is a plain gzip stream: zcat | jq reads it.
	raw, _ := os.ReadFile(closed.Path)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	if lines := strings.Split(strings.TrimSpace(string(text)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], `{"at":"2026-11-30T14:30:00Z","method":"GET"`) {
		t.Fatalf("compressed text: %q", text)
	}
	if es := readAll(t, filepath.Join(g.dir, "access-2026-12-01.web-1.jsonl")); len(es) != 1 || es[0].Status != 304 {
		t.Fatalf("new day holds %+v", es)
	}
}

func TestRetentionDeletesWholeDaysPastThePeriod(t *testing.T) {
	dir := t.TempDir()
	days := map[string]bool{ // day → kept with 13 months on 2026-11-30
		"2025-10-28": false,
		"2025-10-29": false, // 13 months + 1 day
		"2025-10-30": true,  // 13 months exactly
		"2025-10-31": true,  // 13 months − 1 day
		"2026-06-01": true,
	}
	for d := range days {
		if err := os.WriteFile(filepath.Join(dir, name(d, "web-2")+".gz"), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a log"), 0o640)
	g := newRig(t, nil, func(o *Options) { o.Dir = dir })
	for d, kept := range days {
		if _, err := os.Stat(filepath.Join(dir, name(d, "web-2")+".gz")); (err == nil) != kept {
			t.Errorf("%s: kept=%v, want %v", d, err == nil, kept)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Error("a file that is not a log was deleted")
	}
	// A running instance applies retention when the day changes: on
	// 2026-12-01, 2025-10-31 is 13 months and a day ago.
	g.clock.Set(time.Date(2026, 12, 1, 0, 0, 1, 0, tokyo))
	g.rec.Flush()
	for d, want := range map[string]bool{"2025-10-31": false, "2026-06-01": true} {
		if _, err := os.Stat(filepath.Join(dir, name(d, "web-2")+".gz")); (err == nil) != want {
			t.Errorf("after midnight %s: kept=%v, want %v", d, err == nil, want)
		}
	}
}

func TestRestartMidDayAppendsToTheSameFile(t *testing.T) {
	g := newRig(t, nil, nil)
	for range 3 {
		g.hit("/", 200, "192.0.2.1")
	}
	g.rec.Close()
	// A crash cut the last line short.
	path := filepath.Join(g.dir, "access-2026-11-30.web-1.jsonl")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"at":"2026-11-30T01:00:00Z","meth`)
	f.Close()

	g.clock.Advance(time.Hour)
	g.start()
	g.hit("/history", 200, "192.0.2.1")
	g.hit("/history", 200, "192.0.2.1")
	g.rec.Flush()
	if fs := g.files(); len(fs) != 1 {
		t.Fatalf("a restart the same day made %v", fs)
	}
	var es []Entry
	bad, err := Read(path, func(e Entry) error { es = append(es, e); return nil })
	if err != nil || bad != 1 || len(es) != 5 || es[4].Path != "/history" {
		t.Fatalf("after restart: %d entries, %d bad, %v", len(es), bad, err)
	}
	// The next day, the whole day is one compressed file.
	g.clock.Advance(24 * time.Hour)
	g.rec.Flush()
	if fs := g.files(); len(fs) != 1 || !fs["access-2026-11-30.web-1.jsonl.gz"].Compressed {
		t.Fatalf("files: %v", fs)
	}
}

func TestAStopOverMidnightIsCompressedAtTheNextStart(t *testing.T) {
	g := newRig(t, nil, nil)
	g.hit("/", 200, "192.0.2.1")
	g.rec.Close()
	g.clock.Advance(48 * time.Hour)
	// Another instance's file of yesterday may still be open: left alone.
	os.WriteFile(filepath.Join(g.dir, name("2026-12-01", "web-9")), []byte("{}\n"), 0o640)
	g.start()
	fs := g.files()
	if !fs["access-2026-11-30.web-1.jsonl.gz"].Compressed || fs["access-2026-12-01.web-9.jsonl"].Path == "" {
		t.Fatalf("files: %v", fs)
	}
}

func TestOneInstanceNamePerDirectory(t *testing.T) {
	g := newRig(t, nil, nil)
	_, err := New(g.opts, quiet())
	if err == nil || !strings.Contains(err.Error(), "OSHIRASE_INSTANCE") {
		t.Fatalf("a second writer of the same file: %v", err)
	}
	o := g.opts
	o.Instance = "web/2 " // made safe for a file name
	r, err := New(o, quiet())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, ok := g.files()["access-2026-11-30.web_2_.jsonl"]; !ok {
		t.Fatalf("files: %v", g.files())
	}
}

func TestRecordNeverBlocksAndCountsOverflow(t *testing.T) {
	var out bytes.Buffer
	clock := datatest.NewClock(time.Date(2026, 11, 30, 10, 0, 0, 0, tokyo))
	// No writer runs yet: the queue takes 100 and drops the rest.
	r, err := New(Options{Stdout: &out, Queue: 100, Batch: 10, Now: clock.Now}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		r.Record(Entry{At: clock.Now(), Path: "/"})
	}
	if r.Dropped() != 900 {
		t.Fatalf("dropped %d, want 900", r.Dropped())
	}
	r.Start()
	r.Close()
	if r.Written() != 100 || strings.Count(out.String(), "\n") != 100 {
		t.Fatalf("written %d, %d lines", r.Written(), strings.Count(out.String(), "\n"))
	}
}

func TestStdoutGetsTheSameLines(t *testing.T) {
	var out bytes.Buffer
	g := newRig(t, nil, func(o *Options) { o.Stdout = &out })
	g.hit("/<script>", 404, "192.0.2.1")
	g.rec.Flush()
	if got := out.String(); !strings.HasPrefix(got, `{"at":"2026-11-30T01:00:00Z","method":"GET","route":"/<script>","path":"/<script>","status":404`) {
		t.Fatalf("stdout: %q", got)
	}
	if len(g.files()) != 0 {
		t.Fatal("files written in stdout mode")
	}
}

func TestSearchFindsAnInvestigationsEntries(t *testing.T) {
	dir := t.TempDir()
	a := newRig(t, nil, func(o *Options) { o.Dir = dir })
	b := newRig(t, nil, func(o *Options) { o.Dir, o.Instance, o.Now = dir, "web-2", a.clock.Now })
	b.clock = a.clock
	a.clock.Set(time.Date(2026, 11, 29, 23, 59, 0, 0, tokyo))
	a.hit("/admin/login", 401, "203.0.113.7")
	a.clock.Advance(30 * time.Second)
	b.hit("/admin/login", 401, "203.0.113.7")
	a.hit("/", 200, "203.0.113.7")
	a.clock.Advance(time.Minute) // next day
	a.hit("/admin/login", 401, "203.0.113.8")
	b.hit("/admin/login", 200, "198.51.100.1")
	a.hit("/incidents/3", 404, "2001:db8::1")
	a.rec.Flush()
	b.rec.Flush()
	from := time.Date(2026, 11, 29, 0, 0, 0, 0, tokyo)
	to := from.AddDate(0, 0, 2)
	cases := []struct {
		f    Filter
		want []string // path status ip, in order
	}{
		{Filter{Path: "/admin/login", Status: "4xx", IP: "203.0.113.0/24"},
			[]string{"/admin/login 401 203.0.113.7", "/admin/login 401 203.0.113.7", "/admin/login 401 203.0.113.8"}},
		{Filter{IP: "2001:db8::1"}, []string{"/incidents/3 404 2001:db8::1"}},
		{Filter{Path: "/incidents/", Status: "404"}, []string{"/incidents/3 404 2001:db8::1"}},
		{Filter{Status: "200"}, []string{"/ 200 203.0.113.7", "/admin/login 200 198.51.100.1"}},
		{Filter{From: time.Date(2026, 11, 30, 0, 0, 0, 0, tokyo), To: to, Status: "2xx"}, []string{"/admin/login 200 198.51.100.1"}},
	}
	for _, c := range cases {
		if c.f.From.IsZero() {
			c.f.From, c.f.To = from, to
		}
		var out bytes.Buffer
		res, err := Search(dir, tokyo, c.f, &out)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		Read(writeTemp(t, out.Bytes()), func(e Entry) error {
			got = append(got, fmt.Sprintf("%s %d %s", e.Path, e.Status, e.IP))
			return nil
		})
		if strings.Join(got, "|") != strings.Join(c.want, "|") || res.Matched != len(c.want) {
			t.Errorf("%+v: got %q (matched %d)", c.f, got, res.Matched)
		}
	}
	for _, f := range []Filter{{From: to, To: from}, {From: from, To: to, Status: "abc"}, {From: from, To: to, IP: "1.2.3"}} {
		if _, err := Search(dir, tokyo, f, io.Discard); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(p, b, 0o600)
	return p
}

// TestCountersEqualARecountOfTheFiles records a mix of requests over two
// days and checks the counters the recorder stored against a recount of
// its files.
func TestCountersEqualARecountOfTheFiles(t *testing.T) {
	store := datatest.Open(t, datatest.NewClock(time.Now()))
	g := newRig(t, store, nil)
	exact := map[string]map[string]bool{}
	routes := []string{"/", "/history", "/api/v2/summary.json", "/incidents/:id"}
	g.clock.Set(time.Date(2026, 11, 29, 22, 0, 0, 0, tokyo))
	for i := range 3000 {
		g.clock.Advance(1500 * time.Millisecond) // crosses midnight in Tokyo
		ip := fmt.Sprintf("10.0.%d.%d", i%7, i%251)
		g.hit(routes[i%len(routes)], []int{200, 304, 404, 500}[i%4], ip)
		if i%500 == 0 {
			g.rec.Flush()
		}
		day := g.clock.Now().In(tokyo).Format(DayLayout)
		if exact[day] == nil {
			exact[day] = map[string]bool{}
		}
		exact[day][ip] = true
	}
	g.clock.Set(time.Date(2026, 12, 2, 0, 0, 1, 0, tokyo))
	g.rec.Flush()
	stored, err := store.UsageSince(context.Background(), "2000-01-01")
	if err != nil {
		t.Fatal(err)
	}
	var recount *data.Usage
	days, n, bad, err := Rebuild(context.Background(), g.dir, tokyo, "2026-12-02", func(_ context.Context, days []string, u *data.Usage) error {
		recount = u
		return nil
	})
	if err != nil || bad != 0 || n != 3000 || strings.Join(days, ",") != "2026-11-29,2026-11-30" {
		t.Fatalf("rebuild: days %v, %d requests, %d bad, %v", days, n, bad, err)
	}
	if len(stored.Counts) != len(recount.Counts) || stored.Requests() != 3000 {
		t.Fatalf("%d counters stored, %d recounted; %d requests", len(stored.Counts), len(recount.Counts), stored.Requests())
	}
	for k, c := range recount.Counts {
		if stored.Counts[k] != c {
			t.Errorf("%+v: stored %+v, recounted %+v", k, stored.Counts[k], c)
		}
	}
	for day, ips := range exact {
		s, r := stored.Visitors[day].Estimate(), recount.Visitors[day].Estimate()
		if s != r || !near(s, len(ips)) {
			t.Errorf("%s visitors: stored %d, recounted %d, exactly %d", day, s, r, len(ips))
		}
	}
	// And the rebuild writes what the recorder wrote.
	if _, _, _, err := Rebuild(context.Background(), g.dir, tokyo, "2026-12-02", store.ReplaceUsage); err != nil {
		t.Fatal(err)
	}
	again, _ := store.UsageSince(context.Background(), "2000-01-01")
	if again.Requests() != 3000 || len(again.Counts) != len(stored.Counts) {
		t.Fatalf("after rebuild: %d requests in %d counters", again.Requests(), len(again.Counts))
	}
}

func near(est uint64, exact int) bool {
	d := float64(est) - float64(exact)
	return d*d <= 0.02*0.02*float64(exact*exact)+1
}

// TestInstancesAddUp has two instances, each with its own directory,
// count into one database: requests add, visitors are a union.
func TestInstancesAddUp(t *testing.T) {
	store := datatest.Open(t, datatest.NewClock(time.Now()))
	a := newRig(t, store, nil)
	b := newRig(t, store, func(o *Options) { o.Instance = "web-2" })
	for i := range 400 {
		a.hit("/", 200, fmt.Sprintf("10.1.0.%d", i%100))    // 100 visitors
		b.hit("/", 200, fmt.Sprintf("10.1.0.%d", 50+i%100)) // 50 of them, 50 others
	}
	done := make(chan bool)
	go func() { a.rec.Flush(); done <- true }()
	b.rec.Flush()
	<-done
	rows, err := store.UsageByDay(context.Background(), "2026-11-30")
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v %v", rows, err)
	}
	if r := rows[0]; r.Requests != 800 || r.Bytes != 80000 || !near(uint64(r.Visitors), 150) {
		t.Fatalf("day: %+v, want 800 requests from 150 visitors", r)
	}
	hours, _ := store.UsageByHour(context.Background(), "2026-11-01")
	mix, _ := store.StatusMix(context.Background(), "2026-11-01")
	if len(hours) != 1 || hours[0].Key != "10" || len(mix) != 1 || mix[0].Key != "2" || mix[0].Requests != 800 {
		t.Fatalf("hours %+v, mix %+v", hours, mix)
	}
}

func TestMoveLegacyRowsIntoFilesAndCounters(t *testing.T) {
	clock := datatest.NewClock(time.Date(2026, 11, 30, 10, 0, 0, 0, tokyo))
	store := datatest.Open(t, clock)
	ctx := context.Background()
	op := int64(4)
	var rows []data.AccessLogEntry
	start := time.Date(2026, 11, 27, 23, 0, 0, 0, tokyo)
	for i := range 12000 {
		e := data.AccessLogEntry{At: start.Add(time.Duration(i) * 20 * time.Second).UTC(), Method: "GET", Route: "/", Path: "/?token=redacted",
			Status: 200, Bytes: 10, IP: fmt.Sprintf("192.0.2.%d", i%50), Visitor: fmt.Sprintf("v%d", i%50)}
		if i%1000 == 0 {
			e.OperatorID, e.Route, e.Status = &op, "/admin", 302
		}
		rows = append(rows, e)
	}
	if err := store.AddLegacyAccessLog(ctx, rows); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := MoveLegacy(ctx, store, dir, tokyo, quiet())
	if err != nil || n != 12000 {
		t.Fatalf("moved %d: %v", n, err)
	}
	if store.HasLegacyAccessLog(ctx) {
		t.Fatal("the old table is still there")
	}
	fs, _ := List(dir)
	var got []Entry
	for _, f := range fs {
		got = append(got, readAll(t, f.Path)...)
	}
	if len(fs) != 4 || len(got) != 12000 || fs[0].Day != "2026-11-27" || fs[3].Day != "2026-11-30" {
		t.Fatalf("%d files, %d entries", len(fs), len(got))
	}
	for i, e := range got {
		w := rows[i]
		if !e.At.Equal(w.At) || e.Path != w.Path || e.IP != w.IP || e.Visitor != w.Visitor || (w.OperatorID != nil) != (e.Operator == 4) {
			t.Fatalf("entry %d: %+v, row %+v", i, e, w)
		}
	}
	u, _ := store.UsageSince(ctx, "2000-01-01")
	if u.Requests() != 12000 || u.Counts[data.UsageKey{Day: "2026-11-28", Hour: 0, Method: "GET", Route: "/", Class: 2}].Requests != 180 {
		t.Fatalf("counters: %d requests", u.Requests())
	}
	// A second start finds nothing to move.
	if n, err := MoveLegacy(ctx, store, dir, tokyo, quiet()); n != 0 || err != nil {
		t.Fatalf("again: %d %v", n, err)
	}
}

// BenchmarkWrite is the writer's cost per entry: the JSON line, the
// visitor hash (cached per address) and the usage counters.
func BenchmarkWrite(b *testing.B) {
	r, err := New(Options{Dir: b.TempDir(), Instance: "bench", Location: tokyo, Secret: "s"}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	batch := make([]Entry, 1000)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i] = Entry{At: now, Method: "GET", Route: "/", Path: "/", Status: 200, Bytes: 4236, LatencyUS: 35,
				IP: fmt.Sprintf("10.0.%d.%d", i%8, i%250), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"}
		}
		r.write(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/entry")
}
