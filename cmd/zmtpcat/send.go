package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// request is a request a REP has printed and stdin is to answer: the
// envelope goes back on the reply.
type request struct {
	p        *peer
	envelope [][]byte
}

// errClosing reports a send given up because the run is ending.
var errClosing = errors.New("closing")

// stdinLoop sends each line of stdin as a message. At the end of stdin it
// waits until what is queued has been sent, then ends the run with status
// 0, unless -n is still waiting for messages or this is an echo server.
func (a *app) stdinLoop(stdin io.Reader) {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		msg, err := parseLine(sc.Bytes(), a.o.hex)
		if err != nil {
			a.logf("stdin: %v; line skipped", err)
			continue
		}
		if err := a.send(msg); errors.Is(err, errClosing) {
			return
		} else if err != nil {
			a.logf("stdin: %v; line skipped", err)
		}
	}
	if err := sc.Err(); err != nil {
		a.logf("stdin: %v", err)
		a.finish(1)
		return
	}
	a.flushAll(0)
	if a.o.n == 0 && !(a.o.bind && a.o.echo) {
		a.finish(0)
	}
}

// send queues one message from stdin as our socket type routes it.
func (a *app) send(msg [][]byte) error {
	switch t := a.o.socketType; t {
	case zmtp.SUB, zmtp.PULL:
		return errors.New("a " + string(t) + " socket does not send")
	case zmtp.PUB, zmtp.XPUB, zmtp.XSUB:
		a.fanOut(msg)
		return nil
	case zmtp.ROUTER:
		return a.sendRouted(msg)
	case zmtp.REP:
		if a.o.echo {
			return errors.New("a REP with -echo answers every request itself")
		}
		return a.reply(msg)
	case zmtp.REQ:
		msg = append([][]byte{{}}, msg...)
	}
	return a.sendRoundRobin(msg)
}

// fanOut queues msg for every peer that wants it: PUB and XPUB check the
// peer's subscriptions, XSUB sends to all (its subscriptions, \x01TOPIC,
// included). As in libzmq, a peer whose queue is full misses the message,
// so a slow subscriber never holds up the others, and with no subscriber
// the message is dropped.
func (a *app) fanOut(msg [][]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.peers {
		if a.o.socketType == zmtp.XSUB || p.subs.match(msg[0]) {
			p.trySend(msg)
		}
	}
}

// sendRouted sends msg[1:] to the peer whose routing id is msg[0]. As in
// libzmq, a message for no peer is dropped; we say so on stderr.
func (a *app) sendRouted(msg [][]byte) error {
	if len(msg) < 2 {
		return errors.New("a ROUTER line is the routing id, a TAB, and the message")
	}
	a.mu.Lock()
	var to *peer
	for _, p := range a.peers {
		if bytes.Equal(p.id, msg[0]) {
			to = p
			break
		}
	}
	a.mu.Unlock()
	if to == nil || !to.send(msg[1:]) {
		return errors.New("no peer has routing id " + string(appendFrame(nil, msg[0], a.o.hex)) + "; message dropped")
	}
	return nil
}

// reply answers the oldest request not yet answered, waiting for one.
func (a *app) reply(msg [][]byte) error {
	a.mu.Lock()
	for len(a.requests) == 0 && !a.closing {
		a.changed.Wait()
	}
	if a.closing {
		a.mu.Unlock()
		return errClosing
	}
	r := a.requests[0]
	a.requests = a.requests[1:]
	a.mu.Unlock()
	if !r.p.send(append(clone(r.envelope), msg...)) {
		return errors.New("the connection of the request is gone; reply dropped")
	}
	return nil
}

// sendRoundRobin queues msg for the next peer whose queue has room, waiting
// while there is no peer, or no room anywhere (as libzmq waits at the
// high-water mark).
func (a *app) sendRoundRobin(msg [][]byte) error {
	for {
		a.mu.Lock()
		for len(a.peers) == 0 && !a.closing {
			a.changed.Wait()
		}
		if a.closing {
			a.mu.Unlock()
			return errClosing
		}
		n := len(a.peers)
		for i := range n {
			p := a.peers[(a.next+i)%n]
			if p.trySend(msg) {
				a.next = (a.next + i + 1) % n
				a.mu.Unlock()
				return nil
			}
		}
		a.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}
