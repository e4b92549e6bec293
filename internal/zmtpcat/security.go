package zmtpcat

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// security holds the security flags. Everything about mechanisms lives in
// this file: the flags (define), their validation (check) and the
// transport configuration they make (apply). A new mechanism or option of
// the root module is added in these three places only; a mechanism from
// another module comes as a [Mechanism] (mechanisms.go), whose flags
// extras holds.
type security struct {
	mechanism         string
	domain            string
	allow, deny       []string
	plainUser         string
	plainPasswordFile string
	plainPasswordArg  bool // -plain-password was given: refused, see check
	plainServer       bool
	plainRFCError     bool
	passwords         string
	curveServer       bool
	certFile          string
	serverKey         string
	clientCerts       string
	allowAny          bool

	extras []*extra // the program's extra mechanisms, in order
}

// passwordEnv is the environment variable a PLAIN client takes its password
// from when -plain-password-file is not given.
const passwordEnv = "ZMTPCAT_PLAIN_PASSWORD"

// errPasswordArg explains why -plain-password is refused. It never repeats
// the value.
const errPasswordArg = "-plain-password is not accepted: a password on the command line is shown to every local user by ps; use -plain-password-file FILE or the " + passwordEnv + " environment variable"

func (s *security) define(fs *flag.FlagSet, mechs []Mechanism) {
	fs.StringVar(&s.mechanism, "mechanism", "null", "")
	fs.StringVar(&s.domain, "domain", "", "")
	fs.Var((*listFlag)(&s.allow), "allow", "")
	fs.Var((*listFlag)(&s.deny), "deny", "")
	fs.StringVar(&s.plainUser, "plain-user", "", "")
	fs.StringVar(&s.plainPasswordFile, "plain-password-file", "", "")
	fs.Func("plain-password", "", func(string) error { s.plainPasswordArg = true; return nil })
	fs.BoolVar(&s.plainServer, "plain-server", false, "")
	fs.BoolVar(&s.plainRFCError, "plain-rfc-error", false, "")
	fs.StringVar(&s.passwords, "passwords", "", "")
	fs.BoolVar(&s.curveServer, "curve-server", false, "")
	fs.StringVar(&s.certFile, "cert", "", "")
	fs.StringVar(&s.serverKey, "server-key", "", "")
	fs.StringVar(&s.clientCerts, "client-certs", "", "")
	fs.BoolVar(&s.allowAny, "allow-any", false, "")
	for _, m := range mechs {
		s.extras = append(s.extras, defineExtra(fs, m))
	}
}

// chosenExtra returns the extra mechanism -mechanism names, or nil.
func (s *security) chosenExtra() *extra {
	for _, e := range s.extras {
		if e.m.Name == s.mechanism {
			return e
		}
	}
	return nil
}

