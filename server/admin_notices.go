package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type policyPage struct {
	Rows        []data.NoticePolicy
	Subscribers int64
	Choices     []string
}

func (s *Server) showPolicy(c echo.Context) error {
	ctx := c.Request().Context()
	rows, err := s.store.Policy(ctx)
	if err != nil {
		return err
	}
	min, err := s.store.Setting(ctx, data.SettingSubscriberMinImpact)
	if err != nil {
		return err
	}
	if min == "" {
		min = "minor"
	}
	n, err := s.store.CountSubscribers(ctx)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"subscriber_min_impact": {min}}}
	return s.render(c, http.StatusOK, "policy", &view{Title: s.t(c, "policy.title"), Form: f,
		Data: &policyPage{Rows: rows, Subscribers: n, Choices: data.SubscriberImpacts}})
}

// savePolicy replaces the notice policy from checkboxes named
// "<impact>_primary" and "<impact>_additional".
func (s *Server) savePolicy(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	// Unticked boxes are not sent at all, so a body without the form's own
	// marker would read as "email nobody": refuse it instead.
	if f.Get("form") != "policy" {
		return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
	}
	var rows []data.NoticePolicy
	for _, impact := range data.PolicyRows {
		rows = append(rows, data.NoticePolicy{Impact: impact,
			NotifyPrimary: f.Get(impact+"_primary") == "1", NotifyAdditional: f.Get(impact+"_additional") == "1"})
	}
	before, err := s.store.Policy(c.Request().Context())
	if err != nil {
		return err
	}
	min := f.Get("subscriber_min_impact")
	if min != "" && !contains(data.SubscriberImpacts, min) {
		// Checked before anything is written: nothing is half-saved.
		return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
	}
	if err := s.store.SetPolicy(c.Request().Context(), rows); err != nil {
		return s.refusal(c, err)
	}
	if min != "" {
		if err := s.store.SetSetting(c.Request().Context(), data.SettingSubscriberMinImpact, min); err != nil {
			return err
		}
	}
	changes := map[string][2]any{}
	for i, b := range before {
		for _, a := range rows {
			if a.Impact == b.Impact && a != before[i] {
				changes[a.Impact] = [2]any{[]bool{b.NotifyPrimary, b.NotifyAdditional}, []bool{a.NotifyPrimary, a.NotifyAdditional}}
			}
		}
	}
	s.audit(c, "policy.update", "", changes)
	s.setFlash(c, "flash.saved")
	return c.Redirect(http.StatusSeeOther, "/admin/policy")
}

type notificationsPage struct {
	Notifications []data.Notification
	Counts        map[int64]map[string]int
	// Subjects are what each notification's recipients read as its
	// subject, in the console's language.
	Subjects   map[int64]string
	Page, Last int
	// State filters the list: "held", "failed" (with bounced) or "".
	State string
}

// PagerBase keeps the filter in the pager's links.
func (v *notificationsPage) PagerBase() string {
	if v.State == "" {
		return "/admin/notifications"
	}
	return "/admin/notifications?state=" + v.State
}

func (s *Server) listNotifications(c echo.Context) error {
	n := pageParam(c)
	state := c.QueryParam("state")
	var states []string
	switch state {
	case data.DeliveryHeld:
		states = []string{data.DeliveryHeld}
	case data.DeliveryFailed:
		states = []string{data.DeliveryFailed, data.DeliveryBounced}
	default:
		state = ""
	}
	ns, counts, total, err := s.store.NotificationsWith(c.Request().Context(), states, adminPageSize, (n-1)*adminPageSize)
	if err != nil {
		return err
	}
	subjects := make(map[int64]string, len(ns))
	for _, x := range ns {
		subjects[x.ID] = s.subject(x, langOf(c))
	}
	return s.render(c, http.StatusOK, "notifications", &view{Title: s.t(c, "notifications.title"),
		Data: &notificationsPage{Notifications: ns, Counts: counts, Subjects: subjects, Page: n, Last: lastPage(total), State: state}})
}

