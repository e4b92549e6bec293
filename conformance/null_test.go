package conformance

// NULL interop with libzmq 4.3.4, in both directions: our transport client
// connecting to a libzmq socket that binds ("our-client"), and a libzmq
// socket connecting to our transport.Listener ("libzmq-client").
//
// The transport is pattern-agnostic, so the tests do what each pattern
// needs above it: our REQ adds the empty delimiter frame and our REP keeps
// the envelope, our ROUTER learns its peer's routing id from
// ConnectionState, our PUB reads subscriptions and sends only what matches.
// Every message is checked frame by frame, with frames of 0, 255, 256 bytes
// and 1 MiB in each direction.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/internal/transcript"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

type nullPatternCase struct {
	name string
	run  func(t *testing.T, lib *zmqLib, d connDir)
}

var nullPatternCases = []nullPatternCase{
	{"our-DEALER-libzmq-ROUTER", nullDealerRouter},
	{"our-DEALER-libzmq-ROUTER-no-routing-ids", nullDealerRouterAnonymous},
	{"our-ROUTER-libzmq-DEALER", nullRouterDealer},
	{"our-REQ-libzmq-REP", nullReqRep},
	{"our-REP-libzmq-REQ", nullRepReq},
	{"our-PUSH-libzmq-PULL", nullPushPull},
	{"our-PULL-libzmq-PUSH", nullPullPush},
	{"our-PAIR-libzmq-PAIR", nullPairPair},
	{"our-SUB-libzmq-PUB", nullSubPub},
	{"our-PUB-libzmq-SUB", nullPubSub},
	{"our-XSUB-libzmq-XPUB", nullXSubXPub},
	{"our-XPUB-libzmq-XSUB", nullXPubXSub},
}

// TestNullPatterns runs every socket pair in both directions.
func TestNullPatterns(t *testing.T) {
	for _, d := range connDirs {
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range nullPatternCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newZMQLib(t), d)
				})
			}
		})
	}
}

// nullCheckLibMeta checks the connection properties libzmq reports for us.
func nullCheckLibMeta(t *testing.T, md map[string]string, socketType string, identity *string) {
	t.Helper()
	if md["Socket-Type"] != socketType {
		t.Errorf("libzmq sees our Socket-Type %q, want %q", md["Socket-Type"], socketType)
	}
	id, ok := md["Identity"]
	switch {
	case identity == nil && ok:
		t.Errorf("libzmq sees our Identity %q; we should send none from a %s", id, socketType)
	case identity != nil && (!ok || id != *identity):
		t.Errorf("libzmq sees our Identity %q (present %v), want %q", id, ok, *identity)
	}
}

func nullStr(s string) *string { return &s }

// Our DEALER's Identity is the routing id libzmq's ROUTER reports as the
// first frame, and the one it routes replies by.
func nullDealerRouter(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.ROUTER, "LIB-ROUTER")
	cfg := nullConfig(zmtp.DEALER, "GO-DEALER")
	cfg.Metadata = zmtp.Metadata{{Name: "X-Hello", Value: []byte("world")}}
	c := d.open(t, lib, s, cfg)
	checkNullState(t, c, zmtp.ROUTER, []byte("LIB-ROUTER"))

	msg := sizedMsg("to-router", 'a')
	c.write(t, msg...)
	got, md := libRecvMeta(t, s, "Socket-Type", "Identity", "X-Hello", "Peer-Address")
	sameMsg(t, "libzmq ROUTER received", got, appendParts(strMsg("GO-DEALER"), msg...))
	nullCheckLibMeta(t, md, "DEALER", nullStr("GO-DEALER"))
	if md["X-Hello"] != "world" || md["Peer-Address"] != "127.0.0.1" {
		t.Errorf("libzmq's zmq_msg_gets: X-Hello %q, Peer-Address %q; want world, 127.0.0.1", md["X-Hello"], md["Peer-Address"])
	}

	reply := sizedMsg("to-dealer", 'x')
	libSend(t, s, appendParts(strMsg("GO-DEALER"), reply...)...)
	c.expect(t, reply...)
	for i := range 3 {
		c.write(t, strMsg("ping", fmt.Sprint(i))...)
		sameMsg(t, "libzmq ROUTER received", libRecv(t, s), strMsg("GO-DEALER", "ping", fmt.Sprint(i)))
		libSend(t, s, strMsg("GO-DEALER", "pong", fmt.Sprint(i))...)
		c.expect(t, strMsg("pong", fmt.Sprint(i))...)
	}
}

