// Package mail composes Oshirase's notices from templates and sends them
// over SMTP. Header encoding and validation live here.
package mail

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// TLS modes of OSHIRASE_SMTP_URL.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// SMTPConfig is a parsed OSHIRASE_SMTP_URL.
type SMTPConfig struct {
	Host     string
	Port     string
	Username string
	Password string
	TLS      string
}

// Addr is host:port.
func (c SMTPConfig) Addr() string { return net.JoinHostPort(c.Host, c.Port) }

// ParseSMTPURL reads smtp://user:pass@host:port?tls=starttls|tls|none. The
// port defaults to 465 for tls and 587 otherwise; tls defaults to tls on
// port 465 and starttls elsewhere.
func ParseSMTPURL(s string) (SMTPConfig, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" {
		return SMTPConfig{}, errors.New("must look like smtp://user:pass@host:587?tls=starttls")
	}
	c := SMTPConfig{Host: u.Hostname(), Port: u.Port(), TLS: u.Query().Get("tls")}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
		if c.Port == "465" {
			c.TLS = TLSImplicit
		}
	}
	switch c.TLS {
	case TLSStartTLS, TLSNone:
		if c.Port == "" {
			c.Port = "587"
		}
	case TLSImplicit:
		if c.Port == "" {
			c.Port = "465"
		}
	default:
		return SMTPConfig{}, fmt.Errorf("tls=%s: must be starttls, tls or none", c.TLS)
	}
	if p, err := strconv.Atoi(c.Port); err != nil || p < 1 || p > 65535 {
		return SMTPConfig{}, fmt.Errorf("port %q is not a port number", c.Port)
	}
	if c.Username != "" && c.TLS == TLSNone && c.Host != "localhost" && c.Host != "127.0.0.1" && c.Host != "::1" {
		return SMTPConfig{}, errors.New("a password must not cross the network in clear: use tls=starttls or tls=tls")
	}
	return c, nil
}

// ParseFrom reads OSHIRASE_MAIL_FROM, such as "Example Status
// <status@example.com>", and returns it in a form safe to put in a header.
func ParseFrom(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("must be one line")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("must be an address such as \"Status <status@example.com>\": %v", err)
	}
	return a, nil
}
