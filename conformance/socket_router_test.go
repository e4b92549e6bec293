package conformance

// DEALER/ROUTER and PUSH/PULL of the socket layer against libzmq 4.3.4
// (docs/sockets.md#router, docs/sockets.md#push): routing ids given with
// ZMQ_ROUTING_ID or Identity, generated ids (0x00 and a big-endian uint32,
// one more per peer), RouterMandatory, PUSH round-robin and PULL fair
// queueing, for NULL and CURVE with ZAP, with our socket binding and
// connecting.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestSocketDealerRouter(t *testing.T) {
	cases := sockMatrixCases("libzmq-DEALER-id", func(t *testing.T, e *sockEnv, ourBind bool) {
		router, ep := e.ours(zmtp.ROUTER, ourBind, nil)
		dealer := e.peer(router, ep, zmq.DEALER, func(s *zmq.Socket) { must(t, s.SetIdentity("lib-dealer")) })
		libSend(t, dealer, strMsg("hi", "")...)
		ourExpect(t, router, strMsg("lib-dealer", "hi", "")...)
		ourSend(t, router, strMsg("lib-dealer", "back", "2")...)
		libExpect(t, dealer, strMsg("back", "2")...)
		e.checkZAPOnce(t, ourBind, 1)
	})
	cases = append(cases, sockMatrixCases("our-DEALER-id", func(t *testing.T, e *sockEnv, ourBind bool) {
		opts := &socket.Options{}
		opts.Identity = []byte("our-dealer")
		dealer, ep := e.ours(zmtp.DEALER, ourBind, opts)
		router := e.peer(dealer, ep, zmq.ROUTER, nil)
		ourSend(t, dealer, strMsg("hi", "")...)
		libExpect(t, router, strMsg("our-dealer", "hi", "")...)
		libSend(t, router, strMsg("our-dealer", "back")...)
		ourExpect(t, dealer, strMsg("back")...)
	})...)
	cases = append(cases, sockMatrixCases("our-ROUTER-generated-ids", func(t *testing.T, e *sockEnv, ourBind bool) {
		router, ep := e.ours(zmtp.ROUTER, ourBind, nil)
		var dealers []*zmq.Socket
		for i := range 3 {
			// One at a time, so that the ids go in connection order.
			dealers = append(dealers, e.peer(router, ep, zmq.DEALER, nil))
			waitPeers(t, router, i+1)
		}
		ids := make([][]byte, len(dealers))
		for i, d := range dealers {
			libSend(t, d, []byte(fmt.Sprint(i)))
			m := ourRecv(t, router)
			if len(m) != 2 || string(m[1]) != fmt.Sprint(i) {
				t.Fatalf("our ROUTER received %s; want [id, %q]", shortMsg(m), fmt.Sprint(i))
			}
			ids[i] = m[0]
		}
		checkGeneratedIDs(t, "our ROUTER", ids)
		for i := len(dealers) - 1; i >= 0; i-- {
			ourSend(t, router, ids[i], []byte(fmt.Sprint("to ", i)))
		}
		for i, d := range dealers {
			libExpect(t, d, []byte(fmt.Sprint("to ", i)))
		}
	})...)
	cases = append(cases, sockMatrixCases("libzmq-ROUTER-generated-ids", func(t *testing.T, e *sockEnv, ourBind bool) {
		// libzmq for reference, with our DEALERs.
		var router *zmq.Socket
		var routerEP string
		if ourBind {
			router = e.libClient(zmq.ROUTER)
		} else {
			router = e.libServer(zmq.ROUTER)
			routerEP = e.lib.bind(router)
		}
		var dealers []*socket.Socket
		for range 3 {
			d := e.ourSocket(zmtp.DEALER, ourBind, nil)
			if ourBind {
				must(t, router.Connect(ourListen(t, d)))
			} else {
				ourConnect(t, d, routerEP)
			}
			waitPeers(t, d, 1)
			// libzmq identifies a peer when its pipe is attached, which a
			// bound socket does when its application calls into it.
			pumping(router, func() { time.Sleep(20 * time.Millisecond) })
			dealers = append(dealers, d)
		}
		ids := make([][]byte, len(dealers))
		for i, d := range dealers {
			ourSend(t, d, []byte(fmt.Sprint(i)))
			m := libRecv(t, router)
			if len(m) != 2 || string(m[1]) != fmt.Sprint(i) {
				t.Fatalf("libzmq ROUTER received %s; want [id, %q]", shortMsg(m), fmt.Sprint(i))
			}
			ids[i] = m[0]
		}
		checkGeneratedIDs(t, "libzmq ROUTER", ids)
	})...)
	cases = append(cases, sockMatrixCases("mandatory", func(t *testing.T, e *sockEnv, ourBind bool) {
		// Our ROUTER and libzmq's side by side, each with one DEALER
		// "known" and RouterMandatory: an unknown id is an error on
		// both; without the option it is dropped silently.
		ours, ep := e.ours(zmtp.ROUTER, ourBind, &socket.Options{RouterMandatory: true})
		dealer := e.peer(ours, ep, zmq.DEALER, func(s *zmq.Socket) { must(t, s.SetIdentity("known")) })
		libSend(t, dealer, strMsg("hello")...)
		ourExpect(t, ours, strMsg("known", "hello")...)
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if err := ours.Send(ctx, strMsg("unknown", "x")); !errors.Is(err, socket.ErrHostUnreachable) {
			t.Errorf("our ROUTER, RouterMandatory: Send to an unknown id: %v, want ErrHostUnreachable", err)
		}
		ourSend(t, ours, strMsg("known", "ok")...)
		libExpect(t, dealer, strMsg("ok")...)

		theirs := e.libServer(zmq.ROUTER)
		must(t, theirs.SetRouterMandatory(1))
		known := &socket.Options{}
		known.Identity = []byte("known")
		od := e.ourSocket(zmtp.DEALER, false, known)
		ourConnect(t, od, e.lib.bind(theirs))
		ourSend(t, od, strMsg("hello")...)
		libExpect(t, theirs, strMsg("known", "hello")...)
		_, err := theirs.SendMessage("unknown", "x")
		if zmq.AsErrno(err) != zmq.Errno(syscall.EHOSTUNREACH) {
			t.Errorf("libzmq ROUTER, ROUTER_MANDATORY: send to an unknown id: %v, want EHOSTUNREACH", err)
		}

		plain, ep2 := e.ours(zmtp.ROUTER, ourBind, nil)
		d2 := e.peer(plain, ep2, zmq.DEALER, func(s *zmq.Socket) { must(t, s.SetIdentity("known")) })
		libSend(t, d2, strMsg("hello")...)
		ourExpect(t, plain, strMsg("known", "hello")...)
		if err := plain.Send(ctx, strMsg("unknown", "dropped")); err != nil {
			t.Errorf("our ROUTER: Send to an unknown id: %v, want nil (dropped)", err)
		}
		ourSend(t, plain, strMsg("known", "after")...)
		libExpect(t, d2, strMsg("after")...)
	})...)
	sockRun(t, cases)
}

