// Package locale holds Oshirase's message catalogues (Japanese first, then
// English) and picks the language of each request.
package locale

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/oshirase/oshirase/templates"
)

// Languages lists the supported languages; the first is the default.
var Languages = []string{"ja", "en"}

var matcher = language.NewMatcher([]language.Tag{language.Japanese, language.English})

// Catalog translates message ids into sentences.
type Catalog struct {
	localizers map[string]*i18n.Localizer
	ids        map[string][]string
	known      map[string]bool // lang + id
	mu         sync.RWMutex
	cache      map[string]string // lang + id for messages without arguments
}

// Load reads every catalogue: locales/ja.toml and locales/en.toml, and an
// area's own files beside them (locales/upstream.ja.toml). A message an
// area defines twice is an error, not a silent override.
func Load() (*Catalog, error) {
	b := i18n.NewBundle(language.Japanese)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	c := &Catalog{localizers: map[string]*i18n.Localizer{}, ids: map[string][]string{}, known: map[string]bool{}, cache: map[string]string{}}
	for _, lang := range Languages {
		areas, err := fs.Glob(templates.FS, path.Join("locales", "*."+lang+".toml"))
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		for _, name := range append([]string{path.Join("locales", lang+".toml")}, areas...) {
			raw, err := fs.ReadFile(templates.FS, name)
			if err != nil {
				return nil, fmt.Errorf("locale: %w", err)
			}
			mf, err := b.ParseMessageFileBytes(raw, name)
			if err != nil {
				return nil, fmt.Errorf("locale: %s: %w", name, err)
			}
			for _, m := range mf.Messages {
				if c.known[lang+"\x00"+m.ID] {
					return nil, fmt.Errorf("locale: %s: %q is defined twice", name, m.ID)
				}
				c.ids[lang] = append(c.ids[lang], m.ID)
				c.known[lang+"\x00"+m.ID] = true
			}
		}
		c.localizers[lang] = i18n.NewLocalizer(b, lang)
	}
	return c, nil
}

// IDs lists the message ids a language defines.
func (c *Catalog) IDs(lang string) []string { return c.ids[lang] }

// Has reports whether lang defines id.
func (c *Catalog) Has(lang, id string) bool { return c.known[lang+"\x00"+id] }

// T translates id into lang. args are name/value pairs for the message's
// template; a "Count" value also picks the plural form. A missing message
// shows as its id, which a test makes sure never ships.
func (c *Catalog) T(lang, id string, args ...any) string {
	l, ok := c.localizers[lang]
	if !ok {
		l = c.localizers[Languages[0]]
	}
	if len(args) == 0 {
		c.mu.RLock()
		s, ok := c.cache[lang+"\x00"+id]
		c.mu.RUnlock()
		if ok {
			return s
		}
	}
	cfg := &i18n.LocalizeConfig{MessageID: id}
	if len(args) > 0 {
		data := map[string]any{}
		for i := 0; i+1 < len(args); i += 2 {
			k, _ := args[i].(string)
			data[k] = args[i+1]
			if k == "Count" {
				cfg.PluralCount = args[i+1]
			}
		}
		cfg.TemplateData = data
	}
	s, err := l.Localize(cfg)
	if err != nil && cfg.PluralCount != nil {
		// A message written as one plain string has only the "other" form;
		// go-i18n refuses it for a count of 1 in English instead of using
		// it. Plain strings are for counts that read the same either way.
		cfg.PluralCount = nil
		s, err = l.Localize(cfg)
	}
	if err != nil {
		return id
	}
	if len(args) == 0 {
		c.mu.Lock()
		c.cache[lang+"\x00"+id] = s
		c.mu.Unlock()
	}
	return s
}

// FormatTime shows a moment in loc with its zone, such as
// "2026年11月26日 16:30 JST" or "Nov 26, 2026 16:30 JST".
func FormatTime(lang string, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if lang == "en" {
		return t.Format("Jan 2, 2006 15:04 MST")
	}
	return t.Format("2006年1月2日 15:04 MST")
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Negotiate picks a language: an explicit choice (the ?lang= parameter),
// then the remembered one (the cookie), then the browser's Accept-Language,
// then Japanese.
func Negotiate(query, cookie, acceptLanguage string) string {
	return NegotiateOr(query, cookie, acceptLanguage, Languages[0])
}

// NegotiateOr is Negotiate with another language when nothing is asked
// for (or nothing supported is): English for machine clients, say.
func NegotiateOr(query, cookie, acceptLanguage, fallback string) string {
	for _, v := range []string{query, cookie} {
		if v = strings.ToLower(strings.TrimSpace(v)); Supported(v) {
			return v
		}
	}
	if acceptLanguage == "" {
		return fallback
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return fallback
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return fallback
	}
	return Languages[i]
}
