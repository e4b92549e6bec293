package socket_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Type-by-type semantics between our own sockets
// (docs/sockets.md#socket-types), and the places where we deliberately do
// better than libzmq 4.3.4 (docs/sockets.md#where-we-differ-from-libzmq).

// withID returns options with Identity set.
func withID(id string, o socket.Options) *socket.Options {
	o.Identity = []byte(id)
	return &o
}

// recvAll receives n messages from s and returns their last frames, in
// the order received.
func recvAll(t *testing.T, s *socket.Socket, n int) []string {
	t.Helper()
	var out []string
	for range n {
		m, err := s.Recv(ctxT(t))
		if err != nil {
			t.Fatalf("Recv after %q: %v", out, err)
		}
		out = append(out, string(m[len(m)-1]))
	}
	return out
}

func TestPushRoundRobin(t *testing.T) {
	push := newSocket(t, zmtp.PUSH, nil)
	pulls := []*socket.Socket{newSocket(t, zmtp.PULL, nil), newSocket(t, zmtp.PULL, nil)}
	for _, pull := range pulls {
		connect(t, push, bind(t, pull))
	}
	for _, pull := range pulls {
		waitPeers(t, pull, 1)
	}
	for i := range 6 {
		send(t, push, fmt.Sprint(i))
	}
	// Round-robin: the pipes alternate, whichever came first.
	a, b := recvAll(t, pulls[0], 3), recvAll(t, pulls[1], 3)
	if a[0] == "1" {
		a, b = b, a
	}
	if diff := cmp.Diff([]string{"0", "2", "4"}, a); diff != "" {
		t.Errorf("first PULL (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "3", "5"}, b); diff != "" {
		t.Errorf("second PULL (-want +got)\n%s", diff)
	}
}

// TestPullFairQueue: with messages waiting from two PUSHes, a PULL takes
// them in turn.
func TestPullFairQueue(t *testing.T) {
	pull := newSocket(t, zmtp.PULL, nil)
	ep := bind(t, pull)
	for _, name := range []string{"a", "b"} {
		push := newSocket(t, zmtp.PUSH, nil)
		connect(t, push, ep)
		for i := range 3 {
			send(t, push, name, fmt.Sprint(i))
		}
	}
	waitPeers(t, pull, 2)
	time.Sleep(100 * time.Millisecond) // all six in the PULL's queues
	var got []string
	for range 6 {
		m, err := pull.Recv(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m[0])+string(m[1]))
	}
	for i := 2; i < len(got); i++ {
		if got[i][0] != got[i-2][0] || got[i][0] == got[i-1][0] {
			t.Fatalf("not fair-queued: %q", got)
		}
	}
}

// TestReqRoundRobin: a REQ connected to three REPs sends its requests to
// each in turn, and takes each reply from the REP it asked.
func TestReqRoundRobin(t *testing.T) {
	req := newSocket(t, zmtp.REQ, nil)
	reps := make([]*socket.Socket, 3)
	for i := range reps {
		reps[i] = newSocket(t, zmtp.REP, nil)
		connect(t, req, bind(t, reps[i]))
		waitPeers(t, reps[i], 1)
	}
	var order []int
	for round := range 6 {
		send(t, req, fmt.Sprint("q", round))
		got := -1
		deadline := time.Now().Add(waitLong)
		for got < 0 && time.Now().Before(deadline) {
			for i, rep := range reps {
				if recvErr(rep, 5*time.Millisecond) == nil {
					got = i
					send(t, rep, fmt.Sprint("a", i))
				}
			}
		}
		if got < 0 {
			t.Fatalf("no REP received request %d", round)
		}
		recv(t, req, fmt.Sprint("a", got))
		order = append(order, got)
	}
	for i := 3; i < len(order); i++ {
		if order[i] != order[i-3] {
			t.Fatalf("requests went to %v, not round-robin", order)
		}
	}
	first := slices.Clone(order[:3])
	slices.Sort(first)
	if !slices.Equal(first, []int{0, 1, 2}) {
		t.Fatalf("requests went to %v, not to each REP", order)
	}
}

