package socket

import (
	"bytes"
	"slices"

	"github.com/zmtpsec/zmtpsec/internal/subs"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// xpub is PUB and XPUB: each message goes to the subscribers with a
// subscription that is a prefix of its first frame; a subscriber whose
// queue is full misses it (or, with XPubNoDrop, Send waits). An XPUB also
// hands the subscriptions it receives, and any other message, to the
// application.
type xpub struct {
	s       *Socket
	pub     bool // PUB: subscriptions are applied, nothing reaches the application
	subs    subs.MTrie[*pipe]
	pipes   []*pipe
	fq      fq
	pending queue // XPUB: unsubscriptions of peers that are gone
	last    *pipe // XPubManual: the peer whose subscription came last
	matched []*pipe
}

func newXPub(s *Socket) pattern { return &xpub{s: s, pub: s.typ == zmtp.PUB} }

func (x *xpub) attach(p *pipe) error {
	x.pipes = append(x.pipes, p)
	if !x.pub {
		x.fq.add(p)
	}
	return nil
}

func (x *xpub) detach(p *pipe) {
	x.dropSubscriptions(p)
	if i := slices.Index(x.pipes, p); i >= 0 {
		x.pipes = slices.Delete(x.pipes, i, i+1)
	}
	if x.last == p {
		x.last = nil
	}
	if !x.pub {
		x.fq.detach(p)
	}
}

// connected sends the welcome message first, before anything else goes to
// the new subscriber.
func (x *xpub) connected(p *pipe) error {
	if w := x.s.opts.XPubWelcome; w != nil {
		p.push([][]byte{w})
	}
	return nil
}

// disconnected forgets the subscriptions of a connection that ended: a
// reconnecting subscriber sends its subscriptions again, so they must not
// be kept (libzmq keeps them, and a restarted peer then gets topics it
// never asked for).
func (x *xpub) disconnected(p *pipe) { x.dropSubscriptions(p) }

// dropSubscriptions removes every subscription of p, reporting the
// unsubscriptions to an XPUB application as libzmq does when a subscriber
// leaves.
func (x *xpub) dropSubscriptions(p *pipe) {
	x.subs.RemovePipe(p, func(topic []byte, last bool) {
		if !x.pub && (last || x.s.opts.XPubVerboser || x.s.opts.XPubManual) {
			x.pending.push([][]byte{append([]byte{zmtp.CancelByte}, topic...)})
		}
	})
	if x.pending.len() > 0 {
		x.s.recvSig.broadcast()
	}
}

// incoming applies a subscription or cancellation (0x01 or 0x00 and the
// topic, the form transport gives SUBSCRIBE and CANCEL commands in) and
// queues it for an XPUB application when libzmq would report it: the first
// subscription to a topic, the last cancellation, a cancellation of a topic
// the peer did not hold, and every one under XPubVerbose/XPubVerboser or
// XPubManual. Other messages reach an XPUB application as they are.
func (x *xpub) incoming(p *pipe, msg [][]byte) (bool, error) {
	f := msg[0]
	if len(f) == 0 || (f[0] != zmtp.SubscribeByte && f[0] != zmtp.CancelByte) {
		return !x.pub, nil
	}
	topic, subscribe := f[1:], f[0] == zmtp.SubscribeByte
	o := &x.s.opts
	if o.XPubManual && !x.pub {
		x.last = p
		return true, nil
	}
	var report bool
	if subscribe {
		first, _ := x.subs.Add(topic, p)
		report = first || o.XPubVerbose
	} else {
		r := x.subs.Remove(topic, p)
		report = r != subs.ValuesRemain || o.XPubVerboser
	}
	if x.pub || !report {
		return false, nil
	}
	if len(msg) > 1 {
		p.in.push([][]byte{f}) // the subscription alone, not what follows it
		x.s.recvSig.broadcast()
		return false, nil
	}
	return true, nil
}

// subscribe applies a subscription for the peer whose subscription was
// received last (XPubManual).
func (x *xpub) subscribe(add bool, topic []byte) error {
	if x.pub || !x.s.opts.XPubManual {
		return ErrNotSupported
	}
	if x.last == nil || x.last.detached {
		return nil
	}
	if add {
		x.subs.Add(topic, x.last)
	} else {
		x.subs.Remove(topic, x.last)
	}
	return nil
}

func (x *xpub) send(msg [][]byte) (bool, error) {
	o := &x.s.opts
	x.matched = x.matched[:0]
	x.subs.Match(msg[0], func(p *pipe) { x.matched = append(x.matched, p) })
	targets := x.matched
	if o.InvertMatching {
		targets = x.inverted()
	}
	if o.XPubNoDrop {
		for _, p := range targets {
			if !p.room() {
				return false, nil
			}
		}
	}
	for _, p := range targets {
		if p.room() {
			p.push(msg)
		}
	}
	clear(x.matched)
	return true, nil
}

// inverted returns the pipes that did not match (InvertMatching), pipes
// with no subscription at all included.
func (x *xpub) inverted() []*pipe {
	n := len(x.matched)
	for _, p := range x.pipes {
		if !slices.Contains(x.matched[:n], p) {
			x.matched = append(x.matched, p)
		}
	}
	return x.matched[n:]
}

func (x *xpub) recv() ([][]byte, bool, error) {
	if x.pub {
		return nil, false, ErrNotSupported
	}
	if x.pending.len() > 0 {
		return x.pending.pop(), true, nil
	}
	m, _, ok := x.fq.next()
	return m, ok, nil
}

// xsub is SUB and XSUB: subscriptions go to every publisher and are sent
// again on every new connection; what the publishers send is fair-queued.
// A SUB also filters what it receives by its subscriptions.
type xsub struct {
	s     *Socket
	sub   bool // SUB: Subscribe/Unsubscribe, a local filter, no Send
	subs  subs.Trie
	pipes []*pipe
	fq    fq
}

func newXSub(s *Socket) pattern { return &xsub{s: s, sub: s.typ == zmtp.SUB} }

func (x *xsub) attach(p *pipe) error {
	x.pipes = append(x.pipes, p)
	x.fq.add(p)
	return nil
}

func (x *xsub) detach(p *pipe) {
	if i := slices.Index(x.pipes, p); i >= 0 {
		x.pipes = slices.Delete(x.pipes, i, i+1)
	}
	x.fq.detach(p)
}

// connected replaces whatever was queued for the publisher with one
// subscription per distinct topic, as libzmq does when a pipe is new or
// reconnects.
func (x *xsub) connected(p *pipe) error {
	p.out.clear()
	x.subs.Each(func(topic []byte) {
		p.push(subscription(zmtp.SubscribeByte, topic))
	})
	return nil
}

func (x *xsub) disconnected(*pipe) {}

func subscription(kind byte, topic []byte) [][]byte {
	f := make([]byte, 1+len(topic))
	f[0] = kind
	copy(f[1:], topic)
	return [][]byte{f}
}

// incoming filters what a SUB receives by its subscriptions.
func (x *xsub) incoming(_ *pipe, msg [][]byte) (bool, error) {
	if !x.sub {
		return true, nil
	}
	return x.subs.Match(msg[0]) != x.s.opts.InvertMatching, nil
}

// subscribe counts a SUB's subscription, sending every subscription
// upstream and a cancellation only when the last subscription to the topic
// is gone, as libzmq does.
func (x *xsub) subscribe(add bool, topic []byte) error {
	if !x.sub {
		return ErrNotSupported
	}
	x.update(add, topic)
	return nil
}

func (x *xsub) update(add bool, topic []byte) {
	if add {
		x.subs.Add(topic)
		x.toAll(subscription(zmtp.SubscribeByte, topic))
		return
	}
	if last, _ := x.subs.Remove(topic); last {
		x.toAll(subscription(zmtp.CancelByte, topic))
	}
}

// toAll queues msg to every publisher with room; the others miss it.
func (x *xsub) toAll(msg [][]byte) {
	for _, p := range x.pipes {
		if p.room() {
			p.push(msg)
		}
	}
}

// send takes an XSUB's messages: 0x01 or 0x00 and a topic is a
// subscription or cancellation, counted like a SUB's; anything else goes
// to every publisher.
func (x *xsub) send(msg [][]byte) (bool, error) {
	if x.sub {
		return false, ErrNotSupported
	}
	if f := msg[0]; len(msg) == 1 && len(f) > 0 && (f[0] == zmtp.SubscribeByte || f[0] == zmtp.CancelByte) {
		x.update(f[0] == zmtp.SubscribeByte, bytes.Clone(f[1:]))
		return true, nil
	}
	x.toAll(msg)
	return true, nil
}

func (x *xsub) recv() ([][]byte, bool, error) {
	m, _, ok := x.fq.next()
	return m, ok, nil
}
