package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ---- helpers shared by the transport tests ----

// greetingBytes returns a ZMTP 3.x greeting as a peer sends it: the whole 64
// bytes, as-server 0.
func greetingBytes(major, minor byte, mech string) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, major, minor
	copy(g[12:32], mech)
	return g
}

// commandFrame returns a command frame holding body.
func commandFrame(body []byte) []byte {
	return zmtp.AppendFrame(nil, zmtp.FlagCommand, body)
}

// readyFrame returns a READY command frame carrying the properties given as
// name, value pairs.
func readyFrame(kv ...string) []byte {
	var m zmtp.Metadata
	for i := 0; i+1 < len(kv); i += 2 {
		m = append(m, zmtp.Property{Name: kv[i], Value: []byte(kv[i+1])})
	}
	return commandFrame(zmtp.AppendReady(nil, m))
}

// tcpConns returns the two ends of a TCP loopback connection.
func tcpConns(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			c = nil
		}
		ch <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	if b == nil {
		a.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// pipeConns returns the two ends of a net.Pipe.
func pipeConns(t testing.TB) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type netPipe struct {
	name string
	mk   func(testing.TB) (net.Conn, net.Conn)
}

var netPipes = []netPipe{{"tcp", tcpConns}, {"pipe", pipeConns}}

// handshaken returns a client on a and a server on b, both handshaken.
func handshaken(t testing.TB, a, b net.Conn, ccfg, scfg *Config) (*Conn, *Conn) {
	t.Helper()
	c, s := Client(a, ccfg), Server(b, scfg)
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	if err := c.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// pair returns a handshaken client and server over a TCP loopback pair, made
// with Listen and Dial.
func pair(t *testing.T, ccfg, scfg *Config) (*Conn, *Conn) {
	t.Helper()
	l, err := Listen("tcp://127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			err = c.Handshake()
		}
		ch <- res{c, err}
	}()
	c, err := Dial(l.Endpoint(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return c, r.c
}

// checkGoroutines fails the test if, once the test and its other cleanups
// are done, more goroutines run than when it was called: no goroutine may
// outlive its Conn. Call it first, so that its cleanup runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// within runs f and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// raw is a hand-driven ZMTP peer on a net.Conn. Its writes go out from a
// goroutine in order, as if through a socket buffer, so that it never
// deadlocks against our side on an unbuffered net.Pipe.
type raw struct {
	t    testing.TB
	c    net.Conn
	q    chan []byte
	done chan struct{}
	wg   sync.WaitGroup // queued writes not yet done
	mu   sync.Mutex
	werr error
}

func newRaw(t testing.TB, c net.Conn) *raw {
	r := &raw{t: t, c: c, q: make(chan []byte, 64), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for b := range r.q {
			r.mu.Lock()
			failed := r.werr != nil
			r.mu.Unlock()
			if !failed {
				if _, err := c.Write(b); err != nil {
					r.mu.Lock()
					r.werr = err
					r.mu.Unlock()
				}
			}
			r.wg.Done()
		}
	}()
	t.Cleanup(r.close)
	return r
}

// send queues b for writing.
func (r *raw) send(parts ...[]byte) {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	r.wg.Add(1)
	r.q <- b
}

// flush waits until everything queued has been written.
func (r *raw) flush() {
	r.wg.Wait()
}

// close closes the connection and joins the writer.
func (r *raw) close() {
	select {
	case <-r.done:
	default:
		r.c.Close()
		close(r.q)
		<-r.done
	}
}

// closeWrite half-closes a TCP connection (the peer then reads EOF); on
// other connections it closes it.
func (r *raw) closeWrite() {
	r.flush()
	time.Sleep(10 * time.Millisecond)
	if tc, ok := r.c.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	r.close()
}

// read reads exactly n bytes, failing the test after 5 s.
func (r *raw) read(n int) []byte {
	r.t.Helper()
	b := make([]byte, n)
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(r.c, b); err != nil {
		r.t.Fatalf("raw peer: reading %d bytes: %v", n, err)
	}
	return b
}

// expect reads len(want) bytes and checks they are want.
func (r *raw) expect(what string, want []byte) {
	r.t.Helper()
	if got := r.read(len(want)); !bytes.Equal(got, want) {
		r.t.Fatalf("raw peer: %s = % x, want % x", what, got, want)
	}
}

// frame reads one frame and returns its flags and body (whole, with the
// header bytes as sent).
func (r *raw) frame() (flags byte, body, whole []byte) {
	r.t.Helper()
	h := r.read(2)
	flags = h[0]
	size := uint64(h[1])
	whole = h
	if flags&0x02 != 0 {
		rest := r.read(7)
		whole = append(whole, rest...)
		size = binary.BigEndian.Uint64(whole[1:9])
	}
	body = r.read(int(size))
	return flags, body, append(whole, body...)
}

// command reads frames until a command arrives, and returns its whole frame.
func (r *raw) command() []byte {
	r.t.Helper()
	for {
		flags, _, whole := r.frame()
		if flags&0x04 != 0 {
			return whole
		}
	}
}

// greet sends a NULL greeting with the given minor version and a READY
// with the given properties, then reads our greeting and READY.
func (r *raw) greet(minor byte, kv ...string) (ourReady []byte) {
	r.t.Helper()
	r.send(greetingBytes(3, minor, "NULL"), readyFrame(kv...))
	r.expect("greeting", greetingBytes(3, 1, "NULL"))
	flags, body, whole := r.frame()
	if flags != 0x04 || !bytes.HasPrefix(body, testhelp.Wire(`05 "READY"`)) {
		r.t.Fatalf("raw peer: want READY, got % x", whole)
	}
	return whole
}

// expectClosed reads (discarding) until the connection ends, failing the
// test if it has not ended within 5 s. A reset counts as an end: a TCP
// close with unread bytes sends RST.
func (r *raw) expectClosed() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, r.c)
	if err == nil || errors.Is(err, syscall.ECONNRESET) {
		return
	}
	r.t.Fatalf("raw peer: connection not closed: %v", err)
}

// drainAsync reads (discarding) in a goroutine until the connection ends,
// and reports how it ended.
func (r *raw) drainAsync() <-chan error {
	ch := make(chan error, 1)
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, err := io.Copy(io.Discard, r.c)
		ch <- err
	}()
	return ch
}

