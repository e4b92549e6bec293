package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

const usageText = `usage: zmtpcat [flags] ENDPOINT

ENDPOINT is tcp://HOST:PORT or ipc:///PATH. Each stdin line is one message,
frames separated by a TAB; each received message is printed the same way.

Flags:
`

// options is the parsed command line.
type options struct {
	endpoint   string
	bind       bool
	socketType zmtp.SocketType
	identity   string
	subscribe  []string
	n          int
	echo       bool
	hex        bool
	timeout    int // handshake timeout in milliseconds

	mechanism     string
	domain        string
	allow, deny   []string
	plainUser     string
	plainPassword string
	plainServer   bool
	passwords     string
	curveServer   bool
	certFile      string
	serverKey     string
	clientCerts   string
	allowAny      bool
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

var socketTypes = []zmtp.SocketType{zmtp.PAIR, zmtp.DEALER, zmtp.ROUTER, zmtp.REQ, zmtp.REP,
	zmtp.PUB, zmtp.SUB, zmtp.XPUB, zmtp.XSUB, zmtp.PUSH, zmtp.PULL}

// errUsage marks errors that exit with status 2; errFlags is one the flag
// package has already printed.
var (
	errUsage = errors.New("usage")
	errFlags = fmt.Errorf("%w: bad flags", errUsage)
)

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// parseFlags parses args; a returned error wraps errUsage.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("zmtpcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText); fs.PrintDefaults() }
	typ := fs.String("type", "DEALER", "our socket `type`: PAIR DEALER ROUTER REQ REP PUB SUB XPUB XSUB PUSH PULL")
	var subs, allow, deny listFlag
	fs.BoolVar(&o.bind, "bind", false, "listen and serve connections instead of connecting")
	fs.StringVar(&o.identity, "identity", "", "our routing id (`ID`)")
	fs.Var(&subs, "subscribe", "subscribe to `TOPIC` (SUB, XSUB; repeatable; default everything)")
	fs.IntVar(&o.n, "n", 0, "exit 0 after receiving `N` messages")
	fs.BoolVar(&o.echo, "echo", false, "send every received message back (REP: as the reply)")
	fs.BoolVar(&o.hex, "hex", false, "frames in hex, in and out")
	fs.IntVar(&o.timeout, "handshake-timeout", 30000, "handshake timeout in `ms`")
	fs.StringVar(&o.mechanism, "mechanism", "null", "security mechanism: null, plain or curve")
	fs.StringVar(&o.domain, "domain", "", "ZAP `domain` (NULL asks ZAP only when it is set)")
	fs.Var(&allow, "allow", "allow only this `ADDR` (IP or CIDR; repeatable)")
	fs.Var(&deny, "deny", "deny this `ADDR` (IP or CIDR; repeatable)")
	fs.StringVar(&o.plainUser, "plain-user", "", "PLAIN client `username`")
	fs.StringVar(&o.plainPassword, "plain-password", "", "PLAIN client `password`")
	fs.BoolVar(&o.plainServer, "plain-server", false, "be the PLAIN server")
	fs.StringVar(&o.passwords, "passwords", "", "PLAIN server password `FILE` (name=password lines; reloaded on change)")
	fs.BoolVar(&o.curveServer, "curve-server", false, "be the CURVE server")
	fs.StringVar(&o.certFile, "cert", "", "our own CURVE certificate: the secret `FILE`")
	fs.StringVar(&o.serverKey, "server-key", "", "CURVE server public `KEY`: a public certificate file, or 40 Z85 characters")
	fs.StringVar(&o.clientCerts, "client-certs", "", "CURVE server: allow the clients whose certificates are in `DIR` (reloaded on change)")
	fs.BoolVar(&o.allowAny, "allow-any", false, "CURVE server: allow any client key")
	if err := fs.Parse(args); err != nil {
		return nil, errFlags
	}
	o.subscribe, o.allow, o.deny = subs, allow, deny
	if fs.NArg() != 1 {
		return nil, usageErr("want exactly one ENDPOINT, got %d arguments", fs.NArg())
	}
	o.endpoint = fs.Arg(0)
	if _, _, err := transport.ParseEndpoint(o.endpoint); err != nil {
		return nil, usageErr("%v", err)
	}
	o.socketType = zmtp.SocketType(strings.ToUpper(*typ))
	known := false
	for _, t := range socketTypes {
		known = known || t == o.socketType
	}
	if !known {
		return nil, usageErr("unknown socket type %q", *typ)
	}
	if len(o.subscribe) > 0 && o.socketType != zmtp.SUB && o.socketType != zmtp.XSUB {
		return nil, usageErr("-subscribe is for SUB and XSUB sockets")
	}
	if o.n < 0 {
		return nil, usageErr("-n must not be negative")
	}
	if len(o.identity) > 255 {
		return nil, usageErr("-identity is at most 255 bytes")
	}
	if len(o.allow) > 0 && len(o.deny) > 0 {
		return nil, usageErr("-allow and -deny cannot be used together")
	}
	for _, a := range append(append([]string{}, o.allow...), o.deny...) {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				return nil, usageErr("%q is not an IP address or CIDR range", a)
			}
		}
	}
	return o, checkMechanism(o)
}

// checkMechanism validates the security flags against -mechanism.
func checkMechanism(o *options) error {
	plainFlags := o.plainUser != "" || o.plainPassword != "" || o.plainServer || o.passwords != ""
	curveFlags := o.curveServer || o.certFile != "" || o.serverKey != "" || o.clientCerts != "" || o.allowAny
	switch o.mechanism {
	case "null":
		if plainFlags || curveFlags {
			return usageErr("PLAIN and CURVE flags need -mechanism plain or curve")
		}
	case "plain":
		if curveFlags {
			return usageErr("CURVE flags with -mechanism plain")
		}
		if o.plainServer && (o.plainUser != "" || o.plainPassword != "") {
			return usageErr("-plain-server takes -passwords, not -plain-user/-plain-password")
		}
		if !o.plainServer && o.passwords != "" {
			return usageErr("-passwords needs -plain-server")
		}
	case "curve":
		if plainFlags {
			return usageErr("PLAIN flags with -mechanism curve")
		}
		if o.curveServer {
			if o.certFile == "" {
				return usageErr("-curve-server needs -cert (the server's secret certificate)")
			}
			if o.serverKey != "" {
				return usageErr("-server-key is for CURVE clients")
			}
			if o.clientCerts != "" && o.allowAny {
				return usageErr("-client-certs and -allow-any cannot be used together")
			}
		} else {
			if o.serverKey == "" {
				return usageErr("a CURVE client needs -server-key")
			}
			if o.clientCerts != "" || o.allowAny {
				return usageErr("-client-certs and -allow-any are for -curve-server")
			}
		}
	default:
		return usageErr("-mechanism %q: want null, plain or curve", o.mechanism)
	}
	return nil
}
