package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.Database != "sqlite:oshirase.db" || c.Location.String() != "Asia/Tokyo" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.BaseURL.String() != "http://127.0.0.1:8080" || c.Secure() {
		t.Fatalf("base url %s", c.BaseURL)
	}
	if c.SMTP != nil || c.MailFrom.Address != "noreply@localhost" || c.SMTPConnections != 2 || c.SMTPRate != 10 || c.Retention != 13 {
		t.Fatalf("mail defaults: %+v", c)
	}
	if c.DBRequestTimeout != 10*time.Second {
		t.Fatalf("database request timeout %s", c.DBRequestTimeout)
	}
	c, _ = Load(env("OSHIRASE_ADDR", ":9000", "OSHIRASE_BASE_URL", "https://status.example.com/"))
	if c.BaseURL.String() != "https://status.example.com" || !c.Secure() || c.MailFrom.Address != "noreply@status.example.com" {
		t.Fatalf("base url %s", c.BaseURL)
	}
	c, err = Load(env("OSHIRASE_SMTP_URL", "smtp://u:p@mail.example.com:587", "OSHIRASE_MAIL_FROM", "ステータス <status@example.com>"))
	if err != nil || c.SMTP == nil || c.SMTP.Username != "u" || c.MailFrom.Name != "ステータス" {
		t.Fatalf("smtp: %+v %v", c, err)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env      []string
		variable string
	}{
		{[]string{"OSHIRASE_ADDR", "8080"}, "OSHIRASE_ADDR"},
		{[]string{"OSHIRASE_DATABASE", "mysql://x"}, "OSHIRASE_DATABASE"},
		{[]string{"OSHIRASE_DATABASE", "sqlite:"}, "OSHIRASE_DATABASE"},
		{[]string{"OSHIRASE_BASE_URL", "ftp://x"}, "OSHIRASE_BASE_URL"},
		{[]string{"OSHIRASE_BASE_URL", "https://x/?a=b"}, "OSHIRASE_BASE_URL"},
		{[]string{"OSHIRASE_TIMEZONE", "Mars/Olympus"}, "OSHIRASE_TIMEZONE"},
		{[]string{"OSHIRASE_SECRET", "short"}, "OSHIRASE_SECRET"},
		{[]string{"OSHIRASE_ADMIN_EMAIL", "a@example.com"}, "OSHIRASE_ADMIN_PASSWORD"},
		{[]string{"OSHIRASE_SECURITY_CONTACT", "call us"}, "OSHIRASE_SECURITY_CONTACT"},
		{[]string{"OSHIRASE_SMTP_URL", "smtp://mail.example.com?tls=sometimes", "OSHIRASE_MAIL_FROM", "a@example.com"}, "OSHIRASE_SMTP_URL"},
		{[]string{"OSHIRASE_SMTP_URL", "smtp://mail.example.com"}, "OSHIRASE_MAIL_FROM"},
		{[]string{"OSHIRASE_MAIL_FROM", "Status\r\nBcc: x@example.com <a@example.com>"}, "OSHIRASE_MAIL_FROM"},
		{[]string{"OSHIRASE_SMTP_CONNECTIONS", "0"}, "OSHIRASE_SMTP_CONNECTIONS"},
		{[]string{"OSHIRASE_METRICS_TOKEN", "short"}, "OSHIRASE_METRICS_TOKEN"},
		{[]string{"OSHIRASE_OUTBOUND_ALLOW", "10.0.0.0"}, "OSHIRASE_OUTBOUND_ALLOW"},
		{[]string{"OSHIRASE_OUTBOUND_ALLOW_HTTP", "yes"}, "OSHIRASE_OUTBOUND_ALLOW_HTTP"},
		{[]string{"OSHIRASE_METRICS_ADDR", "9100"}, "OSHIRASE_METRICS_ADDR"},
		{[]string{"OSHIRASE_SMTP_RATE", "-1"}, "OSHIRASE_SMTP_RATE"},
		{[]string{"OSHIRASE_ACCESS_LOG_RETENTION", "11"}, "OSHIRASE_ACCESS_LOG_RETENTION"},
		{[]string{"OSHIRASE_ACCESS_LOG_RETENTION", "1y"}, "OSHIRASE_ACCESS_LOG_RETENTION"},
		{[]string{"OSHIRASE_TRUSTED_PROXIES", "10.0.0.0/8, not-an-ip"}, "OSHIRASE_TRUSTED_PROXIES"},
		{[]string{"OSHIRASE_REQUIRE_2FA", "maybe"}, "OSHIRASE_REQUIRE_2FA"},
		{[]string{"OSHIRASE_ACCESS_LOG", "syslog"}, "OSHIRASE_ACCESS_LOG"},
		{[]string{"OSHIRASE_INSTANCE", "../web 1"}, "OSHIRASE_INSTANCE"},
		{[]string{"OSHIRASE_DEBUG_ADDR", "0.0.0.0:6060"}, "OSHIRASE_DEBUG_ADDR"},
		{[]string{"OSHIRASE_DB_REQUEST_TIMEOUT", "10"}, "OSHIRASE_DB_REQUEST_TIMEOUT"},
		{[]string{"OSHIRASE_DB_REQUEST_TIMEOUT", "100ms"}, "OSHIRASE_DB_REQUEST_TIMEOUT"},
		{[]string{"OSHIRASE_DB_REQUEST_TIMEOUT", "5m"}, "OSHIRASE_DB_REQUEST_TIMEOUT"},
	}
	for _, c := range cases {
		_, err := Load(env(c.env...))
		if err == nil || !strings.Contains(err.Error(), c.variable) {
			t.Errorf("%v: error %v does not name %s", c.env, err, c.variable)
		}
	}
	_, err := Load(env("OSHIRASE_DATABASE", "mysql://user:hunter2@db/x"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password leaked into %v", err)
	}
}

