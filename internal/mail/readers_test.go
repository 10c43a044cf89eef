package mail

import (
	"encoding/json"
	"mime"
	"net/mail"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail/mailtest"
)

// pythonHeaders parses a message with Python's email.policy.default, the
// parser much of the world's mail tooling uses, and returns the decoded
// Subject, To and From as it reads them.
func pythonHeaders(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed to check messages the way Python reads them: %v", err)
	}
	const script = `
import sys, json, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = {"Subject": str(m["Subject"])}
for h in ("To", "From"):
    a = m[h].addresses[0]
    out[h + ".name"] = a.display_name
    out[h + ".addr"] = a.addr_spec
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(raw))
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHeadersRoundTripInCommonReaders: subjects and display names read back
// exactly, in Python's email.policy.default and in Go's net/mail.
func TestHeadersRoundTripInCommonReaders(t *testing.T) {
	c := testComposer(t)
	cases := []struct {
		name, title, lang string
	}{
		{"O'Neil, Pat", "Slow CDN", "en"},
		{"山田, 太郎", "配信CDNで表示が遅くなる事象が発生しています", "ja"},
		{"Smith, Jo (Ops)", strings.Repeat("ライセンスAPIの応答遅延", 9), "ja"},
		{`Quote "Q" Person`, "短い件名", "ja"},
		{"", "Subject: with a colon, and a comma", "en"},
	}
	for _, tc := range cases {
		d := delivery(data.RoleAdditional, tc.lang)
		d.Name = tc.name
		n := notification(t, data.IncidentOpened, tc.title)
		m, err := c.Compose(d, n)
		if err != nil {
			t.Fatal(err)
		}
		py := pythonHeaders(t, m.Bytes)
		if py["Subject"] != m.Subject {
			t.Errorf("Python reads the subject as %q, want %q", py["Subject"], m.Subject)
		}
		if py["To.name"] != tc.name || py["To.addr"] != d.Email {
			t.Errorf("Python reads To as %q <%s>, want %q", py["To.name"], py["To.addr"], tc.name)
		}
		if py["From.name"] != "サンプル社 ステータス" {
			t.Errorf("Python reads From as %q", py["From.name"])
		}
		msg := mailtest.Message{Data: m.Bytes}.Parse(t)
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || subject != m.Subject {
			t.Errorf("net/mail reads the subject as %q (%v), want %q", subject, err, m.Subject)
		}
		to, err := mail.ParseAddress(msg.Header.Get("To"))
		if err != nil || to.Name != tc.name {
			t.Errorf("net/mail reads To as %+v (%v), want %q", to, err, tc.name)
		}
	}
}

// TestEmailSaysWhyWhatAndWhom: the email names the contracts and products
// it is sent for, the current status and times, and whom to ask.
func TestEmailSaysWhyWhatAndWhom(t *testing.T) {
	c := testComposer(t)
	c.opts.SupportContact = "support@example.com"
	d := delivery(data.RolePrimary, "ja")
	reason, _ := json.Marshal([]data.ReasonContract{
		{Code: "K-012", Name: "株式会社いろは", Role: data.RolePrimary, Products: []data.NoticeName{{JA: "krewDashboard", EN: "krewDashboard"}}},
		{Code: "K-020", Name: "いろは物流", Role: data.RoleAdditional, Products: []data.NoticeName{{JA: "krewSheet", EN: "krewSheet"}}},
	})
	d.Reason = string(reason)
	n := notification(t, data.IncidentUpdated, "配信CDNの遅延")
	var content data.NoticeContent
	json.Unmarshal([]byte(n.Content), &content)
	at := time.Date(2026, 11, 26, 6, 40, 0, 0, time.UTC)
	content.Status, content.UpdatedAt = data.Identified, &at
	n.Content = mustJSON(t, content)
	m, err := c.Compose(d, n)
	if err != nil {
		t.Fatal(err)
	}
	_, text, html := parts(t, m.Bytes)
	for _, want := range []string{"K-012（株式会社いろは）: krewDashboard", "K-020（いろは物流）: krewSheet",
		"現在の状況: 原因特定", "発生日時: 2026年11月26日 15:00", "更新日時: 2026年11月26日 15:40", "support@example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q\n%s", want, text)
		}
		// The HTML puts labels and values in cells of their own.
		value := want
		if _, v, ok := strings.Cut(want, ": "); ok && !strings.HasPrefix(want, "K-") {
			value = v
		}
		if !strings.Contains(html, value) {
			t.Errorf("html lacks %q", value)
		}
	}
	en := delivery(data.RolePrimary, "en")
	en.Reason = d.Reason
	m, _ = c.Compose(en, n)
	_, text, _ = parts(t, m.Bytes)
	for _, want := range []string{"K-012 (株式会社いろは): krewDashboard", "Current status: Identified", "support@example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("English text lacks %q\n%s", want, text)
		}
	}
}

// TestEncodedWordsTypedAsTextStayText: a title or a name that looks like
// an RFC 2047 encoded-word is sent so that it decodes to exactly what was
// typed, never to a line break and a header of its own.
func TestEncodedWordsTypedAsTextStayText(t *testing.T) {
	c := testComposer(t)
	evil := "=?utf-8?q?=0D=0ABcc:_evil@attacker.example?="
	for _, lang := range []string{"ja", "en"} {
		checkEncodedWordStaysText(t, c, lang, evil)
	}
}

func checkEncodedWordStaysText(t *testing.T, c *Composer, lang, evil string) {
	t.Helper()
	d := delivery(data.RoleAdditional, lang)
	d.Name = evil
	n := notification(t, data.IncidentOpened, evil)
	var content data.NoticeContent
	json.Unmarshal([]byte(n.Content), &content)
	content.TitleEN = evil
	n.Content = mustJSON(t, content)
	m, err := c.Compose(d, n)
	if err != nil {
		t.Fatal(err)
	}
	msg := mailtest.Message{Data: m.Bytes}.Parse(t)
	if len(msg.Header["Bcc"]) != 0 {
		t.Fatal("a Bcc header appeared")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.Contains(subject, evil) || strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("subject decodes to %q (%v)", subject, err)
	}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil || to.Name != evil {
		t.Fatalf("To decodes to %+v (%v)", to, err)
	}
	py := pythonHeaders(t, m.Bytes)
	if !strings.Contains(py["Subject"], evil) || py["To.name"] != evil {
		t.Fatalf("Python reads %q / %q", py["Subject"], py["To.name"])
	}
}
