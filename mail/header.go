package mail

import (
	"bytes"
	"net/mail"
	"strings"
	"unicode"
)

// maxHeaderLine is where header lines are folded (RFC 5322 recommends 78
// characters; 998 is the hard limit).
const maxHeaderLine = 78

// foldHeaders folds every header line of a message longer than 78
// characters at the spaces between its words. jordan-wright/email writes an
// encoded Japanese subject as one line, which for a long subject is well
// past the 998-character limit of RFC 5322; folding at whitespace is always
// allowed and RFC 2047 encoded words are separated by spaces.
func foldHeaders(msg []byte) []byte {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		return msg
	}
	var out bytes.Buffer
	out.Grow(len(msg) + 256)
	for _, line := range strings.Split(string(msg[:end]), "\r\n") {
		out.WriteString(foldLine(line))
		out.WriteString("\r\n")
	}
	out.Write(msg[end+2:])
	return out.Bytes()
}

func foldLine(line string) string {
	if len(line) <= maxHeaderLine {
		return line
	}
	var b strings.Builder
	width := 0
	for i, word := range strings.Split(line, " ") {
		switch {
		case i == 0:
		case width+1+len(word) > maxHeaderLine && width > 0:
			b.WriteString("\r\n ")
			width = 1
		default:
			b.WriteByte(' ')
			width++
		}
		b.WriteString(word)
		width += len(word)
	}
	return b.String()
}

// cleanName makes a display name safe for a header: control characters
// (line breaks above all) become spaces, so no name can start a header of
// its own.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// address renders name and address for From and To. mail.Address encodes a
// non-ASCII name (RFC 2047) and quotes the rest.
func address(name, addr string) string {
	return (&mail.Address{Name: cleanName(name), Address: addr}).String()
}

// cleanSubject keeps a subject to one line.
func cleanSubject(s string) string { return cleanName(s) }
