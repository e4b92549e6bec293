package mechanism

// Replays the CURVE sessions recorded against libzmq 4.3.4 in
// testdata/curve-*.txt (written by conformance/curve_record_test.go; the
// format is described there). Our side's randomness was a seeded ChaCha8
// stream, so our handshake, given the same keys, seed, metadata and the
// recorded libzmq commands, must produce the recorded commands byte for
// byte; then the recorded libzmq MESSAGEs must open to the recorded
// plaintexts, and ours must seal to the recorded bytes. No libzmq needed.
//
// To record again (needs libzmq):
//
//	cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestCurveRecord' .

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// transcript is one parsed testdata/curve-*.txt file.
type transcript struct {
	ours       string // "client" or "server"
	socketType zmtp.SocketType
	peerType   zmtp.SocketType
	server     cert.KeyPair
	client     cert.KeyPair
	seed       [32]byte
	metadata   zmtp.Metadata
	greeting   map[byte][]byte
	frames     map[byte][]*transcriptFrame // by sender, 'C' or 'S', in wire order
}

type transcriptFrame struct {
	line  int
	raw   []byte // the whole frame: flags, size, body
	flags zmtp.Flags
	body  []byte
	plain *transcriptPlain // for a MESSAGE
}

type transcriptPlain struct {
	flags   byte
	payload []byte
}

