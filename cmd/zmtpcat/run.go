package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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
	if err != nil {
		if err != errFlags {
			fmt.Fprintln(stderr, "zmtpcat:", err)
		}
		return 2
	}
	cfg, err := config(o)
	if err != nil {
		fmt.Fprintln(stderr, "zmtpcat:", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	a := &app{o: o, cfg: cfg, stdout: stdout, stderr: stderr, done: make(chan int, 1)}
	if stop != nil {
		go func() { <-stop; a.finish(0) }()
	}
	if o.bind {
		return a.serve(stdin)
	}
	return a.connect(stdin)
}

// app is one run of zmtpcat.
type app struct {
	o              *options
	cfg            *transport.Config
	outMu          sync.Mutex // serialises lines on stdout and stderr
	stdout, stderr io.Writer
	received       atomic.Int64
	done           chan int // the exit status, once decided
	doneOnce       sync.Once

	peersMu sync.Mutex
	peers   []*peer
	next    int      // round robin
	lastReq *request // REP: the request a stdin line answers
}

// peer is one handshaken connection.
type peer struct {
	c    *transport.Conn
	id   []byte // the peer's routing id (Identity), for ROUTER
	subs subscriptions
}

// request is a REP's pending request: the envelope to put back on the reply.
type request struct {
	p        *peer
	envelope [][]byte
}

func (a *app) finish(code int) { a.doneOnce.Do(func() { a.done <- code }) }

func (a *app) logf(format string, args ...any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	fmt.Fprintf(a.stderr, "zmtpcat: "+format+"\n", args...)
}

// outcome prints the result of a handshake.
func (a *app) outcome(what string, c *transport.Conn) {
	st := c.ConnectionState()
	a.logf("%s %s: mechanism %s, peer type %s, peer user-id %q, peer address %s",
		what, c.RemoteAddr(), st.Mechanism, orNone(string(st.PeerSocketType)), st.UserID, orNone(st.PeerAddress))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// connect dials the endpoint and runs until -n messages, stdin EOF or a
// failure.
func (a *app) connect(stdin io.Reader) int {
	ctx := context.Background()
	c, err := transport.DialContext(ctx, a.o.endpoint, a.cfg)
	if err != nil {
		a.logf("%v", err)
		return 1
	}
	defer c.Close()
	a.outcome("connected to", c)
	p := &peer{c: c, id: c.ConnectionState().PeerIdentity}
	a.peers = []*peer{p}
	if err := a.subscribe(c); err != nil {
		a.logf("%v", err)
		return 1
	}
	go func() {
		err := a.readLoop(p)
		if a.o.n > 0 && a.received.Load() >= int64(a.o.n) {
			return
		}
		a.logf("connection lost: %v", err)
		a.finish(1)
	}()
	go a.stdinLoop(stdin)
	return <-a.done
}

// subscribe sends the -subscribe topics (everything by default).
func (a *app) subscribe(c *transport.Conn) error {
	if a.o.socketType != zmtp.SUB && a.o.socketType != zmtp.XSUB {
		return nil
	}
	topics := a.o.subscribe
	if len(topics) == 0 {
		topics = []string{""}
	}
	for _, t := range topics {
		if err := c.Subscribe([]byte(t)); err != nil {
			return err
		}
	}
	return nil
}

// serve listens and serves connections concurrently: each handshakes in its
// own goroutine, so a silent or slow peer never delays another.
func (a *app) serve(stdin io.Reader) int {
	l, err := transport.Listen(a.o.endpoint, a.cfg)
	if err != nil {
		a.logf("%v", err)
		return 1
	}
	defer l.Close()
	a.logf("listening on %s", l.Endpoint())
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				a.logf("accept: %v", err)
				a.finish(1)
				return
			}
			go a.servePeer(c)
		}
	}()
	go a.stdinLoop(stdin)
	code := <-a.done
	a.peersMu.Lock()
	for _, p := range a.peers {
		p.c.Close()
	}
	a.peersMu.Unlock()
	return code
}

func (a *app) servePeer(c *transport.Conn) {
	defer c.Close()
	if err := c.Handshake(); err != nil {
		a.logf("%s: %v", c.RemoteAddr(), err)
		return
	}
	a.outcome("accepted", c)
	p := &peer{c: c, id: c.ConnectionState().PeerIdentity}
	a.peersMu.Lock()
	a.peers = append(a.peers, p)
	a.peersMu.Unlock()
	err := a.readLoop(p)
	a.peersMu.Lock()
	for i, q := range a.peers {
		if q == p {
			a.peers = append(a.peers[:i], a.peers[i+1:]...)
			break
		}
	}
	a.peersMu.Unlock()
	if !errors.Is(err, io.EOF) {
		a.logf("%s: %v", c.RemoteAddr(), err)
	}
}

