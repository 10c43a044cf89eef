package mail

import (
	"bytes"
	"encoding/base64"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
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
		case i == 1:
			// Never fold right after the field name: a header whose value
			// starts on a continuation line reads with a leading space in
			// common parsers (Python's email.policy.default).
			b.WriteByte(' ')
			width++
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

// address renders name and address for From and To. An ASCII name is
// quoted as RFC 5322 needs (mail.Address does that). A non-ASCII name
// becomes one RFC 2047 encoded word, never several: Python's email parser
// keeps the space between two encoded words of a display name, so a split
// name would read back with a space in the middle.
func address(name, addr string) string {
	name = cleanName(name)
	if name == "" || (isASCII(name) && !strings.Contains(name, "=?")) {
		return (&mail.Address{Name: name, Address: addr}).String()
	}
	return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(name)) + "?= <" + addr + ">"
}

// encodedSubject encodes a subject that looks like it holds an RFC 2047
// encoded-word ("=?…?=" typed as text), so that readers decode it back to
// exactly what was typed rather than to what the "word" says (a line break
// and a Bcc:, say). Others are left to jordan-wright/email, which encodes
// non-ASCII subjects itself.
func encodedSubject(s string) string {
	if !strings.Contains(s, "=?") || !isASCII(s) {
		return s
	}
	// Words of at most 45 bytes, so each encoded word stays within 75
	// characters (RFC 2047); readers join adjacent words without the space.
	var words []string
	for len(s) > 0 {
		n := min(len(s), 45)
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// setHeader replaces the value of a header field (with its continuation
// lines) in a message. jordan-wright/email splits From and To at every
// comma and re-encodes the pieces, which mangles a name such as
// "O'Neil, Pat"; so it is given bare addresses and the real ones are set
// here.
func setHeader(msg []byte, field, value string) []byte {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		return msg
	}
	lines := strings.Split(string(msg[:end]), "\r\n")
	var out []string
	skipping := false
	for _, line := range lines {
		if skipping && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) {
			continue
		}
		skipping = false
		if name, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, field) {
			out = append(out, field+": "+value)
			skipping = true
			continue
		}
		out = append(out, line)
	}
	return append([]byte(strings.Join(out, "\r\n")), msg[end:]...)
}

// cleanSubject keeps a subject to one line.
func cleanSubject(s string) string { return cleanName(s) }
