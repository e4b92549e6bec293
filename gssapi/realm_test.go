// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/krbtest"
)

// testRealm is a throwaway MIT KDC on loopback (docs/gssapi.md#a-test-realm),
// for the tests that need a real KDC. Without the MIT tools the tests that
// use it are skipped, or fail when CI=true, by internal/krbtest's rule
// (krbtest.Require); the tools are found as krbtest finds them, in $PATH
// and then in the sbin directories Debian installs them in.
//
// It keeps its own principals (alice's password is "alice-password", which
// the tests use) rather than krbtest.Start's realm.
type testRealm struct {
	dir, conf string
	env       []string
	port      int
}

const realmName = "ZMTP.TEST"

func startRealm(t *testing.T) *testRealm {
	t.Helper()
	krbtest.Require(t)
	r := &testRealm{dir: t.TempDir(), port: freePort(t)}
	r.conf = filepath.Join(r.dir, "krb5.conf")
	listen := fmt.Sprintf("127.0.0.1:%d", r.port)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("krb5.conf", fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1
[realms]
 %[1]s = {
  kdc = %[2]s
 }
`, realmName, listen))
	write("kdc.conf", fmt.Sprintf(`[kdcdefaults]
 kdc_listen = %[2]s
 kdc_tcp_listen = %[2]s
[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  kdc_listen = %[2]s
  kdc_tcp_listen = %[2]s
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
`, realmName, listen, r.dir))
	write("kadm5.acl", "")
	r.env = append(os.Environ(), "KRB5_CONFIG="+r.conf, "KRB5_KDC_PROFILE="+filepath.Join(r.dir, "kdc.conf"),
		"KRB5CCNAME=FILE:"+filepath.Join(r.dir, "ccache-default"), "KRB5RCACHEDIR="+r.dir)
	r.run(t, "kdb5_util", "create", "-s", "-r", realmName, "-P", "master-password")
	for _, q := range []string{
		"addprinc -randkey zmqtest/localhost",
		"addprinc -pw alice-password alice",
		"ktadd -k " + r.path("service.keytab") + " zmqtest/localhost",
		"ktadd -k " + r.path("client.keytab") + " -norandkey alice",
	} {
		r.run(t, "kadmin.local", "-r", realmName, "-q", q)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kdc := exec.CommandContext(ctx, tool(t, "krb5kdc"), "-n", "-r", realmName)
	kdc.Env = r.env
	if err := kdc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); kdc.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(r.path("kdc.log"))
			t.Fatalf("KDC not listening after 10 s: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *testRealm) path(name string) string { return filepath.Join(r.dir, name) }

func (r *testRealm) run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// tool returns the path of an MIT command, failing t without it (kinit and
// kvno are not among the tools krbtest.Require checks).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, ok := krbtest.LookTool(name)
	if !ok {
		t.Fatalf("%s not found: `make deps` installs MIT's tools", name)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
