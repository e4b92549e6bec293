package socket_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Connecting before the peer exists, losing it and getting it back, and
// the events that say so (docs/sockets.md#reconnection,
// docs/sockets.md#events).

// TestConnectBeforeBind: every connecting type queues (or waits) until the
// peer binds.
func TestConnectBeforeBind(t *testing.T) {
	t.Run("REQ to REP", func(t *testing.T) {
		ep := freeEndpoint(t)
		req := newSocket(t, zmtp.REQ, &socket.Options{ReconnectInterval: 20 * time.Millisecond})
		connect(t, req, ep)
		send(t, req, "early request")
		rep := newSocket(t, zmtp.REP, nil)
		if err := rep.Bind(ep); err != nil {
			t.Fatal(err)
		}
		recv(t, rep, "early request")
		send(t, rep, "reply")
		recv(t, req, "reply")
	})
	t.Run("DEALER to ROUTER", func(t *testing.T) {
		ep := freeEndpoint(t)
		dealer := newSocket(t, zmtp.DEALER, withID("d", socket.Options{ReconnectInterval: 20 * time.Millisecond}))
		connect(t, dealer, ep)
		for i := range 3 {
			send(t, dealer, fmt.Sprint(i))
		}
		router := newSocket(t, zmtp.ROUTER, nil)
		if err := router.Bind(ep); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			recv(t, router, "d", fmt.Sprint(i))
		}
		send(t, router, "d", "back")
		recv(t, dealer, "back")
	})
	t.Run("PAIR receives", func(t *testing.T) {
		ep := freeEndpoint(t)
		a := newSocket(t, zmtp.PAIR, &socket.Options{ReconnectInterval: 20 * time.Millisecond})
		connect(t, a, ep)
		b := newSocket(t, zmtp.PAIR, nil)
		if err := b.Bind(ep); err != nil {
			t.Fatal(err)
		}
		send(t, b, "hello") // blocks until the PAIR connected
		recv(t, a, "hello")
	})
}

// TestPeerRestart: the bound peer closes and a new one binds the same
// endpoint; the connecting socket reconnects and traffic resumes. What
// was queued on the connecting PUSH while the peer was away survives the
// outage, as in libzmq (IMMEDIATE off).
func TestPeerRestart(t *testing.T) {
	ev := newEvents()
	push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, ReconnectInterval: 20 * time.Millisecond})
	pull := newSocket(t, zmtp.PULL, nil)
	ep := bindFixed(t, pull)
	connect(t, push, ep)
	send(t, push, "before")
	recv(t, pull, "before")

	for round := range 3 {
		pull.Close()
		// Wait until the PUSH knows, so that nothing sent below goes
		// into the dying connection (in-flight data is lost, in libzmq
		// too).
		waitKind(t, ev, socket.EventDisconnected)
		for i := range 3 {
			send(t, push, fmt.Sprint(round, "-during-", i))
		}
		pull = newSocket(t, zmtp.PULL, nil)
		if err := pull.Bind(ep); err != nil {
			t.Fatalf("round %d: Bind(%s) again: %v", round, ep, err)
		}
		for i := range 3 {
			recv(t, pull, fmt.Sprint(round, "-during-", i))
		}
		send(t, push, "after")
		recv(t, pull, "after")
	}
}

// TestBoundPeerRestartDealer: a DEALER/ROUTER conversation resumes after
// the ROUTER restarts.
func TestBoundPeerRestartDealer(t *testing.T) {
	ev := newEvents()
	dealer := newSocket(t, zmtp.DEALER, withID("d", socket.Options{Events: ev, ReconnectInterval: 20 * time.Millisecond}))
	router := newSocket(t, zmtp.ROUTER, nil)
	ep := bindFixed(t, router)
	connect(t, dealer, ep)
	send(t, dealer, "ping")
	recv(t, router, "d", "ping")
	router.Close()
	waitKind(t, ev, socket.EventDisconnected)
	router = newSocket(t, zmtp.ROUTER, nil)
	if err := router.Bind(ep); err != nil {
		t.Fatal(err)
	}
	send(t, dealer, "ping again")
	recv(t, router, "d", "ping again")
	send(t, router, "d", "pong")
	recv(t, dealer, "pong")
}

// TestConnectedPeerRestart: a bound PULL sees its connecting PUSH go and
// a new one come; the accepted connection's queue dies with it.
func TestConnectedPeerRestart(t *testing.T) {
	ev := newEvents()
	pull := newSocket(t, zmtp.PULL, &socket.Options{Events: ev})
	ep := bind(t, pull)
	for round := range 3 {
		push := newSocket(t, zmtp.PUSH, nil)
		connect(t, push, ep)
		send(t, push, fmt.Sprint(round))
		recv(t, pull, fmt.Sprint(round))
		push.Close()
		waitKind(t, ev, socket.EventDisconnected)
	}
	if n := pull.Stats().Peers; n != 0 {
		t.Errorf("%d peers after every PUSH closed", n)
	}
}

