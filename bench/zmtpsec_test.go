package bench

// zmtpsec: transport.Listen and transport.Dial over TCP loopback. Socket
// patterns are the caller's in zmtpsec, so the ends here put on the wire
// exactly what libzmq's sockets of the same types put there: one frame for
// PUSH/PULL and DEALER/ROUTER, an empty delimiter and the payload for
// REQ/REP.

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var zmtpsecImpl = impl{
	name:      "zmtpsec",
	curve:     true,
	stream:    zmtpsecStream,
	reqrep:    zmtpsecReqRep,
	handshake: zmtpsecHandshake,
}

// zmtpsecConfigs returns the client and server configs for m.
func zmtpsecConfigs(tb testing.TB, m mech, clientType, serverType zmtp.SocketType) (client, server *transport.Config) {
	tb.Helper()
	client = &transport.Config{SocketType: clientType}
	server = &transport.Config{SocketType: serverType}
	if m.curve {
		skp, ckp := curveKeys(tb)
		cm, err := mechanism.CurveClient(skp.Public, ckp)
		if err != nil {
			tb.Fatal(err)
		}
		sm, err := mechanism.CurveServer(skp)
		if err != nil {
			tb.Fatal(err)
		}
		client.Mechanism, server.Mechanism = cm, sm
	}
	return client, server
}

// zmtpsecPair dials a listener and returns both Conns, handshaken.
func zmtpsecPair(tb testing.TB, ccfg, scfg *transport.Config) (client, server *transport.Conn) {
	tb.Helper()
	ln, err := transport.Listen("tcp://127.0.0.1:0", scfg)
	if err != nil {
		tb.Fatal(err)
	}
	server, err = zmtpsecAccept(tb, ln, func() error {
		var derr error
		client, derr = transport.Dial(ln.Endpoint(), ccfg)
		return derr
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	want := "NULL"
	if ccfg.Mechanism != nil {
		want = ccfg.Mechanism.Name()
	}
	for _, c := range []*transport.Conn{client, server} {
		if got := c.ConnectionState().Mechanism; got != want {
			tb.Fatalf("zmtpsec connection runs %s, want %s", got, want)
		}
	}
	return client, server
}

// zmtpsecAccept accepts one connection on ln and shakes hands on it while
// connect runs, then closes ln. The accepted Conn is closed at Cleanup.
func zmtpsecAccept(tb testing.TB, ln *transport.Listener, connect func() error) (*transport.Conn, error) {
	tb.Helper()
	type accepted struct {
		c   *transport.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			if err = c.Handshake(); err != nil {
				c.Close()
			}
		}
		ch <- accepted{c, err}
	}()
	cerr := connect()
	if cerr != nil {
		ln.Close() // unblocks Accept
	}
	a := <-ch
	ln.Close()
	if a.err == nil {
		tb.Cleanup(func() { a.c.Close() })
	}
	if cerr != nil {
		return nil, fmt.Errorf("connect: %w", cerr)
	}
	if a.err != nil {
		return nil, fmt.Errorf("accept: %w", a.err)
	}
	return a.c, nil
}

// zmtpsecEnd sends and receives through c. With envelope, each message is
// an empty delimiter frame and the payload (REQ/REP on the wire).
func zmtpsecEnd(c *transport.Conn, envelope bool) end {
	var out, in [][]byte
	slot := 0
	if envelope {
		out = [][]byte{{}, nil}
		slot = 1
	} else {
		out = [][]byte{nil}
	}
	return end{
		send: func(p []byte) error {
			out[slot] = p
			return c.WriteMessage(out)
		},
		recv: func() ([]byte, error) {
			var err error
			if in, err = c.ReadMessage(in); err != nil {
				return nil, err
			}
			if len(in) != slot+1 || (envelope && len(in[0]) != 0) {
				return nil, fmt.Errorf("got a %d-frame message, want %d frames", len(in), slot+1)
			}
			return in[slot], nil
		},
	}
}

func zmtpsecStream(tb testing.TB, m mech) link {
	ccfg, scfg := zmtpsecConfigs(tb, m, zmtp.PUSH, zmtp.PULL)
	c, s := zmtpsecPair(tb, ccfg, scfg)
	return link{
		client: zmtpsecEnd(c, false),
		server: zmtpsecEnd(s, false),
		abort:  func() { c.Close(); s.Close() },
	}
}

func zmtpsecReqRep(tb testing.TB, m mech) link {
	ccfg, scfg := zmtpsecConfigs(tb, m, zmtp.REQ, zmtp.REP)
	c, s := zmtpsecPair(tb, ccfg, scfg)
	return link{
		client: zmtpsecEnd(c, true),
		server: zmtpsecEnd(s, true),
		abort:  func() { c.Close(); s.Close() },
	}
}

// zmtpsecHandshake serves a ROUTER-like echo: every accepted connection
// shakes hands, echoes its first message and stays open until the client
// closes it, as a libzmq ROUTER keeps its peers. n is not needed: the
// listener serves until Cleanup.
func zmtpsecHandshake(tb testing.TB, m mech, n int) dialer {
	tb.Helper()
	ccfg, scfg := zmtpsecConfigs(tb, m, zmtp.DEALER, zmtp.ROUTER)
	ln, err := transport.Listen("tcp://127.0.0.1:0", scfg)
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu    sync.Mutex
		live  = map[*transport.Conn]struct{}{}
		conns sync.WaitGroup
	)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			live[c] = struct{}{}
			mu.Unlock()
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer func() {
					c.Close()
					mu.Lock()
					delete(live, c)
					mu.Unlock()
				}()
				msg, err := c.ReadMessage(nil)
				if err != nil {
					return
				}
				if err := c.WriteMessage(msg); err != nil {
					return
				}
				for err == nil {
					msg, err = c.ReadMessage(msg)
				}
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		waitFor(tb, "zmtpsec accept loop", acceptDone)
		mu.Lock()
		for c := range live {
			c.Close()
		}
		mu.Unlock()
		done := make(chan struct{})
		go func() { conns.Wait(); close(done) }()
		waitFor(tb, "zmtpsec server connections", done)
	})
	ep := ln.Endpoint()
	out := [][]byte{nil}
	var in [][]byte
	return func(p []byte) ([]byte, error) {
		c, err := transport.Dial(ep, ccfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		out[0] = p
		if err := c.WriteMessage(out); err != nil {
			return nil, err
		}
		if in, err = c.ReadMessage(in); err != nil {
			return nil, err
		}
		if len(in) != 1 {
			return nil, errors.New("echo is not a one-frame message")
		}
		return in[0], nil
	}
}
