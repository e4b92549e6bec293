package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// greetingWith returns a valid NULL 3.1 greeting with byte i set to v.
func greetingWith(i int, v byte) []byte {
	g := greetingBytes(3, 1, "NULL")
	g[i] = v
	return g
}

// greetingMech returns a 3.1 greeting whose 20-byte mechanism field is f.
func greetingMech(f []byte) []byte {
	g := greetingBytes(3, 1, "")
	copy(g[12:32], f)
	return g
}

func isVersion(major, minor int) func(error) bool {
	return func(err error) bool {
		var ve *zmtp.VersionError
		return errors.As(err, &ve) && ve.Major == major && ve.Minor == minor && errors.Is(err, zmtp.ErrUnsupportedVersion)
	}
}

func isMismatch(peer string) func(error) bool {
	return func(err error) bool {
		var me *MechanismMismatchError
		return errors.As(err, &me) && me.Local == "NULL" && me.Peer == peer && errors.Is(err, mechanism.ErrMechanismMismatch)
	}
}

func isSocketType(local, peer zmtp.SocketType) func(error) bool {
	return func(err error) bool {
		var se *SocketTypeError
		return errors.As(err, &se) && se.Local == local && se.Peer == peer
	}
}

func isMalformedErr(err error) bool { return errors.Is(err, zmtp.ErrMalformed) }

func isMetadataErr(err error) bool {
	var me *mechanism.MetadataError
	return errors.As(err, &me) && errors.Is(err, zmtp.ErrMalformed)
}

func isUnexpected(got string) func(error) bool {
	return func(err error) bool {
		var ue *mechanism.UnexpectedCommandError
		return errors.As(err, &ue) && ue.Got == got && len(ue.Want) == 2
	}
}

