package conformance

// PUB/SUB/XPUB/XSUB of the socket layer against libzmq 4.3.4
// (docs/sockets.md#pub, docs/sockets.md#sub, docs/sockets.md#xpub,
// docs/sockets.md#xsub), for NULL and CURVE with ZAP, with our socket
// binding and connecting: our PUB filters at the publisher for several
// libzmq subscribers (XSUBs, which do not filter, show it), honours a
// cancellation and serves a late joiner; libzmq's PUB to our SUB; the
// subscription messages of XPUB and XSUB both ways; a PUB drops at the
// high-water mark and never blocks, as libzmq's does (XPubNoDrop blocks, as
// XPUB_NODROP does); and subscriptions are sent again to a publisher that
// restarts on the same port.
//
// A subscription reaches the publisher some time after the connection ("slow
// joiner"), so every case first publishes "sync" until each subscriber,
// subscribed to "sync" too, has one; the readers skip messages whose first
// frame starts with "sync".

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// isSync reports a message of the sync rounds.
func isSync(m [][]byte) bool { return len(m) > 0 && bytes.HasPrefix(m[0], []byte("sync")) }

// syncLib calls publish until every libzmq subscriber has received a
// message; asking each for one keeps its application calling in, so that
// a bound subscriber attaches its connections and sends its
// subscriptions.
func syncLib(t *testing.T, publish func(), subs ...*zmq.Socket) {
	t.Helper()
	synced := make([]bool, len(subs))
	deadline := time.Now().Add(stepTimeout)
	for slices.Contains(synced, false) {
		if time.Now().After(deadline) {
			t.Fatalf("libzmq subscribers synced: %v after %v", synced, stepTimeout)
		}
		publish()
		time.Sleep(10 * time.Millisecond)
		for i, s := range subs {
			if _, err := s.RecvMessageBytes(zmq.DONTWAIT); err == nil {
				synced[i] = true
			}
		}
	}
}

// syncOurs calls publish until our subscriber has received a message.
func syncOurs(t *testing.T, publish func(), sub *socket.Socket) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("our %s: nothing published arrived within %v", sub.Type(), stepTimeout)
		}
		publish()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := sub.Recv(ctx)
		cancel()
		if err == nil {
			return
		}
	}
}

// libData receives the next message on a libzmq subscriber that is not a
// sync message, or nil if none comes within d.
func libData(t *testing.T, s *zmq.Socket, d time.Duration) [][]byte {
	t.Helper()
	must(t, s.SetRcvtimeo(d))
	defer s.SetRcvtimeo(5 * time.Second)
	for {
		m, err := s.RecvMessageBytes(0)
		if isEAGAIN(err) {
			return nil
		}
		if err != nil {
			t.Fatalf("libzmq receive: %v", err)
		}
		if !isSync(m) {
			return m
		}
	}
}

// libExpectData checks that a libzmq subscriber receives want, in order,
// and then nothing more.
func libExpectData(t *testing.T, who string, s *zmq.Socket, want ...[][]byte) {
	t.Helper()
	for _, w := range want {
		m := libData(t, s, stepTimeout)
		if m == nil {
			t.Fatalf("%s: nothing; want %s", who, shortMsg(w))
		}
		sameMsg(t, who, m, w)
	}
	if m := libData(t, s, 100*time.Millisecond); m != nil {
		t.Errorf("%s received %s; want nothing more", who, shortMsg(m))
	}
}

// ourData receives the next message on our subscriber that is not a sync
// message, or nil if none comes within d.
func ourData(t *testing.T, s *socket.Socket, d time.Duration) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		m, err := s.Recv(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		if err != nil {
			t.Fatalf("our %s: Recv: %v", s.Type(), err)
		}
		if !isSync(m) {
			return m
		}
	}
}

// ourExpectData is libExpectData for our subscriber.
func ourExpectData(t *testing.T, s *socket.Socket, want ...[][]byte) {
	t.Helper()
	for _, w := range want {
		m := ourData(t, s, stepTimeout)
		if m == nil {
			t.Fatalf("our %s: nothing; want %s", s.Type(), shortMsg(w))
		}
		sameMsg(t, "our "+string(s.Type()), m, w)
	}
	if m := ourData(t, s, 100*time.Millisecond); m != nil {
		t.Errorf("our %s received %s; want nothing more", s.Type(), shortMsg(m))
	}
}

