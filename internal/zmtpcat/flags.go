package zmtpcat

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// usage is the help text of cmd/zmtpcat; it lists every flag (a test
// checks that). A Program with extra mechanisms adds theirs (usageText).
const usage = `usage: zmtpcat [flags] ENDPOINT

Connects to (with -bind: listens on) ENDPOINT, tcp://HOST:PORT or ipc:///PATH.
Each stdin line is one message, frames separated by a TAB; each message
received is printed as one line the same way. Bytes that would break a line
are printed as \xNN, and \xNN in input is that byte.

Socket:
  -bind                 listen and serve every connection, concurrently
  -type TYPE            our socket type: PAIR DEALER ROUTER REQ REP PUB SUB
                        XPUB XSUB PUSH PULL (default DEALER)
  -identity ID          our routing id (sent by REQ, DEALER and ROUTER)
  -subscribe TOPIC      SUB, XSUB: subscribe to TOPIC; repeatable
                        (default: everything)
  -handshake-timeout D  bound on each handshake (default 30s)
  -retry                when connecting, go on after a failed handshake
                        where libzmq would (see Connecting)
  -linger D             at exit, how long queued messages may wait to reach
                        their peer (default 30s; 0 drops them)

Messages:
  -n N                  exit 0 after receiving N messages
  -echo                 send every message received back: ROUTER and REP to
                        the peer it came from, other types to the peer the
                        socket picks (the sender, when it is the only peer)
  -hex                  frames in hex, in and out

Security (default NULL):
  -mechanism M          null, plain or curve
  -domain D             ZAP domain; NULL asks ZAP only when it is set
  -allow ADDR           ZAP: accept only peers from ADDR (IP or CIDR;
                        repeatable)
  -deny ADDR            ZAP: refuse peers from ADDR (IP or CIDR; repeatable)
  -plain-user NAME      PLAIN client: user name
  -plain-password-file FILE
                        PLAIN client: the password is the one line of FILE;
                        without this flag, $ZMTPCAT_PLAIN_PASSWORD
  -plain-password PW    refused: ps would show PW to every local user
  -plain-server         be the PLAIN server
  -passwords FILE       PLAIN server: name=password lines, re-read within a second
  -plain-rfc-error      PLAIN server: send ERROR as 23/ZMTP spells it; by
                        default it goes in libzmq's form, so that libzmq
                        clients report an authentication failure
  -curve-server         be the CURVE server
  -cert FILE            our CURVE secret certificate (a client without one
                        uses a fresh key pair)
  -server-key KEY       CURVE client: the server's public key, a certificate
                        file or 40 Z85 characters
  -client-certs DIR     CURVE server: accept the clients whose public
                        certificates are in DIR, re-read within a second
  -allow-any            CURVE server: accept any client key

Routing, as libzmq's socket of the type: REQ adds and REP strips the empty
delimiter frame, and both take turns: a REQ sends the next line once the
reply to the last has come (a request whose peer goes away first is
reported and dropped), a REP takes the next request once it has answered.
ROUTER prints the peer's routing id as the first frame and sends each line
to the peer whose routing id is the line's first frame (a line for no peer
is reported and dropped); a second peer with a routing id in use is
refused, and a PAIR takes one peer at a time. PUB sends each line to the
peers whose subscriptions match its first frame, and drops it when none
does. DEALER, PUSH and REQ take turns among their peers and wait for one.

Connecting: as a libzmq socket, zmtpcat connects when the peer appears
(nobody listening is no error) and connects again when the peer closes the
connection; lines read meanwhile wait for it, up to 1000, then stdin waits
(a PUB drops them, as it drops any line no subscriber wants). A failed
handshake ends the run with status 1: a refusal by the server (ZAP 400 or
500), a protocol error, and also a server that closes without a word (a
wrong CURVE -server-key, say) or a handshake that times out, which libzmq
would retry for ever. With -retry zmtpcat retries those two as libzmq does,
printing each failure, and still ends with status 1 after a refusal or a
protocol error. With -bind, a failed handshake is printed and the server
serves on.

At the end of stdin, zmtpcat sends what is queued and exits 0, unless -n is
still waiting for messages or it is an echo server (-bind -echo), which
serve on. Whenever it exits, messages still queued get up to -linger to
reach their peer, which may be one that has yet to connect; messages still
queued after that are dropped, and the exit status is 1 (with -linger 0
they are dropped at once, as asked, and the status is unaffected).

Exit status: 0 success, 1 handshake failure or error, 2 usage error.
`

