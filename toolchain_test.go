package main

import (
	"os"
	"strings"
	"testing"
)

func TestCheckToolchain(t *testing.T) {
	for _, c := range []struct {
		running        string
		https, allowed bool
		warn, refuse   bool
	}{
		{"go1.27.3", true, false, false, false},
		{"go1.28.0", true, false, false, false},
		{"go1.26.8", false, false, true, false},
		{"go1.26.8", true, false, true, true},
		{"go1.26.8", true, true, true, false},
		{"devel +abc", true, false, false, false},
	} {
		warn, err := checkToolchain(c.running, c.https, c.allowed)
		if (warn != "") != c.warn || (err != nil) != c.refuse {
			t.Errorf("%+v: warning %q, error %v", c, warn, err)
		}
		if err != nil && !strings.Contains(err.Error(), "OSHIRASE_ALLOW_OLD_TOOLCHAIN") {
			t.Errorf("the refusal does not say how to start anyway: %v", err)
		}
	}
}

// TestMinimumToolchainMatchesGoMod: the constant and go.mod agree.
func TestMinimumToolchainMatchesGoMod(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ntoolchain "+minimumToolchain+"\n") {
		t.Fatalf("go.mod does not name toolchain %s", minimumToolchain)
	}
}
