package mail

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

func testComposer(t *testing.T) *Composer {
	t.Helper()
	base, _ := url.Parse("https://status.example.com")
	from, _ := ParseFrom("サンプル社 ステータス <status@example.com>")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	c, err := NewComposer(ComposerOptions{BaseURL: base, From: from, SecurityContact: "security@example.com",
		Secret: "0123456789abcdef0123456789abcdef", Location: tokyo,
		Now: func() time.Time { return time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func notification(t *testing.T, kind, title string) data.Notification {
	t.Helper()
	started := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	content := data.NoticeContent{Kind: kind, Impact: "major", Status: data.Investigating, TitleJA: title, TitleEN: "Slow CDN",
		BodyJA: "現在、**調査中**です。", BodyEN: "We are **investigating**.", Path: "/incidents/7", StartedAt: &started,
		Products:   []data.NoticeName{{JA: "krewDashboard", EN: "krewDashboard"}},
		Components: []data.NoticeComponent{{NoticeName: data.NoticeName{JA: "配信CDN", EN: "CDN"}, Status: data.PartialOutage}}}
	n := data.Notification{ID: 3, Kind: kind, Thread: "incident-7"}
	n.Content = mustJSON(t, content)
	return n
}

func delivery(role, lang string) data.Delivery {
	id := int64(42)
	return data.Delivery{ID: 99, ContactID: &id, Email: "taro@example.jp", Name: "山田 太郎", Lang: lang, Role: role}
}

// parts splits a received message into its text and HTML parts.
func parts(t *testing.T, raw []byte) (header map[string][]string, text, html string) {
	t.Helper()
	msg := mailtest.Message{Data: raw}.Parse(t)
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q %v", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
	if text == "" || html == "" {
		t.Fatalf("missing a part: text %d bytes, html %d bytes", len(text), len(html))
	}
	return msg.Header, text, html
}

func TestComposeJapaneseNotice(t *testing.T) {
	c := testComposer(t)
	long := strings.Repeat("配信CDNで表示が遅くなる事象が発生しています", 12)
	m, err := c.Compose(delivery(data.RoleAdditional, "ja"), notification(t, data.IncidentOpened, long))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(m.Bytes[:strings.Index(string(m.Bytes), "\r\n\r\n")]), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("header line of %d characters", len(line))
		}
	}
	h, text, html := parts(t, m.Bytes)
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h["Subject"][0])
	if err != nil || subject != "【障害・重大】krewDashboard: "+long {
		t.Fatalf("subject decodes to %q (%v)", subject, err)
	}
	from, _ := dec.DecodeHeader(h["From"][0])
	if from != `"サンプル社 ステータス" <status@example.com>` && from != `サンプル社 ステータス <status@example.com>` {
		t.Fatalf("from %q", from)
	}
	if got := h["Message-Id"][0]; !strings.HasPrefix(got, "<incident-7.") || !strings.HasSuffix(got, "@status.example.com>") {
		t.Fatalf("message id %q", got)
	}
	if h["List-Unsubscribe"][0] != "<https://status.example.com/unsubscribe/"+ContactToken(c.opts.Secret, 42)+">" ||
		h["List-Unsubscribe-Post"][0] != "List-Unsubscribe=One-Click" {
		t.Fatalf("list-unsubscribe headers %v", h)
	}
	for _, want := range []string{"障害のお知らせ", "影響度: 重大", "配信CDN: 一部障害", "2026年11月26日 15:00 JST", "現在、**調査中**です。",
		"https://status.example.com/incidents/7", "/preferences/", "security@example.com", "追加連絡先"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q\n%s", want, text)
		}
	}
	for _, want := range []string{"<strong>調査中</strong>", `href="https://status.example.com/incidents/7"`, "<table"} {
		if !strings.Contains(html, want) {
			t.Errorf("html part lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(html), "<script") {
		t.Error("script in the html part")
	}

	// The same delivery composed again (a retry) has the same Message-ID.
	again, _ := c.Compose(delivery(data.RoleAdditional, "ja"), notification(t, data.IncidentOpened, long))
	if again.MessageID != m.MessageID {
		t.Fatal("Message-ID changed between attempts")
	}
	// An update threads under the first notice; a primary contact has no
	// unsubscribe.
	up, _ := c.Compose(delivery(data.RolePrimary, "en"), notification(t, data.IncidentUpdated, long))
	h, text, _ = parts(t, up.Bytes)
	if h["In-Reply-To"][0] != m.MessageID || h["References"][0] != m.MessageID || h["Message-Id"][0] == m.MessageID {
		t.Fatalf("threading: %v", h)
	}
	if _, ok := h["List-Unsubscribe"]; ok {
		t.Fatal("primary contact offered one-click unsubscribe")
	}
	subject, _ = dec.DecodeHeader(h["Subject"][0])
	if subject != "[Major incident update] krewDashboard: Slow CDN" || !strings.Contains(text, "We are **investigating**.") {
		t.Fatalf("english: %q\n%s", subject, text)
	}
}

// TestHostileNamesCannotInjectHeaders puts line breaks and header text in
// every name and title that reaches a header.
func TestHostileNamesCannotInjectHeaders(t *testing.T) {
	c := testComposer(t)
	d := delivery(data.RoleAdditional, "ja")
	d.Name = "Evil\r\nBcc: victim@example.com\r\nX-Injected: yes"
	c.opts.From.Name = "Status\nBcc: also@example.com"
	m, err := c.Compose(d, notification(t, data.IncidentOpened, "件名\r\nBcc: third@example.com\r\n\r\n<script>"))
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := parts(t, m.Bytes)
	if _, ok := h["Bcc"]; ok {
		t.Fatalf("Bcc header injected: %v", h)
	}
	if _, ok := h["X-Injected"]; ok {
		t.Fatal("header injected")
	}
	if len(h["To"]) != 1 || len(h["From"]) != 1 || len(h["Subject"]) != 1 {
		t.Fatalf("headers %v", h)
	}
}

func TestParseSMTPURL(t *testing.T) {
	cases := []struct {
		in   string
		want SMTPConfig
		bad  bool
	}{
		{in: "smtp://mail.example.com", want: SMTPConfig{Host: "mail.example.com", Port: "587", TLS: TLSStartTLS}},
		{in: "smtp://u:p%40ss@mail.example.com:465", want: SMTPConfig{Host: "mail.example.com", Port: "465", Username: "u", Password: "p@ss", TLS: TLSImplicit}},
		{in: "smtp://127.0.0.1:2525?tls=none", want: SMTPConfig{Host: "127.0.0.1", Port: "2525", TLS: TLSNone}},
		{in: "smtp://u:p@mail.example.com:25?tls=none", bad: true},
		{in: "smtp://mail.example.com?tls=maybe", bad: true},
		{in: "http://mail.example.com", bad: true},
		{in: "smtp://mail.example.com:99999", bad: true},
	}
	for _, c := range cases {
		got, err := ParseSMTPURL(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("%s: %+v %v", c.in, got, err)
		}
	}
}

func TestSendAndClassify(t *testing.T) {
	srv := mailtest.Start(t)
	cfg, _ := ParseSMTPURL(srv.URL())
	s := NewSender(cfg, "localhost")
	conn, err := s.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv.RefuseRcpt(func(rcpt string) *smtp.SMTPError {
		switch rcpt {
		case "busy@example.com":
			return mailtest.TempFail
		case "nobody@example.com":
			return mailtest.NoSuchUser
		}
		return nil
	})
	msg := []byte("Subject: x\r\n\r\nbody\r\n")
	var se *SendError
	if err := conn.Send("status@example.com", "busy@example.com", msg); !errors.As(err, &se) || se.Code != 451 || se.Permanent() || se.ConnectionLost() {
		t.Fatalf("451: %#v", err)
	}
	if err := conn.Send("status@example.com", "nobody@example.com", msg); !errors.As(err, &se) || se.Code != 550 || !se.Permanent() {
		t.Fatalf("550: %#v", err)
	}
	// The connection still carries the next message.
	if err := conn.Send("status@example.com", "ok@example.com", msg); err != nil {
		t.Fatal(err)
	}
	if got := srv.ByRecipient(); got["ok@example.com"] != 1 || len(got) != 1 {
		t.Fatalf("received %v", got)
	}
	if srv.Sessions() != 1 {
		t.Fatalf("%d connections for three messages", srv.Sessions())
	}
}

// TestStartTLSIsRequired checks that tls=starttls never falls back to clear
// text when the server does not offer STARTTLS.
func TestStartTLSIsRequired(t *testing.T) {
	srv := mailtest.Start(t)
	cfg, _ := ParseSMTPURL("smtp://" + srv.Addr + "?tls=starttls")
	_, err := NewSender(cfg, "localhost").Dial(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refusing to send in clear") {
		t.Fatalf("dial: %v", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a message went out in clear")
	}
	// Nothing listening: a connection error, retryable.
	cfg, _ = ParseSMTPURL("smtp://127.0.0.1:1?tls=none")
	_, err = NewSender(cfg, "localhost").Dial(context.Background())
	var se *SendError
	if !errors.As(err, &se) || se.Permanent() || !se.ConnectionLost() {
		t.Fatalf("refused connection: %#v", err)
	}
}

func TestContactToken(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	tok := ContactToken(secret, 42)
	if id, ok := VerifyContactToken(secret, tok); !ok || id != 42 {
		t.Fatalf("round trip: %d %v", id, ok)
	}
	for _, bad := range []string{"", "42", "43." + strings.SplitN(tok, ".", 2)[1], tok + "x", "042." + strings.SplitN(tok, ".", 2)[1], "-1.x", "99999999999999999999.x"} {
		if _, ok := VerifyContactToken(secret, bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, ok := VerifyContactToken("another secret, just as long......", tok); ok {
		t.Error("accepted a token signed with another secret")
	}
}

// TestEveryKindHasWords composes each kind of notice in both languages:
// no message id may leak into a subject or a label.
func TestEveryKindHasWords(t *testing.T) {
	c := testComposer(t)
	kinds := []string{data.IncidentOpened, data.IncidentUpdated, data.IncidentResolved, data.MaintenanceScheduled,
		data.MaintenanceReminder, data.MaintenanceStarted, data.MaintenanceCompleted, data.MaintenanceCancelled,
		data.UpgradeNoticeKind, data.UpgradeRescheduled, data.UpgradeCancelledK}
	starts := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	for _, kind := range kinds {
		for _, lang := range []string{"ja", "en"} {
			n := notification(t, kind, "件名")
			content, _ := n.Decode()
			content.StartsAt = &starts
			switch {
			case strings.HasPrefix(kind, "maintenance"):
				content.Status, content.Impact = data.Scheduled, ""
			case strings.HasPrefix(kind, "upgrade"):
				content.Status, content.Impact, content.TitleJA, content.TitleEN = data.UpgradeScheduled, "", "krewDashboard 3.2.0", ""
			}
			n.Content = mustJSON(t, content)
			m, err := c.Compose(delivery(data.RolePrimary, lang), n)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{m.Subject, m.Text} {
				if strings.Contains(part, "email.") || strings.Contains(part, "upgrade.") || strings.Contains(part, "maintenance.") {
					t.Errorf("%s/%s: message id in %q", kind, lang, part)
				}
			}
		}
	}
	n := notification(t, data.UpgradeNoticeKind, "")
	content, _ := n.Decode()
	content.StartsAt, content.Status, content.TitleJA, content.Impact = &starts, data.UpgradeScheduled, "krewDashboard 3.2.0", ""
	n.Content = mustJSON(t, content)
	m, _ := c.Compose(delivery(data.RolePrimary, "ja"), n)
	if m.Subject != "【バージョンアップのお知らせ】krewDashboard 3.2.0（2026年12月3日 10:00 JST〜）" {
		t.Fatalf("subject %q", m.Subject)
	}
}

// TestMaintenanceNoticeCarriesTheEvent: an .ics attachment that parses,
// beside the text and HTML parts.
func TestMaintenanceNoticeCarriesTheEvent(t *testing.T) {
	c := testComposer(t)
	n := notification(t, data.MaintenanceScheduled, "定期メンテナンス")
	content, _ := n.Decode()
	starts, ends := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	content.StartsAt, content.EndsAt, content.Event, content.Sequence, content.Status, content.Impact = &starts, &ends, "maintenance-9", 2, data.Scheduled, ""
	n.Content = mustJSON(t, content)
	m, err := c.Compose(delivery(data.RolePrimary, "ja"), n)
	if err != nil {
		t.Fatal(err)
	}
	msg := mailtest.Message{Data: m.Bytes}.Parse(t)
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("content type %s", mt)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	found := false
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/calendar") {
			b, _ := io.ReadAll(p)
			if strings.Contains(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				b, _ = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
			}
			if !strings.Contains(string(b), "UID:maintenance-9@status.example.com") || !strings.Contains(string(b), "SEQUENCE:2") {
				t.Fatalf("calendar part:\n%s", b)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no calendar attachment")
	}
}
