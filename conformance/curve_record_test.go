package conformance

// Known-answer transcripts of CURVE sessions between our side, with its
// randomness fixed, and libzmq 4.3.4. They are replayed without libzmq by
// mechanism/curve_replay_test.go.
//
// The sessions run on every test run (so the recorder cannot rot), and are
// written to ../mechanism/testdata only when ZMTPSEC_RECORD=1:
//
//	cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestCurveRecord' .
//
// libzmq's own randomness (its transient keys, cookie and nonces) is not
// fixed, so every recording differs from the last in libzmq's bytes (and in
// ours that depend on them); the replay checks each file against itself.
//
// File format, one item per line, fields separated by single spaces:
//
//	# comment
//	ours client|server            our role; the peer is libzmq
//	socket-type T                 our socket type
//	peer libzmq-4.3.4 T           the peer and its socket type
//	server-public Z85             the keys in use (public test keys)
//	server-secret Z85
//	client-public Z85
//	client-secret Z85
//	rand chacha8 HEX              our Config.Rand: math/rand/v2 ChaCha8 with this 32-byte seed
//	metadata HEX                  our metadata as we send it (INITIATE or READY)
//	greeting C|S HEX              the 64-byte greeting of the client (C) or the server (S)
//	C|S HEX                       one ZMTP frame after the greeting (flags, size, body) as
//	                              sent by the client (C) or the server (S), in wire order
//	plain C|S FLAGS HEX|-         the MESSAGE plaintext of the previous frame of that sender:
//	                              the inner flags byte and the payload ("-" if empty)

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// curveRecordDir is where the transcripts go, relative to conformance/.
const curveRecordDir = "../mechanism/testdata"

// curveScript is the exchange of every recorded session: the client sends
// the odd messages, the server the even ones, alternately. It has a
// multipart message, an empty frame and a long (> 255 bytes) frame.
var curveScript = [][][]byte{
	strMsg("hello"),
	strMsg("world"),
	{[]byte("multi"), {}, bytes.Repeat([]byte("x"), 300)},
	strMsg("part", "two"),
	strMsg("bye"),
	{{}},
}

// curveChunk is one Read or Write on the recorded connection.
type curveChunk struct {
	seq  int
	out  bool // written by our side
	data []byte
}

// curveRecConn records every byte that crosses a net.Conn, in order.
type curveRecConn struct {
	net.Conn
	mu     sync.Mutex
	seq    int
	chunks []curveChunk
}

func (c *curveRecConn) add(out bool, b []byte) {
	c.mu.Lock()
	c.seq++
	c.chunks = append(c.chunks, curveChunk{c.seq, out, append([]byte(nil), b...)})
	c.mu.Unlock()
}

func (c *curveRecConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.add(false, b[:n])
	}
	return n, err
}

// Write records before it writes, so a reply never appears before what it
// answers.
func (c *curveRecConn) Write(b []byte) (int, error) {
	c.add(true, b)
	return c.Conn.Write(b)
}

// curveWireFrame is one frame of a recorded stream.
type curveWireFrame struct {
	seq   int
	from  byte // 'C' or 'S'
	bytes []byte
	plain string // the "plain" line, if any
}

// curveSplit cuts one direction's bytes into the greeting and frames, each
// frame tagged with the sequence number of the chunk that completed it.
func curveSplit(t testing.TB, chunks []curveChunk, out bool, from byte) (greeting []byte, frames []curveWireFrame) {
	t.Helper()
	var stream []byte
	var ends []int // ends[i] = seq of the chunk holding stream byte i
	for _, ch := range chunks {
		if ch.out != out {
			continue
		}
		stream = append(stream, ch.data...)
		for range ch.data {
			ends = append(ends, ch.seq)
		}
	}
	if len(stream) < zmtp.GreetingSize {
		t.Fatalf("%c stream: %d bytes, no greeting", from, len(stream))
	}
	greeting, rest := stream[:zmtp.GreetingSize], stream[zmtp.GreetingSize:]
	off := zmtp.GreetingSize
	for len(rest) > 0 {
		_, size, hdr, ok, err := zmtp.ParseFrameHeader(rest)
		if err != nil || !ok || uint64(len(rest)-hdr) < size {
			t.Fatalf("%c stream: truncated frame at offset %d (%v)", from, off, err)
		}
		n := hdr + int(size)
		frames = append(frames, curveWireFrame{seq: ends[off+n-1], from: from, bytes: rest[:n]})
		rest, off = rest[n:], off+n
	}
	return greeting, frames
}

// curvePlain renders a MESSAGE plaintext for a "plain" line.
func curvePlain(flags byte, payload []byte) string {
	p := "-"
	if len(payload) > 0 {
		p = hex.EncodeToString(payload)
	}
	return fmt.Sprintf("%02x %s", flags, p)
}