// Without routing ids, our DEALER sends an empty Identity and libzmq's
// ROUTER makes one up (5 bytes, a zero byte then a counter); its own empty
// Identity reaches us as an empty, non-nil PeerIdentity.
func nullDealerRouterAnonymous(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.ROUTER, "")
	c := d.open(t, lib, s, nullConfig(zmtp.DEALER, ""))
	checkNullState(t, c, zmtp.ROUTER, []byte{})

	c.write(t, strMsg("hello", "")...)
	got, md := libRecvMeta(t, s, "Socket-Type", "Identity")
	if len(got) != 3 || len(got[0]) != 5 || got[0][0] != 0 {
		t.Fatalf("libzmq ROUTER received %s; want a generated 5-byte routing id, then our 2 frames", shortMsg(got))
	}
	sameMsg(t, "libzmq ROUTER received", got[1:], strMsg("hello", ""))
	nullCheckLibMeta(t, md, "DEALER", nullStr(""))
	libSend(t, s, got[0], []byte("back"))
	c.expect(t, strMsg("back")...)
}

// Our ROUTER reads libzmq's ZMQ_ROUTING_ID from ConnectionState; on the
// wire a DEALER's messages carry no routing frame.
func nullRouterDealer(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.DEALER, "LIB-DEALER")
	c := d.open(t, lib, s, nullConfig(zmtp.ROUTER, ""))
	checkNullState(t, c, zmtp.DEALER, []byte("LIB-DEALER"))

	msg := sizedMsg("to-router", 'b')
	libSend(t, s, msg...)
	c.expect(t, msg...)
	reply := sizedMsg("to-dealer", 'y')
	c.write(t, reply...)
	got, md := libRecvMeta(t, s, "Socket-Type", "Identity")
	sameMsg(t, "libzmq DEALER received", got, reply)
	// Like libzmq, our ROUTER sends an empty Identity.
	nullCheckLibMeta(t, md, "ROUTER", nullStr(""))
}

// Our REQ adds the empty delimiter frame itself; libzmq's REP strips it and
// puts it back on the reply.
func nullReqRep(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.REP, "")
	c := d.open(t, lib, s, nullConfig(zmtp.REQ, "GO-REQ"))
	checkNullState(t, c, zmtp.REP, nil)

	for i := range 3 {
		req := strMsg(fmt.Sprintf("request %d", i), "", "x")
		c.write(t, appendParts(strMsg(""), req...)...)
		got, md := libRecvMeta(t, s, "Socket-Type", "Identity")
		sameMsg(t, "libzmq REP received", got, req)
		nullCheckLibMeta(t, md, "REQ", nullStr("GO-REQ"))
		libSend(t, s, strMsg("reply", fmt.Sprint(i))...)
		c.expect(t, strMsg("", "reply", fmt.Sprint(i))...)
	}
	req := sizedMsg("sized request", 'c')
	c.write(t, appendParts(strMsg(""), req...)...)
	sameMsg(t, "libzmq REP received", libRecv(t, s), req)
	rep := sizedMsg("sized reply", 'd')
	libSend(t, s, rep...)
	c.expect(t, appendParts(strMsg(""), rep...)...)
}

// Our REP gets libzmq's REQ envelope (an empty delimiter) and sends it back.
func nullRepReq(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.REQ, "LIB-REQ")
	c := d.open(t, lib, s, nullConfig(zmtp.REP, ""))
	checkNullState(t, c, zmtp.REQ, []byte("LIB-REQ"))

	for i := range 2 {
		req := sizedMsg(fmt.Sprint("request ", i), 'e')
		libSend(t, s, req...)
		got := c.read(t)
		sameMsg(t, "our REP read", got, appendParts(strMsg(""), req...))
		rep := sizedMsg(fmt.Sprint("reply ", i), 'f')
		c.write(t, appendParts(got[:1], rep...)...)
		got2, md := libRecvMeta(t, s, "Socket-Type", "Identity")
		sameMsg(t, "libzmq REQ received", got2, rep)
		nullCheckLibMeta(t, md, "REP", nil)
	}
}

func nullPushPull(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.PULL, "")
	c := d.open(t, lib, s, nullConfig(zmtp.PUSH, ""))
	checkNullState(t, c, zmtp.PULL, nil)

	msg := sizedMsg("pushed", 'g')
	c.write(t, msg...)
	for i := range 3 {
		c.write(t, strMsg("small", fmt.Sprint(i))...)
	}
	got, md := libRecvMeta(t, s, "Socket-Type", "Identity")
	sameMsg(t, "libzmq PULL received", got, msg)
	nullCheckLibMeta(t, md, "PUSH", nil)
	for i := range 3 {
		sameMsg(t, "libzmq PULL received", libRecv(t, s), strMsg("small", fmt.Sprint(i)))
	}
}

