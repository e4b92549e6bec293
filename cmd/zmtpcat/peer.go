package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// queueLen is how many messages wait for one peer, libzmq's default
// high-water mark. A variable so that tests can shrink it.
var queueLen = 1000

// peer is a connection whose handshake succeeded. Its reader (servePeer)
// and its writer (writeLoop) are the only goroutines that use c; everyone
// else queues messages on out.
type peer struct {
	c    *transport.Conn
	name string        // for messages: the endpoint or the remote address
	id   []byte        // its routing id, as a ROUTER knows it
	subs subscriptions // PUB, XPUB: what it subscribed to
	out  chan outgoing
	gone chan struct{} // closed when the connection has ended
}

// outgoing is a message to send, or a flush marker, closed once everything
// queued before it has been written.
type outgoing struct {
	msg     [][]byte
	flushed chan struct{}
}

// errPeerClosed reports a peer that closed the connection.
var errPeerClosed = errors.New("the peer closed the connection")

// servePeer shakes hands on c and serves it until it ends; what says how
// it came ("accepted", "connected to") in the outcome line. It returns why
// the connection ended.
func (a *app) servePeer(c *transport.Conn, what string) error {
	a.mu.Lock()
	name := a.conns[c]
	a.mu.Unlock()
	if err := c.HandshakeContext(a.ctx); err != nil {
		return err
	}
	p := &peer{c: c, name: name, out: make(chan outgoing, queueLen), gone: make(chan struct{})}
	defer func() {
		c.Close()
		close(p.gone)
	}()
	for _, t := range a.topics() {
		if err := c.Subscribe([]byte(t)); err != nil {
			return err
		}
	}
	if err := a.register(p); err != nil {
		a.outcome(what, p)
		return err
	}
	defer a.unregister(p)
	a.outcome(what, p)
	a.wg.Go(func() { a.writeLoop(p) })
	err := a.readLoop(p)
	if errors.Is(err, io.EOF) {
		err = errPeerClosed
	}
	return err
}

// register adds p to the peers, giving it its routing id: its Identity,
// or, if it sent none, five bytes made up as libzmq's ROUTER makes them (a
// zero byte and a counter). As in libzmq, a second connection with a
// routing id in use is refused (libzmq keeps the first unless
// ROUTER_HANDOVER is set), and a PAIR takes one peer only.
//
// A ROUTER also refuses a peer whose Identity starts with a zero byte: that
// form is reserved for the ids it makes up (libzmq documents ids starting
// with a zero byte as reserved), and a peer that could claim one could lock
// out the anonymous peer it belongs to, or take its messages.
func (a *app) register(p *peer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.o.socketType == zmtp.PAIR && len(a.peers) > 0 {
		return fmt.Errorf("a PAIR socket has a peer already; connection closed")
	}
	p.id = p.c.ConnectionState().PeerIdentity
	if a.o.socketType == zmtp.ROUTER && len(p.id) > 0 && p.id[0] == 0 {
		return fmt.Errorf("routing id %s starts with a zero byte, which is reserved for generated ids; connection closed", appendFrame(nil, p.id, a.o.hex))
	}
	if len(p.id) == 0 {
		p.id = a.generateIDLocked()
	}
	if a.o.socketType == zmtp.ROUTER && a.idInUseLocked(p.id) {
		return fmt.Errorf("routing id %s is in use; connection closed", appendFrame(nil, p.id, a.o.hex))
	}
	a.peers = append(a.peers, p)
	a.changed.Broadcast()
	a.registeredOnce.Do(func() { close(a.registered) })
	return nil
}

// generateIDLocked makes up a routing id: a zero byte and the next value
// of a 32-bit counter, skipping any still in use after the counter wraps.
func (a *app) generateIDLocked() []byte {
	for {
		a.lastID++
		id := binary.BigEndian.AppendUint32([]byte{0}, a.lastID)
		if !a.idInUseLocked(id) {
			return id
		}
	}
}

// idInUseLocked reports whether a registered peer has routing id id.
func (a *app) idInUseLocked(id []byte) bool {
	for _, q := range a.peers {
		if bytes.Equal(q.id, id) {
			return true
		}
	}
	return false
}

// unregister removes p from the peers, with the requests it has left for
// stdin to answer.
func (a *app) unregister(p *peer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.peers = slices.DeleteFunc(a.peers, func(q *peer) bool { return q == p })
	a.requests = slices.DeleteFunc(a.requests, func(r request) bool { return r.p == p })
	a.changed.Broadcast()
}

