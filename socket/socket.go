package socket

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Socket is a ZeroMQ socket of one of the eleven classic types. It binds and
// connects to any number of endpoints, keeps a queue per peer, and routes
// messages between them and the application as libzmq 4.3.4 does for its
// type (see docs/sockets.md). Every connection is a transport.Conn, with
// the security configured in Options.Config.
//
// A Socket is safe for concurrent use by any number of goroutines (libzmq
// sockets are not). Each connection has its own reader and writer
// goroutines, so PINGs are answered and heartbeats judged whether or not
// the application is receiving; Close ends every goroutine of the socket.
type Socket struct {
	typ  zmtp.SocketType
	opts Options
	cfg  *transport.Config // opts.Config with SocketType set
	pat  pattern

	ctx    context.Context // cancelled at the end of Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the socket

	mu           sync.Mutex
	closing      bool // Close has been called
	eps          []*endpoint
	lastEndpoint string
	sendSig      signal // broadcast when a blocked Send may proceed
	recvSig      signal // broadcast when a blocked Recv may proceed
	drainSig     signal // broadcast when a writer finished a batch during Close
	peers        int    // established connections
	pipes        map[*pipe]struct{}

	eventsDropped atomic.Uint64
	closeOnce     sync.Once
}

// New returns a socket of type t, one of PAIR, PUB, SUB, XPUB, XSUB, REQ,
// REP, DEALER, ROUTER, PUSH and PULL (the zmtp constants), configured by
// opts (nil means all defaults). An option that cannot work, or that has no
// effect on type t, is refused here with an *OptionError, and a
// transport.Config that cannot work with an error wrapping
// transport.ErrConfig.
func New(t zmtp.SocketType, opts *Options) (*Socket, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Socket{typ: t, opts: *opts}
	s.pat = newPattern(s)
	if s.pat == nil {
		return nil, &OptionError{Option: "socket type", Reason: fmt.Sprintf("%q is not one of the 11 classic types", string(t))}
	}
	if err := s.opts.validate(t); err != nil {
		return nil, err
	}
	cfg := s.opts.Config
	cfg.SocketType = t
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s.cfg = &cfg
	s.pipes = make(map[*pipe]struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Type returns the socket's type.
func (s *Socket) Type() zmtp.SocketType { return s.typ }

// Send queues msg, one frame per element, for the peers the socket's type
// chooses. It blocks while the type's rule says to wait (no peer, or the
// chosen peers' queues at SendHWM), until ctx is done; it returns
// ctx.Err() then, with nothing queued. Types that drop at the high-water
// mark (PUB, XPUB, ROUTER without RouterMandatory) never block. A ctx
// that is already done makes Send try once without waiting, as libzmq's
// ZMQ_DONTWAIT.
//
// The socket takes ownership of msg and its frames: the caller must not
// modify them after Send returns. (A PUB shares one message among all its
// subscribers, without copying.)
func (s *Socket) Send(ctx context.Context, msg [][]byte) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	s.mu.Lock()
	for {
		if s.closing {
			s.mu.Unlock()
			return ErrClosed
		}
		sent, err := s.pat.send(msg)
		if sent || err != nil {
			s.mu.Unlock()
			return err
		}
		if err := s.waitUnlocked(ctx, &s.sendSig); err != nil {
			s.mu.Unlock()
			return err
		}
	}
}

// Recv returns the next message for the application, as the socket's type
// chooses it (fair-queued among peers for most types). It blocks until one
// is there or ctx is done (then it returns ctx.Err()); a ctx that is
// already done makes Recv try once without waiting. The message and its
// frames belong to the caller.
func (s *Socket) Recv(ctx context.Context) ([][]byte, error) {
	s.mu.Lock()
	for {
		if s.closing {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		msg, ok, err := s.pat.recv()
		if ok || err != nil {
			s.mu.Unlock()
			return msg, err
		}
		if err := s.waitUnlocked(ctx, &s.recvSig); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
}

// RecvInto is Recv for a caller that reuses its storage: the next message
// is copied into dst's frames, reusing their capacity where it suffices (a
// caller that passes back what it got allocates nothing in steady state),
// and the socket recycles the message's own buffers. Use it to receive
// large messages fast; the frames returned belong to the caller until it
// passes them back.
func (s *Socket) RecvInto(ctx context.Context, dst [][]byte) ([][]byte, error) {
	m, err := s.Recv(ctx)
	if err != nil {
		return dst[:0], err
	}
	dst = dst[:0]
	for _, f := range m {
		if n := len(dst); n < cap(dst) {
			dst = dst[:n+1]
			dst[n] = append(dst[n][:0], f...)
		} else {
			dst = append(dst, append([]byte(nil), f...))
		}
	}
	recycle(m)
	return dst, nil
}

// Subscribe adds a subscription to topic: a SUB then receives the messages
// whose first frame starts with topic (the empty topic matches every
// message). Each call counts: as many Unsubscribe calls undo it. On an XPUB
// with XPubManual it subscribes the peer whose subscription was received
// last. Other types return ErrNotSupported; an XSUB subscribes by sending
// 0x01 followed by the topic, as with libzmq.
func (s *Socket) Subscribe(topic []byte) error { return s.subscription(true, topic) }

// Unsubscribe removes one subscription to topic made by Subscribe.
func (s *Socket) Unsubscribe(topic []byte) error { return s.subscription(false, topic) }

func (s *Socket) subscription(add bool, topic []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	sub, ok := s.pat.(subscriber)
	if !ok {
		return ErrNotSupported
	}
	return sub.subscribe(add, topic)
}

// LastEndpoint returns the endpoint of the last successful Bind or Connect,
// resolved for a Bind ("tcp://127.0.0.1:*" gives the port the system
// chose), as libzmq's ZMQ_LAST_ENDPOINT.
func (s *Socket) LastEndpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEndpoint
}

// Stats is a snapshot of a socket's counters.
type Stats struct {
	// Peers is the number of connections whose handshake has completed
	// and that are still open.
	Peers int
	// Queued is the number of messages waiting in outgoing queues. After
	// Close it is what the linger did not get out: those messages were
	// dropped.
	Queued int
	// EventsDropped counts events not delivered because Options.Events was
	// full.
	EventsDropped uint64
}

// Stats returns a snapshot of the socket's counters.
func (s *Socket) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Peers: s.peers, EventsDropped: s.eventsDropped.Load()}
	for p := range s.pipes {
		st.Queued += p.out.len()
	}
	return st
}