func readTranscript(t *testing.T, path string) *transcript {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &transcript{greeting: map[byte][]byte{}, frames: map[byte][]*transcriptFrame{}}
	var serverPub, serverSec, clientPub, clientSec string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, " ")
		fail := func(format string, args ...any) {
			t.Fatalf("%s:%d: %s", path, n, fmt.Sprintf(format, args...))
		}
		unhex := func(s string) []byte {
			b, err := hex.DecodeString(s)
			if err != nil {
				fail("%v", err)
			}
			return b
		}
		want := func(k int) {
			if len(fields) != k {
				fail("%d fields, want %d", len(fields), k)
			}
		}
		sender := func(s string) byte {
			if s != "C" && s != "S" {
				fail("sender %q", s)
			}
			return s[0]
		}
		switch fields[0] {
		case "ours":
			want(2)
			tr.ours = fields[1]
		case "socket-type":
			want(2)
			tr.socketType = zmtp.SocketType(fields[1])
		case "peer":
			want(3)
			tr.peerType = zmtp.SocketType(fields[2])
		case "server-public":
			want(2)
			serverPub = fields[1]
		case "server-secret":
			want(2)
			serverSec = fields[1]
		case "client-public":
			want(2)
			clientPub = fields[1]
		case "client-secret":
			want(2)
			clientSec = fields[1]
		case "rand":
			want(3)
			if fields[1] != "chacha8" {
				fail("rand %q", fields[1])
			}
			seed := unhex(fields[2])
			if len(seed) != 32 {
				fail("seed of %d bytes", len(seed))
			}
			tr.seed = [32]byte(seed)
		case "metadata":
			want(2)
			md, err := zmtp.ParseMetadata(unhex(fields[1]))
			if err != nil {
				fail("%v", err)
			}
			tr.metadata = md
		case "greeting":
			want(3)
			tr.greeting[sender(fields[1])] = unhex(fields[2])
		case "C", "S":
			want(2)
			raw := unhex(fields[1])
			flags, size, hdr, ok, err := zmtp.ParseFrameHeader(raw)
			if err != nil || !ok || uint64(len(raw)-hdr) != size {
				fail("not one frame (%v)", err)
			}
			s := sender(fields[0])
			tr.frames[s] = append(tr.frames[s], &transcriptFrame{line: n, raw: raw, flags: flags, body: raw[hdr:]})
		case "plain":
			want(4)
			s := sender(fields[1])
			fs := tr.frames[s]
			if len(fs) == 0 || fs[len(fs)-1].plain != nil {
				fail("plain line without its frame")
			}
			fl, err := strconv.ParseUint(fields[2], 16, 8)
			if err != nil {
				fail("%v", err)
			}
			p := &transcriptPlain{flags: byte(fl), payload: []byte{}}
			if fields[3] != "-" {
				p.payload = unhex(fields[3])
			}
			fs[len(fs)-1].plain = p
		default:
			fail("unknown line %q", fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	tr.server = testkeys.FromZ85(t, serverPub, serverSec)
	tr.client = testkeys.FromZ85(t, clientPub, clientSec)
	if tr.ours != "client" && tr.ours != "server" {
		t.Fatalf("%s: ours %q", path, tr.ours)
	}
	for _, s := range []byte("CS") {
		if len(tr.greeting[s]) != zmtp.GreetingSize || len(tr.frames[s]) < 3 {
			t.Fatalf("%s: sender %c: greeting of %d bytes, %d frames", path, s, len(tr.greeting[s]), len(tr.frames[s]))
		}
		for i, f := range tr.frames[s] {
			if (i < 2) != (f.plain == nil) {
				t.Fatalf("%s:%d: the first two frames of each side are handshake commands, the rest MESSAGEs with a plain line", path, f.line)
			}
		}
	}
	return tr
}

// senders returns our and the peer's sender letter.
func (tr *transcript) senders() (ours, peer byte) {
	if tr.ours == "client" {
		return 'C', 'S'
	}
	return 'S', 'C'
}

// replayHandshake runs our side of the recorded handshake, checking every
// command it produces against the recording, and returns the finished
// handshake.
func (tr *transcript) replayHandshake(t *testing.T) Handshake {
	t.Helper()
	var m Mechanism
	var err error
	if tr.ours == "client" {
		m, err = CurveClient(tr.server.Public, tr.client)
	} else {
		m, err = CurveServer(tr.server)
	}
	if err != nil {
		t.Fatal(err)
	}
	hs, err := m.NewHandshake(Params{Metadata: tr.metadata, Rand: rand.NewChaCha8(tr.seed)})
	if err != nil {
		t.Fatal(err)
	}
	ourFrom, peerFrom := tr.senders()
	ours, peer := tr.frames[ourFrom][:2], tr.frames[peerFrom][:2]
	ctx := context.Background()
	next := 0
	check := func(out []zmtp.Command) {
		t.Helper()
		for _, cmd := range out {
			if next >= len(ours) {
				t.Fatalf("our side sent an extra %s", cmd.Name)
			}
			want := ours[next]
			next++
			got := cmd.Append(zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, cmd.Len()))
			if !bytes.Equal(got, want.raw) {
				t.Fatalf("line %d: our %s differs from the recording:\n got %x\nwant %x", want.line, cmd.Name, got, want.raw)
			}
		}
	}
	out, err := hs.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check(out)
	for _, f := range peer {
		if f.flags&zmtp.FlagCommand == 0 {
			t.Errorf("line %d: libzmq sent a handshake command in a data frame", f.line)
		}
		cmd, err := zmtp.ParseCommand(f.body)
		if err != nil {
			t.Fatalf("line %d: %v", f.line, err)
		}
		out, err := hs.Handle(ctx, cmd)
		if err != nil {
			t.Fatalf("line %d: %s: %v", f.line, cmd.Name, err)
		}
		check(out)
	}
	if next != len(ours) || !hs.Done() {
		t.Fatalf("handshake: %d of %d commands sent, done %v", next, len(ours), hs.Done())
	}
	return hs
}

func TestCurveReplayLibzmqTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "curve-*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d transcripts in testdata; want the client and the server one", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tr := readTranscript(t, path)
			ourFrom, peerFrom := tr.senders()

			// Our greeting is fixed; libzmq's announces CURVE, ZMTP 3.1.
			wantGreeting := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: CurveName, AsServer: tr.ours == "server"}.Append(nil)
			if !bytes.Equal(tr.greeting[ourFrom], wantGreeting) {
				t.Errorf("our greeting %x, want %x", tr.greeting[ourFrom], wantGreeting)
			}
			if g, err := zmtp.ParseGreeting(tr.greeting[peerFrom]); err != nil || g.Mechanism != CurveName || g.Major != 3 || g.Minor != 1 || g.AsServer {
				t.Errorf("libzmq's greeting %+v, %v", g, err)
			}

			hs := tr.replayHandshake(t)
			sess := hs.Session()
			if v, _ := sess.PeerMetadata.GetExact(zmtp.PropSocketType); string(v) != string(tr.peerType) {
				t.Errorf("libzmq's Socket-Type %q, want %q", v, tr.peerType)
			}
			wantKey := tr.client.Public
			if tr.ours == "client" {
				wantKey = tr.server.Public
			}
			if sess.PeerPublicKey == nil || *sess.PeerPublicKey != wantKey {
				t.Errorf("PeerPublicKey %v, want %v", sess.PeerPublicKey, wantKey)
			}

			// libzmq's MESSAGEs open to the recorded plaintexts. libzmq
			// sends them in data frames (docs/libzmq-behaviour.md#curve-message-frames).
			for _, f := range tr.frames[peerFrom][2:] {
				if f.flags&(zmtp.FlagCommand|zmtp.FlagMore) != 0 {
					t.Errorf("line %d: libzmq's MESSAGE frame has flags %#x; want a plain data frame", f.line, byte(f.flags))
				}
				flags, payload, err := sess.Opener.Open(nil, f.body)
				if err != nil {
					t.Fatalf("line %d: opening libzmq's MESSAGE: %v", f.line, err)
				}
				if flags != f.plain.flags || !bytes.Equal(payload, f.plain.payload) {
					t.Errorf("line %d: opened flags %#x payload %q; recorded %#x %q", f.line, flags, payload, f.plain.flags, f.plain.payload)
				}
			}
			// Ours seal to the recorded bytes, frame header included.
			for _, f := range tr.frames[ourFrom][2:] {
				hdr := zmtp.AppendFrameHeader(nil, 0, SealedSize(len(f.plain.payload)))
				got, err := sess.Sealer.Seal(hdr, f.plain.flags, f.plain.payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, f.raw) {
					t.Errorf("line %d: our MESSAGE differs from the recording:\n got %x\nwant %x", f.line, got, f.raw)
				}
			}
		})
	}
}

// TestCurveReplayLibzmqTranscriptsTampered replays each recorded session
// again and feeds our Opener a libzmq MESSAGE with one byte changed, then one
// twice: both are refused, and a refusal leaves the Opener usable.
func TestCurveReplayLibzmqTranscriptsTampered(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "curve-*.txt"))
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tr := readTranscript(t, path)
			_, peerFrom := tr.senders()
			sess := tr.replayHandshake(t).Session()
			msgs := tr.frames[peerFrom][2:]
			first := msgs[0].body
			for _, i := range []int{16, len(first) - 1} { // first tag byte, last ciphertext byte
				bad := bytes.Clone(first)
				bad[i] ^= 0x01
				if _, _, err := sess.Opener.Open(nil, bad); !errors.Is(err, ErrDecrypt) {
					t.Errorf("byte %d flipped: %v; want ErrDecrypt", i, err)
				}
			}
			if _, _, err := sess.Opener.Open(nil, first); err != nil {
				t.Fatalf("the genuine MESSAGE after refusals: %v", err)
			}
			if _, _, err := sess.Opener.Open(nil, first); !errors.Is(err, ErrNonceReplay) {
				t.Errorf("the same MESSAGE twice: %v; want ErrNonceReplay", err)
			}
			if len(msgs) > 2 {
				// Skipping one is allowed (libzmq accepts gaps); going back is not.
				if _, _, err := sess.Opener.Open(nil, msgs[2].body); err != nil {
					t.Errorf("a later MESSAGE after a gap: %v", err)
				}
				if _, _, err := sess.Opener.Open(nil, msgs[1].body); !errors.Is(err, ErrNonceReplay) {
					t.Errorf("an earlier MESSAGE after a later one: %v; want ErrNonceReplay", err)
				}
			}
		})
	}
}
