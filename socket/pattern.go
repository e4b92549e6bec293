package socket

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// A pattern is what one socket type does with its pipes: which pipe a sent
// message goes to, which incoming message the application gets next. Every
// method is called with Socket.mu held and must not block.
type pattern interface {
	// attach adds a pipe; an error refuses it.
	attach(p *pipe) error
	// detach removes a pipe for good.
	detach(p *pipe)
	// connected is called when a connection under p completed its
	// handshake (p.state describes it), before any of its messages is
	// read; an error closes that connection.
	connected(p *pipe) error
	// disconnected is called when p's connection ended.
	disconnected(p *pipe)
	// incoming decides what becomes of a message read from p: queued for
	// the application (true), consumed or dropped (false), or refused as a
	// protocol error, which ends the connection.
	incoming(p *pipe, msg [][]byte) (bool, error)
	// send queues msg; false with a nil error means "wait and try again".
	send(msg [][]byte) (bool, error)
	// recv takes the next message for the application; false with a nil
	// error means "wait and try again".
	recv() ([][]byte, bool, error)
}

// subscriber is a pattern with Subscribe and Unsubscribe.
type subscriber interface {
	subscribe(add bool, topic []byte) error
}

func newPattern(s *Socket) pattern {
	switch s.typ {
	case zmtp.PAIR:
		return &pair{}
	case zmtp.PUSH:
		return &push{}
	case zmtp.PULL:
		return &pull{}
	case zmtp.DEALER:
		return &dealer{probe: s.opts.ProbeRouter}
	case zmtp.ROUTER:
		return newRouter(s)
	case zmtp.REQ:
		return &req{s: s, id: rand.Uint32()}
	case zmtp.REP:
		return &rep{}
	case zmtp.PUB, zmtp.XPUB:
		return newXPub(s)
	case zmtp.SUB, zmtp.XSUB:
		return newXSub(s)
	}
	return nil
}

// ring is a list of pipes taken in turn from cur, the base of fq and lb.
type ring struct {
	pipes []*pipe
	cur   int
}

func (r *ring) add(p *pipe) { r.pipes = append(r.pipes, p) }

// remove takes p out, keeping the turn on the pipe that had it.
func (r *ring) remove(p *pipe) {
	if i := slices.Index(r.pipes, p); i >= 0 {
		r.pipes = slices.Delete(r.pipes, i, i+1)
		if r.cur > i {
			r.cur--
		}
	}
}

// fq is fair queueing: one message from each pipe with something to read in
// turn (libzmq's fq_t). A detached pipe stays until it has been read dry.
type fq struct{ ring }

// detach forgets p now if nothing of it is left to read.
func (f *fq) detach(p *pipe) {
	if p.in.len() == 0 {
		f.remove(p)
	}
}

// next returns the next message and its pipe.
func (f *fq) next() ([][]byte, *pipe, bool) {
	n := len(f.pipes)
	for i := 0; i < n; i++ {
		idx := (f.cur + i) % n
		p := f.pipes[idx]
		if p.in.len() == 0 {
			continue
		}
		m := p.pop()
		f.cur = idx + 1
		if p.detached && p.in.len() == 0 {
			f.remove(p)
		}
		if len(f.pipes) > 0 {
			f.cur %= len(f.pipes)
		} else {
			f.cur = 0
		}
		return m, p, true
	}
	return nil, nil, false
}

// lb is round-robin load balancing over the pipes with room in their
// queues (libzmq's lb_t): it moves on once per message.
type lb struct{ ring }

// send queues msg on the next pipe with room and returns it, or nil if
// every pipe is full (or there is none).
func (l *lb) send(msg [][]byte) *pipe {
	n := len(l.pipes)
	for i := 0; i < n; i++ {
		idx := (l.cur + i) % n
		p := l.pipes[idx]
		if !p.room() {
			continue
		}
		p.push(msg)
		l.cur = (idx + 1) % n
		return p
	}
	return nil
}

// nopConn is the part of pattern most types do nothing for.
type nopConn struct{}

func (nopConn) connected(*pipe) error { return nil }
func (nopConn) disconnected(*pipe)    {}

// pair: one peer at a time.
type pair struct {
	nopConn
	cur *pipe
	fq  fq // cur, and earlier pipes with unread messages
}

func (x *pair) attach(p *pipe) error {
	if x.cur != nil {
		return ErrPeerRefused
	}
	x.cur = p
	x.fq.add(p)
	return nil
}

func (x *pair) detach(p *pipe) {
	if x.cur == p {
		x.cur = nil
	}
	x.fq.detach(p)
}

func (x *pair) incoming(*pipe, [][]byte) (bool, error) { return true, nil }

func (x *pair) send(msg [][]byte) (bool, error) {
	if x.cur == nil || !x.cur.room() {
		return false, nil
	}
	x.cur.push(msg)
	return true, nil
}

func (x *pair) recv() ([][]byte, bool, error) {
	m, _, ok := x.fq.next()
	return m, ok, nil
}

