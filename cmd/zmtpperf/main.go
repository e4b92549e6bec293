// Command zmtpperf measures zmtpsec in the manner of libzmq's perf/
// programs: one process binds and one connects, on one machine or across a
// link, and the one that measures prints the result. Either side can be a
// libzmq program (bench/perf/zmqperf.c has the same roles, flags and
// output), so zmtpsec can be measured against libzmq, or used to measure a
// link with a libzmq peer at the other end.
//
// Usage:
//
//	zmtpperf ROLE [flags]
//
// The roles, the binding one first in each pair (start it first; the
// connecting one waits for it):
//
//	local_thr   binds a PULL, receives -count messages of -size bytes and
//	            prints the throughput, timed from the first message on
//	remote_thr  connects a PUSH and sends -count messages of -size bytes
//	local_lat   binds a REP and echoes -count+1 messages
//	remote_lat  connects a REQ, makes one warm-up round trip, then -count
//	            timed ones, and prints the round-trip time's p50, p90, p99
//	            and mean
//	conn_srv    binds a ROUTER and echoes -count × -clients messages
//	conn_cli    runs -clients clients at once, each -count times: a new
//	            DEALER connects, shakes hands, makes one round trip and
//	            closes; prints connections per second
//
// -layer socket (the default) runs the roles over package socket; -layer
// conn over one bare transport.Conn per connection, with the same socket
// types on the wire: the sender of local_thr/remote_thr hands
// WriteMessages -batch messages per call, and receivers reuse their
// message storage (ReadMessage(dst)).
//
// Security: -mechanism null (the default), plain or curve. PLAIN uses the
// user "perf" and the password "perf", which the binding side's ZAP handler
// accepts (and nothing else). CURVE uses fixed test keys, the same as
// zmqperf's, so that any pair of the two programs agrees with no setup;
// -server-key FILE (the connecting side) and -secret FILE (either side)
// replace them with a key from a file holding its 40 Z85 characters or a
// certificate (as curvekeygen writes). The test keys are published in
// this source: use your own on any network you do not trust.
//
// Output: the binding side prints "READY endpoint=E" once it listens (with
// the port the system chose for "tcp://127.0.0.1:*"). Each result is one
// machine-readable line followed by a human one:
//
//	RESULT role=local_thr impl=zmtpsec layer=socket mech=curve size=16 count=1000000 msgs_per_s=1234567 mbit_per_s=158.0 seconds=0.810
//	local_thr: 1000000 messages of 16 B in 0.810 s: 1.235 M msgs/s, 158.0 Mbit/s (zmtpsec socket curve)
//
// local_thr reports msgs_per_s and mbit_per_s (count-1 messages over the
// time since the first arrived), remote_thr the same for its sending,
// close included; remote_lat p50_us, p90_us, p99_us and mean_us (nearest
// rank); conn_cli clients and conns_per_s. A run that makes no progress
// for -timeout fails. Exit status: 0 success, 1 failure, 2 usage error.
//
// Examples:
//
//	zmtpperf local_thr -endpoint tcp://*:5555 -mechanism curve -size 1024 -count 1000000
//	zmtpperf remote_thr -endpoint tcp://server:5555 -mechanism curve -size 1024 -count 1000000
//
//	zmtpperf local_lat -endpoint tcp://127.0.0.1:5556 -size 64 &
//	zmtpperf remote_lat -endpoint tcp://127.0.0.1:5556 -size 64 -count 10000
//
//	zmtpperf conn_srv -endpoint tcp://127.0.0.1:5557 -mechanism curve -clients 2 -count 1000 &
//	zmtpperf conn_cli -endpoint tcp://127.0.0.1:5557 -mechanism curve -clients 2 -count 1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// usage is the help text; it lists every flag (a test checks that).
const usage = `usage: zmtpperf ROLE [flags]

Roles (start the binding one of a pair first):
  local_thr    bind a PULL, receive -count messages, print the throughput
  remote_thr   connect a PUSH, send -count messages of -size bytes
  local_lat    bind a REP, echo -count+1 messages
  remote_lat   connect a REQ, 1 warm-up and -count timed round trips, print
               p50, p90, p99 and mean round-trip time
  conn_srv     bind a ROUTER, echo -count x -clients messages
  conn_cli     -clients clients, each -count times: connect a DEALER, shake
               hands, one round trip, close; print connections/s

Flags:
  -endpoint E      where to bind or connect (default tcp://127.0.0.1:5555;
                   a bind to tcp://HOST:* picks a free port, printed on the
                   READY line)
  -size N          payload bytes (default 16)
  -count N         messages, round trips, or connections per client
                   (default 1000000 for _thr, 10000 for _lat, 1000 for conn_)
  -clients K       conn_srv, conn_cli: clients at once (default 1)
  -mechanism M     null, plain or curve (default null)
  -server-key FILE CURVE client: the server's public key (40 Z85 characters
                   or a certificate); default: the fixed test key
  -secret FILE     CURVE: our secret key (40 Z85 characters or a secret
                   certificate); default: the fixed test key of our side
  -layer L         socket (package socket, the default) or conn (one bare
                   transport.Conn per connection)
  -batch N         -layer conn, remote_thr: messages per WriteMessages call
                   (default 256)
  -timeout D       fail when nothing happens for D (default 60s)
`

