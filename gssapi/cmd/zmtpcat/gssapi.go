package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/zmtpsec/zmtpsec/gssapi"
	"github.com/zmtpsec/zmtpsec/internal/zmtpcat"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// gssapiUsage is the help text of the GSSAPI flags.
const gssapiUsage = `  -gssapi-server        be the GSSAPI server (the Kerberos acceptor)
  -gssapi-service NAME  GSSAPI client: the service, service@host (required)
  -gssapi-principal NAME
                        GSSAPI client: our principal (alice, alice@REALM),
                        with -gssapi-keytab or -gssapi-password-file;
                        server: accept only tickets for this principal
  -gssapi-keytab FILE   GSSAPI client: our keytab; server: the service's
                        keytab (required)
  -gssapi-password-file FILE
                        GSSAPI client: the password is the one line of FILE
  -gssapi-password PW   refused: ps would show PW to every local user
  -gssapi-ccache PATH   GSSAPI client: a FILE credential cache (kinit's);
                        with none of the three, $KRB5CCNAME or
                        /tmp/krb5cc_UID
  -gssapi-krb5-conf FILE
                        krb5.conf (default: $KRB5_CONFIG, else /etc/krb5.conf)
  -gssapi-allow-principal P
                        GSSAPI server: let in only the client principal P
                        (user@REALM, exact) through ZAP; repeatable
  -gssapi-plaintext     INSECURE: after Kerberos authentication nothing
                        protects the messages, as libzmq's
                        ZMQ_GSSAPI_PLAINTEXT; both sides must agree
`

// gssapiMechanism is -mechanism gssapi.
var gssapiMechanism = zmtpcat.Mechanism{
	Name:  "gssapi",
	Usage: gssapiUsage,
	Define: func(fs *flag.FlagSet) zmtpcat.MechanismFlags {
		f := &gssapiFlags{}
		fs.BoolVar(&f.server, "gssapi-server", false, "")
		fs.StringVar(&f.service, "gssapi-service", "", "")
		fs.StringVar(&f.principal, "gssapi-principal", "", "")
		fs.StringVar(&f.keytab, "gssapi-keytab", "", "")
		fs.StringVar(&f.passwordFile, "gssapi-password-file", "", "")
		fs.Func("gssapi-password", "", func(string) error { f.passwordArg = true; return nil })
		fs.StringVar(&f.ccache, "gssapi-ccache", "", "")
		fs.StringVar(&f.krb5Conf, "gssapi-krb5-conf", "", "")
		fs.Func("gssapi-allow-principal", "", func(p string) error {
			f.allow = append(f.allow, p)
			return nil
		})
		fs.BoolVar(&f.plaintext, "gssapi-plaintext", false, "")
		return f
	},
}

// gssapiFlags are the GSSAPI flags of one run.
type gssapiFlags struct {
	server       bool
	service      string
	principal    string
	keytab       string
	passwordFile string
	passwordArg  bool // -gssapi-password was given: refused
	ccache       string
	krb5Conf     string
	allow        []string
	plaintext    bool
}

// errPasswordArg explains why -gssapi-password is refused, without the
// value.
var errPasswordArg = errors.New("-gssapi-password is not accepted: a password on the command line is shown to every local user by ps; use -gssapi-password-file FILE")

// Check validates the flags; it reads no file.
func (f *gssapiFlags) Check() (bool, error) {
	if f.passwordArg {
		return false, errPasswordArg
	}
	if f.server {
		switch {
		case f.keytab == "":
			return false, errors.New("-gssapi-server needs -gssapi-keytab (the service's keytab)")
		case f.service != "":
			return false, errors.New("-gssapi-service is for GSSAPI clients; a server restricts itself with -gssapi-principal")
		case f.passwordFile != "" || f.ccache != "":
			return false, errors.New("-gssapi-password-file and -gssapi-ccache are for GSSAPI clients")
		}
		return true, nil
	}
	sources := 0
	for _, s := range []string{f.keytab, f.passwordFile, f.ccache} {
		if s != "" {
			sources++
		}
	}
	switch {
	case f.service == "":
		return false, errors.New("a GSSAPI client needs -gssapi-service (service@host)")
	case len(f.allow) > 0:
		return false, errors.New("-gssapi-allow-principal needs -gssapi-server")
	case sources > 1:
		return false, errors.New("-gssapi-keytab, -gssapi-password-file and -gssapi-ccache cannot be used together")
	case (f.keytab != "" || f.passwordFile != "") && f.principal == "":
		return false, errors.New("-gssapi-keytab and -gssapi-password-file need -gssapi-principal")
	case f.principal != "" && f.keytab == "" && f.passwordFile == "":
		return false, errors.New("-gssapi-principal (a client's) needs -gssapi-keytab or -gssapi-password-file; a credential cache names its own")
	}
	return false, nil
}