// Close closes the socket. Blocked and later calls of Send and Recv return
// ErrClosed. Messages still queued for peers get up to Linger to go out
// (connecting endpoints keep trying to connect meanwhile), then every
// connection and listener is closed and Close returns once every goroutine
// of the socket has ended. Unread incoming messages are discarded. Close is
// safe to call more than once; later calls return nil at once.
func (s *Socket) Close() error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	s.mu.Lock()
	s.closing = true
	s.sendSig.broadcast()
	s.recvSig.broadcast()
	eps := append([]*endpoint(nil), s.eps...)
	s.mu.Unlock()
	for _, ep := range eps {
		if ep.ln != nil {
			ep.ln.Close() // no new peers; accepted ones linger
		}
	}
	s.linger(s.opts.linger(s.typ))
	s.cancel()
	s.wg.Wait()
	s.emit(Event{Kind: EventSocketClosed})
	return nil
}

// linger waits up to d for every queued outgoing message to be written.
func (s *Socket) linger(d time.Duration) {
	if d <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.drained() {
		if s.waitUnlocked(ctx, &s.drainSig) != nil {
			return
		}
	}
}

// drained reports whether every queued outgoing message has been written.
// Under s.mu.
func (s *Socket) drained() bool {
	for p := range s.pipes {
		if p.out.len() > 0 || p.writing {
			return false
		}
	}
	return true
}

// emit delivers an event without ever blocking.
func (s *Socket) emit(e Event) {
	if s.opts.Events == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	select {
	case s.opts.Events <- e:
	default:
		s.eventsDropped.Add(1)
	}
}

