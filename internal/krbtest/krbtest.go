// Package krbtest runs a throwaway MIT Kerberos realm for tests: a KDC
// database, two principals and their keytabs in a temporary directory, and a
// krb5kdc listening on a free loopback port, stopped when the test ends.
//
// It needs MIT's server tools (krb5kdc and kdb5_util from Debian's
// krb5-kdc, kadmin.local from krb5-admin-server), which `make deps`
// installs. Without them [Start] skips the test, unless the environment
// variable CI is "true", where it fails it: CI must never skip the
// GSSAPI tests silently.
//
// The realm never reads or writes /etc/krb5.conf or the system KDC's files:
// every file is in the realm's directory, and [Realm.Env] gives the
// variables (KRB5_CONFIG, KRB5_KDC_PROFILE, ...) that point MIT's libraries,
// and so libzmq's GSSAPI mechanism, at it. See
// docs/gssapi-realm.md#the-test-realm for the recipe and what MIT does
// with it.
//
// The package imports the standard library only, so that the nested modules
// (gssapi/, conformance/) can use it from their tests; only _test.go files
// import it (deps_test.go enforces that in the root module).
package krbtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Names in every realm this package makes.
const (
	// RealmName is the realm.
	RealmName = "ZMTP.TEST"
	// ServicePrincipal is the service, with a random key, in
	// [Realm.ServiceKeytab]. It is what libzmq's default host-based name
	// ServiceName becomes (docs/gssapi-realm.md#the-test-realm).
	ServicePrincipal = "zmqtest/localhost@" + RealmName
	// ServiceName is the service as a GSS host-based name, the form
	// ZMQ_GSSAPI_SERVICE_PRINCIPAL takes by default.
	ServiceName = "zmqtest@localhost"
	// ClientPrincipal is the client, in [Realm.ClientKeytab]; its key
	// derives from ClientPassword, so that both the keytab and the
	// password work.
	ClientPrincipal = "alice@" + RealmName
	// ClientName is the client's name without the realm.
	ClientName = "alice"
	// ClientPassword is the client's password. It is a test value, known
	// on purpose.
	ClientPassword = "alice-zmtp-test-password"
)

// Enctype is a Kerberos encryption type, named as MIT's kdc.conf and
// kadmin name it.
type Enctype string

// The encryption types a realm's keys can have: the AES families of
// RFC 3962 (HMAC-SHA1) and RFC 8009 (HMAC-SHA2).
const (
	AES256SHA1   Enctype = "aes256-cts-hmac-sha1-96"    // etype 18
	AES128SHA1   Enctype = "aes128-cts-hmac-sha1-96"    // etype 17
	AES128SHA256 Enctype = "aes128-cts-hmac-sha256-128" // etype 19
	AES256SHA384 Enctype = "aes256-cts-hmac-sha384-192" // etype 20
)

// Enctypes lists every Enctype this package knows, in etype order.
var Enctypes = []Enctype{AES128SHA1, AES256SHA1, AES128SHA256, AES256SHA384}

// DefaultEnctypes are the key types of a realm made without
// [WithEnctypes]: MIT 1.20's own default (supported_enctypes), so that
// session keys are aes256-cts-hmac-sha1-96 as with an unconfigured MIT
// realm.
var DefaultEnctypes = []Enctype{AES256SHA1, AES128SHA1}

// Number returns e's etype number (RFC 3961 section 8, RFC 8009), or 0 for
// an Enctype this package does not know.
func (e Enctype) Number() int32 {
	switch e {
	case AES128SHA1:
		return 17
	case AES256SHA1:
		return 18
	case AES128SHA256:
		return 19
	case AES256SHA384:
		return 20
	}
	return 0
}

// An Option configures a realm.
type Option func(*options)

type options struct {
	enctypes []Enctype
}

// WithEnctypes gives every key of the realm (the KDC's own, the service's
// and the client's) exactly the types given, in that order of preference,
// and makes clients ask for them alone, so that tickets and session keys
// use the first. Without it the realm uses [DefaultEnctypes].
//
// MIT's KDC picks a session key from the client's list, not from the
// service's keys, and assumes every service can use aes-sha1: a realm whose
// keys are all aes128-cts-hmac-sha256-128 still hands out aes256-sha1
// session keys unless the client asks for the others only
// (docs/gssapi-realm.md#enctypes).
func WithEnctypes(e ...Enctype) Option {
	return func(o *options) { o.enctypes = slices.Clone(e) }
}

