package markdown

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

// PlainText renders src as plain text, for where no markup can go (an
// iCalendar DESCRIPTION is TEXT, RFC 5545 3.8.1.5): emphasis and code
// marks are dropped, a link reads "label (address)" when the address is
// one the page would link to, list items keep a "- " or "1. " marker, and
// raw HTML is left out as the page leaves it out. Line breaks stay line
// breaks, as the page shows them.
func PlainText(src string) string {
	source := []byte(src)
	doc := Parse(source)
	w := plainWriter{src: source}
	return strings.TrimSpace(w.blocks(doc, "\n\n"))
}

type plainWriter struct{ src []byte }

// blocks renders n's block children, sep between them; blocks that render
// to nothing (raw HTML) leave no gap.
func (w plainWriter) blocks(n ast.Node, sep string) string {
	var parts []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := w.block(c); strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, sep)
}

func (w plainWriter) block(n ast.Node) string {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock, *ast.Heading:
		return w.inlines(n)
	case *ast.ThematicBreak:
		return "---"
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		var b strings.Builder
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			b.Write(seg.Value(w.src))
		}
		return strings.TrimRight(b.String(), "\n")
	case *ast.HTMLBlock:
		return ""
	case *ast.Blockquote:
		return PrefixLines(w.blocks(n, "\n\n"), "> ", "> ")
	case *ast.List:
		var items []string
		i := n.Start
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			marker := "- "
			if n.IsOrdered() {
				marker = strconv.Itoa(i) + ". "
				i++
			}
			sep := "\n"
			if !n.IsTight {
				sep = "\n\n"
			}
			items = append(items, PrefixLines(w.blocks(c, sep), marker, strings.Repeat(" ", len(marker))))
		}
		if n.IsTight {
			return strings.Join(items, "\n")
		}
		return strings.Join(items, "\n\n")
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

// inlines renders n's inline children.
func (w plainWriter) inlines(n ast.Node) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		w.inline(&b, c)
	}
	return b.String()
}

func (w plainWriter) inline(b *strings.Builder, n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Value(w.src)
		if n.IsRaw() {
			b.Write(v)
		} else {
			b.WriteString(Unescape(v))
		}
		if n.SoftLineBreak() || n.HardLineBreak() {
			b.WriteByte('\n')
		}
	case *ast.String:
		if n.IsRaw() || n.IsCode() {
			b.Write(n.Value)
		} else {
			b.WriteString(Unescape(n.Value))
		}
	case *ast.CodeSpan:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				b.Write(bytes.ReplaceAll(t.Value(w.src), []byte("\n"), []byte(" ")))
			}
		}
	case *ast.Link:
		label := w.inlines(n)
		dest := string(n.Destination)
		switch {
		case !Linkable(dest):
			b.WriteString(label)
		case strings.TrimSpace(label) == "" || label == dest || "mailto:"+label == dest:
			b.WriteString(dest)
		default:
			b.WriteString(label + " (" + dest + ")")
		}
	case *ast.AutoLink:
		b.Write(n.Label(w.src))
	case *ast.Image:
		b.WriteString(w.inlines(n))
	case *ast.RawHTML:
		// Left out, as the page leaves it out.
	case *east.TaskCheckBox:
		if n.IsChecked {
			b.WriteString("[x] ")
		} else {
			b.WriteString("[ ] ")
		}
	default:
		b.WriteString(w.inlines(n))
	}
}
