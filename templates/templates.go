// Package templates embeds the HTML page templates, their shared layout and
// partials, and the message catalogues of every language, so the binary
// runs from any directory.
package templates

import "embed"

// FS holds layout.html, partials/*.html, pages/*.html, the email templates
// email/*.html and email/*.txt, and locales/*.toml.
//
//go:embed layout.html partials/*.html pages/*.html email/*.html email/*.txt locales/*.toml
var FS embed.FS
