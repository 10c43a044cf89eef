package data

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Monitor kinds.
const (
	MonitorHTTP = "http"
	MonitorTCP  = "tcp"
	MonitorTLS  = "tls"
	MonitorDNS  = "dns"
)

// MonitorKinds lists the kinds in the order the console offers them.
var MonitorKinds = []string{MonitorHTTP, MonitorTCP, MonitorTLS, MonitorDNS}

// DNSTypes are the record types a DNS check can ask for.
var DNSTypes = []string{"A", "AAAA", "CNAME", "MX", "TXT"}

// Monitor states.
const (
	MonitorUnknown = "unknown"
	MonitorUp      = "up"
	MonitorDown    = "down"
)

// Limits of a monitor.
const (
	MinMonitorInterval = 30
	MaxMonitorInterval = 3600
	MaxMonitorTimeout  = 60
	MaxThreshold       = 20
	// MonitorResultDays is how long raw results are kept (the 30-day
	// response-time chart); per-day counts are kept as long as incidents.
	MonitorResultDays = 31
	// MonitorLease is how long a claimed check is its worker's.
	MonitorLease = (MaxMonitorTimeout + 15) * time.Second
)

// Monitor is a check that watches a component.
type Monitor struct {
	ID          int64
	ComponentID int64
	Name        string
	Kind        string
	// Target is a URL (http), host:port (tcp, tls) or a host name (dns).
	Target          string
	Method          string
	ExpectCodes     string // "200-299" or "200,204"
	Keyword         string
	Headers         string // "Name: value" lines
	FollowRedirects bool
	// WarnDays: a TLS certificate expiring within this many days fails.
	WarnDays  int
	DNSType   string
	DNSExpect string
	// DNSServer is the resolver to ask (host:port); empty uses the
	// system's.
	DNSServer     string
	IntervalS     int
	TimeoutS      int
	FailThreshold int
	OKThreshold   int
	// FailureStatus is the component status a failing monitor reports.
	FailureStatus string
	Enabled       bool
	State         string
	FailsInRow    int
	OKsInRow      int `gorm:"column:oks_in_row"`
	LastCheckedAt *time.Time
	LastError     string
	LastLatencyMS int
	NextRunAt     time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Interval is the time between checks.
func (m *Monitor) Interval() time.Duration { return time.Duration(m.IntervalS) * time.Second }

// Timeout bounds one check.
func (m *Monitor) Timeout() time.Duration { return time.Duration(m.TimeoutS) * time.Second }

// Source names the monitor among a component's signals.
func (m *Monitor) Source() string { return "monitor:" + strconv.FormatInt(m.ID, 10) }

// MonitorInput is what an operator sets.
type MonitorInput struct {
	ComponentID     int64
	Name            string
	Kind            string
	Target          string
	Method          string
	ExpectCodes     string
	Keyword         string
	Headers         string
	FollowRedirects bool
	WarnDays        int
	DNSType         string
	DNSExpect       string
	DNSServer       string
	IntervalS       int
	TimeoutS        int
	FailThreshold   int
	OKThreshold     int
	FailureStatus   string
	Enabled         bool
}

// Input is what an operator set, for a form to edit.
func (m *Monitor) Input() MonitorInput {
	return MonitorInput{ComponentID: m.ComponentID, Name: m.Name, Kind: m.Kind, Target: m.Target, Method: m.Method,
		ExpectCodes: m.ExpectCodes, Keyword: m.Keyword, Headers: m.Headers, FollowRedirects: m.FollowRedirects,
		WarnDays: m.WarnDays, DNSType: m.DNSType, DNSExpect: m.DNSExpect, DNSServer: m.DNSServer, IntervalS: m.IntervalS,
		TimeoutS: m.TimeoutS, FailThreshold: m.FailThreshold, OKThreshold: m.OKThreshold, FailureStatus: m.FailureStatus,
		Enabled: m.Enabled}
}

// DefaultMonitor is what the console's form starts from.
var DefaultMonitor = MonitorInput{Kind: MonitorHTTP, Method: "GET", ExpectCodes: "200-299", FollowRedirects: true, WarnDays: 14,
	DNSType: "A", IntervalS: 60, TimeoutS: 10, FailThreshold: 3, OKThreshold: 2, FailureStatus: MajorOutage, Enabled: true}

var httpMethods = []string{"GET", "HEAD", "POST", "OPTIONS"}

func (s *Store) validateMonitor(tx *gorm.DB, in *MonitorInput) error {
	f := fieldErrors{}
	in.Name, in.Target, in.Method = strings.TrimSpace(in.Name), strings.TrimSpace(in.Target), strings.ToUpper(strings.TrimSpace(in.Method))
	in.ExpectCodes, in.Keyword, in.DNSExpect, in.DNSServer = strings.TrimSpace(in.ExpectCodes), strings.TrimSpace(in.Keyword),
		strings.TrimSpace(in.DNSExpect), strings.TrimSpace(in.DNSServer)
	f.line("name", in.Name, true, MaxName)
	f.line("target", in.Target, true, 500)
	var n int64
	if err := tx.Model(&Component{}).Where("id = ?", in.ComponentID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		f.add("component_id", "invalid_choice")
	}
	switch in.Kind {
	case MonitorHTTP:
		if u, err := url.Parse(in.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.add("target", "bad_url")
		}
		if in.Method == "" {
			in.Method = "GET"
		}
		if !oneOf(in.Method, httpMethods) {
			f.add("method", "invalid_choice")
		}
		if in.ExpectCodes == "" {
			in.ExpectCodes = "200-299"
		}
		if _, err := ParseCodes(in.ExpectCodes); err != nil {
			f.add("expect_codes", "bad_codes")
		}
		f.line("keyword", in.Keyword, false, 200)
		f.block("headers", in.Headers, false, 2000)
		if _, err := ParseHeaders(in.Headers); errors.Is(err, ErrForbiddenHeader) {
			f.add("headers", "forbidden_header")
		} else if err != nil {
			f.add("headers", "bad_headers")
		}
	case MonitorTCP, MonitorTLS:
		if host, port, err := net.SplitHostPort(in.Target); err != nil || host == "" || port == "" {
			f.add("target", "bad_host_port")
		}
		if in.Kind == MonitorTLS && (in.WarnDays < 0 || in.WarnDays > 365) {
			f.add("warn_days", "out_of_range")
		}
	case MonitorDNS:
		if strings.ContainsAny(in.Target, " /:") {
			f.add("target", "bad_host")
		}
		if !oneOf(in.DNSType, DNSTypes) {
			f.add("dns_type", "invalid_choice")
		}
		f.line("dns_expect", in.DNSExpect, false, 200)
		if in.DNSServer != "" {
			if _, _, err := net.SplitHostPort(in.DNSServer); err != nil {
				f.add("dns_server", "bad_host_port")
			}
		}
	default:
		f.add("kind", "invalid_choice")
	}
	if in.IntervalS < MinMonitorInterval || in.IntervalS > MaxMonitorInterval {
		f.add("interval_s", "out_of_range")
	}
	if in.TimeoutS < 1 || in.TimeoutS > MaxMonitorTimeout || in.TimeoutS >= in.IntervalS {
		f.add("timeout_s", "out_of_range")
	}
	if in.FailThreshold < 1 || in.FailThreshold > MaxThreshold {
		f.add("fail_threshold", "out_of_range")
	}
	if in.OKThreshold < 1 || in.OKThreshold > MaxThreshold {
		f.add("ok_threshold", "out_of_range")
	}
	if !oneOf(in.FailureStatus, []string{DegradedPerformance, PartialOutage, MajorOutage}) {
		f.add("failure_status", "invalid_choice")
	}
	return f.err()
}

// ParseCodes reads "200-299" or "200,204,301-302" into ranges.
func ParseCodes(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, fmt.Errorf("data: bad status codes %q", s)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// Hosts are the hosts a check dials, by the field that names them: the
// target's host and, for DNS, the server asked.
func (in MonitorInput) Hosts() map[string]string {
	out := map[string]string{}
	switch in.Kind {
	case MonitorHTTP:
		if u, err := url.Parse(strings.TrimSpace(in.Target)); err == nil {
			out["target"] = u.Hostname()
		}
	case MonitorTCP, MonitorTLS:
		if host, _, err := net.SplitHostPort(strings.TrimSpace(in.Target)); err == nil {
			out["target"] = host
		}
	case MonitorDNS:
		if host, _, err := net.SplitHostPort(strings.TrimSpace(in.DNSServer)); err == nil {
			out["dns_server"] = host
		}
	}
	return out
}

// ErrForbiddenHeader is a header a monitor may not send.
var ErrForbiddenHeader = errors.New("data: a monitor may not send this header")

// forbiddenHeaders are refused in a monitor's request: the ones that
// change where a request goes or how it is framed (Host, Forwarded, the
// hop-by-hop ones), and the ones cloud metadata services ask for as proof
// the request is not forged.
var forbiddenHeaders = map[string]bool{
	"host": true, "forwarded": true, "x-forwarded-for": true, "x-forwarded-host": true, "x-forwarded-proto": true, "x-real-ip": true,
	"connection": true, "keep-alive": true, "proxy-authenticate": true, "proxy-authorization": true, "proxy-connection": true,
	"te": true, "trailer": true, "transfer-encoding": true, "upgrade": true, "content-length": true, "expect": true,
	"metadata": true, "metadata-flavor": true, "x-google-metadata-request": true, "x-aws-ec2-metadata-token": true,
	"x-aws-ec2-metadata-token-ttl-seconds": true, "x-identity-header": true,
}

// ParseHeaders reads "Name: value" lines; a forbidden header is an
// ErrForbiddenHeader.
func ParseHeaders(s string) ([][2]string, error) {
	var out [][2]string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("data: bad header line %q", line)
		}
		if forbiddenHeaders[strings.ToLower(k)] {
			return nil, fmt.Errorf("%w: %s", ErrForbiddenHeader, k)
		}
		out = append(out, [2]string{k, strings.TrimSpace(v)})
	}
	return out, nil
}