// curvePlaintexts is what a sender's MESSAGE frames carry, in order: one
// (flags, payload) per message part of the messages it sent.
func curvePlaintexts(msgs [][][]byte) []string {
	var out []string
	for _, m := range msgs {
		for i, part := range m {
			var flags byte
			if i < len(m)-1 {
				flags = mechanism.MessageMore
			}
			out = append(out, curvePlain(flags, part))
		}
	}
	return out
}

// curveTranscript renders the recorded session.
type curveTranscript struct {
	title      string
	ourRole    string // "client" or "server"
	ourType    zmtp.SocketType
	peerType   string
	server     cert.KeyPair
	client     cert.KeyPair
	seed       [32]byte
	metadata   zmtp.Metadata
	clientMsgs [][][]byte // application messages the client sent
	serverMsgs [][][]byte
}

func (tr *curveTranscript) render(t testing.TB, rec *curveRecConn) []byte {
	t.Helper()
	rec.mu.Lock()
	chunks := append([]curveChunk(nil), rec.chunks...)
	rec.mu.Unlock()
	ourFrom, peerFrom := byte('C'), byte('S')
	if tr.ourRole == "server" {
		ourFrom, peerFrom = 'S', 'C'
	}
	ourGreeting, ours := curveSplit(t, chunks, true, ourFrom)
	peerGreeting, theirs := curveSplit(t, chunks, false, peerFrom)

	// The handshake is 2 frames each way (HELLO, INITIATE; WELCOME,
	// READY); every later frame is a MESSAGE, annotated with its plaintext.
	annotate := func(frames []curveWireFrame, msgs [][][]byte, from byte) {
		plains := curvePlaintexts(msgs)
		if len(frames) != 2+len(plains) {
			t.Fatalf("%c sent %d frames; want 2 handshake commands and %d MESSAGEs", from, len(frames), len(plains))
		}
		for i, p := range plains {
			frames[2+i].plain = p
		}
	}
	if ourFrom == 'C' {
		annotate(ours, tr.clientMsgs, 'C')
		annotate(theirs, tr.serverMsgs, 'S')
	} else {
		annotate(ours, tr.serverMsgs, 'S')
		annotate(theirs, tr.clientMsgs, 'C')
	}
	all := append(ours, theirs...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].seq < all[j].seq })

	greetings := map[byte][]byte{ourFrom: ourGreeting, peerFrom: peerGreeting}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", tr.title)
	b.WriteString("# Recorded against libzmq 4.3.4 (pebbe/zmq4) by conformance/curve_record_test.go:\n")
	b.WriteString("#   cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestCurveRecord' .\n")
	b.WriteString("# Replayed without libzmq by mechanism/curve_replay_test.go. Format: see curve_record_test.go.\n")
	fmt.Fprintf(&b, "ours %s\n", tr.ourRole)
	fmt.Fprintf(&b, "socket-type %s\n", tr.ourType)
	fmt.Fprintf(&b, "peer libzmq-4.3.4 %s\n", tr.peerType)
	fmt.Fprintf(&b, "server-public %s\n", tr.server.Public)
	fmt.Fprintf(&b, "server-secret %s\n", tr.server.Secret.Z85())
	fmt.Fprintf(&b, "client-public %s\n", tr.client.Public)
	fmt.Fprintf(&b, "client-secret %s\n", tr.client.Secret.Z85())
	fmt.Fprintf(&b, "rand chacha8 %x\n", tr.seed)
	fmt.Fprintf(&b, "metadata %x\n", tr.metadata.Append(nil))
	fmt.Fprintf(&b, "greeting C %x\n", greetings['C'])
	fmt.Fprintf(&b, "greeting S %x\n", greetings['S'])
	names := map[byte][]string{'C': {"HELLO", "INITIATE"}, 'S': {"WELCOME", "READY"}}
	seen := map[byte]int{}
	for _, f := range all {
		i := seen[f.from]
		seen[f.from]++
		if i < 2 {
			fmt.Fprintf(&b, "# %s\n", names[f.from][i])
		}
		fmt.Fprintf(&b, "%c %x\n", f.from, f.bytes)
		if f.plain != "" {
			fmt.Fprintf(&b, "plain %c %s\n", f.from, f.plain)
		}
	}
	return []byte(b.String())
}

