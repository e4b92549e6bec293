package conformance

// The XPUB and PUB options of the socket layer against libzmq 4.3.4
// subscribers (docs/sockets.md#xpub, docs/sockets.md#pub), for NULL and
// CURVE with ZAP, with our socket binding and connecting: XPubVerbose and
// XPubVerboser report what libzmq's XPUB_VERBOSE/VERBOSER report, the
// welcome message reaches a new subscriber first, XPubManual applies only
// what the application subscribes, and InvertMatching sends what does not
// match, as INVERT_MATCHING does.

import (
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestSocketXPubOptions(t *testing.T) {
	skipIfNoPubSub(t)
	// Verbose: every subscription is reported, duplicates from a second
	// subscriber included; Verboser: every cancellation too, while another
	// subscriber still holds the topic.
	cases := sockMatrixCases("verbose", func(t *testing.T, e *sockEnv, ourBind bool) {
		xpub, ep := e.ours(zmtp.XPUB, ourBind, &socket.Options{XPubVerbose: true, XPubVerboser: true})
		s1 := e.peer(xpub, ep, zmq.SUB, nil)
		s2 := e.peer(xpub, ep, zmq.SUB, nil)
		must(t, s1.SetSubscribe("A"))
		pumping(s1, func() { ourExpect(t, xpub, xsubMsg(true, "A")) })
		must(t, s2.SetSubscribe("A"))
		pumping(s2, func() { ourExpect(t, xpub, xsubMsg(true, "A")) })
		must(t, s2.SetUnsubscribe("A"))
		pumping(s2, func() { ourExpect(t, xpub, xsubMsg(false, "A")) })
	})
	// The welcome message goes to every new subscriber before anything
	// else; a SUB subscribed to a prefix of it receives it.
	cases = append(cases, sockMatrixCases("welcome", func(t *testing.T, e *sockEnv, ourBind bool) {
		pub, ep := e.ours(zmtp.XPUB, ourBind, &socket.Options{XPubWelcome: []byte("WELCOME")})
		sub := e.peer(pub, ep, zmq.SUB, func(s *zmq.Socket) { must(t, s.SetSubscribe("WEL")) })
		libExpect(t, sub, []byte("WELCOME"))
	})...)
	// Manual: subscriptions are reported, not applied; the application
	// applies them for the subscriber heard from last.
	cases = append(cases, sockMatrixCases("manual", func(t *testing.T, e *sockEnv, ourBind bool) {
		xpub, ep := e.ours(zmtp.XPUB, ourBind, &socket.Options{XPubManual: true})
		sub := e.peer(xpub, ep, zmq.SUB, nil)
		must(t, sub.SetSubscribe("A"))
		must(t, sub.SetSubscribe("B"))
		pumping(sub, func() {
			ourExpect(t, xpub, xsubMsg(true, "A"))
			ourExpect(t, xpub, xsubMsg(true, "B"))
		})
		ourSend(t, xpub, []byte("A-before"))
		ourSend(t, xpub, []byte("B-before"))
		expectNothing(t, sub, 150*time.Millisecond)
		must(t, xpub.Subscribe([]byte("B")))
		ourSend(t, xpub, []byte("A-after"))
		ourSend(t, xpub, []byte("B-after"))
		libExpect(t, sub, []byte("B-after"))
		expectNothing(t, sub, 100*time.Millisecond)
	})...)
	// InvertMatching on our XPUB (the subscription is seen arriving) to a
	// libzmq XSUB, which does not filter: only what does not match the
	// subscription is sent.
	cases = append(cases, sockMatrixCases("invert", func(t *testing.T, e *sockEnv, ourBind bool) {
		xpub, ep := e.ours(zmtp.XPUB, ourBind, &socket.Options{InvertMatching: true})
		xsub := e.peer(xpub, ep, zmq.XSUB, nil)
		libSend(t, xsub, xsubMsg(true, "A"))
		pumping(xsub, func() { ourExpect(t, xpub, xsubMsg(true, "A")) })
		ourSend(t, xpub, []byte("A1"))
		ourSend(t, xpub, []byte("B1"))
		libExpect(t, xsub, []byte("B1"))
		expectNothing(t, xsub, 100*time.Millisecond)
	})...)
	sockRun(t, cases)
}
