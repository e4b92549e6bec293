package conformance

// Recorded NULL sessions with libzmq 4.3.4, replayed without libzmq by
// transport/replay_test.go: our side runs again on a transcript.Replay with
// the same Config and must write the same bytes and read the same messages.
//
// The scenarios run on every test run, and each fresh recording is replayed
// here at once (so that a scenario whose bytes depend on timing fails here,
// not later as a flaky replay). They are written to
// ../transport/testdata/transcripts only when ZMTPSEC_RECORD=1:
//
//	cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestNullRecord' .
//
// Only scenarios whose bytes on our side are fixed by the order of events
// are recorded: our side never sends heartbeats (their timing would show),
// and every read of ours is synchronous and noted, so that a replay reads
// exactly as often as the recording did.
//
// Notes ("@" lines) the replay understands, in order:
//
//	role client|server          Client or Server on the replay conn
//	socket-type T               Config.SocketType
//	identity "ID"               Config.Identity (none: empty)
//	handshake M.m               HandshakeContext succeeded; the peer spoke ZMTP M.m
//	peer-socket-type T          ConnectionState().PeerSocketType
//	peer-identity "ID"          ConnectionState().PeerIdentity (none: nil)
//	write "F1" "F2" ...         WriteMessage with these frames (Go-quoted)
//	subscribe "T"               Subscribe(T); unsubscribe "T" is Unsubscribe
//	read "F1" "F2" ...          ReadMessage returned exactly these frames

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/internal/transcript"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// nullRecordDir is where the transcripts go, relative to conformance/.
const nullRecordDir = "../transport/testdata/transcripts"

type nullRecordCase struct {
	file  string // in nullRecordDir
	about string // one line for the header
	run   func(t *testing.T, lib *zmqLib) *recConn
}