// readLoop prints what p sends until its connection ends.
func (a *app) readLoop(p *peer) error {
	var msg [][]byte
	var line []byte
	for {
		var err error
		if msg, err = p.c.ReadMessage(msg); err != nil {
			return err
		}
		if a.o.socketType == zmtp.PUB || a.o.socketType == zmtp.XPUB {
			if p.subs.apply(msg) && a.o.socketType == zmtp.PUB {
				continue
			}
		}
		body := msg
		var envelope [][]byte
		switch a.o.socketType {
		case zmtp.REQ:
			if len(body) > 0 && len(body[0]) == 0 {
				body = body[1:]
			}
		case zmtp.REP:
			for i, f := range body {
				if len(f) == 0 {
					envelope = clone(body[:i+1])
					body = body[i+1:]
					break
				}
			}
			a.peersMu.Lock()
			a.lastReq = &request{p: p, envelope: envelope}
			a.peersMu.Unlock()
		}
		printed := body
		if a.o.socketType == zmtp.ROUTER {
			printed = append([][]byte{p.id}, body...)
		}
		a.outMu.Lock()
		line = appendLine(line[:0], printed, a.o.hex)
		a.stdout.Write(line)
		a.outMu.Unlock()
		if a.o.echo {
			reply := body
			if a.o.socketType == zmtp.REP {
				reply = append(envelope, body...)
			} else if a.o.socketType == zmtp.REQ {
				reply = append([][]byte{{}}, body...)
			}
			if err := p.c.WriteMessage(reply); err != nil {
				return err
			}
		}
		if n := a.received.Add(1); a.o.n > 0 && n >= int64(a.o.n) {
			a.finish(0)
		}
	}
}

func clone(msg [][]byte) [][]byte {
	c := make([][]byte, len(msg))
	for i, f := range msg {
		c[i] = append([]byte{}, f...)
	}
	return c
}

// stdinLoop sends each input line. At EOF it ends the run with status 0,
// unless -n is still waiting for messages or a server echoes (-bind -echo
// serves until it is stopped or -n is reached).
func (a *app) stdinLoop(stdin io.Reader) {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		msg, err := parseLine(sc.Bytes(), a.o.hex)
		if err != nil {
			a.logf("input: %v", err)
			continue
		}
		if err := a.send(msg); err != nil {
			a.logf("send: %v", err)
			a.finish(1)
			return
		}
	}
	if err := sc.Err(); err != nil {
		a.logf("reading standard input: %v", err)
		a.finish(1)
		return
	}
	if a.o.n == 0 && !(a.o.bind && a.o.echo) {
		a.finish(0)
	}
}

// send routes one message from stdin as the socket type would.
func (a *app) send(msg [][]byte) error {
	for {
		a.peersMu.Lock()
		p, out, ok := a.route(msg)
		a.peersMu.Unlock()
		if ok {
			if p == nil {
				return nil // dropped (no matching subscriber or routing id)
			}
			return p.c.WriteMessage(out)
		}
		time.Sleep(10 * time.Millisecond) // no peer yet: wait, as libzmq queues
	}
}

// route picks the peer for msg and the frames to send; ok is false while
// there is no peer to send to. Caller holds peersMu.
func (a *app) route(msg [][]byte) (p *peer, out [][]byte, ok bool) {
	if len(a.peers) == 0 {
		return nil, nil, false
	}
	switch a.o.socketType {
	case zmtp.ROUTER:
		for _, q := range a.peers {
			if bytes.Equal(q.id, msg[0]) {
				return q, msg[1:], true
			}
		}
		return nil, nil, true
	case zmtp.PUB, zmtp.XPUB:
		for _, q := range a.peers {
			if q.subs.match(msg[0]) {
				if err := q.c.WriteMessage(msg); err != nil {
					a.logf("%s: %v", q.c.RemoteAddr(), err)
				}
			}
		}
		return nil, nil, true
	case zmtp.REP:
		if a.lastReq == nil {
			return nil, nil, false
		}
		r := a.lastReq
		a.lastReq = nil
		return r.p, append(clone(r.envelope), msg...), true
	case zmtp.REQ:
		msg = append([][]byte{{}}, msg...)
	}
	a.next = (a.next + 1) % len(a.peers)
	return a.peers[a.next], msg, true
}
