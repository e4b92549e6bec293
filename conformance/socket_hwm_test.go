package conformance

// High-water marks against libzmq 4.3.4 (docs/sockets.md, the machinery
// and PUSH/PULL): a PUSH whose peer does not read fills the peer's receive
// queue, the kernel buffers and its own send queue, and then blocks; when
// the peer reads again everything arrives, in order, with no gap. Each test
// runs with our PUSH and, for reference, with libzmq's in the same setup,
// and asserts that both behave alike: both block, neither loses a message.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

const (
	// hwmSmall is the SNDHWM and RCVHWM of the high-water mark tests.
	hwmSmall = 5
	// hwmPayload is the size of their messages: large enough that the
	// kernel buffers fill after a few hundred.
	hwmPayload = 32 << 10
	// hwmMaxMessages is where a sender that never blocks fails the test.
	hwmMaxMessages = 3000
	// hwmAttempt bounds one send attempt; hwmBlocked attempts in a row
	// that time out mean the sender is blocked.
	hwmAttempt = 200 * time.Millisecond
	hwmBlocked = 3
)

var hwmFill = bytes.Repeat([]byte{'h'}, hwmPayload)

// hwmMsg is message i of a high-water mark test: its number, then the
// payload (shared, never modified).
func hwmMsg(i int) [][]byte { return [][]byte{[]byte(fmt.Sprintf("%06d", i)), hwmFill} }

// fillUntilBlocked sends messages 0, 1, ... with send, which reports false
// when an attempt timed out (then nothing was queued), until hwmBlocked
// attempts in a row time out. It returns how many messages went.
func fillUntilBlocked(t *testing.T, who string, send func(i int) bool) int {
	t.Helper()
	n, timeouts := 0, 0
	for timeouts < hwmBlocked {
		if n >= hwmMaxMessages {
			t.Fatalf("%s: %d messages of %d bytes sent to a peer that does not read; want a block", who, n, hwmPayload)
		}
		if send(n) {
			n++
			timeouts = 0
		} else {
			timeouts++
		}
	}
	return n
}

// drain receives messages 0 to n-1 with recv, in order, and checks that
// nothing more comes.
func drainInOrder(t *testing.T, who string, n int, recv func() [][]byte, nothing func()) {
	t.Helper()
	for i := range n {
		m := recv()
		if len(m) != 2 || string(m[0]) != fmt.Sprintf("%06d", i) || !bytes.Equal(m[1], hwmFill) {
			t.Fatalf("%s: message %d of %d is %s; want message %06d", who, i, n, shortMsg(m), i)
		}
	}
	nothing()
}

// ourHWMSend is a send for fillUntilBlocked on our socket.
func ourHWMSend(t *testing.T, s *socket.Socket) func(int) bool {
	return func(i int) bool {
		ctx, cancel := context.WithTimeout(context.Background(), hwmAttempt)
		defer cancel()
		err := s.Send(ctx, hwmMsg(i))
		if errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		if err != nil {
			t.Fatalf("our %s: Send: %v", s.Type(), err)
		}
		return true
	}
}

// libHWMSend is a send for fillUntilBlocked on a libzmq socket.
func libHWMSend(t *testing.T, s *zmq.Socket) func(int) bool {
	must(t, s.SetSndtimeo(hwmAttempt))
	return func(i int) bool {
		m := hwmMsg(i)
		_, err := s.SendMessage(m[0], m[1])
		if isEAGAIN(err) {
			return false
		}
		if err != nil {
			t.Fatalf("libzmq send: %v", err)
		}
		return true
	}
}

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
