package bench

// github.com/go-zeromq/zmq4, the other pure-Go ZeroMQ, for NULL only: it
// has no CURVE. Its sockets are goroutine-safe and Close interrupts a
// blocked Recv, so abort closes.

import (
	"context"
	"errors"
	"fmt"
	"testing"

	gozmq "github.com/go-zeromq/zmq4"
)

var gozmq4Impl = impl{
	name:      "gozmq4",
	curve:     false,
	stream:    gozmq4Stream,
	reqrep:    gozmq4ReqRep,
	handshake: gozmq4Handshake,
}

// gozmq4Pair binds server to an ephemeral loopback port and dials it from
// client; both are closed at Cleanup.
func gozmq4Pair(tb testing.TB, client, server gozmq.Socket) {
	tb.Helper()
	tb.Cleanup(func() { client.Close(); server.Close() })
	if err := server.Listen("tcp://127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	if err := client.Dial("tcp://" + server.Addr().String()); err != nil {
		tb.Fatal(err)
	}
}

// gozmq4End sends and receives one-part messages; REQ and REP add and strip
// the envelope themselves.
func gozmq4End(s gozmq.Socket) end {
	return end{
		send: func(p []byte) error { return s.Send(gozmq.NewMsg(p)) },
		recv: func() ([]byte, error) {
			m, err := s.Recv()
			if err != nil {
				return nil, err
			}
			if len(m.Frames) != 1 {
				return nil, fmt.Errorf("got a %d-frame message, want 1 frame", len(m.Frames))
			}
			return m.Frames[0], nil
		},
	}
}

func gozmq4Stream(tb testing.TB, m mech) link {
	if m.curve {
		tb.Fatal("gozmq4 has no CURVE")
	}
	push, pull := gozmq.NewPush(context.Background()), gozmq.NewPull(context.Background())
	gozmq4Pair(tb, push, pull)
	return link{client: gozmq4End(push), server: gozmq4End(pull), abort: func() { push.Close(); pull.Close() }}
}

func gozmq4ReqRep(tb testing.TB, m mech) link {
	if m.curve {
		tb.Fatal("gozmq4 has no CURVE")
	}
	req, rep := gozmq.NewReq(context.Background()), gozmq.NewRep(context.Background())
	gozmq4Pair(tb, req, rep)
	return link{client: gozmq4End(req), server: gozmq4End(rep), abort: func() { req.Close(); rep.Close() }}
}

// gozmq4Handshake binds a ROUTER that echoes until Cleanup closes it. Each
// dialer call makes a DEALER, dials (zmq4's Dial shakes hands before it
// returns), bounces one message and closes.
func gozmq4Handshake(tb testing.TB, m mech, n int) dialer {
	tb.Helper()
	if m.curve {
		tb.Fatal("gozmq4 has no CURVE")
	}
	router := gozmq.NewRouter(context.Background())
	if err := router.Listen("tcp://127.0.0.1:0"); err != nil {
		router.Close()
		tb.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			msg, err := router.Recv()
			if err != nil {
				return
			}
			if err := router.Send(msg); err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		router.Close()
		waitFor(tb, "gozmq4 ROUTER", served)
	})
	ep := "tcp://" + router.Addr().String()
	return func(p []byte) ([]byte, error) {
		d := gozmq.NewDealer(context.Background())
		defer d.Close()
		if err := d.Dial(ep); err != nil {
			return nil, err
		}
		if err := d.Send(gozmq.NewMsg(p)); err != nil {
			return nil, err
		}
		msg, err := d.Recv()
		if err != nil {
			return nil, err
		}
		if len(msg.Frames) != 1 {
			return nil, errors.New("echo is not a one-frame message")
		}
		return msg.Frames[0], nil
	}
}
