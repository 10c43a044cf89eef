package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// audienceView tells an operator, before they publish, who will be
// emailed: contract contacts and public subscribers counted apart, and the
// webhook, Slack and Teams channels posted to, which are not emails and are
// never held.
type audienceView struct {
	Contacts, Subscribers, Contracts int
	Channels                         int
	Held                             bool
	// NoStep: this step emails nobody whatever is ticked (a maintenance
	// moving to verifying, say).
	NoStep bool
}

func (s *Server) audience(ctx context.Context, policyRow string, componentIDs []int64) (*audienceView, error) {
	a, err := s.store.NoticeAudienceCount(ctx, policyRow, componentIDs)
	if err != nil {
		return nil, err
	}
	return &audienceView{Contacts: a.Contacts, Subscribers: a.Subscribers, Contracts: a.Contracts, Channels: a.Channels,
		Held: !s.opts.MailEnabled}, nil
}

// noStep is the audience of a step that sends no email.
func (s *Server) noStep() *audienceView {
	return &audienceView{NoStep: true, Held: !s.opts.MailEnabled}
}

// notice reads the "send email" checkbox of a publishing form.
func (s *Server) notice(f *form) data.Notice {
	return data.Notice{Send: f.Get("notify") == "1", Hold: !s.opts.MailEnabled}
}

// afterNotice wakes the dispatcher when something was queued.
func (s *Server) afterNotice(n data.Notice) {
	if n.Send && !n.Hold {
		s.opts.Wake()
	}
}

// published ends a publishing POST: with email asked for, the flash says
// what the notice was written to do (emails being sent or held, channel
// posts apart) and links to its progress.
func (s *Server) published(c echo.Context, n data.Notice, flash, target string, incidentID, maintenanceID int64, since time.Time) error {
	s.afterNotice(n)
	if n.Send {
		q, queued, err := s.store.QueuedFor(c.Request().Context(), incidentID, maintenanceID, since)
		if err != nil {
			return err
		}
		if q != nil {
			s.changed()
			held := queued.Emails[data.DeliveryHeld]
			sending := 0
			for _, st := range data.DeliveryStates {
				if st != data.DeliveryHeld {
					sending += queued.Emails[st]
				}
			}
			s.setFlashSending(c, flash, q.ID, sent{Emails: sending, Held: held, Channels: queued.Channels})
			return c.Redirect(http.StatusSeeOther, target)
		}
	}
	return s.done(c, flash, target)
}

// sent is what a published notice was written to do, for the flash.
type sent struct {
	// Emails are on their way, Held wait for an operator (no SMTP server
	// configured), Channels are webhook, Slack and Teams posts.
	Emails, Held, Channels int
}

// sentText says in lang what a published notice does: the emails being
// sent or held, and the channel posts apart.
func (s *Server) sentText(lang string, n sent) string {
	t := func(id string, args ...any) string { return s.catalog.T(lang, id, args...) }
	var parts []string
	if n.Emails > 0 {
		parts = append(parts, t("flash.sending", "Count", n.Emails))
	}
	if n.Held > 0 {
		if s.opts.MailEnabled {
			parts = append(parts, t("flash.sending_held", "Count", n.Held))
		} else {
			parts = append(parts, t("flash.sending_held_no_smtp", "Count", n.Held))
		}
	}
	if n.Channels > 0 {
		parts = append(parts, t("flash.posting", "Count", n.Channels))
	}
	return strings.Join(parts, " ")
}

func ids(m map[int64]string) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

// showAudience answers the forms' script with the count for what is chosen
// so far: ?impact=major&component=3&component=5, or ?maintenance=1 for a
// new window; &incident=ID adds the components an incident already
// affects; ?maintenance_id=ID&status=S counts a step of a window, or
// nobody when that step sends no email.
func (s *Server) showAudience(c echo.Context) error {
	ctx := c.Request().Context()
	row := c.QueryParam("impact")
	if c.QueryParam("maintenance") != "" {
		row = data.PolicyMaintenance
	}
	var comps []int64
	for _, v := range c.QueryParams()["component"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			comps = append(comps, id)
		}
	}
	if v := c.QueryParam("incident"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
		}
		inc, err := s.store.Incident(ctx, id)
		if err != nil {
			return err
		}
		if row == "" {
			row = inc.Impact
		}
		comps = append(comps, ids(inc.ComponentStatuses())...)
	}
	var a *audienceView
	if v := c.QueryParam("maintenance_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
		}
		m, err := s.store.Maintenance(ctx, id)
		if err != nil {
			return err
		}
		if a, err = s.maintenanceStepAudience(ctx, m, c.QueryParam("status")); err != nil {
			return err
		}
	}
	if a == nil {
		var err error
		if a, err = s.audience(ctx, row, comps); err != nil {
			if f := (&form{}); f.absorb(err) {
				return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
			}
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"contacts": a.Contacts, "subscribers": a.Subscribers, "contracts": a.Contracts,
		"channels": a.Channels, "text": s.audienceText(langOf(c), a)})
}

// maintenanceStepAudience is who a window's move to status would email.
func (s *Server) maintenanceStepAudience(ctx context.Context, m *data.Maintenance, status string) (*audienceView, error) {
	if status != "" && data.MaintenanceStepKind(m.Status, status) == "" {
		return s.noStep(), nil
	}
	return s.audience(ctx, data.PolicyMaintenance, m.ComponentIDs())
}

// audienceText is the sentence the forms show, in lang.
func (s *Server) audienceText(lang string, a *audienceView) string {
	t := func(id string, args ...any) string { return s.catalog.T(lang, id, args...) }
	switch {
	case a.NoStep:
		return t("audience.no_step")
	case a.Contacts+a.Subscribers == 0 && a.Channels > 0:
		return t("audience.channels_only", "Channels", a.Channels)
	case a.Contacts+a.Subscribers == 0:
		return t("audience.none")
	}
	var who string
	if a.Contacts > 0 {
		who = t("audience.contacts", "Contracts", a.Contracts, "Contacts", a.Contacts)
	}
	if a.Subscribers > 0 {
		subs := t("audience.subscribers", "Subscribers", a.Subscribers)
		if who != "" {
			who = t("audience.and", "A", who, "B", subs)
		} else {
			who = subs
		}
	}
	switch {
	case a.Held && a.Channels > 0:
		return t("audience.held_channels", "Who", who, "Channels", a.Channels)
	case a.Held:
		return t("audience.held", "Who", who)
	case a.Channels > 0:
		return t("audience.will_send_channels", "Who", who, "Channels", a.Channels)
	}
	return t("audience.will_send", "Who", who)
}

// AudienceText is the sentence the forms show.
func (p *page) AudienceText(a *audienceView) string {
	if a == nil {
		return ""
	}
	return p.s.audienceText(p.Lang, a)
}
