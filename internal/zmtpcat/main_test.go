package zmtpcat

import (
	"bytes"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUsageErrors(t *testing.T) {
	const ep = "tcp://127.0.0.1:1" // never dialled: every case fails before
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{}, "want one ENDPOINT"},
		{[]string{ep, ep}, "want one ENDPOINT"},
		{[]string{"-nosuch", ep}, "flag provided but not defined"},
		{[]string{"-n", "many", ep}, "invalid value"},
		{[]string{"-n", "-1", ep}, "-n must not be negative"},
		{[]string{"-type", "PUSH", "-n", "1", ep}, "does not receive"},
		{[]string{"-linger", "-1s", ep}, "-linger must not be negative"},
		{[]string{"-bind", "-retry", ep}, "-retry is for connecting"},
		{[]string{"udp://127.0.0.1:1"}, "unsupported transport"},
		{[]string{"tcp://127.0.0.1"}, "want tcp://HOST:PORT"},
		{[]string{"127.0.0.1:1"}, "bad endpoint"},
		{[]string{"-type", "FOO", ep}, `unknown socket type "FOO"`},
		{[]string{"-type", "CLIENT", ep}, "unknown socket type"},
		{[]string{"-subscribe", "A", ep}, "-subscribe is for SUB and XSUB"},
		{[]string{"-type", "PUB", "-echo", ep}, "does not receive"},
		{[]string{"-type", "PULL", "-echo", ep}, "does not send"},
		{[]string{"-identity", strings.Repeat("x", 256), ep}, "at most 255"},
		{[]string{"-mechanism", "gssapi", ep}, "want null, plain or curve"},
		{[]string{"-plain-user", "u", ep}, "need -mechanism plain or curve"},
		{[]string{"-curve-server", ep}, "need -mechanism plain or curve"},
		{[]string{"-mechanism", "plain", "-plain-server", "-plain-user", "u", ep}, "-plain-server takes -passwords"},
		{[]string{"-mechanism", "plain", "-plain-server", "-plain-password-file", "f", ep}, "-plain-server takes -passwords"},
		{[]string{"-plain-password-file", "f", ep}, "need -mechanism plain or curve"},
		{[]string{"-mechanism", "plain", "-plain-user", "u", "-plain-password", "hunter2", ep}, "-plain-password is not accepted: a password on the command line is shown to every local user by ps; use -plain-password-file FILE or the ZMTPCAT_PLAIN_PASSWORD environment variable"},
		{[]string{"-mechanism", "plain", "-passwords", "f", ep}, "-passwords needs -plain-server"},
		{[]string{"-mechanism", "plain", "-plain-rfc-error", ep}, "-plain-rfc-error needs -plain-server"},
		{[]string{"-mechanism", "curve", "-plain-rfc-error", ep}, "PLAIN flags with -mechanism curve"},
		{[]string{"-mechanism", "plain", "-cert", "f", ep}, "CURVE flags with -mechanism plain"},
		{[]string{"-mechanism", "curve", ep}, "needs -server-key"},
		{[]string{"-mechanism", "curve", "-curve-server", ep}, "needs -cert"},
		{[]string{"-mechanism", "curve", "-curve-server", "-cert", "f", "-server-key", "k", ep}, "-server-key is for CURVE clients"},
		{[]string{"-mechanism", "curve", "-curve-server", "-cert", "f", "-client-certs", "d", "-allow-any", ep}, "cannot be used together"},
		{[]string{"-mechanism", "curve", "-server-key", "k", "-allow-any", ep}, "are for -curve-server"},
		{[]string{"-mechanism", "curve", "-server-key", "k", "-plain-user", "u", ep}, "PLAIN flags with -mechanism curve"},
		{[]string{"-allow", "127.0.0.1", ep}, "need -domain"},
		{[]string{"-domain", "d", "-allow", "1.2.3.4", "-deny", "5.6.7.8", ep}, "cannot be used together"},
		{[]string{"-domain", "d", "-allow", "not-an-ip", ep}, "not an IP address or CIDR range"},
		{[]string{"-domain", "d", "-deny", "10.0.0.0/33", ep}, "not an IP address or CIDR range"},
		{[]string{"-mechanism", "plain", "-plain-user", "u", "-allow", "1.2.3.4", ep}, "for the side that asks ZAP"},
	} {
		var stderr bytes.Buffer
		code := run(tc.args, strings.NewReader(""), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("zmtpcat %q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestUsageAccepted: flag sets that parse do not exit 2. Those whose
// files or keys are missing exit 1 at once; the others start (connecting
// to an endpoint nobody listens on, which is no error) and are stopped.
func TestUsageAccepted(t *testing.T) {
	ep := deadEndpoint(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{ep}, 0},
		{[]string{"-type", "sub", "-subscribe", "A", "-subscribe", "", ep}, 0},
		{[]string{"-type", "REQ", "-identity", "me", "-n", "3", "-hex", "-handshake-timeout", "1s", ep}, 0},
		{[]string{"-retry", "-linger", "0", ep}, 0},
		{[]string{"-domain", "d", ep}, 0},
		{[]string{"-domain", "d", "-deny", "10.0.0.0/8", "-deny", "::1", ep}, 0},
		{[]string{"-mechanism", "plain", "-plain-user", "u", ep}, 0},
		{[]string{"-mechanism", "plain", "-plain-user", "u", "-plain-password-file", filepath.Join(dir, "missing"), ep}, 1},
		{[]string{"-mechanism", "plain", "-plain-server", "-allow", "127.0.0.1", ep}, 0},
		{[]string{"-mechanism", "plain", "-plain-server", "-passwords", filepath.Join(dir, "missing"), ep}, 1},
		{[]string{"-mechanism", "curve", "-server-key", "not-a-key", ep}, 1},
		{[]string{"-mechanism", "curve", "-curve-server", "-cert", filepath.Join(dir, "missing"), "-allow-any", ep}, 1},
	} {
		var stderr syncBuffer
		stop := make(chan struct{})
		timer := time.AfterFunc(100*time.Millisecond, func() { close(stop) })
		code := runUntil(&Program{}, tc.args, strings.NewReader(""), io.Discard, &stderr, stop)
		timer.Stop()
		if code != tc.want {
			t.Errorf("zmtpcat %q: exit %d, want %d (%s)", tc.args, code, tc.want, stderr.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-h"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	if stderr.String() != usage {
		t.Errorf("-h printed %q, want the usage text", stderr.String())
	}
	// A bad flag prints the error and the usage text.
	stderr.Reset()
	run([]string{"-bogus"}, strings.NewReader(""), io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "-bogus") || !strings.Contains(stderr.String(), usage) {
		t.Errorf("bad flag printed %q", stderr.String())
	}
}

// TestUsageListsEveryFlag keeps the usage text in step with the flags.
func TestUsageListsEveryFlag(t *testing.T) {
	var typ string
	fs := newFlagSet(&options{}, &typ, io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(usage, "  -"+f.Name+" ") {
			t.Errorf("usage does not list -%s", f.Name)
		}
	})
	if n != 25 {
		t.Errorf("%d flags; update this test and the usage text together", n)
	}
}

// TestPlainPasswordFlagRefused: -plain-password is a usage error that names
// the alternatives and does not repeat the password.
func TestPlainPasswordFlagRefused(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"-mechanism", "plain", "-plain-user", "u", "-plain-password", "hunter2", "tcp://127.0.0.1:1"}, strings.NewReader(""), io.Discard, &stderr)
	if code != 2 || strings.Contains(stderr.String(), "hunter2") || !strings.Contains(stderr.String(), "-plain-password-file") {
		t.Fatalf("exit %d, stderr %q; want 2, the alternatives, and no password", code, stderr.String())
	}
}