// Realm is a running test realm: where its files are, and its names.
// Every path is absolute. The fields are set by [New] and [Start] and must
// not be changed.
type Realm struct {
	Name     string    // the realm, RealmName
	Dir      string    // the directory holding every file below
	KDCAddr  string    // host:port of the KDC, TCP and UDP, on 127.0.0.1
	Enctypes []Enctype // the types of every key, in order of preference

	Krb5Conf string // the client profile (KRB5_CONFIG)
	KDCConf  string // the KDC profile (KRB5_KDC_PROFILE)

	// ServiceKeytab holds ServicePrincipal's keys, ClientKeytab
	// ClientPrincipal's, and AllKeytab both, the client first. AllKeytab is
	// for libzmq sides that set ZMQ_GSSAPI_PRINCIPAL, which then need their
	// principal both to accept and to initiate
	// (docs/gssapi-realm.md#keytabs-and-the-environment).
	ServiceKeytab string
	ClientKeytab  string
	AllKeytab     string

	ServicePrincipal string // the service, "zmqtest/localhost@ZMTP.TEST" (the constant ServicePrincipal)
	ServiceName      string // the service as a host-based name, "zmqtest@localhost"
	ClientPrincipal  string // the client, "alice@ZMTP.TEST"
	ClientName       string // the client without the realm, "alice"
	Password         string // the client's password, ClientPassword

	// CCache is the credential cache clients of this realm use, a MEMORY:
	// cache with a name of its own, so that tickets of another realm made
	// in the same process are never used against this one.
	CCache string
	// RcacheDir is the replay cache directory of acceptors (KRB5RCACHEDIR).
	RcacheDir string
	// KDCLog is the KDC's log; KDCStderr what krb5kdc wrote to its standard
	// output and error.
	KDCLog    string
	KDCStderr string

	kdc       *kdc
	timings   string // how long each step of New took, for Start's log
	closeOnce sync.Once
	closeErr  error
}

// Env returns the environment that points MIT's libraries at r, as
// "NAME=value" strings: KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5_KTNAME (the
// service keytab), KRB5_CLIENT_KTNAME (the client keytab), KRB5CCNAME and
// KRB5RCACHEDIR. MIT reads them from the process environment at each GSS
// call, so a process that runs libzmq sets them with os.Setenv (or
// [Realm.Setenv]) before its first GSSAPI socket, and may point them at
// another realm later (docs/gssapi-realm.md#keytabs-and-the-environment).
func (r *Realm) Env() []string {
	return []string{
		"KRB5_CONFIG=" + r.Krb5Conf,
		"KRB5_KDC_PROFILE=" + r.KDCConf,
		"KRB5_KTNAME=FILE:" + r.ServiceKeytab,
		"KRB5_CLIENT_KTNAME=FILE:" + r.ClientKeytab,
		"KRB5CCNAME=" + r.CCache,
		"KRB5RCACHEDIR=" + r.RcacheDir,
	}
}

// Setenv sets [Realm.Env] in the process environment for the rest of t,
// with t.Setenv, which restores the previous values when t ends (and, like
// t.Setenv, cannot be used in a parallel test). It is meant to be called
// before the first libzmq socket of t, so that those sockets, closed
// earlier in t's cleanup, never see the environment go.
func (r *Realm) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range r.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Bounds of every wait.
const (
	commandTimeout = 30 * time.Second // one kdb5_util or kadmin.local run
	startTimeout   = 10 * time.Second // the KDC, from exec to listening
	stopTimeout    = 5 * time.Second  // SIGTERM, then as long again after SIGKILL
	startAttempts  = 5                // ports tried when the chosen one is taken
)

