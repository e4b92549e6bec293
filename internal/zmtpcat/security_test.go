package zmtpcat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
)

// saveCert writes a new certificate pair NAME.key, NAME.key_secret into
// dir/NAME and returns the two paths.
func saveCert(t *testing.T, dir, name string) (public, secret string) {
	t.Helper()
	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, name)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &cert.Certificate{Public: kp.Public, Secret: &kp.Secret}
	public, secret, err = c.Save(sub, name, cert.LayoutPyzmq, nil)
	if err != nil {
		t.Fatal(err)
	}
	return public, secret
}

func TestCurve(t *testing.T) {
	dir := t.TempDir()
	serverPublic, serverSecret := saveCert(t, dir, "server")
	clientPublic, clientSecret := saveCert(t, dir, "client")
	_, strangerSecret := saveCert(t, dir, "stranger")
	srv, ep := server(t, "-type", "ROUTER", "-echo", "-mechanism", "curve", "-curve-server",
		"-cert", serverSecret, "-client-certs", filepath.Join(dir, "client"), anyPort)

	code, out, errs := client(t, "secret\tstuff\n", "-mechanism", "curve", "-cert", clientSecret, "-server-key", serverPublic, "-n", "1", ep)
	if code != 0 || out != "secret\tstuff\n" || !strings.Contains(errs, "mechanism CURVE, peer type ROUTER") {
		t.Fatalf("allowed client: exit %d, %q, %s", code, out, errs)
	}
	// The server reports the client's key as its user id.
	c, err := cert.LoadCertificate(clientPublic)
	if err != nil {
		t.Fatal(err)
	}
	srv.logged(t, `mechanism CURVE, peer type DEALER, peer user-id "`+c.Public.String()+`"`)
	// -server-key also takes the key itself.
	s, err := cert.LoadCertificate(serverPublic)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := client(t, "z85\n", "-mechanism", "curve", "-cert", clientSecret, "-server-key", s.Public.String(), "-n", "1", ep); code != 0 || out != "z85\n" {
		t.Fatalf("-server-key in Z85: exit %d, %q, %s", code, out, errs)
	}
	// A key not in -client-certs is refused with ZAP 400, and so is a
	// client without a certificate (a fresh key).
	for _, args := range [][]string{{"-cert", strangerSecret}, {}} {
		args = append(append([]string{"-mechanism", "curve", "-server-key", serverPublic, "-n", "1"}, args...), ep)
		if code, _, errs := client(t, "x\n", args...); code != 1 || !strings.Contains(errs, `(ZAP status 400)`) {
			t.Errorf("%q: exit %d, %s", args, code, errs)
		}
	}
	// A client that has the wrong server key fails too.
	if code, _, errs := client(t, "x\n", "-mechanism", "curve", "-cert", clientSecret, "-server-key", clientPublic, "-n", "1", ep); code != 1 {
		t.Errorf("wrong server key: exit %d, %s", code, errs)
	}
}

func TestCurveAllowAny(t *testing.T) {
	dir := t.TempDir()
	serverPublic, serverSecret := saveCert(t, dir, "server")
	_, ep := server(t, "-type", "REP", "-echo", "-mechanism", "curve", "-curve-server", "-cert", serverSecret, "-allow-any", anyPort)
	code, out, errs := client(t, "anyone\n", "-type", "REQ", "-mechanism", "curve", "-server-key", serverPublic, "-n", "1", ep)
	if code != 0 || out != "anyone\n" {
		t.Fatalf("exit %d, %q, %s", code, out, errs)
	}
}

