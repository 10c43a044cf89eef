package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type upgradesPage struct {
	Upgrades   []data.Upgrade
	Page, Last int
	noticeDeliveries
}

func (s *Server) listUpgrades(c echo.Context) error {
	n := pageParam(c)
	us, total, err := s.store.Upgrades(c.Request().Context(), adminPageSize, (n-1)*adminPageSize)
	if err != nil {
		return err
	}
	nd, err := s.noticeDeliveries(c.Request().Context(), us...)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "upgrades", &view{Title: s.t(c, "upgrades.title"),
		Data: &upgradesPage{Upgrades: us, Page: n, Last: lastPage(total), noticeDeliveries: nd}})
}

// noticeDeliveries holds the delivery counts of upgrades' advance notices:
// a notice marked sent has only been written, and its emails may be held,
// waiting or failed.
type noticeDeliveries struct {
	Counts map[int64]map[string]int
}

func (s *Server) noticeDeliveries(ctx context.Context, us ...data.Upgrade) (noticeDeliveries, error) {
	var ids []int64
	for _, u := range us {
		for _, n := range u.Notices {
			if n.NotificationID != nil {
				ids = append(ids, *n.NotificationID)
			}
		}
	}
	counts, err := s.store.DeliveryCountsOf(ctx, ids)
	return noticeDeliveries{Counts: counts}, err
}

// noticeTold is what became of an advance notice, as the console says it.
type noticeTold struct {
	// Class is the notice-state class; Key the words when nothing was
	// written (pending, missed, skipped, no recipients).
	Class, Key string
	// Parts are the deliveries by state, in the notifications pages' words
	// (delivery.*), only the states some are in; Total counts them all.
	Parts []toldPart
	Total int
	// NotificationID links to the deliveries; 0 when none were written.
	NotificationID int64
}

type toldPart struct {
	Key string
	N   int
}

// Told says what became of n: before it is due, its own state; once
// written, where its deliveries are.
func (v noticeDeliveries) Told(n data.UpgradeNotice) noticeTold {
	t := noticeTold{Class: n.State, Key: "notice." + n.State}
	if n.State != data.NoticeSent {
		return t
	}
	if n.NotificationID == nil {
		// Written for nobody: no active contract used the product.
		t.Class, t.Key = data.NoticeSkipped, "notice.no_recipients"
		return t
	}
	t.NotificationID = *n.NotificationID
	counts := v.Counts[t.NotificationID]
	for _, st := range data.DeliveryStates {
		k := counts[st]
		switch st {
		case data.DeliverySending:
			continue // counted as waiting, as on the notifications pages
		case data.DeliveryPending:
			k += counts[data.DeliverySending]
		}
		if k > 0 {
			t.Parts = append(t.Parts, toldPart{Key: "delivery." + st, N: k})
			t.Total += k
		}
	}
	switch {
	case counts[data.DeliveryFailed]+counts[data.DeliveryBounced] > 0:
		t.Class = "failed c-failed"
	case t.Total > 0 && counts[data.DeliverySent] == t.Total:
		t.Class = data.NoticeSent
	case t.Total > 0 && counts[data.DeliveryDiscarded] == t.Total:
		t.Class = data.NoticeSkipped
	case counts[data.DeliveryHeld] > 0:
		t.Class = data.DeliveryHeld
	default:
		t.Class = data.DeliveryPending
	}
	return t
}

type upgradeFormPage struct {
	Upgrade  *data.Upgrade
	Products []data.Product
	Started  bool
	noticeDeliveries
}

