package server

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"sort"
	"strings"
	"testing"

	"github.com/oshirase/oshirase/data"
	omail "github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
	"github.com/oshirase/oshirase/jobs"
)

// mailRig is the delivery half of the product for server tests: a real SMTP
// server in the test process and the dispatcher that sends to it.
type mailRig struct {
	a    *testApp
	smtp *mailtest.Server
	disp *jobs.Dispatcher
	seen int
}

// withSMTP turns mail on and returns a rig whose deliver sends everything
// queued so far to a real SMTP server.
func (a *testApp) withSMTP() *mailRig {
	a.t.Helper()
	a.withMail(true)
	srv := mailtest.Start(a.t)
	cfg, err := omail.ParseSMTPURL(srv.URL())
	if err != nil {
		a.t.Fatal(err)
	}
	d := jobs.NewDispatcher(a.store, omail.NewSender(cfg, "localhost"), a.app.opts.Composer,
		jobs.DispatchOptions{Rate: -1, Now: a.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &mailRig{a: a, smtp: srv, disp: d}
}

// deliver sends what is due and returns the messages received since the
// last call, parsed, keyed by recipient.
func (r *mailRig) deliver() map[string][]*mail.Message {
	r.a.t.Helper()
	if _, err := r.disp.Sweep(context.Background()); err != nil {
		r.a.t.Fatal(err)
	}
	all := r.smtp.Messages()
	out := map[string][]*mail.Message{}
	for _, m := range all[r.seen:] {
		for _, to := range m.To {
			out[to] = append(out[to], m.Parse(r.a.t))
		}
	}
	r.seen = len(all)
	return out
}

func recipients(got map[string][]*mail.Message) []string {
	var out []string
	for to := range got {
		out = append(out, to)
	}
	sort.Strings(out)
	return out
}

// subject decodes a message's Subject the way net/mail readers do.
func subject(t testing.TB, m *mail.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// textOf returns the text/plain part of a received message, decoded.
func textOf(t testing.TB, m *mail.Message) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(m.Body)
		return string(b)
	}
	return textPart(t, multipart.NewReader(m.Body, params["boundary"]))
}

func textPart(t testing.TB, r *multipart.Reader) string {
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		mt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case mt == "text/plain":
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			return string(b)
		case strings.HasPrefix(mt, "multipart/"):
			if s := textPart(t, multipart.NewReader(p, params["boundary"])); s != "" {
				return s
			}
		}
	}
}

// contractWith creates an active contract using products, with contacts
// given as email → role/lang pairs such as "primary/ja".
func (a *testApp) contractWith(code string, products []int64, contacts map[string]string) int64 {
	a.t.Helper()
	ctx := context.Background()
	k, err := a.store.CreateContract(ctx, data.ContractInput{Code: code, Name: "顧客 " + code, Active: true, ProductIDs: products})
	if err != nil {
		a.t.Fatal(err)
	}
	for email, rl := range contacts {
		role, lang, _ := strings.Cut(rl, "/")
		if _, err := a.store.AddContact(ctx, k.ID, data.ContactInput{Name: strings.Split(email, "@")[0], Email: email, Lang: lang, Role: role}); err != nil {
			a.t.Fatal(err)
		}
	}
	return k.ID
}

// contactID finds the contact row of an address at a contract.
func (a *testApp) contactID(contract int64, email string) int64 {
	a.t.Helper()
	k, err := a.store.Contract(context.Background(), contract)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, ct := range k.Contacts {
		if ct.Email == email {
			return ct.ID
		}
	}
	a.t.Fatalf("no contact %s at contract %d", email, contract)
	return 0
}
