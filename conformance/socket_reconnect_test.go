package conformance

// Reconnection against libzmq 4.3.4 (docs/sockets.md#reconnection): a peer
// that restarts on the same port is reconnected to and traffic resumes, with
// what was sent meanwhile on the connecting side; a connect before the peer
// exists connects when it appears; and after a failed handshake, a server
// that answered ERROR (ZAP 400) is not tried again while one that closed
// without a word is, unless StopReconnectOnHandshakeFailure says otherwise.
// Every case shows our events next to libzmq's monitor.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestSocketReconnect(t *testing.T) {
	var cases []sockCase
	for _, sec := range sockSecurities {
		cases = append(cases, sockCase{"libzmq-restarts-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			ev := newOurEvents()
			d, _ := e.ours(zmtp.DEALER, false, &socket.Options{Events: ev.ch})
			lib := e.peer(d, "", zmq.DEALER, nil)
			ep, err := lib.GetLastEndpoint()
			must(t, err)
			libSend(t, lib, strMsg("one")...)
			ourExpect(t, d, strMsg("one")...)
			ourSend(t, d, strMsg("back")...)
			libExpect(t, lib, strMsg("back")...)

			must(t, lib.Close())
			if _, seen, ok := ev.waitFor(socket.EventDisconnected, stepTimeout); !ok {
				t.Fatalf("our DEALER: no EventDisconnected after libzmq closed:%s", eventList(seen))
			}
			// A connecting socket keeps its queue across reconnections.
			ourSend(t, d, strMsg("while down")...)
			lib2 := e.libServer(zmq.DEALER)
			rebind(t, lib2.Bind, ep)
			libExpect(t, lib2, strMsg("while down")...)
			libSend(t, lib2, strMsg("two")...)
			ourExpect(t, d, strMsg("two")...)

			after := ev.collect(50 * time.Millisecond)
			checkKinds(t, "our DEALER after the restart", after, socket.EventConnectRetried,
				socket.EventConnectDelayed, socket.EventConnected, socket.EventHandshakeSucceeded)
			if n := countKind(after, socket.EventHandshakeSucceeded); n != 1 {
				t.Errorf("our DEALER: %d handshakes after the restart, want 1:%s", n, eventList(after))
			}
			e.checkZAPOnce(t, false, 2)
		}})
		cases = append(cases, sockCase{"ours-restarts-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			d1, ep := e.ours(zmtp.DEALER, true, nil)
			var mon *libMonitor
			lib := e.peer(d1, ep, zmq.DEALER, func(s *zmq.Socket) {
				mon = e.lib.monitor(s, zmq.EVENT_DISCONNECTED|zmq.EVENT_HANDSHAKE_SUCCEEDED)
			})
			libSend(t, lib, strMsg("one")...)
			ourExpect(t, d1, strMsg("one")...)

			must(t, d1.Close())
			if _, seen, ok := mon.waitFor(zmq.EVENT_DISCONNECTED, stepTimeout); !ok {
				t.Fatalf("libzmq DEALER: no DISCONNECTED after our socket closed: %v", seen)
			}
			libSend(t, lib, strMsg("while down")...)
			d2 := e.ourSocket(zmtp.DEALER, true, nil)
			rebind(t, d2.Bind, ep)
			ourExpect(t, d2, strMsg("while down")...)
			ourSend(t, d2, strMsg("two")...)
			libExpect(t, lib, strMsg("two")...)
			if _, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, stepTimeout); !ok {
				t.Errorf("libzmq DEALER: no second HANDSHAKE_SUCCEEDED: %v", seen)
			}
			e.checkZAPOnce(t, true, 2)
		}})
		cases = append(cases, sockCase{"our-connect-first-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			ep := freeEndpoint(t)
			ev := newOurEvents()
			push := e.ourSocket(zmtp.PUSH, false, &socket.Options{Events: ev.ch})
			ourConnect(t, push, ep)
			for i := range 3 {
				ourSend(t, push, []byte(fmt.Sprint(i)))
			}
			if _, seen, ok := ev.waitFor(socket.EventConnectRetried, stepTimeout); !ok {
				t.Fatalf("our PUSH: no EventConnectRetried while nobody listens:%s", eventList(seen))
			}
			pull := e.libServer(zmq.PULL)
			rebind(t, pull.Bind, ep)
			for i := range 3 {
				libExpect(t, pull, []byte(fmt.Sprint(i)))
			}
			if _, seen, ok := ev.waitFor(socket.EventHandshakeSucceeded, stepTimeout); !ok {
				t.Errorf("our PUSH: no EventHandshakeSucceeded:%s", eventList(seen))
			}
		}})
		cases = append(cases, sockCase{"libzmq-connects-first-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			ep := freeEndpoint(t)
			push := e.libClient(zmq.PUSH)
			must(t, push.Connect(ep))
			for i := range 3 {
				libSend(t, push, []byte(fmt.Sprint(i)))
			}
			time.Sleep(150 * time.Millisecond) // a retry or two
			pull := e.ourSocket(zmtp.PULL, true, nil)
			rebind(t, pull.Bind, ep)
			for i := range 3 {
				ourExpect(t, pull, []byte(fmt.Sprint(i)))
			}
		}})
	}
	sockRun(t, cases)
}

