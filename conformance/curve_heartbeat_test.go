package conformance

// Heartbeats across CURVE: PING and PONG travel inside MESSAGE boxes with
// the inner COMMAND flag (docs/libzmq-behaviour.md#heartbeats). A libzmq peer with
// HEARTBEAT_IVL 100 ms and HEARTBEAT_TIMEOUT 300 ms must stay connected to
// us for 1.5 s of application silence while our side reads, and our own
// HeartbeatInterval must be answered by libzmq.

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

const (
	curveHBInterval = 100 * time.Millisecond
	curveHBTimeout  = 300 * time.Millisecond
	curveHBQuiet    = 1500 * time.Millisecond
	// curveHBFrame is the wire size of a PING (TTL, no context) in a
	// MESSAGE: 2-byte header, MESSAGE name, nonce and tag (32 bytes),
	// the inner flags byte and the 7-byte PING body.
	curveHBFrame int64 = 2 + int64(mechanism.MessageOverhead) + 7
)

// curveCountConn counts the bytes that cross a net.Conn.
type curveCountConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *curveCountConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func (c *curveCountConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

// curveCountListener hands out counting connections.
type curveCountListener struct {
	net.Listener
	conns chan *curveCountConn
}

func (l *curveCountListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &curveCountConn{Conn: c}
	select {
	case l.conns <- cc:
	default:
	}
	return cc, nil
}

// TestCurveHeartbeats is deliberately not parallel with the rest of the
// suite: its four cases run together, alone, so that a loaded machine does
// not stretch a 300 ms timeout.
func TestCurveHeartbeats(t *testing.T) {
	cases := []struct {
		name string
		// ourClient: our side dials a libzmq server; else a libzmq client
		// connects to our server.
		ourClient bool
		// libzmqHB: the libzmq peer sends heartbeats; else we do.
		libzmqHB bool
	}{
		{"libzmq-client-heartbeats", false, true},
		{"libzmq-server-heartbeats", true, true},
		{"our-client-heartbeats", true, false},
		{"our-server-heartbeats", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srvKeys, cliKeys := docServer(t), docClient(t)
			lib := newZMQLib(t)
			var cfg *transport.Config
			if tc.ourClient {
				cfg = curveClientConfig(t, srvKeys.Public, cliKeys, zmtp.DEALER)
			} else {
				cfg = curveServerConfig(t, srvKeys, zmtp.DEALER)
			}
			if !tc.libzmqHB {
				// Our PINGs go every 100 ms like libzmq's; our timeout is
				// longer than libzmq's 300 ms so that a starved test process
				// does not end the connection. (Our timeout itself is tested
				// by TestCurveHeartbeatSilentPeer.)
				cfg.HeartbeatInterval = curveHBInterval
				cfg.HeartbeatTimeout = time.Second
				cfg.HeartbeatTTL = time.Second
			}
			var peer *zmq.Socket
			if tc.ourClient {
				peer = lib.curveServer(zmq.DEALER, srvKeys)
			} else {
				peer = lib.curveClient(zmq.DEALER, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
			}
			if tc.libzmqHB {
				must(t, peer.SetHeartbeatIvl(curveHBInterval))
				must(t, peer.SetHeartbeatTimeout(curveHBTimeout))
			}
			mon := lib.monitor(peer, zmq.EVENT_DISCONNECTED|zmq.EVENT_CONNECTED|zmq.EVENT_ACCEPTED|handshakeEvents)

			var (
				c       *transport.Conn
				counter *curveCountConn
				accepts func() int
			)
			if tc.ourClient {
				ep := lib.bind(peer)
				nc, err := net.Dial("tcp", ep[len("tcp://"):])
				if err != nil {
					t.Fatal(err)
				}
				counter = &curveCountConn{Conn: nc}
				c = transport.Client(counter, cfg)
				if err := c.Handshake(); err != nil {
					t.Fatalf("our client: %v", err)
				}
				accepts = func() int { return 1 }
			} else {
				nl, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				cl := &curveCountListener{Listener: nl, conns: make(chan *curveCountConn, 16)}
				ln, err := transport.NewListener(cl, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				must(t, peer.Connect(ln.Endpoint()))
				if c, err = ln.Accept(); err != nil {
					t.Fatal(err)
				}
				if err := c.Handshake(); err != nil {
					t.Fatalf("our server: %v", err)
				}
				counter = <-cl.conns
				accepts = func() int { return 1 + len(cl.conns) }
				// A reconnect would show up as another Accept.
				go func() {
					for {
						extra, err := ln.Accept()
						if err != nil {
							return
						}
						extra.Close()
					}
				}()
			}
			defer c.Close()

			// Application silence, while our side keeps reading.
			r := readLoop(c)
			read0, written0 := counter.read.Load(), counter.written.Load()
			select {
			case m, ok := <-r.msgs:
				if ok {
					t.Fatalf("our side read %q during the quiet period", m)
				}
				t.Fatalf("our connection failed during the quiet period: %v", <-r.done)
			case <-time.After(curveHBQuiet):
			}
			read, written := counter.read.Load()-read0, counter.written.Load()-written0
			es := mon.collect(10 * time.Millisecond)
			if n := countEvents(mon.seen, zmq.EVENT_DISCONNECTED); n != 0 {
				t.Errorf("libzmq monitor: %v; want no DISCONNECTED", mon.seen)
			}
			if n := accepts(); n != 1 {
				t.Errorf("our server saw %d connections; want 1", n)
			}
			// At least 5 PINGs (one per 100 ms for 1.5 s) one way and as
			// many PONGs the other way, each a MESSAGE of about 42 bytes.
			pings, pongs := read, written
			if !tc.libzmqHB {
				pings, pongs = written, read
			}
			if pings < 5*curveHBFrame || pongs < 5*(curveHBFrame-2) {
				t.Errorf("during %v of silence: %d bytes of PING and %d of PONG; want at least 5 of each", curveHBQuiet, pings, pongs)
			}
			t.Logf("quiet %v: our side read %d bytes and wrote %d (about %d heartbeat frames each way); libzmq events %v",
				curveHBQuiet, read, written, pings/curveHBFrame, es)

			// The connection still carries messages both ways.
			if _, err := peer.SendMessage("still", "there"); err != nil {
				t.Fatal(err)
			}
			if m := r.next(t, 3*time.Second); !equalMsg(m, strMsg("still", "there")) {
				t.Errorf("our side got %q", m)
			}
			if err := c.WriteMessage(strMsg("and", "back")); err != nil {
				t.Fatal(err)
			}
			if m, err := peer.RecvMessage(0); err != nil || len(m) != 2 || m[0] != "and" || m[1] != "back" {
				t.Errorf("libzmq got %q, %v", m, err)
			}
		})
	}
}

// TestCurveHeartbeatSilentPeer: a peer that completes the CURVE handshake
// and then never answers PING (our server, whose application never reads)
// must be dropped about HEARTBEAT_TIMEOUT after the first unanswered PING.
// libzmq does so, and so does our client, whether its interval equals its
// timeout or is shorter.
func TestCurveHeartbeatSilentPeer(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), docClient(t)
	// silentServer accepts one connection, completes its handshake and
	// never reads again.
	silentServer := func(t *testing.T) string {
		ln, err := transport.Listen("tcp://127.0.0.1:0", curveServerConfig(t, srvKeys, zmtp.DEALER))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			c.Handshake()
		}()
		return ln.Endpoint()
	}
	t.Run("libzmq-client", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		cli := lib.curveClient(zmq.DEALER, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
		must(t, cli.SetHeartbeatIvl(curveHBInterval))
		must(t, cli.SetHeartbeatTimeout(curveHBTimeout))
		must(t, cli.SetReconnectIvl(-1))
		mon := lib.monitor(cli, zmq.EVENT_DISCONNECTED|zmq.EVENT_HANDSHAKE_SUCCEEDED)
		must(t, cli.Connect(silentServer(t)))
		if _, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, 2*time.Second); !ok {
			t.Fatalf("libzmq monitor %v", seen)
		}
		start := time.Now()
		if _, seen, ok := mon.waitFor(zmq.EVENT_DISCONNECTED, 2*time.Second); !ok {
			t.Fatalf("libzmq did not drop the silent peer within 2 s: %v", seen)
		}
		t.Logf("libzmq (IVL %v, TIMEOUT %v) dropped the silent peer %v after its handshake", curveHBInterval, curveHBTimeout, time.Since(start).Round(time.Millisecond))
	})
	ours := func(t *testing.T, ivl, timeout time.Duration) {
		cfg := curveClientConfig(t, srvKeys.Public, cliKeys, zmtp.DEALER)
		cfg.HeartbeatInterval, cfg.HeartbeatTimeout = ivl, timeout
		c, err := transport.Dial(silentServer(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		r := readLoop(c)
		select {
		case err := <-r.done:
			if !errors.Is(err, transport.ErrHeartbeatTimeout) {
				t.Fatalf("our client: %v; want ErrHeartbeatTimeout", err)
			}
			t.Logf("our client (IVL %v, TIMEOUT %v) dropped the silent peer after %v", ivl, timeout, time.Since(start).Round(time.Millisecond))
		case <-time.After(2 * time.Second):
			t.Fatalf("our client (IVL %v, TIMEOUT %v) did not drop the silent peer within 2 s", ivl, timeout)
		}
	}
	t.Run("ours-interval-equals-timeout", func(t *testing.T) {
		t.Parallel()
		ours(t, curveHBTimeout, curveHBTimeout)
	})
	t.Run("ours-interval-below-timeout", func(t *testing.T) {
		t.Parallel()
		ours(t, curveHBInterval, curveHBTimeout)
	})
}
