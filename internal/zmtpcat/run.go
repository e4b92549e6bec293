package zmtpcat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// run is cmd/zmtpcat's main without the process: it returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runUntil(&Program{}, args, stdin, stdout, stderr, nil)
}

// eventBuffer is the capacity of the socket's event channel. The events
// are read as they come; the buffer absorbs a burst of connections.
const eventBuffer = 1024

// runUntil runs p, and also ends, with status 0, when stop is closed.
func runUntil(p *Program, args []string, stdin io.Reader, stdout, stderr io.Writer, stop <-chan struct{}) int {
	o, err := parseFlags(args, p.Mechanisms, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if err != errFlags {
			fmt.Fprintf(stderr, "zmtpcat: %v\n(zmtpcat -h lists the flags)\n", err)
		}
		return 2
	}
	events := make(chan socket.Event, eventBuffer)
	opts := &socket.Options{
		Config: transport.Config{
			Identity:         []byte(o.identity),
			HandshakeTimeout: o.handshakeTimeout,
		},
		Linger: o.linger,
		// Every failed handshake ends the endpoint, unless -retry asks for
		// libzmq's rule; either way the events say what happened.
		StopReconnectOnHandshakeFailure: !o.retry,
		// A line for no peer is reported instead of dropped in silence.
		RouterMandatory: o.socketType == zmtp.ROUTER,
		Events:          events,
	}
	if o.linger == 0 {
		opts.Linger = -1 // none: socket.Options takes 0 as the default
	}
	if err := o.security.apply(&opts.Config); err != nil {
		fmt.Fprintln(stderr, "zmtpcat:", err)
		return 1
	}
	s, err := socket.New(o.socketType, opts)
	if err != nil {
		fmt.Fprintln(stderr, "zmtpcat:", err)
		return 1
	}
	a := newApp(o, s, stdout, stderr)
	return a.run(stdin, events, stop)
}

// app is one run of zmtpcat: a socket, the goroutines that feed it from
// stdin and print what it receives, and the exit status.
type app struct {
	o *options
	s *socket.Socket

	outMu          sync.Mutex // one line at a time on stdout and stderr
	stdout, stderr io.Writer
	line           []byte // under outMu
	received       int    // messages printed, under outMu

	ctx      context.Context // cancelled at exit; ends blocked Sends and Recvs
	cancel   context.CancelFunc
	done     chan struct{} // closed by finish
	code     int           // the exit status, set by finish
	doneOnce sync.Once
	failed   atomic.Bool // a failure makes the status 1, even one seen while lingering

	// lines hands stdin lines to the goroutine that owns the turn taking
	// of a REQ or REP socket.
	lines chan line

	wg sync.WaitGroup // the receiving goroutines
}

// line is one stdin message for a REQ or REP loop; sent gets the result of
// its Send.
type line struct {
	msg  [][]byte
	sent chan error
}

func newApp(o *options, s *socket.Socket, stdout, stderr io.Writer) *app {
	a := &app{o: o, s: s, stdout: stdout, stderr: stderr, done: make(chan struct{}), lines: make(chan line)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a
}

// run binds or connects, serves until the run is finished (or stop is
// closed), then closes the socket, which gives queued messages up to
// -linger, and returns the exit status.
func (a *app) run(stdin io.Reader, events <-chan socket.Event, stop <-chan struct{}) int {
	closed := make(chan struct{})
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		a.eventLoop(events, closed)
	}()
	if a.start(stdin) {
		select {
		case <-a.done:
		case <-stop:
			a.finish(0)
		}
	}
	a.cancel()
	a.s.Close()
	if n := a.s.Stats().Queued; n > 0 && a.o.linger > 0 {
		a.fail("zmtpcat: %d queued message(s) dropped: no peer took them within -linger %v", n, a.o.linger)
	}
	close(closed)
	<-eventsDone
	a.wg.Wait()
	return a.exitStatus()
}

// start subscribes, binds or connects, and starts the goroutines that
// carry messages; false if the run cannot start.
func (a *app) start(stdin io.Reader) bool {
	for _, t := range a.topics() {
		var err error
		if a.o.socketType == zmtp.SUB {
			err = a.s.Subscribe([]byte(t))
		} else {
			// An XSUB subscribes by sending the subscription message,
			// which the socket also replays on every new connection.
			err = a.s.Send(a.ctx, [][]byte{append([]byte{zmtp.SubscribeByte}, t...)})
		}
		if err != nil {
			a.fail("-subscribe %q: %v", t, err)
			return false
		}
	}
	if a.o.bind {
		if err := a.s.Bind(a.o.endpoint); err != nil {
			a.fail("%s: %v", a.o.endpoint, err)
			return false
		}
		a.logf("listening on %s", a.s.LastEndpoint())
	} else if err := a.s.Connect(a.o.endpoint); err != nil {
		a.fail("%s: %v", a.o.endpoint, err)
		return false
	}

	switch t := a.o.socketType; {
	case t == zmtp.REQ:
		a.wg.Go(a.reqLoop)
	case t == zmtp.REP:
		a.wg.Go(a.repLoop)
	case canReceive(t):
		a.wg.Go(a.recvLoop)
	}
	go a.stdinLoop(stdin) // not waited for: it may be blocked reading stdin
	return true
}

// exitStatus is the status run returns; call it after the socket is closed,
// so that failures seen while lingering count.
func (a *app) exitStatus() int {
	if a.failed.Load() {
		return 1
	}
	return a.code
}

// finish decides the exit status; the first call wins.
func (a *app) finish(code int) {
	a.doneOnce.Do(func() {
		a.code = code
		close(a.done)
	})
}

// fail reports a failure and ends the run with status 1, whatever ended it
// before: a handshake refused while queued messages linger still counts.
func (a *app) fail(format string, args ...any) {
	a.logf(format, args...)
	a.failed.Store(true)
	a.finish(1)
}

// ending reports whether the run is ending.
func (a *app) ending() bool { return a.ctx.Err() != nil || a.finished() }

func (a *app) finished() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *app) logf(format string, args ...any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	fmt.Fprintf(a.stderr, "zmtpcat: "+format+"\n", args...)
}

// topics are the subscriptions of a SUB or XSUB: -subscribe, or everything.
func (a *app) topics() []string {
	if a.o.socketType != zmtp.SUB && a.o.socketType != zmtp.XSUB {
		return nil
	}
	if len(a.o.subscribe) == 0 {
		return []string{""}
	}
	return a.o.subscribe
}