// xsubMsg is an XSUB's subscription (on) or cancellation message.
func xsubMsg(on bool, topic string) []byte {
	if on {
		return append([]byte{1}, topic...)
	}
	return append([]byte{0}, topic...)
}

// skipIfNoPubSub skips a test while the socket layer has no PUB/SUB yet.
func skipIfNoPubSub(t *testing.T) {
	t.Helper()
	s, err := socket.New(zmtp.PUB, nil)
	if err != nil {
		t.Skipf("socket.New(PUB): %v; PUB/SUB not implemented yet", err)
	}
	s.Close()
}

func TestSocketPubSub(t *testing.T) {
	skipIfNoPubSub(t)
	cases := sockMatrixCases("our-PUB", func(t *testing.T, e *sockEnv, ourBind bool) {
		pub, ep := e.ours(zmtp.PUB, ourBind, nil)
		// Two XSUBs, which do not filter what they receive, so that what
		// they get is what our PUB chose to send, and a SUB.
		xsub := func(topics ...string) *zmq.Socket {
			s := e.peer(pub, ep, zmq.XSUB, nil)
			for _, topic := range append(topics, "sync") {
				libSend(t, s, xsubMsg(true, topic))
			}
			return s
		}
		xa, xb := xsub("A"), xsub("B")
		all := e.peer(pub, ep, zmq.SUB, func(s *zmq.Socket) { must(t, s.SetSubscribe("")) })
		publish := func(msg ...string) { ourSend(t, pub, strMsg(msg...)...) }
		syncLib(t, func() { publish("sync") }, xa, xb, all)
		for _, m := range []string{"A1", "B1", "C1", "A2", "", "AB"} {
			publish(m)
		}
		publish("A3", "B3")
		libExpectData(t, "libzmq XSUB A", xa, strMsg("A1"), strMsg("A2"), strMsg("AB"), strMsg("A3", "B3"))
		libExpectData(t, "libzmq XSUB B", xb, strMsg("B1"))
		libExpectData(t, "libzmq SUB \"\"", all, strMsg("A1"), strMsg("B1"), strMsg("C1"), strMsg("A2"), strMsg(""), strMsg("AB"), strMsg("A3", "B3"))

		// B cancels; a subscription sent after the cancellation shows that
		// our PUB has read it.
		libSend(t, xb, xsubMsg(false, "B"))
		libSend(t, xb, xsubMsg(true, "sync2"))
		syncLib(t, func() { publish("sync2") }, xb)
		// A late joiner gets what is published after it joined.
		late := xsub("A")
		syncLib(t, func() { publish("sync") }, late)
		publish("B2")
		publish("A4")
		libExpectData(t, "libzmq XSUB B after its cancellation", xb)
		libExpectData(t, "libzmq XSUB A", xa, strMsg("A4"))
		libExpectData(t, "late libzmq XSUB A", late, strMsg("A4"))
		libExpectData(t, "libzmq SUB \"\"", all, strMsg("B2"), strMsg("A4"))
	})
	cases = append(cases, sockMatrixCases("our-SUB", func(t *testing.T, e *sockEnv, ourBind bool) {
		sub, ep := e.ours(zmtp.SUB, ourBind, nil)
		for _, topic := range []string{"A", "sync"} {
			if err := sub.Subscribe([]byte(topic)); err != nil {
				t.Fatal(err)
			}
		}
		pub := e.peer(sub, ep, zmq.PUB, nil)
		syncOurs(t, func() { libSend(t, pub, []byte("sync")) }, sub)
		for _, m := range []string{"A1", "B1", "A2", "", "BA"} {
			libSend(t, pub, []byte(m))
		}
		libSend(t, pub, strMsg("A3", "more")...)
		ourExpectData(t, sub, strMsg("A1"), strMsg("A2"), strMsg("A3", "more"))
		if err := sub.Unsubscribe([]byte("A")); err != nil {
			t.Fatal(err)
		}
		if err := sub.Subscribe([]byte("B")); err != nil {
			t.Fatal(err)
		}
		syncOurs(t, func() { libSend(t, pub, []byte("B-sync")) }, sub)
		libSend(t, pub, []byte("A4"))
		libSend(t, pub, []byte("B4"))
		ourExpectData(t, sub, strMsg("B4"))
	})...)
	sockRun(t, cases)
}

