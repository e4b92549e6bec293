package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// run is main without the process: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runUntil(args, stdin, stdout, stderr, nil)
}

// runUntil is run that also ends, with status 0, when stop is closed.
func runUntil(args []string, stdin io.Reader, stdout, stderr io.Writer, stop <-chan struct{}) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if err != errFlags {
			fmt.Fprintf(stderr, "zmtpcat: %v\n(zmtpcat -h lists the flags)\n", err)
		}
		return 2
	}
	cfg := &transport.Config{
		SocketType:       o.socketType,
		Identity:         []byte(o.identity),
		HandshakeTimeout: o.handshakeTimeout,
	}
	if err := o.security.apply(cfg); err != nil {
		fmt.Fprintln(stderr, "zmtpcat:", err)
		return 1
	}
	a := newApp(o, cfg, stdout, stderr)
	defer a.cancel()
	if stop != nil {
		go func() {
			select {
			case <-stop:
				a.finish(0)
			case <-a.done:
			}
		}()
	}
	if o.bind {
		return a.serve(stdin)
	}
	return a.connect(stdin)
}

// exitLinger bounds how long an exit after -n waits for the messages still
// queued (an -echo of the last message) to go out.
const exitLinger = 2 * time.Second

// app is one run of zmtpcat.
type app struct {
	o   *options
	cfg *transport.Config

	outMu          sync.Mutex // one line at a time on stdout and stderr
	stdout, stderr io.Writer
	line           []byte // under outMu
	received       int    // messages printed, under outMu

	ctx      context.Context // cancelled at exit; bounds handshakes
	cancel   context.CancelFunc
	done     chan struct{} // closed by finish
	code     int           // the exit status, set by finish
	doneOnce sync.Once

	mu       sync.Mutex
	changed  *sync.Cond                 // on mu: peers, requests or closing changed
	closing  bool                       // shutting down: no new connections
	conns    map[*transport.Conn]string // every open connection, shaken hands or not
	peers    []*peer                    // connections whose handshake succeeded
	next     int                        // round robin position in peers
	lastID   uint32                     // ROUTER: the last routing id made up
	requests []request                  // REP: requests to answer from stdin, oldest first

	registered     chan struct{} // closed when the first peer is registered
	registeredOnce sync.Once

	ownSubs subscriptions // SUB: our subscriptions, to filter what arrives
	wg      sync.WaitGroup
}

func newApp(o *options, cfg *transport.Config, stdout, stderr io.Writer) *app {
	a := &app{o: o, cfg: cfg, stdout: stdout, stderr: stderr,
		done: make(chan struct{}), registered: make(chan struct{}), conns: map[*transport.Conn]string{}}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.changed = sync.NewCond(&a.mu)
	for _, t := range a.topics() {
		a.ownSubs.add(t)
	}
	return a
}

// finish decides the exit status; the first call wins.
func (a *app) finish(code int) {
	a.doneOnce.Do(func() {
		a.code = code
		close(a.done)
	})
}

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

// connect dials the endpoint and serves the one connection until -n
// messages, the end of stdin, or the end of the connection: status 0 if
// the peer closed it while -n was not waiting, else 1.
func (a *app) connect(stdin io.Reader) int {
	c, err := transport.DialContext(a.ctx, a.o.endpoint, a.cfg)
	if err != nil {
		a.logf("%s: %v", a.o.endpoint, err)
		return 1
	}
	if !a.track(c, a.o.endpoint) {
		return 1
	}
	a.wg.Go(func() {
		defer a.untrack(c)
		err := a.servePeer(c, "connected to")
		if a.finished() || a.nReached() {
			return
		}
		a.logf("%s: %v", a.o.endpoint, err)
		if errors.Is(err, errPeerClosed) && a.o.n == 0 {
			a.finish(0) // as netcat: the peer hung up, nothing was wrong
			return
		}
		a.finish(1)
	})
	go func() {
		// Lines go out once the peer is registered, so that none is
		// dropped for want of a peer.
		select {
		case <-a.registered:
			a.stdinLoop(stdin)
		case <-a.done:
		}
	}()
	<-a.done
	a.shutdown()
	return a.code
}

// serve listens and serves every connection in goroutines of its own, so
// that a peer that is silent or slow, in its handshake or after, never
// delays another.
func (a *app) serve(stdin io.Reader) int {
	l, err := transport.Listen(a.o.endpoint, a.cfg)
	if err != nil {
		a.logf("%s: %v", a.o.endpoint, err)
		return 1
	}
	a.logf("listening on %s", l.Endpoint())
	a.wg.Go(func() { a.acceptLoop(l) })
	go a.stdinLoop(stdin)
	<-a.done
	l.Close()
	a.shutdown()
	return a.code
}

func (a *app) acceptLoop(l *transport.Listener) {
	for {
		c, err := l.Accept()
		if a.finished() {
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				a.logf("accept: %v", err)
				a.finish(1)
				return
			}
			a.logf("accept: %v", err) // out of descriptors, say: wait, then go on
			time.Sleep(100 * time.Millisecond)
			continue
		}
		name := c.RemoteAddr().String()
		if name == "" || name == "@" {
			name = "ipc peer" // a Unix socket's peer has no name
		}
		if !a.track(c, name) {
			return
		}
		a.wg.Go(func() {
			defer a.untrack(c)
			if err := a.servePeer(c, "accepted"); err != nil && !a.finished() {
				a.logf("%s: %v", name, err)
			}
		})
	}
}

// track records an open connection, so that shutdown closes it; false
// means the run is ending and c is closed.
func (a *app) track(c *transport.Conn, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		c.Close()
		return false
	}
	a.conns[c] = name
	return true
}

func (a *app) untrack(c *transport.Conn) {
	c.Close()
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
}

// shutdown closes every connection, wakes every waiting sender and waits
// for the goroutines of the connections.
func (a *app) shutdown() {
	a.cancel()
	a.mu.Lock()
	a.closing = true
	for c := range a.conns {
		c.Close()
	}
	a.changed.Broadcast()
	a.mu.Unlock()
	a.wg.Wait()
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

// nReached reports whether -n messages have been received.
func (a *app) nReached() bool {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	return a.o.n > 0 && a.received >= a.o.n
}
