package zmtpcat

import (
	"bufio"
	"errors"
	"io"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// errClosing reports a send given up because the run is ending.
var errClosing = errors.New("closing")

// stdinLoop sends each line of stdin as a message. Each Send returns once
// the message is queued, so at the end of stdin everything read has been
// queued; the run then ends with status 0 (and closing the socket gives
// the queue -linger to go out), unless -n is still waiting for messages or
// this is an echo server.
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
		a.fail("stdin: %v", err)
		return
	}
	if a.o.n == 0 && !(a.o.bind && a.o.echo) {
		a.finish(0)
	}
}

// send sends one message from stdin, waiting while the socket's type says
// to wait (for a peer, for room in a queue, for a REQ's reply, for a REP's
// request).
func (a *app) send(msg [][]byte) error {
	var err error
	switch t := a.o.socketType; t {
	case zmtp.SUB, zmtp.PULL:
		return errors.New("a " + string(t) + " socket does not send")
	case zmtp.REP:
		if a.o.echo {
			return errors.New("a REP with -echo answers every request itself")
		}
		err = a.handOver(msg)
	case zmtp.REQ:
		err = a.handOver(msg)
	case zmtp.ROUTER:
		if len(msg) < 2 {
			return errors.New("a ROUTER line is the routing id, a TAB, and the message")
		}
		id := msg[0]
		err = a.s.Send(a.ctx, msg)
		if errors.Is(err, socket.ErrHostUnreachable) {
			return errors.New("no peer has routing id " + string(appendFrame(nil, id, a.o.hex)) + "; message dropped")
		}
	default:
		err = a.s.Send(a.ctx, msg)
	}
	if err != nil && a.ending() {
		return errClosing
	}
	return err
}

// handOver gives msg to the REQ or REP loop, which sends it when its turn
// comes, and waits until it has.
func (a *app) handOver(msg [][]byte) error {
	l := line{msg: msg, sent: make(chan error, 1)}
	select {
	case a.lines <- l:
	case <-a.done:
		return errClosing
	}
	select {
	case err := <-l.sent:
		return err
	case <-a.done:
		return errClosing
	}
}
