// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
)

// A Principal is a Kerberos principal name. Its String method gives the
// display form libzmq hands to ZAP, "alice@ZMTP.TEST".
type Principal = gss.Principal

// A Key is a Kerberos key (an enctype and its bytes) that never prints.
type Key = gss.Key

// A NameType says how to read a name, as libzmq's ZMQ_GSSAPI_*_NAMETYPE
// options do.
type NameType int

const (
	// HostBasedService reads "service@host" as the principal
	// service/host in the host's realm (domain_realm, else the default
	// realm). It is libzmq's default for both the service and the
	// client principal options (ZMQ_GSSAPI_NT_HOSTBASED).
	HostBasedService NameType = iota
	// UserName reads "alice" as alice in the default realm
	// (ZMQ_GSSAPI_NT_USER_NAME).
	UserName
	// KerberosPrincipal reads a full principal, "svc/host@REALM" or
	// "alice" (default realm), with MIT's backslash escapes
	// (ZMQ_GSSAPI_NT_KRB5_PRINCIPAL).
	KerberosPrincipal
)

// MaxFileSize bounds the krb5.conf, keytab and credential cache files read.
const MaxFileSize = 1 << 20

// A Krb5Config is a parsed krb5.conf: the default realm, the realms' KDCs,
// domain_realm, the clock skew, udp_preference_limit and the enctypes to
// ask for.
type Krb5Config struct {
	c *config.Config
}

// LoadKrb5Config reads a krb5.conf. An empty path means the first file of
// $KRB5_CONFIG, else /etc/krb5.conf.
func LoadKrb5Config(path string) (*Krb5Config, error) {
	if path == "" {
		path = "/etc/krb5.conf"
		if env := os.Getenv("KRB5_CONFIG"); env != "" {
			path = strings.Split(env, ":")[0]
		}
	}
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseKrb5Config(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return c, nil
}

// ParseKrb5Config parses the text of a krb5.conf. Directives gokrb5 does
// not support are ignored.
func ParseKrb5Config(text string) (*Krb5Config, error) {
	var c *config.Config
	err := guardPanic(func() error {
		var perr error
		c, perr = config.NewFromString(text)
		return perr
	})
	var unsupported config.UnsupportedDirective
	if err != nil && !errors.As(err, &unsupported) {
		return nil, fmt.Errorf("%w: krb5.conf does not parse", ErrBadConfig)
	}
	if c == nil {
		return nil, fmt.Errorf("%w: krb5.conf does not parse", ErrBadConfig)
	}
	return &Krb5Config{c: c}, nil
}

// DefaultRealm returns the default_realm of [libdefaults].
func (c *Krb5Config) DefaultRealm() string { return c.c.LibDefaults.DefaultRealm }

// ParseName reads name as t says, filling in the realm from c.
func (c *Krb5Config) ParseName(name string, t NameType) (Principal, error) {
	bad := func(why string) (Principal, error) {
		return Principal{}, fmt.Errorf("gssapi: bad name %q: %s", name, why)
	}
	if name == "" {
		return bad("empty")
	}
	switch t {
	case HostBasedService:
		svc, host, ok := strings.Cut(name, "@")
		if !ok {
			host = "localhost" // RFC 2743 §4.1: the local host when absent
		}
		if svc == "" || host == "" || strings.ContainsAny(svc, "/@") || strings.ContainsAny(host, "/@") {
			return bad("want service@host")
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		realm := c.c.ResolveRealm(host)
		if realm == "" {
			realm = c.DefaultRealm()
		}
		if realm == "" {
			return bad("no realm for the host and no default realm")
		}
		return Principal{NameType: gss.NTSrvHst, Components: []string{svc, host}, Realm: realm}, nil
	case UserName:
		if strings.ContainsAny(name, "/@\\") {
			return bad("a user name has no '/', '@' or '\\'")
		}
		if c.DefaultRealm() == "" {
			return bad("no default realm")
		}
		return Principal{NameType: gss.NTPrincipal, Components: []string{name}, Realm: c.DefaultRealm()}, nil
	case KerberosPrincipal:
		p, err := parsePrincipal(name)
		if err != nil {
			return bad(err.Error())
		}
		if p.Realm == "" {
			p.Realm = c.DefaultRealm()
		}
		if p.Realm == "" {
			return bad("no realm and no default realm")
		}
		return p, nil
	}
	return bad("unknown name type")
}

// parsePrincipal reads "c1/c2@REALM" with MIT's escapes (\/, \@, \\, \n,
// \t, \b, \0).
func parsePrincipal(s string) (Principal, error) {
	var p Principal
	var cur []byte
	inRealm := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\':
			i++
			if i == len(s) {
				return p, errors.New("trailing backslash")
			}
			switch e := s[i]; e {
			case 'n':
				cur = append(cur, '\n')
			case 't':
				cur = append(cur, '\t')
			case 'b':
				cur = append(cur, '\b')
			case '0':
				cur = append(cur, 0)
			default:
				cur = append(cur, e)
			}
		case ch == '/' && !inRealm:
			if len(cur) == 0 {
				return p, errors.New("empty component")
			}
			p.Components = append(p.Components, string(cur))
			cur = cur[:0]
		case ch == '@':
			if inRealm {
				return p, errors.New("two realms")
			}
			if len(cur) == 0 {
				return p, errors.New("empty component")
			}
			p.Components = append(p.Components, string(cur))
			cur = cur[:0]
			inRealm = true
		default:
			cur = append(cur, ch)
		}
	}
	if inRealm {
		if len(cur) == 0 {
			return p, errors.New("empty realm")
		}
		p.Realm = string(cur)
	} else {
		if len(cur) == 0 {
			return p, errors.New("empty component")
		}
		p.Components = append(p.Components, string(cur))
	}
	p.NameType = gss.NTPrincipal
	if len(p.Components) > 1 {
		p.NameType = gss.NTSrvHst
	}
	return p, nil
}