// subject is what a notification's recipients read as its subject, in
// lang: an email's subject line, composed as the sender composes it (some
// kinds, such as the subscription confirmation, have no title of their
// own); a kind only ever posted to channels (operators' alerts, component
// updates) reads as its title, as the post does.
func (s *Server) subject(n data.Notification, lang string) string {
	content, err := n.Decode()
	if err != nil {
		return ""
	}
	if s.opts.Composer != nil && s.catalog.Has(lang, "email.subject."+n.Kind) {
		if msg, err := s.opts.Composer.Compose(data.Delivery{NotificationID: n.ID, Lang: lang}, n); err == nil {
			return msg.Subject
		}
	}
	return pickLang(lang, content.TitleJA, content.TitleEN)
}

// Subject is a notification's subject, for the list.
func (v *notificationsPage) Subject(n data.Notification) string { return v.Subjects[n.ID] }

// Progress turns delivery counts into the bar the console shows.
func (v *notificationsPage) Progress(id int64) progress { return newProgress(v.Counts[id]) }

// progress is a notification's deliveries by state, for a bar with counts.
type progress struct {
	Total                                int
	Sent, Pending, Held, Failed, Bounced int
	Done                                 bool
}

func newProgress(counts map[string]int) progress {
	p := progress{Sent: counts[data.DeliverySent], Pending: counts[data.DeliveryPending] + counts[data.DeliverySending],
		Held: counts[data.DeliveryHeld], Failed: counts[data.DeliveryFailed], Bounced: counts[data.DeliveryBounced]}
	p.Total = p.Sent + p.Pending + p.Held + p.Failed + p.Bounced
	p.Done = p.Pending == 0
	return p
}

// Percent is a part of the whole, for the bar's segment widths.
func (p progress) Percent(n int) int {
	if p.Total == 0 {
		return 0
	}
	return n * 100 / p.Total
}

type notificationPage struct {
	Notification *data.Notification
	Content      data.NoticeContent
	Progress     progress
	Deliveries   []data.Delivery
	State        string
	States       []string
	Page, Last   int
	Preview      *previewView
	// Channel is what a webhook, Slack or Teams delivery posts, shown
	// instead of an email when the delivery picked is one.
	Channel     *channelPreview
	MailEnabled bool
	// Subject is the notice's subject as sent, in the console's language.
	Subject string
}

// channelPreview is the request a channel delivery sends.
type channelPreview struct {
	Delivery *data.Delivery
	Kind     string
	// Host is where it goes: only the host, as a Slack or Teams address
	// is itself the credential. Empty once the channel is removed.
	Host string
	// Body is the request body, indented to read.
	Body string
}

// channelPreviewOf writes the body the channel sender posts for d: the
// same writer, channel and frozen notification.
func (s *Server) channelPreviewOf(ctx context.Context, d *data.Delivery, n *data.Notification) (*channelPreview, error) {
	p := &channelPreview{Delivery: d, Kind: d.Name}
	lang := d.Lang
	ch, err := s.store.Channel(ctx, *d.ChannelID)
	switch {
	case err == nil:
		p.Kind, lang = ch.Kind, ch.Lang
		if u, err := url.Parse(ch.URL); err == nil {
			p.Host = u.Host
		}
	case !errors.Is(err, data.ErrNotFound):
		return nil, err
	}
	if s.opts.Channels == nil {
		return p, nil
	}
	shown := *n
	if err == nil && !ch.Operator {
		// As the channel sender posts it (jobs.ChannelSender).
		shown = n.ForPublic()
	}
	body, err := s.opts.Channels.Body(p.Kind, shown, lang)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		p.Body = string(body)
	} else {
		p.Body = out.String()
	}
	return p, nil
}

type previewView struct {
	Delivery *data.Delivery
	Subject  string
	Text     string
	Headers  []string
}

