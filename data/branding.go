package data

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif" // logo types: the decoders read the declared size
	_ "image/jpeg"
	_ "image/png"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Branding is how the page presents its owner: a site title, a company
// name, a logo (uploaded, or at an https URL), an accent colour and links
// in the footer. Empty fields mean the defaults.
type Branding struct {
	ID                   int64
	TitleJA, TitleEN     string
	CompanyJA, CompanyEN string
	LogoURL              string
	LogoType             string
	Logo                 []byte
	Accent               string
	FooterLinks          string // JSON list of FooterLink
	UpdatedAt            time.Time
}

// TableName is the one-row table.
func (Branding) TableName() string { return "branding" }

// FooterLink is a link in the page footer.
type FooterLink struct {
	LabelJA string `json:"label_ja"`
	LabelEN string `json:"label_en,omitempty"`
	URL     string `json:"url"`
}

// Label is the link's text in lang, Japanese where no English was given.
func (l FooterLink) Label(lang string) string {
	if lang == "en" && strings.TrimSpace(l.LabelEN) != "" {
		return l.LabelEN
	}
	return l.LabelJA
}

// Links decodes the footer links.
func (b Branding) Links() []FooterLink {
	var out []FooterLink
	if b.FooterLinks != "" {
		_ = json.Unmarshal([]byte(b.FooterLinks), &out)
	}
	return out
}

// HasLogo reports whether a logo was uploaded or named.
func (b Branding) HasLogo() bool { return len(b.Logo) > 0 || b.LogoURL != "" }

// Limits of the branding.
const (
	MaxLogo        = 256 << 10
	MaxFooterLinks = 8
)

// MaxLogoSide bounds a logo's declared width and height, in pixels.
const MaxLogoSide = 4096

// imageSize reads the width and height an image declares, decoding only
// its header.
func imageSize(typ string, b []byte) (w, h int, ok bool) {
	if typ == "image/webp" {
		return webpSize(b)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// webpSize reads a WebP's canvas size from its first chunk (VP8X, VP8L
// or VP8; see RFC 9649), the standard library having no WebP decoder.
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, false
	}
	c := b[20:]
	switch string(b[12:16]) {
	case "VP8X":
		w = 1 + (int(c[4]) | int(c[5])<<8 | int(c[6])<<16)
		h = 1 + (int(c[7]) | int(c[8])<<8 | int(c[9])<<16)
		return w, h, true
	case "VP8L":
		if c[0] != 0x2f {
			return 0, 0, false
		}
		bits := uint32(c[1]) | uint32(c[2])<<8 | uint32(c[3])<<16 | uint32(c[4])<<24
		return 1 + int(bits&0x3fff), 1 + int(bits>>14&0x3fff), true
	case "VP8 ":
		if c[3] != 0x9d || c[4] != 0x01 || c[5] != 0x2a {
			return 0, 0, false
		}
		return int(uint16(c[6])|uint16(c[7])<<8) & 0x3fff, int(uint16(c[8])|uint16(c[9])<<8) & 0x3fff, true
	}
	return 0, 0, false
}

// logoTypes are the image types a logo may be: raster images only, which
// cannot carry script (an SVG can).
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// BrandingInput is what an admin sets.
type BrandingInput struct {
	TitleJA, TitleEN     string
	CompanyJA, CompanyEN string
	// Logo is an uploaded image; LogoURL an https address of one. KeepLogo
	// leaves an earlier upload in place when neither is given.
	Logo     []byte
	LogoURL  string
	KeepLogo bool
	// Accent is #rrggbb; white text on it must meet WCAG AA (4.5:1), as
	// buttons and links use it.
	Accent      string
	FooterLinks []FooterLink
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (in *BrandingInput) validate() (logoType string, err error) {
	f := fieldErrors{}
	for _, p := range []*string{&in.TitleJA, &in.TitleEN, &in.CompanyJA, &in.CompanyEN, &in.LogoURL, &in.Accent} {
		*p = strings.TrimSpace(*p)
	}
	f.line("title_ja", in.TitleJA, false, MaxName)
	f.line("title_en", in.TitleEN, false, MaxName)
	f.line("company_ja", in.CompanyJA, false, MaxName)
	f.line("company_en", in.CompanyEN, false, MaxName)
	if in.Accent != "" {
		in.Accent = strings.ToLower(in.Accent)
		switch {
		case !hexColor.MatchString(in.Accent):
			f.add("accent", "bad_color")
		case ContrastWithWhite(in.Accent) < 4.5:
			f.add("accent", "low_contrast")
		}
	}
	if len(in.Logo) > 0 {
		logoType = http.DetectContentType(in.Logo)
		switch {
		case len(in.Logo) > MaxLogo:
			f.add("logo", "too_large")
		case !logoTypes[logoType]:
			f.add("logo", "bad_image")
		default:
			// A small file may declare a huge image (100000 × 100000
			// pixels in a few bytes) that every visitor's browser would
			// try to decode: the declared size is bounded too.
			switch w, h, ok := imageSize(logoType, in.Logo); {
			case !ok || w <= 0 || h <= 0:
				f.add("logo", "bad_image")
			case w > MaxLogoSide || h > MaxLogoSide:
				f.add("logo", "image_dimensions")
			}
		}
	}
	if in.LogoURL != "" {
		if u, err := url.Parse(in.LogoURL); err != nil || u.Scheme != "https" || u.Host == "" || len(in.LogoURL) > 500 {
			f.add("logo_url", "https_only")
		}
	}
	if len(in.FooterLinks) > MaxFooterLinks {
		f.add("footer_links", "too_many")
	}
	for i := range in.FooterLinks {
		l := &in.FooterLinks[i]
		l.LabelJA, l.LabelEN, l.URL = strings.TrimSpace(l.LabelJA), strings.TrimSpace(l.LabelEN), strings.TrimSpace(l.URL)
		sub := fieldErrors{}
		sub.line("label", l.LabelJA, true, MaxName)
		sub.line("label", l.LabelEN, false, MaxName)
		if !linkURL(l.URL) {
			sub.add("url", "bad")
		}
		if len(sub) > 0 {
			f.add("footer_links", "bad_link")
		}
	}
	return logoType, f.err()
}

// linkURL accepts https, http and mailto links: never script.
func linkURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || len(s) > 500 {
		return false
	}
	switch u.Scheme {
	case "https", "http":
		return u.Host != ""
	case "mailto":
		return strings.Contains(u.Opaque, "@")
	}
	return false
}

