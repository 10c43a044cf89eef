package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// Timeouts for talking to the SMTP server. jordan-wright/email's pool has
// none, so a server that stops answering would hang a sender for ever.
const (
	dialTimeout    = 15 * time.Second
	messageTimeout = 60 * time.Second
)

// Sender opens connections to the configured SMTP server.
type Sender struct {
	cfg       SMTPConfig
	helo      string
	tlsConfig *tls.Config
}

// NewSender returns a Sender for cfg; helo is the name it greets with.
func NewSender(cfg SMTPConfig, helo string) *Sender {
	return &Sender{cfg: cfg, helo: helo, tlsConfig: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}}
}

// Conn is one open, authenticated SMTP connection. A dispatcher worker owns
// one and sends message after message over it.
type Conn struct {
	c    *smtp.Client
	conn net.Conn
}

// Dial connects, secures and authenticates a connection. With tls=starttls
// a server that does not offer STARTTLS is refused rather than used in
// clear (jordan-wright/email's pool silently carries on in clear); with
// tls=tls the connection is TLS from the first byte, as port 465 expects.
func (s *Sender) Dial(ctx context.Context) (*Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	var conn net.Conn
	var err error
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig}).DialContext(ctx, "tcp", s.cfg.Addr())
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr())
	}
	if err != nil {
		return nil, &SendError{Err: fmt.Errorf("connect to %s: %w", s.cfg.Addr(), err)}
	}
	conn.SetDeadline(time.Now().Add(messageTimeout))
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return nil, classify("greeting", err)
	}
	fail := func(stage string, err error) (*Conn, error) {
		c.Close()
		return nil, classify(stage, err)
	}
	if err := c.Hello(s.helo); err != nil {
		return fail("EHLO", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS; refusing to send in clear (tls=starttls)"))
		}
		if err := c.StartTLS(s.tlsConfig); err != nil {
			return fail("STARTTLS", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fail("AUTH", errors.New("the server does not offer AUTH, but a user name is configured"))
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fail("AUTH", err)
		}
	}
	return &Conn{c: c, conn: conn}, nil
}

// Send sends one message to one recipient. One recipient per message means
// one bad address cannot fail the others.
func (c *Conn) Send(from, to string, msg []byte) error {
	c.conn.SetDeadline(time.Now().Add(messageTimeout))
	if err := c.c.Mail(from); err != nil {
		return c.reset(classify("MAIL FROM", err))
	}
	if err := c.c.Rcpt(to); err != nil {
		return c.reset(classify("RCPT TO", err))
	}
	w, err := c.c.Data()
	if err != nil {
		return c.reset(classify("DATA", err))
	}
	if _, err := w.Write(msg); err != nil {
		return classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return c.reset(classify("end of DATA", err))
	}
	return nil
}

// reset clears the transaction after a refusal so the connection can carry
// the next message; if even that fails the connection is marked broken.
func (c *Conn) reset(err *SendError) error {
	if err.Code == 0 {
		return err
	}
	if rerr := c.c.Reset(); rerr != nil {
		err.Broken = true
	}
	return err
}

// Abort drops the connection at once, whatever is in progress: a send
// blocked on a slow server returns with an error. The message then counts
// as not sent.
func (c *Conn) Abort() { c.conn.Close() }

// Close says QUIT and closes the connection.
func (c *Conn) Close() error {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.c.Quit(); err != nil {
		return c.c.Close()
	}
	return nil
}

// SendError is why a message did not go. Code is the SMTP reply code, 0 when
// the connection itself failed.
type SendError struct {
	Stage  string
	Code   int
	Err    error
	Broken bool
}

func (e *SendError) Error() string {
	if e.Stage == "" {
		return e.Err.Error()
	}
	return e.Stage + ": " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// Permanent reports a 5xx reply: the server will never take this message,
// so it is not retried.
func (e *SendError) Permanent() bool { return e.Code >= 500 && e.Code < 600 }

// RelayLevel reports a refusal or failure that is about the relay, not the
// recipient: the greeting, EHLO, STARTTLS, AUTH or MAIL FROM was refused,
// or the connection failed. Only RCPT TO and the answer to DATA speak of
// one recipient (or that one message).
func (e *SendError) RelayLevel() bool {
	if e.Code == 0 {
		return true
	}
	switch e.Stage {
	case "RCPT TO", "DATA", "end of DATA":
		return false
	}
	return true
}

// ConnectionLost reports that the connection cannot carry another message.
func (e *SendError) ConnectionLost() bool { return e.Code == 0 || e.Broken }

func classify(stage string, err error) *SendError {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &SendError{Stage: stage, Code: tp.Code, Err: err}
	}
	return &SendError{Stage: stage, Err: err, Broken: true}
}
