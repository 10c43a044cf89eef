package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// form is a submitted (or pre-filled) form: the values as typed, so a page
// shown again with errors keeps them, and the error of each field.
type form struct {
	Values url.Values
	Errors map[string]string
}

// Get returns a field's value as typed.
func (f *form) Get(name string) string { return f.Values.Get(name) }

// Has reports whether a multi-valued field (checkboxes) holds v.
func (f *form) Has(name, v string) bool {
	for _, x := range f.Values[name] {
		if x == v {
			return true
		}
	}
	return false
}

// Is reports whether a single-valued field (a select) equals v.
func (f *form) Is(name, v string) bool { return f.Values.Get(name) == v }

// Err returns the error message key of a field, empty when it is fine.
func (f *form) Err(name string) string {
	if k, ok := f.Errors[name]; ok {
		return "field." + k
	}
	return ""
}

func (f *form) errorText(p *page, name string) string {
	if k := f.Err(name); k != "" {
		return p.T(k)
	}
	return ""
}

// Invalid reports whether any field has an error.
func (f *form) Invalid() bool { return len(f.Errors) > 0 }

func (f *form) fail(field, key string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = key
	}
}

// absorb takes the field errors out of a validation error; it reports false
// for any other error, which the caller returns as it is.
func (f *form) absorb(err error) bool {
	var v *data.ValidationError
	if !errors.As(err, &v) {
		return false
	}
	for k, key := range v.Fields {
		f.fail(k, key)
	}
	return true
}

// readForm parses the posted form. A body that is not a form at all is a
// bad request; broken UTF-8 inside values is left for validation to name.
func readForm(c echo.Context) (*form, error) {
	values, err := c.FormParams()
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
	}
	return &form{Values: values}, nil
}

// int64Field parses an id-like field; a bad one is a field error.
func (f *form) int64Field(name string) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(f.Get(name)), 10, 64)
	if err != nil || v <= 0 {
		f.fail(name, "invalid_choice")
		return 0
	}
	return v
}

// idsField reads ticked checkboxes holding ids; a value that is not an id
// is a field error.
func (f *form) idsField(name string) []int64 {
	var ids []int64
	for _, v := range f.Values[name] {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id <= 0 {
			f.fail(name, "invalid_choice")
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// timeField parses a datetime-local value ("2026-11-26T16:30") in the
// configured zone. Empty gives the zero time and, if required, an error.
func (f *form) timeField(name string, loc *time.Location, required bool) time.Time {
	v := strings.TrimSpace(f.Get(name))
	if v == "" {
		if required {
			f.fail(name, "required")
		}
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			if t.Year() < 2000 || t.Year() > 2100 {
				break
			}
			return t.UTC()
		}
	}
	f.fail(name, "bad_time")
	return time.Time{}
}

// localInput formats a time for a datetime-local input in the zone.
func localInput(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02T15:04")
}

// idParam parses a route id; anything but a positive integer is a 404, as
// for an id that does not exist.
func idParam(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.ErrNotFound
	}
	return id, nil
}

// setFlash leaves a one-line confirmation for the next page (post, redirect,
// get). Only message ids of the flash.* family are ever read back.
func (s *Server) setFlash(c echo.Context, id string) {
	c.SetCookie(&http.Cookie{Name: "flash", Value: id, Path: "/admin", MaxAge: 60, HttpOnly: true,
		Secure: s.secure(), SameSite: http.SameSiteLaxMode})
}

// setFlashSending is the flash after publishing with email: the usual
// message, what the notice does (see sentText), and a link to watch it.
func (s *Server) setFlashSending(c echo.Context, id string, notificationID int64, n sent) {
	s.setFlash(c, fmt.Sprintf("%s:%d:%d:%d:%d", id, notificationID, n.Emails, n.Held, n.Channels))
}

// takeFlash reads and clears the flash: its text and, after publishing
// with email, the notification to link to.
func (s *Server) takeFlash(c echo.Context) (string, string) {
	ck, err := c.Cookie("flash")
	if err != nil {
		return "", ""
	}
	c.SetCookie(&http.Cookie{Name: "flash", Path: "/admin", MaxAge: -1, HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	parts := strings.Split(ck.Value, ":")
	if !strings.HasPrefix(parts[0], "flash.") || !s.catalog.Has(langOf(c), parts[0]) {
		return "", ""
	}
	text := s.t(c, parts[0])
	if len(parts) != 5 {
		return text, ""
	}
	id, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || id <= 0 {
		return text, ""
	}
	var counts [3]int // emails, held, channels
	for i := range counts {
		n, err := strconv.Atoi(parts[2+i])
		if err != nil || n < 0 {
			return text, ""
		}
		counts[i] = n
	}
	return text + " " + s.sentText(langOf(c), sent{Emails: counts[0], Held: counts[1], Channels: counts[2]}),
		"/admin/notifications/" + strconv.FormatInt(id, 10)
}

// done finishes a successful POST: public pages are stale, the next page
// says what happened, and the browser goes to target with a GET.
func (s *Server) done(c echo.Context, flash, target string) error {
	s.changed()
	s.setFlash(c, flash)
	return c.Redirect(http.StatusSeeOther, target)
}

func urlQuery(s string) string { return url.QueryEscape(s) }
