package bench

// The harness every benchmark and test runs on: mechanisms, key pairs, and
// the implementations under test, each reduced to the same two shapes (a
// link between two ends that send and receive payloads, and a dialer that
// does one whole connection per call) so that the timed loops are the same
// code for every implementation.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
)

// stallTimeout bounds every blocking call that cannot be interrupted any
// other way (libzmq's ZMQ_RCVTIMEO and ZMQ_SNDTIMEO, waits in cleanups), so
// that a broken setup fails instead of hanging. No benchmark call comes
// near it.
const stallTimeout = 20 * time.Second

// mech is a security mechanism as the benchmarks name it.
type mech struct {
	name  string // "null" or "curve", the value of the mech= key
	curve bool
}

var (
	mechNull  = mech{name: "null"}
	mechCurve = mech{name: "curve", curve: true}
	mechs     = []mech{mechNull, mechCurve}
)

// An end is one side of a link. send sends one message carrying payload
// (with whatever envelope the socket pattern puts on the wire); recv
// receives one and returns its payload, valid until the next recv.
type end struct {
	send func(payload []byte) error
	recv func() ([]byte, error)
}

// A link is an established, handshaken connection between a client (the
// connecting side, the CURVE client) and a server (the bound side, the
// CURVE server). Closing happens in the test's Cleanup.
type link struct {
	client, server end
	// abort makes the ends' blocked calls return, where the implementation
	// can do so from another goroutine (Go implementations close); libzmq
	// calls return within stallTimeout instead. It is idempotent.
	abort func()
}

// A dialer does one whole connection per call against a server it started:
// connect, handshake, send payload as a DEALER, receive the ROUTER's echo,
// close. It returns the echoed payload.
type dialer func(payload []byte) ([]byte, error)

// impl is one implementation (or a mixed pair of them) under test. A nil
// function is a shape the implementation does not take part in.
type impl struct {
	name      string // the value of the impl= key
	curve     bool   // whether it can run CURVE
	onlyCurve bool   // whether it runs only CURVE (the mixed pairs)

	// stream opens a one-way PUSH (client) to PULL (server) link.
	stream func(tb testing.TB, m mech) link
	// reqrep opens a REQ (client) to REP (server) link; on the wire each
	// message is an empty delimiter frame and the payload, as libzmq's REQ
	// and REP put it.
	reqrep func(tb testing.TB, m mech) link
	// handshake binds a ROUTER that echoes n messages and returns a dialer
	// for it.
	handshake func(tb testing.TB, m mech, n int) dialer
}

func (im impl) supports(m mech) bool {
	if m.curve {
		return im.curve
	}
	return !im.onlyCurve
}

// impls lists the implementations in the order the sub-benchmarks run.
// libzmq comes first so that benchstat -col /impl takes it as the base
// column and shows the others relative to it.
var impls = []impl{
	libzmqImpl,
	zmtpsecImpl,
	gozmq4Impl,
	zmtpsecClientLibzmqServer,
	libzmqClientZmtpsecServer,
}

// openStream and openReqRep open a link and exchange one warm-up message
// over it (both ways for REQ/REP), so that the handshake has completed on
// both sides, including libzmq's, which shakes hands in its I/O thread.
func openStream(tb testing.TB, im impl, m mech) link {
	tb.Helper()
	l := im.stream(tb, m)
	warmUp(tb, l, false)
	return l
}

func openReqRep(tb testing.TB, im impl, m mech) link {
	tb.Helper()
	l := im.reqrep(tb, m)
	warmUp(tb, l, true)
	return l
}

var warmPayload = []byte("warm-up")

func warmUp(tb testing.TB, l link, reply bool) {
	tb.Helper()
	warmUpWith(tb, l, warmPayload, reply)
}

// warmUpWith exchanges payload once over l (and back, with reply). The
// benchmarks call it with a payload of the size they measure, so that
// buffers have grown to it before the clock starts and allocs/op shows the
// steady state.
func warmUpWith(tb testing.TB, l link, payload []byte, reply bool) {
	tb.Helper()
	if err := exchange(l.client, l.server, payload); err != nil {
		l.abort()
		tb.Fatalf("warm-up: %v", err)
	}
	if !reply {
		return
	}
	if err := exchange(l.server, l.client, payload); err != nil {
		l.abort()
		tb.Fatalf("warm-up reply: %v", err)
	}
}

// exchange sends payload from one end and checks that the other receives
// exactly it.
func exchange(from, to end, payload []byte) error {
	if err := from.send(payload); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	got, err := to.recv()
	if err != nil {
		return fmt.Errorf("recv: %w", err)
	}
	return samePayload(got, payload)
}

func samePayload(got, want []byte) error {
	if string(got) != string(want) {
		return fmt.Errorf("received %d bytes %.16q…, want %d bytes %.16q…", len(got), got, len(want), want)
	}
	return nil
}

// curveKeys returns the server and client key pairs, made once per process.
func curveKeys(tb testing.TB) (server, client cert.KeyPair) {
	tb.Helper()
	keys.once.Do(func() {
		if keys.server, keys.err = cert.GenerateKeyPair(nil); keys.err != nil {
			return
		}
		keys.client, keys.err = cert.GenerateKeyPair(nil)
	})
	if keys.err != nil {
		tb.Fatal(keys.err)
	}
	return keys.server, keys.client
}

var keys struct {
	once           sync.Once
	server, client cert.KeyPair
	err            error
}

// payloadOf returns n bytes of a recognisable pattern.
func payloadOf(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// waitFor waits for done up to stallTimeout and reports a hang otherwise.
func waitFor(tb testing.TB, what string, done <-chan struct{}) {
	tb.Helper()
	select {
	case <-done:
	case <-time.After(stallTimeout):
		tb.Errorf("%s did not finish within %v", what, stallTimeout)
	}
}
