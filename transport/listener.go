package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Listener accepts ZMTP connections. Accept returns before the handshake,
// so a slow or silent peer never delays the next Accept; the handshake runs
// on the returned Conn's first use or its HandshakeContext.
//
// Accept applies the admission limits of its Config (MaxHandshakes,
// MaxHandshakesPerAddress, MaxConns, BanAfterFailures) before it returns a
// connection, and the Conns it returns share its ZAP limit
// (MaxZAPInFlight).
type Listener struct {
	nl  net.Listener
	cfg *Config

	// slots holds one token per handshake in flight; nil means no limit.
	// handshakes counts them either way.
	slots      chan struct{}
	handshakes counter
	conns      counter
	zap        counter
	addrs      *addrTable

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
}

// Listen listens on endpoint ("tcp://host:port", "tcp://*:port" or
// "ipc:///path"). For IPC, a stale socket file at the path is removed first,
// as libzmq does. A Config that can never work is refused before anything
// is bound, with an error that wraps [ErrConfig].
func Listen(endpoint string, cfg *Config) (*Listener, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	network, address, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if network == "unix" && !strings.HasPrefix(address, "@") {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(address)
		}
	}
	nl, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	l, err := NewListener(nl, cfg)
	if err != nil {
		nl.Close()
		return nil, err
	}
	return l, nil
}

// NewListener returns a Listener that accepts from nl with cfg. The limits
// are read from cfg once, here. A Config that can never work is refused
// with an error that wraps [ErrConfig]; nl is then left open.
func NewListener(nl net.Listener, cfg *Config) (*Listener, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Listener{
		nl:    nl,
		cfg:   cfg,
		done:  make(chan struct{}),
		addrs: newAddrTable(cfg.maxHandshakesPerAddress(), max(cfg.BanAfterFailures, 0), cfg.banWindow(), cfg.banDuration()),
	}
	if n := cfg.maxHandshakes(); n > 0 {
		l.slots = make(chan struct{}, n)
	}
	l.conns.limit = int64(max(cfg.MaxConns, 0))
	l.zap.limit = int64(cfg.maxZAPInFlight())
	return l, nil
}

// Accept waits for the next connection and returns it without running the
// handshake. At the MaxHandshakes limit it waits for a handshake to end
// first. A connection the admission limits refuse is closed at once and
// reported to Config.OnHandshake, and Accept goes on waiting.
//
// Errors that a busy system recovers from (too many open files, a
// connection aborted before it was accepted) are not returned: Accept
// retries after a pause of 5 ms that doubles up to 1 s, as net/http's
// server does, and logs each at Warn to Config.AuditLogger. After Close,
// Accept returns an error that wraps [net.ErrClosed].
func (l *Listener) Accept() (*Conn, error) {
	var pause time.Duration
	for {
		if err := l.acquireSlot(); err != nil {
			return nil, err
		}
		nc, err := l.nl.Accept()
		if err != nil {
			l.releaseSlot()
			if l.isClosed() || !temporaryAcceptError(err) {
				return nil, err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			if lg := l.cfg.AuditLogger; lg != nil {
				lg.LogAttrs(context.Background(), slog.LevelWarn, "transport: accept failed; retrying",
					slog.String("error", err.Error()), slog.Duration("pause", pause))
			}
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return nil, fmt.Errorf("transport: accept: %w", net.ErrClosed)
			}
			continue
		}
		pause = 0
		if c := l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// acquireSlot waits for a handshake slot. It is taken before the
// connection is accepted, so that the connections waiting for one stay in
// the kernel's backlog.
func (l *Listener) acquireSlot() error {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return fmt.Errorf("transport: accept: %w", net.ErrClosed)
		}
	}
	return nil
}

func (l *Listener) releaseSlot() {
	if l.slots != nil {
		<-l.slots
	}
}

func (l *Listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// admit applies the admission limits to nc, which holds a handshake slot,
// and returns its Conn, or nil if it was refused (and closed).
func (l *Listener) admit(nc net.Conn) *Conn {
	now := time.Now()
	refuse := func(err error) *Conn {
		l.releaseSlot()
		ev := HandshakeEvent{
			Outcome:   OutcomeRefused,
			Server:    true,
			Step:      StepAdmission,
			Mechanism: l.cfg.mechanism().Name(),
			Err:       err,
		}
		if ra := nc.RemoteAddr(); ra != nil {
			ev.RemoteAddr = ra.String()
		}
		nc.Close()
		emitEvent(l.cfg, ev)
		return nil
	}
	if !l.conns.acquire() {
		return refuse(ErrTooManyConns)
	}
	key, keyed := addrKey(nc.RemoteAddr())
	if keyed {
		if err := l.addrs.admit(key, now); err != nil {
			l.conns.release()
			return refuse(err)
		}
	}
	l.handshakes.acquire()
	c := Server(nc, l.cfg)
	h := &c.hooks
	h.l, h.key, h.keyed, h.acceptedAt = l, key, keyed, now
	h.hsSlot.Store(true)
	h.connSlot.Store(true)
	if t := l.cfg.handshakeTimeout(); t > 0 {
		h.timer.Store(time.AfterFunc(t, c.expireHandshake))
	}
	return c
}

// temporaryAcceptError reports an Accept error worth retrying: EMFILE,
// ENFILE, ECONNABORTED and the like.
func temporaryAcceptError(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// Close stops listening. Connections already accepted are not closed; their
// handshakes and limits go on.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.nl.Close()
	})
	return l.closeErr
}

