package conformance

// Our socket events next to libzmq 4.3.4's monitor (docs/sockets.md#events).
// EventKind values are libzmq's ZMQ_EVENT_* numbers, so each case runs a
// libzmq "twin" of our socket in the same role, against the same peer, and
// compares the two sequences kind for kind: a normal connect, a bind and
// accept, a peer that goes away and, on the connecting side, comes back on
// the same port. Our EventHandshakeSucceeded carries the connection state:
// the mechanism, the peer's socket type and, under CURVE, the peer's key and
// the ZAP user id.

import (
	"fmt"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// kindsOf lists the kinds of our events.
func kindsOf(es []socket.Event) []socket.EventKind {
	out := make([]socket.EventKind, len(es))
	for i, e := range es {
		out[i] = e.Kind
	}
	return out
}

// libKindsOf lists libzmq monitor events as our kinds (the same numbers).
func libKindsOf(es []libEvent) []socket.EventKind {
	out := make([]socket.EventKind, len(es))
	for i, e := range es {
		out[i] = socket.EventKind(e.Event)
	}
	return out
}

// sameKinds checks that our events and libzmq's twin's came in the same
// kinds, in the same order.
func sameKinds(t *testing.T, what string, ours []socket.Event, theirs []libEvent) {
	t.Helper()
	if a, b := fmt.Sprint(kindsOf(ours)), fmt.Sprint(libKindsOf(theirs)); a != b {
		t.Errorf("%s: our events %v, libzmq's monitor %v; want the same kinds", what, a, b)
	}
}

// checkState checks the state of our EventHandshakeSucceeded: mechanism,
// the peer's socket type and, under CURVE, the peer's key and (on a
// server) the user id our ZAP handler gave.
func (e *sockEnv) checkState(t *testing.T, ev socket.Event, server bool) {
	t.Helper()
	st := ev.State
	mech := "NULL"
	if e.curve {
		mech = "CURVE"
	}
	if !st.HandshakeComplete || st.Mechanism != mech || st.PeerSocketType != zmtp.DEALER || st.PeerAddress != "127.0.0.1" {
		t.Errorf("EventHandshakeSucceeded state: complete %v, mechanism %q, peer %q at %q; want %s, DEALER at 127.0.0.1",
			st.HandshakeComplete, st.Mechanism, st.PeerSocketType, st.PeerAddress, mech)
	}
	switch {
	case !e.curve && st.PeerPublicKey != nil:
		t.Errorf("NULL: PeerPublicKey %v, want nil", st.PeerPublicKey)
	case e.curve && server && (st.PeerPublicKey == nil || *st.PeerPublicKey != e.cli.Public || st.UserID != sockUserID):
		t.Errorf("CURVE server: PeerPublicKey %v, UserID %q; want the client's key, %q", st.PeerPublicKey, st.UserID, sockUserID)
	case e.curve && !server && (st.PeerPublicKey == nil || *st.PeerPublicKey != e.srv.Public || st.UserID != ""):
		t.Errorf("CURVE client: PeerPublicKey %v, UserID %q; want the server's key, no user id", st.PeerPublicKey, st.UserID)
	}
}

func TestSocketEvents(t *testing.T) {
	sockRun(t, sockMatrixCases("DEALER", func(t *testing.T, e *sockEnv, ourBind bool) {
		ev := newOurEvents()
		if !ourBind {
			// Our socket and its libzmq twin connect to one libzmq server,
			// which then restarts on the same port.
			srv := e.libServer(zmq.DEALER)
			ep := e.lib.bind(srv)
			twin := e.libClient(zmq.DEALER)
			twinMon := e.lib.monitor(twin, zmq.EVENT_ALL)
			must(t, twin.Connect(ep))
			d := e.ourSocket(zmtp.DEALER, false, &socket.Options{Events: ev.ch})
			ourConnect(t, d, ep)

			ok1, ours, ok := ev.waitFor(socket.EventHandshakeSucceeded, stepTimeout)
			_, theirs, ok2 := twinMon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, stepTimeout)
			if !ok || !ok2 {
				t.Fatalf("no handshake: ours%s\nlibzmq's %v", eventList(ours), theirs)
			}
			sameKinds(t, "connect", ours, theirs)
			e.checkState(t, ok1, false)
			if ours[0].Endpoint != ep {
				t.Errorf("our events name endpoint %q, want %q", ours[0].Endpoint, ep)
			}

			must(t, srv.Close())
			_, ours, ok = ev.waitFor(socket.EventClosed, stepTimeout)
			_, theirs, ok2 = twinMon.waitFor(zmq.EVENT_CLOSED, stepTimeout)
			if !ok || !ok2 {
				t.Fatalf("after the server closed: ours%s\nlibzmq's %v", eventList(ours), theirs)
			}
			sameKinds(t, "server gone", ours, theirs)
			for _, e := range ours {
				if e.Kind == socket.EventConnectRetried && (e.Interval < socket.DefaultReconnectInterval || e.Interval >= 2*socket.DefaultReconnectInterval) {
					t.Errorf("EventConnectRetried interval %v; want 100 ms plus up to 100 ms of jitter", e.Interval)
				}
			}

			srv2 := e.libServer(zmq.DEALER)
			rebind(t, srv2.Bind, ep)
			ok1, ours, ok = ev.waitFor(socket.EventHandshakeSucceeded, stepTimeout)
			if !ok {
				t.Fatalf("no handshake after the restart:%s", eventList(ours))
			}
			checkKinds(t, "our DEALER, server back", ours, socket.EventConnectDelayed, socket.EventConnected, socket.EventHandshakeSucceeded)
			e.checkState(t, ok1, false)
			must(t, d.Close())
		} else {
			// Our socket and its libzmq twin are bound; a libzmq client
			// connects to each, then goes away.
			d, ep := e.ours(zmtp.DEALER, true, &socket.Options{Events: ev.ch})
			twin := e.libServer(zmq.DEALER)
			twinMon := e.lib.monitor(twin, zmq.EVENT_ALL)
			twinEP := e.lib.bind(twin)
			c1, c2 := e.libClient(zmq.DEALER), e.libClient(zmq.DEALER)
			must(t, c1.Connect(ep))
			must(t, c2.Connect(twinEP))

			ok1, ours, ok := ev.waitFor(socket.EventHandshakeSucceeded, stepTimeout)
			_, theirs, ok2 := twinMon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, stepTimeout)
			if !ok || !ok2 {
				t.Fatalf("no handshake: ours%s\nlibzmq's %v", eventList(ours), theirs)
			}
			sameKinds(t, "bind and accept", ours, theirs)
			e.checkState(t, ok1, true)
			if ours[0].Endpoint != ep || ours[1].RemoteAddr == nil {
				t.Errorf("our events name endpoint %q and peer %v; want %q and the client's address", ours[0].Endpoint, ours[1].RemoteAddr, ep)
			}

			must(t, c1.Close())
			must(t, c2.Close())
			gone, ours, ok := ev.waitFor(socket.EventDisconnected, stepTimeout)
			_, theirs, ok2 = twinMon.waitFor(zmq.EVENT_DISCONNECTED, stepTimeout)
			if !ok || !ok2 {
				t.Fatalf("after the client closed: ours%s\nlibzmq's %v", eventList(ours), theirs)
			}
			sameKinds(t, "client gone", ours, theirs)
			if gone.Err == nil {
				t.Errorf("EventDisconnected after the peer closed: no cause")
			}
			must(t, d.Close())
		}
		rest := ev.collect(50 * time.Millisecond)
		if len(rest) == 0 || rest[len(rest)-1].Kind != socket.EventSocketClosed {
			t.Errorf("our events after Close:%s\nwant EventSocketClosed last", eventList(rest))
		}
		if ourBind && countKind(rest, socket.EventClosed) != 1 {
			t.Errorf("our events after Close:%s\nwant EventClosed for the listener", eventList(rest))
		}
	}))
}
