// Package channelmsg writes a notice for a channel other than email: a
// Statuspage-style JSON webhook, a Slack message (incoming webhook) or a
// Microsoft Teams Adaptive Card (workflow webhook), in the channel's
// language, with the status colour, what is affected and a link.
package channelmsg

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
)

// Writer writes channel messages.
type Writer struct {
	catalog *locale.Catalog
	base    string
	loc     *time.Location
}

// New returns a writer for links under base, times in loc.
func New(base string, loc *time.Location) (*Writer, error) {
	c, err := locale.Load()
	if err != nil {
		return nil, err
	}
	return &Writer{catalog: c, base: strings.TrimRight(base, "/"), loc: loc}, nil
}

// Colours of a notice, as the emails use them.
var colours = map[string]string{
	data.IncidentOpened: "#d2312b", data.IncidentUpdated: "#e8710a", data.IncidentResolved: "#1f9d55", data.IncidentPostmortem: "#5f6b7a",
	data.MaintenanceScheduled: "#3b73d1", data.MaintenanceReminder: "#3b73d1", data.MaintenanceStarted: "#3b73d1",
	data.MaintenanceCompleted: "#1f9d55", data.MaintenanceCancelled: "#5f6b7a", data.MonitorAlertDown: "#d2312b", data.MonitorAlertUp: "#1f9d55",
	data.AlertRelayRefusing: "#d2312b", data.AlertJobFailed: "#d2312b", data.AlertDeliveriesFailed: "#d2312b", data.AlertNoticeHeld: "#e8710a",
	data.AlertBreakGlass: "#d2312b",
}

// Message is a notice as a channel shows it.
type Message struct {
	Kind, Title, Status, Body, URL, Colour string
	Impact                                 string
	// Window is when a maintenance window or upgrade takes place, in the
	// channel's language and the page's zone; empty for incidents.
	Window     string
	Components []string
	At         time.Time
}

// maintenanceComponentStatus is what a window puts its components in at
// the step a notice reports: under maintenance only while the work goes
// on, operational once it is over, and nothing yet while it is only
// scheduled (""), however close its start. The frozen content names every
// component under maintenance, which is what the window will do, not what
// it does when the notice is written.
func maintenanceComponentStatus(status string) string {
	switch status {
	case data.InProgress, data.Verifying:
		return data.UnderMaintenance
	case data.Completed, data.Cancelled:
		return data.Operational
	}
	return ""
}

func pick(lang, ja, en string) string {
	if lang == "en" && strings.TrimSpace(en) != "" {
		return en
	}
	return ja
}

// message reads a notification's frozen content in lang.
func (w *Writer) message(n data.Notification, lang string) (Message, data.NoticeContent, error) {
	c, err := n.Decode()
	if err != nil {
		return Message{}, c, err
	}
	m := Message{Kind: c.Kind, Title: pick(lang, c.TitleJA, c.TitleEN), Body: pick(lang, c.BodyJA, c.BodyEN),
		URL: w.base + c.Path, Colour: colours[c.Kind], At: n.CreatedAt}
	if m.Colour == "" {
		m.Colour = "#5f6b7a"
	}
	switch {
	case strings.HasPrefix(c.Kind, "incident"):
		m.Status = w.catalog.T(lang, "incident."+c.Status)
	case strings.HasPrefix(c.Kind, "maintenance"):
		m.Status = w.catalog.T(lang, "maintenance."+c.Status)
	case strings.HasPrefix(c.Kind, "monitor"), c.Kind == data.ComponentUpdated:
		m.Status = w.catalog.T(lang, "component."+c.Status)
	}
	if c.Kind == data.ComponentUpdated {
		m.Title = pick(lang, c.TitleJA, c.TitleEN) + ": " + w.catalog.T(lang, "component."+c.OldStatus) + " → " + m.Status
		m.Colour = map[string]string{data.Operational: "#1f9d55", data.UnderMaintenance: "#3b73d1", data.DegradedPerformance: "#e8710a"}[c.Status]
		if m.Colour == "" {
			m.Colour = "#d2312b"
		}
		m.Components = nil
	}
	if c.Impact != "" {
		m.Impact = w.catalog.T(lang, "impact."+c.Impact)
	}
	if c.StartsAt != nil && c.EndsAt != nil {
		m.Window = w.catalog.T(lang, "maintenance.window", "From", locale.FormatTime(lang, *c.StartsAt, w.loc),
			"To", locale.FormatTime(lang, *c.EndsAt, w.loc))
	}
	maintenance := strings.HasPrefix(c.Kind, "maintenance")
	for _, comp := range c.Components {
		name := pick(lang, comp.JA, comp.EN)
		if comp.Product.JA != "" {
			name = pick(lang, comp.Product.JA, comp.Product.EN) + " / " + name
		}
		st := comp.Status
		if maintenance {
			st = maintenanceComponentStatus(c.Status)
		}
		if st != "" {
			name += ": " + w.catalog.T(lang, "component."+st)
		}
		m.Components = append(m.Components, name)
	}
	return m, c, nil
}