func nullPullPush(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.PUSH, "")
	c := d.open(t, lib, s, nullConfig(zmtp.PULL, ""))
	checkNullState(t, c, zmtp.PUSH, nil)

	msg := sizedMsg("pushed", 'h')
	libSend(t, s, msg...)
	for i := range 3 {
		libSend(t, s, strMsg("small", fmt.Sprint(i))...)
	}
	c.expect(t, msg...)
	for i := range 3 {
		c.expect(t, strMsg("small", fmt.Sprint(i))...)
	}
}

func nullPairPair(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.PAIR, "")
	c := d.open(t, lib, s, nullConfig(zmtp.PAIR, ""))
	checkNullState(t, c, zmtp.PAIR, nil)

	msg := sizedMsg("ours", 'i')
	c.write(t, msg...)
	got, md := libRecvMeta(t, s, "Socket-Type", "Identity")
	sameMsg(t, "libzmq PAIR received", got, msg)
	nullCheckLibMeta(t, md, "PAIR", nil)
	theirs := sizedMsg("theirs", 'j')
	libSend(t, s, theirs...)
	c.expect(t, theirs...)
	for i := range 50 {
		m := strMsg(fmt.Sprint(i), "pair")
		c.write(t, m...)
		sameMsg(t, "libzmq PAIR received", libRecv(t, s), m)
		libSend(t, s, m...)
		c.expect(t, m...)
	}
}