// waitClosed checks the result of drainAsync: the connection ended with EOF
// or a reset.
func waitClosed(t *testing.T, ch <-chan error) {
	t.Helper()
	if err := <-ch; err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("raw peer: connection not closed: %v", err)
	}
}

// rawPeer returns our Conn (a client or a server) on one end of a connection
// made by mk and a raw peer on the other.
func rawPeer(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn), client bool, cfg *Config) (*Conn, *raw) {
	a, b := mk(t)
	var c *Conn
	if client {
		c = Client(a, cfg)
	} else {
		c = Server(a, cfg)
	}
	t.Cleanup(func() { c.Close() })
	return c, newRaw(t, b)
}

// handshakeAsync runs c.Handshake in a goroutine and returns its result
// channel.
func handshakeAsync(c *Conn) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- c.Handshake() }()
	return ch
}

func recvErr(t *testing.T, ch <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("no result within %v", d)
		return nil
	}
}

type msgResult struct {
	msg [][]byte
	err error
}

func readAsync(c *Conn) <-chan msgResult {
	ch := make(chan msgResult, 1)
	go func() {
		m, err := c.ReadMessage(nil)
		ch <- msgResult{m, err}
	}()
	return ch
}

func recvMsg(t *testing.T, ch <-chan msgResult, d time.Duration) msgResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("ReadMessage did not return within %v", d)
		return msgResult{}
	}
}

func msgEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// ---- end-to-end behaviour ----

func TestNullRoundTrip(t *testing.T) {
	c, s := pair(t, &Config{SocketType: zmtp.DEALER, Identity: []byte("CLI")}, &Config{SocketType: zmtp.ROUTER})
	want := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte("x"), 1<<20)}
	if err := c.WriteMessage(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadMessage(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !msgEqual(got, want) {
		t.Fatalf("got %d frames, want %d equal frames", len(got), len(want))
	}
	st := s.ConnectionState()
	if st.PeerSocketType != zmtp.DEALER || string(st.PeerIdentity) != "CLI" || st.Mechanism != "NULL" {
		t.Fatalf("state = %+v", st)
	}
}

func TestSocketTypeMismatch(t *testing.T) {
	a, b := net.Pipe()
	c := Client(a, &Config{SocketType: zmtp.PUSH})
	s := Server(b, &Config{SocketType: zmtp.PUSH})
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	err := c.Handshake()
	var ste *SocketTypeError
	if !errors.As(err, &ste) || ste.Local != zmtp.PUSH || ste.Peer != zmtp.PUSH {
		t.Fatalf("client: %v", err)
	}
	if err := <-errc; err == nil {
		t.Fatal("server accepted a PUSH peer")
	}
}

// TestSocketTypeMatrix checks every pair of ZMTP 3.0 socket types against
// the table of 37/ZMTP, end to end.
func TestSocketTypeMatrix(t *testing.T) {
	types := []zmtp.SocketType{zmtp.PAIR, zmtp.PUB, zmtp.SUB, zmtp.REQ, zmtp.REP, zmtp.DEALER, zmtp.ROUTER, zmtp.PULL, zmtp.PUSH, zmtp.XPUB, zmtp.XSUB}
	for _, a := range types {
		for _, b := range types {
			x, y := net.Pipe()
			c, s := Client(x, &Config{SocketType: a}), Server(y, &Config{SocketType: b})
			errc := handshakeAsync(s)
			cerr := c.Handshake()
			serr := recvErr(t, errc, 5*time.Second)
			c.Close()
			s.Close()
			if ok := a.Compatible(b); ok != (cerr == nil && serr == nil) {
				t.Errorf("%s-%s: compatible %v, client %v, server %v", a, b, ok, cerr, serr)
			}
		}
	}
}

func TestHandshakeTimeoutSilentPeer(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() { // read the greeting and stay silent
		buf := make([]byte, 64)
		b.Read(buf)
	}()
	c := Client(a, &Config{SocketType: zmtp.DEALER, HandshakeTimeout: 100 * time.Millisecond})
	err := c.HandshakeContext(context.Background())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

// TestHandshakeWithRawPeer checks the exact bytes our side sends: the whole
// greeting at once, then READY with Socket-Type and Identity.
func TestHandshakeWithRawPeer(t *testing.T) {
	checkGoroutines(t)
	c, r := rawPeer(t, tcpConns, true, &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: "X-Hello", Value: []byte("world")}}})
	errc := handshakeAsync(c)
	got := r.greet(1, "Socket-Type", "ROUTER", "Identity", "")
	want := testhelp.Wire(`04 3A 05 "READY" 0B "Socket-Type" 00 00 00 06 "DEALER" 08 "Identity" 00 00 00 00 07 "X-Hello" 00 00 00 05 "world"`)
	if !bytes.Equal(got, want) {
		t.Fatalf("READY = % x\nwant    % x", got, want)
	}
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.expectClosed()
}

