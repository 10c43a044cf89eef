// Package mailtest runs a real SMTP server (emersion/go-smtp) inside a test
// process, keeps every message it accepts, and can be told to refuse.
package mailtest

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Parse reads the message with net/mail.
func (m Message) Parse(t testing.TB) *mail.Message {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("mailtest: message to %v does not parse: %v\n%s", m.To, err, m.Data)
	}
	return msg
}

// Server is an SMTP server on a loopback port.
type Server struct {
	Addr string

	mu       sync.Mutex
	messages []Message
	// Refuse decides a reply to each RCPT TO: nil accepts.
	refuse func(rcpt string) *smtp.SMTPError
	// refuseData decides a reply to each DATA: nil accepts.
	refuseData func(rcpt []string) *smtp.SMTPError
	// refuseSession, refuseMail and refuseAuth refuse at EHLO, MAIL FROM
	// and AUTH: the relay-level refusals a real relay gives when a password
	// was rotated or a sender is not (yet) allowed.
	refuseSession func() *smtp.SMTPError
	refuseMail    func(from string) *smtp.SMTPError
	refuseAuth    func(user string) *smtp.SMTPError
	// delay is how long each DATA takes, as a slow relay does.
	delay    time.Duration
	inData   int
	sessions int
	srv      *smtp.Server
	closed   chan struct{}
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{closed: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		f := s.refuseSession
		s.mu.Unlock()
		if f != nil {
			if err := f(); err != nil {
				return nil, err
			}
		}
		return &session{s: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go s.srv.Serve(l)
	t.Cleanup(func() {
		close(s.closed)
		s.srv.Close()
	})
	return s
}

// RefuseSession sets the reply to EHLO; nil from f accepts.
func (s *Server) RefuseSession(f func() *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseSession = f
}

// RefuseMail sets the reply to MAIL FROM; nil from f accepts.
func (s *Server) RefuseMail(f func(from string) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseMail = f
}

// RefuseAuth sets the reply to AUTH PLAIN; nil from f accepts any password.
func (s *Server) RefuseAuth(f func(user string) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseAuth = f
}

// SlowData makes every DATA take d before it is answered.
func (s *Server) SlowData(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// InData counts the messages being received right now.
func (s *Server) InData() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inData
}

// URL is an OSHIRASE_SMTP_URL for this server, without TLS.
func (s *Server) URL() string { return "smtp://" + s.Addr + "?tls=none" }

// RefuseRcpt sets the reply to RCPT TO; nil from f accepts.
func (s *Server) RefuseRcpt(f func(rcpt string) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = f
}

// RefuseData sets the reply to the end of DATA; nil from f accepts.
func (s *Server) RefuseData(f func(rcpt []string) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseData = f
}

// Messages returns a copy of what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Sessions counts the connections the server has seen.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// ByRecipient counts accepted messages per recipient address.
func (s *Server) ByRecipient() map[string]int {
	m := map[string]int{}
	for _, msg := range s.Messages() {
		for _, to := range msg.To {
			m[strings.ToLower(to)]++
		}
	}
	return m
}

// TempFail is a 451 reply, which a sender must retry.
var TempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}

// NoSuchUser is a 550 reply, which a sender must not retry.
var NoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	f := x.s.refuseMail
	x.s.mu.Unlock()
	if f != nil {
		if err := f(from); err != nil {
			return err
		}
	}
	x.from = from
	return nil
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		x.s.mu.Lock()
		f := x.s.refuseAuth
		x.s.mu.Unlock()
		if f != nil {
			if err := f(username); err != nil {
				return err
			}
		}
		return nil
	}), nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	f := x.s.refuse
	x.s.mu.Unlock()
	if f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	delay := x.s.delay
	x.s.inData++
	x.s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-x.s.closed:
		}
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.inData--
	if f := x.s.refuseData; f != nil {
		if err := f(x.to); err != nil {
			return err
		}
	}
	x.s.messages = append(x.s.messages, Message{From: x.from, To: append([]string(nil), x.to...), Data: b})
	return nil
}