// push: round-robin out, nothing in.
type push struct {
	nopConn
	lb lb
}

func (x *push) attach(p *pipe) error                   { x.lb.add(p); return nil }
func (x *push) detach(p *pipe)                         { x.lb.remove(p) }
func (x *push) incoming(*pipe, [][]byte) (bool, error) { return false, nil }
func (x *push) send(msg [][]byte) (bool, error)        { return x.lb.send(msg) != nil, nil }
func (x *push) recv() ([][]byte, bool, error)          { return nil, false, ErrNotSupported }

// pull: fair-queued in, nothing out.
type pull struct {
	nopConn
	fq fq
}

func (x *pull) attach(p *pipe) error                   { x.fq.add(p); return nil }
func (x *pull) detach(p *pipe)                         { x.fq.detach(p) }
func (x *pull) incoming(*pipe, [][]byte) (bool, error) { return true, nil }
func (x *pull) send([][]byte) (bool, error)            { return false, ErrNotSupported }

func (x *pull) recv() ([][]byte, bool, error) {
	m, _, ok := x.fq.next()
	return m, ok, nil
}

// dealer: round-robin out, fair-queued in.
type dealer struct {
	lb    lb
	fq    fq
	probe bool
}

func (x *dealer) attach(p *pipe) error                   { x.lb.add(p); x.fq.add(p); return nil }
func (x *dealer) detach(p *pipe)                         { x.lb.remove(p); x.fq.detach(p) }
func (x *dealer) connected(p *pipe) error                { probe(x.probe, p); return nil }
func (x *dealer) disconnected(*pipe)                     {}
func (x *dealer) incoming(*pipe, [][]byte) (bool, error) { return true, nil }
func (x *dealer) send(msg [][]byte) (bool, error)        { return x.lb.send(msg) != nil, nil }

func (x *dealer) recv() ([][]byte, bool, error) {
	m, _, ok := x.fq.next()
	return m, ok, nil
}

// probe queues ZMQ_PROBE_ROUTER's empty message to a new peer.
func probe(on bool, p *pipe) {
	if on {
		p.push([][]byte{{}})
	}
}

// router routes by routing id: the first frame of what the application
// sends picks the peer, and what a peer sends reaches the application after
// its routing id.
type router struct {
	s      *Socket
	fq     fq
	byID   map[string]*pipe
	nextID uint32 // the next generated id, as libzmq: 0x00 + uint32 BE
}

func newRouter(s *Socket) *router {
	return &router{s: s, byID: make(map[string]*pipe), nextID: rand.Uint32()}
}

func (x *router) attach(p *pipe) error { x.fq.add(p); return nil }

func (x *router) detach(p *pipe) {
	x.forget(p)
	x.fq.detach(p)
}

// forget frees p's routing id at once, so a peer that reconnects with the
// same id is not refused while its old messages are still being read
// (libzmq ignores such a reconnection for good).
func (x *router) forget(p *pipe) {
	if p.id != nil && x.byID[string(p.id)] == p {
		delete(x.byID, string(p.id))
	}
}

// connected identifies the peer: by the Identity it sent, or with a
// generated id. A second peer with an id in use is refused, or with
// RouterHandover takes it over and the first is closed.
func (x *router) connected(p *pipe) error {
	x.forget(p)
	id := p.state.PeerIdentity
	if len(id) == 0 {
		// A peer may have taken the next generated id as its Identity:
		// skip ids in use.
		var b [5]byte
		for {
			binary.BigEndian.PutUint32(b[1:], x.nextID)
			x.nextID++
			if x.byID[string(b[:])] == nil {
				break
			}
		}
		id = b[:]
	} else if old := x.byID[string(id)]; old != nil && old != p {
		if !x.s.opts.RouterHandover {
			return ErrPeerRefused
		}
		delete(x.byID, string(id))
		old.id = nil
		if old.link != nil {
			old.link.kill()
		}
	}
	p.id = bytes.Clone(id)
	x.byID[string(p.id)] = p
	probe(x.s.opts.ProbeRouter, p)
	return nil
}

func (x *router) disconnected(*pipe) {}

func (x *router) incoming(*pipe, [][]byte) (bool, error) { return true, nil }

func (x *router) send(msg [][]byte) (bool, error) {
	if len(msg) < 2 {
		return true, nil // nothing to route: dropped, as libzmq does
	}
	p := x.byID[string(msg[0])]
	mandatory := x.s.opts.RouterMandatory
	switch {
	case p == nil && mandatory:
		return false, ErrHostUnreachable
	case p == nil:
		return true, nil
	case !p.room() && mandatory:
		return false, nil
	case !p.room():
		return true, nil
	}
	p.push(msg[1:])
	return true, nil
}

func (x *router) recv() ([][]byte, bool, error) {
	m, p, ok := x.fq.next()
	if !ok {
		return nil, false, nil
	}
	out := make([][]byte, 0, len(m)+1)
	out = append(out, bytes.Clone(p.id))
	return append(out, m...), true, nil
}

