package server

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// Brand is the page's branding, for the templates.
func (p *page) Brand() data.Branding { return p.s.store.CachedBranding(context.Background()) }

// SiteName is the branded site title in the page's language, else the
// default.
func (p *page) SiteName() string {
	b := p.Brand()
	if t := b.Title(p.Lang); t != "" {
		return t
	}
	return p.T("site.name")
}

// LogoSrc is where the page's logo is: an uploaded one is served here, an
// https URL is used as it is; empty without a logo.
func (p *page) LogoSrc() string {
	b := p.Brand()
	switch {
	case b.LogoURL != "":
		return b.LogoURL
	case len(b.Logo) > 0:
		return "/brand/logo?v=" + b.Version()
	}
	return ""
}

// maxLogoUpload bounds what is read of an upload; the store refuses
// anything over data.MaxLogo with a clear message.
const maxLogoUpload = data.MaxLogo + 1

// serveLogo answers the uploaded logo. Its address carries the branding's
// version, so it may be cached for a long time.
func (s *Server) serveLogo(c echo.Context) error {
	b := s.store.CachedBranding(c.Request().Context())
	if len(b.Logo) == 0 {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	return c.Blob(http.StatusOK, b.LogoType, b.Logo)
}

// serveBrandCSS answers the accent colour as a stylesheet: the pages' CSP
// forbids inline styles, and the colour is the admin's to change.
func (s *Server) serveBrandCSS(c echo.Context) error {
	b := s.store.CachedBranding(c.Request().Context())
	css := ""
	if b.Accent != "" {
		// Checked as #rrggbb when saved: nothing else reaches the sheet.
		css = ":root { --accent: " + b.Accent + "; }\n"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", []byte(css))
}

// brandingPage is the admin's form.
type brandingPage struct {
	Branding data.Branding
	// Links are the footer links with blank rows to add more.
	Links []data.FooterLink
	// From is the sender address, to show how the From line will read.
	From string
}

const brandingLinkRows = 5

func (s *Server) showBranding(c echo.Context) error {
	b, err := s.store.Branding(c.Request().Context())
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"title_ja": {b.TitleJA}, "title_en": {b.TitleEN}, "company_ja": {b.CompanyJA},
		"company_en": {b.CompanyEN}, "accent": {b.Accent}, "logo_url": {b.LogoURL}}}
	return s.renderBranding(c, http.StatusOK, f, b, b.Links())
}

func (s *Server) renderBranding(c echo.Context, code int, f *form, b data.Branding, links []data.FooterLink) error {
	for len(links) < brandingLinkRows || len(links) < len(b.Links())+1 {
		links = append(links, data.FooterLink{})
	}
	v := &brandingPage{Branding: b, Links: links}
	if s.opts.Composer != nil {
		v.From = s.opts.Composer.FromAddress()
	}
	return s.render(c, code, "branding", &view{Title: s.t(c, "branding.title"), Form: f, Data: v})
}

func (s *Server) saveBranding(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := readForm(c)
	if err != nil {
		return err
	}
	before, err := s.store.Branding(ctx)
	if err != nil {
		return err
	}
	in := data.BrandingInput{TitleJA: f.Get("title_ja"), TitleEN: f.Get("title_en"), CompanyJA: f.Get("company_ja"),
		CompanyEN: f.Get("company_en"), Accent: f.Get("accent"), LogoURL: f.Get("logo_url"), KeepLogo: !f.Is("remove_logo", "1")}
	labelsJA, labelsEN, urls := f.Values["link_label_ja"], f.Values["link_label_en"], f.Values["link_url"]
	var rows []data.FooterLink
	for i := range urls {
		l := data.FooterLink{URL: urls[i]}
		if i < len(labelsJA) {
			l.LabelJA = labelsJA[i]
		}
		if i < len(labelsEN) {
			l.LabelEN = labelsEN[i]
		}
		rows = append(rows, l)
		if strings.TrimSpace(l.URL+l.LabelJA+l.LabelEN) != "" {
			in.FooterLinks = append(in.FooterLinks, l)
		}
	}
	if fh, err := c.FormFile("logo"); err == nil && fh.Size > 0 {
		fd, err := fh.Open()
		if err != nil {
			return err
		}
		in.Logo, err = io.ReadAll(io.LimitReader(fd, maxLogoUpload))
		fd.Close()
		if err != nil {
			return err
		}
	}
	if err := s.store.SaveBranding(ctx, in); err != nil {
		if f.absorb(err) {
			return s.renderBranding(c, http.StatusBadRequest, f, before, rows)
		}
		return err
	}
	after, _ := s.store.Branding(ctx)
	after.Logo, before.Logo = nil, nil // the audit names the type, not the bytes
	s.auditEdit(c, "branding.update", "branding", before, after)
	s.changed()
	return s.done(c, "flash.saved", "/admin/branding")
}