// TestHandshakeDataFrameReady: like libzmq, a handshake command is accepted
// without the COMMAND flag.
func TestHandshakeDataFrameReady(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.PAIR})
	errc := handshakeAsync(c)
	r.send(greetingBytes(3, 1, "NULL"), zmtp.AppendFrame(nil, 0, zmtp.AppendReady(nil, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("PAIR")}})))
	r.expect("greeting", greetingBytes(3, 1, "NULL"))
	r.frame()
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestHandshakeHigherVersion: a 3.2 (or 4.0) peer is accepted as 3.x.
func TestHandshakeHigherVersion(t *testing.T) {
	for _, v := range [][2]byte{{3, 2}, {4, 0}, {3, 255}} {
		c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.PAIR})
		errc := handshakeAsync(c)
		r.send(greetingBytes(v[0], v[1], "NULL"), readyFrame("Socket-Type", "PAIR"))
		r.expect("greeting", greetingBytes(3, 1, "NULL"))
		r.frame()
		if err := recvErr(t, errc, 5*time.Second); err != nil {
			t.Fatalf("%d.%d: %v", v[0], v[1], err)
		}
		if st := c.ConnectionState(); st.PeerMajor != v[0] || st.PeerMinor != v[1] {
			t.Errorf("%d.%d: state says %d.%d", v[0], v[1], st.PeerMajor, st.PeerMinor)
		}
	}
}

// TestPingPong: a PING from the peer is answered with a PONG that echoes its
// context, cut to 16 bytes (docs/libzmq-behaviour.md#heartbeats), and is not
// delivered.
func TestPingPong(t *testing.T) {
	for _, p := range netPipes {
		t.Run(p.name, func(t *testing.T) {
			c, r := rawPeer(t, p.mk, false, &Config{SocketType: zmtp.ROUTER})
			errc := handshakeAsync(c)
			r.greet(1, "Socket-Type", "DEALER", "Identity", "")
			if err := recvErr(t, errc, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			rc := readAsync(c)
			r.send(testhelp.Wire(`04 0A 04 "PING" 00 00 "LOL"`))
			r.expect("PONG", testhelp.Wire(`04 08 04 "PONG" "LOL"`))
			r.send(testhelp.Wire(`04 41 04 "PING" 00 00 "LOL"`), bytes.Repeat([]byte("z"), 55))
			r.expect("PONG", append(testhelp.Wire(`04 15 04 "PONG" "LOL"`), bytes.Repeat([]byte("z"), 13)...))
			// Context of exactly 16 and of none.
			r.send(testhelp.Wire(`04 17 04 "PING" 00 00 "0123456789abcdef"`))
			r.expect("PONG", testhelp.Wire(`04 15 04 "PONG" "0123456789abcdef"`))
			r.send(testhelp.Wire(`04 07 04 "PING" 00 00`))
			r.expect("PONG", testhelp.Wire(`04 05 04 "PONG"`))
			// A PONG, a short PING, an unknown command and an ERROR after the
			// handshake are dropped, as libzmq drops them.
			r.send(testhelp.Wire(`04 05 04 "PONG"`), testhelp.Wire(`04 06 04 "PING" 00`), testhelp.Wire(`04 04 03 "FOO"`), testhelp.Wire(`04 0A 05 "ERROR" 03 "400"`))
			r.send(testhelp.Wire(`00 02 "hi"`))
			res := recvMsg(t, rc, 5*time.Second)
			if res.err != nil || !msgEqual(res.msg, [][]byte{[]byte("hi")}) {
				t.Fatalf("ReadMessage = %q, %v; want [hi] (PING and PONG never delivered)", res.msg, res.err)
			}
		})
	}
}

// TestSubscriptionDelivered: SUBSCRIBE and CANCEL commands (3.1) and the 3.0
// data-frame form arrive as [0x01 topic] and [0x00 topic].
func TestSubscriptionDelivered(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.XPUB})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "SUB")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.send(testhelp.Wire(`04 0B 09 "SUBSCRIBE" "A"`), testhelp.Wire(`04 09 06 "CANCEL" "AB"`), testhelp.Wire(`04 0A 09 "SUBSCRIBE"`), testhelp.Wire(`00 02 01 "A"`))
	for i, want := range [][]byte{testhelp.Wire(`01 "A"`), testhelp.Wire(`00 "AB"`), testhelp.Wire(`01`), testhelp.Wire(`01 "A"`)} {
		msg, err := c.ReadMessage(nil)
		if err != nil || !msgEqual(msg, [][]byte{want}) {
			t.Fatalf("message %d = %q, %v; want [% x]", i, msg, err, want)
		}
	}
}