// options is the parsed command line.
type options struct {
	endpoint         string
	bind             bool
	socketType       zmtp.SocketType
	identity         string
	subscribe        []string
	handshakeTimeout time.Duration
	retry            bool
	linger           time.Duration
	n                int
	echo             bool
	hex              bool
	security

	mechs []Mechanism // the program's extra mechanisms
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// socketTypes are the types -type takes.
var socketTypes = []zmtp.SocketType{zmtp.PAIR, zmtp.DEALER, zmtp.ROUTER, zmtp.REQ, zmtp.REP,
	zmtp.PUB, zmtp.SUB, zmtp.XPUB, zmtp.XSUB, zmtp.PUSH, zmtp.PULL}

// errUsage is wrapped by every error that exits with status 2; errFlags is
// one the flag package has already reported.
var (
	errUsage = errors.New("usage")
	errFlags = fmt.Errorf("%w: bad flags", errUsage)
)

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// newFlagSet defines every flag, storing into o.
func newFlagSet(o *options, typ *string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("zmtpcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText(o.mechs)) }
	fs.BoolVar(&o.bind, "bind", false, "")
	fs.StringVar(typ, "type", "DEALER", "")
	fs.StringVar(&o.identity, "identity", "", "")
	fs.Var((*listFlag)(&o.subscribe), "subscribe", "")
	fs.DurationVar(&o.handshakeTimeout, "handshake-timeout", transport.DefaultHandshakeTimeout, "")
	fs.BoolVar(&o.retry, "retry", false, "")
	fs.DurationVar(&o.linger, "linger", socket.DefaultLinger, "")
	fs.IntVar(&o.n, "n", 0, "")
	fs.BoolVar(&o.echo, "echo", false, "")
	fs.BoolVar(&o.hex, "hex", false, "")
	o.security.define(fs, o.mechs)
	return fs
}

// parseFlags parses args. A returned error wraps errUsage, or is
// flag.ErrHelp after -h.
func parseFlags(args []string, mechs []Mechanism, stderr io.Writer) (*options, error) {
	o := &options{mechs: mechs}
	var typ string
	fs := newFlagSet(o, &typ, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errFlags
	}
	if fs.NArg() != 1 {
		return nil, usageErr("want one ENDPOINT after the flags, got %d arguments", fs.NArg())
	}
	o.endpoint = fs.Arg(0)
	if _, _, err := transport.ParseEndpoint(o.endpoint); err != nil {
		return nil, usageErr("%v", err)
	}
	o.socketType = zmtp.SocketType(strings.ToUpper(typ))
	known := false
	for _, t := range socketTypes {
		known = known || t == o.socketType
	}
	switch {
	case !known:
		return nil, usageErr("unknown socket type %q", typ)
	case len(o.subscribe) > 0 && o.socketType != zmtp.SUB && o.socketType != zmtp.XSUB:
		return nil, usageErr("-subscribe is for SUB and XSUB sockets")
	case o.echo && !canSend(o.socketType):
		return nil, usageErr("-echo: a %s socket does not send", o.socketType)
	case o.echo && !canReceive(o.socketType):
		return nil, usageErr("-echo: a %s socket does not receive", o.socketType)
	case o.n < 0:
		return nil, usageErr("-n must not be negative")
	case o.linger < 0:
		return nil, usageErr("-linger must not be negative")
	case o.retry && o.bind:
		return nil, usageErr("-retry is for connecting; with -bind, failed handshakes never end the run")
	case o.n > 0 && !canReceive(o.socketType):
		return nil, usageErr("-n: a %s socket does not receive", o.socketType)
	case len(o.identity) > 255:
		return nil, usageErr("-identity is at most 255 bytes")
	}
	if err := o.security.check(fs); err != nil {
		return nil, err
	}
	return o, nil
}

// canSend and canReceive say which socket types send or receive messages
// (the subscriptions a SUB sends and a PUB receives are not messages).
func canSend(t zmtp.SocketType) bool    { return t != zmtp.SUB && t != zmtp.PULL }
func canReceive(t zmtp.SocketType) bool { return t != zmtp.PUB && t != zmtp.PUSH }
