package locale

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/oshirase/oshirase/templates"
)

// TestCataloguesMatch makes sure every message exists in every language.
func TestCataloguesMatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Languages {
		for _, b := range Languages {
			for _, id := range c.IDs(a) {
				if !c.Has(b, id) {
					t.Errorf("%q is in %s but not in %s", id, a, b)
				}
			}
		}
	}
}

// TestTemplatesUseKnownMessages finds every literal message id in the
// templates and checks the catalogue has it.
func TestTemplatesUseKnownMessages(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\.T "([a-z_.]+)"|"(label\.[a-z_]+)"`)
	seen := map[string]bool{}
	fs.WalkDir(templates.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() || !regexp.MustCompile(`\.html$`).MatchString(path) {
			return nil
		}
		b, _ := fs.ReadFile(templates.FS, path)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			id := m[1] + m[2]
			seen[id] = true
			if !c.Has("ja", id) {
				t.Errorf("%s uses %q, which no catalogue defines", path, id)
			}
		}
		return nil
	})
	if len(seen) < 50 {
		t.Fatalf("found only %d message ids; the pattern is broken", len(seen))
	}
}

func TestPluralsAndArguments(t *testing.T) {
	c, _ := Load()
	cases := []struct {
		lang, id string
		args     []any
		want     string
	}{
		{"ja", "ago.hours", []any{"Count", 3}, "3時間前"},
		{"en", "ago.hours", []any{"Count", 1}, "1 hour ago"},
		{"en", "ago.hours", []any{"Count", 2}, "2 hours ago"},
		{"en", "in.days", []any{"Count", 5}, "in 5 days"},
		{"ja", "status.title", nil, "現在の稼働状況"},
		{"fr", "status.title", nil, "現在の稼働状況"},
		{"ja", "no.such.message", nil, "no.such.message"},
		// A plain string (no one/other table) still serves a count of 1.
		{"en", "policy.subscribers", []any{"Count", 1}, "Public subscribers (1)"},
		{"en", "contracts.count", []any{"Count", 1}, "1 found"},
	}
	for _, tc := range cases {
		if got := c.T(tc.lang, tc.id, tc.args...); got != tc.want {
			t.Errorf("T(%s, %s, %v) = %q, want %q", tc.lang, tc.id, tc.args, got, tc.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct{ query, cookie, accept, want string }{
		{"", "", "", "ja"},
		{"en", "", "", "en"},
		{"EN", "ja", "ja", "en"},
		{"xx", "en", "", "en"},
		{"", "en", "ja", "en"},
		{"", "", "en-US,en;q=0.9", "en"},
		{"", "", "ja-JP,ja;q=0.9,en;q=0.8", "ja"},
		{"", "", "fr-FR,en;q=0.5", "en"},
		{"", "", "fr-FR", "ja"},
		{"", "", ";;;garbage===", "ja"},
	}
	for _, c := range cases {
		if got := Negotiate(c.query, c.cookie, c.accept); got != c.want {
			t.Errorf("Negotiate(%q, %q, %q) = %q, want %q", c.query, c.cookie, c.accept, got, c.want)
		}
	}
}

// TestEveryCountRenders gives every message that takes a count the counts
// 0, 1 and 2 in every language: none may fall back to its id.
func TestEveryCountRenders(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		for _, id := range c.IDs(lang) {
			for _, n := range []int{0, 1, 2} {
				if got := c.T(lang, id, "Count", n); got == id {
					t.Errorf("T(%s, %s, Count=%d) fell back to the id", lang, id, n)
				}
			}
		}
	}
}