func (s *Server) upgradeFormPage(c echo.Context, u *data.Upgrade) (*upgradeFormPage, error) {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return nil, err
	}
	v := &upgradeFormPage{Upgrade: u, Products: products}
	if u != nil {
		v.Started = u.Status == data.UpgradeCancelled || !u.StartsAt.After(s.opts.Now())
		if v.noticeDeliveries, err = s.noticeDeliveries(c.Request().Context(), *u); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func upgradeForm(u *data.Upgrade) *form {
	return &form{Values: map[string][]string{"product_id": {strconv.FormatInt(u.ProductID, 10)}, "version": {u.Version},
		"summary_ja": {u.SummaryJA}, "summary_en": {u.SummaryEN}, "notes_ja": {u.NotesJA}, "notes_en": {u.NotesEN},
		"lead_times": {u.LeadTimes}}}
}

func (s *Server) upgradeInput(f *form) data.UpgradeInput {
	in := data.UpgradeInput{ProductID: f.int64Field("product_id"), Version: f.Get("version"),
		StartsAt: f.timeField("starts_at", s.opts.Location, true), EndsAt: f.timeField("ends_at", s.opts.Location, true),
		SummaryJA: f.Get("summary_ja"), SummaryEN: f.Get("summary_en"), NotesJA: f.Get("notes_ja"), NotesEN: f.Get("notes_en")}
	leads, ok := data.ParseLeads(f.Get("lead_times"))
	if !ok {
		f.fail("lead_times", "bad_leads")
	}
	in.LeadTimes = leads
	return in
}

func (s *Server) newUpgrade(c echo.Context) error {
	v, err := s.upgradeFormPage(c, nil)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"lead_times": {data.FormatLeads(data.DefaultLeadTimes)}}}
	return s.render(c, http.StatusOK, "upgrade_form", &view{Title: s.t(c, "upgrades.new"), Form: f, Data: v})
}

func (s *Server) createUpgrade(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := s.upgradeInput(f)
	var u *data.Upgrade
	if !f.Invalid() {
		u, err = s.store.CreateUpgrade(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		v, verr := s.upgradeFormPage(c, nil)
		if verr != nil {
			return verr
		}
		return s.render(c, http.StatusBadRequest, "upgrade_form", &view{Title: s.t(c, "upgrades.new"), Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	s.opts.Wake()
	return s.done(c, "flash.upgrade_scheduled", "/admin/upgrades/"+strconv.FormatInt(u.ID, 10))
}

func (s *Server) loadUpgrade(c echo.Context) (*data.Upgrade, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return s.store.Upgrade(c.Request().Context(), id)
}

// showUpgrade is the upgrade's console page: its advance notices and their
// state (a missed one is flagged), and the form to edit or reschedule it.
func (s *Server) showUpgrade(c echo.Context) error {
	u, err := s.loadUpgrade(c)
	if err != nil {
		return err
	}
	v, err := s.upgradeFormPage(c, u)
	if err != nil {
		return err
	}
	f := upgradeForm(u)
	f.Values.Set("starts_at", localInput(u.StartsAt, s.opts.Location))
	f.Values.Set("ends_at", localInput(u.EndsAt, s.opts.Location))
	return s.render(c, http.StatusOK, "upgrade_form", &view{Title: s.t(c, "upgrades.edit"), Form: f, Data: v})
}

func (s *Server) updateUpgrade(c echo.Context) error {
	u, err := s.loadUpgrade(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := s.upgradeInput(f)
	notice := data.Notice{Send: true, Hold: !s.opts.MailEnabled}
	if !f.Invalid() {
		err = s.store.UpdateUpgrade(c.Request().Context(), u.ID, in, notice)
	}
	if f.Invalid() || f.absorb(err) {
		v, verr := s.upgradeFormPage(c, u)
		if verr != nil {
			return verr
		}
		return s.render(c, http.StatusBadRequest, "upgrade_form", &view{Title: s.t(c, "upgrades.edit"), Form: f, Data: v})
	}
	if err != nil {
		return err
	}
	s.afterNotice(notice)
	return s.done(c, "flash.saved", "/admin/upgrades/"+strconv.FormatInt(u.ID, 10))
}

func (s *Server) cancelUpgrade(c echo.Context) error {
	u, err := s.loadUpgrade(c)
	if err != nil {
		return err
	}
	notice := data.Notice{Send: true, Hold: !s.opts.MailEnabled}
	if err := s.store.CancelUpgrade(c.Request().Context(), u.ID, notice); err != nil {
		return s.refusal(c, err)
	}
	s.afterNotice(notice)
	return s.done(c, "flash.upgrade_cancelled", "/admin/upgrades/"+strconv.FormatInt(u.ID, 10))
}
