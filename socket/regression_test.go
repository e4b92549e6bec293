package socket_test

// Tests for faults in the socket core found while rebuilding cmd/zmtpcat on
// it.

import (
	"bytes"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestCloseLingerEndsWhenEndpointGivesUp: Close waits for queued messages
// only while they can still go out. A connecting endpoint that gives up
// (here: its peer's socket type does not match, a handshake failure that
// is never retried) drops its queue, and a Close lingering on that queue
// returns then, not at the end of Linger.
func TestCloseLingerEndsWhenEndpointGivesUp(t *testing.T) {
	rep := newSocket(t, zmtp.REP, nil)
	ep := bind(t, rep)
	events := make(chan socket.Event, 64)
	push := newSocket(t, zmtp.PUSH, &socket.Options{Linger: time.Hour, Events: events})
	connect(t, push, ep)
	send(t, push, "never delivered")
	waitKind(t, events, socket.EventConnectStopped)
	closed := make(chan struct{})
	go func() {
		push.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still lingers on the queue of an endpoint that gave up (Linger is an hour)")
	}
}

// TestCloseLingerEndsWhenEndpointGivesUpDuringClose: as above, with the
// endpoint giving up while Close already lingers.
func TestCloseLingerEndsWhenEndpointGivesUpDuringClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + ln.Addr().String()
	ln.Close() // nobody there yet
	push := newSocket(t, zmtp.PUSH, &socket.Options{Linger: time.Hour})
	connect(t, push, ep)
	send(t, push, "never delivered")
	closed := make(chan struct{})
	go func() {
		push.Close()
		close(closed)
	}()
	time.Sleep(50 * time.Millisecond) // Close is lingering
	rep := newSocket(t, zmtp.REP, nil)
	if err := rep.Bind(ep); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still lingers on the queue of an endpoint that gave up (Linger is an hour)")
	}
}

// TestRouterGeneratedIDCollision: a peer may claim an Identity in the form
// of the generated ids (a zero byte and four more). When the ROUTER later
// generates that same id for an anonymous peer, the two must not share
// it: what each sends must reach the application under a different
// routing id (or the claim be refused), or one peer impersonates the
// other. libzmq does not check either; transport.Config documents ids
// starting with a zero byte as reserved for generated ones.
func TestRouterGeneratedIDCollision(t *testing.T) {
	router := newSocket(t, zmtp.ROUTER, nil)
	ep := bind(t, router)

	// An anonymous peer learns the id the ROUTER generated for it...
	a := newSocket(t, zmtp.DEALER, nil)
	connect(t, a, ep)
	send(t, a, "first")
	m, err := router.Recv(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	next := bytes.Clone(m[0])
	if len(next) != 5 || next[0] != 0 {
		t.Fatalf("generated id %x", next)
	}
	for i := 4; i > 0; i-- { // ...and claims the one the next anonymous peer will get
		next[i]++
		if next[i] != 0 {
			break
		}
	}
	claim := rawDealer(t, ep, next)
	if _, err := claim.Write(zmtp.AppendFrame(nil, 0, []byte("from the claimant"))); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	ids[string(recvMsg(t, router, "from the claimant")[0])] = "claimant"

	b := newSocket(t, zmtp.DEALER, nil)
	connect(t, b, ep)
	send(t, b, "from the anonymous peer")
	id := string(recvMsg(t, router, "from the anonymous peer")[0])
	if who, ok := ids[id]; ok {
		t.Fatalf("the anonymous peer got routing id %x, which the %s holds", id, who)
	}
}

// rawDealer connects to ep and does a NULL handshake by hand as a DEALER
// with the given Identity (which transport.Config refuses to send when it
// starts with a zero byte).
func rawDealer(t *testing.T, ep string, identity []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(testhelp.NullDealerHello(identity)); err != nil {
		t.Fatal(err)
	}
	return c
}

// recvMsg receives one message whose last frame is body.
func recvMsg(t *testing.T, s *socket.Socket, body string) [][]byte {
	t.Helper()
	m, err := s.Recv(ctxT(t))
	if err != nil {
		t.Fatalf("Recv: %v (want %q)", err, body)
	}
	if string(m[len(m)-1]) != body {
		t.Fatalf("Recv: %q (%s), want %q", m, hex.EncodeToString(m[0]), body)
	}
	return m
}

// TestRouterRoutableAtHandshakeEvent: once EventHandshakeSucceeded reports
// a peer with an Identity, a ROUTER can route to that id: an application
// that answers the event (zmtpcat prints it, and a user then types a line
// for the peer) must not get ErrHostUnreachable.
func TestRouterRoutableAtHandshakeEvent(t *testing.T) {
	events := make(chan socket.Event, 64)
	router := newSocket(t, zmtp.ROUTER, &socket.Options{RouterMandatory: true, Events: events})
	ep := bind(t, router)
	for i := range 100 {
		opts := &socket.Options{Linger: -1}
		opts.Identity = []byte{'p', byte(i)}
		d := newSocket(t, zmtp.DEALER, opts)
		connect(t, d, ep)
		e := waitKind(t, events, socket.EventHandshakeSucceeded)
		if err := router.Send(ctxT(t), [][]byte{e.State.PeerIdentity, []byte("hi")}); err != nil {
			t.Fatalf("peer %d: Send right after its EventHandshakeSucceeded: %v", i, err)
		}
		recv(t, d, "hi")
		d.Close()
	}
}
