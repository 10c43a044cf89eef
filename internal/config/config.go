// Package config reads Oshirase's settings from OSHIRASE_* environment
// variables and checks them, naming the variable at fault.
package config

import (
	"fmt"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oshirase/oshirase/internal/mail"
)

// Config is the validated configuration of a server.
type Config struct {
	Addr     string
	Database string
	// BaseURL is the public address, without a trailing slash.
	BaseURL         *url.URL
	Location        *time.Location
	Secret          string
	SecurityContact string
	// SupportContact is whom customers ask about a notice; every email
	// names it.
	SupportContact string
	// ShutdownTimeout bounds a stop, inside a container's grace period.
	ShutdownTimeout time.Duration
	// DBRequestTimeout bounds the database work of one console or API
	// request: a database that takes connections but never answers gets
	// a 503 after this long rather than a request that hangs.
	DBRequestTimeout time.Duration
	// SecretFile holds the generated server secret when OSHIRASE_SECRET is
	// unset: beside the SQLite file, never in the database it protects.
	SecretFile string
	// PreviousSecrets still verify links and unseal what they sealed, so
	// the secret can be rotated without breaking links already sent.
	PreviousSecrets []string
	// Snapshot is the file the last good public pages are kept in, so an
	// instance starting while the database is down still serves them;
	// empty when turned off.
	Snapshot      string
	AdminEmail    string
	AdminPassword string
	// SMTP is nil when no server is configured: notices are then held.
	SMTP     *mail.SMTPConfig
	MailFrom *netmail.Address
	// SMTPConnections and SMTPRate bound how hard the dispatcher pushes.
	SMTPConnections int
	SMTPRate        float64
	// Retention is how many months access-log entries are kept (12 at least).
	Retention int
	// AccessLogDir holds the daily access-log files, and the rows moved out
	// of a database from before them.
	AccessLogDir string
	// AccessLogStdout sends the access log to standard output instead of
	// files, for a platform's log pipeline.
	AccessLogStdout bool
	// Instance names this process in access-log file names.
	Instance string
	// DebugAddr, when set, serves Go's profiler (net/http/pprof) there;
	// it must be a loopback address.
	DebugAddr string
	// MetricsToken opens /metrics on the main listener to this bearer
	// token; MetricsAddr serves /metrics on a listener of its own.
	MetricsToken string
	MetricsAddr  string
	// OutboundAllow are ranges webhooks, Slack and Teams addresses may be
	// in although private or local; OutboundAllowHTTP permits http://.
	OutboundAllow     []netip.Prefix
	OutboundAllowHTTP bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []*net.IPNet
	// Require2FA makes two-factor sign-in compulsory for admins.
	Require2FA bool
	// SSO is the identity provider operators sign in through; nil when
	// not configured.
	SSO *SSO
	// PasswordLogin is PasswordLoginOn or PasswordLoginBreakGlass; with the
	// latter only BreakGlass (normalized addresses) may sign in locally.
	PasswordLogin string
	BreakGlass    []string
}

var validInstance = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// Secure reports whether the server is reached over https, so cookies must
// be Secure.
func (c *Config) Secure() bool { return c.BaseURL.Scheme == "https" }

