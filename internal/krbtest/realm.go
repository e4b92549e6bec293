package krbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// writeConfigs writes krb5.conf and kdc.conf for a KDC on 127.0.0.1:port.
// Both are written whole each time, so that a retry on another port
// rewrites them.
func (r *Realm) writeConfigs(port int) error {
	r.KDCAddr = fmt.Sprintf("127.0.0.1:%d", port)
	var list []string
	for _, e := range r.Enctypes {
		list = append(list, string(e))
	}
	enctypes := strings.Join(list, " ")

	// The client side. No DNS at all, no reverse lookups, host names taken
	// as given (so zmqtest@localhost is zmqtest/localhost), TCP first
	// (every message is over the 1-byte UDP limit), and the enctypes asked
	// for limited to the realm's, so that session keys have the first of
	// them (docs/gssapi-realm.md#enctypes).
	krb5 := fmt.Sprintf(`# krbtest: a throwaway test realm; see docs/gssapi-realm.md.
[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	permitted_enctypes = %[3]s
	default_tkt_enctypes = %[3]s
	default_tgs_enctypes = %[3]s

[realms]
	%[1]s = {
		kdc = %[2]s
	}

[domain_realm]
	localhost = %[1]s
`, r.Name, r.KDCAddr, enctypes)

	var keysalts []string
	for _, e := range r.Enctypes {
		keysalts = append(keysalts, string(e)+":normal")
	}
	// The KDC side: the database, the stash and the logs in Dir; only the
	// loopback address, TCP and UDP, on one port; every key of the
	// realm's types, the master key and krbtgt's included. SPAKE is
	// disabled only to keep its "no groups configured" error out of the
	// log that a failure shows.
	kdc := fmt.Sprintf(`# krbtest: a throwaway test realm; see docs/gssapi-realm.md.
[kdcdefaults]
	kdc_listen = %[2]s
	kdc_tcp_listen = %[2]s

[realms]
	%[1]s = {
		database_name = %[3]s
		key_stash_file = %[4]s
		master_key_type = %[5]s
		supported_enctypes = %[6]s
		max_life = 10h
	}

[plugins]
	kdcpreauth = {
		disable = spake
	}

[logging]
	kdc = FILE:%[7]s
	admin_server = FILE:%[8]s
	default = FILE:%[8]s
`, r.Name, r.KDCAddr,
		filepath.Join(r.Dir, "db", "principal"), filepath.Join(r.Dir, "db", "stash"),
		r.Enctypes[0], strings.Join(keysalts, " "),
		r.KDCLog, filepath.Join(r.Dir, "kadmin.log"))

	if err := os.WriteFile(r.Krb5Conf, []byte(krb5), 0o600); err != nil {
		return fmt.Errorf("krbtest: %w", err)
	}
	if err := os.WriteFile(r.KDCConf, []byte(kdc), 0o600); err != nil {
		return fmt.Errorf("krbtest: %w", err)
	}
	return nil
}

// create writes the profiles and makes the database, the principals and
// the keytabs (docs/gssapi-realm.md#the-test-realm).
func (r *Realm) create(t tools) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := r.writeConfigs(port); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, "db"), 0o700); err != nil {
		return fmt.Errorf("krbtest: %w", err)
	}

	// The master password goes through standard input (kdb5_util asks for
	// it twice), never on a command line; nothing ever needs it again,
	// since -s stashes the master key.
	var mk [16]byte
	if _, err := rand.Read(mk[:]); err != nil {
		return fmt.Errorf("krbtest: %w", err)
	}
	master := hex.EncodeToString(mk[:])
	if _, err := r.run("kdb5_util create", master+"\n"+master+"\n",
		t.kdb5util, "-r", r.Name, "create", "-s"); err != nil {
		return err
	}

	// One kadmin.local reads every request from standard input, so that
	// the password is not on a command line either. kadmin.local exits 0
	// whatever its requests did (a failed addprinc or ktadd included), so
	// the keytabs are checked afterwards instead.
	var e []string
	for _, x := range r.Enctypes {
		e = append(e, string(x)+":normal")
	}
	keysalts := strings.Join(e, ",")
	svc := strings.TrimSuffix(r.ServicePrincipal, "@"+r.Name)
	// The keys are made once, by addprinc; every ktadd exports them with
	// -norandkey (a plain ktadd would give the principal a new key, and
	// make the keytabs written before it stale).
	script := strings.Join([]string{
		fmt.Sprintf("addprinc -randkey -e %s %s", keysalts, svc),
		fmt.Sprintf("addprinc -pw %q -e %s %s", r.Password, keysalts, r.ClientName),
		fmt.Sprintf("ktadd -norandkey -k %s %s", r.ServiceKeytab, svc),
		fmt.Sprintf("ktadd -norandkey -k %s %s", r.ClientKeytab, r.ClientName),
		fmt.Sprintf("ktadd -norandkey -k %s %s %s", r.AllKeytab, r.ClientName, svc),
	}, "\n") + "\n"
	out, err := r.run("kadmin.local", script, t.kadminLocal, "-r", r.Name)
	if err != nil {
		return err
	}
	for _, kt := range []struct {
		path  string
		princ []string
	}{
		{r.ServiceKeytab, []string{r.ServicePrincipal}},
		{r.ClientKeytab, []string{r.ClientPrincipal}},
		{r.AllKeytab, []string{r.ClientPrincipal, r.ServicePrincipal}},
	} {
		if err := r.checkKeytab(kt.path, kt.princ); err != nil {
			return fmt.Errorf("%w\nkadmin.local said:\n%s", err, tail(out, 4096))
		}
	}
	return nil
}

// checkKeytab checks that the keytab at path holds, for each principal in
// order, one key of each of the realm's enctypes, with version 1.
func (r *Realm) checkKeytab(path string, princs []string) error {
	entries, err := ReadKeytab(path)
	if err != nil {
		return err
	}
	var got, want []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s kvno %d etype %d", e.Principal, e.KVNO, e.Etype))
	}
	for _, p := range princs {
		for _, e := range r.Enctypes {
			want = append(want, fmt.Sprintf("%s kvno 1 etype %d", p, e.Number()))
		}
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("krbtest: keytab %s holds %q, want %q", filepath.Base(path), got, want)
	}
	return nil
}

// run runs one MIT tool with r's environment, input on standard input,
// within commandTimeout, and returns its combined output. The output is
// returned, and quoted in errors, with the client's password blanked out
// (kadmin.local echoes its requests).
func (r *Realm) run(what, input, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.Dir
	cmd.Env = r.childEnv()
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	text := strings.ReplaceAll(out.String(), r.Password, "***")
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %v: %w", commandTimeout, ctx.Err())
		}
		return text, fmt.Errorf("krbtest: %s: %w\n%s", what, err, tail(text, 4096))
	}
	return text, nil
}

// childEnv is the environment of the tools and of the KDC: the process's,
// without any KRB5* variable it may have, plus r's.
func (r *Realm) childEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "KRB5") })
	return append(env, r.Env()...)
}

// tail returns the last n bytes of s, marked when cut.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "[...]" + s[len(s)-n:]
}

// readTail returns the last n bytes of the file at path, or a note saying
// why it cannot.
func readTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(" + filepath.Base(path) + " does not exist)"
		}
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "(" + err.Error() + ")"
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return "(" + err.Error() + ")"
	}
	s := string(b)
	if off > 0 {
		s = "[...]" + s
	}
	if s == "" {
		return "(" + filepath.Base(path) + " is empty)"
	}
	return s
}
