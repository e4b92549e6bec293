package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/krbtest"
)

// syncBuffer is a bytes buffer safe for the concurrent writes of a run.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (\S+)`)

// serve runs a zmtpcat server with args until the test ends, and returns
// its endpoint and standard error.
func serve(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- program().Run(ctx, append([]string{"-bind"}, append(args, "tcp://127.0.0.1:0")...),
			strings.NewReader(""), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("server %q: exit %d (%s)", args, code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("server %q did not end", args)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		}
		if len(done) > 0 || time.Now().After(deadline) {
			t.Fatalf("server %q did not start: %s", args, stderr.String())
		}
	}
}

// eventually reports whether cond became true within 5 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// request runs a zmtpcat REQ client that sends hello and waits for one
// reply.
func request(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code = program().Run(ctx, append([]string{"-type", "REQ", "-n", "1", "-handshake-timeout", "10s"}, args...),
		strings.NewReader("hello\n"), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("client %q did not finish: %s", args, errb.String())
	}
	return code, out.String(), errb.String()
}

// TestGSSAPISessions runs our GSSAPI client against our GSSAPI server in a
// throwaway MIT realm, with each ticket source, sealed and plaintext.
func TestGSSAPISessions(t *testing.T) {
	r := krbtest.Start(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(r.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ccache := "FILE:" + filepath.Join(dir, "ccache")
	kinit, ok := krbtest.LookTool("kinit")
	if !ok {
		t.Fatal("kinit not found (krb5-user)")
	}
	cmd := exec.Command(kinit, "-c", ccache, "-k", "-t", r.ClientKeytab, r.ClientPrincipal)
	cmd.Env = append(os.Environ(), r.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}

	conf := []string{"-mechanism", "gssapi", "-gssapi-krb5-conf", r.Krb5Conf}
	server := append(conf, "-type", "REP", "-echo", "-gssapi-server", "-gssapi-keytab", r.ServiceKeytab)
	client := append(conf, "-gssapi-service", r.ServiceName)
	sources := map[string][]string{
		"keytab":   {"-gssapi-principal", r.ClientName, "-gssapi-keytab", r.ClientKeytab},
		"password": {"-gssapi-principal", r.ClientPrincipal, "-gssapi-password-file", pwFile},
		"ccache":   {"-gssapi-ccache", ccache},
	}
	for _, mode := range []string{"sealed", "plaintext"} {
		var extra []string
		if mode == "plaintext" {
			extra = []string{"-gssapi-plaintext"}
		}
		// With a principal list the server asks ZAP, whose user id (the
		// principal) its outcome line prints.
		ep, serr := serve(t, append(append(server, extra...), "-gssapi-principal", r.ServicePrincipal,
			"-gssapi-allow-principal", r.ClientPrincipal)...)
		for name, src := range sources {
			t.Run(mode+"/"+name, func(t *testing.T) {
				code, out, errb := request(t, append(append(append(client, extra...), src...), ep)...)
				if code != 0 || out != "hello\n" || !strings.Contains(errb, "mechanism GSSAPI") {
					t.Errorf("exit %d, stdout %q, stderr %q", code, out, errb)
				}
			})
		}
		t.Run(mode+"/server log", func(t *testing.T) {
			if !strings.Contains(serr.String(), `peer user-id "alice@ZMTP.TEST"`) {
				t.Errorf("the server's log lacks alice's user id: %s", serr.String())
			}
		})
	}

	t.Run("README", func(t *testing.T) {
		// The README's commands as they are: the server with only its
		// keytab, the client with only the service name, its tickets
		// from kinit's cache ($KRB5CCNAME) and its realm from
		// $KRB5_CONFIG, as MIT's own tools find them.
		t.Setenv("KRB5_CONFIG", r.Krb5Conf)
		t.Setenv("KRB5CCNAME", ccache)
		ep, _ := serve(t, "-type", "REP", "-echo", "-mechanism", "gssapi", "-gssapi-server", "-gssapi-keytab", r.ServiceKeytab)
		code, out, errb := request(t, "-mechanism", "gssapi", "-gssapi-service", r.ServiceName, ep)
		if code != 0 || out != "hello\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errb)
		}
	})

	t.Run("refused by ZAP", func(t *testing.T) {
		// GSSAPI has no ERROR command: the server closes without a word,
		// and says why on its side.
		ep, serr := serve(t, append(server, "-gssapi-allow-principal", "bob@ZMTP.TEST")...)
		code, out, errb := request(t, append(client, append(sources["keytab"], ep)...)...)
		if code != 1 || out != "" || !strings.Contains(errb, "GSSAPI has no ERROR") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and a silent close", code, out, errb)
		}
		// The server closes, then logs: its line may come a moment
		// after the client has seen the close.
		if !eventually(func() bool { return strings.Contains(serr.String(), "400") }) {
			t.Errorf("server log lacks the 400: %s", serr.String())
		}
	})
	t.Run("plaintext mismatch", func(t *testing.T) {
		ep, _ := serve(t, append(server, "-gssapi-plaintext")...)
		code, out, errb := request(t, append(client, append(sources["keytab"], ep)...)...)
		if code != 1 || out != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1", code, out, errb)
		}
	})
	t.Run("unknown service", func(t *testing.T) {
		ep, _ := serve(t, server...)
		code, out, errb := request(t, append(conf, append(append([]string{"-gssapi-service", "nosuch@localhost"}, sources["keytab"]...), ep)...)...)
		if code != 1 || out != "" || strings.Contains(errb, r.Password) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1", code, out, errb)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		if err := os.WriteFile(bad, []byte("not-the-password-4711\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ep, _ := serve(t, server...)
		code, out, errb := request(t, append(client, "-gssapi-principal", r.ClientName, "-gssapi-password-file", bad, ep)...)
		if code != 1 || out != "" || strings.Contains(errb, "not-the-password-4711") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and no password", code, out, errb)
		}
	})
}