// TestReconnectOff: with a negative ReconnectInterval a failed connect is
// not retried (EventConnectStopped), and neither is a lost connection.
func TestReconnectOff(t *testing.T) {
	t.Run("nobody listening", func(t *testing.T) {
		ev := newEvents()
		push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, ReconnectInterval: -1, Linger: -1})
		ep := freeEndpoint(t)
		connect(t, push, ep)
		e := waitKind(t, ev, socket.EventConnectStopped)
		if e.Endpoint != ep || e.Err == nil {
			t.Errorf("EventConnectStopped %v: want endpoint %s and a cause", e, ep)
		}
		noEvent(t, ev, socket.EventConnectDelayed, 200*time.Millisecond)
		// Its queue went with it: nothing to send to.
		if err := sendErr(push, 50*time.Millisecond, "x"); err == nil {
			t.Error("Send succeeded with the only endpoint given up")
		}
	})
	t.Run("connection lost", func(t *testing.T) {
		ev := newEvents()
		push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, ReconnectInterval: -1, Linger: -1})
		pull := newSocket(t, zmtp.PULL, nil)
		ep := bind(t, pull)
		connect(t, push, ep)
		send(t, push, "x")
		recv(t, pull, "x")
		pull.Close()
		waitKind(t, ev, socket.EventDisconnected)
		waitKind(t, ev, socket.EventConnectStopped)
		noEvent(t, ev, socket.EventConnectDelayed, 200*time.Millisecond)
	})
}

// TestConnectEvents: a connect to a live peer gives ConnectDelayed,
// Connected, HandshakeSucceeded, in that order, with the endpoint and the
// peer's address; the bound side gives Listening, Accepted,
// HandshakeSucceeded. Closing ends the connecting side's events with
// SocketClosed (an EventDisconnected before it has no cause: the socket
// closed the connection itself), and the bound side sees Disconnected
// with a cause.
func TestConnectEvents(t *testing.T) {
	bev, cev := newEvents(), newEvents()
	pull := newSocket(t, zmtp.PULL, &socket.Options{Events: bev})
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, &socket.Options{Events: cev})
	connect(t, push, ep)
	send(t, push, "x")
	recv(t, pull, "x")

	kinds := func(ch chan socket.Event, n int) []socket.Event {
		t.Helper()
		var out []socket.Event
		for range n {
			select {
			case e := <-ch:
				out = append(out, e)
			case <-time.After(waitLong):
				t.Fatalf("events so far %v", out)
			}
		}
		return out
	}
	want := []socket.EventKind{socket.EventConnectDelayed, socket.EventConnected, socket.EventHandshakeSucceeded}
	got := kinds(cev, 3)
	for i, e := range got {
		if e.Kind != want[i] || e.Endpoint != ep {
			t.Fatalf("connecting side's events %v, want %v on %s", got, want, ep)
		}
		if e.Time.IsZero() {
			t.Errorf("%v without Time", e)
		}
	}
	if got[1].RemoteAddr == nil || "tcp://"+got[1].RemoteAddr.String() != ep {
		t.Errorf("EventConnected RemoteAddr %v, want %s", got[1].RemoteAddr, ep)
	}
	if st := got[2].State; st.PeerSocketType != zmtp.PULL || st.Mechanism != "NULL" {
		t.Errorf("EventHandshakeSucceeded State %+v, want a NULL PULL peer", st)
	}
	want = []socket.EventKind{socket.EventListening, socket.EventAccepted, socket.EventHandshakeSucceeded}
	got = kinds(bev, 3)
	for i, e := range got {
		if e.Kind != want[i] || e.Endpoint != ep {
			t.Fatalf("bound side's events %v, want %v on %s", got, want, ep)
		}
	}
	if st := got[2].State; st.PeerSocketType != zmtp.PUSH {
		t.Errorf("bound EventHandshakeSucceeded State %+v, want a PUSH peer", st)
	}

	push.Close()
	// Close has returned: every event of the socket is in the channel.
	var last []socket.Event
	for len(cev) > 0 {
		last = append(last, <-cev)
	}
	if len(last) == 0 || last[len(last)-1].Kind != socket.EventSocketClosed {
		t.Errorf("connecting side's events at Close %v, want EventSocketClosed last", last)
	}
	for _, e := range last {
		if e.Kind == socket.EventDisconnected && e.Err != nil {
			t.Errorf("%v: this side closed it, so no cause", e)
		}
	}
	e := waitKind(t, bev, socket.EventDisconnected)
	if e.Err == nil {
		t.Errorf("bound side's EventDisconnected without a cause")
	}
}

