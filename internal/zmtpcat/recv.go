package zmtpcat

import (
	"context"
	"errors"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// recvLoop prints what the socket receives, echoes it with -echo, and ends
// the run after -n messages. For every type that receives but REQ and REP,
// which take turns (reqLoop, repLoop).
func (a *app) recvLoop() {
	for {
		msg, err := a.s.Recv(a.ctx)
		if err != nil {
			a.recvFailed(err)
			return
		}
		ok, last := a.print(msg)
		if !ok {
			continue
		}
		if a.o.echo {
			a.echo(msg)
		}
		if last {
			a.finish(0)
			return
		}
	}
}

// echo sends msg back. A ROUTER's message starts with the routing id it
// came from, so it goes back to that peer; if that peer's queue is full,
// or it has gone, the echo is dropped, as a ROUTER drops what it cannot
// route, rather than holding up every other peer. Other types send it as
// they send any message.
func (a *app) echo(msg [][]byte) {
	if a.o.socketType != zmtp.ROUTER {
		a.s.Send(a.ctx, msg)
		return
	}
	now, cancel := context.WithCancel(a.ctx)
	cancel() // try once, without waiting
	a.s.Send(now, msg)
}

// reqLoop takes turns as a REQ socket: it sends a request (the next stdin
// line, or with -echo the last reply), then waits for the reply and prints
// it. A request whose peer goes away before replying is reported and
// dropped (socket.ErrReplyLost); the next line is the next request.
func (a *app) reqLoop() {
	var again [][]byte // -echo: the reply to send as the next request
	for {
		req, sent := again, chan error(nil)
		again = nil
		if req == nil {
			select {
			case l := <-a.lines:
				req, sent = l.msg, l.sent
			case <-a.ctx.Done():
				return
			}
		}
		err := a.s.Send(a.ctx, req)
		if sent != nil {
			sent <- err
		}
		if err != nil {
			continue // the stdin loop reports it
		}
		reply, err := a.s.Recv(a.ctx)
		if errors.Is(err, socket.ErrReplyLost) {
			a.logf("%s: the peer went away before replying; request dropped", a.o.endpoint)
			continue
		}
		if err != nil {
			a.recvFailed(err)
			return
		}
		ok, last := a.print(reply)
		if !ok {
			continue
		}
		if a.o.echo {
			again = reply
		}
		if last {
			a.finish(0)
			return
		}
	}
}

// repLoop takes turns as a REP socket: it receives a request, prints it,
// and answers it with the request itself (-echo) or the next stdin line.
func (a *app) repLoop() {
	for {
		req, err := a.s.Recv(a.ctx)
		if err != nil {
			a.recvFailed(err)
			return
		}
		ok, last := a.print(req)
		if !ok {
			return
		}
		switch {
		case a.o.echo:
			a.s.Send(a.ctx, req)
		case last:
			// -n is reached: the run ends without waiting for a reply.
		default:
			select {
			case l := <-a.lines:
				l.sent <- a.s.Send(a.ctx, l.msg)
			case <-a.ctx.Done():
				return
			}
		}
		if last {
			a.finish(0)
			return
		}
	}
}

// recvFailed reports a Recv that failed other than because the run is
// ending, and ends the run.
func (a *app) recvFailed(err error) {
	if !a.ending() {
		a.fail("receive: %v", err)
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
