package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The tests of this file run toyGSS (gssapi_toy_test.go), a mechanism with
// the wire shape of libzmq's GSSAPI written against the public mechanism
// API, through the transport: what an out-of-module mechanism needs of it.

const (
	toyPrincipal = "alice@ZMTP.TEST"
	toyService   = "zmqtest/localhost"
)

// toyTrailers are the two overheads the tests run with: 73 and 85 bytes a
// frame, as GSSAPI's with aes-sha1 and aes-sha384.
var toyTrailers = []struct {
	name    string
	trailer int
}{{"overhead73", 44}, {"overhead85", 56}}

// zapLog is a ZAP handler that records copies of its requests and answers
// with status, user id "u:" + the first credential.
type zapLog struct {
	mu     sync.Mutex
	status zap.StatusCode
	reqs   []zap.Request
}

func (z *zapLog) Authenticate(_ context.Context, req *zap.Request) (*zap.Reply, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	c := *req
	c.Credentials = nil
	for _, b := range req.Credentials {
		c.Credentials = append(c.Credentials, bytes.Clone(b))
	}
	z.reqs = append(z.reqs, c)
	rep := &zap.Reply{Version: zap.Version, RequestID: req.RequestID, StatusCode: z.status, StatusText: "text"}
	if z.status == zap.StatusOK && len(req.Credentials) > 0 {
		rep.UserID = "u:" + string(req.Credentials[0])
	}
	return rep, nil
}

func (z *zapLog) requests() []zap.Request {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]zap.Request(nil), z.reqs...)
}

// TestGSSAPIToySession: a toy GSSAPI client and server shake hands over TCP
// and net.Pipe, with the server asking ZAP (one credential: the
// principal), then carry multipart messages both ways, an empty frame and
// a long one among them, each frame sealed by the session's own Sealer
// (whose sequence numbers went on from the READYs: the strict Opener
// would fail otherwise).
func TestGSSAPIToySession(t *testing.T) {
	for _, p := range netPipes {
		for _, tr := range toyTrailers {
			t.Run(p.name+"/"+tr.name, func(t *testing.T) {
				checkGoroutines(t)
				zl := &zapLog{status: zap.StatusOK}
				ccfg := &Config{Mechanism: toyClient(toyPrincipal, toyService, tr.trailer), SocketType: zmtp.DEALER}
				scfg := &Config{Mechanism: toyServer(toyService, tr.trailer), SocketType: zmtp.ROUTER, ZAPHandler: zl, ZAPDomain: "global"}
				if err := scfg.Validate(); err != nil {
					t.Fatalf("a GSSAPI server with ZAP: %v", err)
				}
				a, b := p.mk(t)
				c, s := handshaken(t, a, b, ccfg, scfg)

				cs, ss := c.ConnectionState(), s.ConnectionState()
				if cs.Mechanism != "GSSAPI" || ss.Mechanism != "GSSAPI" {
					t.Errorf("Mechanism = %q, %q", cs.Mechanism, ss.Mechanism)
				}
				if ss.PeerPrincipal != toyPrincipal || cs.PeerPrincipal != toyService {
					t.Errorf("PeerPrincipal: server sees %q, client sees %q", ss.PeerPrincipal, cs.PeerPrincipal)
				}
				if ss.UserID != "u:"+toyPrincipal || ss.PeerSocketType != zmtp.DEALER || cs.PeerSocketType != zmtp.ROUTER {
					t.Errorf("server state %+v, client state %+v", ss, cs)
				}
				reqs := zl.requests()
				wantAddr := ""
				if p.name == "tcp" {
					wantAddr = "127.0.0.1"
				}
				if len(reqs) != 1 || reqs[0].Mechanism != "GSSAPI" || string(reqs[0].RequestID) != "1" ||
					reqs[0].Domain != "global" || reqs[0].Address != wantAddr ||
					len(reqs[0].Credentials) != 1 || string(reqs[0].Credentials[0]) != toyPrincipal {
					t.Fatalf("ZAP requests %+v", reqs)
				}

				long := bytes.Repeat([]byte("L"), 300)
				for i := 0; i < 3; i++ {
					for _, dir := range []struct {
						from, to *Conn
					}{{c, s}, {s, c}} {
						want := [][]byte{{}, []byte("hello"), long}
						rc := readAsync(dir.to)
						if err := dir.from.WriteMessage(want); err != nil {
							t.Fatal(err)
						}
						if r := recvMsg(t, rc, 5*time.Second); r.err != nil || !msgEqual(r.msg, want) {
							t.Fatalf("round %d: got %q, %v", i, r.msg, r.err)
						}
					}
				}
			})
		}
	}
}