func TestPlain(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwords")
	if err := os.WriteFile(pw, []byte("admin=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, ep := server(t, "-type", "REP", "-echo", "-mechanism", "plain", "-plain-server", "-passwords", pw, anyPort)
	// The password comes from a file (one line; the line end is not part
	// of it), or from the environment, never from the command line.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := client(t, "hi\n", "-type", "REQ", "-mechanism", "plain", "-plain-user", "admin", "-plain-password-file", pwFile, "-n", "1", ep)
	if code != 0 || out != "hi\n" || !strings.Contains(errs, "mechanism PLAIN, peer type REP") {
		t.Fatalf("PLAIN: exit %d, %q, %s", code, out, errs)
	}
	srv.logged(t, `mechanism PLAIN, peer type REQ, peer user-id "admin", peer address 127.0.0.1`)
	t.Setenv(passwordEnv, "secret")
	code, out, errs = client(t, "env\n", "-type", "REQ", "-mechanism", "plain", "-plain-user", "admin", "-n", "1", ep)
	if code != 0 || out != "env\n" {
		t.Fatalf("password from $%s: exit %d, %q, %s", passwordEnv, code, out, errs)
	}
	if _, ok := os.LookupEnv(passwordEnv); ok {
		t.Errorf("$%s still set after it was read", passwordEnv)
	}
	t.Setenv(passwordEnv, "nope")
	code, _, errs = client(t, "hi\n", "-type", "REQ", "-mechanism", "plain", "-plain-user", "admin", "-n", "1", ep)
	if code != 1 || !strings.Contains(errs, `(ZAP status 400)`) {
		t.Fatalf("wrong password: exit %d, %s", code, errs)
	}
	// A file of more than one line, or too long, is refused.
	for _, content := range []string{"secret\nsecond line\n", strings.Repeat("x", 256)} {
		if err := os.WriteFile(pwFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs = client(t, "hi\n", "-type", "REQ", "-mechanism", "plain", "-plain-user", "admin", "-plain-password-file", pwFile, "-n", "1", ep)
		if code != 1 || !strings.Contains(errs, "want one line of at most 255 bytes") || strings.Contains(errs, "secret") {
			t.Fatalf("password file %q: exit %d, %s", content, code, errs)
		}
	}
	// A NULL client meets a PLAIN server: a mechanism mismatch.
	code, _, errs = client(t, "hi\n", "-type", "REQ", "-n", "1", ep)
	if code != 1 || !strings.Contains(errs, `peer uses mechanism "PLAIN"`) {
		t.Fatalf("NULL client: exit %d, %s", code, errs)
	}
}

// TestNullDomain: with -domain, NULL asks ZAP, and the address lists decide.
func TestNullDomain(t *testing.T) {
	_, ep := server(t, "-type", "ROUTER", "-echo", "-domain", "global", "-allow", "127.0.0.0/8", anyPort)
	code, out, errs := client(t, "let in\n", "-n", "1", ep)
	if code != 0 || out != "let in\n" {
		t.Fatalf("allowed: exit %d, %q, %s", code, out, errs)
	}
	_, ep = server(t, "-type", "ROUTER", "-echo", "-domain", "global", "-deny", "127.0.0.1", anyPort)
	if code, _, errs := client(t, "kept out\n", "-n", "1", ep); code != 1 || !strings.Contains(errs, `(ZAP status 400)`) {
		t.Fatalf("denied: exit %d, %s", code, errs)
	}
}

// TestOwnKeysPublicOnly: -cert naming a public certificate with no secret
// file beside it is an error that says what -cert wants, not a panic.
func TestOwnKeysPublicOnly(t *testing.T) {
	dir := t.TempDir()
	public, secret := saveCert(t, dir, "server")
	if err := os.Remove(secret); err != nil {
		t.Fatal(err)
	}
	_, err := ownKeys(public)
	if !errors.Is(err, cert.ErrNoSecretKey) || !strings.Contains(err.Error(), "-cert wants the secret certificate") {
		t.Fatalf("ownKeys(public certificate) = %v, want cert.ErrNoSecretKey naming -cert", err)
	}
	if strings.Count(err.Error(), "cert: ") != 1 {
		t.Errorf("error %q: the prefix is said more than once", err)
	}
}

// TestHandshakeRefusalExit: a server that refuses us (ZAP 400 in an ERROR)
// ends a connecting run with status 1, -n waiting or not, stdin at its end
// or not, and with -retry too: libzmq does not retry a refusal either.
func TestHandshakeRefusalExit(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwords")
	if err := os.WriteFile(pw, []byte("admin=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, ep := server(t, "-type", "ROUTER", "-echo", "-mechanism", "plain", "-plain-server", "-passwords", pw, anyPort)
	for _, args := range [][]string{
		{"-n", "1"},
		{},                    // the end of stdin comes first: the refusal is seen while lingering
		{"-retry", "-n", "1"}, // a refusal is not retried
	} {
		t.Setenv(passwordEnv, "wrong")
		args = append(append([]string{"-mechanism", "plain", "-plain-user", "admin"}, args...), ep)
		code, _, errs := client(t, "hi\n", args...)
		if code != 1 {
			t.Errorf("%q: exit %d, want 1: %s", args, code, errs)
		}
		if !strings.Contains(errs, "(ZAP status 400)") || strings.Count(errs, "handshake failed") != 1 {
			t.Errorf("%q: stderr %q, want one failure with ZAP status 400", args, errs)
		}
	}
	waitFor(t, "the server to report three refusals", func() bool {
		return strings.Count(srv.stderr.String(), "ZAP refused the peer with status 400") == 3
	})
}

// TestRetry: a CURVE client with the wrong server key meets a server that
// closes without a word. zmtpcat ends with status 1 at once; with -retry it
// tries again, as libzmq does, reporting each failure, until the right
// server is there.
func TestRetry(t *testing.T) {
	dir := t.TempDir()
	serverPublic, serverSecret := saveCert(t, dir, "server")
	_, otherSecret := saveCert(t, dir, "other")
	impostor, ep := server(t, "-type", "ROUTER", "-echo", "-mechanism", "curve", "-curve-server", "-cert", otherSecret, "-allow-any", anyPort)
	args := []string{"-mechanism", "curve", "-server-key", serverPublic, "-n", "1", ep}
	code, _, errs := client(t, "x\n", args...)
	if code != 1 || strings.Count(errs, "handshake failed") != 1 {
		t.Fatalf("wrong server key: exit %d, %s", code, errs)
	}

	cl := start(t, append([]string{"-retry"}, args...)...)
	cl.write(t, "for the right server\n")
	waitFor(t, "three failed handshakes", func() bool { return strings.Count(cl.stderr.String(), "handshake failed") >= 3 })
	if len(cl.exit) > 0 {
		t.Fatalf("-retry: exited: %s", cl.stderr.String())
	}
	impostor.stop()
	if code := impostor.wait(t); code != 0 {
		t.Fatalf("impostor: exit %d", code)
	}
	srv := start(t, "-bind", "-type", "ROUTER", "-echo", "-mechanism", "curve", "-curve-server", "-cert", serverSecret, "-allow-any", ep)
	if code := cl.wait(t); code != 0 || cl.stdout.String() != "for the right server\n" {
		t.Fatalf("-retry: exit %d, %q, %s", code, cl.stdout.String(), cl.stderr.String())
	}
	srv.logged(t, "accepted")
}