// Load reads the configuration through getenv: os.Getenv in production,
// wrapped by main so that command-line flags win over the environment.
func Load(getenv func(string) string) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr:            get("OSHIRASE_ADDR", "127.0.0.1:8080"),
		Database:        get("OSHIRASE_DATABASE", "sqlite:oshirase.db"),
		Secret:          getenv("OSHIRASE_SECRET"),
		SecurityContact: get("OSHIRASE_SECURITY_CONTACT", ""),
		SupportContact:  get("OSHIRASE_SUPPORT_CONTACT", ""),
		AdminEmail:      get("OSHIRASE_ADMIN_EMAIL", ""),
		AdminPassword:   getenv("OSHIRASE_ADMIN_PASSWORD"),
	}
	if err := c.check(get("OSHIRASE_BASE_URL", ""), get("OSHIRASE_TIMEZONE", "Asia/Tokyo")); err != nil {
		return nil, err
	}
	if err := c.checkProxies(get("OSHIRASE_TRUSTED_PROXIES", "")); err != nil {
		return nil, err
	}
	switch v := strings.ToLower(get("OSHIRASE_REQUIRE_2FA", "false")); v {
	case "true", "1", "yes":
		c.Require2FA = true
	case "false", "0", "no":
	default:
		return nil, fmt.Errorf("OSHIRASE_REQUIRE_2FA: %q must be true or false", v)
	}
	if err := c.checkSSO(get); err != nil {
		return nil, err
	}
	if err := c.checkRetention(get("OSHIRASE_ACCESS_LOG_RETENTION", "13")); err != nil {
		return nil, err
	}
	switch v := strings.ToLower(get("OSHIRASE_ACCESS_LOG", "file")); v {
	case "file":
	case "stdout":
		c.AccessLogStdout = true
	default:
		return nil, fmt.Errorf("OSHIRASE_ACCESS_LOG: %q must be file or stdout", v)
	}
	c.AccessLogDir = get("OSHIRASE_ACCESS_LOG_DIR", "")
	if c.AccessLogDir == "" {
		c.AccessLogDir = "accesslog"
		if path, ok := strings.CutPrefix(c.Database, "sqlite:"); ok {
			c.AccessLogDir = filepath.Join(filepath.Dir(path), "accesslog")
		}
	}
	host, _ := os.Hostname()
	c.Instance = get("OSHIRASE_INSTANCE", host)
	if !validInstance.MatchString(c.Instance) {
		return nil, fmt.Errorf("OSHIRASE_INSTANCE: %q must be letters, digits, '.', '_' or '-' (up to 64)", c.Instance)
	}
	if c.DebugAddr = get("OSHIRASE_DEBUG_ADDR", ""); c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("OSHIRASE_DEBUG_ADDR: %q must be a loopback host:port such as 127.0.0.1:6060 (the profiler is not for the network)", c.DebugAddr)
		}
	}
	if c.MetricsToken = get("OSHIRASE_METRICS_TOKEN", ""); c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return nil, fmt.Errorf("OSHIRASE_METRICS_TOKEN: use at least 16 characters (such as the output of openssl rand -hex 16)")
	}
	if c.MetricsAddr = get("OSHIRASE_METRICS_ADDR", ""); c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return nil, fmt.Errorf("OSHIRASE_METRICS_ADDR: %q must be host:port, such as 10.0.0.5:9100 (a private address)", c.MetricsAddr)
		}
	}
	for _, r := range strings.Split(get("OSHIRASE_OUTBOUND_ALLOW", ""), ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, fmt.Errorf("OSHIRASE_OUTBOUND_ALLOW: %q is not a range such as 10.20.0.0/16", r)
		}
		c.OutboundAllow = append(c.OutboundAllow, p.Masked())
	}
	switch v := get("OSHIRASE_OUTBOUND_ALLOW_HTTP", "false"); v {
	case "true", "false":
		c.OutboundAllowHTTP = v == "true"
	default:
		return nil, fmt.Errorf("OSHIRASE_OUTBOUND_ALLOW_HTTP: %q must be true or false", v)
	}
	d, err := time.ParseDuration(get("OSHIRASE_SHUTDOWN_TIMEOUT", "8s"))
	if err != nil || d < time.Second || d > 5*time.Minute {
		return nil, fmt.Errorf("OSHIRASE_SHUTDOWN_TIMEOUT: %q must be a duration from 1s to 5m, such as 8s", get("OSHIRASE_SHUTDOWN_TIMEOUT", "8s"))
	}
	c.ShutdownTimeout = d
	// 10 s: a healthy query takes milliseconds and the slowest console page
	// well under a second, so this is only ever reached by a database that
	// has stopped answering; an operator still learns it in seconds, long
	// before a proxy's own timeout (often 60 s) gives a bare 504.
	rt := get("OSHIRASE_DB_REQUEST_TIMEOUT", "10s")
	if d, err = time.ParseDuration(rt); err != nil || d < time.Second || d > time.Minute {
		return nil, fmt.Errorf("OSHIRASE_DB_REQUEST_TIMEOUT: %q must be a duration from 1s to 1m, such as 10s", rt)
	}
	c.DBRequestTimeout = d
	for _, p := range strings.Split(get("OSHIRASE_SECRET_PREVIOUS", ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			if len(p) < 32 {
				return nil, fmt.Errorf("OSHIRASE_SECRET_PREVIOUS: every secret must be at least 32 characters")
			}
			c.PreviousSecrets = append(c.PreviousSecrets, p)
		}
	}
	c.SecretFile = get("OSHIRASE_SECRET_FILE", "")
	if c.Secret == "" && c.SecretFile == "" {
		if path, ok := strings.CutPrefix(c.Database, "sqlite:"); ok {
			c.SecretFile = path + ".secret"
		} else {
			// Instances share one database and must share one secret; a file
			// per host would not do, and the database must not hold it.
			return nil, fmt.Errorf("OSHIRASE_SECRET: required with PostgreSQL (the same value on every instance; try: openssl rand -hex 32), or name a shared file in OSHIRASE_SECRET_FILE")
		}
	}
	switch snap := get("OSHIRASE_SNAPSHOT", ""); {
	case snap == "off":
	case snap != "":
		c.Snapshot = snap
	case strings.HasPrefix(c.Database, "sqlite:"):
		c.Snapshot = strings.TrimPrefix(c.Database, "sqlite:") + ".pages"
	default:
		c.Snapshot = "oshirase-pages.snapshot"
	}
	if err := c.checkMail(get("OSHIRASE_SMTP_URL", ""), get("OSHIRASE_MAIL_FROM", ""),
		get("OSHIRASE_SMTP_CONNECTIONS", "2"), get("OSHIRASE_SMTP_RATE", "10")); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) check(baseURL, zone string) error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || port == "" {
		return fmt.Errorf("OSHIRASE_ADDR: %q is not host:port (for example 127.0.0.1:8080 or :8080)", c.Addr)
	}
	switch {
	case strings.HasPrefix(c.Database, "sqlite:"):
		if strings.TrimPrefix(c.Database, "sqlite:") == "" {
			return fmt.Errorf("OSHIRASE_DATABASE: sqlite: needs a file path, for example sqlite:oshirase.db")
		}
	case strings.HasPrefix(c.Database, "postgres://"), strings.HasPrefix(c.Database, "postgresql://"):
		if _, err := url.Parse(c.Database); err != nil {
			return fmt.Errorf("OSHIRASE_DATABASE: not a valid postgres:// URL")
		}
	default:
		return fmt.Errorf("OSHIRASE_DATABASE: %q must be sqlite:PATH or postgres://…", redact(c.Database))
	}
	if baseURL == "" {
		h := host
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "localhost"
		}
		baseURL = "http://" + net.JoinHostPort(h, port)
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("OSHIRASE_BASE_URL: %q must be an http:// or https:// address without query, such as https://status.example.com", baseURL)
	}
	c.BaseURL = u
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("OSHIRASE_TIMEZONE: %q is not a time zone name such as Asia/Tokyo or UTC", zone)
	}
	c.Location = loc
	if c.Secret != "" && len(c.Secret) < 32 {
		return fmt.Errorf("OSHIRASE_SECRET: must be at least 32 characters (try: openssl rand -hex 32)")
	}
	if c.SecurityContact != "" && !strings.Contains(c.SecurityContact, "@") && !strings.HasPrefix(c.SecurityContact, "https://") {
		return fmt.Errorf("OSHIRASE_SECURITY_CONTACT: %q must be an email address or an https:// URL", c.SecurityContact)
	}
	if c.SupportContact != "" && !strings.Contains(c.SupportContact, "@") && !strings.HasPrefix(c.SupportContact, "https://") {
		return fmt.Errorf("OSHIRASE_SUPPORT_CONTACT: %q must be an email address or an https:// URL", c.SupportContact)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		return fmt.Errorf("OSHIRASE_ADMIN_EMAIL and OSHIRASE_ADMIN_PASSWORD: set both or neither")
	}
	return nil
}

