// Package channelmsg writes a notice for a channel other than email: a
// Statuspage-style JSON webhook, a Slack message (incoming webhook) or a
// Microsoft Teams Adaptive Card (workflow webhook), in the channel's
// language, with the status colour, what is affected and a link.
package channelmsg

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

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
	return w.webhook(m, c)
}

// webhook is Statuspage's webhook shape: meta, page, and the incident (a
// maintenance is an incident with impact "maintenance", as there).
func (w *Writer) webhook(m Message, c data.NoticeContent) ([]byte, error) {
	id, impact := "", c.Impact
	var p string
	switch {
	case strings.HasPrefix(c.Path, "/incidents/"):
		p = strings.TrimPrefix(c.Path, "/incidents/")
		id = "i" + strings.SplitN(p, "#", 2)[0]
	case strings.HasPrefix(c.Path, "/maintenance/"):
		id, impact = "m"+strings.TrimPrefix(c.Path, "/maintenance/"), "maintenance"
	}
	type comp struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	var comps []comp
	for _, x := range c.Components {
		name := pick("en", x.JA, x.EN)
		if x.Product.JA != "" {
			name = pick("en", x.Product.JA, x.Product.EN) + " - " + name
		}
		st := x.Status
		if impact == "maintenance" {
			// As Statuspage's webhooks: operational until the window
			// starts and again once it is over.
			if st = maintenanceComponentStatus(c.Status); st == "" {
				st = data.Operational
			}
		}
		comps = append(comps, comp{Name: name, Status: st})
	}
	at := m.At.UTC().Format(time.RFC3339)
	body := map[string]any{
		"meta":  map[string]any{"event": c.Kind, "documentation": w.base + "/subscribe", "generated_at": at},
		"page":  map[string]any{"id": "oshirase", "url": w.base},
		"event": c.Kind,
	}
	if c.Kind == data.ComponentUpdated {
		cid := fmt.Sprintf("c%d", c.ComponentID)
		body["component_update"] = map[string]any{"created_at": at, "new_status": c.Status, "old_status": c.OldStatus, "component_id": cid}
		name := pick("en", c.TitleJA, c.TitleEN)
		if len(c.Components) > 0 {
			name = pick("en", c.Components[0].JA, c.Components[0].EN)
		}
		body["component"] = map[string]any{"id": cid, "name": name, "status": c.Status}
		return json.Marshal(body)
	}
	if id != "" {
		inc := map[string]any{"id": id, "name": m.Title, "status": c.Status, "impact": impact, "shortlink": m.URL,
			"updated_at": at, "components": comps,
			"incident_updates": []any{map[string]any{"status": c.Status, "body": m.Body, "created_at": at}}}
		if impact == "maintenance" && c.StartsAt != nil && c.EndsAt != nil {
			inc["scheduled_for"], inc["scheduled_until"] = c.StartsAt.UTC().Format(time.RFC3339), c.EndsAt.UTC().Format(time.RFC3339)
		}
		body["incident"] = inc
	} else {
		body["alert"] = map[string]any{"title": m.Title, "status": c.Status, "body": m.Body, "url": m.URL, "created_at": at}
	}
	return json.Marshal(body)
}

// slack is an incoming-webhook message: a coloured attachment holding
// the title, status, affected components, message and a link.
func (w *Writer) slack(m Message, lang string) ([]byte, error) {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	head := fmt.Sprintf("*<%s|%s>*", m.URL, esc(m.Title))
	fields := []any{}
	if m.Status != "" {
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + esc(w.catalog.T(lang, "email.current_status")) + "*\n" + esc(m.Status)})
	}
	if m.Impact != "" {
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + esc(w.catalog.T(lang, "label.impact")) + "*\n" + esc(m.Impact)})
	}
	if m.Window != "" {
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + esc(w.catalog.T(lang, "maintenance.window_label")) + "*\n" + esc(m.Window)})
	}
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": head}}}
	if len(fields) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	if len(m.Components) > 0 {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": esc(strings.Join(m.Components, "\n"))}}})
	}
	if m.Body != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": esc(m.Body)}})
	}
	// The text is what a chat's notification shows alone: a window says
	// when it is.
	text := m.Title + " — " + m.Status
	switch {
	case m.Window != "" && lang == "en":
		text += " (" + m.Window + ")"
	case m.Window != "":
		text += "（" + m.Window + "）"
	}
	return json.Marshal(map[string]any{"text": text,
		"attachments": []any{map[string]any{"color": m.Colour, "blocks": blocks}}})
}

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
	if m.Body != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": m.Body, "wrap": true})
	}
	card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
		"body": body, "actions": []any{map[string]any{"type": "Action.OpenUrl", "title": w.catalog.T(lang, "email.view_details"), "url": m.URL}}}
	return json.Marshal(map[string]any{"type": "message",
		"attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}})
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
