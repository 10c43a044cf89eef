package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
)

// confirmPage asks an operator, before a destructive action, whether to go
// on, and says what the action will change. It re-posts the same form with
// confirm=1, so it works without script; with script, the console asks in
// a dialog first and posts confirm=1 itself.
type confirmPage struct {
	Question string
	Lines    []string
	Button   string
	Action   string
	Back     string
	Fields   []hiddenField
}

type hiddenField struct{ Name, Value string }

// describer says what a destructive request would change; nil means there
// is nothing to ask.
type describer func(c echo.Context) (*confirmPage, error)

// asks puts a confirmation in front of a destructive route: a POST without
// confirm=1 shows what it would change and changes nothing.
func (s *Server) asks(describe describer) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.FormValue("confirm") == "1" {
				return next(c)
			}
			p, err := describe(c)
			if err != nil {
				return err
			}
			if p == nil {
				return next(c)
			}
			p.Action = c.Request().URL.Path
			if p.Back == "" {
				p.Back = "/admin"
			}
			if p.Button == "" {
				p.Button = s.t(c, "confirm.go_on")
			}
			if vals, err := c.FormParams(); err == nil {
				for name, vs := range vals {
					if name == "csrf" || name == "confirm" {
						continue
					}
					for _, v := range vs {
						p.Fields = append(p.Fields, hiddenField{name, v})
					}
				}
			}
			c.Set("audited", true) // nothing was done, nothing to audit
			return s.render(c, http.StatusOK, "confirm", &view{Title: p.Question, Data: p})
		}
	}
}

func (s *Server) age(c echo.Context, d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return s.t(c, "ago.days", "Count", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return s.t(c, "ago.hours", "Count", int(d/time.Hour))
	default:
		return s.t(c, "ago.minutes", "Count", int(d/time.Minute))
	}
}

func (s *Server) localTime(c echo.Context, t time.Time) string {
	return locale.FormatTime(langOf(c), t, s.opts.Location)
}

func (s *Server) describeDeleteProduct(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	p, err := s.store.Product(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_product", "Name", p.NameJA),
		Lines: []string{s.t(c, "confirm.delete_product_effect")}, Back: "/admin/products"}, nil
}

func (s *Server) describeDeleteComponent(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	comp, err := s.store.Component(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_component", "Name", comp.NameJA),
		Lines: []string{s.t(c, "confirm.delete_component_effect")}, Back: "/admin/products"}, nil
}

func (s *Server) describeDeleteIncidentUpdate(c echo.Context) (*confirmPage, error) {
	v, err := s.loadIncidentForm(c)
	if err != nil {
		return nil, err
	}
	u, err := findIncidentUpdate(c, v.Incident)
	if err != nil {
		return nil, err
	}
	back := "/admin/incidents/" + strconv.FormatInt(v.Incident.ID, 10)
	return &confirmPage{Question: s.t(c, "confirm.delete_update", "Time", s.localTime(c, u.CreatedAt), "Status", s.t(c, "incident."+u.Status)),
		Lines: []string{s.t(c, "confirm.delete_update_status", "Status", s.t(c, "incident."+v.Incident.Status)), s.t(c, "confirm.delete_update_mail")},
		Back:  back}, nil
}

func (s *Server) describeDeleteContact(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	ct, err := s.store.Contact(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_contact", "Email", ct.Email),
		Back: "/admin/contracts/" + strconv.FormatInt(ct.ContractID, 10)}, nil
}

func (s *Server) describeCancelUpgrade(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	u, err := s.store.Upgrade(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.cancel_upgrade", "Version", u.Version),
		Lines: []string{s.t(c, "confirm.cancel_upgrade_effect")}, Back: "/admin/upgrades/" + strconv.FormatInt(id, 10)}, nil
}

func (s *Server) describeDeleteAnnouncement(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	a, err := s.store.Announcement(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_announcement", "Title", a.TitleJA),
		Lines: []string{s.t(c, "confirm.delete_announcement_effect")}, Back: "/admin/announcements"}, nil
}

func (s *Server) describeDeleteSubscriber(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	sub, err := s.store.Subscriber(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.delete_subscriber", "Email", sub.Email),
		Lines: []string{s.t(c, "confirm.delete_subscriber_effect")}, Back: "/admin/subscribers"}, nil
}