// Body is the request body for a channel of kind.
func (w *Writer) Body(kind string, n data.Notification, lang string) ([]byte, error) {
	return w.BodyFor(kind, n, lang, "")
}

// BodyFor is Body for a channel whose owner manages (and removes) it at
// manage, the address a webhook's meta.unsubscribe gives; empty gives the
// page's channel subscription page instead.
func (w *Writer) BodyFor(kind string, n data.Notification, lang, manage string) ([]byte, error) {
	m, c, err := w.message(n, lang)
	if err != nil {
		return nil, err
	}
	switch kind {
	case data.ChannelSlack:
		return w.slack(m, lang)
	case data.ChannelTeams:
		return w.teams(m, lang)
	}
	if manage == "" {
		manage = w.base + "/subscribe/channel"
	}
	return w.webhook(m, c, n.ID, lang, manage)
}

// indicator is the page status a notice reports, in Statuspage's words
// (none, minor, major, critical, maintenance), as far as the notice alone
// tells: an unresolved incident's impact, a window under way, a
// component's new status. "" for operators' alerts, which are not about
// the page.
func indicator(c data.NoticeContent) string {
	switch {
	case strings.HasPrefix(c.Kind, "incident"):
		if c.Status == data.Resolved || c.Impact == "" {
			return "none"
		}
		return c.Impact
	case strings.HasPrefix(c.Kind, "maintenance"):
		if maintenanceComponentStatus(c.Status) == data.UnderMaintenance {
			return "maintenance"
		}
		return "none"
	case c.Kind == data.ComponentUpdated:
		return map[string]string{data.Operational: "none", data.UnderMaintenance: "maintenance", data.DegradedPerformance: "minor",
			data.PartialOutage: "major", data.MajorOutage: "critical"}[c.Status]
	}
	return ""
}