// Apply reads krb5.conf, the keytab, password file or credential cache,
// and sets cfg's mechanism. A server's -gssapi-allow-principal goes to the
// "*" domain of the authenticator.
func (f *gssapiFlags) Apply(cfg *transport.Config, auth func() *zap.Authenticator) error {
	if f.server {
		return f.applyServer(cfg, auth)
	}
	conf, err := gssapi.LoadKrb5Config(f.krb5Conf)
	if err != nil {
		return fmt.Errorf("-gssapi-krb5-conf: %w", err)
	}
	var tickets *gssapi.KDCTicketSource
	switch {
	case f.keytab != "":
		client, err := conf.ParseName(f.principal, gssapi.KerberosPrincipal)
		if err != nil {
			return fmt.Errorf("-gssapi-principal: %w", err)
		}
		kt, err := gssapi.LoadKeytab(f.keytab)
		if err != nil {
			return fmt.Errorf("-gssapi-keytab: %w", err)
		}
		if tickets, err = gssapi.NewKeytabTicketSource(conf, client, kt); err != nil {
			return err
		}
	case f.passwordFile != "":
		client, err := conf.ParseName(f.principal, gssapi.KerberosPrincipal)
		if err != nil {
			return fmt.Errorf("-gssapi-principal: %w", err)
		}
		pw, err := readPasswordFile(f.passwordFile)
		if err != nil {
			return err
		}
		tickets, err = gssapi.NewPasswordTicketSource(conf, client, string(pw))
		clear(pw) // the source keeps its own copy, as it needs
		if err != nil {
			return err
		}
	default:
		if tickets, err = gssapi.NewCCacheTicketSource(conf, f.ccache); err != nil {
			return fmt.Errorf("-gssapi-ccache: %w", err)
		}
	}
	cfg.Mechanism, err = gssapi.Client(gssapi.ClientConfig{
		Service:           f.service,
		ServiceNameType:   gssapi.HostBasedService,
		Tickets:           tickets,
		Config:            conf,
		InsecurePlaintext: f.plaintext,
	})
	return err
}

func (f *gssapiFlags) applyServer(cfg *transport.Config, auth func() *zap.Authenticator) error {
	kt, err := gssapi.LoadKeytab(f.keytab)
	if err != nil {
		return fmt.Errorf("-gssapi-keytab: %w", err)
	}
	var princ gssapi.Principal
	if f.principal != "" {
		// krb5.conf is read for its default realm, needed only when the
		// name lacks a realm: a server with a full name needs none.
		var conf *gssapi.Krb5Config
		if strings.Contains(f.principal, "@") && f.krb5Conf == "" {
			conf, err = gssapi.ParseKrb5Config("")
		} else {
			conf, err = gssapi.LoadKrb5Config(f.krb5Conf)
		}
		if err != nil {
			return fmt.Errorf("-gssapi-krb5-conf: %w", err)
		}
		if princ, err = conf.ParseName(f.principal, gssapi.KerberosPrincipal); err != nil {
			return fmt.Errorf("-gssapi-principal: %w", err)
		}
	}
	creds, err := gssapi.NewServerCredentials(kt, princ)
	if err != nil {
		return err
	}
	if cfg.Mechanism, err = gssapi.Server(gssapi.ServerConfig{Credentials: creds, InsecurePlaintext: f.plaintext}); err != nil {
		return err
	}
	if len(f.allow) > 0 {
		auth().ConfigureGSSAPIPrincipals("*", f.allow...)
	}
	return nil
}

// maxPassword bounds the password -gssapi-password-file holds.
const maxPassword = 1024

// readPasswordFile returns the one non-empty line of path, without its
// line end. The caller clears the result. Its errors never quote the file.
func readPasswordFile(path string) ([]byte, error) {
	pw, err := zmtpcat.ReadPasswordFile("gssapi-password-file", path, maxPassword)
	if err == nil && len(pw) == 0 {
		err = fmt.Errorf("-gssapi-password-file %s: the password is empty", path)
	}
	return pw, err
}