// set copies what an operator set onto the monitor.
func (m *Monitor) set(in MonitorInput) {
	m.ComponentID, m.Name, m.Kind, m.Target, m.Method = in.ComponentID, in.Name, in.Kind, in.Target, in.Method
	m.ExpectCodes, m.Keyword, m.Headers, m.FollowRedirects = in.ExpectCodes, in.Keyword, in.Headers, in.FollowRedirects
	m.WarnDays, m.DNSType, m.DNSExpect, m.DNSServer = in.WarnDays, in.DNSType, in.DNSExpect, in.DNSServer
	m.IntervalS, m.TimeoutS, m.FailThreshold, m.OKThreshold = in.IntervalS, in.TimeoutS, in.FailThreshold, in.OKThreshold
	m.FailureStatus, m.Enabled = in.FailureStatus, in.Enabled
}

func monitorFields(in MonitorInput) map[string]any {
	return map[string]any{"component_id": in.ComponentID, "name": in.Name, "kind": in.Kind, "target": in.Target, "method": in.Method,
		"expect_codes": in.ExpectCodes, "keyword": in.Keyword, "headers": in.Headers, "follow_redirects": in.FollowRedirects,
		"warn_days": in.WarnDays, "dns_type": in.DNSType, "dns_expect": in.DNSExpect, "dns_server": in.DNSServer,
		"interval_s": in.IntervalS, "timeout_s": in.TimeoutS, "fail_threshold": in.FailThreshold, "ok_threshold": in.OKThreshold,
		"failure_status": in.FailureStatus, "enabled": in.Enabled}
}