func (s *Server) describeRevokeToken(c echo.Context) (*confirmPage, error) {
	if _, err := idParam(c, "id"); err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.revoke_token"), Lines: []string{s.t(c, "confirm.revoke_token_effect")}, Back: "/admin/tokens"}, nil
}

func (s *Server) describeDisableOperator(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	op, err := s.store.Operator(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if op.Disabled {
		return nil, nil // enabling again takes nothing away
	}
	return &confirmPage{Question: s.t(c, "confirm.disable_operator", "Email", op.Email),
		Lines: []string{s.t(c, "confirm.disable_operator_effect")}, Back: "/admin/operators"}, nil
}

// describeRelease asks only when the held notice is stale: over a day old,
// or about an incident or window that has ended since.
func (s *Server) describeRelease(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return nil, err
	}
	st, err := s.store.NotificationStaleness(ctx, n)
	if err != nil {
		return nil, err
	}
	if !st.Stale() {
		return nil, nil
	}
	counts, err := s.store.DeliveryCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &confirmPage{Question: s.t(c, "confirm.release", "Count", counts[data.DeliveryHeld]),
		Lines:  []string{s.t(c, "confirm.release_age", "Age", s.age(c, st.Age), "Time", s.localTime(c, n.CreatedAt))},
		Button: s.t(c, "confirm.release_anyway"), Back: "/admin/notifications/" + strconv.FormatInt(id, 10)}
	if st.Over {
		status := s.t(c, "incident."+st.Status)
		if n.MaintenanceID != nil {
			status = s.t(c, "maintenance."+st.Status)
		}
		when := ""
		if st.OverAt != nil {
			when = s.localTime(c, *st.OverAt)
		}
		p.Lines = append(p.Lines, s.t(c, "confirm.release_over", "Status", status, "Time", when))
	}
	p.Lines = append(p.Lines, s.t(c, "confirm.release_discard"))
	return p, nil
}

func (s *Server) describeDiscard(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	counts, err := s.store.DeliveryCounts(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.discard", "Count", counts[data.DeliveryHeld]),
		Lines: []string{s.t(c, "confirm.discard_effect")}, Back: "/admin/notifications/" + strconv.FormatInt(id, 10)}, nil
}

func (s *Server) describeRetryBounced(c echo.Context) (*confirmPage, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	counts, err := s.store.DeliveryCounts(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	n := counts[data.DeliveryBounced]
	if c.FormValue("delivery") != "" {
		n = min(n, 1)
	}
	return &confirmPage{Question: s.t(c, "confirm.retry_bounced", "Count", n),
		Lines: []string{s.t(c, "confirm.retry_bounced_effect")}, Back: "/admin/notifications/" + strconv.FormatInt(id, 10)}, nil
}

func (s *Server) describeDiscardAll(c echo.Context) (*confirmPage, error) {
	a, err := s.store.NeedsAttention(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.discard_all", "Notices", a.HeldNotices, "Count", a.Held),
		Lines: []string{s.t(c, "confirm.discard_effect")}, Back: "/admin/notifications"}, nil
}

// describeMaintenanceUpdate asks only before cancelling a window.
func (s *Server) describeMaintenanceUpdate(c echo.Context) (*confirmPage, error) {
	if c.FormValue("status") != data.Cancelled {
		return nil, nil
	}
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return &confirmPage{Question: s.t(c, "confirm.cancel_maintenance"), Lines: []string{s.t(c, "confirm.cancel_maintenance_effect")},
		Back: "/admin/maintenance/" + strconv.FormatInt(id, 10)}, nil
}

// describeContractUpdate asks only before ending an active contract.
func (s *Server) describeContractUpdate(c echo.Context) (*confirmPage, error) {
	ct, err := s.loadContract(c)
	if err != nil {
		return nil, err
	}
	if !ct.Active || c.FormValue("active") == "1" {
		return nil, nil
	}
	return &confirmPage{Question: s.t(c, "confirm.end_contract", "Code", ct.Code),
		Lines: []string{s.t(c, "confirm.end_contract_effect", "Count", len(ct.Contacts))}, Back: "/admin/contracts/" + strconv.FormatInt(ct.ID, 10)}, nil
}
