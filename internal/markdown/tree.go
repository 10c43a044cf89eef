package markdown

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// What writers of other formats (plain text, Slack's mrkdwn, Teams) need
// to walk the same tree the page renders, and to keep what it keeps.

// parser reads markdown as New's renderer does (GitHub-flavoured), so a
// text written from its tree says what the page shows. goldmark parsers
// are safe for concurrent use.
var parser = goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()

// Parse reads src into goldmark's tree; node segments index src.
func Parse(src []byte) ast.Node { return parser.Parse(text.NewReader(src)) }

// Linkable reports whether the page would keep dest as a link: an
// absolute address in a scheme the sanitiser allows. Anything else
// (javascript:, a relative path that means nothing outside the page) is
// dropped, keeping its label.
func Linkable(dest string) bool {
	u, err := url.Parse(dest)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return u.Opaque != ""
	}
	return false
}

// Unescape resolves backslash escapes and character references as the
// HTML renderer does, in one pass so that an escaped "&" stays literal.
func Unescape(v []byte) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && util.IsPunct(v[i+1]):
			b.WriteByte(v[i+1])
			i++
		case c == '&':
			if j := bytes.IndexByte(v[i:], ';'); j > 1 && j < 40 {
				ref := v[i : i+j+1]
				if r := util.ResolveNumericReferences(util.ResolveEntityNames(ref)); !bytes.Equal(r, ref) {
					b.Write(r)
					i += j
					continue
				}
			}
			b.WriteByte(c)
		case c == 0:
			b.WriteString("\uFFFD")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// PrefixLines puts first before the first line of s and rest before each
// following non-empty one (list markers, quote marks).
func PrefixLines(s, first, rest string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = first + l
		case l != "":
			lines[i] = rest + l
		}
	}
	return strings.Join(lines, "\n")
}