// checkGeneratedIDs checks routing ids a ROUTER made for peers without
// one, in connection order: 5 bytes, 0x00 then a big-endian uint32 one more
// for each peer.
func checkGeneratedIDs(t *testing.T, who string, ids [][]byte) {
	t.Helper()
	for i, id := range ids {
		if len(id) != 5 || id[0] != 0 {
			t.Fatalf("%s: generated id % x; want 5 bytes starting with 00", who, id)
		}
		if i > 0 && binary.BigEndian.Uint32(id[1:]) != binary.BigEndian.Uint32(ids[i-1][1:])+1 {
			t.Errorf("%s: generated ids % x; want consecutive big-endian counts", who, ids)
		}
	}
}

func TestSocketPushPull(t *testing.T) {
	cases := sockMatrixCases("our-PUSH-fan-out", func(t *testing.T, e *sockEnv, ourBind bool) {
		push, ep := e.ours(zmtp.PUSH, ourBind, nil)
		pulls := []*zmq.Socket{e.peer(push, ep, zmq.PULL, nil), e.peer(push, ep, zmq.PULL, nil)}
		if ourBind {
			waitPeers(t, push, 2)
		}
		for i := range 6 {
			ourSend(t, push, []byte(fmt.Sprint(i)))
		}
		var got [2][]string
		for j, p := range pulls {
			for range 3 {
				got[j] = append(got[j], string(libRecv(t, p)[0]))
			}
			expectNothing(t, p, 50*time.Millisecond)
		}
		even, odd := fmt.Sprint([]string{"0", "2", "4"}), fmt.Sprint([]string{"1", "3", "5"})
		if a, b := fmt.Sprint(got[0]), fmt.Sprint(got[1]); !(a == even && b == odd || a == odd && b == even) {
			t.Errorf("libzmq PULLs received %v and %v; want 0,2,4 and 1,3,5", got[0], got[1])
		}
	})
	cases = append(cases, sockMatrixCases("our-PULL-fan-in", func(t *testing.T, e *sockEnv, ourBind bool) {
		pull, ep := e.ours(zmtp.PULL, ourBind, nil)
		pushes := []*zmq.Socket{e.peer(pull, ep, zmq.PUSH, nil), e.peer(pull, ep, zmq.PUSH, nil)}
		for j, p := range pushes {
			for i := range 3 {
				libSend(t, p, []byte(fmt.Sprint(j)), []byte(fmt.Sprint(i)))
			}
		}
		next := [2]int{}
		for range 6 {
			m := ourRecv(t, pull)
			if len(m) != 2 || (string(m[0]) != "0" && string(m[0]) != "1") {
				t.Fatalf("our PULL received %s", shortMsg(m))
			}
			j := m[0][0] - '0'
			if string(m[1]) != fmt.Sprint(next[j]) {
				t.Errorf("our PULL: message %s from PUSH %d; want %d next", m[1], j, next[j])
			}
			next[j]++
		}
		ourNothing(t, pull, 50*time.Millisecond)
	})...)
	sockRun(t, cases)
}