func TestSocketXPubXSub(t *testing.T) {
	skipIfNoPubSub(t)
	// Our XPUB receives the subscriptions of libzmq SUBs: the first for a
	// topic and the last cancellation, as 0x01/0x00 + topic.
	cases := sockMatrixCases("our-XPUB", func(t *testing.T, e *sockEnv, ourBind bool) {
		xpub, ep := e.ours(zmtp.XPUB, ourBind, nil)
		s1 := e.peer(xpub, ep, zmq.SUB, nil)
		s2 := e.peer(xpub, ep, zmq.SUB, nil)
		// pumped runs fn while s's application calls in, so that a bound
		// libzmq SUB attaches its connection and sends its subscriptions.
		pumped := func(s *zmq.Socket, fn func()) { pumping(s, fn) }
		must(t, s1.SetSubscribe("topic"))
		pumped(s1, func() { ourExpect(t, xpub, xsubMsg(true, "topic")) })
		must(t, s2.SetSubscribe("topic"))
		pumped(s2, func() { ourNothing(t, xpub, 150*time.Millisecond) })
		must(t, s2.SetUnsubscribe("topic"))
		pumped(s2, func() { ourNothing(t, xpub, 150*time.Millisecond) })
		must(t, s1.SetUnsubscribe("topic"))
		pumped(s1, func() { ourExpect(t, xpub, xsubMsg(false, "topic")) })
	})
	// Our XSUB sends them to a libzmq XPUB, counted: a cancellation of a
	// topic no longer subscribed is not sent; other messages go through.
	cases = append(cases, sockMatrixCases("our-XSUB", func(t *testing.T, e *sockEnv, ourBind bool) {
		xsub, ep := e.ours(zmtp.XSUB, ourBind, nil)
		xpub := e.peer(xsub, ep, zmq.XPUB, nil)
		ourSend(t, xsub, xsubMsg(true, "topic"))
		libExpect(t, xpub, xsubMsg(true, "topic"))
		libSend(t, xpub, []byte("other-1"))
		libSend(t, xpub, []byte("topic-1"))
		ourExpect(t, xsub, []byte("topic-1"))
		ourSend(t, xsub, []byte("hello"), []byte("publisher"))
		libExpect(t, xpub, []byte("hello"), []byte("publisher"))
		ourSend(t, xsub, xsubMsg(false, "topic"))
		libExpect(t, xpub, xsubMsg(false, "topic"))
		ourSend(t, xsub, xsubMsg(false, "topic"))
		expectNothing(t, xpub, 100*time.Millisecond)
		libSend(t, xpub, []byte("topic-2"))
		ourNothing(t, xsub, 100*time.Millisecond)
	})...)
	// Our SUB counts its subscriptions as libzmq's does: every Subscribe
	// goes upstream (a verbose libzmq XPUB sees each), the cancellation
	// only when as many Unsubscribe calls have undone them.
	cases = append(cases, sockMatrixCases("our-SUB-counts", func(t *testing.T, e *sockEnv, ourBind bool) {
		sub, ep := e.ours(zmtp.SUB, ourBind, nil)
		xpub := e.peer(sub, ep, zmq.XPUB, func(s *zmq.Socket) { must(t, s.SetXpubVerbose(1)) })
		for range 2 {
			must(t, sub.Subscribe([]byte("T")))
			libExpect(t, xpub, xsubMsg(true, "T"))
		}
		must(t, sub.Unsubscribe([]byte("T")))
		expectNothing(t, xpub, 100*time.Millisecond)
		must(t, sub.Unsubscribe([]byte("T")))
		libExpect(t, xpub, xsubMsg(false, "T"))
	})...)
	sockRun(t, cases)
}