// Start makes a realm in t.TempDir() and starts its KDC; the KDC is
// stopped when t ends. When the tools are missing it skips t with a message
// saying that `make deps` installs them, or fails t when CI=true (see
// [Require]). Any other failure fails t.
func Start(t testing.TB, opts ...Option) *Realm {
	t.Helper()
	Require(t)
	began := time.Now()
	r, err := New(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("krbtest: realm %s, KDC %s, enctypes %v, ready in %v (%s)",
		r.Name, r.KDCAddr, r.Enctypes, time.Since(began).Round(time.Millisecond), r.timings)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// Require skips t when the Kerberos tools a realm needs are missing, with a
// message saying that `make deps` installs them; when the environment
// variable CI is "true" it fails t instead.
func Require(t testing.TB) {
	t.Helper()
	if err := LookTools(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true, so this is a failure: run `make deps`, which installs them)", err)
		} else {
			t.Skipf("%v: `make deps` installs them", err)
		}
	}
}

// ErrToolsMissing is wrapped by the error [LookTools] and [New] return when
// MIT's server tools are not installed.
var ErrToolsMissing = errors.New("krbtest: MIT Kerberos tools missing")

// ToolsMissingError names the tools that could not be found.
type ToolsMissingError struct {
	Missing []string // the commands, such as "krb5kdc"
}

// Error names the missing tools and the Debian packages that hold them.
func (e *ToolsMissingError) Error() string {
	return fmt.Sprintf("krbtest: MIT Kerberos tools missing: %s (Debian: krb5-kdc krb5-admin-server krb5-user)",
		strings.Join(e.Missing, ", "))
}

// Unwrap returns ErrToolsMissing.
func (e *ToolsMissingError) Unwrap() error { return ErrToolsMissing }

// New makes a realm in dir, which must exist and is left in place, and
// starts its KDC. The caller must call [Realm.Close]. Test code uses
// [Start]; New is for a TestMain or a generator program, which have no
// testing.TB.
func New(dir string, opts ...Option) (*Realm, error) {
	o := options{enctypes: DefaultEnctypes}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.enctypes) == 0 {
		return nil, errors.New("krbtest: WithEnctypes needs at least one enctype")
	}
	for _, e := range o.enctypes {
		if e.Number() == 0 {
			return nil, fmt.Errorf("krbtest: unknown enctype %q", e)
		}
	}
	tools, err := lookTools()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("krbtest: %w", err)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("krbtest: %w", err)
	}
	r := &Realm{
		Name:             RealmName,
		Dir:              dir,
		Enctypes:         slices.Clone(o.enctypes),
		Krb5Conf:         filepath.Join(dir, "krb5.conf"),
		KDCConf:          filepath.Join(dir, "kdc.conf"),
		ServiceKeytab:    filepath.Join(dir, "service.keytab"),
		ClientKeytab:     filepath.Join(dir, "client.keytab"),
		AllKeytab:        filepath.Join(dir, "all.keytab"),
		ServicePrincipal: ServicePrincipal,
		ServiceName:      ServiceName,
		ClientPrincipal:  ClientPrincipal,
		ClientName:       ClientName,
		Password:         ClientPassword,
		CCache:           "MEMORY:krbtest-" + hex.EncodeToString(id[:]),
		RcacheDir:        filepath.Join(dir, "rcache"),
		KDCLog:           filepath.Join(dir, "kdc.log"),
		KDCStderr:        filepath.Join(dir, "kdc.stderr"),
	}
	if err := os.MkdirAll(r.RcacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("krbtest: %w", err)
	}
	began := time.Now()
	if err := r.create(tools); err != nil {
		return nil, err
	}
	created := time.Now()
	if err := r.startKDC(tools); err != nil {
		return nil, err
	}
	r.timings = fmt.Sprintf("database, principals and keytabs %v, KDC %v",
		created.Sub(began).Round(time.Millisecond), time.Since(created).Round(time.Millisecond))
	return r, nil
}

// Close stops the realm's KDC: SIGTERM, then SIGKILL if it has not exited
// within a bound. It signals only the krb5kdc process New started, through
// the handle os/exec gave it (a pidfd on Linux, so never a recycled pid),
// and reaps it, so no zombie is left. It reports a KDC that had died
// before, with its log. Close leaves the directory in place; later calls
// return the first call's result.
func (r *Realm) Close() error {
	r.closeOnce.Do(func() {
		if r.kdc != nil {
			r.closeErr = r.kdc.stop(r)
		}
	})
	return r.closeErr
}