// toyPeer is a raw peer's half of a toy GSSAPI session: it seals what it
// sends and opens what it reads, with the bytes on the wire in view.
type toyPeer struct {
	*raw
	sealer *toySealer
	opener *toyOpener
}

// newToyPeer returns the raw peer of a client (asServer) or a server.
func newToyPeer(r *raw, asServer bool, trailer int) *toyPeer {
	p := &toyPeer{raw: r}
	if asServer {
		p.sealer = &toySealer{key: 0x5a, dir: toyFromServer, seq: toyServerSeq, trailer: trailer}
		p.opener = &toyOpener{key: 0x5a, dir: toyFromClient, seq: toyClientSeq, trailer: trailer}
	} else {
		p.sealer = &toySealer{key: 0x5a, dir: toyFromClient, seq: toyClientSeq, trailer: trailer}
		p.opener = &toyOpener{key: 0x5a, dir: toyFromServer, seq: toyServerSeq, trailer: trailer}
	}
	return p
}

// sealed returns a frame with the outer flags given holding payload sealed
// with the inner flags given.
func (p *toyPeer) sealed(outer zmtp.Flags, inner byte, payload []byte) []byte {
	body, err := p.sealer.Seal(nil, inner, payload)
	if err != nil {
		p.t.Fatal(err)
	}
	return zmtp.AppendFrame(nil, outer, body)
}

// open reads a frame, checks that its flags are wantOuter (give or take
// the LONG bit) and that it starts 07 "MESSAGE", opens it and returns the
// inner flags and the payload.
func (p *toyPeer) open(wantOuter byte) (byte, []byte) {
	p.t.Helper()
	flags, body, whole := p.frame()
	if flags&^0x02 != wantOuter || !bytes.HasPrefix(body, testhelp.Wire(`07 "MESSAGE"`)) {
		p.t.Fatalf("raw peer: frame % x, want flags %02x and a MESSAGE", whole[:min(len(whole), 24)], wantOuter)
	}
	inner, payload, err := p.opener.Open(nil, body)
	if err != nil {
		p.t.Fatalf("raw peer: opening % x: %v", whole, err)
	}
	return inner, payload
}