// A Keytab holds long-term keys: a service's, to accept contexts, or a
// client's, to get tickets. It never prints its keys.
type Keytab struct {
	kt *keytab.Keytab
}

// LoadKeytab reads a keytab file. An empty path means $KRB5_KTNAME (a
// FILE: name or a path), else /etc/krb5.keytab.
func LoadKeytab(path string) (*Keytab, error) {
	if path == "" {
		path = "/etc/krb5.keytab"
		if env := os.Getenv("KRB5_KTNAME"); env != "" {
			path = env
		}
	}
	path, err := filePath(path)
	if err != nil {
		return nil, err
	}
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	kt, err := ParseKeytab(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return kt, nil
}

// ParseKeytab parses the bytes of a keytab file (MIT format, version 1 or 2).
func ParseKeytab(b []byte) (*Keytab, error) {
	kt := keytab.New()
	if len(b) == 2 && b[0] == 5 && (b[1] == 1 || b[1] == 2) {
		return &Keytab{kt: kt}, nil // a header and no entries
	}
	b = b[:len(b):len(b)] // no reading past the end within the capacity
	// gokrb5's parse errors can quote the keytab bytes: they are dropped.
	if err := guardPanic(func() error { return kt.Unmarshal(b) }); err != nil {
		return nil, fmt.Errorf("%w: keytab does not parse", ErrBadConfig)
	}
	return &Keytab{kt: kt}, nil
}

// Principals returns the principals that have a key of a supported enctype
// in k, each once, in file order.
func (k *Keytab) Principals() []Principal {
	var out []Principal
	for _, e := range k.kt.Entries {
		if !supportedEnctype(e.Key.KeyType) {
			continue
		}
		p := Principal{NameType: e.Principal.NameType, Components: e.Principal.Components, Realm: e.Principal.Realm}
		dup := false
		for _, q := range out {
			dup = dup || q.Equal(p)
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// hasKey reports whether k holds a key of a supported enctype for p.
func (k *Keytab) hasKey(p Principal) bool {
	for _, q := range k.Principals() {
		if q.Equal(p) {
			return true
		}
	}
	return false
}

// String returns "gssapi.Keytab(N entries)", never a key.
func (k *Keytab) String() string { return fmt.Sprintf("gssapi.Keytab(%d entries)", len(k.kt.Entries)) }

// Format prints k as String does, whatever the verb.
func (k *Keytab) Format(f fmt.State, verb rune) { io.WriteString(f, k.String()) }

func supportedEnctype(e int32) bool {
	for _, s := range gss.Enctypes {
		if e == s {
			return true
		}
	}
	return false
}

// ServerCredentials are what a GSSAPI server (acceptor) authenticates
// with: a keytab and, optionally, the one principal it answers for.
type ServerCredentials struct {
	keytab    *Keytab
	principal Principal // zero: any key in the keytab
}

// NewServerCredentials returns server credentials. With a zero principal
// the server accepts a ticket for any principal of the keytab (as libzmq
// without ZMQ_GSSAPI_PRINCIPAL); otherwise only tickets for principal,
// which must have a key in kt ([ErrNoCredentials]).
func NewServerCredentials(kt *Keytab, principal Principal) (*ServerCredentials, error) {
	if kt == nil {
		return nil, fmt.Errorf("%w: no keytab", ErrNoCredentials)
	}
	if principal.IsZero() {
		if len(kt.Principals()) == 0 {
			return nil, fmt.Errorf("%w: keytab has no key of a supported enctype", ErrNoCredentials)
		}
	} else if !kt.hasKey(principal) {
		return nil, fmt.Errorf("%w: no key for %q in the keytab", ErrNoCredentials, principal.String())
	}
	return &ServerCredentials{keytab: kt, principal: principal}, nil
}

// Principal returns the principal the credentials are restricted to, or
// the zero Principal.
func (s *ServerCredentials) Principal() Principal { return s.principal }

// A ServiceTicket is a ticket for a service and its session key, what an
// initiator needs to build its AP-REQ.
type ServiceTicket struct {
	Client     Principal // the principal the ticket was issued to
	Service    Principal // the service it is for
	Ticket     []byte    // DER, [APPLICATION 1], as the KDC sent it
	SessionKey Key       // the session key (never printed)
	EndTime    time.Time // the end of the ticket's validity
}

// A TicketSource gets service tickets for a client. [*KDCTicketSource]
// gets them from a KDC; tests and applications with their own Kerberos
// plumbing can supply any other.
//
// ServiceTicket must return within ctx: when ctx ends it returns an error
// that wraps ctx.Err(). It must be safe for concurrent use. The returned
// ticket is the caller's; the source must not modify it afterwards.
type TicketSource interface {
	ServiceTicket(ctx context.Context, service Principal) (*ServiceTicket, error)
}

// readBounded reads at most MaxFileSize bytes of a regular file.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadConfig, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrBadConfig, path, MaxFileSize)
	}
	// Capacity = length: gokrb5's ccache parser slices past the length
	// without checks, and within the capacity Go lets it read stale bytes
	// instead of failing.
	return b[:len(b):len(b)], nil
}

// filePath strips a FILE: prefix and refuses other ccache and keytab kinds
// (KEYRING:, KCM:, DIR:, MEMORY:, ...), which gokrb5 cannot read.
func filePath(name string) (string, error) {
	if rest, ok := strings.CutPrefix(name, "FILE:"); ok {
		return rest, nil
	}
	if i := strings.IndexByte(name, ':'); i > 0 && !strings.ContainsRune(name[:i], '/') {
		return "", fmt.Errorf("%w: %q: only FILE: credential caches and keytabs are supported", ErrBadConfig, name[:i+1])
	}
	return name, nil
}

// guardPanic runs f, a call into gokrb5, turning a panic into ErrMalformed.
func guardPanic(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: kerberos library panicked", ErrMalformed)
		}
	}()
	return f()
}
