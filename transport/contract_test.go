package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestConnContract runs the same suite, in the spirit of
// golang.org/x/net/nettest's TestConn, over a TCP loopback connection and
// over net.Pipe (which has no buffering at all, so it catches any place
// where both sides would write before reading).
func TestConnContract(t *testing.T) {
	for _, p := range netPipes {
		t.Run(p.name, func(t *testing.T) { testConnContract(t, p.mk) })
	}
}

func testConnContract(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(testing.TB) (net.Conn, net.Conn))
	}{
		{"PingPong", testPingPong},
		{"BasicIO", testBasicIO},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentReadWriteClose", testConcurrentReadWriteClose},
		{"ReadDeadlineBetweenMessages", testReadDeadlineBetweenMessages},
		{"PastReadDeadline", testPastReadDeadline},
		{"WriteDeadline", testWriteDeadline},
		{"DeadlineBeforeLazyHandshake", testDeadlineBeforeLazyHandshake},
		{"PeerClose", testPeerClose},
		{"CloseUnblocksRead", testCloseUnblocksRead},
		{"UseAfterClose", testUseAfterClose},
		{"CloseDuringHandshake", testCloseDuringHandshake},
		{"ContextCancelDuringHandshake", testContextCancelDuringHandshake},
		{"ContextAlreadyCancelled", testContextAlreadyCancelled},
		{"HandshakeTimeoutSilentPeer", testHandshakeTimeoutSilentPeer},
		{"HandshakeOnce", testHandshakeOnce},
		{"MaxMessageSize", testMaxMessageSize},
		{"PreAuthFrameBound", testPreAuthFrameBound},
		{"FailFastWithNonReadingPeer", testFailFastWithNonReadingPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			tt.fn(t, mk)
		})
	}
}

func dealer() *Config { return &Config{SocketType: zmtp.DEALER} }
func router() *Config { return &Config{SocketType: zmtp.ROUTER} }