// TestGSSAPIToyWireClient: the bytes our GSSAPI client puts on the wire
// against a scripted server, the layout libzmq 4.3.4's client has
// (docs/wire-format.md#gssapi): as-server 0; INITIATE with its 4-byte token
// length; the empty command exactly 04 00; its READY sealed in a MESSAGE
// command frame after the server's; then every frame, a SUBSCRIBE and a
// PONG included, a MESSAGE in a data frame (flags 00), MORE and COMMAND
// inside. The server's greeting says as-server 1 here, which changes
// nothing.
func TestGSSAPIToyWireClient(t *testing.T) {
	checkGoroutines(t)
	cfg := &Config{Mechanism: toyClient(toyPrincipal, toyService, 44), SocketType: zmtp.SUB}
	c, r := rawPeer(t, tcpConns, true, cfg)
	p := newToyPeer(r, true, 44)
	errc := handshakeAsync(c)

	p.send(asServer(greetingBytes(3, 1, "GSSAPI")))
	p.expect("greeting", testhelp.Cat(testhelp.Wire(`FF 00 00 00 00 00 00 00 00 7F 03 01 "GSSAPI"`), make([]byte, 14+1+31)))
	p.expect("INITIATE", testhelp.Wire(`04 3F 08 "INITIATE" 00 00 00 32 "AP-REQ alice@ZMTP.TEST zmqtest/localhost 541262417"`))
	p.send(testhelp.Wire(`04 1D 08 "INITIATE" 00 00 00 10 "AP-REP 284395960"`))
	p.expect("the empty command", testhelp.Wire(`04 00`))
	p.send(p.sealed(zmtp.FlagCommand, 0, zmtp.AppendReady(nil, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("PUB")}})))
	inner, ready := p.open(0x04)
	if want := testhelp.Wire(`05 "READY" 0B "Socket-Type" 00 00 00 03 "SUB"`); inner != 0 || !bytes.Equal(ready, want) {
		t.Fatalf("client READY: inner flags %02x, % x; want 00, % x", inner, ready, want)
	}
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A message, a subscription (to a 3.1 peer: the SUBSCRIBE command).
	if err := c.WriteMessage([][]byte{{}, []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		inner   byte
		payload string
	}{{0x01, ""}, {0x00, "hello"}} {
		if inner, got := p.open(0x00); inner != want.inner || string(got) != want.payload {
			t.Fatalf("frame: inner %02x %q, want %02x %q", inner, got, want.inner, want.payload)
		}
	}
	if err := c.Subscribe([]byte("A")); err != nil {
		t.Fatal(err)
	}
	if inner, got := p.open(0x00); inner != 0x02 || !bytes.Equal(got, testhelp.Wire(`09 "SUBSCRIBE" "A"`)) {
		t.Fatalf("subscription: inner %02x % x", inner, got)
	}

	// A PING inside MESSAGE is answered with a PONG inside MESSAGE, in a
	// data frame; then a two-part message arrives, outer frames both 00.
	rc := readAsync(c)
	p.send(p.sealed(0, 0x02, testhelp.Wire(`04 "PING" 00 00 "ctx"`)))
	if inner, got := p.open(0x00); inner != 0x02 || !bytes.Equal(got, testhelp.Wire(`04 "PONG" "ctx"`)) {
		t.Fatalf("PONG: inner %02x % x", inner, got)
	}
	p.send(p.sealed(0, 0x01, []byte("a")), p.sealed(0, 0x00, []byte("b")))
	if res := recvMsg(t, rc, 5*time.Second); res.err != nil || !msgEqual(res.msg, [][]byte{[]byte("a"), []byte("b")}) {
		t.Fatalf("ReadMessage = %q, %v", res.msg, res.err)
	}
	c.Close()
	p.expectClosed()
}