// redact hides a password in a database URL before it reaches a log.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

func (c *Config) checkMail(smtpURL, from, conns, rate string) error {
	if smtpURL != "" {
		cfg, err := mail.ParseSMTPURL(smtpURL)
		if err != nil {
			return fmt.Errorf("OSHIRASE_SMTP_URL: %v", err)
		}
		c.SMTP = &cfg
		if from == "" {
			return fmt.Errorf("OSHIRASE_MAIL_FROM: set the sender address, such as \"Example Status <status@example.com>\", when OSHIRASE_SMTP_URL is set")
		}
	}
	if from == "" {
		// Only seen in held messages and previews until SMTP is configured.
		from = "Oshirase <noreply@" + c.BaseURL.Hostname() + ">"
		if strings.Count(c.BaseURL.Hostname(), ".") == 0 || net.ParseIP(c.BaseURL.Hostname()) != nil {
			from = "Oshirase <noreply@localhost>"
		}
	}
	a, err := mail.ParseFrom(from)
	if err != nil {
		return fmt.Errorf("OSHIRASE_MAIL_FROM: %v", err)
	}
	c.MailFrom = a
	n, err := strconv.Atoi(conns)
	if err != nil || n < 1 || n > 50 {
		return fmt.Errorf("OSHIRASE_SMTP_CONNECTIONS: %q must be a number from 1 to 50", conns)
	}
	c.SMTPConnections = n
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil || r <= 0 || r > 10000 {
		return fmt.Errorf("OSHIRASE_SMTP_RATE: %q must be messages per second, above 0", rate)
	}
	c.SMTPRate = r
	return nil
}

// MinRetention is the shortest access-log retention accepted: the vendor
// promises customers twelve months.
const MinRetention = 12

func (c *Config) checkRetention(v string) error {
	s := strings.ToLower(strings.TrimSpace(v))
	for _, suffix := range []string{"months", "month", "mo"} {
		s = strings.TrimSuffix(s, suffix)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n > 1200 {
		return fmt.Errorf("OSHIRASE_ACCESS_LOG_RETENTION: %q must be a number of months, such as 13", v)
	}
	if n < MinRetention {
		return fmt.Errorf("OSHIRASE_ACCESS_LOG_RETENTION: %d months is under the %d months access logs must be kept", n, MinRetention)
	}
	c.Retention = n
	return nil
}

// checkProxies reads a comma-separated list of addresses or CIDR ranges.
func (c *Config) checkProxies(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			if ip := net.ParseIP(part); ip != nil && ip.To4() != nil {
				part += "/32"
			} else {
				part += "/128"
			}
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return fmt.Errorf("OSHIRASE_TRUSTED_PROXIES: %q is not an address or a range such as 10.0.0.0/8", part)
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	return nil
}
