package bench

// libzmq 4.3.4 through github.com/pebbe/zmq4 (cgo). Client and server live
// in two contexts, each with libzmq's default single I/O thread, as two
// processes would: one shared I/O thread would serialise both sides' wire
// work. Every blocking call is bounded by ZMQ_RCVTIMEO/ZMQ_SNDTIMEO.
//
// A libzmq socket may be used by one goroutine at a time, and may move
// between goroutines (Go's scheduler provides the memory barrier libzmq
// asks for). So each socket is used either by the goroutine that made it,
// or by exactly one other goroutine that is joined before the socket is
// closed.

import (
	"fmt"
	"testing"

	zmq "github.com/pebbe/zmq4"
)

var libzmqImpl = impl{
	name:      "libzmq",
	curve:     true,
	stream:    libzmqStream,
	reqrep:    libzmqReqRep,
	handshake: libzmqHandshake,
}

// libzmqVersion reports the version of the linked libzmq.
func libzmqVersion() string {
	major, minor, patch := zmq.Version()
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}

// libzmqContext makes a context that is terminated at Cleanup, after the
// sockets made later (Cleanup runs last-in first-out).
func libzmqContext(tb testing.TB) *zmq.Context {
	tb.Helper()
	ctx, err := zmq.NewContext()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		done := make(chan struct{})
		var err error
		go func() { err = ctx.Term(); close(done) }()
		waitFor(tb, "zmq context term", done)
		if err != nil {
			tb.Errorf("zmq context term: %v", err)
		}
	})
	return ctx
}

