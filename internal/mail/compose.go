package mail

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/jordan-wright/email"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/calendar"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/markdown"
	"github.com/oshirase/oshirase/templates"
)

// ComposerOptions configures a Composer.
type ComposerOptions struct {
	BaseURL         *url.URL
	From            *mail.Address
	SecurityContact string
	// SupportContact is whom customers ask about a notice (an address or
	// a URL); every email names it when set.
	SupportContact string
	// Secret signs the preferences and unsubscribe links.
	Secret   string
	Location *time.Location
	Now      func() time.Time
	// Brand, when set, gives the page's branding: its title names the
	// sender and heads the message, its company signs it, its accent
	// colours the button.
	Brand func(context.Context) data.Branding
}

// Composer turns a delivery into the message its recipient gets.
type Composer struct {
	opts    ComposerOptions
	catalog *locale.Catalog
	md      *markdown.Renderer
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// NewComposer parses the email templates.
func NewComposer(opts ComposerOptions) (*Composer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	catalog, err := locale.Load()
	if err != nil {
		return nil, err
	}
	h, err := htmltemplate.ParseFS(templates.FS, "email/notice.html")
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	t, err := texttemplate.ParseFS(templates.FS, "email/notice.txt")
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return &Composer{opts: opts, catalog: catalog, md: markdown.New(), html: h, text: t}, nil
}

// Message is a composed email.
type Message struct {
	// From and To are the bare envelope addresses.
	From, To  string
	Subject   string
	MessageID string
	Text      string
	HTML      string
	// Bytes is the whole message as it goes over the wire.
	Bytes []byte
}

// view is what the email templates see.
type view struct {
	c              *Composer
	Lang           string
	Subject        string
	KindLabel      string
	Title          string
	Products       string
	Impact         string
	Status         string
	Times          []labelled
	Components     []string
	BodyHTML       htmltemplate.HTML
	BodyText       string
	URL            string
	PreferencesURL string
	UnsubscribeURL string
	Why            string
	// Contracts says, one line each, which of the reader's contracts the
	// notice is sent for and the affected products each uses.
	Contracts       []string
	Button          string
	SupportContact  string
	SecurityContact string
	Color           string
	// SiteTitle, Company, LogoURL and Accent come from the branding.
	SiteTitle, Company, LogoURL string
	Accent                      string
}

type labelled struct{ Label, Value string }

// T translates for the templates.
func (v *view) T(id string, args ...any) string { return v.c.catalog.T(v.Lang, id, args...) }

func pick(lang, ja, en string) string {
	if lang == "en" && strings.TrimSpace(en) != "" {
		return en
	}
	return ja
}

var kindColors = map[string]string{
	data.IncidentOpened: "#d2312b", data.IncidentUpdated: "#e8710a", data.IncidentResolved: "#1f9d55", data.IncidentPostmortem: "#5f6b7a",
	data.MaintenanceScheduled: "#3b73d1", data.MaintenanceReminder: "#3b73d1", data.MaintenanceStarted: "#3b73d1",
	data.MaintenanceCompleted: "#1f9d55", data.MaintenanceCancelled: "#5f6b7a",
	data.MonitorAlertDown: "#d2312b", data.MonitorAlertUp: "#1f9d55",
	data.UpgradeNoticeKind: "#6b4fc8", data.UpgradeRescheduled: "#6b4fc8", data.UpgradeCancelledK: "#5f6b7a",
}

// threadStarters are the kinds whose email opens a conversation; the
// others reply to it.
var threadStarters = map[string]bool{data.IncidentOpened: true, data.MaintenanceScheduled: true}

// Compose renders a delivery of a notification.
func (c *Composer) Compose(d data.Delivery, n data.Notification) (*Message, error) {
	if d.SubscriberID != nil {
		// A public subscriber is not told of contract-only components.
		n = n.ForPublic()
	}
	content, err := n.Decode()
	if err != nil {
		return nil, fmt.Errorf("mail: notification %d: %w", n.ID, err)
	}
	lang := d.Lang
	if !locale.Supported(lang) {
		lang = locale.Languages[0]
	}
	v := &view{c: c, Lang: lang, Title: pick(lang, content.TitleJA, content.TitleEN), Color: kindColors[content.Kind],
		SecurityContact: c.opts.SecurityContact, SupportContact: c.opts.SupportContact}
	for _, k := range d.Contracts() {
		var ps []string
		for _, p := range k.Products {
			ps = append(ps, pick(lang, p.JA, p.EN))
		}
		v.Contracts = append(v.Contracts, v.T("email.contract_line", "Code", k.Code, "Name", k.Name, "Products", strings.Join(ps, v.T("list.sep"))))
	}
	var prods []string
	for _, p := range content.Products {
		prods = append(prods, pick(lang, p.JA, p.EN))
	}
	sep := "、"
	if lang == "en" {
		sep = ", "
	}
	v.Products = strings.Join(prods, sep)
	if content.Impact != "" {
		v.Impact = v.T("impact." + content.Impact)
	}
	switch {
	case strings.HasPrefix(content.Kind, "incident"):
		v.Status = v.T("incident." + content.Status)
	case strings.HasPrefix(content.Kind, "upgrade"):
		v.Status = v.T("upgrade." + content.Status)
	case strings.HasPrefix(content.Kind, "monitor"):
		v.Status = v.T("component." + content.Status)
	case strings.HasPrefix(content.Kind, "maintenance"):
		v.Status = v.T("maintenance." + content.Status)
	default:
		// Operators' alerts and a channel's stop carry no status of a
		// customer's vocabulary: their title says it all.
		v.Status = ""
	}
	when := ""
	if content.StartsAt != nil {
		when = locale.FormatTime(lang, *content.StartsAt, c.opts.Location)
	}
	v.KindLabel = v.T("email.kind." + content.Kind)
	v.Subject = cleanSubject(v.T("email.subject."+content.Kind, "Impact", v.Impact, "Products", v.Products, "Title", v.Title, "When", when))
	at := func(label string, t *time.Time) {
		if t != nil {
			v.Times = append(v.Times, labelled{v.T(label), locale.FormatTime(lang, *t, c.opts.Location)})
		}
	}
	at("incident.started_label", content.StartedAt)
	at("incident.resolved_label", content.ResolvedAt)
	if content.Kind == data.IncidentUpdated {
		at("email.updated_label", content.UpdatedAt)
	}
	at("label.starts_at", content.StartsAt)
	at("label.ends_at", content.EndsAt)
	if content.Kind != data.IncidentResolved && content.Kind != data.IncidentPostmortem {
		for _, comp := range content.Components {
			name := pick(lang, comp.JA, comp.EN)
			if comp.Product.JA != "" {
				name = pick(lang, comp.Product.JA, comp.Product.EN) + " / " + name
			}
			if strings.HasPrefix(content.Kind, "incident") {
				name += ": " + v.T("component."+comp.Status)
			}
			v.Components = append(v.Components, name)
		}
	}
	body := pick(lang, content.BodyJA, content.BodyEN)
	base := strings.TrimRight(c.opts.BaseURL.String(), "/")
	v.URL = base + content.Path
	v.Button = v.T("email.view_details")
	if content.Kind == data.ContactConfirm {
		id, _ := strconv.ParseInt(strings.TrimPrefix(content.Path, "/my/confirm/"), 10, 64)
		v.URL = base + "/my/confirm/" + SubscriberToken(c.opts.Secret, PurposeContactConfirm, id)
		body = v.T("email.contact_confirm_body", "Name", content.TitleJA)
		v.Title, v.Button = v.T("email.contact_confirm_title"), v.T("email.contact_confirm_button")
		v.Status, v.Times = "", nil
	}
	if content.Kind == data.SLAReportNotice {
		v.Button, v.Status, v.Times = v.T("email.sla_report_button"), "", nil
		body = v.T("email.sla_report_intro", "Title", v.Title) + "\n\n" + body
	}
	if content.Kind == data.PortalLink {
		id, _ := strconv.ParseInt(strings.TrimPrefix(content.Path, "/my/login/"), 10, 64)
		v.URL = base + "/my/login/" + SubscriberToken(c.opts.Secret, PurposePortalLink, id)
		body, v.Title, v.Button = v.T("email.portal_body"), v.T("email.portal_title"), v.T("email.portal_button")
		v.Status, v.Times = "", nil
	}
	if d.SubscriberID != nil {
		switch content.Kind {
		case data.SubscriptionConfirm:
			// The double opt-in: nothing else is ever sent before this link is used.
			v.URL = base + "/subscribe/confirm/" + SubscriberToken(c.opts.Secret, PurposeConfirm, *d.SubscriberID)
			body, v.Title, v.Button = v.T("email.confirm_body"), v.T("email.confirm_title"), v.T("email.confirm_button")
			v.Status = ""
		case data.SubscriptionManage:
			v.URL = base + "/subscribe/manage/" + SubscriberToken(c.opts.Secret, PurposeManage, *d.SubscriberID)
			body, v.Title, v.Button = v.T("email.manage_body"), v.T("email.manage_title"), v.T("email.manage_button")
			v.Status = ""
		default:
			v.PreferencesURL = base + "/subscribe/manage/" + SubscriberToken(c.opts.Secret, PurposeManage, *d.SubscriberID)
		}
		if content.Kind != data.SubscriptionConfirm {
			v.UnsubscribeURL = base + "/subscribe/unsubscribe/" + SubscriberToken(c.opts.Secret, PurposeUnsubscribe, *d.SubscriberID)
		}
	}
	v.BodyHTML, v.BodyText = c.md.HTML(body), body
	fromName := c.opts.From.Name
	v.Accent = "#1f5fbf"
	if c.opts.Brand != nil {
		b := c.opts.Brand(context.Background())
		v.SiteTitle, v.Company = b.Title(lang), b.Company(lang)
		if v.SiteTitle != "" {
			fromName = v.SiteTitle
		}
		if b.Accent != "" {
			v.Accent = b.Accent
		}
		switch {
		case b.LogoURL != "":
			v.LogoURL = b.LogoURL
		case len(b.Logo) > 0:
			v.LogoURL = base + "/brand/logo?v=" + b.Version()
		}
	}
	v.Why = v.T("email.why." + d.Role)
	if d.ContactID != nil && c.opts.Secret != "" {
		token := ContactToken(c.opts.Secret, *d.ContactID)
		v.PreferencesURL = base + "/preferences/" + token
		if d.Role == data.RoleAdditional {
			v.UnsubscribeURL = base + "/unsubscribe/" + token
		}
	}

	var html, text bytes.Buffer
	if err := c.html.Execute(&html, v); err != nil {
		return nil, fmt.Errorf("mail: render html: %w", err)
	}
	if err := c.text.Execute(&text, v); err != nil {
		return nil, fmt.Errorf("mail: render text: %w", err)
	}

	host := c.opts.BaseURL.Hostname()
	root := fmt.Sprintf("<%s.%s@%s>", n.Thread, sign(c.opts.Secret, "thread:"+d.Email)[:12], host)
	m := &Message{From: c.opts.From.Address, To: d.Email, Subject: v.Subject, Text: text.String(), HTML: html.String()}
	e := email.NewEmail()
	e.From, e.To = c.opts.From.Address, []string{d.Email} // named below, see setHeader
	e.Subject = encodedSubject(v.Subject)
	e.Text, e.HTML = text.Bytes(), html.Bytes()
	// Our own Message-ID, stable per delivery: jordan-wright/email makes a
	// new one on every call, so a retry would look like a new message.
	if threadStarters[content.Kind] {
		m.MessageID = root
	} else {
		m.MessageID = "<d" + strconv.FormatInt(d.ID, 10) + "." + n.Thread + "@" + host + ">"
		e.Headers.Set("In-Reply-To", root)
		e.Headers.Set("References", root)
	}
	e.Headers.Set("Message-Id", m.MessageID)
	e.Headers.Set("Date", c.opts.Now().In(c.opts.Location).Format(time.RFC1123Z))
	e.Headers.Set("Auto-Submitted", "auto-generated")
	e.Headers.Set("X-Auto-Response-Suppress", "All")
	if v.UnsubscribeURL != "" {
		// RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click".
		e.Headers.Set("List-Unsubscribe", "<"+v.UnsubscribeURL+">")
		e.Headers.Set("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	if content.Event != "" && content.StartsAt != nil && content.EndsAt != nil {
		// Maintenance and upgrade notices carry the event, so it lands in
		// the reader's calendar; the UID and sequence match /maintenance.ics.
		cancelled := content.Kind == data.MaintenanceCancelled || content.Kind == data.UpgradeCancelledK
		ics := calendar.Write(v.Title, []calendar.Event{{UID: content.Event + "@" + host, Sequence: content.Sequence,
			Summary: v.Title, Markdown: body, URL: v.URL, Start: *content.StartsAt, End: *content.EndsAt,
			Cancelled: cancelled, Updated: c.opts.Now()}})
		if _, err := e.Attach(strings.NewReader(ics), "event.ics", "text/calendar; charset=utf-8; method=PUBLISH"); err != nil {
			return nil, fmt.Errorf("mail: attach calendar: %w", err)
		}
	}
	raw, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mail: build message: %w", err)
	}
	raw = setHeader(raw, "From", address(fromName, c.opts.From.Address))
	raw = setHeader(raw, "To", address(d.Name, d.Email))
	m.Bytes = foldHeaders(raw)
	return m, nil
}

// TestMessage is the message "oshirase mail test" sends.
func TestMessage(from *mail.Address, to string, base *url.URL) (*Message, error) {
	e := email.NewEmail()
	e.From, e.To = from.Address, []string{to}
	e.Subject = "Oshirase テストメール / test message"
	body := "Oshirase からのテストメールです。このメールが届いていれば、SMTP の設定は正しく動作しています。\n\n" +
		"This is a test message from Oshirase. If you can read it, the SMTP settings work.\n\n" + base.String() + "\n"
	e.Text = []byte(body)
	id := "<test." + strconv.FormatInt(time.Now().UnixNano(), 36) + "@" + base.Hostname() + ">"
	e.Headers.Set("Message-Id", id)
	e.Headers.Set("Auto-Submitted", "auto-generated")
	raw, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mail: build test message: %w", err)
	}
	raw = setHeader(raw, "From", address(from.Name, from.Address))
	return &Message{From: from.Address, To: to, Subject: e.Subject, MessageID: id, Text: body, Bytes: foldHeaders(raw)}, nil
}

// FromAddress is the sender's bare address.
func (c *Composer) FromAddress() string { return c.opts.From.Address }