// Addr returns the listener's network address.
func (l *Listener) Addr() net.Addr { return l.nl.Addr() }

// Endpoint returns the endpoint the listener is bound to, with the port the
// system chose for "tcp://host:0".
func (l *Listener) Endpoint() string {
	switch a := l.nl.Addr().(type) {
	case *net.TCPAddr:
		return "tcp://" + a.String()
	case *net.UnixAddr:
		return "ipc://" + a.Name
	}
	return l.nl.Addr().Network() + "://" + l.nl.Addr().String()
}

// ListenerStats is a snapshot of a Listener's admission counters.
type ListenerStats struct {
	// Handshakes is the number of handshakes in flight (accepted, not
	// yet ended or closed).
	Handshakes int
	// Conns is the number of connections open (accepted, not yet closed).
	Conns int
	// ZAPInFlight is the number of ZAP handlers running, including those
	// cut off by a handshake deadline that have not returned.
	ZAPInFlight int
	// Addresses is the number of source addresses tracked for
	// per-address limits, failure counts and bans.
	Addresses int
}

// Stats returns a snapshot of l's admission counters.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{
		Handshakes:  int(l.handshakes.n.Load()),
		Conns:       int(l.conns.n.Load()),
		ZAPInFlight: int(l.zap.n.Load()),
		Addresses:   l.addrs.len(),
	}
}

// Banned reports whether addr's source address (an IP, or "ip:port") is
// banned from l at the moment.
func (l *Listener) Banned(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	key, ok := addrKey(net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	return ok && l.addrs.banned(key, time.Now())
}

// connHooks ties a Conn to the Listener that accepted it (l is nil
// otherwise) and holds its audit record. l, key, keyed and acceptedAt are
// set before the Conn is returned by Accept and never change.
type connHooks struct {
	l          *Listener
	key        netip.Prefix
	keyed      bool
	acceptedAt time.Time
	timer      atomic.Pointer[time.Timer] // ends a handshake not started in time

	hsSlot   atomic.Bool // a handshake slot is held
	connSlot atomic.Bool // a connection slot is held

	audit handshakeAudit // under handshakeMu
}

// errNotStarted is the cause when no handshake started before the handshake
// timeout of a connection accepted by a Listener.
var errNotStarted = fmt.Errorf("transport: handshake not started within the handshake timeout after Accept: %w", context.DeadlineExceeded)

// beginHandshake returns the time the handshake timeout counts from: now,
// or for a connection accepted by a Listener, Accept. The caller holds
// handshakeMu.
func (c *Conn) beginHandshake() time.Time {
	h := &c.hooks
	if h.l == nil {
		h.audit.start = time.Now()
	} else {
		h.audit.start = h.acceptedAt
	}
	return h.audit.start
}

// finishHandshake runs once the handshake has ended with err (nil on
// success): it frees the handshake slot, counts a failure towards a ban,
// and reports the event. The caller holds handshakeMu and has set
// handshakeErr.
func (c *Conn) finishHandshake(err error) {
	h := &c.hooks
	if t := h.timer.Load(); t != nil {
		t.Stop()
	}
	ev := c.handshakeEvent(err)
	texts := false
	if h.l != nil && h.keyed && countsAsFailure(ev) {
		now := time.Now()
		if h.l.addrs.fail(h.key, now) {
			c.eventTexts(&ev)
			texts = true
			logBan(c.cfg, ev.RemoteAddr, c.cfg.banDuration())
		}
	}
	c.releaseHandshakeSlot()
	if eventWanted(c.cfg, &ev) {
		if !texts {
			c.eventTexts(&ev)
		}
		emitEvent(c.cfg, ev)
	}
}

// releaseHandshakeSlot frees c's handshake slot, once.
func (c *Conn) releaseHandshakeSlot() {
	h := &c.hooks
	if h.l == nil || !h.hsSlot.CompareAndSwap(true, false) {
		return
	}
	if h.keyed {
		h.l.addrs.done(h.key, time.Now())
	}
	h.l.handshakes.release()
	h.l.releaseSlot()
}

// closeHooks runs when c is closed: it frees its slots.
func (c *Conn) closeHooks() {
	h := &c.hooks
	if h.l == nil {
		return
	}
	if t := h.timer.Load(); t != nil {
		t.Stop()
	}
	c.releaseHandshakeSlot()
	if h.connSlot.CompareAndSwap(true, false) {
		h.l.conns.release()
	}
}

// expireHandshake runs at Accept time + HandshakeTimeout: a handshake that
// has not started by then fails, and the connection is closed. One that is
// running ends by itself at that deadline.
func (c *Conn) expireHandshake() {
	if c.handshakeDone.Load() {
		return
	}
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeDone.Load() {
		return
	}
	err := &HandshakeError{Step: StepStart, Err: errNotStarted}
	c.hooks.audit.start = c.hooks.acceptedAt
	c.handshakeErr = err
	c.finishHandshake(err)
	c.Close()
	c.handshakeDone.Store(true)
}
