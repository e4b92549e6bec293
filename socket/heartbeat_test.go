package socket_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Heartbeats are judged by the connection's own goroutines: a socket
// whose application does not read stays connected, and a peer that stops
// answering is found out whether or not the application reads.

const (
	hbInterval = 100 * time.Millisecond
	hbTimeout  = 300 * time.Millisecond
	// hbQuiet is how long the application leaves the socket alone: five
	// heartbeat timeouts.
	hbQuiet = 1500 * time.Millisecond
)

func heartbeats(o socket.Options) *socket.Options {
	o.HeartbeatInterval = hbInterval
	o.HeartbeatTimeout = hbTimeout
	return &o
}

// TestHeartbeatIdleReceiver: a PULL whose application does not call Recv
// for five heartbeat timeouts, with messages waiting, is still connected,
// and so is its PUSH; then the messages are all there.
func TestHeartbeatIdleReceiver(t *testing.T) {
	pev, sev := newEvents(), newEvents()
	pull := newSocket(t, zmtp.PULL, heartbeats(socket.Options{Events: pev}))
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, heartbeats(socket.Options{Events: sev}))
	connect(t, push, ep)
	for i := range 10 {
		send(t, push, fmt.Sprint(i))
	}
	waitPeers(t, pull, 1)
	noEvent(t, pev, socket.EventDisconnected, hbQuiet)
	noEvent(t, sev, socket.EventDisconnected, 0)
	if p, q := pull.Stats().Peers, push.Stats().Peers; p != 1 || q != 1 {
		t.Errorf("peers: PULL %d, PUSH %d; want 1 and 1", p, q)
	}
	for i := range 10 {
		recv(t, pull, fmt.Sprint(i))
	}
}

// TestHeartbeatFullReceiver: the same, with the PULL's queue at RecvHWM
// and the PUSH blocked: the connection must survive the application's
// pause (the issue: "a socket whose application is not reading stays
// alive"), and every accepted message arrives.
func TestHeartbeatFullReceiver(t *testing.T) {
	pev, sev := newEvents(), newEvents()
	pull := newSocket(t, zmtp.PULL, heartbeats(socket.Options{Events: pev, RecvHWM: 5}))
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, heartbeats(socket.Options{Events: sev, SendHWM: 5, Linger: -1}))
	connect(t, push, ep)
	big := make([]byte, 64<<10)
	accepted := 0
	for ; ; accepted++ {
		if accepted > 10000 {
			t.Fatal("PUSH never blocked")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := push.Send(ctx, [][]byte{[]byte(fmt.Sprint(accepted)), big})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	noEvent(t, pev, socket.EventDisconnected, hbQuiet)
	noEvent(t, sev, socket.EventDisconnected, 0)
	for i := range accepted {
		m, err := pull.Recv(ctxT(t))
		if err != nil {
			t.Fatalf("Recv %d of %d: %v", i, accepted, err)
		}
		if string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("message %q, want %d", m[0], i)
		}
	}
}

// TestHeartbeatDeadPeer: a peer that completes its handshake and then
// goes silent (neither reads nor answers PINGs) is dropped with
// EventDisconnected (transport.ErrHeartbeatTimeout), on a connecting
// socket (which then reconnects) and on a bound one, although the
// application does not call Recv.
func TestHeartbeatDeadPeer(t *testing.T) {
	t.Run("we connect", func(t *testing.T) {
		srv := newRawServer(t, func(c net.Conn) {
			// A NULL handshake as a PULL, then nothing: the connection
			// stays open (closed at the end of the test), unread.
			// (Its handshake is checked by the PUSH's events; one the
			// end of the test cuts short does not matter.)
			tc := transport.Server(c, &transport.Config{SocketType: zmtp.PULL, HandshakeTimeout: waitLong})
			tc.Handshake()
		})
		ev := newEvents()
		push := newSocket(t, zmtp.PUSH, heartbeats(socket.Options{Events: ev, Linger: -1, ReconnectInterval: 20 * time.Millisecond}))
		connect(t, push, srv.endpoint())
		waitKind(t, ev, socket.EventHandshakeSucceeded)
		e := waitKind(t, ev, socket.EventDisconnected)
		if !errors.Is(e.Err, transport.ErrHeartbeatTimeout) {
			t.Errorf("EventDisconnected Err %v, want transport.ErrHeartbeatTimeout", e.Err)
		}
		// A timeout is not the peer's refusal: the socket tries again.
		waitKind(t, ev, socket.EventConnectRetried)
		waitKind(t, ev, socket.EventHandshakeSucceeded)
	})
	t.Run("we bind", func(t *testing.T) {
		ev := newEvents()
		pull := newSocket(t, zmtp.PULL, heartbeats(socket.Options{Events: ev}))
		ep := bind(t, pull)
		c, err := transport.DialContext(ctxT(t), ep, &transport.Config{SocketType: zmtp.PUSH})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitKind(t, ev, socket.EventHandshakeSucceeded)
		e := waitKind(t, ev, socket.EventDisconnected)
		if !errors.Is(e.Err, transport.ErrHeartbeatTimeout) {
			t.Errorf("EventDisconnected Err %v, want transport.ErrHeartbeatTimeout", e.Err)
		}
		if n := pull.Stats().Peers; n != 0 {
			t.Errorf("%d peers after the timeout", n)
		}
	})
}

// TestHeartbeatDeadPeerWhileFull: a peer that fills our RecvHWM and then
// goes silent. While the queue is full the reader is paused and the
// silence is ours, so the connection stays (docs/sockets.md#heartbeats);
// once the application has read the queue down, the heartbeat finds the
// peer dead: EventDisconnected, and Stats().Peers drops to 0.
func TestHeartbeatDeadPeerWhileFull(t *testing.T) {
	ev := newEvents()
	pull := newSocket(t, zmtp.PULL, heartbeats(socket.Options{Events: ev, RecvHWM: 2}))
	ep := bind(t, pull)
	c, err := transport.DialContext(ctxT(t), ep, &transport.Config{SocketType: zmtp.PUSH})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 10 {
		if err := c.WriteMessage(msg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitKind(t, ev, socket.EventHandshakeSucceeded)
	noEvent(t, ev, socket.EventDisconnected, hbQuiet)
	for i := range 10 {
		recv(t, pull, fmt.Sprint(i))
	}
	e := waitKind(t, ev, socket.EventDisconnected)
	if !errors.Is(e.Err, transport.ErrHeartbeatTimeout) {
		t.Errorf("EventDisconnected Err %v, want transport.ErrHeartbeatTimeout", e.Err)
	}
	if n := pull.Stats().Peers; n != 0 {
		t.Errorf("%d peers after the timeout", n)
	}
}