// TestSubscribeByPeerVersion: to a 3.0 peer our SUB sends a subscription as
// a data frame, to a 3.1 peer as a SUBSCRIBE command (docs/wire-format.md#subscriptions).
func TestSubscribeByPeerVersion(t *testing.T) {
	for _, tt := range []struct {
		minor             byte
		typ               zmtp.SocketType
		subscribe, cancel string
	}{
		{0, zmtp.SUB, `00 02 01 41`, `00 02 00 41`},
		{1, zmtp.SUB, `04 0B 09 "SUBSCRIBE" 41`, `04 08 06 "CANCEL" 41`},
		{0, zmtp.XSUB, `00 02 01 41`, `00 02 00 41`},
		{1, zmtp.XSUB, `04 0B 09 "SUBSCRIBE" 41`, `04 08 06 "CANCEL" 41`},
		{2, zmtp.SUB, `04 0B 09 "SUBSCRIBE" 41`, `04 08 06 "CANCEL" 41`},
	} {
		t.Run(fmt.Sprintf("3.%d %s", tt.minor, tt.typ), func(t *testing.T) {
			c, r := rawPeer(t, tcpConns, true, &Config{SocketType: tt.typ})
			errc := handshakeAsync(c)
			r.greet(tt.minor, "Socket-Type", "PUB")
			if err := recvErr(t, errc, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if st := c.ConnectionState(); st.PeerMinor != tt.minor {
				t.Fatalf("PeerMinor = %d", st.PeerMinor)
			}
			if err := c.Subscribe([]byte("A")); err != nil {
				t.Fatal(err)
			}
			if err := c.Unsubscribe([]byte("A")); err != nil {
				t.Fatal(err)
			}
			// The XSUB form: a one-frame message starting with 0x01.
			if err := c.WriteMessage([][]byte{testhelp.Wire(`01 41`)}); err != nil {
				t.Fatal(err)
			}
			// A multipart message is never a subscription.
			if err := c.WriteMessage([][]byte{testhelp.Wire(`01 41`), nil}); err != nil {
				t.Fatal(err)
			}
			r.expect("subscribe", testhelp.Wire(tt.subscribe))
			r.expect("cancel", testhelp.Wire(tt.cancel))
			r.expect("XSUB-style subscribe", testhelp.Wire(tt.subscribe))
			r.expect("multipart", testhelp.Wire(`01 02 01 41 00 00`))
		})
	}
}

// TestSubscribeLongTopic: the frame header accounts for the command name, so
// a topic of 246-255 bytes gets a LONG size (libzmq 4.3.4 gets this wrong,
// #4564).
func TestSubscribeLongTopic(t *testing.T) {
	c, r := rawPeer(t, tcpConns, true, &Config{SocketType: zmtp.SUB})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "PUB")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{245, 246, 255, 256} {
		topic := bytes.Repeat([]byte("t"), n)
		if err := c.Subscribe(topic); err != nil {
			t.Fatal(err)
		}
		want := commandFrame(append(testhelp.Wire(`09 "SUBSCRIBE"`), topic...))
		r.expect(fmt.Sprintf("SUBSCRIBE with a %d-byte topic", n), want)
	}
}

func TestSubscribeOnlyOnSubscribers(t *testing.T) {
	c, _ := pair(t, &Config{SocketType: zmtp.PUB}, &Config{SocketType: zmtp.SUB})
	if err := c.Subscribe([]byte("A")); err == nil {
		t.Fatal("a PUB socket subscribed")
	}
}

// TestHeartbeatPing: with HeartbeatInterval set, our side sends PING with
// the configured TTL in tenths of a second and no context.
func TestHeartbeatPing(t *testing.T) {
	checkGoroutines(t)
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, HeartbeatInterval: 50 * time.Millisecond, HeartbeatTTL: 1500 * time.Millisecond})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "DEALER", "Identity", "")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.expect("PING", testhelp.Wire(`04 07 04 "PING" 00 0F`))
	if d := time.Since(start); d > time.Second {
		t.Errorf("first PING after %v", d)
	}
	c.Close()
	r.expectClosed()
}

// TestHeartbeatTimeoutSilentPeer: a peer that answers nothing is cut off
// with ErrHeartbeatTimeout about one timeout after our PING.
func TestHeartbeatTimeoutSilentPeer(t *testing.T) {
	for _, p := range netPipes {
		t.Run(p.name, func(t *testing.T) {
			checkGoroutines(t)
			c, r := rawPeer(t, p.mk, false, &Config{SocketType: zmtp.ROUTER, HeartbeatInterval: 50 * time.Millisecond})
			errc := handshakeAsync(c)
			r.greet(1, "Socket-Type", "DEALER", "Identity", "")
			if err := recvErr(t, errc, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			rc := readAsync(c)
			r.expectClosed() // reads our PINGs, answers nothing
			res := recvMsg(t, rc, 5*time.Second)
			if !errors.Is(res.err, ErrHeartbeatTimeout) {
				t.Fatalf("ReadMessage err = %v, want ErrHeartbeatTimeout", res.err)
			}
			var ne net.Error
			if !errors.As(res.err, &ne) || !ne.Timeout() {
				t.Errorf("ErrHeartbeatTimeout is not a net.Error timeout")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("cut off after %v", d)
			}
			if err := c.WriteMessage([][]byte{[]byte("x")}); !errors.Is(err, ErrHeartbeatTimeout) {
				t.Errorf("WriteMessage after the heartbeat timeout = %v", err)
			}
		})
	}
}

// TestHeartbeatAnswered: a peer that answers our PINGs stays connected.
func TestHeartbeatAnswered(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, HeartbeatInterval: 30 * time.Millisecond})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "DEALER", "Identity", "")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	rc := readAsync(c)
	for i := 0; i < 10; i++ {
		got := r.command()
		if !bytes.Equal(got, testhelp.Wire(`04 07 04 "PING" 00 00`)) {
			t.Fatalf("got % x, want PING", got)
		}
		r.send(testhelp.Wire(`04 05 04 "PONG"`))
	}
	r.send(testhelp.Wire(`00 02 "ok"`))
	res := recvMsg(t, rc, 5*time.Second)
	if res.err != nil || !msgEqual(res.msg, [][]byte{[]byte("ok")}) {
		t.Fatalf("ReadMessage = %q, %v", res.msg, res.err)
	}
}