func (s *Server) showNotification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return err
	}
	content, err := n.Decode()
	if err != nil {
		return err
	}
	counts, err := s.store.DeliveryCounts(ctx, id)
	if err != nil {
		return err
	}
	state := c.QueryParam("state")
	if state != "" && !contains(data.DeliveryStates, state) {
		state = ""
	}
	page := pageParam(c)
	ds, total, err := s.store.Deliveries(ctx, id, state, adminPageSize, (page-1)*adminPageSize)
	if err != nil {
		return err
	}
	v := &notificationPage{Notification: n, Content: content, Progress: newProgress(counts), Deliveries: ds, State: state,
		States: data.DeliveryStates, Page: page, Last: lastPage(total), MailEnabled: s.opts.MailEnabled, Subject: s.subject(*n, langOf(c))}
	if len(ds) > 0 {
		// The message exactly as it goes out, for one recipient: the one
		// asked for, or the first listed.
		d := &ds[0]
		if did, err := strconv.ParseInt(c.QueryParam("delivery"), 10, 64); err == nil {
			if got, _, err := s.store.Delivery(ctx, did); err == nil && got.NotificationID == id {
				d = got
			}
		}
		switch {
		case d.ChannelID != nil:
			// A webhook, Slack or Teams delivery is a request, not an email.
			if v.Channel, err = s.channelPreviewOf(ctx, d, n); err != nil {
				return err
			}
		case s.opts.Composer != nil:
			msg, err := s.opts.Composer.Compose(*d, *n)
			if err != nil {
				return err
			}
			v.Preview = &previewView{Delivery: d, Subject: msg.Subject, Text: msg.Text, Headers: headerLines(msg.Bytes)}
		}
	}
	return s.render(c, http.StatusOK, "notification", &view{Title: s.t(c, "notifications.detail"), Data: v})
}

// showNotificationHTML serves the HTML part of a message for the preview,
// in a sandbox: it is an email, not a console page.
func (s *Server) showNotificationHTML(c echo.Context) error {
	if s.opts.Composer == nil {
		return echo.ErrNotFound
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	did, err := idParam(c, "delivery")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return err
	}
	d, _, err := s.store.Delivery(ctx, did)
	if err != nil || d.NotificationID != id || d.ChannelID != nil {
		return echo.ErrNotFound
	}
	msg, err := s.opts.Composer.Compose(*d, *n)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; sandbox")
	return c.HTMLBlob(http.StatusOK, []byte(msg.HTML))
}

func (s *Server) retryNotification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.RetryFailed(c.Request().Context(), id); err != nil {
		return err
	}
	s.opts.Wake()
	s.setFlash(c, "flash.retry_queued")
	return c.Redirect(http.StatusSeeOther, "/admin/notifications/"+strconv.FormatInt(id, 10))
}

// releaseNotification sends held deliveries, once an SMTP server exists.
func (s *Server) releaseNotification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if !s.opts.MailEnabled {
		return echo.NewHTTPError(http.StatusBadRequest, "error.no_smtp")
	}
	if _, err := s.store.ReleaseHeld(c.Request().Context(), id); err != nil {
		return err
	}
	s.opts.Wake()
	s.setFlash(c, "flash.released")
	return c.Redirect(http.StatusSeeOther, "/admin/notifications/"+strconv.FormatInt(id, 10))
}

// discardNotification drops a notification's held deliveries for good.
func (s *Server) discardNotification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.Notification(c.Request().Context(), id); err != nil {
		return err
	}
	if _, err := s.store.DiscardHeld(c.Request().Context(), id); err != nil {
		return err
	}
	s.changed() // the JSON's deliver_notifications no longer holds for its update
	s.setFlash(c, "flash.discarded")
	return c.Redirect(http.StatusSeeOther, "/admin/notifications/"+strconv.FormatInt(id, 10))
}

// retryBounced puts a notification's bounced deliveries (all, or the one
// named by the delivery field) back in the queue.
func (s *Server) retryBounced(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.Notification(c.Request().Context(), id); err != nil {
		return err
	}
	one, _ := strconv.ParseInt(c.FormValue("delivery"), 10, 64)
	if _, err := s.store.RetryBounced(c.Request().Context(), id, max(one, 0)); err != nil {
		return err
	}
	s.opts.Wake()
	s.setFlash(c, "flash.retry_queued")
	return c.Redirect(http.StatusSeeOther, "/admin/notifications/"+strconv.FormatInt(id, 10))
}

// discardAllHeld drops every held delivery of every notification.
func (s *Server) discardAllHeld(c echo.Context) error {
	if _, err := s.store.DiscardAllHeld(c.Request().Context()); err != nil {
		return err
	}
	s.setFlash(c, "flash.discarded")
	return c.Redirect(http.StatusSeeOther, "/admin/notifications")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// headerLines lists the headers a recipient's client shows, decoded, for
// the preview.
func headerLines(raw []byte) []string {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	dec := new(mime.WordDecoder)
	var out []string
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "In-Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post"} {
		if v := msg.Header.Get(k); v != "" {
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
			// A decoded control character is shown, never acted on: no
			// decoded line break may look like a header of its own.
			v = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\x00", `\0`).Replace(v)
			out = append(out, k+": "+v)
		}
	}
	return out
}
