package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// process is a server the bench started.
type process struct {
	cmd      *exec.Cmd
	exited   <-chan error
	url      string
	debugURL string
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
		}
	}
}

// cpu reads the CPU time the process has used, user and system, from
// /proc (in clock ticks of 10 ms).
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// rss reads the process's resident memory in MB from /proc.
func (p *process) rss() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs `oshirase serve` on dsn with the access log on, as in
// production, and waits until it is ready and its pages are rendered.
func startServer(bin, work, dsn string, profile bool) (*process, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	logDir := filepath.Join(work, "accesslog-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "OSHIRASE_DATABASE="+dsn, "OSHIRASE_ADDR="+addr, "OSHIRASE_BASE_URL=http://"+addr,
		"OSHIRASE_SECRET="+hex.EncodeToString(secret), "OSHIRASE_ACCESS_LOG_DIR="+logDir, "OSHIRASE_INSTANCE=bench",
		"OSHIRASE_SNAPSHOT=off", "OSHIRASE_ADMIN_EMAIL=", "OSHIRASE_ADMIN_PASSWORD=")
	p := &process{cmd: cmd, url: "http://" + addr}
	if profile {
		dbg, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "OSHIRASE_DEBUG_ADDR="+dbg)
		p.debugURL = "http://" + dbg
	}
	log, err := os.Create(filepath.Join(work, "server-"+addr[strings.LastIndexByte(addr, ':')+1:]+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.exited = exited
	if err := waitReady(p.url+"/readyz", 5*time.Minute, exited); err != nil {
		p.stop()
		text, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("oshirase serve: %w\n%s", err, text)
	}
	// The first request of each representation may render it; after this
	// every public page is in memory.
	for _, path := range []string{"/", "/api/v2/summary.json", "/feed.atom"} {
		if res, err := http.Get(p.url + path); err == nil {
			res.Body.Close()
		}
	}
	return p, nil
}

func waitReady(url string, limit time.Duration, exited <-chan error) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, limit)
}

// target is one representation as Oshirase served it: the bytes and the
// headers the baseline serves too.
type target struct {
	Name    string
	Path    string
	Header  map[string]string // request headers
	Status  int
	Answer  map[string][]string // response headers
	Body    []byte
	ETag    string
	Bytes   int
	Encoded string
}

// record fetches each representation from the running server, gzipped as
// a browser asks for it.
func record(base string) ([]target, error) {
	gz := map[string]string{"Accept-Encoding": "gzip"}
	ts := []target{
		{Name: "page", Path: "/", Header: gz},
		{Name: "json", Path: "/api/v2/summary.json", Header: gz},
		{Name: "feed", Path: "/feed.atom", Header: gz},
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for i := range ts {
		req, _ := http.NewRequest(http.MethodGet, base+ts[i].Path, nil)
		for k, v := range ts[i].Header {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		ts[i].Body, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s", ts[i].Path, res.Status)
		}
		ts[i].Status, ts[i].Answer, ts[i].ETag = res.StatusCode, res.Header, res.Header.Get("ETag")
		ts[i].Bytes, ts[i].Encoded = len(ts[i].Body), res.Header.Get("Content-Encoding")
	}
	if ts[0].ETag == "" {
		return nil, fmt.Errorf("the status page has no ETag")
	}
	// A browser coming back: the page it has is still current.
	ts = append(ts, target{Name: "page 304", Path: "/", Header: map[string]string{"Accept-Encoding": "gzip", "If-None-Match": ts[0].ETag},
		Status: http.StatusNotModified, Answer: ts[0].Answer, ETag: ts[0].ETag})
	return ts, nil
}

// startBaseline runs this program again as a minimal net/http server that
// writes the recorded bytes with the recorded headers.
func startBaseline(work string, ts []target) (*process, error) {
	file := filepath.Join(work, "targets.json")
	b, err := json.Marshal(ts)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := command(self, "-serve-baseline", file, addr)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, url: "http://" + addr}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.exited = exited
	if err := waitReady(p.url+"/", 30*time.Second, exited); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// serveBaseline is the baseline: per path, the recorded answer written
// as-is, and 304 when the client has it already. Nothing else.
func serveBaseline(file, addr string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var ts []target
	if err := json.Unmarshal(b, &ts); err != nil {
		return err
	}
	byPath := map[string]target{}
	for _, t := range ts {
		if t.Status == http.StatusOK {
			byPath[t.Path] = t
		}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := byPath[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, v := range t.Answer {
			if k != "Date" && k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		if r.Header.Get("If-None-Match") == t.ETag {
			w.Header().Del("Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(t.Body)))
		w.Write(t.Body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