// TestHeartbeatBothSides: two of our connections with heartbeats stay up
// while both read.
func TestHeartbeatBothSides(t *testing.T) {
	for _, p := range netPipes {
		t.Run(p.name, func(t *testing.T) {
			checkGoroutines(t)
			cfg := func(typ zmtp.SocketType) *Config {
				// PINGs every 20 ms; a timeout and TTL of 2 s, so that a
				// scheduling pause on a loaded machine under -race is not
				// taken for a dead peer (what is tested is that answered
				// heartbeats keep both up, not how fast silence is found).
				return &Config{SocketType: typ, HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: 2 * time.Second, HeartbeatTTL: 2 * time.Second}
			}
			a, b := p.mk(t)
			c, s := handshaken(t, a, b, cfg(zmtp.DEALER), cfg(zmtp.ROUTER))
			cr, sr := readAsync(c), readAsync(s)
			time.Sleep(400 * time.Millisecond)
			go c.WriteMessage([][]byte{[]byte("from client")})
			go s.WriteMessage([][]byte{[]byte("from server")})
			for _, x := range []struct {
				ch   <-chan msgResult
				want string
			}{{sr, "from client"}, {cr, "from server"}} {
				res := recvMsg(t, x.ch, 5*time.Second)
				if res.err != nil || !msgEqual(res.msg, [][]byte{[]byte(x.want)}) {
					t.Fatalf("ReadMessage = %q, %v", res.msg, res.err)
				}
			}
			c.Close()
			s.Close()
		})
	}
}

// TestBulkBothWaysWithHeartbeats: both sides stream large messages to each
// other with heartbeats on; both must keep making progress.
func TestBulkBothWaysWithHeartbeats(t *testing.T) {
	a, b := tcpConns(t)
	// PINGs every 5 ms; the timeout is generous so that scheduling pauses
	// on a loaded machine (4 MiB copies, -race) are not taken for silence.
	cfg := &Config{SocketType: zmtp.DEALER, HeartbeatInterval: 5 * time.Millisecond, HeartbeatTimeout: 3 * time.Second}
	c, s := handshaken(t, a, b, cfg, cfg)
	var got [2]atomic.Int64
	big := [][]byte{make([]byte, 4<<20)}
	var wg sync.WaitGroup
	for i, x := range []*Conn{c, s} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for x.WriteMessage(big) == nil {
			}
		}()
		go func() {
			defer wg.Done()
			var buf [][]byte
			for {
				m, err := x.ReadMessage(buf)
				if err != nil {
					return
				}
				buf = m
				got[i].Add(1)
			}
		}()
	}
	defer func() { c.Close(); s.Close(); wg.Wait() }()
	var last [2]int64
	stalls := 0
	// A deadlock is for ever: 2 s without progress on a side (20 ticks)
	// says so, where a loaded machine may pause for a second.
	for k := 0; k < 40; k++ {
		time.Sleep(100 * time.Millisecond)
		n := [2]int64{got[0].Load(), got[1].Load()}
		if n[0] == last[0] || n[1] == last[1] {
			stalls++
			if stalls >= 20 {
				t.Fatalf("no progress for 2 s: %v messages read; the connection is deadlocked", n)
			}
		} else {
			stalls = 0
		}
		last = n
	}
}

// TestHeartbeatTimeoutLongerThanInterval: with a HeartbeatTimeout longer
// than the interval, a silent peer is still cut off about one timeout after
// the first unanswered PING (libzmq arms its timeout timer when it sends a
// PING and none is armed).
func TestHeartbeatTimeoutLongerThanInterval(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: 100 * time.Millisecond})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "DEALER", "Identity", "")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rc := readAsync(c)
	go io.Copy(io.Discard, r.c) // read our PINGs, answer nothing
	res := recvMsg(t, rc, 3*time.Second)
	if !errors.Is(res.err, ErrHeartbeatTimeout) {
		t.Fatalf("err = %v, want ErrHeartbeatTimeout", res.err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("cut off after %v, before the 100 ms timeout", d)
	}
}

// TestPeerTTL: a peer PING with TTL > 0 followed by silence ends the
// connection after the TTL, as libzmq does; traffic keeps it alive.
func TestPeerTTL(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		checkGoroutines(t)
		c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
		errc := handshakeAsync(c)
		r.greet(1, "Socket-Type", "DEALER", "Identity", "")
		if err := recvErr(t, errc, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		rc := readAsync(c)
		start := time.Now()
		r.send(testhelp.Wire(`04 07 04 "PING" 00 02`)) // TTL 200 ms
		r.expect("PONG", testhelp.Wire(`04 05 04 "PONG"`))
		res := recvMsg(t, rc, 5*time.Second)
		d := time.Since(start)
		if !errors.Is(res.err, ErrHeartbeatTimeout) {
			t.Fatalf("ReadMessage err = %v, want ErrHeartbeatTimeout", res.err)
		}
		if d < 150*time.Millisecond || d > 2*time.Second {
			t.Errorf("ended after %v, want about the 200 ms TTL", d)
		}
		r.expectClosed()
	})
	t.Run("alive", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
		errc := handshakeAsync(c)
		r.greet(1, "Socket-Type", "DEALER", "Identity", "")
		if err := recvErr(t, errc, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		r.send(testhelp.Wire(`04 07 04 "PING" 00 02`))
		for i := 0; i < 8; i++ {
			time.Sleep(50 * time.Millisecond)
			r.send(testhelp.Wire(`00 01 "x"`))
			if msg, err := c.ReadMessage(nil); err != nil || string(msg[0]) != "x" {
				t.Fatalf("message %d: %q, %v", i, msg, err)
			}
		}
	})
}

