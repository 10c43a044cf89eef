package main

import (
	"fmt"
	"go/version"
)

// minimumToolchain is the Go release this program must be built with:
// older ones have vulnerabilities govulncheck finds reachable here (the
// standard library's net/http, crypto/x509, crypto/tls, html/template).
// go.mod names the same toolchain (a test checks).
const minimumToolchain = "go1.27.3"

// checkToolchain looks at the Go release the running binary was built
// with. Older than minimumToolchain, it warns; and it refuses to serve
// over https with it unless the operator allowed it
// (OSHIRASE_ALLOW_OLD_TOOLCHAIN=true), since a public https server is what
// those vulnerabilities are about.
func checkToolchain(running string, https, allowed bool) (warning string, err error) {
	if !version.IsValid(running) || version.Compare(running, minimumToolchain) >= 0 {
		return "", nil
	}
	warning = fmt.Sprintf("built with %s, older than %s, which has known vulnerabilities; build with GOTOOLCHAIN=%s", running, minimumToolchain, minimumToolchain)
	if https && !allowed {
		return warning, fmt.Errorf("refusing to serve over https: this binary was %s (set OSHIRASE_ALLOW_OLD_TOOLCHAIN=true to start anyway)", warning)
	}
	return warning, nil
}
