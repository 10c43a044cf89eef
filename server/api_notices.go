package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// Announcements, upgrades and notifications through the operator API, with
// the console's validation, confirmations and notices.

func (s *Server) noticeOps() []apiOp {
	idem := func(op apiOp) apiOp { op.Idempotent = true; return op }
	return []apiOp{
		{ID: "listAnnouncements", Method: http.MethodGet, Path: "/announcements", Tag: "announcements", Summary: "List announcements (news posts), newest first",
			Query: pagingParams, Out: apiPage[apiAnnouncement]{}, Code: http.StatusOK, Handle: s.apiListAnnouncements},
		idem(apiOp{ID: "createAnnouncement", Method: http.MethodPost, Path: "/announcements", Tag: "announcements", Summary: "Publish an announcement (now or at publish_at)",
			In: apiAnnouncementInput{}, Out: apiAnnouncement{}, Code: http.StatusCreated, Handle: s.apiCreateAnnouncement}),
		{ID: "getAnnouncement", Method: http.MethodGet, Path: "/announcements/:id", IDs: []string{"a"}, Tag: "announcements", Summary: "One announcement",
			Out: apiAnnouncement{}, Code: http.StatusOK, Handle: apiShow(s.apiAnnouncement)},
		idem(apiOp{ID: "updateAnnouncement", Method: http.MethodPut, Path: "/announcements/:id", IDs: []string{"a"}, Tag: "announcements", Summary: "Change an announcement",
			In: apiAnnouncementInput{}, Out: apiAnnouncement{}, Code: http.StatusOK, Handle: s.apiUpdateAnnouncement}),
		{ID: "deleteAnnouncement", Method: http.MethodDelete, Path: "/announcements/:id", IDs: []string{"a"}, Tag: "announcements", Summary: "Delete an announcement",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteAnnouncement, s.apiDeleteAnnouncement)},

		{ID: "listUpgrades", Method: http.MethodGet, Path: "/upgrades", Tag: "upgrades", Summary: "List upgrades, newest start first",
			Description: "since keeps upgrades whose window ends at or after it.",
			Query:       append([]apiParam{upgradeStatusParam, upgradeProductParam, sinceParam}, pagingParams...),
			Out:         apiPage[apiUpgrade]{}, Code: http.StatusOK, Handle: s.apiListUpgrades},
		idem(apiOp{ID: "createUpgrade", Method: http.MethodPost, Path: "/upgrades", Tag: "upgrades", Summary: "Schedule an upgrade and its advance notices",
			In: apiUpgradeInput{}, Out: apiUpgrade{}, Code: http.StatusCreated, Handle: s.apiCreateUpgrade}),
		{ID: "getUpgrade", Method: http.MethodGet, Path: "/upgrades/:id", IDs: []string{"v"}, Tag: "upgrades", Summary: "One upgrade and what became of its advance notices",
			Out: apiUpgrade{}, Code: http.StatusOK, Handle: apiShow(s.apiUpgrade)},
		idem(apiOp{ID: "updateUpgrade", Method: http.MethodPut, Path: "/upgrades/:id", IDs: []string{"v"}, Tag: "upgrades",
			Summary:     "Change an upgrade that has not started",
			Description: "A new window tells everyone already told (a rescheduling notice) and moves the pending advance notices with it.",
			In:          apiUpgradeInput{}, Out: apiUpgrade{}, Code: http.StatusOK, Handle: s.apiUpdateUpgrade}),
		{ID: "cancelUpgrade", Method: http.MethodPost, Path: "/upgrades/:id/cancel", IDs: []string{"v"}, Tag: "upgrades",
			Summary:     "Cancel an upgrade that has not started",
			Description: "The advance notices not yet sent are dropped, and everyone already told hears of the cancellation.",
			Out:         apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeCancelUpgrade, s.apiCancelUpgrade)},

		{ID: "listNotifications", Method: http.MethodGet, Path: "/notifications", Tag: "notifications", Summary: "List notifications (notices written), newest first, with their deliveries by state",
			Query: append([]apiParam{notificationStateParam, notificationKindParam, sinceParam}, pagingParams...),
			Out:   apiPage[apiNotification]{}, Code: http.StatusOK, Handle: s.apiListNotifications},
		{ID: "getNotification", Method: http.MethodGet, Path: "/notifications/:id", IDs: []string{"n"}, Tag: "notifications", Summary: "One notification and its deliveries by state",
			Out: apiNotification{}, Code: http.StatusOK, Handle: s.apiGetNotification},
		{ID: "listDeliveries", Method: http.MethodGet, Path: "/notifications/:id/deliveries", IDs: []string{"n"}, Tag: "notifications",
			Summary: "A notification's deliveries, problems first",
			Query:   append([]apiParam{deliveryStateParam}, pagingParams...),
			Out:     apiPage[apiDelivery]{}, Code: http.StatusOK, Handle: s.apiListDeliveries},
		{ID: "retryNotification", Method: http.MethodPost, Path: "/notifications/:id/retry", IDs: []string{"n"}, Tag: "notifications",
			Summary: "Put the failed deliveries back in the queue, with a fresh set of attempts",
			Out:     apiNotification{}, Code: http.StatusOK, Handle: s.apiRetryNotification},
		{ID: "releaseNotification", Method: http.MethodPost, Path: "/notifications/:id/release", IDs: []string{"n"}, Tag: "notifications",
			Summary:     "Send the held deliveries",
			Description: "Only once an SMTP server is configured (422 no_smtp otherwise). A stale notice (over a day old, or about something over since) says so in the answer's effects.",
			Out:         apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.needsMail(s.destructive(s.ofNotification(s.describeRelease), s.apiReleaseNotification))},
		{ID: "discardNotification", Method: http.MethodPost, Path: "/notifications/:id/discard", IDs: []string{"n"}, Tag: "notifications",
			Summary: "Drop the held deliveries for good: they are never sent",
			Out:     apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.ofNotification(s.describeDiscard), s.apiDiscardNotification)},
		{ID: "retryBouncedNotification", Method: http.MethodPost, Path: "/notifications/:id/retry-bounced", IDs: []string{"n"}, Tag: "notifications",
			Summary: "Put the bounced deliveries (all, or the one named) back in the queue",
			Query:   []apiParam{bouncedDeliveryParam},
			Out:     apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.apiRetryBounced},
		{ID: "discardAllHeld", Method: http.MethodPost, Path: "/notifications/discard-held", Tag: "notifications",
			Summary: "Drop every held delivery of every notification",
			Out:     apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDiscardAll, s.apiDiscardAllHeld)},
	}
}