// nullPublish has the libzmq publisher s send a round of messages every
// 2 ms, [topic, "i"] for each of topics in round i, until our subscriber c
// reads a message whose first frame is want. It returns every message read
// (the last one is want's) and how many rounds were sent. s belongs to the
// publishing goroutine until nullPublish returns.
func nullPublish(t *testing.T, s *zmq.Socket, c *recConn, want string, topics ...string) ([][][]byte, int) {
	t.Helper()
	stop := make(chan struct{})
	type result struct {
		rounds int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- result{i, nil}
				return
			default:
			}
			for _, topic := range topics {
				if _, err := s.SendMessage(topic, fmt.Sprint(i)); err != nil {
					done <- result{i, err}
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var read [][][]byte
	var err error
	deadline := time.Now().Add(stepTimeout)
	for {
		var m [][]byte
		if m, err = c.tryRead(time.Until(deadline)); err != nil {
			break
		}
		read = append(read, m)
		if string(m[0]) == want {
			break
		}
	}
	close(stop)
	r := <-done
	if r.err != nil {
		t.Fatalf("libzmq publish: %v", r.err)
	}
	if err != nil {
		t.Fatalf("our %s read %d messages, then: %v", c.cfg.SocketType, len(read), err)
	}
	return read, r.rounds
}

// nullIndex returns the round number in the second frame of a published
// message.
func nullIndex(t *testing.T, m [][]byte) int {
	t.Helper()
	var i int
	if len(m) != 2 {
		t.Fatalf("published message %s", shortMsg(m))
	}
	if _, err := fmt.Sscan(string(m[1]), &i); err != nil {
		t.Fatalf("published message %s: %v", shortMsg(m), err)
	}
	return i
}

// nullSubscriptionFrames returns the command frames of the peer with the
// given name, and fails on a data frame that looks like a ZMTP 3.0
// subscription.
func nullCommandFrames(t *testing.T, frames []wireFrame, name string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range frames {
		if f.flags&zmtp.FlagCommand == 0 {
			continue
		}
		cmd, err := zmtp.ParseCommand(f.body)
		if err != nil {
			t.Fatalf("command frame %x: %v", f.body, err)
		}
		if cmd.Name == name {
			out = append(out, f.body)
		}
	}
	return out
}

// Our SUB subscribes to "A" with Conn.Subscribe (a ZMTP 3.1 SUBSCRIBE
// command on the wire) and gets only A messages from a libzmq PUB that
// publishes B and A; then it cancels A, subscribes to C, and gets no A
// once the first C has arrived.
func nullSubPub(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.PUB, "")
	c := d.open(t, lib, s, nullConfig(zmtp.SUB, ""))
	checkNullState(t, c, zmtp.PUB, nil)

	c.subscribe(t, "A")
	ours := splitFrames(t, c.rec.Transcript().Stream(transcript.Ours))
	if len(ours) != 2 || ours[1].flags != zmtp.FlagCommand || string(ours[1].body) != "\x09SUBSCRIBEA" {
		t.Fatalf("our frames after the greeting: %+v; want READY, then the command SUBSCRIBE A", ours)
	}
	read, rounds := nullPublish(t, s, c, "A", "B", "A")
	// Messages published before libzmq had our subscription are dropped;
	// every A after the first one that came through arrives, and no B.
	first := nullIndex(t, read[0])
	if len(read) != 1 {
		t.Fatalf("our SUB read %d messages before an A", len(read))
	}
	for i := first + 1; i < rounds; i++ {
		c.expect(t, strMsg("A", fmt.Sprint(i))...)
	}
	libSend(t, s, sizedMsg("B-sized", 'k')...)
	sized := sizedMsg("A-sized", 'l')
	libSend(t, s, sized...)
	c.expect(t, sized...)

	c.unsubscribe(t, "A")
	c.subscribe(t, "C")
	read, rounds = nullPublish(t, s, c, "C", "A", "C")
	last := -1
	for _, m := range read[:len(read)-1] {
		if string(m[0]) != "A" || nullIndex(t, m) <= last {
			t.Fatalf("before the first C, our SUB read %s; want only A messages in order", shortMsg(m))
		}
		last = nullIndex(t, m)
	}
	for i := nullIndex(t, read[len(read)-1]) + 1; i < rounds; i++ {
		c.expect(t, strMsg("C", fmt.Sprint(i))...)
	}
	libSend(t, s, strMsg("A", "late")...)
	libSend(t, s, strMsg("C", "last")...)
	c.expect(t, strMsg("C", "last")...)
	if got := nullCommandFrames(t, splitFrames(t, c.rec.Transcript().Stream(transcript.Ours)), "CANCEL"); len(got) != 1 || string(got[0]) != "\x06CANCELA" {
		t.Errorf("our CANCEL commands: %q", got)
	}
}

// A libzmq SUB's subscription to "A" reaches our PUB as a ZMTP 3.1
// SUBSCRIBE command, which ReadMessage returns as the message [0x01 'A'];
// our PUB then sends only the messages that match.
func nullPubSub(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.SUB, "")
	must(t, s.SetSubscribe("A"))
	c := d.open(t, lib, s, nullConfig(zmtp.PUB, ""))
	checkNullState(t, c, zmtp.SUB, nil)

	pumping(s, func() { c.expect(t, []byte("\x01A")) })
	if got := nullCommandFrames(t, c.peerFrames(t), "SUBSCRIBE"); len(got) != 1 || string(got[0]) != "\x09SUBSCRIBEA" {
		t.Fatalf("libzmq's SUBSCRIBE commands: %q; want one for A", got)
	}
	for _, f := range c.peerFrames(t) {
		if f.flags&zmtp.FlagCommand == 0 {
			t.Fatalf("libzmq sent a data frame %q; want its subscription as a command", f.body)
		}
	}
	topics := [][]byte{[]byte("A")}
	msgs := [][][]byte{strMsg("B", "1"), strMsg("A", "1"), strMsg("AB", "2"), strMsg("BA", "3"), sizedMsg("A-sized", 'm')}
	var sent [][][]byte
	for _, m := range msgs {
		for _, topic := range topics {
			if bytes.HasPrefix(m[0], topic) {
				c.write(t, m...)
				sent = append(sent, m)
				break
			}
		}
	}
	if len(sent) != 3 {
		t.Fatalf("sent %d messages", len(sent))
	}
	for _, m := range sent {
		sameMsg(t, "libzmq SUB received", libRecv(t, s), m)
	}

	must(t, s.SetUnsubscribe("A"))
	pumping(s, func() { c.expect(t, []byte("\x00A")) })
	if got := nullCommandFrames(t, c.peerFrames(t), "CANCEL"); len(got) != 1 || string(got[0]) != "\x06CANCELA" {
		t.Fatalf("libzmq's CANCEL commands: %q; want one for A", got)
	}
}

// libzmq's XPUB hands our XSUB's subscriptions to its application; our XSUB
// may also subscribe by writing [0x01 topic], as libzmq's XSUB does.
func nullXSubXPub(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.XPUB, "")
	c := d.open(t, lib, s, nullConfig(zmtp.XSUB, ""))
	checkNullState(t, c, zmtp.XPUB, nil)

	c.subscribe(t, "A")
	sameMsg(t, "libzmq XPUB received", libRecv(t, s), [][]byte{[]byte("\x01A")})
	libSend(t, s, strMsg("B", "dropped by libzmq")...)
	sized := sizedMsg("A-sized", 'n')
	libSend(t, s, sized...)
	c.expect(t, sized...)

	c.write(t, []byte("\x01B"))
	sameMsg(t, "libzmq XPUB received", libRecv(t, s), [][]byte{[]byte("\x01B")})
	libSend(t, s, strMsg("B", "now wanted")...)
	c.expect(t, strMsg("B", "now wanted")...)
	c.unsubscribe(t, "A")
	sameMsg(t, "libzmq XPUB received", libRecv(t, s), [][]byte{[]byte("\x00A")})

	var got []string
	for _, f := range splitFrames(t, c.rec.Transcript().Stream(transcript.Ours))[1:] {
		if f.flags&zmtp.FlagCommand != 0 {
			got = append(got, string(f.body))
		}
	}
	if want := []string{"\x09SUBSCRIBEA", "\x09SUBSCRIBEB", "\x06CANCELA"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("our commands after READY: %q, want %q", got, want)
	}
}