// PUB drops at the high-water mark and never blocks: a subscriber that
// does not read misses messages, the others do not wait. Ours and libzmq's
// in the same setup; with XPubNoDrop (XPUB_NODROP) both block instead, and
// lose nothing.
func TestSocketPubHWM(t *testing.T) {
	skipIfNoPubSub(t)
	const sent = 1000
	// publishAll sends messages 0..sent-1, each of which must be accepted
	// within hwmAttempt.
	publishAll := func(t *testing.T, who string, send func(int) bool) {
		t.Helper()
		for i := range sent {
			if !send(i) {
				t.Fatalf("%s blocked at message %d; a PUB drops at the high-water mark", who, i)
			}
		}
	}
	// received drains a subscriber with next and checks that what arrives
	// is some of the messages, in order, and not all.
	received := func(t *testing.T, who string, next func() [][]byte) {
		t.Helper()
		last, n := -1, 0
		for m := next(); m != nil; m = next() {
			var i int
			if len(m) != 2 || !bytes.Equal(m[1], hwmFill) {
				t.Fatalf("%s received %s", who, shortMsg(m))
			}
			if _, err := fmt.Sscanf(string(m[0]), "%d", &i); err != nil || i <= last {
				t.Fatalf("%s: message %s after %d; want increasing numbers", who, m[0], last)
			}
			last, n = i, n+1
		}
		t.Logf("%s received %d of %d messages of %d bytes", who, n, sent, hwmPayload)
		if n == 0 || n == sent {
			t.Errorf("%s received %d of %d; want some dropped at the high-water mark, not all", who, n, sent)
		}
	}
	libSub := func(s *zmq.Socket) {
		must(t, s.SetRcvhwm(hwmSmall))
		must(t, s.SetSubscribe(""))
	}
	cases := sockMatrixCases("our-PUB-libzmq-SUB", func(t *testing.T, e *sockEnv, ourBind bool) {
		pub, ep := e.ours(zmtp.PUB, ourBind, &socket.Options{SendHWM: hwmSmall})
		sub := e.peer(pub, ep, zmq.SUB, libSub)
		syncLib(t, func() { ourSend(t, pub, []byte("sync")) }, sub)
		publishAll(t, "our PUB", ourHWMSend(t, pub))
		received(t, "libzmq SUB", func() [][]byte { return libData(t, sub, 200*time.Millisecond) })
	})
	for _, sec := range sockSecurities {
		cases = append(cases, sockCase{"libzmq-PUB-libzmq-SUB-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			sub := e.libServer(zmq.SUB)
			libSub(sub)
			pub := e.libClient(zmq.PUB)
			must(t, pub.SetSndhwm(hwmSmall))
			must(t, pub.Connect(e.lib.bind(sub)))
			syncLib(t, func() { libSend(t, pub, []byte("sync")) }, sub)
			publishAll(t, "libzmq PUB", libHWMSend(t, pub))
			received(t, "libzmq SUB", func() [][]byte { return libData(t, sub, 200*time.Millisecond) })
		}})
	}
	cases = append(cases, sockMatrixCases("libzmq-PUB-our-SUB", func(t *testing.T, e *sockEnv, ourBind bool) {
		sub, ep := e.ours(zmtp.SUB, ourBind, &socket.Options{RecvHWM: hwmSmall})
		must(t, sub.Subscribe(nil))
		pub := e.peer(sub, ep, zmq.PUB, func(s *zmq.Socket) { must(t, s.SetSndhwm(hwmSmall)) })
		syncOurs(t, func() { libSend(t, pub, []byte("sync")) }, sub)
		publishAll(t, "libzmq PUB", libHWMSend(t, pub))
		received(t, "our SUB", func() [][]byte { return ourData(t, sub, 200*time.Millisecond) })
	})...)
	cases = append(cases, sockMatrixCases("our-PUB-nodrop", func(t *testing.T, e *sockEnv, ourBind bool) {
		pub, ep := e.ours(zmtp.PUB, ourBind, &socket.Options{SendHWM: hwmSmall, XPubNoDrop: true})
		sub := e.peer(pub, ep, zmq.SUB, libSub)
		syncLib(t, func() { ourSend(t, pub, []byte("sync")) }, sub)
		n := fillUntilBlocked(t, "our PUB with XPubNoDrop", ourHWMSend(t, pub))
		drainInOrder(t, "libzmq SUB", n, func() [][]byte { return libData(t, sub, stepTimeout) },
			func() { expectNothing(t, sub, 100*time.Millisecond) })
	})...)
	for _, sec := range sockSecurities {
		cases = append(cases, sockCase{"libzmq-PUB-nodrop-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			sub := e.libServer(zmq.SUB)
			libSub(sub)
			pub := e.libClient(zmq.PUB)
			must(t, pub.SetSndhwm(hwmSmall))
			must(t, pub.SetXpubNodrop(true))
			must(t, pub.Connect(e.lib.bind(sub)))
			syncLib(t, func() { libSend(t, pub, []byte("sync")) }, sub)
			n := fillUntilBlocked(t, "libzmq PUB with XPUB_NODROP", libHWMSend(t, pub))
			drainInOrder(t, "libzmq SUB", n, func() [][]byte { return libData(t, sub, stepTimeout) },
				func() { expectNothing(t, sub, 100*time.Millisecond) })
		}})
	}
	sockRun(t, cases)
}

