package server

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

type announcementsPage struct {
	Announcements []data.Announcement
	Page, Last    int
}

func (s *Server) listAnnouncements(c echo.Context) error {
	n := pageParam(c)
	as, total, err := s.store.Announcements(c.Request().Context(), adminPageSize, (n-1)*adminPageSize)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "announcements", &view{Title: s.t(c, "announcements.title"),
		Data: &announcementsPage{Announcements: as, Page: n, Last: lastPage(total)}})
}

type announcementFormPage struct {
	Announcement *data.Announcement
	Products     []data.Product
}

func (s *Server) announcementForm(c echo.Context, code int, f *form, a *data.Announcement) error {
	products, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	title := s.t(c, "announcements.new")
	if a != nil {
		title = s.t(c, "announcements.edit")
	}
	return s.render(c, code, "announcement_form", &view{Title: title, Form: f, Data: &announcementFormPage{Announcement: a, Products: products}})
}

func (s *Server) announcementInput(f *form) data.AnnouncementInput {
	in := data.AnnouncementInput{TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"), BodyJA: f.Get("body_ja"), BodyEN: f.Get("body_en"),
		PublishAt: f.timeField("publish_at", s.opts.Location, false)}
	if v := f.Get("product_id"); v != "" {
		id := f.int64Field("product_id")
		in.ProductID = &id
	}
	return in
}

func (s *Server) newAnnouncement(c echo.Context) error {
	return s.announcementForm(c, http.StatusOK, &form{}, nil)
}

func (s *Server) createAnnouncement(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := s.announcementInput(f)
	if !f.Invalid() {
		_, err = s.store.CreateAnnouncement(c.Request().Context(), in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.announcementForm(c, http.StatusBadRequest, f, nil)
	}
	if err != nil {
		return err
	}
	return s.done(c, "flash.saved", "/admin/announcements")
}

func (s *Server) editAnnouncement(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	a, err := s.store.Announcement(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"title_ja": {a.TitleJA}, "title_en": {a.TitleEN}, "body_ja": {a.BodyJA}, "body_en": {a.BodyEN},
		"publish_at": {localInput(a.PublishAt, s.opts.Location)}}}
	if a.ProductID != nil {
		f.Values.Set("product_id", strconv.FormatInt(*a.ProductID, 10))
	}
	return s.announcementForm(c, http.StatusOK, f, a)
}

func (s *Server) updateAnnouncement(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	a, err := s.store.Announcement(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	in := s.announcementInput(f)
	if !f.Invalid() {
		err = s.store.UpdateAnnouncement(c.Request().Context(), id, in)
	}
	if f.Invalid() || f.absorb(err) {
		return s.announcementForm(c, http.StatusBadRequest, f, a)
	}
	if err != nil {
		return err
	}
	return s.done(c, "flash.saved", "/admin/announcements")
}

func (s *Server) deleteAnnouncement(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteAnnouncement(c.Request().Context(), id); err != nil {
		return err
	}
	return s.done(c, "flash.deleted", "/admin/announcements")
}

type jobStatus struct {
	Name     string
	Next     time.Time
	Runs     []data.JobRun
	Failures int
}

type jobsPage struct {
	Jobs []jobStatus
}

// showJobs lists every scheduled job with its next run and latest runs.
func (s *Server) showJobs(c echo.Context) error {
	if s.opts.NextJobRuns == nil {
		return s.render(c, http.StatusOK, "jobs", &view{Title: s.t(c, "jobs.title"), Data: &jobsPage{}})
	}
	next := s.opts.NextJobRuns()
	names := make([]string, 0, len(next))
	for n := range next {
		names = append(names, n)
	}
	sort.Strings(names)
	v := &jobsPage{}
	for _, name := range names {
		runs, err := s.store.JobRuns(c.Request().Context(), name, 10)
		if err != nil {
			return err
		}
		st := jobStatus{Name: name, Next: next[name], Runs: runs}
		for _, r := range runs {
			if r.Outcome == data.RunFailed {
				st.Failures++
			}
		}
		v.Jobs = append(v.Jobs, st)
	}
	return s.render(c, http.StatusOK, "jobs", &view{Title: s.t(c, "jobs.title"), Data: v})
}