// TestGSSAPIToyWireServer: the bytes of our GSSAPI server against a
// scripted client sending what libzmq 4.3.4's client sends: as-server 0 in
// our greeting too; the AP-REP in INITIATE; the empty command 04 00 taken
// as the cue for READY, sealed in a MESSAGE command frame; then heartbeat
// PINGs inside MESSAGE in data frames; a CANCEL inside MESSAGE reaches an
// XPUB as the message 00 topic.
func TestGSSAPIToyWireServer(t *testing.T) {
	checkGoroutines(t)
	cfg := &Config{Mechanism: toyServer(toyService, 56), SocketType: zmtp.XPUB, HeartbeatInterval: 50 * time.Millisecond, HeartbeatTTL: 1500 * time.Millisecond}
	c, r := rawPeer(t, tcpConns, false, cfg)
	p := newToyPeer(r, false, 56)
	errc := handshakeAsync(c)

	p.send(greetingBytes(3, 1, "GSSAPI"), testhelp.Wire(`04 3F 08 "INITIATE" 00 00 00 32 "AP-REQ alice@ZMTP.TEST zmqtest/localhost 541262417"`))
	p.expect("greeting", greetingBytes(3, 1, "GSSAPI")) // as-server 0, though we are the server
	p.expect("INITIATE", testhelp.Wire(`04 1D 08 "INITIATE" 00 00 00 10 "AP-REP 284395960"`))
	p.send(testhelp.Wire(`04 00`))
	inner, ready := p.open(0x04)
	if want := testhelp.Wire(`05 "READY" 0B "Socket-Type" 00 00 00 04 "XPUB"`); inner != 0 || !bytes.Equal(ready, want) {
		t.Fatalf("server READY: inner flags %02x, % x; want 00, % x", inner, ready, want)
	}
	p.send(p.sealed(zmtp.FlagCommand, 0, zmtp.AppendReady(nil, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("SUB")}})))
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := c.ConnectionState(); st.PeerPrincipal != toyPrincipal || st.UserID != "" {
		t.Errorf("PeerPrincipal %q, UserID %q (no ZAP handler)", st.PeerPrincipal, st.UserID)
	}

	if inner, got := p.open(0x00); inner != 0x02 || !bytes.Equal(got, testhelp.Wire(`04 "PING" 00 0F`)) {
		t.Fatalf("heartbeat: inner %02x % x, want 02 and a PING with TTL 1.5 s", inner, got)
	}
	rc := readAsync(c)
	p.send(p.sealed(0, 0x02, testhelp.Wire(`06 "CANCEL" "B"`)))
	if res := recvMsg(t, rc, 5*time.Second); res.err != nil || !msgEqual(res.msg, [][]byte{testhelp.Wire(`00 "B"`)}) {
		t.Fatalf("ReadMessage = %q, %v; want the CANCEL as 00 B", res.msg, res.err)
	}
	c.Close()
	p.expectClosed()
}

// TestGSSAPIToyEmptyCommandOnlyWhenAsked: the empty command reaches a
// handshake only when it asks for it then. Anywhere else an empty command
// frame is malformed: to NULL, to the toy server before its AP-REP, and,
// after the handshake, to the Opener (which refuses it).
func TestGSSAPIToyEmptyCommandOnlyWhenAsked(t *testing.T) {
	t.Run("NULL", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
		errc := handshakeAsync(c)
		r.send(greetingBytes(3, 1, "NULL"), testhelp.Wire(`04 00`))
		if err := recvErr(t, errc, 5*time.Second); !errors.Is(err, zmtp.ErrMalformed) {
			t.Fatalf("handshake = %v, want a malformed command", err)
		}
	})
	t.Run("before the AP-REP", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, false, &Config{Mechanism: toyServer(toyService, 44), SocketType: zmtp.ROUTER})
		errc := handshakeAsync(c)
		r.send(greetingBytes(3, 1, "GSSAPI"), testhelp.Wire(`04 00`))
		if err := recvErr(t, errc, 5*time.Second); !errors.Is(err, zmtp.ErrMalformed) {
			t.Fatalf("handshake = %v, want a malformed command", err)
		}
	})
	t.Run("in a data frame", func(t *testing.T) {
		// Like any handshake command, it may come without the COMMAND
		// flag, as libzmq takes commands then.
		c, r := rawPeer(t, tcpConns, false, &Config{Mechanism: toyServer(toyService, 44), SocketType: zmtp.ROUTER})
		p := newToyPeer(r, false, 44)
		errc := handshakeAsync(c)
		p.send(greetingBytes(3, 1, "GSSAPI"), testhelp.Wire(`04 3F 08 "INITIATE" 00 00 00 32 "AP-REQ alice@ZMTP.TEST zmqtest/localhost 541262417"`), testhelp.Wire(`00 00`))
		p.read(64 + 31)
		p.open(0x04)
		p.send(p.sealed(zmtp.FlagCommand, 0, zmtp.AppendReady(nil, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}})))
		if err := recvErr(t, errc, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		// After the handshake the Opener takes every frame, and an empty
		// one is not a MESSAGE.
		rc := readAsync(c)
		p.send(testhelp.Wire(`04 00`))
		if res := recvMsg(t, rc, 5*time.Second); !errors.Is(res.err, zmtp.ErrMalformed) {
			t.Fatalf("ReadMessage = %v, want a malformed MESSAGE", res.err)
		}
		p.expectClosed()
	})
}