// Announcements.

// apiAnnouncement is a news post as the API shows it.
type apiAnnouncement struct {
	ID        string    `json:"id" ref:"a"`
	TitleJA   string    `json:"title_ja"`
	TitleEN   string    `json:"title_en"`
	BodyJA    string    `json:"body_ja"`
	BodyEN    string    `json:"body_en"`
	ProductID *string   `json:"product_id" ref:"p" doc:"The product it is about; null for all."`
	PublishAt time.Time `json:"publish_at" doc:"When it shows on the page (it may be in the future)."`
	Published bool      `json:"published" doc:"Whether publish_at has come."`
	URL       string    `json:"url" doc:"Its page on the status page."`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *Server) toAPIAnnouncement(a *data.Announcement) apiAnnouncement {
	out := apiAnnouncement{ID: apiRef("a", a.ID), TitleJA: a.TitleJA, TitleEN: a.TitleEN, BodyJA: a.BodyJA, BodyEN: a.BodyEN,
		PublishAt: a.PublishAt.UTC(), Published: !a.PublishAt.After(s.opts.Now()),
		URL: s.opts.BaseURL.String() + "/news/" + strconv.FormatInt(a.ID, 10), CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
	if a.ProductID != nil {
		p := apiRef("p", *a.ProductID)
		out.ProductID = &p
	}
	return out
}

type apiAnnouncementInput struct {
	TitleJA   string     `json:"title_ja" maxlen:"200"`
	TitleEN   string     `json:"title_en,omitempty" maxlen:"200"`
	BodyJA    string     `json:"body_ja"`
	BodyEN    string     `json:"body_en,omitempty"`
	ProductID *string    `json:"product_id,omitempty" ref:"p" doc:"The product it is about; omitted or null for all."`
	PublishAt *time.Time `json:"publish_at,omitempty" doc:"When it shows on the page; omitted: now."`
}

func (in apiAnnouncementInput) input() (data.AnnouncementInput, error) {
	out := data.AnnouncementInput{TitleJA: in.TitleJA, TitleEN: in.TitleEN, BodyJA: in.BodyJA, BodyEN: in.BodyEN}
	if in.ProductID != nil {
		id, err := bodyRef("p", "product_id", *in.ProductID)
		if err != nil {
			return out, err
		}
		out.ProductID = &id
	}
	if in.PublishAt != nil {
		out.PublishAt = *in.PublishAt
	}
	return out, nil
}

func (s *Server) apiListAnnouncements(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	as, total, err := s.store.Announcements(c.Request().Context(), per, (page-1)*per)
	if err != nil {
		return err
	}
	out := make([]apiAnnouncement, len(as))
	for i := range as {
		out[i] = s.toAPIAnnouncement(&as[i])
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

func (s *Server) apiAnnouncement(c echo.Context, id int64, code int) error {
	a, err := s.store.Announcement(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "announcement")
	}
	return c.JSON(code, s.toAPIAnnouncement(a))
}

func (s *Server) apiCreateAnnouncement(c echo.Context) error {
	var in apiAnnouncementInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ai, err := in.input()
	if err != nil {
		return err
	}
	a, err := s.store.CreateAnnouncement(c.Request().Context(), ai)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, s.toAPIAnnouncement(a))
}

func (s *Server) apiUpdateAnnouncement(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiAnnouncementInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Announcement(ctx, id); err != nil {
		return notFoundJSON(err, "announcement")
	}
	ai, err := in.input()
	if err != nil {
		return err
	}
	if err := s.store.UpdateAnnouncement(ctx, id, ai); err != nil {
		return s.apiInvalid(notFoundJSON(err, "announcement"))
	}
	s.changed()
	return s.apiAnnouncement(c, id, http.StatusOK)
}

func (s *Server) apiDeleteAnnouncement(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteAnnouncement(c.Request().Context(), id); err != nil {
		return notFoundJSON(err, "announcement")
	}
	s.changed()
	return nil
}

// Upgrades.

// apiUpgrade is an upgrade as the API shows it.
type apiUpgrade struct {
	ID        string             `json:"id" ref:"v"`
	ProductID string             `json:"product_id" ref:"p"`
	Version   string             `json:"version"`
	Status    string             `json:"status" enum:"scheduled,done,cancelled" doc:"done: scheduled, and its window has ended."`
	StartsAt  time.Time          `json:"starts_at"`
	EndsAt    time.Time          `json:"ends_at"`
	SummaryJA string             `json:"summary_ja"`
	SummaryEN string             `json:"summary_en"`
	NotesJA   string             `json:"notes_ja"`
	NotesEN   string             `json:"notes_en"`
	LeadTimes []string           `json:"lead_times" doc:"When primary contacts hear of it before it starts, longest first (\"7d\", \"1d\", \"3h\", \"30m\")."`
	Sequence  int                `json:"sequence" doc:"Its calendar revision: raised by each new window and the cancellation."`
	URL       string             `json:"url" doc:"Its page on the status page."`
	Notices   []apiUpgradeNotice `json:"notices" doc:"Its advance notices, longest lead first."`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// apiUpgradeNotice is one advance notice and what became of it.
type apiUpgradeNotice struct {
	Lead  string    `json:"lead" doc:"How long before the start it goes, such as \"7d\"."`
	DueAt time.Time `json:"due_at"`
	State string    `json:"state" enum:"pending,sent,missed,skipped" doc:"missed: the upgrade started before it could go; skipped: a later one went instead, or the upgrade was cancelled."`
	// NotificationID is the notice written; null before it is due, or
	// when it was written for nobody.
	NotificationID *string           `json:"notification_id" ref:"n" doc:"The notification written; null until it is, and when nobody was to be told."`
	DoneAt         *time.Time        `json:"done_at"`
	Deliveries     apiDeliveryCounts `json:"deliveries" doc:"Its deliveries by state once written; all zero before."`
}

// apiDeliveryCounts are a notification's deliveries by state.
type apiDeliveryCounts struct {
	Total     int `json:"total"`
	Sent      int `json:"sent"`
	Pending   int `json:"pending" doc:"Waiting to be sent, or being sent."`
	Held      int `json:"held" doc:"Waiting for an operator (no SMTP server was configured)."`
	Failed    int `json:"failed"`
	Bounced   int `json:"bounced"`
	Discarded int `json:"discarded"`
}

func toAPICounts(m map[string]int) apiDeliveryCounts {
	out := apiDeliveryCounts{Sent: m[data.DeliverySent], Pending: m[data.DeliveryPending] + m[data.DeliverySending], Held: m[data.DeliveryHeld],
		Failed: m[data.DeliveryFailed], Bounced: m[data.DeliveryBounced], Discarded: m[data.DeliveryDiscarded]}
	out.Total = out.Sent + out.Pending + out.Held + out.Failed + out.Bounced + out.Discarded
	return out
}

func (s *Server) toAPIUpgrade(u *data.Upgrade, nd noticeDeliveries) apiUpgrade {
	status := u.Status
	if u.Done(s.opts.Now()) {
		status = "done"
	}
	leads, _ := data.ParseLeads(u.LeadTimes)
	out := apiUpgrade{ID: apiRef("v", u.ID), ProductID: apiRef("p", u.ProductID), Version: u.Version, Status: status,
		StartsAt: u.StartsAt.UTC(), EndsAt: u.EndsAt.UTC(), SummaryJA: u.SummaryJA, SummaryEN: u.SummaryEN, NotesJA: u.NotesJA, NotesEN: u.NotesEN,
		LeadTimes: formatLeadList(leads), Sequence: u.Sequence, URL: s.opts.BaseURL.String() + "/upgrades/" + strconv.FormatInt(u.ID, 10),
		Notices: []apiUpgradeNotice{}, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
	for _, n := range u.Notices {
		an := apiUpgradeNotice{Lead: data.FormatLeads([]time.Duration{n.Lead()}), DueAt: n.DueAt.UTC(), State: n.State, DoneAt: utcp(n.DoneAt)}
		if n.NotificationID != nil {
			ref := apiRef("n", *n.NotificationID)
			an.NotificationID, an.Deliveries = &ref, toAPICounts(nd.Counts[*n.NotificationID])
		}
		out.Notices = append(out.Notices, an)
	}
	return out
}

func formatLeadList(leads []time.Duration) []string {
	out := make([]string, len(leads))
	for i, l := range leads {
		out[i] = data.FormatLeads([]time.Duration{l})
	}
	return out
}

var (
	upgradeStatusParam = apiParam{Name: "status", Doc: "scheduled (not yet ended), done (ended) or cancelled.",
		Schema: openapi3.NewStringSchema().WithEnum("scheduled", "done", "cancelled")}
	upgradeProductParam = apiParam{Name: "product", Doc: "Only this product's upgrades.", Schema: refSchema("p")}
)

type apiUpgradeInput struct {
	ProductID string    `json:"product_id" ref:"p"`
	Version   string    `json:"version" maxlen:"50"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	SummaryJA string    `json:"summary_ja"`
	SummaryEN string    `json:"summary_en,omitempty"`
	NotesJA   string    `json:"notes_ja,omitempty"`
	NotesEN   string    `json:"notes_en,omitempty"`
	LeadTimes []string  `json:"lead_times,omitempty" doc:"When primary contacts hear of it before it starts, each as \"7d\", \"1d\", \"3h\" or \"30m\" (up to 5, at most 90 days); [] for no advance notice. Omitted: 7d and 1d to create, kept on a change."`
}

// input reads the body; leads are those to use when lead_times is omitted.
func (in apiUpgradeInput) input(leads []time.Duration) (data.UpgradeInput, error) {
	product, err := bodyRef("p", "product_id", in.ProductID)
	if err != nil {
		return data.UpgradeInput{}, err
	}
	if in.LeadTimes != nil {
		leads = []time.Duration{}
		for _, l := range in.LeadTimes {
			got, ok := data.ParseLeads(l)
			if !ok || len(got) != 1 {
				return data.UpgradeInput{}, apiFields(map[string]string{"lead_times": `Each lead time is a whole number and d, h or m, such as "7d", at most 90 days.`})
			}
			leads = append(leads, got[0])
		}
	}
	return data.UpgradeInput{ProductID: product, Version: in.Version, StartsAt: in.StartsAt, EndsAt: in.EndsAt,
		SummaryJA: in.SummaryJA, SummaryEN: in.SummaryEN, NotesJA: in.NotesJA, NotesEN: in.NotesEN, LeadTimes: leads}, nil
}

func (s *Server) apiListUpgrades(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	q := data.UpgradeQuery{Limit: per, Offset: (page - 1) * per, Status: c.QueryParam("status")}
	switch q.Status {
	case "", data.UpgradeScheduled, data.UpgradeCancelled, "done":
	default:
		return apiFail(http.StatusBadRequest, "bad_request", `"status" must be scheduled, done or cancelled.`)
	}
	if q.ProductID, err = apiProductFilter(c); err != nil {
		return err
	}
	if q.Since, err = apiSince(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	us, total, err := s.store.FindUpgrades(ctx, q)
	if err != nil {
		return err
	}
	nd, err := s.noticeDeliveries(ctx, us...)
	if err != nil {
		return err
	}
	out := make([]apiUpgrade, len(us))
	for i := range us {
		out[i] = s.toAPIUpgrade(&us[i], nd)
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

func (s *Server) apiUpgrade(c echo.Context, id int64, code int) error {
	ctx := c.Request().Context()
	u, err := s.store.Upgrade(ctx, id)
	if err != nil {
		return notFoundJSON(err, "upgrade")
	}
	nd, err := s.noticeDeliveries(ctx, *u)
	if err != nil {
		return err
	}
	return c.JSON(code, s.toAPIUpgrade(u, nd))
}

func (s *Server) apiCreateUpgrade(c echo.Context) error {
	var in apiUpgradeInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ui, err := in.input(data.DefaultLeadTimes)
	if err != nil {
		return err
	}
	u, err := s.store.CreateUpgrade(c.Request().Context(), ui)
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.opts.Wake()
	return s.apiUpgrade(c, u.ID, http.StatusCreated)
}

// apiUpdateUpgrade changes an upgrade; a new window tells those already
// told (as the console does).
func (s *Server) apiUpdateUpgrade(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiUpgradeInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	old, err := s.store.Upgrade(ctx, id)
	if err != nil {
		return notFoundJSON(err, "upgrade")
	}
	leads, ok := data.ParseLeads(old.LeadTimes)
	if !ok {
		leads = data.DefaultLeadTimes
	}
	ui, err := in.input(leads)
	if err != nil {
		return err
	}
	n := data.Notice{Send: true, Hold: !s.opts.MailEnabled}
	if err := s.store.UpdateUpgrade(ctx, id, ui, n); err != nil {
		return s.apiInvalid(notFoundJSON(err, "upgrade"))
	}
	s.changed()
	s.afterNotice(n)
	return s.apiUpgrade(c, id, http.StatusOK)
}

func (s *Server) apiCancelUpgrade(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	n := data.Notice{Send: true, Hold: !s.opts.MailEnabled}
	if err := s.store.CancelUpgrade(c.Request().Context(), id, n); err != nil {
		return s.apiInvalid(notFoundJSON(err, "upgrade"))
	}
	s.changed()
	s.afterNotice(n)
	return nil
}

// Notifications and deliveries.

// apiNotification is a notice written, frozen as it was, and where its
// deliveries are.
type apiNotification struct {
	ID            string            `json:"id" ref:"n"`
	Kind          string            `json:"kind" doc:"What it is about, such as incident_opened, maintenance_scheduled, upgrade_notice (listNotifications' kind parameter lists them all)."`
	Subject       string            `json:"subject" doc:"What its recipients read as its subject, in Japanese."`
	TitleJA       string            `json:"title_ja"`
	TitleEN       string            `json:"title_en"`
	BodyJA        string            `json:"body_ja"`
	BodyEN        string            `json:"body_en"`
	Status        string            `json:"status" doc:"The status it reports (an incident's, a window's…); empty for some kinds."`
	IncidentID    *string           `json:"incident_id" ref:"i"`
	MaintenanceID *string           `json:"maintenance_id" ref:"m"`
	UpgradeID     *string           `json:"upgrade_id" ref:"v"`
	CreatedAt     time.Time         `json:"created_at"`
	Deliveries    apiDeliveryCounts `json:"deliveries"`
}

func optRef(kind string, id *int64) *string {
	if id == nil {
		return nil
	}
	r := apiRef(kind, *id)
	return &r
}

func (s *Server) toAPINotification(n *data.Notification, counts map[string]int) apiNotification {
	content, _ := n.Decode()
	return apiNotification{ID: apiRef("n", n.ID), Kind: n.Kind, Subject: s.subject(*n, "ja"), TitleJA: content.TitleJA, TitleEN: content.TitleEN,
		BodyJA: content.BodyJA, BodyEN: content.BodyEN, Status: content.Status, IncidentID: optRef("i", n.IncidentID),
		MaintenanceID: optRef("m", n.MaintenanceID), UpgradeID: optRef("v", n.UpgradeID), CreatedAt: n.CreatedAt.UTC(), Deliveries: toAPICounts(counts)}
}

// apiDelivery is one recipient's copy of a notification.
type apiDelivery struct {
	ID             string     `json:"id" ref:"d"`
	NotificationID string     `json:"notification_id" ref:"n"`
	Address        string     `json:"address" doc:"The email address; for a webhook, Slack or Teams channel, its id (ch7)."`
	Name           string     `json:"name"`
	Language       string     `json:"language" doc:"ja or en."`
	Role           string     `json:"role" doc:"Why they receive it: primary, additional, subscriber, a channel's kind…"`
	ContactID      *string    `json:"contact_id" ref:"ct"`
	SubscriberID   *string    `json:"subscriber_id" ref:"s"`
	ChannelID      *string    `json:"channel_id" ref:"ch"`
	State          string     `json:"state" enum:"held,pending,sending,sent,failed,bounced,discarded"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	LastError      string     `json:"last_error"`
	SentAt         *time.Time `json:"sent_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func toAPIDelivery(d *data.Delivery) apiDelivery {
	addr := d.Email
	if d.ChannelID != nil {
		addr = apiRef("ch", *d.ChannelID) // stored as channel:<id>
	}
	return apiDelivery{ID: apiRef("d", d.ID), NotificationID: apiRef("n", d.NotificationID), Address: addr, Name: d.Name, Language: d.Lang,
		Role: d.Role, ContactID: optRef("ct", d.ContactID), SubscriberID: optRef("s", d.SubscriberID), ChannelID: optRef("ch", d.ChannelID),
		State: d.State, Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt.UTC(), LastError: d.LastError, SentAt: utcp(d.SentAt),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

var (
	notificationStateParam = apiParam{Name: "state", Doc: "Only those with a delivery in this state: held, pending (waiting or being sent), sent, " +
		"failed (failed or bounced, as the console's filter), bounced or discarded.",
		Schema: openapi3.NewStringSchema().WithEnum("held", "pending", "sent", "failed", "bounced", "discarded")}
	notificationKindParam = apiParam{Name: "kind", Doc: "Only this kind.", Schema: openapi3.NewStringSchema().WithEnum(anys(data.NotificationKinds)...)}
	deliveryStateParam    = apiParam{Name: "state", Doc: "Only deliveries in this state.",
		Schema: openapi3.NewStringSchema().WithEnum("held", "pending", "sending", "sent", "failed", "bounced", "discarded")}
	bouncedDeliveryParam = apiParam{Name: "delivery", Doc: "Only this bounced delivery of the notification.", Schema: refSchema("d")}
)

func (s *Server) apiListNotifications(c echo.Context) error {
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	q := data.NotificationQuery{Limit: per, Offset: (page - 1) * per}
	switch st := c.QueryParam("state"); st {
	case "":
	case data.DeliveryPending:
		q.States = []string{data.DeliveryPending, data.DeliverySending}
	case data.DeliveryFailed:
		q.States = []string{data.DeliveryFailed, data.DeliveryBounced}
	case data.DeliveryHeld, data.DeliverySent, data.DeliveryBounced, data.DeliveryDiscarded:
		q.States = []string{st}
	default:
		return apiFail(http.StatusBadRequest, "bad_request", `"state" must be held, pending, sent, failed, bounced or discarded.`)
	}
	if k := c.QueryParam("kind"); k != "" {
		if !slices.Contains(data.NotificationKinds, k) {
			return apiFail(http.StatusBadRequest, "bad_request", `"kind" must be one of `+strings.Join(data.NotificationKinds, ", ")+".")
		}
		q.Kind = k
	}
	if q.Since, err = apiSince(c); err != nil {
		return err
	}
	ns, counts, total, err := s.store.FindNotifications(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := make([]apiNotification, len(ns))
	for i := range ns {
		out[i] = s.toAPINotification(&ns[i], counts[ns[i].ID])
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

func (s *Server) apiNotification(c echo.Context, id int64) error {
	ctx := c.Request().Context()
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return notFoundJSON(err, "notification")
	}
	counts, err := s.store.DeliveryCounts(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toAPINotification(n, counts))
}

func (s *Server) apiGetNotification(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	return s.apiNotification(c, id)
}

func (s *Server) apiListDeliveries(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	page, per, err := apiPaging(c)
	if err != nil {
		return err
	}
	state := c.QueryParam("state")
	if state != "" && !contains(data.DeliveryStates, state) {
		return apiFail(http.StatusBadRequest, "bad_request", `"state" must be held, pending, sending, sent, failed, bounced or discarded.`)
	}
	ctx := c.Request().Context()
	if _, err := s.store.Notification(ctx, id); err != nil {
		return notFoundJSON(err, "notification")
	}
	ds, total, err := s.store.Deliveries(ctx, id, state, per, (page-1)*per)
	if err != nil {
		return err
	}
	out := make([]apiDelivery, len(ds))
	for i := range ds {
		out[i] = toAPIDelivery(&ds[i])
	}
	return c.JSON(http.StatusOK, newAPIPage(out, page, per, total))
}

// apiRetryNotification puts the failed deliveries back in the queue (the
// console does not ask first) and answers the notification.
func (s *Server) apiRetryNotification(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Notification(ctx, id); err != nil {
		return notFoundJSON(err, "notification")
	}
	if _, err := s.store.RetryFailed(ctx, id); err != nil {
		return err
	}
	s.opts.Wake()
	return s.apiNotification(c, id)
}

// ofNotification describes a call on a notification that exists: the
// console's descriptions of some count its deliveries without looking.
func (s *Server) ofNotification(describe describer) describer {
	return func(c echo.Context) (*confirmPage, error) {
		id, err := idParam(c, "id")
		if err != nil {
			return nil, err
		}
		if _, err := s.store.Notification(c.Request().Context(), id); err != nil {
			return nil, err
		}
		return describe(c)
	}
}

// needsMail refuses, before anything else (a dry run too), a call that
// sends when no SMTP server is configured, as the console does.
func (s *Server) needsMail(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.opts.MailEnabled {
			return apiFail(http.StatusUnprocessableEntity, "no_smtp", "No SMTP server is configured (OSHIRASE_SMTP_URL): held deliveries can only be discarded.")
		}
		return next(c)
	}
}

func (s *Server) apiReleaseNotification(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.ReleaseHeld(c.Request().Context(), id); err != nil {
		return err
	}
	s.opts.Wake()
	return nil
}

func (s *Server) apiDiscardNotification(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.DiscardHeld(c.Request().Context(), id); err != nil {
		return err
	}
	s.changed() // the JSON's deliver_notifications no longer holds for its update
	return nil
}

// apiRetryBounced checks the notification and the delivery asked for
// before describing or doing anything.
func (s *Server) apiRetryBounced(c echo.Context) error {
	var one int64
	if v := c.QueryParam("delivery"); v != "" {
		n, ok := parseRef("d", v)
		if !ok {
			return apiFail(http.StatusBadRequest, "bad_request", `"delivery": `+refHint("d"))
		}
		one = n
	}
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Notification(ctx, id); err != nil {
		return notFoundJSON(err, "notification")
	}
	if one != 0 {
		d, _, err := s.store.Delivery(ctx, one)
		if err != nil || d.NotificationID != id {
			return apiFail(http.StatusNotFound, "not_found", "No such delivery of this notification.")
		}
	}
	return s.destructive(s.describeRetryBounced, func(c echo.Context) error {
		if _, err := s.store.RetryBounced(c.Request().Context(), id, one); err != nil {
			return err
		}
		s.opts.Wake()
		return nil
	})(c)
}

func (s *Server) apiDiscardAllHeld(c echo.Context) error {
	if _, err := s.store.DiscardAllHeld(c.Request().Context()); err != nil {
		return err
	}
	s.changed()
	return nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