// TestEnvelopes: what REQ and REP look like to a ROUTER and a DEALER.
func TestEnvelopes(t *testing.T) {
	t.Run("REQ to ROUTER", func(t *testing.T) {
		router := newSocket(t, zmtp.ROUTER, nil)
		req := newSocket(t, zmtp.REQ, withID("req", socket.Options{}))
		connect(t, req, bind(t, router))
		send(t, req, "hello", "world")
		recv(t, router, "req", "", "hello", "world")
		send(t, router, "req", "", "reply")
		recv(t, req, "reply")
	})
	t.Run("DEALER to REP", func(t *testing.T) {
		rep := newSocket(t, zmtp.REP, nil)
		dealer := newSocket(t, zmtp.DEALER, nil)
		connect(t, dealer, bind(t, rep))
		// An envelope of several hops comes back whole.
		send(t, dealer, "hop1", "hop2", "", "body")
		recv(t, rep, "body")
		send(t, rep, "answer")
		recv(t, dealer, "hop1", "hop2", "", "answer")
		// A request without a delimiter is dropped; the next one works.
		send(t, dealer, "no delimiter")
		send(t, dealer, "", "fine")
		recv(t, rep, "fine")
	})
	t.Run("ReqCorrelate", func(t *testing.T) {
		router := newSocket(t, zmtp.ROUTER, nil)
		req := newSocket(t, zmtp.REQ, withID("r", socket.Options{ReqRelaxed: true, ReqCorrelate: true}))
		connect(t, req, bind(t, router))
		send(t, req, "first")
		first, err := router.Recv(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 4 || len(first[1]) != 4 || len(first[2]) != 0 {
			t.Fatalf("correlated request %q: want id, 4-byte request id, delimiter, body", first)
		}
		send(t, req, "second")
		second, err := router.Recv(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		first[3], second[3] = []byte("reply to first"), []byte("reply to second")
		for _, m := range [][][]byte{first, second} {
			if err := router.Send(ctxT(t), m); err != nil {
				t.Fatal(err)
			}
		}
		recv(t, req, "reply to second")
	})
}

func TestRouter(t *testing.T) {
	t.Run("unroutable dropped", func(t *testing.T) {
		router := newSocket(t, zmtp.ROUTER, nil)
		dealer := newSocket(t, zmtp.DEALER, withID("d", socket.Options{}))
		connect(t, dealer, bind(t, router))
		waitPeers(t, router, 1)
		send(t, router, "nobody", "lost")
		send(t, router, "d", "found")
		recv(t, dealer, "found")
	})
	t.Run("RouterMandatory", func(t *testing.T) {
		router := newSocket(t, zmtp.ROUTER, &socket.Options{RouterMandatory: true})
		dealer := newSocket(t, zmtp.DEALER, withID("d", socket.Options{}))
		connect(t, dealer, bind(t, router))
		waitPeers(t, router, 1)
		if err := router.Send(ctxT(t), msg("nobody", "x")); !errors.Is(err, socket.ErrHostUnreachable) {
			t.Fatalf("Send to an unknown id: %v, want ErrHostUnreachable", err)
		}
		send(t, router, "d", "found")
		recv(t, dealer, "found")
	})
	t.Run("RouterMandatory blocks at the mark", func(t *testing.T) {
		// A DEALER that does not read: the ROUTER's Send blocks (until
		// its deadline) once the queues and the kernel's buffers are
		// full, instead of dropping; every message it accepted arrives.
		router := newSocket(t, zmtp.ROUTER, &socket.Options{RouterMandatory: true, SendHWM: 2, Linger: -1})
		dealer := newSocket(t, zmtp.DEALER, withID("d", socket.Options{RecvHWM: 2}))
		connect(t, dealer, bind(t, router))
		waitPeers(t, router, 1)
		big := make([]byte, 64<<10)
		accepted := 0
		for ; ; accepted++ {
			if accepted > 10000 {
				t.Fatal("ROUTER with RouterMandatory never blocked")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := router.Send(ctx, [][]byte{[]byte("d"), []byte(fmt.Sprint(accepted)), big})
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatalf("Send %d: %v", accepted, err)
			}
		}
		for i := range accepted {
			m, err := dealer.Recv(ctxT(t))
			if err != nil {
				t.Fatalf("Recv %d of %d: %v", i, accepted, err)
			}
			if string(m[0]) != fmt.Sprint(i) {
				t.Fatalf("message %q, want %d: one was dropped", m[0], i)
			}
		}
		if err := recvErr(dealer, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("after the %d accepted: %v", accepted, err)
		}
	})
	t.Run("generated ids differ", func(t *testing.T) {
		router := newSocket(t, zmtp.ROUTER, nil)
		ep := bind(t, router)
		ids := map[string]bool{}
		for range 3 {
			d := newSocket(t, zmtp.DEALER, nil)
			connect(t, d, ep)
			send(t, d, "hi")
			m, err := router.Recv(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(m[0]) != 5 || m[0][0] != 0 {
				t.Errorf("generated id %x, want 5 bytes starting 00", m[0])
			}
			ids[string(m[0])] = true
		}
		if len(ids) != 3 {
			t.Errorf("%d distinct ids for 3 peers", len(ids))
		}
	})
}

// TestPairSecondPeerRefused: a PAIR that has a peer closes a second one
// right after its handshake (EventDisconnected with ErrPeerRefused)
// instead of keeping it as a zombie, as libzmq does; the first peer is
// unaffected, and once it is gone another may take its place.
func TestPairSecondPeerRefused(t *testing.T) {
	ev := newEvents()
	server := newSocket(t, zmtp.PAIR, &socket.Options{Events: ev})
	ep := bind(t, server)
	first := newSocket(t, zmtp.PAIR, nil)
	connect(t, first, ep)
	send(t, first, "one")
	recv(t, server, "one")

	sev := newEvents()
	second := newSocket(t, zmtp.PAIR, &socket.Options{Events: sev, ReconnectInterval: -1, Linger: -1})
	connect(t, second, ep)
	e := waitEvent(t, ev, "disconnected with ErrPeerRefused", func(e socket.Event) bool {
		return e.Kind == socket.EventDisconnected && errors.Is(e.Err, socket.ErrPeerRefused)
	})
	if e.RemoteAddr == nil {
		t.Error("EventDisconnected without RemoteAddr")
	}
	// The refused peer sees its connection end (and, reconnection off,
	// gives up).
	waitKind(t, sev, socket.EventDisconnected)
	waitKind(t, sev, socket.EventConnectStopped)

	send(t, server, "still")
	recv(t, first, "still")
	if n := server.Stats().Peers; n != 1 {
		t.Errorf("server has %d peers, want 1", n)
	}

	first.Close()
	waitPeers(t, server, 0)
	third := newSocket(t, zmtp.PAIR, nil)
	connect(t, third, ep)
	send(t, third, "three")
	recv(t, server, "three")
	send(t, server, "to three")
	recv(t, third, "to three")
}

// TestRouterDuplicateIdentity: a second peer with an Identity in use is
// closed (libzmq keeps it open and drops what it sends); the first keeps
// the id.
func TestRouterDuplicateIdentity(t *testing.T) {
	ev := newEvents()
	router := newSocket(t, zmtp.ROUTER, &socket.Options{Events: ev})
	ep := bind(t, router)
	older := newSocket(t, zmtp.DEALER, withID("x", socket.Options{}))
	connect(t, older, ep)
	send(t, older, "from older")
	recv(t, router, "x", "from older")

	newer := newSocket(t, zmtp.DEALER, withID("x", socket.Options{ReconnectInterval: -1, Linger: -1}))
	connect(t, newer, ep)
	waitEvent(t, ev, "disconnected with ErrPeerRefused", func(e socket.Event) bool {
		return e.Kind == socket.EventDisconnected && errors.Is(e.Err, socket.ErrPeerRefused)
	})
	send(t, router, "x", "to x")
	recv(t, older, "to x")
	if err := recvErr(newer, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("newer peer: Recv %v, want nothing", err)
	}
	if n := router.Stats().Peers; n != 1 {
		t.Errorf("router has %d peers, want 1", n)
	}
}

// TestRouterHandover: with RouterHandover the newer peer takes the id and
// the older connection is closed.
func TestRouterHandover(t *testing.T) {
	router := newSocket(t, zmtp.ROUTER, &socket.Options{RouterHandover: true})
	ep := bind(t, router)
	oev := newEvents()
	older := newSocket(t, zmtp.DEALER, withID("x", socket.Options{Events: oev, ReconnectInterval: -1}))
	connect(t, older, ep)
	send(t, older, "from older")
	recv(t, router, "x", "from older")

	newer := newSocket(t, zmtp.DEALER, withID("x", socket.Options{}))
	connect(t, newer, ep)
	waitKind(t, oev, socket.EventDisconnected)
	send(t, router, "x", "to x")
	recv(t, newer, "to x")
	send(t, newer, "from newer")
	recv(t, router, "x", "from newer")
	// The older connection is counted until its reader has seen it end.
	waitPeers(t, router, 1)
}

// TestRouterReconnectFixedIdentity: a DEALER with a fixed Identity whose
// connection ended is routable again when it reconnects, even though the
// ROUTER's application has not read what the old connection sent (libzmq
// ignores such a peer for good).
func TestRouterReconnectFixedIdentity(t *testing.T) {
	ev := newEvents()
	router := newSocket(t, zmtp.ROUTER, &socket.Options{Events: ev})
	ep := bind(t, router)
	old := newSocket(t, zmtp.DEALER, withID("d", socket.Options{Linger: waitLong}))
	connect(t, old, ep)
	for i := range 3 {
		send(t, old, fmt.Sprint("old", i))
	}
	old.Close() // after the three are written
	waitKind(t, ev, socket.EventDisconnected)

	again := newSocket(t, zmtp.DEALER, withID("d", socket.Options{}))
	connect(t, again, ep)
	send(t, again, "new")
	got := map[string]bool{}
	for range 4 {
		m, err := router.Recv(ctxT(t))
		if err != nil {
			t.Fatalf("Recv after %v: %v", got, err)
		}
		if string(m[0]) != "d" || len(m) != 2 {
			t.Fatalf("Recv %q, want [d body]", m)
		}
		got[string(m[1])] = true
	}
	if !got["old0"] || !got["old1"] || !got["old2"] || !got["new"] {
		t.Fatalf("received %v, want old0..2 and new", got)
	}
	send(t, router, "d", "reply")
	recv(t, again, "reply")
	if e := len(ev); e > 0 {
		for range e {
			if e := <-ev; errors.Is(e.Err, socket.ErrPeerRefused) {
				t.Errorf("reconnecting peer refused: %v", e)
			}
		}
	}
}

// TestReqReplyLost: a REQ whose request went out on a connection that is
// gone before the reply gets ErrReplyLost, and may send again (libzmq
// takes a message from another peer as the reply, or waits for ever).
func TestReqReplyLost(t *testing.T) {
	t.Run("REQ connects", func(t *testing.T) {
		rep := newSocket(t, zmtp.REP, nil)
		ep := bindFixed(t, rep)
		req := newSocket(t, zmtp.REQ, &socket.Options{ReconnectInterval: 20 * time.Millisecond})
		connect(t, req, ep)
		send(t, req, "q1")
		recv(t, rep, "q1")
		rep.Close()
		if _, err := req.Recv(ctxT(t)); !errors.Is(err, socket.ErrReplyLost) {
			t.Fatalf("Recv: %v, want ErrReplyLost", err)
		}
		// The REP comes back on the same endpoint.
		rep2 := newSocket(t, zmtp.REP, nil)
		if err := rep2.Bind(ep); err != nil {
			t.Fatal(err)
		}
		send(t, req, "q2")
		recv(t, rep2, "q2")
		send(t, rep2, "a2")
		recv(t, req, "a2")
	})
	t.Run("REQ binds", func(t *testing.T) {
		req := newSocket(t, zmtp.REQ, nil)
		ep := bind(t, req)
		rep := newSocket(t, zmtp.REP, nil)
		connect(t, rep, ep)
		send(t, req, "q1")
		recv(t, rep, "q1")
		rep.Close()
		if _, err := req.Recv(ctxT(t)); !errors.Is(err, socket.ErrReplyLost) {
			t.Fatalf("Recv: %v, want ErrReplyLost", err)
		}
		rep2 := newSocket(t, zmtp.REP, nil)
		connect(t, rep2, ep)
		send(t, req, "q2")
		recv(t, rep2, "q2")
		send(t, rep2, "a2")
		recv(t, req, "a2")
	})
	t.Run("other peer stays quiet", func(t *testing.T) {
		// A REQ with two ROUTER peers: the one asked goes away, the other
		// sends a message the REQ must not take as the reply.
		req := newSocket(t, zmtp.REQ, withID("req", socket.Options{}))
		ep := bind(t, req)
		routers := []*socket.Socket{newSocket(t, zmtp.ROUTER, nil), newSocket(t, zmtp.ROUTER, nil)}
		for _, r := range routers {
			connect(t, r, ep)
		}
		waitPeers(t, req, 2)
		send(t, req, "q")
		var asked, other *socket.Socket
		for deadline := time.Now().Add(waitLong); asked == nil; {
			if time.Now().After(deadline) {
				t.Fatal("no ROUTER received the request")
			}
			for i, r := range routers {
				if recvErr(r, 5*time.Millisecond) == nil {
					asked, other = r, routers[1-i]
					break
				}
			}
		}
		send(t, other, "req", "", "not the reply")
		asked.Close()
		if m, err := req.Recv(ctxT(t)); !errors.Is(err, socket.ErrReplyLost) {
			t.Fatalf("Recv: %q, %v; want ErrReplyLost", m, err)
		}
	})
}

// TestPairSecondConnect: a PAIR's Connect makes its one peer's queue at
// once, so a second Connect is refused with ErrPeerRefused; after
// Disconnect the slot is free again.
func TestPairSecondConnect(t *testing.T) {
	pair := newSocket(t, zmtp.PAIR, &socket.Options{Linger: -1})
	peer := newSocket(t, zmtp.PAIR, nil)
	ep := bind(t, peer)
	connect(t, pair, ep)
	other := freeEndpoint(t)
	if err := pair.Connect(other); !errors.Is(err, socket.ErrPeerRefused) {
		t.Fatalf("second Connect: %v, want ErrPeerRefused", err)
	}
	send(t, pair, "one")
	recv(t, peer, "one")
	if err := pair.Disconnect(ep); err != nil {
		t.Fatal(err)
	}
	peer2 := newSocket(t, zmtp.PAIR, nil)
	if err := peer2.Bind(other); err != nil {
		t.Fatal(err)
	}
	connect(t, pair, other)
	send(t, pair, "two")
	recv(t, peer2, "two")
}