// TestConnectionState checks every field on both sides, and Property's
// precedence: Peer-Address, then ZAP (User-Id, ZAP metadata), then the
// peer's metadata, and never a User-Id the peer sent itself.
func TestConnectionState(t *testing.T) {
	var gotReq *zap.Request
	var mu sync.Mutex
	h := zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		mu.Lock()
		gotReq = req
		mu.Unlock()
		return &zap.Reply{StatusCode: 200, UserID: "alice", Metadata: zmtp.Metadata{{Name: "X-Foo", Value: []byte("bar")}}}, nil
	})
	ccfg := &Config{SocketType: zmtp.DEALER, Identity: []byte("CLI"), Metadata: zmtp.Metadata{
		{Name: "X-Hello", Value: []byte("world")},
		{Name: "X-Foo", Value: []byte("forged")},
		{Name: "User-Id", Value: []byte("mallory")},
		{Name: "Peer-Address", Value: []byte("10.6.6.6")},
	}}
	scfg := &Config{SocketType: zmtp.ROUTER, Identity: []byte("SRV"), ZAPHandler: h, ZAPDomain: "global"}
	c, s := pair(t, ccfg, scfg)

	st := s.ConnectionState()
	if !st.HandshakeComplete || st.PeerMajor != 3 || st.PeerMinor != 1 || st.Mechanism != "NULL" ||
		st.PeerSocketType != zmtp.DEALER || string(st.PeerIdentity) != "CLI" ||
		st.PeerAddress != "127.0.0.1" || st.UserID != "alice" ||
		!reflect.DeepEqual(st.ZAPMetadata, zmtp.Metadata{{Name: "X-Foo", Value: []byte("bar")}}) {
		t.Errorf("server state = %+v", st)
	}
	wantPeer := append(zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}, {Name: "Identity", Value: []byte("CLI")}}, ccfg.Metadata...)
	if !reflect.DeepEqual(st.PeerMetadata, wantPeer) {
		t.Errorf("server PeerMetadata = %q, want %q", st.PeerMetadata, wantPeer)
	}
	mu.Lock()
	if gotReq == nil || gotReq.Address != "127.0.0.1" || string(gotReq.Identity) != "SRV" || gotReq.Domain != "global" || gotReq.Mechanism != "NULL" {
		t.Errorf("ZAP request = %+v", gotReq)
	}
	mu.Unlock()

	for _, p := range []struct {
		name, want string
		ok         bool
	}{
		{"User-Id", "alice", true},          // ZAP, not the peer's "mallory"
		{"X-Foo", "bar", true},              // ZAP metadata wins over the peer's
		{"X-Hello", "world", true},          // the peer's own
		{"Socket-Type", "DEALER", true},     //
		{"Identity", "CLI", true},           //
		{"Peer-Address", "127.0.0.1", true}, // the engine's, not the peer's
		{"X-Missing", "", false},            //
		{"socket-type", "DEALER", true},     // names are case-insensitive (23/ZMTP)
		{"x-foo", "bar", true},              // ZAP's, in any casing
	} {
		v, ok := st.Property(p.name)
		if ok != p.ok || string(v) != p.want {
			t.Errorf("server Property(%q) = %q, %v; want %q, %v", p.name, v, ok, p.want, p.ok)
		}
	}

	cst := c.ConnectionState()
	if !cst.HandshakeComplete || cst.PeerSocketType != zmtp.ROUTER || string(cst.PeerIdentity) != "SRV" ||
		cst.UserID != "" || cst.ZAPMetadata != nil || cst.PeerAddress != "127.0.0.1" {
		t.Errorf("client state = %+v", cst)
	}
	// Without ZAP there is no User-Id, whatever the peer sends.
	if v, ok := cst.Property("User-Id"); ok {
		t.Errorf("client Property(User-Id) = %q without ZAP", v)
	}
}

// TestPeerUserIDNotForged: a peer's own User-Id is never returned, not even
// without ZAP or when the server was not asked.
func TestPeerUserIDNotForged(t *testing.T) {
	c, s := pair(t, &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: "User-Id", Value: []byte("root")}}},
		&Config{SocketType: zmtp.ROUTER})
	_ = c
	if v, ok := s.ConnectionState().Property("User-Id"); ok {
		t.Fatalf("Property(User-Id) = %q from the peer's metadata", v)
	}
}

// TestPeerUserIDOtherCase: 23/ZMTP property names are case-insensitive, so
// a peer's "user-id" is the same property as User-Id and must not be
// returned for it either.
func TestPeerUserIDOtherCase(t *testing.T) {
	_, s := pair(t, &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: "user-id", Value: []byte("root")}}},
		&Config{SocketType: zmtp.ROUTER})
	st := s.ConnectionState()
	for _, name := range []string{"User-Id", "user-id", "USER-ID"} {
		if v, ok := st.Property(name); ok {
			t.Errorf("Property(%q) = %q from the peer's metadata", name, v)
		}
	}
}

func TestConnectionStateBeforeAndAfterFailure(t *testing.T) {
	a, b := net.Pipe()
	c := Client(a, &Config{SocketType: zmtp.PUSH})
	s := Server(b, &Config{SocketType: zmtp.PUSH})
	if st := c.ConnectionState(); !reflect.DeepEqual(st, ConnectionState{}) {
		t.Fatalf("state before the handshake = %+v", st)
	}
	errc := handshakeAsync(s)
	if err := c.Handshake(); err == nil {
		t.Fatal("PUSH-PUSH accepted")
	}
	<-errc
	if st := c.ConnectionState(); !reflect.DeepEqual(st, ConnectionState{}) {
		t.Fatalf("state after a failed handshake = %+v", st)
	}
}

