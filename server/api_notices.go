package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// Announcements, upgrades and notifications through the operator API.

func (s *Server) noticeOps() []apiOp {
	return []apiOp{}
}

type apiAnnouncementIn struct {
	TitleJA   string     `json:"title_ja"`
	TitleEN   string     `json:"title_en"`
	BodyJA    string     `json:"body_ja"`
	BodyEN    string     `json:"body_en"`
	ProductID *int64     `json:"product_id"`
	PublishAt *time.Time `json:"publish_at"`
}

func (in apiAnnouncementIn) input() data.AnnouncementInput {
	out := data.AnnouncementInput{TitleJA: in.TitleJA, TitleEN: in.TitleEN, BodyJA: in.BodyJA, BodyEN: in.BodyEN, ProductID: in.ProductID}
	if in.PublishAt != nil {
		out.PublishAt = *in.PublishAt
	}
	return out
}

func (s *Server) apiCreateAnnouncement(c echo.Context) error {
	var in apiAnnouncementIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a, err := s.store.CreateAnnouncement(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, map[string]any{"announcement": map[string]any{"id": a.ID, "title_ja": a.TitleJA, "publish_at": a.PublishAt.UTC()}})
}

func (s *Server) apiUpdateAnnouncement(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiAnnouncementIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.UpdateAnnouncement(c.Request().Context(), id, in.input()); err != nil {
		return s.apiInvalid(notFoundJSON(err, "announcement"))
	}
	s.changed()
	return c.NoContent(http.StatusNoContent)
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
	return c.NoContent(http.StatusNoContent)
}

type apiUpgradeIn struct {
	ProductID int64     `json:"product_id"`
	Version   string    `json:"version"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	SummaryJA string    `json:"summary_ja"`
	SummaryEN string    `json:"summary_en"`
	NotesJA   string    `json:"notes_ja"`
	NotesEN   string    `json:"notes_en"`
}

func (s *Server) apiListUpgrades(c echo.Context) error {
	us, _, err := s.store.Upgrades(c.Request().Context(), 100, 0)
	if err != nil {
		return err
	}
	type up struct {
		ID        int64     `json:"id"`
		ProductID int64     `json:"product_id"`
		Version   string    `json:"version"`
		Status    string    `json:"status"`
		StartsAt  time.Time `json:"starts_at"`
		EndsAt    time.Time `json:"ends_at"`
	}
	out := make([]up, len(us))
	for i, u := range us {
		out[i] = up{ID: u.ID, ProductID: u.ProductID, Version: u.Version, Status: u.Status, StartsAt: u.StartsAt.UTC(), EndsAt: u.EndsAt.UTC()}
	}
	return c.JSON(http.StatusOK, map[string]any{"upgrades": out})
}

func (s *Server) apiCreateUpgrade(c echo.Context) error {
	var in apiUpgradeIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	u, err := s.store.CreateUpgrade(c.Request().Context(), data.UpgradeInput{ProductID: in.ProductID, Version: in.Version, StartsAt: in.StartsAt,
		EndsAt: in.EndsAt, SummaryJA: in.SummaryJA, SummaryEN: in.SummaryEN, NotesJA: in.NotesJA, NotesEN: in.NotesEN, LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, map[string]any{"upgrade": map[string]any{"id": u.ID, "version": u.Version, "status": u.Status}})
}

func (s *Server) apiCancelUpgrade(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Notify bool `json:"notify"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	if err := s.store.CancelUpgrade(c.Request().Context(), id, n); err != nil {
		return s.apiInvalid(notFoundJSON(err, "upgrade"))
	}
	s.changed()
	s.afterNotice(n)
	return c.NoContent(http.StatusNoContent)
}

// apiUpdateUpgrade changes an upgrade; a new window tells those already
// told (as the console does).
func (s *Server) apiUpdateUpgrade(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiUpgradeIn
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
	n := data.Notice{Send: true, Hold: !s.opts.MailEnabled}
	if err := s.store.UpdateUpgrade(ctx, id, data.UpgradeInput{ProductID: in.ProductID, Version: in.Version, StartsAt: in.StartsAt,
		EndsAt: in.EndsAt, SummaryJA: in.SummaryJA, SummaryEN: in.SummaryEN, NotesJA: in.NotesJA, NotesEN: in.NotesEN, LeadTimes: leads}, n); err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	s.afterNotice(n)
	return c.NoContent(http.StatusNoContent)
}
