package server

import (
	"context"
	"html/template"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
)

// publishPreview is what a form would publish, shown beside it without
// saving anything: the message as customers will read it on each
// language's page, and the email exactly as one contact of each language
// would receive it.
type publishPreview struct {
	Messages []previewText
	Emails   []previewView
	// Missing lists the languages no recipient reads.
	Missing []string
	// Silent: the step emails nobody.
	Silent bool
	// Fallbacks are the fields ("title", "body") written only in
	// Japanese: the English page shows them in Japanese, as the English
	// email does. FallbackSent: someone reading English is sent it.
	Fallbacks    []string
	FallbackSent bool
}

// previewText is one language's page: its title and message in the
// language each is shown in, which for English may be Japanese.
type previewText struct {
	Lang                string
	Title               string
	TitleLang, BodyLang string
	HTML                template.HTML
}

// preview runs change in a dry run and composes one email per language
// from what it would have queued.
func (s *Server) preview(c echo.Context, titleJA, titleEN, bodyJA, bodyEN string, change func(ctx context.Context, st *data.Store) error) (*publishPreview, error) {
	p := &publishPreview{}
	// Each page picks each field as the page templates do (pickLang): the
	// English page shows the Japanese text wherever no English was written.
	shown := func(lang, ja, en string) (string, string) {
		if lang == "en" && strings.TrimSpace(en) == "" {
			return ja, "ja"
		}
		return pickLang(lang, ja, en), lang
	}
	for _, lang := range locale.Languages {
		t := previewText{Lang: lang}
		t.Title, t.TitleLang = shown(lang, titleJA, titleEN)
		var body string
		body, t.BodyLang = shown(lang, bodyJA, bodyEN)
		t.HTML = s.md.HTML(body)
		p.Messages = append(p.Messages, t)
	}
	if strings.TrimSpace(titleEN) == "" && strings.TrimSpace(titleJA) != "" {
		p.Fallbacks = append(p.Fallbacks, "title")
	}
	if strings.TrimSpace(bodyEN) == "" && strings.TrimSpace(bodyJA) != "" {
		p.Fallbacks = append(p.Fallbacks, "body")
	}
	np, err := s.store.DryRun(c.Request().Context(), change)
	if err != nil {
		return nil, err
	}
	if np == nil {
		p.Silent = true
		return p, nil
	}
	for _, d := range np.Deliveries {
		// A channel reading English posts the same text as the email.
		if d.Lang == "en" {
			p.FallbackSent = len(p.Fallbacks) > 0
			break
		}
	}
	for _, lang := range locale.Languages {
		var d *data.Delivery
		for i := range np.Deliveries {
			if np.Deliveries[i].Lang == lang && np.Deliveries[i].ChannelID == nil {
				d = &np.Deliveries[i]
				break
			}
		}
		if d == nil || s.opts.Composer == nil {
			p.Missing = append(p.Missing, lang)
			continue
		}
		msg, err := s.opts.Composer.Compose(*d, *np.Notification)
		if err != nil {
			return nil, err
		}
		p.Emails = append(p.Emails, previewView{Delivery: d, Subject: msg.Subject, Text: msg.Text, Headers: headerLines(msg.Bytes)})
	}
	return p, nil
}

// previewInto fills *into with what change would publish, unless the form
// already has errors, and says with which status to show the form: 400
// when the change itself refuses the input (its errors are then on f).
func (s *Server) previewInto(c echo.Context, f *form, into **publishPreview, titleJA, titleEN, bodyJA, bodyEN string,
	change func(ctx context.Context, st *data.Store) error) (int, error) {
	if f.Invalid() {
		return http.StatusOK, nil
	}
	p, err := s.preview(c, titleJA, titleEN, bodyJA, bodyEN, change)
	if f.absorb(err) {
		return http.StatusBadRequest, nil
	}
	if err != nil {
		return 0, err
	}
	*into = p
	return http.StatusOK, nil
}
