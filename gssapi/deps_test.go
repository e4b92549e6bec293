// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetHTTP keeps net/http (and gokrb5's service and spnego packages,
// which bring it through goidentity) out of the module's non-test
// packages: docs/gssapi.md#dependencies.
func TestNoNetHTTP(t *testing.T) {
	// With cgo off, so that "C" or runtime/cgo can only come from our
	// own code (with cgo on, net brings runtime/cgo for its resolver).
	cmd := exec.Command("go", "list", "-deps", "./...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps gave %d packages", len(deps))
	}
	sawGokrb5 := false
	for _, d := range deps {
		switch {
		case d == "net/http", strings.HasPrefix(d, "net/http/"):
			t.Errorf("%s is a dependency", d)
		case strings.HasPrefix(d, "github.com/jcmturner/gokrb5/v8/service"),
			strings.HasPrefix(d, "github.com/jcmturner/gokrb5/v8/spnego"),
			strings.HasPrefix(d, "github.com/jcmturner/gokrb5/v8/client"),
			strings.HasPrefix(d, "github.com/jcmturner/goidentity"):
			t.Errorf("%s is a dependency", d)
		case d == "C", d == "runtime/cgo":
			t.Errorf("%s: the module must build without cgo", d)
		case strings.HasPrefix(d, "github.com/jcmturner/gokrb5/v8/"):
			sawGokrb5 = true
		}
	}
	if !sawGokrb5 {
		t.Error("no gokrb5 package in the dependencies: is go list looking at the right module?")
	}
}