var nullRecordCases = []nullRecordCase{
	{
		"null-client-dealer-libzmq-router.txt",
		"our DEALER (routing id GO-DEALER) connects to a libzmq ROUTER (routing id LIB-ROUTER) that binds; multipart messages with empty, 255- and 256-byte frames each way",
		func(t *testing.T, lib *zmqLib) *recConn {
			s := libSocket(t, lib, zmq.ROUTER, "LIB-ROUTER")
			c := connectRecorded(t, lib, s, nullConfig(zmtp.DEALER, "GO-DEALER"))
			for i, msg := range nullRecordMessages("dealer", "router") {
				if i%2 == 0 {
					c.write(t, msg...)
					sameMsg(t, "libzmq ROUTER received", libRecv(t, s), appendParts(strMsg("GO-DEALER"), msg...))
				} else {
					libSend(t, s, appendParts(strMsg("GO-DEALER"), msg...)...)
					c.expect(t, msg...)
				}
			}
			return c
		},
	},
	{
		"null-server-router-libzmq-dealer.txt",
		"a libzmq DEALER (routing id LIB-DEALER) connects to our ROUTER; multipart messages with empty, 255- and 256-byte frames each way",
		func(t *testing.T, lib *zmqLib) *recConn {
			s := libSocket(t, lib, zmq.DEALER, "LIB-DEALER")
			c := listenRecorded(t, lib, s, nullConfig(zmtp.ROUTER, ""))
			for i, msg := range nullRecordMessages("dealer", "router") {
				if i%2 == 0 {
					libSend(t, s, msg...)
					c.expect(t, msg...)
				} else {
					c.write(t, msg...)
					sameMsg(t, "libzmq DEALER received", libRecv(t, s), msg)
				}
			}
			return c
		},
	},
	{
		"null-client-sub-libzmq-pub.txt",
		`our SUB connects to a libzmq PUB that binds and subscribes to "A"; libzmq publishes [B i] and [A i] every 2 ms until our first A arrives, then [B end] and [A end]: only A messages cross the wire`,
		func(t *testing.T, lib *zmqLib) *recConn {
			s := libSocket(t, lib, zmq.PUB, "")
			c := connectRecorded(t, lib, s, nullConfig(zmtp.SUB, ""))
			c.subscribe(t, "A")
			read, rounds := nullPublish(t, s, c, "A", "B", "A")
			if len(read) != 1 {
				t.Fatalf("read %d messages before the first A", len(read))
			}
			for i := nullIndex(t, read[0]) + 1; i < rounds; i++ {
				c.expect(t, strMsg("A", fmt.Sprint(i))...)
			}
			libSend(t, s, strMsg("B", "end")...)
			libSend(t, s, strMsg("A", "end")...)
			c.expect(t, strMsg("A", "end")...)
			return c
		},
	},
	{
		"null-server-pub-libzmq-sub.txt",
		`a libzmq SUB subscribed to "A" connects to our PUB; its SUBSCRIBE command reaches us as [0x01 'A'], and we publish a matching message`,
		func(t *testing.T, lib *zmqLib) *recConn {
			s := libSocket(t, lib, zmq.SUB, "")
			must(t, s.SetSubscribe("A"))
			c := listenRecorded(t, lib, s, nullConfig(zmtp.PUB, ""))
			c.expect(t, []byte("\x01A"))
			msg := strMsg("A", "news", "")
			c.write(t, msg...)
			sameMsg(t, "libzmq SUB received", libRecv(t, s), msg)
			return c
		},
	},
	{
		"null-server-router-libzmq-dealer-heartbeats.txt",
		"a libzmq DEALER with ZMQ_HEARTBEAT_IVL 100 ms, HEARTBEAT_TIMEOUT 300 ms and HEARTBEAT_TTL 1 s connects to our ROUTER; our read waits about 350 ms, answering each PING with a PONG, for its message; we reply",
		func(t *testing.T, lib *zmqLib) *recConn {
			s := libSocket(t, lib, zmq.DEALER, "HB")
			must(t, s.SetHeartbeatIvl(100*time.Millisecond))
			must(t, s.SetHeartbeatTimeout(300*time.Millisecond))
			must(t, s.SetHeartbeatTtl(time.Second))
			c := listenRecorded(t, lib, s, nullConfig(zmtp.ROUTER, ""))
			sent := make(chan error, 1)
			go func() {
				time.Sleep(350 * time.Millisecond)
				_, err := s.SendMessage("after", "pings")
				sent <- err
			}()
			msg, err := c.tryRead(stepTimeout)
			if serr := <-sent; serr != nil {
				t.Fatal(serr)
			}
			if err != nil {
				t.Fatal(err)
			}
			sameMsg(t, "our ROUTER read", msg, strMsg("after", "pings"))
			c.write(t, strMsg("pong", "")...)
			sameMsg(t, "libzmq DEALER received", libRecv(t, s), strMsg("pong", ""))
			pings, _ := nullCount(t, c.peerFrames(t), zmtp.CmdPing, []byte("after"))
			if pings < 2 {
				t.Fatalf("libzmq sent %d PINGs before its message; want several", pings)
			}
			return c
		},
	},
}

// nullRecordMessages alternates between the two sides: a plain message, one
// with an empty, a 255-byte and a 256-byte frame, and an empty message.
func nullRecordMessages(a, b string) [][][]byte {
	return [][][]byte{
		strMsg("hello from " + a),
		strMsg("hello from "+b, "two", "parts"),
		{[]byte("sizes"), {}, bytes.Repeat([]byte("a"), 255), bytes.Repeat([]byte("b"), 256)},
		{[]byte("sizes"), bytes.Repeat([]byte("c"), 256), bytes.Repeat([]byte("d"), 255), {}},
		{{}},
		strMsg("bye"),
	}
}