// libzmq's XSUB subscribes by sending [0x01 'A'], and our XPUB reads that
// message in either wire form. libzmq 4.3.4 passes what an XSUB application
// sends through as a data frame, even to a ZMTP 3.1 peer, when the
// connection is already attached to the socket (always so for a socket that
// connects); a subscription sent before that (possible on a socket that
// binds) is replayed from its subscription trie on attach, as a SUBSCRIBE
// command.
func nullXPubXSub(t *testing.T, lib *zmqLib, d connDir) {
	s := libSocket(t, lib, zmq.XSUB, "")
	c := d.open(t, lib, s, nullConfig(zmtp.XPUB, ""))
	checkNullState(t, c, zmtp.XSUB, nil)

	libSend(t, s, []byte("\x01A"))
	pumping(s, func() { c.expect(t, []byte("\x01A")) })
	sized := sizedMsg("A-sized", 'o')
	c.write(t, sized...)
	sameMsg(t, "libzmq XSUB received", libRecv(t, s), sized)
	libSend(t, s, []byte("\x00A"))
	pumping(s, func() { c.expect(t, []byte("\x00A")) })
	var got []string
	for _, f := range c.peerFrames(t)[1:] {
		got = append(got, fmt.Sprintf("%02x %q", byte(f.flags), f.body))
	}
	data := `00 "\x01A"|00 "\x00A"`
	command := `04 "\tSUBSCRIBEA"|00 "\x00A"`
	switch strings.Join(got, "|") {
	case data:
	case command:
		if d.name != "our-client" {
			t.Errorf("libzmq's frames after READY: %q; a connecting XSUB sends its subscription as a data frame", got)
		}
		t.Logf("libzmq's subscription came from its trie, as a command")
	default:
		t.Errorf("libzmq's frames after READY: %q, want %s (or %s)", got, data, command)
	}
}

// ---------------------------------------------------------------------------
// heartbeats

// nullCount counts the peer's (or our) command frames named name, up to the
// first data frame whose body is stopAt (all of them if stopAt is nil).
func nullCount(t *testing.T, frames []wireFrame, name string, stopAt []byte) (n int, bodies map[string]int) {
	t.Helper()
	bodies = map[string]int{}
	for _, f := range frames {
		if stopAt != nil && f.flags&zmtp.FlagCommand == 0 && bytes.Equal(f.body, stopAt) {
			break
		}
		if f.flags&zmtp.FlagCommand == 0 {
			continue
		}
		if cmd, err := zmtp.ParseCommand(f.body); err == nil && cmd.Name == name {
			n++
			bodies[fmt.Sprintf("%x", f.body)]++
		}
	}
	return n, bodies
}

