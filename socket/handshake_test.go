package socket_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Failed handshakes with our own sockets: what each side reports, and
// whether the connecting side tries again, as libzmq 4.3.4 decides it
// (docs/sockets.md#reconnection, "After a failed handshake").

// curveZAP is a CURVE server's options whose ZAP handler admits the keys
// in allowed and answers 400 to every other, counting the requests.
type curveZAP struct {
	server   cert.KeyPair
	requests atomic.Int32
	mu       sync.Mutex
	allowed  map[cert.PublicKey]bool
}

func newCurveZAP(t *testing.T, allowed ...cert.PublicKey) *curveZAP {
	z := &curveZAP{server: testkeys.New(t), allowed: map[cert.PublicKey]bool{}}
	for _, k := range allowed {
		z.allowed[k] = true
	}
	return z
}

func (z *curveZAP) options(t *testing.T, o socket.Options) *socket.Options {
	t.Helper()
	m, err := mechanism.CurveServer(z.server)
	if err != nil {
		t.Fatal(err)
	}
	o.Mechanism = m
	o.ZAPDomain = "test"
	o.ZAPHandler = zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		z.requests.Add(1)
		var key cert.PublicKey
		copy(key[:], req.Credentials[0])
		z.mu.Lock()
		ok := z.allowed[key]
		z.mu.Unlock()
		if ok {
			return &zap.Reply{StatusCode: zap.StatusOK, UserID: "friend"}, nil
		}
		return &zap.Reply{StatusCode: 400, StatusText: "not on the list"}, nil
	})
	return &o
}

// client returns options for a CURVE client of z with key pair kp.
func (z *curveZAP) client(t *testing.T, kp cert.KeyPair, o socket.Options) *socket.Options {
	t.Helper()
	m, err := mechanism.CurveClient(z.server.Public, kp)
	if err != nil {
		t.Fatal(err)
	}
	o.Mechanism = m
	return &o
}

// TestZAPDenied: a CURVE client that the server's ZAP handler refuses
// (400) gets EventHandshakeFailed with Status 400 and gives up
// (EventConnectStopped): the server sent ERROR, so libzmq does not retry
// either. The server asked ZAP exactly once and reported the failure too.
func TestZAPDenied(t *testing.T) {
	z := newCurveZAP(t)
	sev := newEvents()
	server := newSocket(t, zmtp.ROUTER, z.options(t, socket.Options{Events: sev}))
	ep := bind(t, server)
	cev := newEvents()
	client := newSocket(t, zmtp.DEALER, z.client(t, testkeys.New(t), socket.Options{Events: cev, ReconnectInterval: 10 * time.Millisecond, Linger: -1}))
	connect(t, client, ep)

	e := waitKind(t, cev, socket.EventHandshakeFailed)
	if e.Status() != 400 {
		t.Errorf("client's EventHandshakeFailed: Status() %d, want 400 (%v)", e.Status(), e)
	}
	var refused *transport.ServerRefusedError
	if !errors.As(e.Err, &refused) {
		t.Errorf("client's EventHandshakeFailed Err %v, want a *transport.ServerRefusedError", e.Err)
	}
	stop := waitKind(t, cev, socket.EventConnectStopped)
	if stop.Status() != 400 {
		t.Errorf("EventConnectStopped: Status() %d, want 400 (%v)", stop.Status(), stop)
	}
	se := waitKind(t, sev, socket.EventHandshakeFailed)
	if se.Status() != 400 {
		t.Errorf("server's EventHandshakeFailed: Status() %d, want 400 (%v)", se.Status(), se)
	}
	// The client gave up: no second attempt, however long we wait for
	// one (50 reconnect intervals).
	noEvent(t, cev, socket.EventConnectDelayed, 500*time.Millisecond)
	if n := z.requests.Load(); n != 1 {
		t.Errorf("%d ZAP requests, want 1", n)
	}
	if n := server.Stats().Peers; n != 0 {
		t.Errorf("server has %d peers", n)
	}
}

// TestHandshakeFailureSparesOthers: a peer that fails its handshake is
// dropped and reported; the socket and its other peers carry on.
func TestHandshakeFailureSparesOthers(t *testing.T) {
	good := testkeys.New(t)
	z := newCurveZAP(t, good.Public)
	sev := newEvents()
	server := newSocket(t, zmtp.ROUTER, z.options(t, socket.Options{Events: sev}))
	ep := bind(t, server)
	friend := newSocket(t, zmtp.DEALER, z.client(t, good, socket.Options{Config: transport.Config{Identity: []byte("friend")}}))
	connect(t, friend, ep)
	send(t, friend, "hello")
	recv(t, server, "friend", "hello")

	for range 3 {
		stranger := newSocket(t, zmtp.DEALER, z.client(t, testkeys.New(t), socket.Options{Linger: -1}))
		connect(t, stranger, ep)
		waitEvent(t, sev, "handshake failed 400", func(e socket.Event) bool {
			return e.Kind == socket.EventHandshakeFailed && e.Status() == 400
		})
		// A peer that is not even CURVE.
		null := newSocket(t, zmtp.DEALER, &socket.Options{Linger: -1, ReconnectInterval: -1})
		connect(t, null, ep)
		waitKind(t, sev, socket.EventHandshakeFailed)
		send(t, friend, "still here")
		recv(t, server, "friend", "still here")
		send(t, server, "friend", "yes")
		recv(t, friend, "yes")
	}
	if n := server.Stats().Peers; n != 1 {
		t.Errorf("server has %d peers, want 1", n)
	}
}

