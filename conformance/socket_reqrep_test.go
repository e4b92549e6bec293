package conformance

// REQ/REP of the socket layer against libzmq 4.3.4 (docs/sockets.md#req,
// docs/sockets.md#rep): our REQ with libzmq REPs and libzmq REQs with our
// REPs, strict alternation, round-robin over several REPs, the REP envelope
// stack and REQ_CORRELATE's request ids, for NULL and CURVE with ZAP, with
// our socket binding and connecting.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// prefixReply answers a request with its frames, the first prefixed with
// prefix.
func prefixReply(prefix string) func([][]byte) [][]byte {
	return func(msg [][]byte) [][]byte {
		out := appendParts(nil, msg...)
		out[0] = append([]byte(prefix), msg[0]...)
		return out
	}
}

func TestSocketReqRep(t *testing.T) {
	cases := sockMatrixCases("our-REQ", func(t *testing.T, e *sockEnv, ourBind bool) {
		req, ep := e.ours(zmtp.REQ, ourBind, nil)
		rep := e.peer(req, ep, zmq.REP, nil)
		libServe(t, rep, prefixReply("re:"))
		for i := range 3 {
			body := strMsg(fmt.Sprintf("hello %d", i), "second frame", "")
			ourSend(t, req, body...)
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			err := req.Send(ctx, strMsg("out of turn"))
			cancel()
			if !errors.Is(err, socket.ErrState) {
				t.Fatalf("our REQ: a second Send before the reply: %v, want ErrState", err)
			}
			ourExpect(t, req, appendParts(strMsg("re:"+string(body[0])), body[1:]...)...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if _, err := req.Recv(ctx); !errors.Is(err, socket.ErrState) {
			t.Errorf("our REQ: Recv with no request: %v, want ErrState", err)
		}
		e.checkZAPOnce(t, ourBind, 1)
	})
	cases = append(cases, sockMatrixCases("our-REP", func(t *testing.T, e *sockEnv, ourBind bool) {
		rep, ep := e.ours(zmtp.REP, ourBind, nil)
		req := e.peer(rep, ep, zmq.REQ, nil)
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if err := rep.Send(ctx, strMsg("unasked")); !errors.Is(err, socket.ErrState) {
			t.Errorf("our REP: Send before a request: %v, want ErrState", err)
		}
		for i := range 3 {
			body := strMsg(fmt.Sprintf("request %d", i), "", "tail")
			libSend(t, req, body...)
			ourExpect(t, rep, body...)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_, err := rep.Recv(ctx)
			cancel()
			if !errors.Is(err, socket.ErrState) {
				t.Fatalf("our REP: Recv while a reply is owed: %v, want ErrState", err)
			}
			ourSend(t, rep, []byte(fmt.Sprintf("reply %d", i)), []byte("x"))
			libExpect(t, req, []byte(fmt.Sprintf("reply %d", i)), []byte("x"))
		}
		e.checkZAPOnce(t, ourBind, 1)
	})...)
	sockRun(t, cases)
}

// A REQ sends its requests round-robin over its peers (lb): with three
// REPs the replies come from each in turn. Our REQ over three libzmq REPs,
// and libzmq's REQ over three of ours for reference.
func TestSocketReqRoundRobin(t *testing.T) {
	const nrep = 3
	// cyclic checks that six replies name three distinct REPs in turn.
	cyclic := func(t *testing.T, who string, from []string) {
		t.Helper()
		ok := from[0] != from[1] && from[1] != from[2] && from[0] != from[2]
		for i := nrep; i < len(from); i++ {
			ok = ok && from[i] == from[i-nrep]
		}
		if !ok {
			t.Errorf("%s: replies came from %q; want %d REPs in turn", who, from, nrep)
		}
	}
	cases := sockMatrixCases("our-REQ", func(t *testing.T, e *sockEnv, ourBind bool) {
		req, ep := e.ours(zmtp.REQ, ourBind, nil)
		for i := range nrep {
			rep := e.peer(req, ep, zmq.REP, nil)
			name := fmt.Sprintf("rep%d", i)
			libServe(t, rep, func([][]byte) [][]byte { return strMsg(name) })
		}
		if ourBind {
			waitPeers(t, req, nrep)
		}
		var from []string
		for i := range 2 * nrep {
			ourSend(t, req, []byte(fmt.Sprintf("q%d", i)))
			from = append(from, string(ourRecv(t, req)[0]))
		}
		cyclic(t, "our REQ", from)
	})
	cases = append(cases, sockMatrixCases("libzmq-REQ", func(t *testing.T, e *sockEnv, ourBind bool) {
		var req *zmq.Socket
		var reqEP string
		if !ourBind {
			req = e.libServer(zmq.REQ)
			reqEP = e.lib.bind(req)
		} else {
			req = e.libClient(zmq.REQ)
		}
		for i := range nrep {
			rep := e.ourSocket(zmtp.REP, ourBind, nil)
			if ourBind {
				must(t, req.Connect(ourListen(t, rep)))
			} else {
				ourConnect(t, rep, reqEP)
				waitPeers(t, rep, 1)
			}
			ourServe(t, rep, strMsg(fmt.Sprintf("rep%d", i)))
		}
		if !ourBind {
			// A bound libzmq socket attaches its new pipes only when its
			// application calls into it.
			pumping(req, func() { time.Sleep(100 * time.Millisecond) })
		}
		var from []string
		for i := range 2 * nrep {
			libSend(t, req, []byte(fmt.Sprintf("q%d", i)))
			from = append(from, string(libRecv(t, req)[0]))
		}
		cyclic(t, "libzmq REQ", from)
	})...)
	sockRun(t, cases)
}

// ourServe answers, in a goroutine, every request s receives with reply
// until the test ends.
func ourServe(t *testing.T, s *socket.Socket, reply [][]byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := s.Recv(ctx); err != nil {
				if ctx.Err() == nil {
					t.Errorf("our %s: Recv: %v", s.Type(), err)
				}
				return
			}
			if err := s.Send(ctx, appendParts(nil, reply...)); err != nil {
				if ctx.Err() == nil {
					t.Errorf("our %s: Send: %v", s.Type(), err)
				}
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// Envelopes: a REP hands the application only what follows the first empty
// frame and sends the reply back behind the same envelope; a request
// without a delimiter is dropped and the connection stays. REQ_CORRELATE
// puts a 4-byte request id, in host byte order and one more per request,
// before the delimiter (docs/sockets.md#req).
func TestSocketReqEnvelopes(t *testing.T) {
	cases := sockMatrixCases("our-REP-hops", func(t *testing.T, e *sockEnv, ourBind bool) {
		rep, ep := e.ours(zmtp.REP, ourBind, nil)
		dealer := e.peer(rep, ep, zmq.DEALER, nil)
		libSend(t, dealer, strMsg("no delimiter")...)
		libSend(t, dealer, strMsg("h1", "no delimiter either")...)
		libSend(t, dealer, strMsg("h1", "h2", "", "body", "more")...)
		ourExpect(t, rep, strMsg("body", "more")...)
		ourSend(t, rep, strMsg("reply")...)
		libExpect(t, dealer, strMsg("h1", "h2", "", "reply")...)
		// The connection is still there.
		libSend(t, dealer, strMsg("", "again")...)
		ourExpect(t, rep, strMsg("again")...)
		ourSend(t, rep, strMsg("reply 2")...)
		libExpect(t, dealer, strMsg("", "reply 2")...)
	})
	cases = append(cases, sockMatrixCases("libzmq-REQ-correlate", func(t *testing.T, e *sockEnv, ourBind bool) {
		router, ep := e.ours(zmtp.ROUTER, ourBind, nil)
		req := e.peer(router, ep, zmq.REQ, func(s *zmq.Socket) { must(t, s.SetReqCorrelate(1)) })
		var last uint32
		for i := range 3 {
			libSend(t, req, strMsg(fmt.Sprintf("body %d", i))...)
			m := ourRecv(t, router)
			if len(m) != 4 || len(m[0]) != 5 || m[0][0] != 0 || len(m[1]) != 4 || len(m[2]) != 0 || string(m[3]) != fmt.Sprintf("body %d", i) {
				t.Fatalf("our ROUTER received %s; want [5-byte routing id, 4-byte request id, \"\", body]", shortMsg(m))
			}
			id := binary.NativeEndian.Uint32(m[1])
			if i > 0 && id != last+1 {
				t.Errorf("request id %#x after %#x; want one more, in host byte order", id, last)
			}
			last = id
			// A reply with another request id is skipped by the REQ.
			stale := binary.NativeEndian.AppendUint32(nil, id-1)
			ourSend(t, router, m[0], stale, nil, []byte("stale"))
			ourSend(t, router, m[0], m[1], nil, []byte(fmt.Sprintf("reply %d", i)))
			libExpect(t, req, []byte(fmt.Sprintf("reply %d", i)))
		}
	})...)
	cases = append(cases, sockMatrixCases("our-REQ-correlate", func(t *testing.T, e *sockEnv, ourBind bool) {
		req, ep := e.ours(zmtp.REQ, ourBind, &socket.Options{ReqCorrelate: true})
		router := e.peer(req, ep, zmq.ROUTER, nil)
		var last uint32
		for i := range 3 {
			ourSend(t, req, []byte(fmt.Sprintf("body %d", i)))
			m := libRecv(t, router)
			if len(m) != 4 || len(m[1]) != 4 || len(m[2]) != 0 || string(m[3]) != fmt.Sprintf("body %d", i) {
				t.Fatalf("libzmq ROUTER received %s; want [routing id, 4-byte request id, \"\", body]", shortMsg(m))
			}
			id := binary.NativeEndian.Uint32(m[1])
			if i > 0 && id != last+1 {
				t.Errorf("request id %#x after %#x; want one more, in host byte order", id, last)
			}
			last = id
			libSend(t, router, m[0], binary.NativeEndian.AppendUint32(nil, id+7), nil, []byte("stale"))
			libSend(t, router, m[0], m[1], nil, []byte(fmt.Sprintf("reply %d", i)))
			ourExpect(t, req, []byte(fmt.Sprintf("reply %d", i)))
		}
	})...)
	sockRun(t, cases)
}

// A libzmq 4.3.4 REQ that is a CURVE server whose ZAP handler returns a
// user id drops the connection when the first reply arrives: the engine
// hands the session the user id as a credential message ahead of the
// reply, and the REQ session's check of the reply envelope
// (req_session_t::push_msg) takes it for a malformed reply, a protocol
// error. The REQ then waits for ever; the client reconnects and its reply
// is lost. It happens with a libzmq REP client as with ours, so the socket
// tests give libzmq's ZAP handler an empty user id (sockLibZAP). This test
// keeps the behaviour on record and shows that our REP is not the cause.
func TestSocketLibzmqReqZAPUserID(t *testing.T) {
	var cases []sockCase
	for _, ours := range []bool{false, true} {
		name := "libzmq-REP"
		if ours {
			name = "our-REP"
		}
		cases = append(cases, sockCase{name, func(t *testing.T) {
			e := newSockEnv(t, true)
			e.libZAP = e.lib.zap(zapAllowKeys(e.cli.Public)) // user id "anonymous"
			req := e.libServer(zmq.REQ)
			mon := e.lib.monitor(req, zmq.EVENT_DISCONNECTED)
			ep := e.lib.bind(req)
			if ours {
				rep := e.ourSocket(zmtp.REP, false, nil)
				ourConnect(t, rep, ep)
				libSend(t, req, strMsg("request")...)
				ourExpect(t, rep, strMsg("request")...)
				ourSend(t, rep, strMsg("reply")...)
			} else {
				rep := e.libClient(zmq.REP)
				must(t, rep.Connect(ep))
				libSend(t, req, strMsg("request")...)
				libExpect(t, rep, strMsg("request")...)
				libSend(t, rep, strMsg("reply")...)
			}
			if _, _, ok := mon.waitFor(zmq.EVENT_DISCONNECTED, stepTimeout); !ok {
				t.Fatalf("libzmq REQ: no DISCONNECTED; has libzmq's credential message handling changed?")
			}
			expectNothing(t, req, 200*time.Millisecond)
		}})
	}
	sockRun(t, cases)
}