// TestNullHeartbeats: libzmq's heartbeats against our side, and ours against
// libzmq. Each keeps the connection for 1.5 s, five times the heartbeat
// timeout, with our side reading all along, and ends with a message each
// way.
func TestNullHeartbeats(t *testing.T) {
	const keep = 1500 * time.Millisecond
	t.Run("libzmq-DEALER-heartbeats-to-our-ROUTER", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s := libSocket(t, lib, zmq.DEALER, "HB")
		must(t, s.SetHeartbeatIvl(100*time.Millisecond))
		must(t, s.SetHeartbeatTimeout(300*time.Millisecond))
		must(t, s.SetHeartbeatTtl(time.Second))
		mon := lib.monitor(s, zmq.EVENT_ALL)
		c := listenRecorded(t, lib, s, nullConfig(zmtp.ROUTER, ""))
		if _, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, stepTimeout); !ok {
			t.Fatalf("libzmq events: %v; want HANDSHAKE_SUCCEEDED", seen)
		}
		// While our side reads, the monitor and the libzmq socket belong to
		// this goroutine.
		events := make(chan []libEvent, 1)
		go func() {
			es := mon.collect(keep)
			s.SendMessage("still here")
			events <- es
		}()
		msg, err := c.tryRead(keep + stepTimeout)
		es := <-events
		if err != nil {
			t.Fatalf("our ROUTER: %v (libzmq events %v)", err, es)
		}
		sameMsg(t, "our ROUTER read", msg, strMsg("still here"))
		if len(es) != 0 {
			t.Fatalf("libzmq events while heartbeating with us for %v: %v; want none (no DISCONNECTED)", keep, es)
		}
		c.write(t, strMsg("so are we")...)
		sameMsg(t, "libzmq DEALER received", libRecv(t, s), strMsg("so are we"))

		// libzmq's PINGs: TTL 10 deciseconds, no context; we answered each
		// one we read with an empty PONG.
		pings, pingBodies := nullCount(t, c.peerFrames(t), zmtp.CmdPing, []byte("still here"))
		pongs, pongBodies := nullCount(t, splitFrames(t, c.rec.Transcript().Stream(transcript.Ours)), zmtp.CmdPong, nil)
		if pings < 10 || len(pingBodies) != 1 || pingBodies["0450494e47000a"] != pings {
			t.Errorf("libzmq sent %d PINGs before its message: %v; want at least 10 of 04 PING 000a", pings, pingBodies)
		}
		if pongs != pings || pongBodies["04504f4e47"] != pongs {
			t.Errorf("we sent %d PONGs %v for %d PINGs; want one empty PONG each", pongs, pongBodies, pings)
		}
		if es := mon.collect(50 * time.Millisecond); len(es) != 0 {
			t.Errorf("libzmq events at the end: %v", es)
		}
	})
	t.Run("our-DEALER-heartbeats-to-libzmq-ROUTER", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s := libSocket(t, lib, zmq.ROUTER, "")
		mon := lib.monitor(s, zmq.EVENT_ALL)
		cfg := nullConfig(zmtp.DEALER, "GO-HB")
		cfg.HeartbeatInterval = 100 * time.Millisecond
		cfg.HeartbeatTimeout = 300 * time.Millisecond
		cfg.HeartbeatTTL = time.Second
		c := connectRecorded(t, lib, s, cfg)
		if _, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, stepTimeout); !ok {
			t.Fatalf("libzmq events: %v; want HANDSHAKE_SUCCEEDED", seen)
		}
		events := make(chan []libEvent, 1)
		go func() {
			es := mon.collect(keep)
			s.SendMessage("GO-HB", "still here")
			events <- es
		}()
		msg, err := c.tryRead(keep + stepTimeout)
		es := <-events
		if err != nil {
			t.Fatalf("our DEALER: %v (libzmq events %v)", err, es)
		}
		sameMsg(t, "our DEALER read", msg, strMsg("still here"))
		if len(es) != 0 {
			t.Fatalf("libzmq events while we heartbeat for %v: %v; want none", keep, es)
		}
		c.write(t, strMsg("so are we")...)
		sameMsg(t, "libzmq ROUTER received", libRecv(t, s), strMsg("GO-HB", "so are we"))

		pings, pingBodies := nullCount(t, splitFrames(t, c.rec.Transcript().Stream(transcript.Ours)), zmtp.CmdPing, nil)
		pongs, pongBodies := nullCount(t, c.peerFrames(t), zmtp.CmdPong, nil)
		if pings < 10 || pingBodies["0450494e47000a"] != pings {
			t.Errorf("we sent %d PINGs %v in %v; want at least 10 of 04 PING 000a", pings, pingBodies, keep)
		}
		if pongs < pings-1 || pongBodies["04504f4e47"] != pongs {
			t.Errorf("libzmq answered our %d PINGs with %d PONGs %v; want an empty PONG each", pings, pongs, pongBodies)
		}
	})
}

// ---------------------------------------------------------------------------
// incompatible socket types

