package socket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// An endpoint is one Bind or Connect.
type endpoint struct {
	name     string // as given (Connect) or resolved (Bind)
	given    string // as given
	ctx      context.Context
	cancel   context.CancelFunc
	ln       *transport.Listener // bound endpoints
	pipe     *pipe               // connecting endpoints without Immediate
	accepted map[*pipe]struct{}  // bound endpoints: pipes of accepted connections, under s.mu
}

// Bind listens on endpoint ("tcp://host:port", "tcp://*:port",
// "tcp://host:*" for a port the system chooses, "ipc:///path") and accepts
// peers there until Unbind or Close. The listener applies the admission
// limits of Options.Config.
func (s *Socket) Bind(addr string) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.Unlock()
	ln, err := transport.Listen(bindAddress(addr), s.cfg)
	if err != nil {
		s.emit(Event{Kind: EventBindFailed, Endpoint: addr, Err: err})
		return err
	}
	ep := &endpoint{name: ln.Endpoint(), given: addr, ln: ln, accepted: map[*pipe]struct{}{}}
	ep.ctx, ep.cancel = context.WithCancel(s.ctx)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		ep.cancel()
		return ErrClosed
	}
	s.eps = append(s.eps, ep)
	s.lastEndpoint = ep.name
	s.wg.Add(1)
	s.mu.Unlock()
	s.emit(Event{Kind: EventListening, Endpoint: ep.name})
	go s.acceptLoop(ep)
	return nil
}

// Connect connects to endpoint ("tcp://host:port", "tcp://SRC;DST" to
// connect from the source address SRC, "ipc:///path") in the background:
// it returns at once, and the socket connects when the peer is there,
// reconnecting whenever the connection is lost (see ReconnectInterval).
// Unless Options.Immediate is set, the peer's queue exists from now on, so
// messages sent before the peer appears wait for it. An endpoint no
// attempt could reach (no port, a port that is not a number from 1 to
// 65535, a source that is not a numeric IP address) is refused here.
//
// As in libzmq, a DEALER, SUB, PUB or REQ ignores a second Connect to an
// endpoint it is connected to; other types make a second connection.
func (s *Socket) Connect(addr string) error {
	if err := checkConnectEndpoint(addr); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	switch s.typ {
	case zmtp.DEALER, zmtp.SUB, zmtp.PUB, zmtp.REQ:
		for _, ep := range s.eps {
			if ep.ln == nil && ep.given == addr {
				return nil
			}
		}
	}
	ep := &endpoint{name: addr, given: addr}
	ep.ctx, ep.cancel = context.WithCancel(s.ctx)
	if !s.opts.Immediate {
		p := newPipe(s, ep)
		if err := s.attach(p); err != nil {
			ep.cancel()
			return err
		}
		ep.pipe = p
	}
	s.eps = append(s.eps, ep)
	s.lastEndpoint = addr
	s.wg.Add(1)
	go s.connectLoop(ep)
	return nil
}

// Unbind stops listening on endpoint (as given to Bind, or as resolved) and
// closes the connections accepted there, after their queued messages had
// up to Linger to go out.
func (s *Socket) Unbind(endpoint string) error { return s.removeEndpoint(endpoint, true) }

// Disconnect stops connecting to endpoint (as given to Connect) and closes
// its connection, after its queued messages had up to Linger to go out.
func (s *Socket) Disconnect(endpoint string) error { return s.removeEndpoint(endpoint, false) }