// webhook is Statuspage's webhook shape (meta, page, and the incident or
// the component update; a maintenance is an incident with impact
// "maintenance", as there), with ids as the JSON API gives them (i3, m2,
// u7, mu4, c5), plus Oshirase's own "event", "meta.event",
// "meta.generated_at", "page.url" and, for operators' alerts, "alert".
func (w *Writer) webhook(m Message, c data.NoticeContent, notification int64, lang, manage string) ([]byte, error) {
	id, impact, updatePrefix := "", c.Impact, "u"
	switch {
	case strings.HasPrefix(c.Path, "/incidents/"):
		p := strings.TrimPrefix(c.Path, "/incidents/")
		id = "i" + strings.SplitN(p, "#", 2)[0]
	case strings.HasPrefix(c.Path, "/maintenance/"):
		id, impact, updatePrefix = "m"+strings.TrimPrefix(c.Path, "/maintenance/"), "maintenance", "mu"
	}
	ts := func(t *time.Time) any {
		if t == nil || t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	compName := func(x data.NoticeComponent) string {
		name := pick("en", x.JA, x.EN)
		if x.Product.JA != "" {
			name = pick("en", x.Product.JA, x.Product.EN) + " - " + name
		}
		return name
	}
	compID := func(x data.NoticeComponent) any {
		if x.ID == 0 {
			return nil
		}
		return fmt.Sprintf("c%d", x.ID)
	}
	type comp struct {
		ID     any    `json:"id,omitempty"`
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	var comps []comp
	for _, x := range c.Components {
		st := x.Status
		if impact == "maintenance" {
			// As Statuspage's webhooks: operational until the window
			// starts and again once it is over.
			if st = maintenanceComponentStatus(c.Status); st == "" {
				st = data.Operational
			}
		}
		comps = append(comps, comp{ID: compID(x), Name: compName(x), Status: st})
	}
	at := m.At.UTC().Format(time.RFC3339)
	updated := ts(c.UpdatedAt)
	if updated == nil {
		updated = at
	}
	page := map[string]any{"id": "oshirase", "url": w.base}
	if ind := indicator(c); ind != "" {
		page["status_indicator"], page["status_description"] = ind, w.catalog.T("en", "api.indicator."+ind)
	}
	body := map[string]any{
		"meta":  map[string]any{"event": c.Kind, "unsubscribe": manage, "documentation": w.base + "/subscribe", "generated_at": at},
		"page":  page,
		"event": c.Kind,
	}
	if c.Kind == data.ComponentUpdated {
		cid := fmt.Sprintf("c%d", c.ComponentID)
		body["component_update"] = map[string]any{"id": fmt.Sprintf("cu%d", notification), "created_at": updated,
			"new_status": c.Status, "old_status": c.OldStatus, "component_id": cid}
		name := pick("en", c.TitleJA, c.TitleEN)
		if len(c.Components) > 0 {
			name = pick("en", c.Components[0].JA, c.Components[0].EN)
		}
		body["component"] = map[string]any{"id": cid, "name": name, "status": c.Status, "created_at": updated}
		return json.Marshal(body)
	}
	if id == "" {
		body["alert"] = map[string]any{"title": m.Title, "status": c.Status, "body": m.Body, "url": m.URL, "created_at": at}
		return json.Marshal(body)
	}
	created := ts(c.CreatedAt)
	if created == nil {
		if created = ts(c.StartedAt); created == nil {
			created = at
		}
	}
	inc := map[string]any{"id": id, "name": m.Title, "status": c.Status, "impact": impact, "shortlink": m.URL, "page_id": "oshirase",
		"created_at": created, "updated_at": updated, "started_at": ts(c.StartedAt), "resolved_at": ts(c.ResolvedAt),
		"components": comps, "incident_updates": w.webhookUpdates(c, id, updatePrefix, lang, updated, compName, compID)}
	if impact == "maintenance" {
		inc["scheduled_for"], inc["scheduled_until"] = ts(c.StartsAt), ts(c.EndsAt)
		if c.Status == data.Cancelled {
			inc["status"] = data.Completed // Statuspage has no "cancelled", as the JSON API says
		}
	}
	body["incident"] = inc
	return json.Marshal(body)
}

// webhookUpdates is the incident_updates list, newest first: every update
// the notice froze, each with the components it moved (old_status is
// what the previous update said), else the one update it reports.
func (w *Writer) webhookUpdates(c data.NoticeContent, incident, prefix, lang string, at any,
	compName func(data.NoticeComponent) string, compID func(data.NoticeComponent) any) []any {
	type affected struct {
		Code      any    `json:"code"`
		Name      string `json:"name"`
		OldStatus string `json:"old_status"`
		NewStatus string `json:"new_status"`
	}
	update := func(uid int64, status, body string, created any, moved []affected) map[string]any {
		u := map[string]any{"status": status, "body": body, "incident_id": incident, "created_at": created, "updated_at": created,
			"display_at": created, "affected_components": moved}
		if uid != 0 {
			u["id"] = prefix + strconv.FormatInt(uid, 10)
		}
		return u
	}
	if len(c.Updates) == 0 {
		moved := []affected{}
		for _, x := range c.Components {
			if st := x.Status; st != "" && c.Kind != data.IncidentPostmortem && !strings.HasPrefix(c.Kind, "maintenance") {
				moved = append(moved, affected{Code: compID(x), Name: compName(x), NewStatus: st})
			}
		}
		status := c.Status
		if status == data.Cancelled {
			status = data.Completed
		}
		return []any{update(c.UpdateID, status, pick(lang, c.BodyJA, c.BodyEN), at, moved)}
	}
	out := make([]any, len(c.Updates))
	prev := map[int64]string{}
	for i := len(c.Updates) - 1; i >= 0; i-- {
		u := c.Updates[i]
		moved := []affected{}
		for _, x := range u.Components {
			old := prev[x.ID]
			if old == "" {
				old = data.Operational
			}
			moved = append(moved, affected{Code: compID(x), Name: compName(x), OldStatus: old, NewStatus: x.Status})
			prev[x.ID] = x.Status
		}
		created := u.CreatedAt.UTC().Format(time.RFC3339)
		out[i] = update(u.ID, u.Status, pick(lang, u.BodyJA, u.BodyEN), created, moved)
	}
	if c.StartedAt != nil {
		// The first update is displayed from when the incident started,
		// as the JSON API shows it.
		out[len(out)-1].(map[string]any)["display_at"] = c.StartedAt.UTC().Format(time.RFC3339)
	}
	return out
}

// Slack's documented limits (api.slack.com/reference/block-kit): a
// message holds at most 50 blocks, a section's text at most 3,000
// characters, a field's 2,000. A payload over them is refused whole, so
// the notice would reach nobody.
const (
	slackBlocks      = 50
	slackSectionText = 3000
	slackFieldText   = 2000
	// slackBodyText is how much of a body a chat shows: a 10,000-character
	// notice arrives whole, a longer one ends with a link to the page.
	slackBodyText = 12000
	slackTitle    = 150
)

// slack is an incoming-webhook message: a coloured attachment holding
// the title, status, affected components, message and a link.
func (w *Writer) slack(m Message, lang string) ([]byte, error) {
	esc := slackEscape
	head := fmt.Sprintf("*<%s|%s>*", m.URL, strings.ReplaceAll(esc(truncate(m.Title, slackTitle)), "|", "\u2223"))
	field := func(label, value string) any {
		return map[string]any{"type": "mrkdwn", "text": truncate("*"+esc(label)+"*\n"+esc(value), slackFieldText)}
	}
	fields := []any{}
	if m.Status != "" {
		fields = append(fields, field(w.catalog.T(lang, "email.current_status"), m.Status))
	}
	if m.Impact != "" {
		fields = append(fields, field(w.catalog.T(lang, "label.impact"), m.Impact))
	}
	if m.Window != "" {
		fields = append(fields, field(w.catalog.T(lang, "maintenance.window_label"), m.Window))
	}
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": head}}}
	if len(fields) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	if len(m.Components) > 0 {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn",
			"text": esc(truncate(strings.Join(m.Components, "\n"), slackFieldText))}}})
	}
	section := func(t string) any {
		return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": t}}
	}
	if body := Mrkdwn(m.Body); body != "" {
		more := fmt.Sprintf("<%s|%s>", m.URL, esc(w.catalog.T(lang, "email.view_details")))
		cut := utf8.RuneCountInString(body) > slackBodyText
		if cut {
			body = truncate(body, slackBodyText)
		}
		parts := split(body, slackSectionText)
		// One block is kept for the link to the rest.
		if room := slackBlocks - len(blocks) - 1; len(parts) > room {
			parts, cut = parts[:room], true
		}
		for _, p := range parts {
			blocks = append(blocks, section(p))
		}
		if cut {
			blocks = append(blocks, section("… "+more))
		}
	}
	// The text is what a chat's notification shows alone: a window says
	// when it is.
	text := truncate(m.Title, slackTitle) + " — " + m.Status
	switch {
	case m.Window != "" && lang == "en":
		text += " (" + m.Window + ")"
	case m.Window != "":
		text += "（" + m.Window + "）"
	}
	return json.Marshal(map[string]any{"text": text,
		"attachments": []any{map[string]any{"color": m.Colour, "blocks": blocks}}})
}