// signal is a broadcast to goroutines waiting under Socket.mu. Each waiter
// brings a channel of its own from a pool, so a busy socket allocates
// nothing to block and wake its callers.
type signal struct{ waiters []chan struct{} }

var waiterPool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// wait registers a waiter and returns its channel, which the next
// broadcast signals. Call under mu, then release mu, wait on the channel or
// on something else, and call done.
func (sg *signal) wait() chan struct{} {
	ch := waiterPool.Get().(chan struct{})
	sg.waiters = append(sg.waiters, ch)
	return ch
}

// done ends a wait on ch, signalled or not, and returns ch to the pool.
// Call under mu.
func (sg *signal) done(ch chan struct{}) {
	if i := slices.Index(sg.waiters, ch); i >= 0 {
		sg.waiters = slices.Delete(sg.waiters, i, i+1)
	} else {
		<-ch // signalled: take the token
	}
	waiterPool.Put(ch)
}

// broadcast wakes every waiter. Call under mu.
func (sg *signal) broadcast() {
	for _, ch := range sg.waiters {
		ch <- struct{}{}
	}
	clear(sg.waiters)
	sg.waiters = sg.waiters[:0]
}

// waitUnlocked waits, with mu held on entry and on return, until sg is
// signalled or ctx is done.
func (s *Socket) waitUnlocked(ctx context.Context, sg *signal) error {
	ch := sg.wait()
	s.mu.Unlock()
	var err error
	select {
	case <-ch:
		s.mu.Lock()
		waiterPool.Put(ch)
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	sg.done(ch)
	return err
}

// reconnectWait returns the pause before the next attempt: wait plus a
// random part of up to base, as libzmq adds rand() % RECONNECT_IVL to its
// current interval.
func reconnectWait(wait, base time.Duration) time.Duration {
	if base <= 0 {
		return wait
	}
	return wait + rand.N(base)
}

// bindAddress turns libzmq's "tcp://host:*" (any port) into ":0".
func bindAddress(endpoint string) string {
	if strings.HasPrefix(endpoint, "tcp://") && strings.HasSuffix(endpoint, ":*") {
		return strings.TrimSuffix(endpoint, "*") + "0"
	}
	return endpoint
}

// checkConnectEndpoint refuses an endpoint Connect could never dial, at
// once, as libzmq's zmq_connect does: one ParseEndpoint refuses, a TCP
// port that is not a number from 1 to 65535 (libzmq takes no service
// names, and no dial reaches port 0), or a source address ("tcp://SRC;DST")
// that is not what transport's Dialer takes: a numeric IP address with an
// optional port. Otherwise each attempt would fail the same way for ever.
func checkConnectEndpoint(endpoint string) error {
	ep, source := endpoint, ""
	if scheme, rest, ok := strings.Cut(endpoint, "://"); ok && scheme == "tcp" {
		if src, dst, ok := strings.Cut(rest, ";"); ok {
			ep, source = "tcp://"+dst, src
		}
	}
	network, address, err := transport.ParseEndpoint(ep)
	if err != nil {
		return err
	}
	if network != "tcp" {
		return nil
	}
	_, port, _ := net.SplitHostPort(address)
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return &OptionError{Option: "endpoint", Reason: fmt.Sprintf("%q: connect needs a port from 1 to 65535", endpoint)}
	}
	if source != "" && !validSource(source) {
		return &OptionError{Option: "endpoint", Reason: fmt.Sprintf("%q: source %q is not a numeric IP address with an optional port", endpoint, source)}
	}
	return nil
}

// validSource reports whether transport's Dialer takes src as the source
// of "tcp://SRC;DST": "127.0.0.2", "127.0.0.2:0", "::1", "[::1]:5000".
func validSource(src string) bool {
	host, port := src, "0"
	if h, p, err := net.SplitHostPort(src); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(src, "[") && strings.HasSuffix(src, "]") {
		host = src[1 : len(src)-1]
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return false
	}
	_, err = strconv.ParseUint(port, 10, 16)
	return err == nil
}