func TestNullRecord(t *testing.T) {
	record := os.Getenv("ZMTPSEC_RECORD") == "1"
	major, minor, patch := zmq.Version()
	for _, tc := range nullRecordCases {
		name := strings.TrimSuffix(tc.file, ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := tc.run(t, newZMQLib(t))
			tr := nullAnnotate(t, c.rec.Transcript(
				"zmtpsec NULL transcript: "+tc.about+".",
				fmt.Sprintf("Recorded against libzmq %d.%d.%d (github.com/pebbe/zmq4 v1.4.0) by conformance/null_record_test.go,", major, minor, patch),
				"TestNullRecord/"+name+"; record again with",
				"  cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestNullRecord' .",
				"Replayed without libzmq by transport/replay_test.go. Lines: '>' bytes we wrote, '<' bytes libzmq wrote,",
				"'@' our side's configuration and actions, '#' comments (package internal/transcript).",
			))
			text := tr.Format()
			again, err := transcript.Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			nullReplay(t, again)
			if record {
				path := filepath.Join(nullRecordDir, tc.file)
				if err := os.MkdirAll(nullRecordDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, text, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", path)
			}
		})
	}
}

// nullReplay replays a transcript with our side only, as
// transport/replay_test.go does, to prove a fresh recording replays.
func nullReplay(t *testing.T, tr *transcript.Transcript) {
	t.Helper()
	rp := transcript.NewReplay(tr)
	defer rp.Close()
	var cfg transport.Config
	var role string
	var c *transport.Conn
	for _, note := range tr.Notes() {
		verb, args, err := transcript.SplitNote(note)
		if err != nil {
			t.Fatal(err)
		}
		frames := make([][]byte, len(args))
		for i, a := range args {
			frames[i] = []byte(a)
		}
		switch verb {
		case "role":
			role = args[0]
		case "socket-type":
			cfg.SocketType = zmtp.SocketType(args[0])
		case "identity":
			cfg.Identity = frames[0]
		case "handshake":
			if role == "client" {
				c = transport.Client(rp, &cfg)
			} else {
				c = transport.Server(rp, &cfg)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(stepTimeout))
			if err := c.HandshakeContext(context.Background()); err != nil {
				t.Fatalf("replay: handshake: %v (%v)", err, rp.Check())
			}
			st := c.ConnectionState()
			if v := fmt.Sprintf("%d.%d", st.PeerMajor, st.PeerMinor); v != args[0] {
				t.Fatalf("replay: peer version %s, recorded %s", v, args[0])
			}
		case "peer-socket-type":
			if got := c.ConnectionState().PeerSocketType; string(got) != args[0] {
				t.Fatalf("replay: PeerSocketType %q, recorded %q", got, args[0])
			}
		case "peer-identity":
			if got := c.ConnectionState().PeerIdentity; string(got) != args[0] {
				t.Fatalf("replay: PeerIdentity %q, recorded %q", got, args[0])
			}
		case "write":
			if err := c.WriteMessage(frames); err != nil {
				t.Fatalf("replay: write: %v", err)
			}
		case "subscribe":
			if err := c.Subscribe(frames[0]); err != nil {
				t.Fatalf("replay: subscribe: %v", err)
			}
		case "unsubscribe":
			if err := c.Unsubscribe(frames[0]); err != nil {
				t.Fatalf("replay: unsubscribe: %v", err)
			}
		case "read":
			msg, err := c.ReadMessage(nil)
			if err != nil {
				t.Fatalf("replay: read: %v (%v)", err, rp.Check())
			}
			sameMsg(t, "replay: read", msg, frames)
		default:
			t.Fatalf("replay: unknown note %q", note)
		}
	}
	if err := rp.Check(); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// nullAnnotate puts a comment before the first bytes of every greeting and
// frame of a transcript, saying what it is; the bytes are unchanged (a
// record may be split in two where a frame starts).
func nullAnnotate(t *testing.T, tr *transcript.Transcript) *transcript.Transcript {
	t.Helper()
	type item struct {
		start int
		about string
	}
	items := map[transcript.Kind][]item{}
	for _, k := range []transcript.Kind{transcript.Ours, transcript.Peer} {
		who := "we"
		if k == transcript.Peer {
			who = "libzmq"
		}
		stream := tr.Stream(k)
		if len(stream) == 0 {
			continue
		}
		if len(stream) < zmtp.GreetingSize {
			items[k] = append(items[k], item{0, who + ": part of a greeting"})
			continue
		}
		g := stream[:zmtp.GreetingSize]
		items[k] = append(items[k], item{0, fmt.Sprintf("%s: greeting, ZMTP %d.%d, mechanism %s, padding %x, as-server %d",
			who, g[10], g[11], bytes.TrimRight(g[12:32], "\x00"), g[1:9], g[32])})
		for off := zmtp.GreetingSize; off < len(stream); {
			flags, size, hdr, ok, err := zmtp.ParseFrameHeader(stream[off:])
			if err != nil {
				t.Fatalf("%s's stream at %d: %v", who, off, err)
			}
			if !ok || uint64(len(stream)-off-hdr) < size {
				items[k] = append(items[k], item{off, who + ": the start of a frame (the rest was never read)"})
				break
			}
			body := stream[off+hdr : off+hdr+int(size)]
			items[k] = append(items[k], item{off, who + ": " + nullDescribe(flags, hdr == 9, body)})
			off += hdr + int(size)
		}
	}
	out := &transcript.Transcript{}
	pos := map[transcript.Kind]int{}
	next := map[transcript.Kind]int{}
	for _, r := range tr.Records {
		if r.Kind != transcript.Ours && r.Kind != transcript.Peer {
			out.Records = append(out.Records, r)
			continue
		}
		data := r.Data
		for len(data) > 0 {
			its := items[r.Kind]
			i := next[r.Kind]
			if i < len(its) && its[i].start == pos[r.Kind] {
				out.Records = append(out.Records, transcript.Record{Kind: transcript.Comment, Text: its[i].about})
				i++
				next[r.Kind] = i
			}
			n := len(data)
			if i < len(its) && its[i].start-pos[r.Kind] < n {
				n = its[i].start - pos[r.Kind]
			}
			out.Records = append(out.Records, transcript.Record{Kind: r.Kind, Data: data[:n]})
			data = data[n:]
			pos[r.Kind] += n
		}
	}
	return out
}

// nullDescribe says what a frame is, in one line.
func nullDescribe(flags zmtp.Flags, long bool, body []byte) string {
	size := fmt.Sprintf("%d bytes", len(body))
	if long {
		size += ", 8-byte size"
	}
	if flags&zmtp.FlagCommand == 0 {
		more := ""
		if flags&zmtp.FlagMore != 0 {
			more = ", MORE"
		}
		return fmt.Sprintf("message frame (%s%s) %s", size, more, nullQuote(body))
	}
	cmd, err := zmtp.ParseCommand(body)
	if err != nil {
		return fmt.Sprintf("command frame (%s), malformed: %v", size, err)
	}
	switch cmd.Name {
	case zmtp.CmdReady:
		md, err := zmtp.ParseMetadata(cmd.Data)
		if err != nil {
			return fmt.Sprintf("READY (%s), bad metadata: %v", size, err)
		}
		var props []string
		for _, p := range md {
			props = append(props, p.Name+"="+nullQuote(p.Value))
		}
		return fmt.Sprintf("READY (%s) %s", size, strings.Join(props, " "))
	case zmtp.CmdPing:
		if len(cmd.Data) >= 2 {
			return fmt.Sprintf("PING, TTL %d deciseconds, context %s", binary.BigEndian.Uint16(cmd.Data), nullQuote(cmd.Data[2:]))
		}
	case zmtp.CmdPong, zmtp.CmdSubscribe, zmtp.CmdCancel:
		return fmt.Sprintf("%s %s", cmd.Name, nullQuote(cmd.Data))
	}
	return fmt.Sprintf("%s command (%s)", cmd.Name, size)
}

// nullQuote quotes a frame, cutting it short past 24 bytes.
func nullQuote(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%q... (%d bytes)", b[:24], len(b))
	}
	return fmt.Sprintf("%q", b)
}