// teamsPayload is the most a Teams workflow webhook takes: Microsoft
// documents about 28 KB for a message holding an Adaptive Card; a
// little is kept for what the connector wraps around it.
const teamsPayload = 27 * 1024

// teams is a workflow-webhook message holding an Adaptive Card.
func (w *Writer) teams(m Message, lang string) ([]byte, error) {
	colour := "attention"
	switch m.Colour {
	case "#1f9d55":
		colour = "good"
	case "#3b73d1", "#5f6b7a":
		colour = "accent"
	case "#e8710a":
		colour = "warning"
	}
	facts := []any{}
	if m.Status != "" {
		facts = append(facts, map[string]any{"title": w.catalog.T(lang, "email.current_status"), "value": m.Status})
	}
	if m.Impact != "" {
		facts = append(facts, map[string]any{"title": w.catalog.T(lang, "label.impact"), "value": m.Impact})
	}
	if m.Window != "" {
		facts = append(facts, map[string]any{"title": w.catalog.T(lang, "maintenance.window_label"), "value": m.Window})
	}
	for _, c := range m.Components {
		facts = append(facts, map[string]any{"title": w.catalog.T(lang, "label.components"), "value": c})
	}
	body := []any{map[string]any{"type": "TextBlock", "text": m.Title, "weight": "Bolder", "size": "Medium", "wrap": true, "color": colour}}
	if len(facts) > 0 {
		body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	}
	more := w.catalog.T(lang, "email.view_details")
	card := func(text string) ([]byte, error) {
		blocks := body
		if text != "" {
			blocks = append(blocks[:len(blocks):len(blocks)], map[string]any{"type": "TextBlock", "text": text, "wrap": true})
		}
		card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
			"body": blocks, "actions": []any{map[string]any{"type": "Action.OpenUrl", "title": more, "url": m.URL}}}
		return json.Marshal(map[string]any{"type": "message",
			"attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}})
	}
	text := teamsMarkdown(m.Body)
	out, err := card(text)
	if err != nil || len(out) <= teamsPayload {
		return out, err
	}
	// Too long for Teams: shorten the message until the card fits, and
	// say where the rest is (the card's button goes there too).
	link := "\n\n… " + teamsDialect.link(m.URL, teamsEscape(more))
	n := utf8.RuneCountInString(text)
	for n > 0 {
		n = n * teamsPayload / len(out) * 9 / 10
		if out, err = card(truncate(text, max(n, 1)) + link); err != nil || len(out) <= teamsPayload {
			return out, err
		}
	}
	return card(link)
}

// Verification is what a new channel is sent before it is used: a
// webhook must answer it with the challenge; Slack and Teams get a short
// "subscribed" message.
func (w *Writer) Verification(kind, lang, challenge, site string) ([]byte, error) {
	if kind == data.ChannelWebhook {
		return json.Marshal(map[string]any{"type": "verification", "challenge": challenge, "page": map[string]any{"url": w.base}})
	}
	text := w.catalog.T(lang, "channel.verify_text", "Site", site)
	if kind == data.ChannelTeams {
		return json.Marshal(map[string]any{"type": "message", "attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{"type": "AdaptiveCard", "version": "1.4", "body": []any{map[string]any{"type": "TextBlock", "text": text, "wrap": true}}}}}})
	}
	return json.Marshal(map[string]any{"text": text})
}