// TestServerClosesSilently: a server that accepts and closes without a
// word makes the client try again at the reconnect interval, as libzmq
// does; with StopReconnectOnHandshakeFailure it tries once.
func TestServerClosesSilently(t *testing.T) {
	closeAtOnce := func(c net.Conn) { c.Close() }
	t.Run("retried", func(t *testing.T) {
		srv := newRawServer(t, closeAtOnce)
		ev := newEvents()
		client := newSocket(t, zmtp.DEALER, &socket.Options{Events: ev, ReconnectInterval: 20 * time.Millisecond, Linger: -1})
		connect(t, client, srv.endpoint())
		for range 3 {
			e := waitKind(t, ev, socket.EventHandshakeFailed)
			var closed *transport.PeerClosedError
			if !errors.As(e.Err, &closed) {
				t.Errorf("EventHandshakeFailed Err %v, want a *transport.PeerClosedError", e.Err)
			}
			waitKind(t, ev, socket.EventConnectRetried)
		}
		if n := srv.accepted.Load(); n < 3 {
			t.Errorf("server accepted %d connections, want at least 3", n)
		}
	})
	t.Run("StopReconnectOnHandshakeFailure", func(t *testing.T) {
		srv := newRawServer(t, closeAtOnce)
		ev := newEvents()
		client := newSocket(t, zmtp.DEALER, &socket.Options{Events: ev, ReconnectInterval: 10 * time.Millisecond, StopReconnectOnHandshakeFailure: true, Linger: -1})
		connect(t, client, srv.endpoint())
		waitKind(t, ev, socket.EventHandshakeFailed)
		waitKind(t, ev, socket.EventConnectStopped)
		noEvent(t, ev, socket.EventConnectDelayed, 300*time.Millisecond)
		if n := srv.accepted.Load(); n != 1 {
			t.Errorf("server accepted %d connections, want 1", n)
		}
	})
}

// TestServerSilent: a server that accepts and never speaks: the client's
// handshake times out (HandshakeTimeout) and it tries again; with
// StopReconnectOnHandshakeFailure it tries once.
func TestServerSilent(t *testing.T) {
	hold := func(c net.Conn) {
		var b [1]byte
		c.Read(b[:]) // until the client or the cleanup closes it
	}
	for _, stop := range []bool{false, true} {
		name := "retried"
		if stop {
			name = "StopReconnectOnHandshakeFailure"
		}
		t.Run(name, func(t *testing.T) {
			srv := newRawServer(t, hold)
			ev := newEvents()
			opts := &socket.Options{Events: ev, ReconnectInterval: 10 * time.Millisecond, StopReconnectOnHandshakeFailure: stop, Linger: -1}
			opts.HandshakeTimeout = 100 * time.Millisecond
			client := newSocket(t, zmtp.DEALER, opts)
			connect(t, client, srv.endpoint())
			e := waitKind(t, ev, socket.EventHandshakeFailed)
			var to interface{ Timeout() bool }
			if !errors.As(e.Err, &to) || !to.Timeout() {
				t.Errorf("EventHandshakeFailed Err %v, want a timeout", e.Err)
			}
			if stop {
				waitKind(t, ev, socket.EventConnectStopped)
				noEvent(t, ev, socket.EventConnectDelayed, 300*time.Millisecond)
				if n := srv.accepted.Load(); n != 1 {
					t.Errorf("server accepted %d connections, want 1", n)
				}
				return
			}
			waitKind(t, ev, socket.EventConnectRetried)
			waitKind(t, ev, socket.EventHandshakeFailed)
			if n := srv.accepted.Load(); n < 2 {
				t.Errorf("server accepted %d connections, want at least 2", n)
			}
		})
	}
}

// TestSocketTypeMismatch: peers whose types cannot talk (PUSH to PUSH)
// fail the handshake on both sides; the connecting one does not retry (a
// protocol error, as in libzmq).
func TestSocketTypeMismatch(t *testing.T) {
	sev := newEvents()
	server := newSocket(t, zmtp.PUSH, &socket.Options{Events: sev, Linger: -1})
	ep := bind(t, server)
	cev := newEvents()
	client := newSocket(t, zmtp.PUSH, &socket.Options{Events: cev, Linger: -1, ReconnectInterval: 10 * time.Millisecond})
	connect(t, client, ep)
	waitKind(t, cev, socket.EventHandshakeFailed)
	waitKind(t, cev, socket.EventConnectStopped)
	waitKind(t, sev, socket.EventHandshakeFailed)
	noEvent(t, sev, socket.EventAccepted, 200*time.Millisecond)
}