func isIs(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// badInputs are what a broken, old or hostile peer sends to our NULL DEALER
// server. Each must end the handshake at once with a typed error.
var badInputs = []struct {
	name  string
	send  []byte
	eof   bool // the peer then closes its sending side
	check func(error) bool
	desc  string
}{
	{name: "HTTP request", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), check: isVersion(1, 0), desc: "*zmtp.VersionError 1.0"},
	{name: "ZMTP 1.0", send: testhelp.Wire(`01 00`), check: isVersion(1, 0), desc: "*zmtp.VersionError 1.0"},
	{name: "ZMTP 1.0 then a message", send: testhelp.Wire(`01 00 08 00 "sneaky" 00`), check: isVersion(1, 0), desc: "*zmtp.VersionError 1.0"},
	{name: "ZMTP 1.0 long identity length", send: testhelp.Wire(`FF 00 00 00 00 00 00 01 00 7E`), check: isVersion(1, 0), desc: "*zmtp.VersionError 1.0"},
	{name: "ZMTP 2.0", send: testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F 01 05 00 00`), check: isVersion(2, 0), desc: "*zmtp.VersionError 2.0"},
	{name: "revision 0", send: testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F 00`), check: isVersion(1, 0), desc: "*zmtp.VersionError 1.0"},
	{name: "revision 2", send: greetingWith(10, 2), check: isVersion(2, 0), desc: "*zmtp.VersionError 2.0"},
	{name: "all 0xFF", send: bytes.Repeat([]byte{0xFF}, 64), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "mechanism not NUL-padded", send: greetingMech([]byte("NULL\x00X")), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "mechanism in lower case", send: greetingMech([]byte("null")), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "mechanism padded with spaces", send: greetingMech([]byte("NULL                ")), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "empty mechanism", send: greetingMech(nil), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "nothing", eof: true, check: isIs(io.EOF), desc: "io.EOF"},
	{name: "truncated signature", send: testhelp.Wire(`FF 00 00 00`), eof: true, check: isIs(io.ErrUnexpectedEOF), desc: "io.ErrUnexpectedEOF"},
	{name: "truncated greeting", send: greetingBytes(3, 1, "NULL")[:30], eof: true, check: isIs(io.ErrUnexpectedEOF), desc: "io.ErrUnexpectedEOF"},
	{name: "EOF after the greeting", send: greetingBytes(3, 1, "NULL"), eof: true, check: isIs(io.EOF), desc: "io.EOF"},
	{name: "EOF inside READY", send: append(greetingBytes(3, 1, "NULL"), readyFrame("Socket-Type", "ROUTER")[:10]...), eof: true, check: isIs(io.ErrUnexpectedEOF), desc: "io.ErrUnexpectedEOF"},
	{name: "PLAIN greeting", send: greetingBytes(3, 1, "PLAIN"), check: isMismatch("PLAIN"), desc: "*MechanismMismatchError PLAIN"},
	{name: "PLAIN greeting as server", send: asServer(greetingBytes(3, 1, "PLAIN")), check: isMismatch("PLAIN"), desc: "*MechanismMismatchError PLAIN"},
	{name: "CURVE greeting", send: greetingBytes(3, 1, "CURVE"), check: isMismatch("CURVE"), desc: "*MechanismMismatchError CURVE"},
	{name: "GSSAPI greeting", send: greetingBytes(3, 1, "GSSAPI"), check: func(err error) bool {
		return isMismatch("GSSAPI")(err) && strings.Contains(err.Error(), `peer uses mechanism "GSSAPI", we use NULL`) && strings.Contains(err.Error(), "zmtpsec/gssapi")
	}, desc: "*MechanismMismatchError saying where GSSAPI is"},
	{name: "READY: truncated value", send: withGreeting(commandFrame(testhelp.Wire(`05 "READY" 0B "Socket-Type" 00 00 00 06 "ROUT"`))), check: isMetadataErr, desc: "*MetadataError"},
	{name: "READY: one trailing byte", send: withGreeting(commandFrame(append(zmtp.AppendReady(nil, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("ROUTER")}}), 0x00))), check: isMetadataErr, desc: "*MetadataError"},
	{name: "READY: empty property name", send: withGreeting(commandFrame(testhelp.Wire(`05 "READY" 00 00 00 00 00`))), check: isMetadataErr, desc: "*MetadataError"},
	{name: "READY: value length 2^32-1", send: withGreeting(commandFrame(testhelp.Wire(`05 "READY" 01 "X" FF FF FF FF`))), check: isMetadataErr, desc: "*MetadataError"},
	{name: "READY: bad name", send: withGreeting(commandFrame(testhelp.Wire(`05 "READY" 02 "X" 00 00 00 00 00`))), check: isMetadataErr, desc: "*MetadataError"},
	{name: "unknown command", send: withGreeting(testhelp.Wire(`04 04 03 "FOO"`)), check: isUnexpected("FOO"), desc: "*UnexpectedCommandError FOO"},
	{name: "HELLO to NULL", send: withGreeting(testhelp.Wire(`04 13 05 "HELLO" 05 "admin" 06 "secret"`)), check: isUnexpected("HELLO"), desc: "*UnexpectedCommandError HELLO"},
	{name: "PING before READY", send: withGreeting(testhelp.Wire(`04 07 04 "PING" 00 00`)), check: isUnexpected("PING"), desc: "*UnexpectedCommandError PING"},
	{name: "command frame with MORE", send: withGreeting(testhelp.Wire(`05 06 05 "READY"`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "empty command", send: withGreeting(testhelp.Wire(`04 00`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "command name past the end", send: withGreeting(testhelp.Wire(`04 02 09 "A"`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "command name not letters", send: withGreeting(testhelp.Wire(`04 04 03 "A1B"`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "empty command name", send: withGreeting(testhelp.Wire(`04 01 00`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "size with the top bit set", send: withGreeting(testhelp.Wire(`06 80 00 00 00 00 00 00 00`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
	{name: "frame over the pre-auth bound", send: withGreeting(testhelp.Wire(`06 00 00 01 00 00 00 00 00`)), check: isIs(zmtp.ErrFrameTooLarge), desc: "zmtp.ErrFrameTooLarge"},
	{name: "socket type mismatch", send: withGreeting(readyFrame("Socket-Type", "PUB")), check: isSocketType(zmtp.DEALER, zmtp.PUB), desc: "*SocketTypeError DEALER/PUB"},
	{name: "unknown socket type", send: withGreeting(readyFrame("Socket-Type", "FOO")), check: isSocketType(zmtp.DEALER, "FOO"), desc: "*SocketTypeError DEALER/FOO"},
	{name: "lower-case socket type", send: withGreeting(readyFrame("Socket-Type", "router")), check: isSocketType(zmtp.DEALER, "router"), desc: "*SocketTypeError DEALER/router"},
	{name: "ERROR from the peer", send: withGreeting(testhelp.Wire(`04 0A 05 "ERROR" 03 "400"`)), check: func(err error) bool {
		var pe *mechanism.PeerError
		return errors.As(err, &pe) && pe.Status() == 400
	}, desc: "*mechanism.PeerError 400"},
	{name: "malformed ERROR", send: withGreeting(testhelp.Wire(`04 08 05 "ERROR" 09 "4"`)), check: isMalformedErr, desc: "zmtp.ErrMalformed"},
}

// asServer sets the as-server byte of greeting g.
func asServer(g []byte) []byte {
	g[32] = 1
	return g
}

func withGreeting(b []byte) []byte { return append(greetingBytes(3, 1, "NULL"), b...) }

// TestBadInput feeds each bad input to our server and checks the typed
// error, that the failure is immediate (not the handshake timeout), that
// no ERROR is sent, that the connection is closed, that later calls return
// the same error, and that no goroutine is left behind.
func TestBadInput(t *testing.T) {
	for _, p := range netPipes {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range badInputs {
				t.Run(tt.name, func(t *testing.T) {
					if tt.eof && p.name == "pipe" {
						t.Skip("net.Pipe has no half close")
					}
					checkGoroutines(t)
					c, r := rawPeer(t, p.mk, false, &Config{SocketType: zmtp.DEALER, HandshakeTimeout: 5 * time.Second})
					captured := make(chan []byte, 1)
					go func() { // read everything we send, until the close
						r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
						b, err := io.ReadAll(r.c)
						if err != nil && !errors.Is(err, syscall.ECONNRESET) {
							b = append(b, "\x00<not closed: "+err.Error()+">"...)
						}
						captured <- b
					}()
					start := time.Now()
					errc := handshakeAsync(c)
					if len(tt.send) > 0 {
						r.send(tt.send)
					}
					if tt.eof {
						r.closeWrite()
					}
					err := recvErr(t, errc, 5*time.Second)
					if d := time.Since(start); d > time.Second {
						t.Errorf("failed after %v, want at once", d)
					}
					if err == nil {
						t.Fatal("handshake succeeded")
					}
					if !tt.check(err) {
						t.Errorf("err = %v (%#v), want %s", err, err, tt.desc)
					}
					var he *HandshakeError
					if !errors.As(err, &he) {
						t.Errorf("err = %#v is not a *HandshakeError", err)
					}
					if !strings.HasPrefix(err.Error(), "transport: ") {
						t.Errorf("Error() = %q: want the transport: prefix", err.Error())
					}
					out := <-captured
					if i := bytes.Index(out, []byte("\x00<not closed")); i >= 0 {
						t.Errorf("connection not closed: %s", out[i+1:])
						out = out[:i]
					}
					checkNoError(t, out)
					if err2 := c.Handshake(); err2 != err {
						t.Errorf("Handshake again = %v, want the same error", err2)
					}
					if _, err2 := c.ReadMessage(nil); err2 != err {
						t.Errorf("ReadMessage = %v, want the handshake error", err2)
					}
					c.Close()
				})
			}
		})
	}
}

// checkNoError checks that what we sent is our greeting and at most our
// READY: never an ERROR (libzmq sends ERROR only for ZAP refusals).
func checkNoError(t *testing.T, out []byte) {
	t.Helper()
	if len(out) == 0 {
		return
	}
	g := greetingBytes(3, 1, "NULL")
	if len(out) < 64 || !bytes.Equal(out[:64], g) {
		t.Errorf("sent % x, want our greeting first", out)
		return
	}
	for rest := out[64:]; len(rest) > 0; {
		flags, size, hdr, ok, err := zmtp.ParseFrameHeader(rest)
		if !ok || err != nil || uint64(len(rest)-hdr) < size {
			t.Errorf("sent a partial frame: % x", rest)
			return
		}
		body := rest[hdr : hdr+int(size)]
		if flags&zmtp.FlagCommand == 0 || !bytes.HasPrefix(body, testhelp.Wire(`05 "READY"`)) {
			t.Errorf("sent % x, want only READY", rest[:hdr+int(size)])
		}
		rest = rest[hdr+int(size):]
	}
}

// TestErrorPrefixOnce (docs/design.md#errors): the package prefix is said
// once. A socket-type refusal currently reads "transport: handshake failed
// in handshake: mechanism: NULL: peer metadata: transport: a DEALER socket
// cannot talk to a peer of type "PUB"".
func TestErrorPrefixOnce(t *testing.T) {
	a, b := net.Pipe()
	c, s := Client(a, &Config{SocketType: zmtp.DEALER}), Server(b, &Config{SocketType: zmtp.PUB})
	defer c.Close()
	defer s.Close()
	errc := handshakeAsync(s)
	err := c.Handshake()
	<-errc
	if err == nil {
		t.Fatal("DEALER-PUB accepted")
	}
	for _, p := range []string{"transport: ", "mechanism: ", "zmtp: "} {
		if n := strings.Count(err.Error(), p); n > 1 {
			t.Errorf("Error() = %q says %q %d times", err.Error(), p, n)
		}
	}
}

// TestAsServerIgnored: like libzmq, the peer's as-server byte and the
// greeting padding and filler are not checked.
func TestAsServerIgnored(t *testing.T) {
	g := greetingBytes(3, 1, "NULL")
	g[32] = 1
	copy(g[1:9], testhelp.Wire(`00 00 00 00 00 00 00 04`))
	g[63] = 0xAA
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.PAIR})
	errc := handshakeAsync(c)
	r.send(g, readyFrame("Socket-Type", "PAIR"))
	r.expect("greeting", greetingBytes(3, 1, "NULL"))
	r.frame()
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestVersion1PeerGetsNothing: after a ZMTP 1.0 peer's bytes, the
// application receives nothing (libzmq's test_*_vanilla_socket).
func TestVersion1PeerGetsNothing(t *testing.T) {
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.PULL})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(testhelp.Wire(`01 00 08 00 "sneaky" 00`))
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.ReadMessage(nil)
	if err == nil || len(m) != 0 {
		t.Fatalf("ReadMessage = %q, %v; want nothing and an error", m, err)
	}
}