// TestVerifyConnection: the hook sees the state, and its error fails the
// handshake and closes the connection.
func TestVerifyConnection(t *testing.T) {
	errNo := errors.New("not this one")
	var seen ConnectionState
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, VerifyConnection: func(st ConnectionState) error {
		seen = st
		return errNo
	}})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "DEALER", "Identity", "X")
	err := recvErr(t, errc, 5*time.Second)
	var he *HandshakeError
	if !errors.Is(err, errNo) || !errors.As(err, &he) || he.Step != StepVerify {
		t.Fatalf("err = %v", err)
	}
	if !seen.HandshakeComplete || string(seen.PeerIdentity) != "X" {
		t.Errorf("hook saw %+v", seen)
	}
	r.expectClosed()
	if _, err := c.ReadMessage(nil); !errors.Is(err, errNo) {
		t.Errorf("ReadMessage after a failed handshake = %v, want the handshake error", err)
	}
}

// TestZAPRefusalReachesClient: with NULL, a ZAP domain and a 400, the server
// sends ERROR "400" and closes; a client of ours must report the peer's
// ERROR (a *mechanism.PeerError), not a reset, every time.
func TestZAPRefusalReachesClient(t *testing.T) {
	h := zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: 400}, nil
	})
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.ROUTER, ZAPHandler: h, ZAPDomain: "global"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.Handshake()
				var ae *mechanism.AuthError
				if !errors.As(err, &ae) || ae.Status != 400 {
					t.Errorf("server: %v", err)
				}
			}()
		}
	}()
	defer l.Close()
	for i := 0; i < 50; i++ {
		_, err := Dial(l.Endpoint(), &Config{SocketType: zmtp.DEALER})
		var pe *mechanism.PeerError
		if !errors.As(err, &pe) || pe.Status() != zap.StatusAuthenticationError {
			t.Fatalf("attempt %d: client err = %v, want *mechanism.PeerError 400", i, err)
		}
	}
}

// TestZAPRefusalBytes: the exact ERROR a refused client receives, then the
// close; and a 300 sends nothing before closing.
func TestZAPRefusalBytes(t *testing.T) {
	for _, tt := range []struct {
		status zap.StatusCode
		want   string
	}{{400, `04 0A 05 "ERROR" 03 "400"`}, {500, `04 0A 05 "ERROR" 03 "500"`}, {300, ``}} {
		t.Run(tt.status.String(), func(t *testing.T) {
			checkGoroutines(t)
			h := zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
				return &zap.Reply{StatusCode: tt.status}, nil
			})
			c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, ZAPHandler: h, ZAPDomain: "d"})
			errc := handshakeAsync(c)
			r.send(greetingBytes(3, 1, "NULL"))
			r.expect("greeting", greetingBytes(3, 1, "NULL"))
			r.expect("refusal", testhelp.Wire(tt.want))
			r.expectClosed()
			err := recvErr(t, errc, 5*time.Second)
			var ae *mechanism.AuthError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestZAPHandlerBlocks: a handler that never returns is cut off by the
// handshake timeout.
func TestZAPHandlerBlocks(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := zap.HandlerFunc(func(ctx context.Context, _ *zap.Request) (*zap.Reply, error) {
		<-ctx.Done()
		<-release
		return nil, ctx.Err()
	})
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, ZAPHandler: h, ZAPDomain: "d", HandshakeTimeout: 100 * time.Millisecond})
	errc := handshakeAsync(c)
	r.send(greetingBytes(3, 1, "NULL"), readyFrame("Socket-Type", "DEALER"))
	err := recvErr(t, errc, 5*time.Second)
	var he *HandshakeError
	if !errors.As(err, &he) || !he.Timeout() {
		t.Fatalf("err = %v, want a handshake timeout", err)
	}
	r.expectClosed()
}

// TestListenerAcceptNotBlocked: Accept returns before the handshake, so a
// silent client does not delay the next one.
func TestListenerAcceptNotBlocked(t *testing.T) {
	checkGoroutines(t)
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.ROUTER, HandshakeTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted []*Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); c.Handshake() }()
		}
	}()
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	within(t, 3*time.Second, "second client's Dial", func() {
		c, err := DialContext(context.Background(), l.Endpoint(), &Config{SocketType: zmtp.DEALER})
		if err != nil {
			t.Errorf("second client: %v", err)
			return
		}
		c.Close()
	})
	l.Close()
	silent.Close()
	mu.Lock()
	for _, c := range accepted {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
}

// TestReadTimeoutInsideFrame: a deadline that expires in the middle of the
// first frame's body loses nothing: the read may be retried.
func TestReadTimeoutInsideFrame(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.PAIR})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "PAIR")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.send(testhelp.Wire(`00 0A "hello"`))
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := c.ReadMessage(nil)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	r.send([]byte("world"))
	c.SetReadDeadline(time.Time{})
	msg, err := c.ReadMessage(nil)
	if err != nil || !msgEqual(msg, [][]byte{[]byte("helloworld")}) {
		t.Fatalf("after the timeout: %q, %v", msg, err)
	}
}

// TestReadTimeoutInsideMessage: a timeout between two frames of one message
// ends the connection, as documented on SetDeadline.
func TestReadTimeoutInsideMessage(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.PAIR})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "PAIR")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.send(testhelp.Wire(`01 01 "a"`))
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.ReadMessage(nil); err == nil {
		t.Fatal("no error")
	}
	c.SetReadDeadline(time.Time{})
	if _, err := c.ReadMessage(nil); err == nil {
		t.Fatal("read after a timeout inside a message succeeded")
	}
	r.expectClosed()
}