// outcome prints the result of a handshake: one line per connection.
func (a *app) outcome(what string, p *peer) {
	st := p.c.ConnectionState()
	routing := ""
	if a.o.socketType == zmtp.ROUTER {
		routing = ", routing id " + string(appendFrame(nil, p.id, a.o.hex))
	}
	a.logf("%s %s: mechanism %s, peer type %s, peer user-id %q, peer address %s%s",
		what, p.name, st.Mechanism, orNone(string(st.PeerSocketType)), st.UserID, orNone(st.PeerAddress), routing)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// writeLoop sends what is queued for p until the connection ends.
func (a *app) writeLoop(p *peer) {
	for {
		select {
		case m := <-p.out:
			if m.flushed != nil {
				close(m.flushed)
			} else if err := p.c.WriteMessage(m.msg); err != nil {
				p.c.Close() // the reader sees it and ends the peer
				return
			}
		case <-p.gone:
			return
		}
	}
}

// send queues msg for p, waiting while p's queue is full; false if the
// connection ends first.
func (p *peer) send(msg [][]byte) bool {
	select {
	case p.out <- outgoing{msg: msg}:
		return true
	case <-p.gone:
		return false
	}
}

// trySend queues msg for p unless its queue is full.
func (p *peer) trySend(msg [][]byte) bool {
	select {
	case p.out <- outgoing{msg: msg}:
		return true
	default:
		return false
	}
}

// flush waits until everything queued for p so far has been written, the
// connection has ended, or timeout fires (nil: never).
func (p *peer) flush(timeout <-chan time.Time) {
	m := outgoing{flushed: make(chan struct{})}
	select {
	case p.out <- m:
	case <-p.gone:
		return
	case <-timeout:
		return
	}
	select {
	case <-m.flushed:
	case <-p.gone:
	case <-timeout:
	}
}

// flushAll flushes every peer, waiting at most linger (0: no limit).
func (a *app) flushAll(linger time.Duration) {
	var timeout <-chan time.Time
	if linger > 0 {
		t := time.NewTimer(linger)
		defer t.Stop()
		timeout = t.C
	}
	a.mu.Lock()
	peers := slices.Clone(a.peers)
	a.mu.Unlock()
	for _, p := range peers {
		p.flush(timeout)
	}
}

// readLoop handles what p sends until the connection ends.
func (a *app) readLoop(p *peer) error {
	var msg [][]byte
	for {
		var err error
		if msg, err = p.c.ReadMessage(msg); err != nil {
			return err
		}
		a.handle(p, msg)
	}
}

// handle deals with one message from p: subscriptions, envelopes,
// printing, -echo and -n.
func (a *app) handle(p *peer, msg [][]byte) {
	switch a.o.socketType {
	case zmtp.PUB:
		p.subs.apply(msg) // anything else sent to a PUB is dropped, as libzmq does
		return
	case zmtp.XPUB:
		p.subs.apply(msg) // and printed: XPUB delivers subscriptions
	case zmtp.SUB:
		if len(msg) == 0 || !a.ownSubs.match(msg[0]) {
			return
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
		if i := slices.IndexFunc(body, func(f []byte) bool { return len(f) == 0 }); i >= 0 {
			envelope, body = clone(body[:i+1]), body[i+1:]
		}
	}
	printed := body
	if a.o.socketType == zmtp.ROUTER {
		printed = append([][]byte{p.id}, body...)
	}
	ok, last := a.print(printed)
	if !ok {
		return
	}
	switch {
	case a.o.echo:
		reply := clone(body)
		if a.o.socketType == zmtp.REQ {
			reply = append([][]byte{{}}, reply...)
		}
		p.send(append(envelope, reply...))
	case a.o.socketType == zmtp.REP:
		a.mu.Lock()
		a.requests = append(a.requests, request{p: p, envelope: envelope})
		a.changed.Broadcast()
		a.mu.Unlock()
	}
	if last {
		a.flushAll(exitLinger)
		a.finish(0)
	}
}

// print writes msg as one line unless -n messages have been printed
// already; last reports the -n-th.
func (a *app) print(msg [][]byte) (ok, last bool) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	if a.o.n > 0 && a.received >= a.o.n {
		return false, false
	}
	a.line = appendLine(a.line[:0], msg, a.o.hex)
	a.stdout.Write(a.line)
	a.received++
	return true, a.received == a.o.n
}

// clone copies msg out of ReadMessage's reused storage.
func clone(msg [][]byte) [][]byte {
	c := make([][]byte, len(msg))
	for i, f := range msg {
		c[i] = bytes.Clone(f)
		if c[i] == nil {
			c[i] = []byte{}
		}
	}
	return c
}
