package krbtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStart starts a realm, checks what it made and that its KDC serves
// both TCP and UDP, stops it and checks that it is gone.
func TestStart(t *testing.T) {
	if os.Getenv("KRBTEST_EXPECT_UID") != "" {
		// Run as another user by TestStartUnprivileged.
		if want := os.Getenv("KRBTEST_EXPECT_UID"); fmt.Sprint(os.Getuid()) != want {
			t.Fatalf("uid %d, want %s", os.Getuid(), want)
		}
	}
	began := time.Now()
	r := Start(t)
	setup := time.Since(began)

	if r.Name != RealmName || r.ServicePrincipal != "zmqtest/localhost@ZMTP.TEST" || r.ClientPrincipal != "alice@ZMTP.TEST" ||
		r.ServiceName != "zmqtest@localhost" || r.ClientName != "alice" || r.Password != ClientPassword {
		t.Errorf("names: %+v", r)
	}
	if !slices.Equal(r.Enctypes, DefaultEnctypes) {
		t.Errorf("Enctypes = %v, want %v", r.Enctypes, DefaultEnctypes)
	}
	for _, p := range []string{r.Dir, r.Krb5Conf, r.KDCConf, r.ServiceKeytab, r.ClientKeytab, r.AllKeytab, r.RcacheDir, r.KDCLog, r.KDCStderr} {
		if !filepath.IsAbs(p) || !strings.HasPrefix(p, r.Dir) {
			t.Errorf("%s is not an absolute path in %s", p, r.Dir)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if !regexp.MustCompile(`^MEMORY:krbtest-[0-9a-f]{12}$`).MatchString(r.CCache) {
		t.Errorf("CCache = %q", r.CCache)
	}

	// The keytabs, read back independently of the realm's own check.
	want := map[string][]string{
		r.ServiceKeytab: {"zmqtest/localhost@ZMTP.TEST 1 18 1", "zmqtest/localhost@ZMTP.TEST 1 17 1"},
		r.ClientKeytab:  {"alice@ZMTP.TEST 1 18 1", "alice@ZMTP.TEST 1 17 1"},
		r.AllKeytab: {"alice@ZMTP.TEST 1 18 1", "alice@ZMTP.TEST 1 17 1",
			"zmqtest/localhost@ZMTP.TEST 1 18 1", "zmqtest/localhost@ZMTP.TEST 1 17 1"},
	}
	for path, w := range want {
		es, err := ReadKeytab(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, fmt.Sprintf("%s %d %d %d", e.Principal, e.KVNO, e.Etype, e.NameType))
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s: %q, want %q", filepath.Base(path), got, w)
		}
	}

	// The environment points at the realm, and only there.
	env := map[string]string{}
	for _, kv := range r.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	wantEnv := map[string]string{
		"KRB5_CONFIG":        r.Krb5Conf,
		"KRB5_KDC_PROFILE":   r.KDCConf,
		"KRB5_KTNAME":        "FILE:" + r.ServiceKeytab,
		"KRB5_CLIENT_KTNAME": "FILE:" + r.ClientKeytab,
		"KRB5CCNAME":         r.CCache,
		"KRB5RCACHEDIR":      r.RcacheDir,
	}
	if fmt.Sprint(env) != fmt.Sprint(wantEnv) {
		t.Errorf("Env() = %v, want %v", env, wantEnv)
	}
	conf, err := os.ReadFile(r.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"kdc = " + r.KDCAddr, "udp_preference_limit = 1", "dns_canonicalize_hostname = false",
		"default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"} {
		if !bytes.Contains(conf, []byte(line)) {
			t.Errorf("krb5.conf lacks %q", line)
		}
	}

	// The KDC holds its port in TCP (it answers) and in UDP (the port
	// cannot be bound).
	host, _, err := net.SplitHostPort(r.KDCAddr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("KDCAddr %q: want 127.0.0.1:port", r.KDCAddr)
	}
	c, err := net.DialTimeout("tcp", r.KDCAddr, time.Second)
	if err != nil {
		t.Fatalf("KDC over TCP: %v", err)
	}
	c.Close()
	if u, err := net.ListenPacket("udp", r.KDCAddr); err == nil {
		u.Close()
		t.Errorf("UDP %s could be bound: the KDC is not on it", r.KDCAddr)
	}
	proc := r.kdc.cmd.Process

	began = time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("set-up %v, teardown %v", setup.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	select {
	case <-r.kdc.exited:
	default:
		t.Fatal("Close returned before the KDC was reaped")
	}
	if err := proc.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("the KDC after Close: Signal(0) = %v, want os.ErrProcessDone", err)
	}
	if l, err := net.Listen("tcp", r.KDCAddr); err != nil {
		t.Errorf("the KDC's port after Close: %v", err)
	} else {
		l.Close()
	}
	// A second Close (the t.Cleanup that Start registered runs a third)
	// is harmless.
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestKinit gets tickets from each kind of realm with MIT's own client
// (krb5-user), from the client keytab and from the password, and checks
// that both tickets and session keys have the realm's first enctype.
func TestKinit(t *testing.T) {
	kinit, ok1 := LookTool("kinit")
	kvno, ok2 := LookTool("kvno")
	klist, ok3 := LookTool("klist")
	if !ok1 || !ok2 || !ok3 {
		if os.Getenv("CI") == "true" {
			t.Fatal("kinit, kvno or klist missing (krb5-user), and CI=true: run `make deps`")
		}
		t.Skip("kinit, kvno or klist missing: `make deps` installs them (krb5-user)")
	}
	cases := [][]Enctype{nil, {AES128SHA1}, {AES256SHA1}, {AES128SHA256}, {AES256SHA384}, {AES256SHA384, AES128SHA1}}
	for _, es := range cases {
		name := "default"
		if es != nil {
			name = fmt.Sprint(es)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if es != nil {
				opts = append(opts, WithEnctypes(es...))
			} else {
				es = DefaultEnctypes
			}
			r := Start(t, opts...)
			cc := "FILE:" + filepath.Join(r.Dir, "cc")
			run := func(stdin string, name string, args ...string) string {
				t.Helper()
				cmd := exec.Command(name, args...)
				cmd.Env = append(r.childEnv(), "KRB5CCNAME="+cc)
				cmd.Stdin = strings.NewReader(stdin)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s %q: %v\n%s\n%s", name, args, err, out, r.kdcLogs(0))
				}
				return string(out)
			}
			wantEtypes := fmt.Sprintf("Etype (skey, tkt): %s, %s", es[0], es[0])
			for _, how := range []string{"keytab", "password"} {
				if how == "keytab" {
					run("", kinit, "-k", "-t", r.ClientKeytab, r.ClientPrincipal)
				} else {
					run(r.Password+"\n", kinit, r.ClientPrincipal)
				}
				run("", kvno, r.ServicePrincipal)
				out := run("", klist, "-e")
				if !strings.Contains(out, "Default principal: "+r.ClientPrincipal) || !strings.Contains(out, r.ServicePrincipal) {
					t.Errorf("%s: klist:\n%s", how, out)
				}
				if n := strings.Count(out, wantEtypes); n != 2 {
					t.Errorf("%s: %d tickets with %q, want 2 (TGT, service):\n%s", how, n, wantEtypes, out)
				}
			}
			// A wrong password is refused: the check above is not vacuous.
			cmd := exec.Command(kinit, r.ClientPrincipal)
			cmd.Env = append(r.childEnv(), "KRB5CCNAME="+cc)
			cmd.Stdin = strings.NewReader("not-the-password\n")
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("kinit with a wrong password succeeded:\n%s", out)
			}
		})
	}
}