func (s *Socket) removeEndpoint(name string, bound bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	var ep *endpoint
	for i, e := range s.eps {
		if (e.ln != nil) == bound && (e.name == name || e.given == name) {
			ep = e
			s.eps = append(s.eps[:i:i], s.eps[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if ep == nil {
		return &OptionError{Option: "endpoint", Reason: fmt.Sprintf("%q is not bound or connected", name)}
	}
	if ep.ln != nil {
		ep.ln.Close()
	}
	s.lingerEndpoint(ep, s.opts.linger(s.typ))
	ep.cancel()
	s.mu.Lock()
	if ep.pipe != nil {
		s.detach(ep.pipe)
	}
	s.mu.Unlock()
	return nil
}

// lingerEndpoint waits up to d for the pipes of ep to empty.
func (s *Socket) lingerEndpoint(ep *endpoint, d time.Duration) {
	if d <= 0 {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		busy := false
		if ep.pipe != nil && (ep.pipe.out.len() > 0 || ep.pipe.writing) {
			busy = true
		}
		for p := range ep.accepted {
			if p.out.len() > 0 || p.writing {
				busy = true
			}
		}
		s.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// acceptLoop accepts peers on a bound endpoint.
func (s *Socket) acceptLoop(ep *endpoint) {
	defer s.wg.Done()
	for {
		c, err := ep.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.emit(Event{Kind: EventClosed, Endpoint: ep.name})
				return
			}
			s.emit(Event{Kind: EventAcceptFailed, Endpoint: ep.name, Err: err})
			continue
		}
		s.emit(Event{Kind: EventAccepted, Endpoint: ep.name, RemoteAddr: c.RemoteAddr()})
		s.wg.Add(1)
		go s.serve(ep, c)
	}
}

// serve runs an accepted connection: its handshake, then its pipe.
func (s *Socket) serve(ep *endpoint, c *transport.Conn) {
	defer s.wg.Done()
	remote := c.RemoteAddr()
	if err := c.HandshakeContext(ep.ctx); err != nil {
		s.emit(Event{Kind: EventHandshakeFailed, Endpoint: ep.name, RemoteAddr: remote, Err: err})
		return
	}
	st := c.ConnectionState()
	// EventHandshakeSucceeded goes out once the pattern has taken the peer
	// (or refused it), so that an application answering the event finds
	// the peer routable.
	succeeded := Event{Kind: EventHandshakeSucceeded, Endpoint: ep.name, RemoteAddr: remote, State: st}
	p := newPipe(s, ep)
	l := &link{p: p, c: c, stop: make(chan struct{})}
	s.mu.Lock()
	if s.closing && s.opts.linger(s.typ) == 0 {
		s.mu.Unlock()
		c.Close()
		s.emit(succeeded)
		return
	}
	err := s.attach(p)
	if err == nil {
		err = s.connect(p, l, st)
	}
	if err != nil {
		if p.attached {
			s.detach(p)
		}
		s.mu.Unlock()
		c.Close()
		s.emit(succeeded)
		s.emit(Event{Kind: EventDisconnected, Endpoint: ep.name, RemoteAddr: remote, Err: err})
		return
	}
	ep.accepted[p] = struct{}{}
	s.mu.Unlock()
	s.emit(succeeded)

	err = s.runLink(ep.ctx, l)

	s.mu.Lock()
	s.disconnect(p, l)
	delete(ep.accepted, p)
	s.detach(p)
	s.mu.Unlock()
	s.emit(Event{Kind: EventDisconnected, Endpoint: ep.name, RemoteAddr: remote, Err: linkErr(ep.ctx, err)})
}

// connectLoop connects a connecting endpoint, again and again, until it is
// disconnected, the socket closes, or a failure ends it.
func (s *Socket) connectLoop(ep *endpoint) {
	defer s.wg.Done()
	base := s.opts.reconnectInterval()
	backoff := base
	dialer := transport.Dialer{Config: s.cfg}
	for {
		s.emit(Event{Kind: EventConnectDelayed, Endpoint: ep.name})
		c, err := dialer.DialContext(ep.ctx, ep.name)
		if ep.ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			return
		}
		var he *transport.HandshakeError
		switch {
		case err != nil && !errors.As(err, &he):
			// No connection: back off, if asked to.
			s.emit(Event{Kind: EventClosed, Endpoint: ep.name, Err: err})
			wait := reconnectWait(backoff, base)
			if max := s.opts.ReconnectIntervalMax; max > base {
				backoff = min(2*backoff, max)
			}
			if !s.retry(ep, wait, err) {
				return
			}
			continue
		case err != nil:
			s.emit(Event{Kind: EventConnected, Endpoint: ep.name})
			s.emit(Event{Kind: EventHandshakeFailed, Endpoint: ep.name, Err: err})
			backoff = base
			if s.opts.StopReconnectOnHandshakeFailure || !retryable(err) {
				s.stopEndpoint(ep, err)
				return
			}
			if !s.retry(ep, reconnectWait(base, base), err) {
				return
			}
			continue
		}
		backoff = base
		remote := c.RemoteAddr()
		st := c.ConnectionState()
		s.emit(Event{Kind: EventConnected, Endpoint: ep.name, RemoteAddr: remote})
		// As in serve: the event once the pattern has taken the peer.
		succeeded := Event{Kind: EventHandshakeSucceeded, Endpoint: ep.name, RemoteAddr: remote, State: st}

		p := ep.pipe
		l := &link{c: c, stop: make(chan struct{})}
		s.mu.Lock()
		if p == nil {
			p = newPipe(s, ep)
			err = s.attach(p)
		}
		l.p = p
		if err == nil {
			err = s.connect(p, l, st)
		}
		if err != nil {
			if ep.pipe == nil && p.attached {
				s.detach(p)
			}
			s.mu.Unlock()
			c.Close()
			s.emit(succeeded)
			s.emit(Event{Kind: EventDisconnected, Endpoint: ep.name, RemoteAddr: remote, Err: err})
			if !s.retry(ep, reconnectWait(base, base), err) {
				return
			}
			continue
		}
		s.mu.Unlock()
		s.emit(succeeded)

		err = s.runLink(ep.ctx, l)

		s.mu.Lock()
		s.disconnect(p, l)
		if ep.pipe == nil {
			s.detach(p)
		}
		s.mu.Unlock()
		err = linkErr(ep.ctx, err)
		s.emit(Event{Kind: EventDisconnected, Endpoint: ep.name, RemoteAddr: remote, Err: err})
		if ep.ctx.Err() != nil {
			return
		}
		var pe *protocolError
		if errors.As(err, &pe) || isProtocolError(err) {
			s.stopEndpoint(ep, err)
			return
		}
		if !s.retry(ep, reconnectWait(base, base), err) {
			return
		}
	}
}

// retry waits before the next attempt, and reports false if the endpoint
// is to be given up (reconnection is off) or has been removed.
func (s *Socket) retry(ep *endpoint, wait time.Duration, cause error) bool {
	if s.opts.ReconnectInterval < 0 {
		s.stopEndpoint(ep, cause)
		return false
	}
	s.emit(Event{Kind: EventConnectRetried, Endpoint: ep.name, Interval: wait})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ep.ctx.Done():
		return false
	}
}

// stopEndpoint gives up a connecting endpoint: its queue is dropped.
func (s *Socket) stopEndpoint(ep *endpoint, cause error) {
	s.mu.Lock()
	if ep.pipe != nil {
		s.detach(ep.pipe)
	}
	s.mu.Unlock()
	s.emit(Event{Kind: EventConnectStopped, Endpoint: ep.name, Err: cause})
}

// retryable reports whether libzmq 4.3.4 would try again after a handshake
// failed with err: after a connection or timeout error (the server closed
// without a word, or did not finish in time), not after a protocol error
// (an ERROR from the server, a malformed command, a socket type or
// mechanism it does not take).
func retryable(err error) bool {
	var refused *transport.ServerRefusedError
	var peerErr *mechanism.PeerError
	switch {
	case errors.As(err, &refused), errors.As(err, &peerErr):
		return false
	case errors.Is(err, transport.ErrPeerClosed), isConnError(err):
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// isProtocolError reports an error that ended an established connection
// because of what the peer sent (malformed frames, a message over the
// limits), after which libzmq does not reconnect; a lost connection or a
// heartbeat timeout are not.
func isProtocolError(err error) bool {
	if err == nil || isConnError(err) {
		return false
	}
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() {
		return false
	}
	var malformed *zmtp.MalformedError
	var tooLarge *transport.MessageTooLargeError
	var frameTooLarge *zmtp.FrameTooLargeError
	return errors.As(err, &malformed) || errors.As(err, &tooLarge) || errors.As(err, &frameTooLarge)
}

// isConnError reports a connection that was closed or reset.
func isConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, transport.ErrPeerClosed)
}

// linkErr is the cause to report for a link that ended with err: nil when
// the socket itself ended it.
func linkErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// attach makes p known to the pattern. Under s.mu.
func (s *Socket) attach(p *pipe) error {
	if err := s.pat.attach(p); err != nil {
		return err
	}
	p.attached = true
	s.pipes[p] = struct{}{}
	s.sendSig.broadcast()
	return nil
}

// detach removes p from the pattern: its outgoing queue is dropped; its
// unread incoming messages stay readable. Under s.mu.
func (s *Socket) detach(p *pipe) {
	if !p.attached || p.detached {
		return
	}
	p.detached = true
	p.out.clear()
	delete(s.pipes, p)
	s.pat.detach(p)
	s.sendSig.broadcast()
	s.recvSig.broadcast()
	s.drainSig.broadcast()
}

// connect puts link l under p after its handshake. Under s.mu.
func (s *Socket) connect(p *pipe, l *link, st transport.ConnectionState) error {
	p.state = st
	if err := s.pat.connected(p); err != nil {
		return err
	}
	p.link = l
	s.peers++
	return nil
}

// disconnect takes l from under p. Under s.mu.
func (s *Socket) disconnect(p *pipe, l *link) {
	if p.link == l {
		p.link = nil
		p.lostTaken = p.taken
		p.writerIdle = false
		p.readerWait = false
		s.peers--
		s.pat.disconnected(p)
		s.recvSig.broadcast()
	}
}