// CreateMonitor adds a check; it first runs at once.
func (s *Store) CreateMonitor(ctx context.Context, in MonitorInput) (*Monitor, error) {
	var m Monitor
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.validateMonitor(tx, &in); err != nil {
			return err
		}
		now := s.now()
		m = Monitor{State: MonitorUnknown, NextRunAt: now, CreatedAt: now, UpdatedAt: now}
		m.set(in)
		return tx.Create(&m).Error
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create monitor", err)
	}
	return &m, nil
}

// UpdateMonitor changes a check. A change of what it checks starts it
// afresh (unknown, checked at once); its signal is withdrawn.
func (s *Store) UpdateMonitor(ctx context.Context, id int64, in MonitorInput) (*SignalOutcome, error) {
	var out *SignalOutcome
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var old Monitor
		if err := tx.First(&old, id).Error; err != nil {
			return notFound(err)
		}
		if err := s.validateMonitor(tx, &in); err != nil {
			return err
		}
		fields := monitorFields(in)
		fields["state"], fields["fails_in_row"], fields["oks_in_row"] = MonitorUnknown, 0, 0
		fields["next_run_at"], fields["updated_at"] = s.now(), s.now()
		if err := tx.Model(&Monitor{ID: id}).Updates(fields).Error; err != nil {
			return err
		}
		var err error
		out, err = s.signal(tx, Signal{ComponentID: old.ComponentID, Source: old.Source(), Status: Operational})
		return err
	})
	return out, wrapUnlessInvalid(fmt.Sprintf("update monitor %d", id), err)
}

// DeleteMonitor removes a check, its results and its signal.
func (s *Store) DeleteMonitor(ctx context.Context, id int64) (*SignalOutcome, error) {
	var out *SignalOutcome
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var m Monitor
		if err := tx.First(&m, id).Error; err != nil {
			return notFound(err)
		}
		for _, q := range []string{"DELETE FROM monitor_results WHERE monitor_id = ?", "DELETE FROM monitor_days WHERE monitor_id = ?",
			"DELETE FROM monitors WHERE id = ?"} {
			if err := tx.Exec(q, id).Error; err != nil {
				return err
			}
		}
		var err error
		out, err = s.signal(tx, Signal{ComponentID: m.ComponentID, Source: m.Source(), Status: Operational})
		return err
	})
	return out, wrapUnlessInvalid(fmt.Sprintf("delete monitor %d", id), err)
}

// Monitor returns one check.
func (s *Store) Monitor(ctx context.Context, id int64) (*Monitor, error) {
	var m Monitor
	if err := s.db.WithContext(ctx).First(&m, id).Error; err != nil {
		return nil, fmt.Errorf("data: monitor %d: %w", id, notFound(err))
	}
	return &m, nil
}

// Monitors lists every check, by component then name.
func (s *Store) Monitors(ctx context.Context) ([]Monitor, error) {
	var ms []Monitor
	err := s.db.WithContext(ctx).Order("component_id, name, id").Find(&ms).Error
	return ms, err
}

// MonitorsDue reports whether any check is due: a read, so the runner
// takes the write lock (SQLite's is the whole database) only when there is
// something to claim.
func (s *Store) MonitorsDue(ctx context.Context) (bool, error) {
	now := s.now()
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Monitor{}).Where("enabled = ? AND next_run_at <= ? AND (lease_until IS NULL OR lease_until < ?)", true, now, now).
		Limit(1).Pluck("id", &ids).Error
	return len(ids) > 0, err
}