// req sends requests round-robin and takes the reply from the peer the
// request went to, strictly alternating.
type req struct {
	s         *Socket
	lb        lb
	fq        fq
	awaiting  bool
	replyPipe *pipe
	seq       uint64 // replyPipe.pushed once the request was queued
	id        uint32 // ReqCorrelate: the id of the next request
	sentID    uint32
}

func (x *req) attach(p *pipe) error { x.lb.add(p); x.fq.add(p); return nil }

func (x *req) detach(p *pipe) {
	x.lb.remove(p)
	x.fq.detach(p)
}

func (x *req) connected(p *pipe) error { probe(x.s.opts.ProbeRouter, p); return nil }
func (x *req) disconnected(*pipe)      {}

// incoming checks a reply's envelope; as libzmq, a malformed one ends the
// connection. Messages that are not the awaited reply are dropped here.
func (x *req) incoming(p *pipe, msg [][]byte) (bool, error) {
	if x.s.opts.ReqCorrelate {
		if len(msg) < 2 || len(msg[0]) != 4 || len(msg[1]) != 0 {
			return false, errMalformedReply
		}
	} else if len(msg) < 2 || len(msg[0]) != 0 {
		return false, errMalformedReply
	}
	return x.awaiting && p == x.replyPipe, nil
}

func (x *req) send(msg [][]byte) (bool, error) {
	if x.awaiting {
		if !x.s.opts.ReqRelaxed {
			return false, ErrState
		}
		x.awaiting, x.replyPipe = false, nil
	}
	// Replies that came too late for an earlier request are dropped.
	for _, p := range x.fq.pipes {
		p.discardIn()
	}
	env := make([][]byte, 0, len(msg)+2)
	if x.s.opts.ReqCorrelate {
		var id [4]byte
		binary.NativeEndian.PutUint32(id[:], x.id)
		env = append(env, id[:])
	}
	env = append(env, nil)
	env = append(env, msg...)
	p := x.lb.send(env)
	if p == nil {
		return false, nil
	}
	x.awaiting, x.replyPipe, x.seq, x.sentID = true, p, p.pushed, x.id
	x.id++
	return true, nil
}

func (x *req) recv() ([][]byte, bool, error) {
	if !x.awaiting {
		return nil, false, ErrState
	}
	p := x.replyPipe
	for p.in.len() > 0 {
		m := p.pop()
		if x.s.opts.ReqCorrelate {
			if binary.NativeEndian.Uint32(m[0]) != x.sentID {
				continue
			}
			m = m[1:]
		}
		x.awaiting, x.replyPipe = false, nil
		if p.detached && p.in.len() == 0 {
			x.fq.remove(p)
		}
		return m[1:], true, nil
	}
	// The request is lost if the pipe is gone, or if a writer took it and
	// then lost its connection.
	if p.detached || p.lostTaken >= x.seq {
		x.awaiting, x.replyPipe = false, nil
		if p.detached {
			x.fq.remove(p)
		}
		return nil, false, ErrReplyLost
	}
	return nil, false, nil
}

// errMalformedReply ends a REQ's connection whose peer sent a reply without
// the empty delimiter frame (or the request id under ReqCorrelate).
var errMalformedReply = &zmtp.MalformedError{What: "reply", Detail: "no empty delimiter frame (REQ envelope)"}

// rep receives requests fair-queued, and sends each reply back to the peer
// of the request, through the envelope it came with.
type rep struct {
	nopConn
	fq        fq
	owed      bool
	replyPipe *pipe
	env       [][]byte // the request's envelope, delimiter included
}

func (x *rep) attach(p *pipe) error { x.fq.add(p); return nil }
func (x *rep) detach(p *pipe)       { x.fq.detach(p) }

// incoming drops a request without an empty delimiter frame, keeping the
// connection, as libzmq does.
func (x *rep) incoming(_ *pipe, msg [][]byte) (bool, error) {
	i := delimiter(msg)
	return i >= 0 && i < len(msg)-1, nil
}

func delimiter(msg [][]byte) int {
	for i, f := range msg {
		if len(f) == 0 {
			return i
		}
	}
	return -1
}

func (x *rep) recv() ([][]byte, bool, error) {
	if x.owed {
		return nil, false, ErrState
	}
	m, p, ok := x.fq.next()
	if !ok {
		return nil, false, nil
	}
	i := delimiter(m)
	x.owed, x.replyPipe, x.env = true, p, m[:i+1:i+1]
	return m[i+1:], true, nil
}

func (x *rep) send(msg [][]byte) (bool, error) {
	if !x.owed {
		return false, ErrState
	}
	p, env := x.replyPipe, x.env
	x.owed, x.replyPipe, x.env = false, nil, nil
	if p.detached || !p.room() {
		return true, nil // the requester is gone or not reading: dropped
	}
	p.push(append(env, msg...))
	return true, nil
}
