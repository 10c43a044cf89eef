package channelmsg

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"

	"github.com/oshirase/oshirase/internal/markdown"
)

// dialect is the markup a chat understands. Slack's mrkdwn is not
// markdown (*bold*, <url|label>, no headings) and must have &, < and >
// escaped, or "<!channel>" in a body pings a whole workspace; Teams'
// TextBlock reads a subset of markdown (no headings, tables or HTML).
type dialect struct {
	slack                bool
	bold, italic, strike string
	escape               func(string) string
	link                 func(dest, label string) string
}

var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

var slackDialect = dialect{slack: true, bold: "*", italic: "_", strike: "~", escape: slackEscape,
	link: func(dest, label string) string {
		// An address may not hold the "|" or ">" that end it.
		dest = strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20").Replace(dest)
		if label == "" || label == slackEscape(dest) {
			return "<" + dest + ">"
		}
		return "<" + dest + "|" + strings.ReplaceAll(label, "|", "\u2223") + ">"
	}}

// teamsEscape leaves text as it is: Adaptive Cards document no escape
// for their markdown, and a backslash would show.
func teamsEscape(s string) string { return s }

var teamsDialect = dialect{bold: "**", italic: "_", strike: "", escape: teamsEscape,
	link: func(dest, label string) string {
		dest = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(dest)
		if label == "" {
			label = teamsEscape(dest)
		}
		return "[" + label + "](" + dest + ")"
	}}

// Mrkdwn converts operator-written markdown to Slack's mrkdwn: **x** and
// __x__ become *x*, [t](u) becomes <u|t>, a heading a bold line, lists
// keep a "•" or "1." marker, and raw HTML and links the page would not
// keep (javascript:, relative) are left out as the page leaves them out.
func Mrkdwn(src string) string { return convert(src, slackDialect) }

// teamsMarkdown is src in the markdown a Teams TextBlock reads.
func teamsMarkdown(src string) string { return convert(src, teamsDialect) }

func convert(src string, d dialect) string {
	source := []byte(src)
	doc := markdown.Parse(source)
	w := chatWriter{src: source, d: d}
	return strings.TrimSpace(w.blocks(doc, "\n\n"))
}

type chatWriter struct {
	src []byte
	d   dialect
}

func (w chatWriter) blocks(n ast.Node, sep string) string {
	var parts []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := w.block(c); strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, sep)
}

func (w chatWriter) block(n ast.Node) string {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return w.inlines(n)
	case *ast.Heading:
		return w.wrap(w.d.bold, strings.TrimSpace(w.inlines(n)))
	case *ast.ThematicBreak:
		return "―――"
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		var b strings.Builder
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			b.Write(seg.Value(w.src))
		}
		code := strings.TrimRight(b.String(), "\n")
		// A fence inside the code would end the block early.
		code = strings.ReplaceAll(code, "```", "`\u200b``")
		if w.d.slack {
			code = slackEscape(code)
		}
		return "```\n" + code + "\n```"
	case *ast.HTMLBlock:
		return ""
	case *ast.Blockquote:
		return markdown.PrefixLines(w.blocks(n, "\n\n"), "> ", "> ")
	case *ast.List:
		var items []string
		i := n.Start
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			marker := "- "
			if w.d.slack {
				marker = "• "
			}
			if n.IsOrdered() {
				marker = strconv.Itoa(i) + ". "
				i++
			}
			items = append(items, markdown.PrefixLines(w.blocks(c, "\n"), marker, "    "))
		}
		return strings.Join(items, "\n")
	case *east.Table:
		var rows []string
		for r := n.FirstChild(); r != nil; r = r.NextSibling() {
			var cells []string
			for c := r.FirstChild(); c != nil; c = c.NextSibling() {
				cells = append(cells, w.inlines(c))
			}
			rows = append(rows, strings.Join(cells, " | "))
		}
		return strings.Join(rows, "\n")
	}
	if n.Type() == ast.TypeInline {
		return w.inlines(n)
	}
	return w.blocks(n, "\n\n")
}