// Subscriptions are the subscriber's, not a connection's: a publisher that
// restarts on the same port gets them again, one per distinct topic.
func TestSocketSubscriptionReplay(t *testing.T) {
	skipIfNoPubSub(t)
	// libzmqSubs receives n subscription messages on a libzmq XPUB and
	// returns them sorted.
	libSubs := func(t *testing.T, xpub *zmq.Socket, n int) []string {
		t.Helper()
		var got []string
		for range n {
			got = append(got, string(libRecv(t, xpub)[0]))
		}
		slices.Sort(got)
		return got
	}
	var cases []sockCase
	for _, sec := range sockSecurities {
		cases = append(cases, sockCase{"libzmq-XPUB-restarts-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			ev := newOurEvents()
			sub, _ := e.ours(zmtp.SUB, false, &socket.Options{Events: ev.ch})
			for _, topic := range []string{"T1", "T2"} {
				must(t, sub.Subscribe([]byte(topic)))
			}
			verbose := func(s *zmq.Socket) { must(t, s.SetXpubVerbose(1)) }
			xpub := e.peer(sub, "", zmq.XPUB, verbose)
			ep, err := xpub.GetLastEndpoint()
			must(t, err)
			if got, want := libSubs(t, xpub, 2), []string{"\x01T1", "\x01T2"}; !slices.Equal(got, want) {
				t.Errorf("libzmq XPUB received %q, want %q", got, want)
			}
			// A second subscription to T2 goes upstream too.
			must(t, sub.Subscribe([]byte("T2")))
			libExpect(t, xpub, xsubMsg(true, "T2"))
			must(t, xpub.Close())
			if _, seen, ok := ev.waitFor(socket.EventDisconnected, stepTimeout); !ok {
				t.Fatalf("our SUB: no EventDisconnected:%s", eventList(seen))
			}
			xpub2 := e.libServer(zmq.XPUB)
			verbose(xpub2)
			rebind(t, xpub2.Bind, ep)
			// libzmq's blocking receive keeps its application calling in.
			if got, want := libSubs(t, xpub2, 2), []string{"\x01T1", "\x01T2"}; !slices.Equal(got, want) {
				t.Errorf("restarted libzmq XPUB received %q, want %q (one per topic)", got, want)
			}
			expectNothing(t, xpub2, 100*time.Millisecond)
			for _, m := range []string{"T1-x", "T3-z", "T2-y"} {
				libSend(t, xpub2, []byte(m))
			}
			ourExpectData(t, sub, strMsg("T1-x"), strMsg("T2-y"))
		}})
		cases = append(cases, sockCase{"our-XPUB-restarts-" + sec.name, func(t *testing.T) {
			e := newSockEnv(t, sec.curve)
			opts := &socket.Options{XPubVerbose: true}
			xpub, ep := e.ours(zmtp.XPUB, true, opts)
			var mon *libMonitor
			sub := e.peer(xpub, ep, zmq.SUB, func(s *zmq.Socket) {
				mon = e.lib.monitor(s, zmq.EVENT_DISCONNECTED)
			})
			must(t, sub.SetSubscribe("T1"))
			must(t, sub.SetSubscribe("T2"))
			ourSubs := func(x *socket.Socket) []string {
				var got []string
				pumping(sub, func() {
					for range 2 {
						got = append(got, string(ourRecv(t, x)[0]))
					}
					ourNothing(t, x, 100*time.Millisecond)
				})
				slices.Sort(got)
				return got
			}
			want := []string{"\x01T1", "\x01T2"}
			if got := ourSubs(xpub); !slices.Equal(got, want) {
				t.Errorf("our XPUB received %q, want %q", got, want)
			}
			must(t, xpub.Close())
			if _, seen, ok := mon.waitFor(zmq.EVENT_DISCONNECTED, stepTimeout); !ok {
				t.Fatalf("libzmq SUB: no DISCONNECTED: %v", seen)
			}
			xpub2 := e.ourSocket(zmtp.XPUB, true, opts)
			rebind(t, xpub2.Bind, ep)
			if got := ourSubs(xpub2); !slices.Equal(got, want) {
				t.Errorf("our restarted XPUB received %q, want %q (one per topic)", got, want)
			}
			for _, m := range []string{"T1-x", "T3-z", "T2-y"} {
				ourSend(t, xpub2, []byte(m))
			}
			libExpectData(t, "libzmq SUB", sub, strMsg("T1-x"), strMsg("T2-y"))
		}})
	}
	sockRun(t, cases)
}
