package data

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidationError lists what is wrong with an input, field by field. Each
// value is a message key ("required", "too_long", …) that the server turns
// into a sentence in the operator's language.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k, v := range e.Fields {
		keys = append(keys, k+": "+v)
	}
	sort.Strings(keys)
	return "data: invalid input: " + strings.Join(keys, ", ")
}

// Invalid returns a ValidationError for one field.
func Invalid(field, key string) error {
	return &ValidationError{Fields: map[string]string{field: key}}
}

type fieldErrors map[string]string

// add keeps the first problem found for a field.
func (f fieldErrors) add(field, key string) {
	if _, ok := f[field]; !ok {
		f[field] = key
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// Length limits, in characters.
const (
	MaxTitle = 200
	MaxName  = 100
	MaxBody  = 20000
)

// line checks one line of text such as a title or a name.
func (f fieldErrors) line(field, v string, required bool, max int) {
	f.text(field, v, required, max, false)
}

// block checks text that may hold line breaks, such as a markdown message.
func (f fieldErrors) block(field, v string, required bool, max int) {
	f.text(field, v, required, max, true)
}

// invisible reports whether a line shows nothing: only spaces and format
// characters (zero-width spaces, joiners), which TrimSpace keeps.
func invisible(v string) bool {
	for _, r := range v {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// bidiControl reports the embedding, override and isolate controls, which
// make a name read other than it is ("\u202egnp.exe" shows as "exe.png").
func bidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

func (f fieldErrors) text(field, v string, required bool, max int, multiline bool) {
	switch {
	case !utf8.ValidString(v):
		f.add(field, "bad_text")
	case strings.TrimSpace(v) == "" || (!multiline && invisible(v)):
		if required {
			f.add(field, "required")
		}
	case utf8.RuneCountInString(v) > max:
		f.add(field, "too_long")
	}
	for _, r := range v {
		// NUL is refused by PostgreSQL and other control characters have no
		// business in a status message; line breaks only where text is a block.
		if (unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t'))) || r == utf8.RuneError ||
			(!multiline && bidiControl(r)) {
			f.add(field, "bad_text")
			return
		}
	}
}