// TestGSSAPIUsage: bad GSSAPI flag sets are usage errors (status 2) before
// any file is read.
func TestGSSAPIUsage(t *testing.T) {
	const ep = "tcp://127.0.0.1:1"
	g := []string{"-mechanism", "gssapi"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-gssapi-service", "s@h", ep}, "-gssapi-service needs -mechanism gssapi"},
		{append(g, ep), "a GSSAPI client needs -gssapi-service"},
		{append(g, "-gssapi-server", ep), "-gssapi-server needs -gssapi-keytab"},
		{append(g, "-gssapi-server", "-gssapi-keytab", "k", "-gssapi-service", "s@h", ep), "-gssapi-service is for GSSAPI clients"},
		{append(g, "-gssapi-server", "-gssapi-keytab", "k", "-gssapi-ccache", "c", ep), "are for GSSAPI clients"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-keytab", "k", ep), "need -gssapi-principal"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", ep), "needs -gssapi-keytab or -gssapi-password-file"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", "-gssapi-keytab", "k", "-gssapi-ccache", "c", ep), "cannot be used together"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-allow-principal", "a@R", ep), "-gssapi-allow-principal needs -gssapi-server"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", "-gssapi-password", "hunter2", ep), "use -gssapi-password-file"},
		{append(g, "-gssapi-service", "s@h", "-plain-user", "u", ep), "PLAIN flags with -mechanism gssapi"},
		{append(g, "-gssapi-service", "s@h", "-allow", "127.0.0.1", ep), "for the side that asks ZAP"},
	} {
		var stderr syncBuffer
		code := program().Run(context.Background(), tc.args, strings.NewReader(""), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || strings.Contains(stderr.String(), "hunter2") {
			t.Errorf("zmtpcat %q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	// The help text lists every GSSAPI flag.
	var stderr syncBuffer
	if code := program().Run(context.Background(), []string{"-h"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, f := range []string{"server", "service", "principal", "keytab", "password-file", "password", "ccache", "krb5-conf", "allow-principal", "plaintext"} {
		if !strings.Contains(stderr.String(), "  -gssapi-"+f+" ") && !strings.Contains(stderr.String(), "  -gssapi-"+f+"\n") {
			t.Errorf("help lacks -gssapi-%s", f)
		}
	}
	if !strings.Contains(stderr.String(), "-mechanism M          null, plain, curve or gssapi") {
		t.Errorf("help's -mechanism line: %s", stderr.String())
	}
}

// TestGSSAPIFiles: unreadable credentials end the run with status 1
// without quoting a password.
func TestGSSAPIFiles(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n default_realm = ZMTP.TEST\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	twoLines := filepath.Join(dir, "two")
	if err := os.WriteFile(twoLines, []byte("secret-one\nsecret-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.keytab")
	if err := os.WriteFile(garbage, []byte("\x05\x02garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := []string{"-mechanism", "gssapi", "-gssapi-krb5-conf", conf}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", "-gssapi-password-file", twoLines), "want one line of at most 1024 bytes"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", "-gssapi-password-file", empty), "the password is empty"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", "-gssapi-password-file", dir), "a directory, not a file"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-principal", "a", "-gssapi-keytab", garbage), "-gssapi-keytab"},
		{append(g, "-gssapi-server", "-gssapi-keytab", filepath.Join(dir, "missing")), "-gssapi-keytab"},
		{append(g, "-gssapi-service", "s@h", "-gssapi-ccache", "KEYRING:persistent:0"), "-gssapi-ccache"},
		{[]string{"-mechanism", "gssapi", "-gssapi-krb5-conf", filepath.Join(dir, "missing"), "-gssapi-service", "s@h"}, "-gssapi-krb5-conf"},
	} {
		var stderr syncBuffer
		code := program().Run(context.Background(), append(tc.args, "tcp://127.0.0.1:1"), strings.NewReader(""), io.Discard, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) || strings.Contains(stderr.String(), "secret-") {
			t.Errorf("zmtpcat %q: exit %d, stderr %q; want exit 1 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