// curveRecordOut writes the transcript when ZMTPSEC_RECORD=1, and otherwise
// only checks that it is well formed.
func curveRecordOut(t *testing.T, name string, data []byte) {
	t.Helper()
	if !bytes.Contains(data, []byte("\nplain C ")) || !bytes.Contains(data, []byte("\nplain S ")) {
		t.Fatalf("transcript %s has no MESSAGEs:\n%s", name, data)
	}
	if os.Getenv("ZMTPSEC_RECORD") != "1" {
		t.Logf("transcript %s: %d bytes (set ZMTPSEC_RECORD=1 to write it)", name, len(data))
		return
	}
	path := filepath.Join(curveRecordDir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

var (
	curveClientSeed = [32]byte([]byte("zmtpsec CURVE client transcript!"))
	curveServerSeed = [32]byte([]byte("zmtpsec CURVE server transcript!"))
)

// TestCurveRecordClient: our DEALER client, randomness fixed, against a
// libzmq ROUTER CURVE server.
func TestCurveRecordClient(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), docClient(t)
	lib := newZMQLib(t)
	router := lib.curveServer(zmq.ROUTER, srvKeys)
	must(t, router.SetIdentity("LIBZMQ-ROUTER"))
	ep := lib.bind(router)

	cfg := curveClientConfig(t, srvKeys.Public, cliKeys, zmtp.DEALER)
	cfg.Identity = []byte("GO-DEALER")
	cfg.Metadata = zmtp.Metadata{{Name: "X-Transcript", Value: []byte("client")}}
	cfg.Rand = seededRand(curveClientSeed)
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &curveRecConn{Conn: nc}
	c := transport.Client(rec, cfg)
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatalf("our client: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var clientMsgs, serverMsgs [][][]byte
	for i := 0; i < len(curveScript); i += 2 {
		up, down := curveScript[i], curveScript[i+1]
		if err := c.WriteMessage(up); err != nil {
			t.Fatal(err)
		}
		got, err := router.RecvMessageBytes(0)
		if err != nil || len(got) < 1 || string(got[0]) != "GO-DEALER" || !equalMsg(got[1:], up) {
			t.Fatalf("libzmq got %q, %v", got, err)
		}
		if _, err := router.SendMessage("GO-DEALER", down); err != nil {
			t.Fatal(err)
		}
		back, err := c.ReadMessage(nil)
		if err != nil || !equalMsg(back, down) {
			t.Fatalf("our client got %q, %v", back, err)
		}
		clientMsgs, serverMsgs = append(clientMsgs, up), append(serverMsgs, down)
	}
	c.Close()
	tr := &curveTranscript{
		title:   "Our CURVE client (DEALER) against a libzmq 4.3.4 CURVE server (ROUTER, routing id LIBZMQ-ROUTER, no ZAP).",
		ourRole: "client", ourType: zmtp.DEALER, peerType: "ROUTER",
		server: srvKeys, client: cliKeys, seed: curveClientSeed,
		metadata: zmtp.Metadata{
			{Name: zmtp.PropSocketType, Value: []byte("DEALER")},
			{Name: zmtp.PropIdentity, Value: []byte("GO-DEALER")},
			cfg.Metadata[0],
		},
		clientMsgs: clientMsgs, serverMsgs: serverMsgs,
	}
	curveRecordOut(t, "curve-client-dealer-libzmq-router.txt", tr.render(t, rec))
}

// TestCurveRecordServer: a libzmq DEALER client against our ROUTER CURVE
// server, our randomness fixed.
func TestCurveRecordServer(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), docClient(t)
	cfg := curveServerConfig(t, srvKeys, zmtp.ROUTER)
	cfg.Identity = []byte("GO-ROUTER")
	cfg.Metadata = zmtp.Metadata{{Name: "X-Transcript", Value: []byte("server")}}
	cfg.Rand = seededRand(curveServerSeed)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()

	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.DEALER, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
	must(t, cli.SetIdentity("LIBZMQ-DEALER"))
	must(t, cli.SetReconnectIvl(-1)) // one connection only
	must(t, cli.Connect("tcp://"+nl.Addr().String()))
	nc, err := nl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rec := &curveRecConn{Conn: nc}
	c := transport.Server(rec, cfg)
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatalf("our server: %v", err)
	}
	if st := c.ConnectionState(); string(st.PeerIdentity) != "LIBZMQ-DEALER" {
		t.Errorf("peer identity %q", st.PeerIdentity)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var clientMsgs, serverMsgs [][][]byte
	for i := 0; i < len(curveScript); i += 2 {
		up, down := curveScript[i], curveScript[i+1]
		if _, err := cli.SendMessage(up); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMessage(nil)
		if err != nil || !equalMsg(got, up) {
			t.Fatalf("our server got %q, %v", got, err)
		}
		if err := c.WriteMessage(down); err != nil {
			t.Fatal(err)
		}
		back, err := cli.RecvMessageBytes(0)
		if err != nil || !equalMsg(back, down) {
			t.Fatalf("libzmq got %q, %v", back, err)
		}
		clientMsgs, serverMsgs = append(clientMsgs, up), append(serverMsgs, down)
	}
	c.Close()
	tr := &curveTranscript{
		title:   "A libzmq 4.3.4 CURVE client (DEALER, routing id LIBZMQ-DEALER) against our CURVE server (ROUTER, no ZAP).",
		ourRole: "server", ourType: zmtp.ROUTER, peerType: "DEALER",
		server: srvKeys, client: cliKeys, seed: curveServerSeed,
		metadata: zmtp.Metadata{
			{Name: zmtp.PropSocketType, Value: []byte("ROUTER")},
			{Name: zmtp.PropIdentity, Value: []byte("GO-ROUTER")},
			cfg.Metadata[0],
		},
		clientMsgs: clientMsgs, serverMsgs: serverMsgs,
	}
	curveRecordOut(t, "curve-server-router-libzmq-dealer.txt", tr.render(t, rec))
}