// TestKDCDeath checks that a KDC that dies is reported by Close, with its
// log.
func TestKDCDeath(t *testing.T) {
	r := Start(t)
	r.kdc.cmd.Process.Kill()
	<-r.kdc.exited
	err := r.Close()
	if err == nil || !strings.Contains(err.Error(), "had died") || !strings.Contains(err.Error(), "commencing operation") {
		t.Fatalf("Close after the KDC died = %v; want an error with its log", err)
	}
	if err2 := r.Close(); err2 != err {
		t.Errorf("second Close = %v, want the first's result", err2)
	}
	// The t.Cleanup that Start registered would report it again: the
	// test owns that report now.
	r.closeErr = nil
}

// TestPortTaken takes the KDC's port while it is down and restarts it: it
// must move to another port, and rewrite krb5.conf to match.
func TestPortTaken(t *testing.T) {
	r := Start(t)
	if err := r.kdc.stop(r); err != nil {
		t.Fatal(err)
	}
	old := r.KDCAddr
	l, err := net.Listen("tcp", old)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tools, err := lookTools()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.startKDC(tools); err != nil {
		t.Fatal(err)
	}
	if r.KDCAddr == old {
		t.Fatalf("KDC restarted on its taken port %s", old)
	}
	if !strings.Contains(r.kdcLogs(0), "Address already in use") {
		t.Errorf("the log does not show the first attempt's failure:\n%s", r.kdcLogs(0))
	}
	conf, _ := os.ReadFile(r.Krb5Conf)
	if !bytes.Contains(conf, []byte("kdc = "+r.KDCAddr+"\n")) {
		t.Errorf("krb5.conf does not name the new port %s:\n%s", r.KDCAddr, conf)
	}
	c, err := net.DialTimeout("tcp", r.KDCAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestOptions checks the options New refuses.
func TestOptions(t *testing.T) {
	for _, opts := range [][]Option{{WithEnctypes()}, {WithEnctypes("des-cbc-crc")}, {WithEnctypes(AES128SHA1, "arcfour-hmac")}} {
		r, err := New(t.TempDir(), opts...)
		if err == nil {
			r.Close()
			t.Errorf("New accepted %v", opts)
		}
	}
	for _, e := range Enctypes {
		if e.Number() == 0 {
			t.Errorf("%s has no number", e)
		}
	}
	if got := Enctype("des-cbc-crc").Number(); got != 0 {
		t.Errorf("unknown enctype number %d", got)
	}
}

// fakeTB records what Require does to a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

// TestRequireMissingTools checks the skip-or-fail rule with the tools
// hidden.
func TestRequireMissingTools(t *testing.T) {
	saved := lookOnce
	t.Cleanup(func() { lookOnce = saved })
	lookOnce = func() (tools, error) {
		return tools{}, &ToolsMissingError{Missing: []string{"krb5kdc", "kadmin.local"}}
	}

	if _, err := New(t.TempDir()); !errors.Is(err, ErrToolsMissing) {
		t.Errorf("New without tools: %v, want ErrToolsMissing", err)
	}
	var tme *ToolsMissingError
	if err := LookTools(); !errors.As(err, &tme) || !slices.Equal(tme.Missing, []string{"krb5kdc", "kadmin.local"}) {
		t.Errorf("LookTools = %v", err)
	}
	for _, ci := range []string{"", "1", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		Require(f)
		msg := f.skipped
		if ci == "true" {
			if f.skipped != "" || f.failed == "" {
				t.Errorf("CI=%q: skipped %q, failed %q; want a failure", ci, f.skipped, f.failed)
			}
			msg = f.failed
		} else if f.failed != "" || f.skipped == "" {
			t.Errorf("CI=%q: skipped %q, failed %q; want a skip", ci, f.skipped, f.failed)
		}
		for _, w := range []string{"make deps", "krb5kdc, kadmin.local"} {
			if !strings.Contains(msg, w) {
				t.Errorf("CI=%q: %q does not say %q", ci, msg, w)
			}
		}
	}
}

// TestStartUnprivileged runs TestStart again as nobody, through setpriv,
// as a container without root would: only installing the tools needs
// root. It needs root to switch, and a copy of the test binary that
// nobody can run.
func TestStartUnprivileged(t *testing.T) {
	if os.Getenv("KRBTEST_EXPECT_UID") != "" {
		t.Skip("already the unprivileged run")
	}
	setpriv, ok := LookTool("setpriv")
	if os.Getuid() != 0 || !ok {
		t.Skip("needs root and setpriv (util-linux)")
	}
	Require(t)
	const nobody = 65534
	dir, err := os.MkdirTemp("", "krbtest-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "krbtest.test")
	if err := copyFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		bin, "-test.run=^TestStart$", "-test.v", "-test.count=1", "-test.timeout=60s")
	cmd.Dir = tmp
	// PATH without the sbin directories, as an unprivileged user's often
	// is: LookTool must find the tools anyway.
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "HOME="+tmp, "KRBTEST_EXPECT_UID=65534", "PATH=/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err != nil {
		t.Fatalf("TestStart as nobody: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestStart")) {
		t.Fatal("TestStart did not pass as nobody")
	}
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