// wrap puts mark on both sides of s, inside its surrounding spaces (Slack
// reads "* x*" as text), and leaves an empty s or mark alone.
func (w chatWriter) wrap(mark, s string) string {
	t := strings.TrimSpace(s)
	if mark == "" || t == "" {
		return s
	}
	i := strings.Index(s, t)
	return s[:i] + mark + t + mark + s[i+len(t):]
}

func (w chatWriter) inlines(n ast.Node) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		w.inline(&b, c)
	}
	return b.String()
}

func (w chatWriter) inline(b *strings.Builder, n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Value(w.src)
		if n.IsRaw() {
			b.WriteString(w.d.escape(string(v)))
		} else {
			b.WriteString(w.d.escape(markdown.Unescape(v)))
		}
		if n.SoftLineBreak() || n.HardLineBreak() {
			b.WriteByte('\n')
		}
	case *ast.String:
		if n.IsRaw() || n.IsCode() {
			b.WriteString(w.d.escape(string(n.Value)))
		} else {
			b.WriteString(w.d.escape(markdown.Unescape(n.Value)))
		}
	case *ast.CodeSpan:
		var code strings.Builder
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				code.Write(bytes.ReplaceAll(t.Value(w.src), []byte("\n"), []byte(" ")))
			}
		}
		s := strings.ReplaceAll(code.String(), "`", "'")
		if w.d.slack {
			s = slackEscape(s)
		}
		b.WriteString("`" + s + "`")
	case *ast.Emphasis:
		mark := w.d.italic
		if n.Level >= 2 {
			mark = w.d.bold
		}
		b.WriteString(w.wrap(mark, w.inlines(n)))
	case *east.Strikethrough:
		b.WriteString(w.wrap(w.d.strike, w.inlines(n)))
	case *ast.Link:
		label := strings.TrimSpace(w.inlines(n))
		dest := string(n.Destination)
		if !markdown.Linkable(dest) {
			b.WriteString(label)
			return
		}
		b.WriteString(w.d.link(dest, label))
	case *ast.AutoLink:
		dest := string(n.URL(w.src))
		if !markdown.Linkable(dest) {
			b.WriteString(w.d.escape(string(n.Label(w.src))))
			return
		}
		b.WriteString(w.d.link(dest, ""))
	case *ast.Image:
		b.WriteString(w.inlines(n))
	case *ast.RawHTML:
		// Left out, as the page leaves it out.
	case *east.TaskCheckBox:
		if n.IsChecked {
			b.WriteString("☑ ")
		} else {
			b.WriteString("☐ ")
		}
	default:
		b.WriteString(w.inlines(n))
	}
}

// split cuts s into pieces of at most max characters, at a paragraph
// break where one is near enough, else at a line break, else at a space,
// else anywhere between characters; never inside a <link>.
func split(s string, max int) []string {
	var out []string
	for utf8.RuneCountInString(s) > max {
		cut := byteOffset(s, max)
		head := s[:cut]
		at := -1
		for _, sep := range []string{"\n\n", "\n", " "} {
			// Only a break in the second half is worth taking: the first
			// would leave a piece too short.
			if i := strings.LastIndex(head, sep); i > len(head)/2 {
				at = i
				break
			}
		}
		if at < 0 {
			at = cut
		}
		// A link or an escape (&amp;) cut in half shows its markup; move
		// the cut before it.
		if open := strings.LastIndex(s[:at], "<"); open > 0 && strings.LastIndex(s[:at], ">") < open {
			at = open
		}
		if amp := strings.LastIndex(s[:at], "&"); amp > 0 && at-amp < 5 && !strings.Contains(s[amp:at], ";") {
			at = amp
		}
		out = append(out, strings.TrimRight(s[:at], " \n"))
		s = strings.TrimLeft(s[at:], " \n")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// truncate shortens s to at most max characters, ending it with "…".
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return split(s, max-1)[0] + "…"
}

// byteOffset is where s's n-th character starts (len(s) past the end).
func byteOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