// errUsage marks an error in the command line (exit status 2).
var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// config is the parsed command line.
type config struct {
	role          string
	endpoint      string
	size          int
	count         int
	clients       int
	mech          string
	serverKeyFile string
	secretFile    string
	layer         string
	batch         int
	timeout       time.Duration
}

// roles maps each role to whether it binds (is the server) and its default
// count.
var roles = map[string]struct {
	binds bool
	count int
}{
	"local_thr":  {true, 1000000},
	"remote_thr": {false, 1000000},
	"local_lat":  {true, 10000},
	"remote_lat": {false, 10000},
	"conn_srv":   {true, 1000},
	"conn_cli":   {false, 1000},
}

// flags defines the flags, which set c's fields.
func (c *config) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("zmtpperf", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.endpoint, "endpoint", "tcp://127.0.0.1:5555", "")
	fs.IntVar(&c.size, "size", 16, "")
	fs.IntVar(&c.count, "count", 0, "")
	fs.IntVar(&c.clients, "clients", 1, "")
	fs.StringVar(&c.mech, "mechanism", "null", "")
	fs.StringVar(&c.serverKeyFile, "server-key", "", "")
	fs.StringVar(&c.secretFile, "secret", "", "")
	fs.StringVar(&c.layer, "layer", "socket", "")
	fs.IntVar(&c.batch, "batch", 256, "")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "")
	return fs
}

// parse reads the command line: the role, then flags (flags before the role
// are accepted too).
func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := c.flags()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.role, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			return nil, flag.ErrHelp
		}
		return nil, usageErr("%v", err)
	}
	rest := fs.Args()
	if c.role == "" && len(rest) > 0 {
		c.role, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return nil, usageErr("unexpected argument %q", rest[0])
	}
	r, ok := roles[c.role]
	switch {
	case c.role == "":
		return nil, usageErr("no role: want local_thr, remote_thr, local_lat, remote_lat, conn_srv or conn_cli")
	case !ok:
		return nil, usageErr("unknown role %q", c.role)
	case c.size < 0:
		return nil, usageErr("-size %d: want 0 or more", c.size)
	case c.count < 0:
		return nil, usageErr("-count %d: want 1 or more", c.count)
	case c.clients < 1:
		return nil, usageErr("-clients %d: want 1 or more", c.clients)
	case c.batch < 1:
		return nil, usageErr("-batch %d: want 1 or more", c.batch)
	case c.timeout <= 0:
		return nil, usageErr("-timeout %v: want a positive duration", c.timeout)
	case c.layer != "socket" && c.layer != "conn":
		return nil, usageErr("-layer %q: want socket or conn", c.layer)
	case c.mech != "null" && c.mech != "plain" && c.mech != "curve":
		return nil, usageErr("-mechanism %q: want null, plain or curve", c.mech)
	case c.mech != "curve" && (c.serverKeyFile != "" || c.secretFile != ""):
		return nil, usageErr("-server-key and -secret need -mechanism curve")
	case r.binds && c.serverKeyFile != "":
		return nil, usageErr("-server-key is for the connecting side (the CURVE client)")
	}
	if c.count == 0 {
		c.count = r.count
	}
	return c, nil
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "zmtpperf: %v\n\n%s", err, usage)
		return 2
	}
	sec, err := newSecurity(c)
	if err != nil {
		fmt.Fprintf(stderr, "zmtpperf: %v\n", err)
		return 1
	}
	r := newRunner(c, sec, stdout, stderr)
	if err := r.run(context.Background()); err != nil {
		r.logf("%s: %v", c.role, err)
		return 1
	}
	return 0
}