// ClaimMonitors takes up to limit checks that are due for worker: each is
// leased until its timeout (and a margin) has passed and its next run is
// set, so with several instances every check runs on one at a time.
func (s *Store) ClaimMonitors(ctx context.Context, worker string, limit int) ([]Monitor, error) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var ids []int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		// The lease outlasts the longest timeout: a check is never run
		// twice at once, and a dead worker's checks are taken over soon.
		return tx.Raw(`UPDATE monitors SET lease_owner = ?, lease_until = ?
			WHERE id IN (SELECT id FROM monitors WHERE enabled = ? AND next_run_at <= ? AND (lease_until IS NULL OR lease_until < ?)
				ORDER BY next_run_at, id LIMIT ?`+lock+`)
			RETURNING id`, worker, now.Add(MonitorLease), true, now, now, limit).Scan(&ids).Error
	})
	if err != nil {
		return nil, fmt.Errorf("data: claim monitors: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []Monitor
	err = s.db.WithContext(ctx).Where("id IN ?", ids).Order("next_run_at, id").Find(&ms).Error
	return ms, err
}

// CheckResult is what one check found.
type CheckResult struct {
	At      time.Time
	OK      bool
	Latency time.Duration
	Error   string
}

// RecordCheck stores a check's result, counts it into its day, moves the
// streaks and, when a threshold is crossed, the monitor's state and its
// signal on the component. A result from a worker that lost its lease is
// still kept, but moves nothing. So is a result taken while a maintenance
// window covers the component: announced work is not downtime, so it is
// not counted into its day (nor into the uptime), and it leaves the
// streaks and the state as they were, so no draft or incident comes of
// it; the checks after the window go on from where the streaks stood.
func (s *Store) RecordCheck(ctx context.Context, id int64, worker string, res CheckResult, loc *time.Location) (*SignalOutcome, error) {
	ctx = context.WithoutCancel(ctx)
	var out *SignalOutcome
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var m Monitor
		if err := s.lockRow(tx).First(&m, id).Error; err != nil {
			return notFound(err)
		}
		at := res.At.UTC()
		ms := int(res.Latency / time.Millisecond)
		if err := tx.Exec("INSERT INTO monitor_results (monitor_id, at, ok, latency_ms, error, instance) VALUES (?, ?, ?, ?, ?, ?)",
			id, at, res.OK, ms, truncate(res.Error, 500), worker).Error; err != nil {
			return err
		}
		inMaintenance, err := maintenanceCovers(tx, m.ComponentID, at)
		if err != nil {
			return err
		}
		if !inMaintenance {
			fail := 0
			if !res.OK {
				fail = 1
			}
			day := at.In(loc).Format("2006-01-02")
			if err := tx.Exec(`INSERT INTO monitor_days (monitor_id, day, checks, failures, latency_sum) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (monitor_id, day) DO UPDATE SET checks = monitor_days.checks + 1, failures = monitor_days.failures + excluded.failures,
			latency_sum = monitor_days.latency_sum + excluded.latency_sum`, id, day, fail, ms).Error; err != nil {
				return err
			}
		}
		if m.LeaseOwner != worker {
			return nil
		}
		state := m.State
		if !inMaintenance {
			if res.OK {
				m.OKsInRow, m.FailsInRow = m.OKsInRow+1, 0
			} else {
				m.FailsInRow, m.OKsInRow = m.FailsInRow+1, 0
			}
			switch {
			case !res.OK && m.FailsInRow >= m.FailThreshold:
				state = MonitorDown
			case res.OK && m.OKsInRow >= m.OKThreshold:
				state = MonitorUp
			}
		}
		// Keep the cadence: the next run is an interval after this one was
		// due, not after it happened to run (unless it fell a whole
		// interval behind).
		next := m.NextRunAt.UTC().Add(m.Interval())
		if !next.After(at) {
			next = at.Add(m.Interval())
		}
		if err := tx.Model(&Monitor{ID: id}).Updates(map[string]any{"fails_in_row": m.FailsInRow, "oks_in_row": m.OKsInRow,
			"state": state, "last_checked_at": at, "last_error": truncate(res.Error, 500), "last_latency_ms": ms,
			"next_run_at": next, "lease_owner": "", "lease_until": nil}).Error; err != nil {
			return err
		}
		if state == m.State {
			return nil
		}
		sig := Signal{ComponentID: m.ComponentID, Source: m.Source(), Status: Operational, Detail: m.Name}
		if state == MonitorDown {
			sig.Status, sig.Detail = m.FailureStatus, m.Name+": "+res.Error
		}
		out, err = s.signal(tx, sig)
		return err
	})
	return out, wrapUnlessInvalid(fmt.Sprintf("record check of monitor %d", id), err)
}