// zapStatus answers every ZAP request with status (libzmq's handler).
func zapStatus(status string) func([][]byte) zapAnswer {
	return func([][]byte) zapAnswer { return zapAnswer{Status: status, Text: "scripted"} }
}

func TestSocketHandshakeFailure(t *testing.T) {
	// window is how long a case watches for retries.
	const window = time.Second
	var cases []sockCase
	for _, sec := range sockSecurities {
		// libzmq's server answers ZAP 400 with ERROR "400": our client
		// reports the status and gives up, as a libzmq client does.
		cases = append(cases, sockCase{"libzmq-server-ZAP-400-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			e.libZAP = e.lib.zap(zapStatus("400"))
			srv := e.libServer(zmq.DEALER)
			must(t, srv.SetZapDomain(sockZAPDomain)) // NULL asks ZAP only with a domain
			ev := newOurEvents()
			d := e.ourSocket(zmtp.DEALER, false, &socket.Options{Events: ev.ch})
			ourConnect(t, d, e.lib.bind(srv))
			failed, seen, ok := ev.waitFor(socket.EventHandshakeFailed, stepTimeout)
			if !ok {
				t.Fatalf("our DEALER: no EventHandshakeFailed:%s", eventList(seen))
			}
			var refused *transport.ServerRefusedError
			if failed.Status() != 400 || !errors.As(failed.Err, &refused) {
				t.Errorf("EventHandshakeFailed: status %d, error %v; want 400, a *transport.ServerRefusedError", failed.Status(), failed.Err)
			}
			rest := ev.collect(window)
			if len(rest) == 0 || rest[0].Kind != socket.EventConnectStopped {
				t.Errorf("our DEALER after the refusal:%s\nwant EventConnectStopped and nothing else", eventList(rest))
			}
			for _, k := range []socket.EventKind{socket.EventConnectDelayed, socket.EventConnectRetried, socket.EventConnected} {
				if n := countKind(rest, k); n != 0 {
					t.Errorf("our DEALER tried again after ZAP 400:%s", eventList(rest))
					break
				}
			}
			if n := e.libZAP.calls.Load(); n != 1 {
				t.Errorf("libzmq's ZAP handler was asked %d times in %v; want 1 (no retry)", n, window)
			}
		}})
		// The reverse: our server answers ZAP 400; libzmq's client sees
		// HANDSHAKE_FAILED_AUTH 400 and does not try again.
		cases = append(cases, sockCase{"our-server-ZAP-400-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			zh := recordZAP(fixedZAP(400))
			ev := newOurEvents()
			opts := &socket.Options{Events: ev.ch}
			opts.ZAPHandler, opts.ZAPDomain = zh, sockZAPDomain
			srv, ep := e.ours(zmtp.DEALER, true, opts)
			var mon *libMonitor
			e.peer(srv, ep, zmq.DEALER, func(s *zmq.Socket) { mon = e.lib.monitor(s, connEvents) })
			auth, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_AUTH, stepTimeout)
			if !ok || auth.Value != 400 {
				t.Fatalf("libzmq client: %v; want HANDSHAKE_FAILED_AUTH(400)", seen)
			}
			seen = append(seen, mon.collect(window)...)
			if n := countEvents(seen, zmq.EVENT_CONNECTED); n != 1 {
				t.Errorf("libzmq client: %d connections in %v, want 1: %v", n, window, seen)
			}
			if n := zh.calls.Load(); n != 1 {
				t.Errorf("our ZAP handler was asked %d times; want 1", n)
			}
			ours := ev.collect(50 * time.Millisecond)
			var failed []socket.Event
			for _, e := range ours {
				if e.Kind == socket.EventHandshakeFailed {
					failed = append(failed, e)
				}
			}
			if len(failed) != 1 || failed[0].Status() != 400 {
				t.Errorf("our DEALER:%s\nwant one EventHandshakeFailed with status 400", eventList(ours))
			}
		}})
	}
	// A wrong server key: libzmq's server cannot open the HELLO and closes
	// without a word; ZAP is never asked. Our client tries again at the
	// reconnect interval, as libzmq's does, unless told to stop.
	for _, stop := range []bool{false, true} {
		name := "libzmq-server-wrong-key"
		if stop {
			name += "-stop"
		}
		cases = append(cases, sockCase{name, func(t *testing.T) {
			e := newSockEnv(t, true)
			srv := e.libServer(zmq.DEALER)
			mon := e.lib.monitor(srv, zmq.EVENT_ACCEPTED|handshakeEvents)
			ep := e.lib.bind(srv)
			m, err := mechanism.CurveClient(testkeys.New(t).Public, e.cli)
			must(t, err)
			ev := newOurEvents()
			opts := &socket.Options{Events: ev.ch, StopReconnectOnHandshakeFailure: stop}
			opts.Mechanism = m
			d := e.ourSocket(zmtp.DEALER, false, opts)
			ourConnect(t, d, ep)
			lib := mon.collect(window)
			ours := ev.collect(50 * time.Millisecond)
			accepted := countEvents(lib, zmq.EVENT_ACCEPTED)
			failed := countKind(ours, socket.EventHandshakeFailed)
			retried := countKind(ours, socket.EventConnectRetried)
			stopped := countKind(ours, socket.EventConnectStopped)
			if stop {
				if accepted != 1 || failed != 1 || retried != 0 || stopped != 1 {
					t.Errorf("StopReconnectOnHandshakeFailure: libzmq accepted %d connections in %v, we saw%s\nwant 1 attempt, one failure, EventConnectStopped", accepted, window, eventList(ours))
				}
			} else if accepted < 3 || failed < 2 || retried < 2 || stopped != 0 {
				t.Errorf("libzmq accepted %d connections in %v, we saw%s\nwant 3 or more attempts, retried", accepted, window, eventList(ours))
			}
			if countEvents(lib, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0 {
				t.Errorf("libzmq server: %v; want HANDSHAKE_FAILED_PROTOCOL (cryptographic)", lib)
			}
			if n := e.libZAP.calls.Load(); n != 0 {
				t.Errorf("libzmq's ZAP handler was asked %d times; want 0", n)
			}
		}})
	}
	// The reference for the case above: libzmq's client with a wrong server
	// key retries against our server, which closes without a word too.
	cases = append(cases, sockCase{"libzmq-client-wrong-key", func(t *testing.T) {
		e := newSockEnv(t, true)
		ev := newOurEvents()
		_, ep := e.ours(zmtp.DEALER, true, &socket.Options{Events: ev.ch})
		cli := e.lib.curveClient(zmq.DEALER, testkeys.New(t).Public.String(), e.cli.Public.String(), e.cli.Secret.Z85())
		must(t, cli.Connect(ep))
		ours := ev.collect(window)
		if n := countKind(ours, socket.EventAccepted); n < 3 {
			t.Errorf("our server accepted %d connections in %v; want 3 or more (libzmq retries)", n, window)
		}
		if n := countKind(ours, socket.EventHandshakeFailed); n < 2 {
			t.Errorf("our server: %d failed handshakes:%s", n, eventList(ours))
		}
		if n := e.ourZAP.calls.Load(); n != 0 {
			t.Errorf("our ZAP handler was asked %d times; want 0", n)
		}
	}})
	sockRun(t, cases)
}