// TestNullSocketTypeRefused: pairs that libzmq's check_socket_type refuses
// are refused on both sides. What happens, always (the bytes are recorded
// and checked): libzmq sends its greeting and READY at once, we send ours,
// each side checks the other's Socket-Type and closes without ERROR. Our
// handshake fails with a *SocketTypeError; libzmq reports no handshake
// event, only DISCONNECTED, and, having seen a protocol error, never
// reconnects or delivers anything.
func TestNullSocketTypeRefused(t *testing.T) {
	pairs := []struct {
		ours zmtp.SocketType
		lib  zmq.Type
	}{
		{zmtp.PUSH, zmq.PUSH},
		{zmtp.DEALER, zmq.PUB},
		{zmtp.SUB, zmq.SUB},
		{zmtp.PAIR, zmq.DEALER},
		{zmtp.REQ, zmq.REQ},
		{zmtp.XPUB, zmq.PULL},
	}
	for _, p := range pairs {
		libType := zmtp.SocketType(p.lib.String())
		check := func(t *testing.T, c *recConn, err error, mon *libMonitor) {
			t.Helper()
			var ste *transport.SocketTypeError
			var he *transport.HandshakeError
			if !errors.As(err, &ste) || ste.Local != p.ours || ste.Peer != libType {
				t.Fatalf("our handshake: %v; want a *SocketTypeError{%s, %s}", err, p.ours, libType)
			}
			if !errors.As(err, &he) || he.Step != transport.StepSocketType {
				t.Errorf("our handshake: %#v; want a *HandshakeError in step \"socket type check\"", he)
			}
			if st := c.ConnectionState(); st.HandshakeComplete {
				t.Errorf("ConnectionState after a refusal: %+v", st)
			}
			// libzmq sent its READY, and nothing else: no ERROR.
			frames := c.peerFrames(t)
			if len(frames) != 1 {
				t.Fatalf("libzmq sent %d frames after its greeting: %+v; want only READY", len(frames), frames)
			}
			cmd, perr := zmtp.ParseCommand(frames[0].body)
			if perr != nil || cmd.Name != zmtp.CmdReady {
				t.Fatalf("libzmq's frame: %q", frames[0].body)
			}
			md, _ := zmtp.ParseMetadata(cmd.Data)
			if v, _ := md.GetExact("Socket-Type"); string(v) != string(libType) {
				t.Errorf("libzmq's READY: %q", cmd.Data)
			}
			_, seen, ok := mon.waitFor(zmq.EVENT_DISCONNECTED, stepTimeout)
			if !ok {
				t.Fatalf("libzmq events: %v; want DISCONNECTED", seen)
			}
			for _, e := range seen {
				switch e.Event {
				case zmq.EVENT_HANDSHAKE_SUCCEEDED, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
					zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_AUTH:
					t.Errorf("libzmq events: %v; want no handshake event", seen)
				}
			}
			t.Logf("libzmq events: %v", seen)
		}
		t.Run(fmt.Sprintf("our-client/our-%s-libzmq-%s", p.ours, libType), func(t *testing.T) {
			t.Parallel()
			lib := newZMQLib(t)
			s := lib.socket(p.lib)
			mon := lib.monitor(s, zmq.EVENT_ALL)
			c, err := tryConnectRecorded(t, lib, s, nullConfig(p.ours, ""))
			check(t, c, err, mon)
			if p.lib == zmq.PUSH {
				nullCannotSend(t, s)
			}
		})
		t.Run(fmt.Sprintf("libzmq-client/our-%s-libzmq-%s", p.ours, libType), func(t *testing.T) {
			t.Parallel()
			lib := newZMQLib(t)
			srv := serveRecorded(t, nullConfig(p.ours, ""))
			s := lib.socket(p.lib)
			mon := lib.monitor(s, zmq.EVENT_ALL)
			must(t, s.Connect(srv.endpoint()))
			c := srv.accept()
			ctx, cancel := handshakeCtx()
			defer cancel()
			err := c.handshake(ctx)
			check(t, c, err, mon)
			if p.lib == zmq.PUSH {
				// The send may still land in the pipe of the dead
				// connection, which libzmq then drops: it goes nowhere.
				must(t, s.SetSndtimeo(100*time.Millisecond))
				_, err := s.Send("x", 0)
				t.Logf("libzmq PUSH send after the refusal: %v", err)
			}
			// No reconnection (RECONNECT_IVL is 50 ms).
			select {
			case c2 := <-srv.accepted:
				c2.Close()
				t.Fatalf("libzmq reconnected after the refusal (events %v)", mon.seen)
			case <-time.After(300 * time.Millisecond):
			}
			if es := mon.collect(10 * time.Millisecond); len(es) != 0 {
				t.Errorf("libzmq events after DISCONNECTED: %v", es)
			}
		})
	}
}

// nullCannotSend checks that a libzmq PUSH socket has nobody to send to.
func nullCannotSend(t *testing.T, s *zmq.Socket) {
	t.Helper()
	must(t, s.SetSndtimeo(100*time.Millisecond))
	if _, err := s.Send("x", 0); !isEAGAIN(err) {
		t.Errorf("libzmq PUSH send after the refusal: %v; want EAGAIN (no peer)", err)
	}
}

// ---------------------------------------------------------------------------
// long subscriptions

