// Package static embeds the stylesheet and images the pages use, and names
// each file by a hash of its content so browsers may cache it forever.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed *.css *.svg *.js
var files embed.FS

// FS holds the static files.
var FS fs.FS = files

// Version is a short hash of every static file, used in asset URLs
// (/static/VERSION/style.css) so a new build busts caches.
var Version = func() string {
	h := sha256.New()
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		b, _ := fs.ReadFile(files, e.Name())
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()