// testPingPong bounces a counter between the two sides.
func testPingPong(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	const rounds = 200
	errc := make(chan error, 1)
	go func() {
		var buf [][]byte
		for i := 0; i < rounds; i++ {
			m, err := s.ReadMessage(buf)
			if err != nil {
				errc <- err
				return
			}
			n := binary.BigEndian.Uint64(m[1])
			binary.BigEndian.PutUint64(m[1], n+1)
			if err := s.WriteMessage(m); err != nil {
				errc <- err
				return
			}
			buf = m
		}
		errc <- nil
	}()
	var buf [][]byte
	var n uint64
	for i := 0; i < rounds; i++ {
		out := [][]byte{[]byte("ping"), binary.BigEndian.AppendUint64(nil, n)}
		if err := c.WriteMessage(out); err != nil {
			t.Fatal(err)
		}
		m, err := c.ReadMessage(buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || string(m[0]) != "ping" || binary.BigEndian.Uint64(m[1]) != n+1 {
			t.Fatalf("round %d: got %q", i, m)
		}
		n += 2
		buf = m
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// testBasicIO sends messages of many shapes one way and back.
func testBasicIO(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	msgs := [][][]byte{
		{{}},
		{[]byte("x")},
		{bytes.Repeat([]byte("a"), 255)},
		{bytes.Repeat([]byte("b"), 256)},
		{{}, {}, {}},
		{[]byte("id"), {}, []byte("body")},
		{bytes.Repeat([]byte("c"), 1<<20), []byte("tail")},
		{testhelp.Wire(`01 "A"`)},
	}
	errc := make(chan error, 1)
	go func() {
		for range msgs {
			m, err := s.ReadMessage(nil)
			if err == nil {
				err = s.WriteMessage(m)
			}
			if err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i, want := range msgs {
		if err := c.WriteMessage(want); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMessage(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !msgEqual(got, want) {
			t.Fatalf("message %d: %d frames back, want %d equal frames", i, len(got), len(want))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// testConcurrentWriters: WriteMessage from several goroutines never
// interleaves frames of different messages, and each writer's messages
// arrive in order.
func testConcurrentWriters(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	const writers, perWriter, frames = 8, 100, 4
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				msg := make([][]byte, frames)
				for f := range msg {
					// Sizes straddle the short/long header boundary.
					msg[f] = bytes.Repeat([]byte{byte(w)}, 200+(i*37+f*91)%400)
					msg[f][0] = byte(i)
				}
				if err := c.WriteMessage(msg); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	var buf [][]byte
	for n := 0; n < writers*perWriter; n++ {
		m, err := s.ReadMessage(buf)
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		if len(m) != frames {
			t.Fatalf("message %d has %d frames, want %d", n, len(m), frames)
		}
		w := int(m[0][len(m[0])-1])
		if w >= writers {
			t.Fatalf("message %d: writer byte %d", n, w)
		}
		i := next[w]
		for f, fr := range m {
			if len(fr) != 200+(i*37+f*91)%400 || fr[0] != byte(i) || !bytes.Equal(fr[1:], bytes.Repeat([]byte{byte(w)}, len(fr)-1)) {
				t.Fatalf("message %d frame %d: not writer %d's message %d: frames interleaved", n, f, w, i)
			}
		}
		next[w]++
		buf = m
	}
	wg.Wait()
}

// testConcurrentReadWriteClose: reads, writes and Close racing must not
// race (go test -race) or hang.
func testConcurrentReadWriteClose(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	var wg sync.WaitGroup
	for _, x := range []*Conn{c, s} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				if err := x.WriteMessage([][]byte{[]byte("data")}); err != nil {
					return
				}
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
				x.ConnectionState()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	within(t, 5*time.Second, "Close", func() { c.Close() })
	within(t, 5*time.Second, "the readers and writers", func() {
		s.Close()
		wg.Wait()
	})
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// testReadDeadlineBetweenMessages: a read deadline that expires while no
// message is in flight returns a timeout, and the connection goes on once
// the deadline is extended.
func testReadDeadlineBetweenMessages(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	for i := 0; i < 3; i++ {
		s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		start := time.Now()
		_, err := s.ReadMessage(nil)
		if !isTimeoutErr(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadMessage = %v, want a timeout", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("timeout after %v", d)
		}
	}
	go c.WriteMessage([][]byte{[]byte("after"), []byte("timeouts")})
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := s.ReadMessage(nil)
	if err != nil || !msgEqual(m, [][]byte{[]byte("after"), []byte("timeouts")}) {
		t.Fatalf("after extending the deadline: %q, %v", m, err)
	}
	s.SetReadDeadline(time.Time{})
	// And the other direction still works.
	go s.WriteMessage([][]byte{[]byte("back")})
	if m, err := c.ReadMessage(nil); err != nil || string(m[0]) != "back" {
		t.Fatalf("reply: %q, %v", m, err)
	}
}

// testPastReadDeadline: a deadline in the past fails at once, without
// consuming anything.
func testPastReadDeadline(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	s.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := s.ReadMessage(nil); !isTimeoutErr(err) {
		t.Fatalf("ReadMessage = %v, want a timeout", err)
	}
	s.SetReadDeadline(time.Time{})
	go c.WriteMessage([][]byte{[]byte("ok")})
	if m, err := s.ReadMessage(nil); err != nil || string(m[0]) != "ok" {
		t.Fatalf("%q, %v", m, err)
	}
}

// testWriteDeadline: a write that times out returns a timeout and ends the
// connection (a partial frame cannot be taken back), as documented.
func testWriteDeadline(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, _ := handshaken(t, a, b, dealer(), router())
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	big := [][]byte{make([]byte, 1<<20)}
	var err error
	within(t, 10*time.Second, "WriteMessage against a deadline", func() {
		for err == nil { // fill the socket buffers, the peer never reads
			err = c.WriteMessage(big)
		}
	})
	if !isTimeoutErr(err) {
		t.Fatalf("WriteMessage = %v, want a timeout", err)
	}
	c.SetWriteDeadline(time.Time{})
	if err2 := c.WriteMessage([][]byte{[]byte("x")}); err2 == nil {
		t.Fatal("WriteMessage succeeded after a write timeout")
	}
}

// testDeadlineBeforeLazyHandshake: a read deadline set before the first
// ReadMessage (which runs the handshake) still applies to that read.
func testDeadlineBeforeLazyHandshake(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := Client(a, dealer()), Server(b, router())
	defer c.Close()
	defer s.Close()
	errc := handshakeAsync(s)
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	rc := readAsync(c)
	select {
	case res := <-rc:
		if !isTimeoutErr(res.err) {
			t.Fatalf("ReadMessage = %q, %v; want a timeout", res.msg, res.err)
		}
	case <-time.After(3 * time.Second):
		c.Close()
		<-rc
		t.Fatal("the read deadline set before the handshake was lost: ReadMessage blocked")
	}
	<-errc
}

// testPeerClose: the peer's Close between messages is a clean io.EOF.
func testPeerClose(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := handshaken(t, a, b, dealer(), router())
	go func() {
		c.WriteMessage([][]byte{[]byte("last")})
		c.Close()
	}()
	if m, err := s.ReadMessage(nil); err != nil || string(m[0]) != "last" {
		t.Fatalf("%q, %v", m, err)
	}
	if _, err := s.ReadMessage(nil); !errors.Is(err, io.EOF) {
		t.Fatalf("after the peer closed: %v, want io.EOF", err)
	}
}

// testCloseUnblocksRead: Close unblocks a blocked ReadMessage.
func testCloseUnblocksRead(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	_, s := handshaken(t, a, b, dealer(), router())
	rc := readAsync(s)
	time.Sleep(20 * time.Millisecond)
	s.Close()
	res := recvMsg(t, rc, 5*time.Second)
	if res.err == nil {
		t.Fatal("ReadMessage returned no error after Close")
	}
}

// testUseAfterClose: after our own Close, reads and writes fail with an
// error that unwraps to net.ErrClosed (docs/design.md#errors), whatever the
// underlying connection returns.
func testUseAfterClose(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, _ := handshaken(t, a, b, dealer(), router())
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c.Close() // twice is fine
	_, rerr := c.ReadMessage(nil)
	werr := c.WriteMessage([][]byte{[]byte("x")})
	if rerr == nil || werr == nil {
		t.Fatalf("after Close: ReadMessage %v, WriteMessage %v", rerr, werr)
	}
	if !errors.Is(rerr, net.ErrClosed) || !errors.Is(werr, net.ErrClosed) {
		t.Fatalf("after Close: ReadMessage %v, WriteMessage %v; want net.ErrClosed", rerr, werr)
	}
}

// silentPeer returns our Conn on one end and, on the other, a peer that
// never reads or writes.
func silentPeer(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn), cfg *Config) (*Conn, net.Conn) {
	a, b := mk(t)
	c := Client(a, cfg)
	t.Cleanup(func() { c.Close() })
	return c, b
}

// drainUntilClosed reads from the raw end until it is closed.
func drainUntilClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	r := &raw{t: t, c: nc}
	r.expectClosed()
}

// testCloseDuringHandshake: Close unblocks a handshake waiting on a silent
// peer, which then reports an error.
func testCloseDuringHandshake(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	c, peer := silentPeer(t, mk, dealer())
	errc := handshakeAsync(c)
	time.Sleep(50 * time.Millisecond)
	c.Close()
	err := recvErr(t, errc, 5*time.Second)
	if err == nil {
		t.Fatal("handshake succeeded after Close")
	}
	drainUntilClosed(t, peer)
}

// testContextCancelDuringHandshake: cancelling the context mid-handshake
// returns promptly with the context's error and closes the connection.
func testContextCancelDuringHandshake(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	c, peer := silentPeer(t, mk, dealer())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.HandshakeContext(ctx) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	err := recvErr(t, errc, 5*time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned %v after the cancel", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	drainUntilClosed(t, peer)
	if err2 := c.Handshake(); err2 != err {
		t.Errorf("second Handshake = %v, want the same error", err2)
	}
}

// testContextAlreadyCancelled: a context that is already done fails at once.
func testContextAlreadyCancelled(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	c, peer := silentPeer(t, mk, dealer())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var err error
	within(t, 5*time.Second, "HandshakeContext", func() { err = c.HandshakeContext(ctx) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	drainUntilClosed(t, peer)
}

// testHandshakeTimeoutSilentPeer: HandshakeTimeout bounds a handshake with a
// silent peer; the error is a timeout and the connection is closed.
func testHandshakeTimeoutSilentPeer(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	c, peer := silentPeer(t, mk, &Config{SocketType: zmtp.DEALER, HandshakeTimeout: 100 * time.Millisecond})
	start := time.Now()
	var err error
	within(t, 5*time.Second, "Handshake", func() { err = c.Handshake() })
	d := time.Since(start)
	if !isTimeoutErr(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	var he *HandshakeError
	if !errors.As(err, &he) || !he.Timeout() {
		t.Errorf("err = %#v, want a *HandshakeError whose Timeout() is true", err)
	}
	if d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("timed out after %v, want about 100 ms", d)
	}
	drainUntilClosed(t, peer)
	// Lazy handshakes report the same error.
	if _, rerr := c.ReadMessage(nil); rerr != err {
		t.Errorf("ReadMessage = %v, want the handshake error", rerr)
	}
	if werr := c.WriteMessage([][]byte{{}}); werr != err {
		t.Errorf("WriteMessage = %v, want the handshake error", werr)
	}
}

// testHandshakeOnce: concurrent Handshake calls and lazy ReadMessage and
// WriteMessage run one handshake.
func testHandshakeOnce(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	a, b := mk(t)
	c, s := Client(a, dealer()), Server(b, router())
	defer c.Close()
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 5; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- c.Handshake() }()
		go func() { defer wg.Done(); errs <- s.Handshake() }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); errs <- c.WriteMessage([][]byte{[]byte("lazy")}) }()
	go func() {
		defer wg.Done()
		m, err := s.ReadMessage(nil)
		if err == nil && string(m[0]) != "lazy" {
			err = fmt.Errorf("got %q", m)
		}
		errs <- err
	}()
	within(t, 5*time.Second, "the handshakes", wg.Wait)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// rawHandshaken returns our server Conn, handshaken with a raw NULL peer.
func rawHandshaken(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn), cfg *Config) (*Conn, *raw) {
	t.Helper()
	c, r := rawPeer(t, mk, false, cfg)
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "DEALER", "Identity", "")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return c, r
}

// testMaxMessageSize: after the handshake, a frame whose header announces
// more than MaxMessageSize fails with *zmtp.FrameTooLargeError without its
// body being read (the raw peer sends only the header), and the connection
// is closed. A frame of exactly the limit passes.
func testMaxMessageSize(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	for _, tt := range []struct {
		name   string
		header string
		size   uint64
	}{
		{"long", `02 00 00 00 00 00 00 10 00`, 4096},
		{"long, limit+1", `02 00 00 00 00 00 00 04 01`, 1025},
		{"more, long", `03 00 00 00 00 00 00 10 00`, 4096},
		{"huge", `02 00 00 10 00 00 00 00 00`, 1 << 44},
		{"command", `06 00 00 00 00 00 00 10 00`, 4096},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, r := rawHandshaken(t, mk, &Config{SocketType: zmtp.ROUTER, MaxMessageSize: 1024})
			// Exactly the limit passes, short and long encodings alike.
			r.send(zmtp.AppendFrame(nil, 0, make([]byte, 1024)))
			if m, err := c.ReadMessage(nil); err != nil || len(m) != 1 || len(m[0]) != 1024 {
				t.Fatalf("frame of exactly the limit: %d frames, %v", len(m), err)
			}
			r.send(testhelp.Wire(tt.header))
			res := recvMsg(t, readAsync(c), 5*time.Second)
			var fe *zmtp.FrameTooLargeError
			if !errors.As(res.err, &fe) || fe.Size != tt.size || fe.Limit != 1024 || !errors.Is(res.err, zmtp.ErrFrameTooLarge) {
				t.Fatalf("err = %v, want *zmtp.FrameTooLargeError{%d, 1024}", res.err, tt.size)
			}
			r.expectClosed()
		})
	}
	t.Run("short", func(t *testing.T) {
		c, r := rawHandshaken(t, mk, &Config{SocketType: zmtp.ROUTER, MaxMessageSize: 100})
		r.send(testhelp.Wire(`00 C8`)) // 200 bytes announced, none sent
		res := recvMsg(t, readAsync(c), 5*time.Second)
		var fe *zmtp.FrameTooLargeError
		if !errors.As(res.err, &fe) || fe.Size != 200 {
			t.Fatalf("err = %v", res.err)
		}
	})
}

// testPreAuthFrameBound: before authentication, a frame over 64 KiB ends the
// connection, checked on the header: a peer announcing 1<<40 bytes costs no
// big allocation. A READY of exactly 64 KiB passes.
func testPreAuthFrameBound(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	t.Run("1<<40", func(t *testing.T) {
		c, r := rawPeer(t, mk, false, router())
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		errc := handshakeAsync(c)
		r.send(greetingBytes(3, 1, "NULL"), testhelp.Wire(`06 00 00 01 00 00 00 00 00`))
		r.expect("greeting", greetingBytes(3, 1, "NULL"))
		closed := r.drainAsync()
		err := recvErr(t, errc, 5*time.Second)
		runtime.ReadMemStats(&after)
		var fe *zmtp.FrameTooLargeError
		if !errors.As(err, &fe) || fe.Size != 1<<40 || fe.Limit != DefaultPreAuthMaxFrameSize {
			t.Fatalf("err = %v, want *zmtp.FrameTooLargeError{1<<40, 64 KiB}", err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("handshake allocated %d bytes", d)
		}
		waitClosed(t, closed)
	})
	t.Run("64 KiB + 1", func(t *testing.T) {
		c, r := rawPeer(t, mk, false, router())
		errc := handshakeAsync(c)
		r.send(greetingBytes(3, 1, "NULL"), testhelp.Wire(`06 00 00 00 00 00 01 00 01`))
		r.expect("greeting", greetingBytes(3, 1, "NULL"))
		closed := r.drainAsync()
		var fe *zmtp.FrameTooLargeError
		if err := recvErr(t, errc, 5*time.Second); !errors.As(err, &fe) || fe.Size != 64<<10+1 {
			t.Fatalf("err = %v", err)
		}
		waitClosed(t, closed)
	})
	t.Run("64 KiB READY", func(t *testing.T) {
		c, r := rawPeer(t, mk, false, router())
		errc := handshakeAsync(c)
		// READY body: 6 + Socket-Type (22) + X-Pad (1+5+4+n) = 65536.
		pad := string(bytes.Repeat([]byte("p"), 65536-6-22-10))
		r.send(greetingBytes(3, 1, "NULL"), readyFrame("Socket-Type", "DEALER", "X-Pad", pad))
		r.expect("greeting", greetingBytes(3, 1, "NULL"))
		r.frame()
		if err := recvErr(t, errc, 5*time.Second); err != nil {
			t.Fatalf("a 64 KiB READY was refused: %v", err)
		}
	})
	t.Run("custom bound", func(t *testing.T) {
		c, r := rawPeer(t, mk, false, &Config{SocketType: zmtp.ROUTER, PreAuthMaxFrameSize: 40})
		errc := handshakeAsync(c)
		r.send(greetingBytes(3, 1, "NULL"), readyFrame("Socket-Type", "DEALER", "X-Pad", "0123456789"))
		r.expect("greeting", greetingBytes(3, 1, "NULL"))
		closed := r.drainAsync()
		var fe *zmtp.FrameTooLargeError
		if err := recvErr(t, errc, 5*time.Second); !errors.As(err, &fe) || fe.Limit != 40 {
			t.Fatalf("err = %v", err)
		}
		waitClosed(t, closed)
	})
}

// testFailFastWithNonReadingPeer: a handshake that fails on the peer's
// bytes returns at once even if the peer reads nothing more. Our READY
// flight is still pending then; only an ERROR is worth waiting for.
func testFailFastWithNonReadingPeer(t *testing.T, mk func(testing.TB) (net.Conn, net.Conn)) {
	c, r := rawPeer(t, mk, false, &Config{SocketType: zmtp.ROUTER, HandshakeTimeout: 3 * time.Second})
	errc := handshakeAsync(c)
	r.send(greetingBytes(3, 1, "NULL"), testhelp.Wire(`04 04 03 "FOO"`))
	r.expect("greeting", greetingBytes(3, 1, "NULL"))
	start := time.Now()
	err := recvErr(t, errc, 5*time.Second)
	if err == nil {
		t.Fatal("FOO accepted")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("failed after %v (%v), want at once", d, err)
	}
}