// libzmqSocket makes a socket with LINGER 0, bounded waits and, for CURVE,
// the server's secret key or the client's three keys.
func libzmqSocket(ctx *zmq.Context, typ zmq.Type, m mech, server bool, skp, ckp keyPair) (*zmq.Socket, error) {
	s, err := ctx.NewSocket(typ)
	if err != nil {
		return nil, err
	}
	err = s.SetLinger(0)
	if err == nil {
		err = s.SetRcvtimeo(stallTimeout)
	}
	if err == nil {
		err = s.SetSndtimeo(stallTimeout)
	}
	if err == nil && m.curve {
		if server {
			err = s.SetCurveServer(1)
			if err == nil {
				err = s.SetCurveSecretkey(skp.secret)
			}
		} else {
			err = s.SetCurveServerkey(skp.public)
			if err == nil {
				err = s.SetCurvePublickey(ckp.public)
			}
			if err == nil {
				err = s.SetCurveSecretkey(ckp.secret)
			}
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// libzmqCheckMechanism fails tb unless s is set up for m.
func libzmqCheckMechanism(tb testing.TB, s *zmq.Socket, m mech) {
	tb.Helper()
	want := zmq.NULL
	if m.curve {
		want = zmq.CURVE
	}
	got, err := s.GetMechanism()
	if err != nil {
		tb.Fatal(err)
	}
	if got != want {
		tb.Fatalf("libzmq socket mechanism %v, want %v", got, want)
	}
}

// keyPair is a key pair as libzmq takes it: Z85 text.
type keyPair struct{ public, secret string }

func libzmqKeys(tb testing.TB, m mech) (server, client keyPair) {
	tb.Helper()
	if !m.curve {
		return server, client
	}
	skp, ckp := curveKeys(tb)
	return keyPair{skp.Public.String(), skp.Secret.Z85()}, keyPair{ckp.Public.String(), ckp.Secret.Z85()}
}

// libzmqServerSocket makes a socket in ctx bound to an ephemeral loopback
// port, closed at Cleanup, and returns it with its endpoint.
func libzmqServerSocket(tb testing.TB, ctx *zmq.Context, typ zmq.Type, m mech) (*zmq.Socket, string) {
	tb.Helper()
	skp, ckp := libzmqKeys(tb, m)
	s, err := libzmqSocket(ctx, typ, m, true, skp, ckp)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	libzmqCheckMechanism(tb, s, m)
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		tb.Fatal(err)
	}
	ep, err := s.GetLastEndpoint()
	if err != nil {
		tb.Fatal(err)
	}
	return s, ep
}

// libzmqClientSocket makes a socket in ctx connected to ep, closed at
// Cleanup.
func libzmqClientSocket(tb testing.TB, ctx *zmq.Context, typ zmq.Type, m mech, ep string) *zmq.Socket {
	tb.Helper()
	skp, ckp := libzmqKeys(tb, m)
	s, err := libzmqSocket(ctx, typ, m, false, skp, ckp)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	libzmqCheckMechanism(tb, s, m)
	if err := s.Connect(ep); err != nil {
		tb.Fatal(err)
	}
	return s
}

// libzmqEnd sends and receives one-part messages: the REQ and REP sockets
// add and strip the envelope themselves.
func libzmqEnd(s *zmq.Socket) end {
	return end{
		send: func(p []byte) error {
			_, err := s.SendBytes(p, 0)
			return err
		},
		recv: func() ([]byte, error) {
			return s.RecvBytes(0)
		},
	}
}

func libzmqStream(tb testing.TB, m mech) link {
	sctx, cctx := libzmqContext(tb), libzmqContext(tb)
	pull, ep := libzmqServerSocket(tb, sctx, zmq.PULL, m)
	push := libzmqClientSocket(tb, cctx, zmq.PUSH, m, ep)
	return link{client: libzmqEnd(push), server: libzmqEnd(pull), abort: func() {}}
}

func libzmqReqRep(tb testing.TB, m mech) link {
	sctx, cctx := libzmqContext(tb), libzmqContext(tb)
	rep, ep := libzmqServerSocket(tb, sctx, zmq.REP, m)
	req := libzmqClientSocket(tb, cctx, zmq.REQ, m, ep)
	return link{client: libzmqEnd(req), server: libzmqEnd(rep), abort: func() {}}
}

// libzmqHandshake binds a ROUTER that echoes n messages from a goroutine of
// its own. Each dialer call makes a new DEALER with LINGER 0, connects,
// bounces one message and closes; libzmq shakes hands in its I/O thread, so
// the round trip is what shows the handshake has happened.
func libzmqHandshake(tb testing.TB, m mech, n int) dialer {
	tb.Helper()
	sctx, cctx := libzmqContext(tb), libzmqContext(tb)
	skp, ckp := libzmqKeys(tb, m)
	router, err := libzmqSocket(sctx, zmq.ROUTER, m, true, skp, ckp)
	if err != nil {
		tb.Fatal(err)
	}
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		router.Close()
		tb.Fatal(err)
	}
	ep, err := router.GetLastEndpoint()
	if err != nil {
		router.Close()
		tb.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer router.Close()
		for i := 0; i < n; i++ {
			id, err := router.RecvBytes(0)
			if err != nil {
				return
			}
			p, err := router.RecvBytes(0)
			if err != nil {
				return
			}
			if _, err := router.SendBytes(id, zmq.SNDMORE); err != nil {
				return
			}
			if _, err := router.SendBytes(p, 0); err != nil {
				return
			}
		}
	}()
	// Registered after the contexts' Cleanup, so it runs before them.
	tb.Cleanup(func() { waitFor(tb, "libzmq ROUTER", served) })
	return func(p []byte) ([]byte, error) {
		s, err := cctx.NewSocket(zmq.DEALER)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		err = s.SetLinger(0)
		if err == nil {
			err = s.SetRcvtimeo(stallTimeout)
		}
		if err == nil && m.curve {
			err = s.SetCurveServerkey(skp.public)
			if err == nil {
				err = s.SetCurvePublickey(ckp.public)
			}
			if err == nil {
				err = s.SetCurveSecretkey(ckp.secret)
			}
		}
		if err == nil {
			err = s.Connect(ep)
		}
		if err == nil {
			_, err = s.SendBytes(p, 0)
		}
		if err != nil {
			return nil, err
		}
		return s.RecvBytes(0)
	}
}
