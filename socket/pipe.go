package socket

import (
	"context"
	"net"
	"sync"

	"github.com/zmtpsec/zmtpsec/transport"
)

// A pipe is one peer as the socket's pattern sees it: an outgoing and an
// incoming queue, and the connection that currently carries them. A pipe of
// a bound endpoint lives as long as its connection. A pipe of a connecting
// endpoint is made at Connect (unless Options.Immediate) and outlives its
// connections: messages queued while the peer is away go out when it comes
// back, as in libzmq.
type pipe struct {
	s  *Socket
	ep *endpoint

	// Under s.mu:
	out, in    queue
	link       *link // the live connection, nil while there is none
	state      transport.ConnectionState
	attached   bool // known to the pattern
	detached   bool // left the pattern; unread incoming messages remain
	writerIdle bool // the link's writer waits for writerWake
	writing    bool // the link's writer holds a batch
	readerWait bool // the link's reader waits for room in in

	writerWake chan struct{} // capacity 1
	readerWake chan struct{} // capacity 1

	// Pattern state, under s.mu.
	id []byte // ROUTER: the routing id

	// Counters for REQ's ErrReplyLost: messages pushed, messages taken by
	// a writer, and taken when the last connection was lost (what a writer
	// took may have died with its connection).
	pushed, taken, lostTaken uint64
}

func newPipe(s *Socket, ep *endpoint) *pipe {
	return &pipe{
		s:          s,
		ep:         ep,
		writerWake: make(chan struct{}, 1),
		readerWake: make(chan struct{}, 1),
	}
}

// room reports whether the outgoing queue is below SendHWM. Under s.mu.
func (p *pipe) room() bool {
	hwm := p.s.opts.sendHWM()
	return hwm == 0 || p.out.len() < hwm
}

// push queues msg to the peer and wakes the writer. Under s.mu.
func (p *pipe) push(msg [][]byte) {
	p.out.push(msg)
	p.pushed++
	if p.writerIdle {
		p.writerIdle = false
		select {
		case p.writerWake <- struct{}{}:
		default:
		}
	}
}

// pop takes the next incoming message and wakes the reader if it waited for
// room. Under s.mu.
func (p *pipe) pop() [][]byte {
	m := p.in.pop()
	if p.readerWait {
		p.readerWait = false
		select {
		case p.readerWake <- struct{}{}:
		default:
		}
	}
	return m
}

// discardIn drops every unread incoming message. Under s.mu.
func (p *pipe) discardIn() {
	p.in.clear()
	if p.readerWait {
		p.readerWait = false
		select {
		case p.readerWake <- struct{}{}:
		default:
		}
	}
}

// inFull reports whether the incoming queue is at RecvHWM. Under s.mu.
func (p *pipe) inFull() bool {
	hwm := p.s.opts.recvHWM()
	return hwm > 0 && p.in.len() >= hwm
}

// A link is one established connection carrying a pipe: a reader goroutine
// (the one that runs the link) and a writer goroutine.
type link struct {
	p        *pipe
	c        *transport.Conn
	stop     chan struct{} // closed by kill
	stopOnce sync.Once
}

// kill ends the link: the connection is closed, so the reader's and the
// writer's I/O fail, and both stop waiting.
func (l *link) kill() {
	l.stopOnce.Do(func() {
		close(l.stop)
		l.c.Close()
	})
}

// run carries p over c until the connection ends, and returns why. The
// caller has attached p and set p.link. ctx ends the link early.
func (s *Socket) runLink(ctx context.Context, l *link) error {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(l)
	}()
	stop := context.AfterFunc(ctx, l.kill)
	err := s.readLoop(l)
	stop()
	l.kill()
	<-writerDone
	return err
}

// Batches a writer takes from its queue at once: bounded so that one
// connection's writer does not hold a huge slice, large enough for the
// write coalescing in transport to fill its buffer.
const (
	maxBatchMsgs  = 1024
	maxBatchBytes = 256 << 10
)

// writeLoop sends what is queued for l.p, as many messages per write as
// are waiting.
func (s *Socket) writeLoop(l *link) {
	p := l.p
	var batch [][][]byte
	for {
		s.mu.Lock()
		for p.out.len() == 0 {
			p.writerIdle = true
			s.mu.Unlock()
			select {
			case <-p.writerWake:
			case <-l.stop:
				s.mu.Lock()
				p.writerIdle = false
				s.mu.Unlock()
				return
			}
			s.mu.Lock()
		}
		batch = p.out.popInto(batch[:0], maxBatchMsgs, maxBatchBytes)
		p.taken += uint64(len(batch))
		p.writing = true
		s.sendSig.broadcast() // room freed
		s.mu.Unlock()

		err := l.c.WriteMessages(batch)
		clear(batch)

		s.mu.Lock()
		p.writing = false
		if s.closing {
			s.drainSig.broadcast()
		}
		s.mu.Unlock()
		if err != nil {
			l.kill()
			return
		}
	}
}

// readLoop reads messages from l until the connection ends and hands them
// to the pattern, waiting while the incoming queue is at RecvHWM: then
// nothing is read, and TCP pushes back on the sender, as libzmq does.
func (s *Socket) readLoop(l *link) error {
	p := l.p
	var read [][]byte // reused by ReadMessage
	var mem arena
	for {
		var err error
		read, err = l.c.ReadMessage(read[:cap(read)])
		if err != nil {
			return err
		}
		msg := mem.message(read)
		s.mu.Lock()
		keep, err := s.pat.incoming(p, msg)
		if err != nil {
			s.mu.Unlock()
			return &protocolError{err}
		}
		if keep {
			p.in.push(msg)
			s.recvSig.broadcast()
		}
		if !p.inFull() {
			s.mu.Unlock()
			continue
		}
		// The application is behind: stop reading, without letting
		// heartbeats take our silence for the peer's.
		l.c.SetReadPaused(true)
		for p.inFull() {
			p.readerWait = true
			s.mu.Unlock()
			select {
			case <-p.readerWake:
			case <-l.stop:
				return nil
			case <-l.c.Done():
				// A PING we could not write, or Close: the connection is
				// gone although we are not reading.
				return net.ErrClosed
			}
			s.mu.Lock()
		}
		s.mu.Unlock()
		l.c.SetReadPaused(false)
	}
}

// protocolError is a message the pattern refused as malformed (a REQ's reply
// without its delimiter): like libzmq, the connection ends and a connecting
// endpoint does not try again.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }
