package conformance

// High-water marks against libzmq 4.3.4 (docs/sockets.md#high-water-marks):
// a PUSH whose peer does not read fills the peer's receive queue, the kernel
// buffers and its own send queue, and then blocks; when the peer reads again
// everything arrives, in order, with no gap. Each test runs with our PUSH
// and, for reference, with libzmq's in the same setup, and asserts that both
// behave alike: both block, neither loses a message.

import (
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestSocketPushHWM(t *testing.T) {
	libPull := func(s *zmq.Socket) { must(t, s.SetRcvhwm(hwmSmall)) }
	cases := sockMatrixCases("our-PUSH-libzmq-PULL", func(t *testing.T, e *sockEnv, ourBind bool) {
		push, ep := e.ours(zmtp.PUSH, ourBind, &socket.Options{SendHWM: hwmSmall})
		pull := e.peer(push, ep, zmq.PULL, libPull)
		waitPeers(t, push, 1)
		n := fillUntilBlocked(t, "our PUSH", ourHWMSend(t, push))
		t.Logf("our PUSH blocked after %d messages of %d bytes (HWMs %d)", n, hwmPayload, hwmSmall)
		drainInOrder(t, "libzmq PULL", n, func() [][]byte { return libRecv(t, pull) },
			func() { expectNothing(t, pull, 100*time.Millisecond) })
		ourSend(t, push, hwmMsg(n)...)
		libExpect(t, pull, hwmMsg(n)...)
	})
	for _, sec := range sockSecurities {
		// The reference: libzmq's PUSH and PULL, HWMs as above.
		cases = append(cases, sockCase{"libzmq-PUSH-libzmq-PULL-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			pull := e.libServer(zmq.PULL)
			libPull(pull)
			push := e.libClient(zmq.PUSH)
			must(t, push.SetSndhwm(hwmSmall))
			must(t, push.Connect(e.lib.bind(pull)))
			n := fillUntilBlocked(t, "libzmq PUSH", libHWMSend(t, push))
			t.Logf("libzmq PUSH blocked after %d messages of %d bytes (HWMs %d)", n, hwmPayload, hwmSmall)
			drainInOrder(t, "libzmq PULL", n, func() [][]byte { return libRecv(t, pull) },
				func() { expectNothing(t, pull, 100*time.Millisecond) })
		}})
	}
	cases = append(cases, sockMatrixCases("libzmq-PUSH-our-PULL", func(t *testing.T, e *sockEnv, ourBind bool) {
		pull, ep := e.ours(zmtp.PULL, ourBind, &socket.Options{RecvHWM: hwmSmall})
		push := e.peer(pull, ep, zmq.PUSH, func(s *zmq.Socket) { must(t, s.SetSndhwm(hwmSmall)) })
		waitPeers(t, pull, 1)
		n := fillUntilBlocked(t, "libzmq PUSH", libHWMSend(t, push))
		t.Logf("libzmq PUSH to our PULL blocked after %d messages of %d bytes (HWMs %d)", n, hwmPayload, hwmSmall)
		drainInOrder(t, "our PULL", n, func() [][]byte { return ourRecv(t, pull) },
			func() { ourNothing(t, pull, 100*time.Millisecond) })
		libSend(t, push, hwmMsg(n)...)
		ourExpect(t, pull, hwmMsg(n)...)
	})...)
	sockRun(t, cases)
}
