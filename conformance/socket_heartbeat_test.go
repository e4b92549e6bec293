package conformance

// Heartbeats on the socket layer against libzmq 4.3.4
// (docs/sockets.md#heartbeats): each connection has its own reader, so PINGs
// are answered while the application is not receiving, and a libzmq peer
// with HEARTBEAT_IVL 100 ms and HEARTBEAT_TIMEOUT 300 ms stays connected;
// our own HeartbeatInterval detects a libzmq peer that went silent (behind a
// proxy that swallows everything), after which the socket reconnects; and a
// connection whose incoming queue stays full is not taken for dead, where
// libzmq drops it.

import (
	"errors"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

const (
	sockHBInterval = 100 * time.Millisecond
	sockHBTimeout  = 300 * time.Millisecond
	// sockHBQuiet is how long our application does not receive.
	sockHBQuiet = 1500 * time.Millisecond
)

func TestSocketHeartbeats(t *testing.T) {
	cases := sockMatrixCases("libzmq-pings-we-do-not-recv", func(t *testing.T, e *sockEnv, ourBind bool) {
		d, ep := e.ours(zmtp.DEALER, ourBind, nil)
		var mon *libMonitor
		lib := e.peer(d, ep, zmq.DEALER, func(s *zmq.Socket) {
			must(t, s.SetHeartbeatIvl(sockHBInterval))
			must(t, s.SetHeartbeatTimeout(sockHBTimeout))
			mon = e.lib.monitor(s, zmq.EVENT_DISCONNECTED|zmq.EVENT_HANDSHAKE_SUCCEEDED)
		})
		if _, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, stepTimeout); !ok {
			t.Fatalf("libzmq: no handshake: %v", seen)
		}
		for _, m := range []string{"a", "b", "c"} {
			libSend(t, lib, []byte(m))
		}
		// Our application does not call Recv meanwhile.
		if es := mon.collect(sockHBQuiet); countEvents(es, zmq.EVENT_DISCONNECTED) != 0 {
			t.Errorf("libzmq with heartbeats, our application not receiving for %v: %v; want no DISCONNECTED", sockHBQuiet, es)
		}
		for _, m := range []string{"a", "b", "c"} {
			ourExpect(t, d, []byte(m))
		}
		ourSend(t, d, []byte("after"))
		libExpect(t, lib, []byte("after"))
		e.checkZAPOnce(t, ourBind, 1)
	})
	cases = append(cases, sockMatrixCases("ours-detects-silence", func(t *testing.T, e *sockEnv, ourBind bool) {
		ev := newOurEvents()
		opts := &socket.Options{Events: ev.ch}
		opts.HeartbeatInterval = sockHBInterval
		opts.HeartbeatTimeout = sockHBTimeout
		d, ep := e.ours(zmtp.DEALER, ourBind, opts)
		var lib *zmq.Socket
		var px *recProxy
		if ourBind {
			px = startProxy(t, ep)
			lib = e.libClient(zmq.DEALER)
			must(t, lib.Connect(px.endpoint))
		} else {
			lib = e.libServer(zmq.DEALER)
			px = startProxy(t, e.lib.bind(lib))
			ourConnect(t, d, px.endpoint)
		}
		libSend(t, lib, []byte("one"))
		ourExpect(t, d, []byte("one"))

		px.blackhole(true)
		start := time.Now()
		gone, seen, ok := ev.waitFor(socket.EventDisconnected, stepTimeout)
		if !ok {
			t.Fatalf("our DEALER, peer silent: no EventDisconnected:%s", eventList(seen))
		}
		if !errors.Is(gone.Err, transport.ErrHeartbeatTimeout) {
			t.Errorf("EventDisconnected after %v of silence: %v; want ErrHeartbeatTimeout", time.Since(start), gone.Err)
		}
		px.blackhole(false)
		// The connecting side, ours or libzmq's, connects again.
		if _, seen, ok := ev.waitFor(socket.EventHandshakeSucceeded, stepTimeout); !ok {
			t.Fatalf("our DEALER: no new connection after the silence:%s", eventList(seen))
		}
		ourSend(t, d, []byte("after"))
		libExpect(t, lib, []byte("after"))
	})...)
	// A full incoming queue: at RecvHWM our reader stops reading, as
	// libzmq's I/O thread does, so libzmq's PINGs wait unread; our PINGs
	// still go out and keep the libzmq peer's timeout satisfied, and our
	// own timeout counts the pause as ours (transport.Conn.SetReadPaused).
	// The connection stays up and nothing is lost. libzmq's PULL in the
	// same place times its peer out and drops the connection, with what
	// was in flight (docs/sockets.md#heartbeats).
	cases = append(cases, sockMatrixCases("full-queue-ours-stays", func(t *testing.T, e *sockEnv, ourBind bool) {
		ev := newOurEvents()
		opts := &socket.Options{RecvHWM: hwmSmall, Events: ev.ch}
		opts.HeartbeatInterval = sockHBInterval
		opts.HeartbeatTimeout = sockHBTimeout
		pull, ep := e.ours(zmtp.PULL, ourBind, opts)
		var mon *libMonitor
		push := e.peer(pull, ep, zmq.PUSH, func(s *zmq.Socket) {
			must(t, s.SetSndhwm(hwmSmall))
			must(t, s.SetHeartbeatIvl(sockHBInterval))
			must(t, s.SetHeartbeatTimeout(sockHBTimeout))
			mon = e.lib.monitor(s, zmq.EVENT_DISCONNECTED)
		})
		waitPeers(t, pull, 1)
		// Send for sockHBQuiet: the queues fill at once and stay full.
		send := libHWMSend(t, push)
		must(t, push.SetSndtimeo(10*time.Millisecond))
		n := sendFor(sockHBQuiet, send)
		if es := mon.collect(100 * time.Millisecond); len(es) != 0 {
			t.Errorf("libzmq PUSH with heartbeats, our PULL's queue full: %v; want no DISCONNECTED", es)
		}
		if got := ev.collect(0); countKind(got, socket.EventDisconnected) != 0 {
			t.Errorf("our PULL with heartbeats, its queue full:%s\nwant no EventDisconnected", eventList(got))
		}
		drainInOrder(t, "our PULL", n, func() [][]byte { return ourRecv(t, pull) },
			func() { ourNothing(t, pull, 100*time.Millisecond) })
	})...)
	for _, sec := range sockSecurities {
		cases = append(cases, sockCase{"full-queue-libzmq-drops-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			pull := e.libServer(zmq.PULL)
			push := e.libClient(zmq.PUSH)
			for _, s := range []*zmq.Socket{pull, push} {
				must(t, s.SetSndhwm(hwmSmall))
				must(t, s.SetRcvhwm(hwmSmall))
				must(t, s.SetHeartbeatIvl(sockHBInterval))
				must(t, s.SetHeartbeatTimeout(sockHBTimeout))
			}
			mon := e.lib.monitor(push, zmq.EVENT_DISCONNECTED)
			must(t, push.Connect(e.lib.bind(pull)))
			send := libHWMSend(t, push)
			must(t, push.SetSndtimeo(10*time.Millisecond))
			sendFor(sockHBQuiet, send)
			if es := mon.collect(100 * time.Millisecond); len(es) == 0 {
				t.Errorf("libzmq PUSH and PULL with heartbeats, the PULL's queue full for %v: no DISCONNECTED; has libzmq changed?", sockHBQuiet)
			}
		}})
	}
	sockRun(t, cases)
}