// lockRow locks the row read for the rest of the transaction on
// PostgreSQL (SQLite's write transaction already serialises).
func (s *Store) lockRow(tx *gorm.DB) *gorm.DB {
	if s.dialect == "postgres" {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// PruneMonitorResults deletes raw results older than MonitorResultDays and
// per-day counts older than keepDays.
func (s *Store) PruneMonitorResults(ctx context.Context, keepDays int, loc *time.Location) (int64, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Exec("DELETE FROM monitor_results WHERE at < ?", now.AddDate(0, 0, -MonitorResultDays))
	if res.Error != nil {
		return 0, fmt.Errorf("data: prune monitor results: %w", res.Error)
	}
	cut := now.In(loc).AddDate(0, 0, -keepDays).Format("2006-01-02")
	if err := s.db.WithContext(ctx).Exec("DELETE FROM monitor_days WHERE day < ?", cut).Error; err != nil {
		return 0, fmt.Errorf("data: prune monitor days: %w", err)
	}
	return res.RowsAffected, nil
}

// FirstMonitorResult returns when the monitors' record starts: their
// earliest result still kept or, when the raw results of the first days
// were pruned, the start (in loc) of the earliest day still counted. Zero
// when there is none.
func (s *Store) FirstMonitorResult(ctx context.Context, ids []int64, loc *time.Location) (time.Time, error) {
	if len(ids) == 0 {
		return time.Time{}, nil
	}
	db := s.db.WithContext(ctx)
	var first []time.Time
	if err := db.Table("monitor_results").Where("monitor_id IN ?", ids).Order("at").Limit(1).Pluck("at", &first).Error; err != nil {
		return time.Time{}, fmt.Errorf("data: first monitor result: %w", err)
	}
	var days []string
	if err := db.Table("monitor_days").Where("monitor_id IN ?", ids).Order("day").Limit(1).Pluck("day", &days).Error; err != nil {
		return time.Time{}, fmt.Errorf("data: first monitor day: %w", err)
	}
	var at time.Time
	if len(first) > 0 {
		at = first[0]
	}
	if len(days) > 0 && (at.IsZero() || days[0] < at.In(loc).Format("2006-01-02")) {
		if d, err := time.ParseInLocation("2006-01-02", days[0], loc); err == nil {
			at = d
		}
	}
	return at, nil
}

// MonitorDay is a check's count of one day.
type MonitorDay struct {
	MonitorID  int64
	Day        string
	Checks     int
	Failures   int
	LatencySum int64
}

// MonitorDays returns the per-day counts of monitors since a moment (by
// day in loc), oldest first.
func (s *Store) MonitorDays(ctx context.Context, ids []int64, since time.Time, loc *time.Location) ([]MonitorDay, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []MonitorDay
	err := s.db.WithContext(ctx).Table("monitor_days").Where("monitor_id IN ? AND day >= ?", ids, since.In(loc).Format("2006-01-02")).
		Order("day, monitor_id").Find(&out).Error
	return out, err
}

// LatencyPoint is the mean response time of one stretch of time.
type LatencyPoint struct {
	At       time.Time
	MeanMS   int
	Checks   int
	Failures int
}

// LatencyWindow is a chart's range (ending now) and the stretch of time
// each of its points covers.
type LatencyWindow struct {
	Span, Bucket time.Duration
}

// latencyBuckets accumulates one window's points.
type latencyBuckets struct {
	since, bucket time.Duration
	from          time.Time
	points        []LatencyPoint
	sum           int64
}

func (b *latencyBuckets) close() {
	if n := len(b.points); n > 0 {
		p := &b.points[n-1]
		p.MeanMS = int(b.sum / int64(max(p.Checks-p.Failures, 1)))
	}
}

func (b *latencyBuckets) add(at time.Time, ok bool, ms int) {
	start := b.from.Add(at.Sub(b.from) / b.bucket * b.bucket)
	if n := len(b.points); n == 0 || !b.points[n-1].At.Equal(start) {
		b.close()
		b.points = append(b.points, LatencyPoint{At: start})
		b.sum = 0
	}
	p := &b.points[len(b.points)-1]
	p.Checks++
	if ok {
		b.sum += int64(ms)
	} else {
		p.Failures++
	}
}

// LatencySeries buckets the results of monitors for each window ending at
// until, oldest first; stretches without results are left out. The
// results are read once, for the longest window.
func (s *Store) LatencySeries(ctx context.Context, ids []int64, until time.Time, windows []LatencyWindow) ([][]LatencyPoint, error) {
	out := make([][]LatencyPoint, len(windows))
	if len(ids) == 0 || len(windows) == 0 {
		return out, nil
	}
	bs := make([]*latencyBuckets, len(windows))
	since := until
	for i, w := range windows {
		bs[i] = &latencyBuckets{bucket: w.Bucket, from: until.Add(-w.Span)}
		if bs[i].from.Before(since) {
			since = bs[i].from
		}
	}
	rows, err := s.db.WithContext(ctx).Table("monitor_results").Select("at, ok, latency_ms").
		Where("monitor_id IN ? AND at >= ?", ids, since.UTC()).Order("at").Rows()
	if err != nil {
		return nil, fmt.Errorf("data: latency: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at time.Time
		var ok bool
		var ms int
		if err := rows.Scan(&at, &ok, &ms); err != nil {
			return nil, err
		}
		for _, b := range bs {
			if !at.Before(b.from) {
				b.add(at, ok, ms)
			}
		}
	}
	for i, b := range bs {
		b.close()
		out[i] = b.points
	}
	return out, rows.Err()
}