// TestConnectRetriedInterval: while nobody listens, the connecting side
// cycles ConnectDelayed, Closed, ConnectRetried, and each retry's
// Interval is the reconnect interval plus a jitter of less than as much
// again; with ReconnectIntervalMax the interval doubles up to the
// maximum, as in libzmq.
func TestConnectRetriedInterval(t *testing.T) {
	const ivl = 10 * time.Millisecond
	t.Run("fixed", func(t *testing.T) {
		ev := newEvents()
		push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, ReconnectInterval: ivl, Linger: -1})
		connect(t, push, freeEndpoint(t))
		for i := range 5 {
			waitKind(t, ev, socket.EventConnectDelayed)
			waitKind(t, ev, socket.EventClosed)
			e := waitKind(t, ev, socket.EventConnectRetried)
			if e.Interval < ivl || e.Interval >= 2*ivl {
				t.Errorf("retry %d: Interval %v, want in [%v, %v)", i, e.Interval, ivl, 2*ivl)
			}
		}
	})
	t.Run("backoff", func(t *testing.T) {
		ev := newEvents()
		push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, ReconnectInterval: ivl, ReconnectIntervalMax: 8 * ivl, Linger: -1})
		connect(t, push, freeEndpoint(t))
		for i, base := range []time.Duration{ivl, 2 * ivl, 4 * ivl, 8 * ivl, 8 * ivl} {
			e := waitKind(t, ev, socket.EventConnectRetried)
			if e.Interval < base || e.Interval >= 2*base {
				t.Errorf("retry %d: Interval %v, want in [%v, %v)", i, e.Interval, base, 2*base)
			}
		}
	})
	t.Run("default", func(t *testing.T) {
		ev := newEvents()
		push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, Linger: -1})
		connect(t, push, freeEndpoint(t))
		e := waitKind(t, ev, socket.EventConnectRetried)
		if ivl := socket.DefaultReconnectInterval; e.Interval < ivl || e.Interval >= 2*ivl {
			t.Errorf("Interval %v, want in [%v, %v)", e.Interval, ivl, 2*ivl)
		}
	})
}

// TestDisconnectUnbind: Disconnect stops a connecting endpoint for good
// and Unbind a bound one; an unknown endpoint is an error.
func TestDisconnectUnbind(t *testing.T) {
	pev := newEvents()
	pull := newSocket(t, zmtp.PULL, &socket.Options{Events: pev})
	ep := bind(t, pull)
	ev := newEvents()
	push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, Linger: -1, ReconnectInterval: 20 * time.Millisecond})
	connect(t, push, ep)
	send(t, push, "x")
	recv(t, pull, "x")
	if err := push.Disconnect(ep); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	waitKind(t, pev, socket.EventDisconnected)
	noEvent(t, pev, socket.EventAccepted, 200*time.Millisecond) // no reconnect
	var oe *socket.OptionError
	if err := push.Disconnect(ep); !errors.As(err, &oe) {
		t.Errorf("second Disconnect: %v, want an *OptionError", err)
	}

	connect(t, push, ep)
	send(t, push, "y")
	recv(t, pull, "y")
	if err := pull.Unbind(ep); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	waitKind(t, ev, socket.EventDisconnected)
	// Nobody listens there now: the PUSH retries.
	waitKind(t, ev, socket.EventConnectRetried)
	if err := pull.Unbind(ep); !errors.As(err, &oe) {
		t.Errorf("second Unbind: %v, want an *OptionError", err)
	}
}

// TestEventsNeverBlock: a full Events channel nobody reads does not slow
// or stop the socket; what did not fit is counted.
func TestEventsNeverBlock(t *testing.T) {
	ev := make(chan socket.Event) // no buffer, never read
	pull := newSocket(t, zmtp.PULL, &socket.Options{Events: ev})
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, ReconnectInterval: 10 * time.Millisecond, Linger: -1})
	connect(t, push, ep)
	connect(t, push, freeEndpoint(t)) // retries: events all the time
	for i := range 100 {
		send(t, push, fmt.Sprint(i))
	}
	got := recvAll(t, pull, 50) // the other 50 wait for the absent peer
	for i, m := range got {
		if m != fmt.Sprint(2*i) && m != fmt.Sprint(2*i+1) {
			t.Fatalf("received %q", got)
		}
	}
	if push.Stats().EventsDropped == 0 || pull.Stats().EventsDropped == 0 {
		t.Errorf("EventsDropped: PUSH %d, PULL %d; want both counted", push.Stats().EventsDropped, pull.Stats().EventsDropped)
	}
}

// TestImmediate: with Immediate a connecting endpoint has no queue until
// its connection is up: a PUSH whose only endpoint has nobody listening
// blocks instead of queueing, and a PUSH with a live and an absent peer
// sends everything to the live one.
func TestImmediate(t *testing.T) {
	push := newSocket(t, zmtp.PUSH, &socket.Options{Immediate: true, Linger: -1, ReconnectInterval: 10 * time.Millisecond})
	connect(t, push, freeEndpoint(t))
	if err := sendErr(push, 100*time.Millisecond, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send with no connection and Immediate: %v, want context.DeadlineExceeded", err)
	}
	pull := newSocket(t, zmtp.PULL, nil)
	connect(t, push, bind(t, pull))
	waitPeers(t, pull, 1)
	for i := range 6 {
		send(t, push, fmt.Sprint(i))
	}
	for i := range 6 {
		recv(t, pull, fmt.Sprint(i))
	}
}