// TestNullLongSubscription: a topic of 250 bytes makes a SUBSCRIBE body of
// 260 bytes, which needs an 8-byte size. Ours is right and libzmq's PUB
// honours it. libzmq 4.3.4's own SUB gets it wrong (libzmq issue #4564,
// docs/libzmq-behaviour.md#zmtp-30-peers): it writes the 8-byte size without the LONG
// flag, so any strict peer, ours included, reads garbage from there on.
func TestNullLongSubscription(t *testing.T) {
	topic := strings.Repeat("T", 250)
	t.Run("our-SUB-libzmq-PUB", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s := libSocket(t, lib, zmq.PUB, "")
		c := connectRecorded(t, lib, s, nullConfig(zmtp.SUB, ""))
		c.subscribe(t, topic)
		ours := splitFrames(t, c.rec.Transcript().Stream(transcript.Ours))
		if f := ours[len(ours)-1]; f.flags != zmtp.FlagCommand || !f.long || string(f.body) != "\x09SUBSCRIBE"+topic {
			t.Fatalf("our SUBSCRIBE: flags %02x, long %v, body %q", byte(f.flags), f.long, f.body)
		}
		read, _ := nullPublish(t, s, c, topic, "T", topic)
		if len(read) != 1 {
			t.Fatalf("our SUB read %s before the subscribed topic", shortMsg(read[0]))
		}
	})
	t.Run("libzmq-SUB-our-PUB-libzmq-bug-4564", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s := libSocket(t, lib, zmq.SUB, "")
		must(t, s.SetSubscribe(topic))
		c := listenRecorded(t, lib, s, nullConfig(zmtp.PUB, ""))
		// libzmq's frame: flags 04 (no LONG), then an 8-byte size 260;
		// read as a short frame, that is an empty command (dropped, as
		// libzmq drops malformed commands), then empty data frames.
		c.expect(t, []byte{})
		stream := c.rec.Transcript().Stream(transcript.Peer)
		ready := splitFrames(t, stream)[0]
		at := zmtp.GreetingSize + 2 + len(ready.body)
		want := append([]byte("\x04\x00\x00\x00\x00\x00\x00\x01\x04\x09SUBSCRIBE"), topic[:8]...)
		if len(stream) < at+len(want) || !bytes.Equal(stream[at:at+len(want)], want) {
			t.Fatalf("libzmq's SUBSCRIBE frame starts %x; want %x (4.3.4's bug)", stream[at:min(len(stream), at+len(want))], want)
		}
	})
}

// ---------------------------------------------------------------------------
// message size limits

// TestNullMaxMessageSize: our MaxMessageSize and libzmq's ZMQ_MAXMSGSIZE
// bound every frame after the handshake, each on the frame's header.
func TestNullMaxMessageSize(t *testing.T) {
	t.Run("our-PULL-limit-libzmq-PUSH", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s := libSocket(t, lib, zmq.PUSH, "")
		cfg := nullConfig(zmtp.PULL, "")
		cfg.MaxMessageSize = 300
		c := listenRecorded(t, lib, s, cfg)
		ok := strMsg("small", strings.Repeat("x", 300))
		libSend(t, s, ok...)
		libSend(t, s, strMsg("big", strings.Repeat("y", 301))...)
		c.expect(t, ok...)
		_, err := c.tryRead(stepTimeout)
		var fe *zmtp.FrameTooLargeError
		if !errors.As(err, &fe) || !errors.Is(err, zmtp.ErrFrameTooLarge) {
			t.Fatalf("our read of a 301-byte frame with MaxMessageSize 300: %v; want a *zmtp.FrameTooLargeError", err)
		}
	})
	t.Run("our-PUSH-libzmq-PULL-limit", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s := libSocket(t, lib, zmq.PULL, "")
		must(t, s.SetMaxmsgsize(300))
		mon := lib.monitor(s, zmq.EVENT_ALL)
		c := connectRecorded(t, lib, s, nullConfig(zmtp.PUSH, ""))
		ok := strMsg("small", strings.Repeat("x", 300))
		c.write(t, ok...)
		sameMsg(t, "libzmq PULL received", libRecv(t, s), ok)
		c.write(t, strMsg("big", strings.Repeat("y", 301))...)
		// libzmq drops the connection: our next read sees it close.
		if _, err := c.tryRead(stepTimeout); !isClosed(err) {
			t.Fatalf("our read after libzmq's limit: %v; want the connection closed by libzmq", err)
		}
		if _, seen, found := mon.waitFor(zmq.EVENT_DISCONNECTED, stepTimeout); !found {
			t.Fatalf("libzmq events: %v; want DISCONNECTED", seen)
		}
		expectNothing(t, s, 50*time.Millisecond)
	})
}