// TestGSSAPIToyZAPRefused: a GSSAPI server whose ZAP handler refuses the
// client closes without a word (GSSAPI has no ERROR): the server's error is
// the *mechanism.AuthError in the authentication step, and the client,
// which learns nothing, gets a *PeerClosedError that says so.
func TestGSSAPIToyZAPRefused(t *testing.T) {
	for _, status := range []zap.StatusCode{zap.StatusTemporaryFailure, zap.StatusAuthenticationError, zap.StatusInternalError} {
		t.Run(status.String(), func(t *testing.T) {
			checkGoroutines(t)
			scfg := &Config{Mechanism: toyServer(toyService, 44), SocketType: zmtp.ROUTER, ZAPHandler: &zapLog{status: status}}
			c, r := rawPeer(t, tcpConns, false, scfg)
			errc := handshakeAsync(c)
			r.send(greetingBytes(3, 1, "GSSAPI"), testhelp.Wire(`04 3F 08 "INITIATE" 00 00 00 32 "AP-REQ alice@ZMTP.TEST zmqtest/localhost 541262417"`))
			r.read(64 + 31)
			r.send(testhelp.Wire(`04 00`))
			err := recvErr(t, errc, 5*time.Second)
			var he *HandshakeError
			var ae *mechanism.AuthError
			if !errors.As(err, &he) || he.Step != StepAuthentication || !errors.As(err, &ae) || ae.Status != status || ae.Mechanism != "GSSAPI" {
				t.Fatalf("server handshake = %v, want an AuthError %d in the authentication step", err, status)
			}
			r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if rest, err := io.ReadAll(r.c); len(rest) != 0 {
				t.Fatalf("the server sent % x after its AP-REP (%v); GSSAPI has no ERROR", rest, err)
			}
		})
	}
	t.Run("client", func(t *testing.T) {
		checkGoroutines(t)
		ccfg := &Config{Mechanism: toyClient(toyPrincipal, toyService, 44), SocketType: zmtp.DEALER}
		scfg := &Config{Mechanism: toyServer(toyService, 44), SocketType: zmtp.ROUTER, ZAPHandler: &zapLog{status: zap.StatusAuthenticationError}}
		a, b := tcpConns(t)
		c, s := Client(a, ccfg), Server(b, scfg)
		defer c.Close()
		errc := handshakeAsync(s)
		err := c.Handshake()
		var pce *PeerClosedError
		if !errors.As(err, &pce) || !strings.Contains(err.Error(), "GSSAPI has no ERROR") {
			t.Fatalf("client handshake = %v, want a *PeerClosedError with the GSSAPI hint", err)
		}
		if err := recvErr(t, errc, 5*time.Second); !errors.As(err, new(*mechanism.AuthError)) {
			t.Fatalf("server handshake = %v", err)
		}
	})
}