// mechanismNames lists the values -mechanism takes, for messages:
// "null, plain or curve".
func (s *security) mechanismNames() string {
	names := []string{"null", "plain", "curve"}
	for _, e := range s.extras {
		names = append(names, e.m.Name)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// check validates the security flags; its errors wrap errUsage.
func (s *security) check(fs *flag.FlagSet) error {
	if s.plainPasswordArg {
		return usageErr("%s", errPasswordArg)
	}
	for _, e := range s.extras {
		if e.m.Name != s.mechanism && e.given(fs) {
			return usageErr("%s needs -mechanism %s", e.givenName(fs), e.m.Name)
		}
	}
	plainFlags := s.plainUser != "" || s.plainPasswordFile != "" || s.plainServer || s.passwords != "" || s.plainRFCError
	curveFlags := s.curveServer || s.certFile != "" || s.serverKey != "" || s.clientCerts != "" || s.allowAny
	asksZAP := false // whether this side will ask ZAP, so that -allow/-deny mean something
	switch s.mechanism {
	case "null":
		if plainFlags || curveFlags {
			return usageErr("PLAIN and CURVE flags need -mechanism plain or curve")
		}
		asksZAP = s.domain != ""
	case "plain":
		switch {
		case curveFlags:
			return usageErr("CURVE flags with -mechanism plain")
		case s.plainServer && (s.plainUser != "" || s.plainPasswordFile != ""):
			return usageErr("-plain-server takes -passwords, not -plain-user/-plain-password-file")
		case !s.plainServer && s.passwords != "":
			return usageErr("-passwords needs -plain-server")
		case !s.plainServer && s.plainRFCError:
			return usageErr("-plain-rfc-error needs -plain-server")
		}
		asksZAP = s.plainServer
	case "curve":
		switch {
		case plainFlags:
			return usageErr("PLAIN flags with -mechanism curve")
		case s.curveServer && s.certFile == "":
			return usageErr("-curve-server needs -cert (the server's secret certificate)")
		case s.curveServer && s.serverKey != "":
			return usageErr("-server-key is for CURVE clients")
		case s.curveServer && s.clientCerts != "" && s.allowAny:
			return usageErr("-client-certs and -allow-any cannot be used together")
		case !s.curveServer && s.serverKey == "":
			return usageErr("a CURVE client needs -server-key")
		case !s.curveServer && (s.clientCerts != "" || s.allowAny):
			return usageErr("-client-certs and -allow-any are for -curve-server")
		}
		asksZAP = s.curveServer
	default:
		e := s.chosenExtra()
		if e == nil {
			return usageErr("-mechanism %q: want %s%s", s.mechanism, s.mechanismNames(), mechanismHint(s.mechanism))
		}
		switch {
		case plainFlags:
			return usageErr("PLAIN flags with -mechanism %s", e.m.Name)
		case curveFlags:
			return usageErr("CURVE flags with -mechanism %s", e.m.Name)
		}
		server, err := e.flags.Check()
		if err != nil {
			return usageErr("%v", err)
		}
		asksZAP = server
	}
	if len(s.allow) > 0 || len(s.deny) > 0 {
		switch {
		case len(s.allow) > 0 && len(s.deny) > 0:
			return usageErr("-allow and -deny cannot be used together")
		case s.mechanism == "null" && !asksZAP:
			return usageErr("-allow and -deny with NULL need -domain (NULL asks ZAP only when a domain is set)")
		case !asksZAP:
			return usageErr("-allow and -deny are for the side that asks ZAP: -plain-server or -curve-server")
		}
		for _, a := range append(append([]string{}, s.allow...), s.deny...) {
			if _, err := netip.ParsePrefix(a); err != nil {
				if _, err := netip.ParseAddr(a); err != nil {
					return usageErr("%q is not an IP address or CIDR range", a)
				}
			}
		}
	}
	return nil
}

// apply sets cfg's mechanism and ZAP handler. PLAIN and CURVE server
// settings go to the "*" domain, which every domain falls back to, so they
// hold with or without -domain.
func (s *security) apply(cfg *transport.Config) error {
	cfg.ZAPDomain = s.domain
	var auth *zap.Authenticator
	authenticator := func() *zap.Authenticator {
		if auth == nil {
			auth = zap.NewAuthenticator()
			cfg.ZAPHandler = auth
		}
		return auth
	}
	switch s.mechanism {
	case "null":
		if s.domain != "" {
			authenticator() // NULL asks ZAP, which accepts unless -allow/-deny refuse
		}
	case "plain":
		if s.plainServer {
			var opts []mechanism.PlainServerOption
			if s.plainRFCError {
				opts = append(opts, mechanism.PlainRFCError())
			}
			cfg.Mechanism = mechanism.PlainServer(opts...)
			a := authenticator() // with no -passwords it refuses everyone, as libzmq
			if s.passwords != "" {
				if err := a.ConfigurePlainFile("*", s.passwords); err != nil {
					return err
				}
			}
			break
		}
		password, err := s.plainPassword()
		if err != nil {
			return err
		}
		m, err := mechanism.PlainClient(s.plainUser, string(password))
		clear(password)
		if err != nil {
			return err
		}
		cfg.Mechanism = m
	case "curve":
		own, err := ownKeys(s.certFile)
		if err != nil {
			return err
		}
		// The mechanism keeps the secret; our copy goes once it is made.
		defer clear(own.Secret[:])
		if !s.curveServer {
			server, err := serverKey(s.serverKey)
			if err != nil {
				return err
			}
			cfg.Mechanism, err = mechanism.CurveClient(server, own)
			return err
		}
		if cfg.Mechanism, err = mechanism.CurveServer(own); err != nil {
			return err
		}
		switch {
		case s.allowAny:
			err = authenticator().ConfigureCurve("*", zap.CurveAllowAny)
		case s.clientCerts != "":
			err = authenticator().ConfigureCurve("*", s.clientCerts)
		}
		if err != nil {
			return err
		}
	default:
		if err := s.chosenExtra().flags.Apply(cfg, authenticator); err != nil {
			return err
		}
	}
	if len(s.allow) > 0 {
		return authenticator().Allow(s.allow...)
	}
	if len(s.deny) > 0 {
		return authenticator().Deny(s.deny...)
	}
	return nil
}

// ownKeys reads our key pair from a secret certificate file; with no file
// (a CURVE client) it makes a fresh key pair.
func ownKeys(path string) (cert.KeyPair, error) {
	if path == "" {
		return cert.GenerateKeyPair(nil)
	}
	c, err := cert.LoadCertificate(path)
	if err != nil {
		return cert.KeyPair{}, err
	}
	kp, err := c.KeyPair()
	if errors.Is(err, cert.ErrNoSecretKey) {
		return cert.KeyPair{}, fmt.Errorf("%w: -cert wants the secret certificate", err)
	}
	if err != nil {
		return cert.KeyPair{}, err
	}
	clear(c.Secret[:])
	return kp, nil
}

// plainPassword returns the PLAIN client's password: the content of
// -plain-password-file without one final line end, or else the value of
// $ZMTPCAT_PLAIN_PASSWORD, which is then removed from the environment; empty
// if neither is set. The caller clears the result.
func (s *security) plainPassword() ([]byte, error) {
	if s.plainPasswordFile == "" {
		v, ok := os.LookupEnv(passwordEnv)
		if !ok {
			return nil, nil
		}
		os.Unsetenv(passwordEnv)
		return []byte(v), nil
	}
	return ReadPasswordFile("plain-password-file", s.plainPasswordFile, mechanism.MaxPlainCredential)
}

// serverKey reads -server-key: an existing file is a public certificate
// (either layout); anything else must be 40 Z85 characters.
func serverKey(arg string) (cert.PublicKey, error) {
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		c, err := cert.LoadCertificate(arg)
		if err != nil {
			return cert.PublicKey{}, err
		}
		return c.Public, nil
	}
	k, err := cert.ParsePublicKey(arg)
	if err != nil {
		return cert.PublicKey{}, fmt.Errorf("-server-key: not a certificate file, and %w", err)
	}
	return k, nil
}

// ReadPasswordFile reads a password for the flag -flag from path: one line
// of at most max bytes, without its line end (\n or \r\n). It reads no
// more than max+3 bytes whatever path is (a FIFO such as <(echo ...) works;
// a directory is refused), and its errors never quote the file. The caller
// clears the result.
func ReadPasswordFile(flag, path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-%s: %w", flag, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("-%s %s: a directory, not a file", flag, path)
	}
	buf := make([]byte, max+3)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		clear(buf)
		return nil, fmt.Errorf("-%s: %w", flag, err)
	}
	pw := buf[:n]
	switch {
	case bytes.HasSuffix(pw, []byte("\r\n")):
		pw = pw[:len(pw)-2]
	case bytes.HasSuffix(pw, []byte("\n")):
		pw = pw[:len(pw)-1]
	}
	if len(pw) > max || bytes.ContainsAny(pw, "\r\n") {
		clear(buf)
		return nil, fmt.Errorf("-%s %s: want one line of at most %d bytes", flag, path, max)
	}
	return pw, nil
}