// TestCommandInsideMessage: a command frame between the frames of a message
// is a protocol error.
func TestCommandInsideMessage(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.PAIR})
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "PAIR")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.send(testhelp.Wire(`01 01 "a"`), testhelp.Wire(`04 07 04 "PING" 00 00`))
	if _, err := c.ReadMessage(nil); !errors.Is(err, zmtp.ErrMalformed) {
		t.Fatalf("err = %v, want zmtp.ErrMalformed", err)
	}
	r.expectClosed()
}

// TestReadMessageReusesStorage: frames passed back are overwritten in place.
func TestReadMessageReusesStorage(t *testing.T) {
	c, s := pair(t, &Config{SocketType: zmtp.PAIR}, &Config{SocketType: zmtp.PAIR})
	c.WriteMessage([][]byte{[]byte("first"), []byte("frame")})
	c.WriteMessage([][]byte{[]byte("again"), []byte("x")})
	m1, err := s.ReadMessage(nil)
	if err != nil {
		t.Fatal(err)
	}
	p0 := &m1[0][:1][0]
	m2, err := s.ReadMessage(m1)
	if err != nil || !msgEqual(m2, [][]byte{[]byte("again"), []byte("x")}) {
		t.Fatalf("second message %q, %v", m2, err)
	}
	if &m2[0][:1][0] != p0 {
		t.Error("ReadMessage did not reuse the storage passed back")
	}
}

func TestWriteEmptyMessage(t *testing.T) {
	c, _ := pair(t, &Config{SocketType: zmtp.PAIR}, &Config{SocketType: zmtp.PAIR})
	if err := c.WriteMessage(nil); !errors.Is(err, ErrEmptyMessage) {
		t.Fatalf("err = %v", err)
	}
}

// TestConfigNotModified: the library never writes to a Config.
func TestConfigNotModified(t *testing.T) {
	cfg := &Config{SocketType: zmtp.DEALER, Identity: []byte("ID"), Metadata: zmtp.Metadata{{Name: "X-A", Value: []byte("1")}}}
	snapshot := *cfg
	snapshot.Identity = append([]byte(nil), cfg.Identity...)
	snapshot.Metadata = cfg.Metadata.Clone()
	for i := 0; i < 3; i++ {
		c, s := pair(t, cfg, &Config{SocketType: zmtp.ROUTER})
		c.WriteMessage([][]byte{[]byte("x")})
		s.ReadMessage(nil)
	}
	if !reflect.DeepEqual(cfg.Identity, snapshot.Identity) || !reflect.DeepEqual(cfg.Metadata, snapshot.Metadata) || cfg.HandshakeTimeout != 0 {
		t.Fatalf("config changed: %+v", cfg)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tt := range []struct{ in, network, address string }{
		{"tcp://127.0.0.1:5555", "tcp", "127.0.0.1:5555"},
		{"tcp://*:5555", "tcp", ":5555"},
		{"tcp://[::1]:5555", "tcp", "[::1]:5555"},
		{"ipc:///tmp/x.sock", "unix", "/tmp/x.sock"},
		{"ipc://@abstract", "unix", "@abstract"},
	} {
		n, a, err := ParseEndpoint(tt.in)
		if err != nil || n != tt.network || a != tt.address {
			t.Errorf("ParseEndpoint(%q) = %q, %q, %v", tt.in, n, a, err)
		}
	}
	for _, bad := range []string{"", "tcp://", "tcp://host", "udp://x:1", "127.0.0.1:5555", "inproc://x"} {
		if _, _, err := ParseEndpoint(bad); !errors.Is(err, ErrBadEndpoint) {
			t.Errorf("ParseEndpoint(%q) err = %v", bad, err)
		}
	}
}

func TestIPC(t *testing.T) {
	path := t.TempDir() + "/zmtp.sock"
	l, err := Listen("ipc://"+path, &Config{SocketType: zmtp.PAIR})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Endpoint() != "ipc://"+path {
		t.Errorf("Endpoint() = %q", l.Endpoint())
	}
	errc := make(chan error, 1)
	go func() {
		s, err := l.Accept()
		if err == nil {
			defer s.Close()
			var m [][]byte
			if m, err = s.ReadMessage(nil); err == nil {
				if st := s.ConnectionState(); st.PeerAddress != "" {
					err = fmt.Errorf("PeerAddress %q over IPC", st.PeerAddress)
				} else {
					err = s.WriteMessage(m)
				}
			}
		}
		errc <- err
	}()
	c, err := Dial("ipc://"+path, &Config{SocketType: zmtp.PAIR})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage([][]byte{[]byte("ipc")})
	m, err := c.ReadMessage(nil)
	if err != nil || string(m[0]) != "ipc" {
		t.Fatalf("%q, %v", m, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestPipePeerWritesFirst: 23/ZMTP lets a peer send its greeting and READY
// before it reads anything ("a peer MUST send its READY before waiting for
// the other's"). Over net.Pipe, which buffers nothing, our side must keep
// reading while its own flights wait to be written.
func TestPipePeerWritesFirst(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := Server(a, &Config{SocketType: zmtp.PAIR, HandshakeTimeout: 2 * time.Second})
	go func() {
		b.Write(greetingBytes(3, 1, "NULL"))
		b.Write(readyFrame("Socket-Type", "PAIR"))
		io.Copy(io.Discard, b)
	}()
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake with a peer that writes first: %v", err)
	}
}