// TestGSSAPIToyLimits: MaxMessageSize and MaxMessageBytes bound the
// payloads of a sealed session whatever the mechanism's overhead: the
// frame limit on the header is the limit plus the Opener's own
// MaxOverhead (73 or 85 here, not CURVE's 33), so a payload of exactly the
// limit passes, and one byte more is refused from the header.
func TestGSSAPIToyLimits(t *testing.T) {
	for _, tr := range toyTrailers {
		overhead := toyFixed + tr.trailer
		cfgs := func() (*Config, *Config) {
			return &Config{Mechanism: toyClient(toyPrincipal, toyService, tr.trailer), SocketType: zmtp.DEALER},
				&Config{Mechanism: toyServer(toyService, tr.trailer), SocketType: zmtp.ROUTER}
		}
		t.Run(tr.name+"/MaxMessageSize", func(t *testing.T) {
			ccfg, scfg := cfgs()
			scfg.MaxMessageSize = 100
			c, s := pair(t, ccfg, scfg)
			if err := c.WriteMessage([][]byte{make([]byte, 100)}); err != nil {
				t.Fatal(err)
			}
			if msg, err := s.ReadMessage(nil); err != nil || len(msg) != 1 || len(msg[0]) != 100 {
				t.Fatalf("100 bytes: %d frames, %v", len(msg), err)
			}
			if err := c.WriteMessage([][]byte{make([]byte, 101)}); err != nil {
				t.Fatal(err)
			}
			_, err := s.ReadMessage(nil)
			var fe *zmtp.FrameTooLargeError
			if !errors.As(err, &fe) || fe.Size != uint64(101+overhead) || fe.Limit != int64(100+overhead) {
				t.Fatalf("101 bytes: %v, want a *zmtp.FrameTooLargeError of %d bytes over %d", err, 101+overhead, 100+overhead)
			}
		})
		t.Run(tr.name+"/MaxMessageBytes", func(t *testing.T) {
			ccfg, scfg := cfgs()
			scfg.MaxMessageBytes = 1000
			c, s := pair(t, ccfg, scfg)
			if err := c.WriteMessage([][]byte{make([]byte, 600), make([]byte, 400)}); err != nil {
				t.Fatal(err)
			}
			if msg, err := s.ReadMessage(nil); err != nil || len(msg) != 2 {
				t.Fatalf("%d frames, %v", len(msg), err)
			}
			if err := c.WriteMessage([][]byte{make([]byte, 600), make([]byte, 401)}); err != nil {
				t.Fatal(err)
			}
			_, err := s.ReadMessage(nil)
			var me *MessageTooLargeError
			if !errors.As(err, &me) || me.Limit != "MaxMessageBytes" || me.Got != 1001 {
				t.Fatalf("err = %v, want *MessageTooLargeError{MaxMessageBytes, Got 1001}", err)
			}
		})
	}
}

// TestGSSAPIToyBrokenMechanism: what the transport checks of a mechanism it
// did not write: a session with a Sealer and no Opener fails the
// handshake; a Sealer that appends another size than SealedSize said ends
// the connection at the write, before the stream is corrupted.
func TestGSSAPIToyBrokenMechanism(t *testing.T) {
	t.Run("Sealer without Opener", func(t *testing.T) {
		checkGoroutines(t)
		sm := toyServer(toyService, 44)
		sm.onlySealer = true
		a, b := tcpConns(t)
		c := Client(a, &Config{Mechanism: toyClient(toyPrincipal, toyService, 44), SocketType: zmtp.DEALER})
		s := Server(b, &Config{Mechanism: sm, SocketType: zmtp.ROUTER})
		defer c.Close()
		errc := handshakeAsync(c)
		err := s.Handshake()
		var he *HandshakeError
		if !errors.As(err, &he) || he.Step != StepSecurity || !strings.Contains(err.Error(), "not both") {
			t.Fatalf("server handshake = %v", err)
		}
		<-errc
	})
	t.Run("SealedSize", func(t *testing.T) {
		checkGoroutines(t)
		cm := toyClient(toyPrincipal, toyService, 44)
		cm.sizeSkew = 1
		c, _ := pair(t, &Config{Mechanism: cm, SocketType: zmtp.DEALER}, &Config{Mechanism: toyServer(toyService, 44), SocketType: zmtp.ROUTER})
		err := c.WriteMessage([][]byte{[]byte("x")})
		if err == nil || !strings.Contains(err.Error(), "SealedSize said 75") {
			t.Fatalf("WriteMessage = %v", err)
		}
		if err := c.WriteMessage([][]byte{[]byte("x")}); err == nil {
			t.Fatal("the connection is still usable")
		}
	})
}

