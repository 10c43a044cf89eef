package accesslog

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Entry is one request, one JSON line in a day's file.
type Entry struct {
	At        time.Time `json:"at"`
	Method    string    `json:"method"`
	Route     string    `json:"route"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	Bytes     int64     `json:"bytes"`
	LatencyUS int64     `json:"latency_us"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent,omitempty"`
	Operator  int64     `json:"operator,omitempty"`
	// Visitor is a salted hash of the IP, for counting unique visitors
	// without reading raw addresses.
	Visitor string `json:"visitor,omitempty"`
}

// DayLayout is how days are written in file names and usage counters.
const DayLayout = "2006-01-02"

// File is one day's log of one instance.
type File struct {
	Path     string
	Day      string
	Instance string
	// Compressed files are closed: their day is over.
	Compressed bool
	Size       int64
}

var fileName = regexp.MustCompile(`^access-(\d{4}-\d{2}-\d{2})\.([A-Za-z0-9._-]+)\.jsonl(\.gz)?$`)

// name is the file an instance writes a day's entries to (".gz" is added
// when the day closes).
func name(day, instance string) string { return "access-" + day + "." + instance + ".jsonl" }

// safeInstance keeps an instance name to characters a file name can hold.
func safeInstance(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
	s = strings.Trim(s, ".")
	if s == "" {
		return "instance"
	}
	return s
}

// List returns the log files in dir, by day and then instance. Files that
// do not look like logs are ignored; a missing dir holds none.
func List(dir string) ([]File, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var fs []File
	for _, de := range des {
		m := fileName.FindStringSubmatch(de.Name())
		if m == nil || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		fs = append(fs, File{Path: filepath.Join(dir, de.Name()), Day: m[1], Instance: m[2], Compressed: m[3] != "", Size: info.Size()})
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Day != fs[j].Day {
			return fs[i].Day < fs[j].Day
		}
		return fs[i].Instance < fs[j].Instance
	})
	return fs, nil
}

// compress turns a closed day's file into its .gz and removes the plain
// one. The .gz appears whole or not at all (written aside, then renamed),
// so a crash part way leaves the plain file to compress again.
func compress(path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".gz.tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(dst)
	zw.Name = filepath.Base(path)
	_, err = io.Copy(zw, src)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path+".gz")
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("accesslog: compress %s: %w", filepath.Base(path), err)
	}
	return os.Remove(path)
}

// Read calls fn for each entry of a file, plain or compressed. Lines that
// do not parse (the last one of a crashed write, say) are skipped and
// counted; a compressed file cut short yields what it holds and is counted
// as one bad line.
func Read(path string, fn func(Entry) error) (bad int, err error) {
	_, bad, err = readFrom(path, 0, fn)
	return bad, err
}

// readFrom is Read from an offset of the file's plain text on, and says
// where the text ended.
func readFrom(path string, from int64, fn func(Entry) error) (end int64, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return from, 0, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return from, 1, nil
		}
		defer zr.Close()
		r = zr
		if _, err := io.CopyN(io.Discard, r, from); err != nil {
			return from, 0, nil // the mark is past what the file holds
		}
	} else if _, err := f.Seek(from, io.SeekStart); err != nil {
		return from, 0, err
	}
	cr := &countingReader{r: r}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.At.IsZero() {
			bad++
			continue
		}
		if err := fn(e); err != nil {
			return from + cr.n, bad, err
		}
	}
	end = from + cr.n
	if err := sc.Err(); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, bufio.ErrTooLong) {
			return end, bad + 1, nil
		}
		return end, bad, err
	}
	return end, bad, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// KeepFrom is the first day kept when entries are kept months calendar
// months: older days are deleted whole.
func KeepFrom(now time.Time, months int, loc *time.Location) string {
	return now.In(loc).AddDate(0, -months, 0).Format(DayLayout)
}

// Prune deletes the files of days before keepFrom and says how many.
func Prune(dir, keepFrom string) (int, error) {
	fs, err := List(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range fs {
		if f.Day >= keepFrom {
			break
		}
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, err
		}
		n++
	}
	return n, nil
}