func TestRetention(t *testing.T) {
	for v, want := range map[string]int{"12": 12, "18months": 18, "24 mo": 24, "13": 13} {
		c, err := Load(env("OSHIRASE_ACCESS_LOG_RETENTION", v))
		if err != nil || c.Retention != want {
			t.Errorf("%q: %v %v", v, c, err)
		}
	}
	_, err := Load(env("OSHIRASE_ACCESS_LOG_RETENTION", "6"))
	if err == nil || !strings.Contains(err.Error(), "under the 12 months") {
		t.Errorf("6 months: %v", err)
	}
}

func TestAccessLogPlace(t *testing.T) {
	cases := []struct {
		env    []string
		dir    string
		stdout bool
	}{
		{[]string{"OSHIRASE_DATABASE", "sqlite:/var/lib/oshirase/o.db"}, "/var/lib/oshirase/accesslog", false},
		{[]string{"OSHIRASE_DATABASE", "postgres://db/x", "OSHIRASE_SECRET", strings.Repeat("s", 32)}, "accesslog", false},
		{[]string{"OSHIRASE_ACCESS_LOG_DIR", "/logs", "OSHIRASE_ACCESS_LOG", "STDOUT"}, "/logs", true},
	}
	for _, c := range cases {
		cfg, err := Load(env(append(c.env, "OSHIRASE_INSTANCE", "web-1")...))
		if err != nil || cfg.AccessLogDir != c.dir || cfg.AccessLogStdout != c.stdout || cfg.Instance != "web-1" {
			t.Errorf("%v: %+v %v", c.env, cfg, err)
		}
	}
}

func TestProxiesAnd2FA(t *testing.T) {
	c, err := Load(env("OSHIRASE_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5", "OSHIRASE_REQUIRE_2FA", "true"))
	if err != nil || len(c.TrustedProxies) != 2 || !c.Require2FA || c.TrustedProxies[1].String() != "192.168.1.5/32" {
		t.Fatalf("%+v %v", c, err)
	}
}