// TestGSSAPIToyAudit: the audit record names a GSSAPI peer by its
// principal, which is no secret: the client's from the ZAP request on a
// refusal, the peer's on success on both sides, in the event and in the
// log line.
func TestGSSAPIToyAudit(t *testing.T) {
	for _, status := range []zap.StatusCode{zap.StatusOK, zap.StatusAuthenticationError} {
		t.Run(status.String(), func(t *testing.T) {
			checkGoroutines(t)
			var mu sync.Mutex
			var events []HandshakeEvent
			var logs bytes.Buffer
			record := func(ev HandshakeEvent) {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}
			ccfg := &Config{Mechanism: toyClient(toyPrincipal, toyService, 44), SocketType: zmtp.DEALER, OnHandshake: record}
			scfg := &Config{Mechanism: toyServer(toyService, 44), SocketType: zmtp.ROUTER, ZAPHandler: &zapLog{status: status},
				OnHandshake: record, AuditLogger: slog.New(slog.NewTextHandler(&logs, nil))}
			a, b := tcpConns(t)
			c, s := Client(a, ccfg), Server(b, scfg)
			defer c.Close()
			defer s.Close()
			errc := handshakeAsync(c)
			serr := s.Handshake()
			cerr := recvErr(t, errc, 5*time.Second)
			if (serr == nil) != (status == zap.StatusOK) || (cerr == nil) != (status == zap.StatusOK) {
				t.Fatalf("handshakes: server %v, client %v", serr, cerr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 2 {
				t.Fatalf("%d events, want 2", len(events))
			}
			for _, ev := range events {
				switch {
				case ev.Server && status == zap.StatusOK:
					if ev.Outcome != OutcomeSucceeded || ev.Principal != toyPrincipal || ev.UserID != "u:"+toyPrincipal || ev.Mechanism != "GSSAPI" {
						t.Errorf("server event %+v", ev)
					}
				case ev.Server:
					if ev.Outcome != OutcomeFailedAuth || ev.Principal != toyPrincipal || ev.ZAPStatus != status || ev.Step != StepAuthentication {
						t.Errorf("server event %+v", ev)
					}
				case status == zap.StatusOK:
					if ev.Outcome != OutcomeSucceeded || ev.Principal != toyService {
						t.Errorf("client event %+v", ev)
					}
				default:
					if ev.Outcome == OutcomeSucceeded || ev.Principal != "" {
						t.Errorf("client event %+v: a refused client knows no principal", ev)
					}
				}
			}
			if !strings.Contains(logs.String(), "principal="+toyPrincipal) {
				t.Errorf("audit log lacks the principal:\n%s", logs.String())
			}
		})
	}
}

// TestSealOverheadBounds: the opener's overhead widens the frame limits by
// what it says, by 64 KiB at most, and never overflows them.
func TestSealOverheadBounds(t *testing.T) {
	for _, tt := range []struct {
		limit, overhead, want int64
	}{
		{100, 73, 173},
		{0, 85, 85},
		{math.MaxInt64 - 10, 33, math.MaxInt64},
		{math.MaxInt64, maxSealOverhead, math.MaxInt64},
	} {
		if got := plusOverhead(tt.limit, tt.overhead); got != tt.want {
			t.Errorf("plusOverhead(%d, %d) = %d, want %d", tt.limit, tt.overhead, got, tt.want)
		}
	}
	for _, tt := range []struct {
		trailer int
		want    int64
	}{
		{44, 73},
		{1 << 30, maxSealOverhead},
		{-toyFixed - 1, 0},
	} {
		if got := sealOverhead(&toyOpener{trailer: tt.trailer}); got != tt.want {
			t.Errorf("an opener whose MaxOverhead is %d: taken as %d, want %d", toyFixed+tt.trailer, got, tt.want)
		}
	}
	if got := sealOverhead(nil); got != 0 {
		t.Errorf("no opener: %d", got)
	}
}