// ContrastWithWhite is the WCAG contrast ratio of white against a #rrggbb
// colour.
func ContrastWithWhite(hex string) float64 {
	var lum float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	return 1.05 / (lum + 0.05)
}

// Branding returns the page's branding; all empty until an admin sets it.
func (s *Store) Branding(ctx context.Context) (Branding, error) {
	var rows []Branding
	if err := s.db.WithContext(ctx).Where("id = 1").Limit(1).Find(&rows).Error; err != nil {
		return Branding{}, fmt.Errorf("data: branding: %w", err)
	}
	if len(rows) == 0 {
		return Branding{}, nil
	}
	return rows[0], nil
}

// brandEntry is the branding as last read, and when.
type brandEntry struct {
	b  Branding
	at time.Time
}

// brandMaxAge is how long another instance's change to the branding may
// take to show here.
const brandMaxAge = 30 * time.Second

// CachedBranding is Branding read at most every 30 seconds (at once after a
// save on this instance): pages and every email use it. A failed read
// keeps the last good one; without a store, the defaults.
func (s *Store) CachedBranding(ctx context.Context) Branding {
	if s == nil {
		return Branding{} // a standby instance, started without its database
	}
	e := s.brand.Load()
	if e != nil && time.Since(e.at) < brandMaxAge {
		return e.b
	}
	b, err := s.Branding(ctx)
	if err != nil {
		if e != nil {
			return e.b
		}
		return Branding{}
	}
	s.brand.Store(&brandEntry{b: b, at: time.Now()})
	return b
}

// LastBranding is the branding as last read, however long ago, without
// asking the database again (CachedBranding, which the pages call, keeps
// it fresh); read once if it never was. Every response's headers use it.
func (s *Store) LastBranding(ctx context.Context) Branding {
	if s == nil {
		return Branding{}
	}
	if e := s.brand.Load(); e != nil {
		return e.b
	}
	return s.CachedBranding(ctx)
}

// SaveBranding replaces the branding whole.
func (s *Store) SaveBranding(ctx context.Context, in BrandingInput) error {
	logoType, err := in.validate()
	if err != nil {
		return err
	}
	links := ""
	if len(in.FooterLinks) > 0 {
		b, err := json.Marshal(in.FooterLinks)
		if err != nil {
			return err
		}
		links = string(b)
	}
	row := Branding{ID: 1, TitleJA: in.TitleJA, TitleEN: in.TitleEN, CompanyJA: in.CompanyJA, CompanyEN: in.CompanyEN,
		LogoURL: in.LogoURL, LogoType: logoType, Logo: in.Logo, Accent: in.Accent, FooterLinks: links, UpdatedAt: s.now()}
	// One logo at a time, the one just given: an upload replaces a URL, a
	// URL replaces an upload; with neither, the uploaded logo stays (unless
	// removed) and an emptied URL field removes the URL.
	if len(in.Logo) > 0 {
		row.LogoURL = ""
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if in.KeepLogo && len(in.Logo) == 0 && in.LogoURL == "" {
			var old []Branding
			if err := tx.Where("id = 1").Limit(1).Find(&old).Error; err != nil {
				return err
			}
			if len(old) > 0 {
				row.Logo, row.LogoType = old[0].Logo, old[0].LogoType
			}
		}
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	})
	if err == nil {
		s.brand.Store(nil)
	}
	return err
}

// Version names this branding's logo and colour, for addresses that may
// be cached for ever.
func (b Branding) Version() string {
	return strconv.FormatInt(b.UpdatedAt.UnixMilli(), 36)
}

// Title is the site title in lang: English falls back to Japanese, and
// empty means the default.
func (b Branding) Title(lang string) string { return pickText(lang, b.TitleJA, b.TitleEN) }

// Company is the company name in lang.
func (b Branding) Company(lang string) string { return pickText(lang, b.CompanyJA, b.CompanyEN) }

func pickText(lang, ja, en string) string {
	if lang == "en" && en != "" {
		return en
	}
	return ja
}
