package socket_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestOversizeMessageDropsOnlyThatPeer: a peer that sends a message over
// MaxMessageSize after its handshake is dropped (EventDisconnected with a
// *zmtp.FrameTooLargeError, found on the frame header), and the ROUTER goes on serving its
// other peer.
func TestOversizeMessageDropsOnlyThatPeer(t *testing.T) {
	events := newEvents()
	opts := &socket.Options{Events: events}
	opts.MaxMessageSize = 1024
	router := newSocket(t, zmtp.ROUTER, opts)
	ep := bind(t, router)

	goodOpts := &socket.Options{}
	goodOpts.Identity = []byte("good")
	good := newSocket(t, zmtp.DEALER, goodOpts)
	connect(t, good, ep)
	send(t, good, "before")
	recv(t, router, "good", "before")

	bad, err := transport.Dial(ep, &transport.Config{SocketType: zmtp.DEALER, Identity: []byte("bad")})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.WriteMessage([][]byte{make([]byte, 4096)}); err != nil {
		t.Fatal(err)
	}
	e := waitKind(t, events, socket.EventDisconnected)
	var tooLarge *zmtp.FrameTooLargeError
	if !errors.As(e.Err, &tooLarge) {
		t.Fatalf("EventDisconnected: %v, want a *zmtp.FrameTooLargeError", e.Err)
	}
	send(t, good, "after")
	recv(t, router, "good", "after")
	send(t, router, "good", "still routed")
	recv(t, good, "still routed")
}

// TestReqMalformedReplyStopsEndpoint: a server that answers a REQ without
// the empty delimiter frame is a protocol error, as in libzmq: the
// connection ends and the endpoint is given up (EventConnectStopped), not
// retried.
func TestReqMalformedReplyStopsEndpoint(t *testing.T) {
	srv := newRawServer(t, func(nc net.Conn) {
		c := transport.Server(nc, &transport.Config{SocketType: zmtp.ROUTER})
		defer c.Close()
		if _, err := c.ReadMessage(nil); err != nil {
			return
		}
		c.WriteMessage([][]byte{[]byte("reply-without-delimiter")})
		c.ReadMessage(nil) // until the REQ hangs up
	})
	events := newEvents()
	req := newSocket(t, zmtp.REQ, &socket.Options{Events: events, Linger: -1})
	connect(t, req, srv.endpoint())
	send(t, req, "request")
	e := waitKind(t, events, socket.EventDisconnected)
	var malformed *zmtp.MalformedError
	if !errors.As(e.Err, &malformed) {
		t.Fatalf("EventDisconnected: %v, want a *zmtp.MalformedError", e.Err)
	}
	waitKind(t, events, socket.EventConnectStopped)
	noEvent(t, events, socket.EventConnectDelayed, 500*time.Millisecond)
	if n := srv.accepted.Load(); n != 1 {
		t.Fatalf("%d connections accepted, want 1 (no retry after a protocol error)", n)
	}
	if err := recvErr(req, time.Second); !errors.Is(err, socket.ErrReplyLost) {
		t.Fatalf("Recv: %v, want ErrReplyLost", err)
	}
}
