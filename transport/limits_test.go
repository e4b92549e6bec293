package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// isMessageTooLarge reports whether err is a *MessageTooLargeError for the
// named limit.
func isMessageTooLarge(err error, limit string) bool {
	var me *MessageTooLargeError
	return errors.As(err, &me) && me.Limit == limit && errors.Is(err, ErrMessageTooLarge)
}

// TestMaxMessageFrames: a message with one frame more than MaxMessageFrames
// fails with *MessageTooLargeError as soon as that frame is announced (the
// peer sends nothing after the last frame that fits, with MORE set), and
// the connection is closed. A message of exactly the limit passes.
func TestMaxMessageFrames(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit int // MaxMessageFrames
		max   int // the limit in force
	}{
		{"explicit", 5, 5},
		{"default", 0, DefaultMaxMessageFrames},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, r := rawHandshaken(t, tcpConns, &Config{SocketType: zmtp.ROUTER, MaxMessageFrames: tt.limit})
			var fits []byte
			for i := 0; i < tt.max; i++ {
				flags := zmtp.FlagMore
				if i == tt.max-1 {
					flags = 0
				}
				fits = zmtp.AppendFrame(fits, flags, []byte("x"))
			}
			r.send(fits)
			msg, err := c.ReadMessage(nil)
			if err != nil || len(msg) != tt.max {
				t.Fatalf("message of %d frames: %d frames, %v", tt.max, len(msg), err)
			}
			// tt.max frames, all with MORE: the next cannot fit.
			var over []byte
			for i := 0; i < tt.max; i++ {
				over = zmtp.AppendFrame(over, zmtp.FlagMore, nil)
			}
			r.send(over)
			_, err = c.ReadMessage(msg)
			if !isMessageTooLarge(err, "MaxMessageFrames") {
				t.Fatalf("err = %v, want *MessageTooLargeError for MaxMessageFrames", err)
			}
			r.expectClosed()
		})
	}
}

// TestMaxMessageFramesNone: a negative MaxMessageFrames means no limit.
func TestMaxMessageFramesNone(t *testing.T) {
	c, r := rawHandshaken(t, tcpConns, &Config{SocketType: zmtp.ROUTER, MaxMessageFrames: -1})
	n := DefaultMaxMessageFrames + 10
	var b []byte
	for i := 0; i < n-1; i++ {
		b = zmtp.AppendFrame(b, zmtp.FlagMore, nil)
	}
	r.send(zmtp.AppendFrame(b, 0, nil))
	msg, err := c.ReadMessage(nil)
	if err != nil || len(msg) != n {
		t.Fatalf("%d frames, %v; want %d", len(msg), err, n)
	}
}

// TestMaxMessageBytes: a message whose frames add up to more than
// MaxMessageBytes fails with *MessageTooLargeError when the header of the
// frame that crosses the limit arrives (the peer sends no body), and the
// connection is closed. Exactly the limit passes, and a frame over
// MaxMessageSize is still a *zmtp.FrameTooLargeError.
func TestMaxMessageBytes(t *testing.T) {
	cfg := &Config{SocketType: zmtp.ROUTER, MaxMessageBytes: 1000, MaxMessageSize: 600}
	t.Run("limit", func(t *testing.T) {
		c, r := rawHandshaken(t, tcpConns, cfg)
		r.send(zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 500)), zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 499)),
			zmtp.AppendFrame(nil, 0, make([]byte, 1)))
		msg, err := c.ReadMessage(nil)
		if err != nil || len(msg) != 3 {
			t.Fatalf("message of exactly the limit: %d frames, %v", len(msg), err)
		}
		// Small frames do not add up across messages.
		for i := 0; i < 3; i++ {
			r.send(zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 500)), zmtp.AppendFrame(nil, 0, make([]byte, 500)))
			if msg, err = c.ReadMessage(msg); err != nil {
				t.Fatal(err)
			}
		}
		// 500 + 500 fit; the third frame's header announces 501 more.
		r.send(zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 500)), zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 500)),
			testhelp.Wire(`02 00 00 00 00 00 00 01 F5`))
		_, err = c.ReadMessage(msg)
		var me *MessageTooLargeError
		if !isMessageTooLarge(err, "MaxMessageBytes") || !errors.As(err, &me) || me.Got != 1501 || me.Max != 1000 {
			t.Fatalf("err = %#v, want *MessageTooLargeError{MaxMessageBytes, Got 1501}", err)
		}
		r.expectClosed()
	})
	t.Run("tiny frames", func(t *testing.T) {
		// Frames under the reader's minimum budget are counted too.
		c, r := rawHandshaken(t, tcpConns, cfg)
		var b []byte
		for i := 0; i < 40; i++ {
			b = zmtp.AppendFrame(b, zmtp.FlagMore, make([]byte, 30))
		}
		r.send(b)
		_, err := c.ReadMessage(nil)
		if !isMessageTooLarge(err, "MaxMessageBytes") {
			t.Fatalf("err = %v, want *MessageTooLargeError for MaxMessageBytes", err)
		}
	})
	t.Run("frame limit", func(t *testing.T) {
		c, r := rawHandshaken(t, tcpConns, cfg)
		r.send(testhelp.Wire(`02 00 00 00 00 00 00 02 59`)) // 601 bytes announced
		_, err := c.ReadMessage(nil)
		var fte *zmtp.FrameTooLargeError
		if !errors.As(err, &fte) || fte.Limit != 600 || errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("err = %v, want *zmtp.FrameTooLargeError", err)
		}
	})
}

// TestLimitsCurve: under CURVE the limits apply to the decrypted frames.
func TestLimitsCurve(t *testing.T) {
	t.Run("frames", func(t *testing.T) {
		ccfg, scfg, _ := curveConfigs(t)
		scfg.MaxMessageFrames = 3
		c, s := pair(t, ccfg, scfg)
		if err := c.WriteMessage([][]byte{{1}, {2}, {3}}); err != nil {
			t.Fatal(err)
		}
		if msg, err := s.ReadMessage(nil); err != nil || len(msg) != 3 {
			t.Fatalf("%d frames, %v", len(msg), err)
		}
		if err := c.WriteMessage([][]byte{{1}, {2}, {3}, {4}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadMessage(nil); !isMessageTooLarge(err, "MaxMessageFrames") {
			t.Fatalf("err = %v, want *MessageTooLargeError for MaxMessageFrames", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		ccfg, scfg, _ := curveConfigs(t)
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
		if !isMessageTooLarge(err, "MaxMessageBytes") || !errors.As(err, &me) || me.Got != 1001 {
			t.Fatalf("err = %#v, want *MessageTooLargeError{MaxMessageBytes, Got 1001}", err)
		}
	})
}

// TestAllocationsWithLimits: the limits cost no allocation in steady state.
func TestAllocationsWithLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are not stable in -short mode")
	}
	a, b := tcpConns(t)
	c, s := handshaken(t, a, b, &Config{SocketType: zmtp.DEALER},
		&Config{SocketType: zmtp.ROUTER, MaxMessageBytes: 1 << 20, MaxMessageFrames: 8, MaxMessageSize: 1 << 16})
	msg := [][]byte{make([]byte, 100), make([]byte, 1000), make([]byte, 10)}
	allocs, _ := roundTripAllocs(t, c, s, msg)
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}

// TestMaxMetadataProperties: peer metadata with more properties than
// MaxMetadataProperties fails the handshake with *TooManyPropertiesError;
// the limit itself passes.
func TestMaxMetadataProperties(t *testing.T) {
	props := func(n int) []string {
		kv := []string{"Socket-Type", "DEALER"}
		for i := 1; i < n; i++ {
			kv = append(kv, "X-P", "v")
		}
		return kv
	}
	for _, tt := range []struct {
		name   string
		limit  int
		n      int
		refuse bool
	}{
		{"at the limit", 4, 4, false},
		{"over the limit", 4, 5, true},
		{"default", 0, DefaultMaxMetadataProperties + 1, true},
		{"none", -1, 1000, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, MaxMetadataProperties: tt.limit})
			errc := handshakeAsync(c)
			r.send(greetingBytes(3, 1, "NULL"), readyFrame(props(tt.n)...))
			err := recvErr(t, errc, 5*time.Second)
			if !tt.refuse {
				if err != nil {
					t.Fatal(err)
				}
				if got := len(c.ConnectionState().PeerMetadata); got != tt.n {
					t.Fatalf("%d properties kept, want %d", got, tt.n)
				}
				return
			}
			var te *TooManyPropertiesError
			var me *mechanism.MetadataError
			var he *HandshakeError
			if !errors.As(err, &te) || te.Count != tt.n || !errors.Is(err, ErrTooManyProperties) ||
				!errors.As(err, &me) || !errors.As(err, &he) {
				t.Fatalf("err = %v, want *TooManyPropertiesError{%d}", err, tt.n)
			}
			r.expectClosed()
		})
	}
}

// TestPropertyZAPWins: a ZAP reply's property wins over the peer's of the
// same name in any casing, and lookups are ASCII case-insensitive.
func TestPropertyZAPWins(t *testing.T) {
	h := zap.HandlerFunc(func(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: zap.StatusOK, UserID: "alice", Metadata: zmtp.Metadata{{Name: "Role", Value: []byte("user")}}}, nil
	})
	for _, peerName := range []string{"Role", "role", "ROLE", "rOlE"} {
		t.Run(peerName, func(t *testing.T) {
			_, s := pair(t, &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: peerName, Value: []byte("admin")}, {Name: "X-Own", Value: []byte("mine")}}},
				&Config{SocketType: zmtp.ROUTER, ZAPHandler: h, ZAPDomain: "d"})
			st := s.ConnectionState()
			for _, name := range []string{"Role", "role", "ROLE", peerName} {
				if v, ok := st.Property(name); !ok || string(v) != "user" {
					t.Errorf("Property(%q) = %q, %v; want ZAP's \"user\"", name, v, ok)
				}
			}
			for _, name := range []string{"X-Own", "x-own", "X-OWN"} {
				if v, ok := st.Property(name); !ok || string(v) != "mine" {
					t.Errorf("Property(%q) = %q, %v; want the peer's \"mine\"", name, v, ok)
				}
			}
		})
	}
}

// isHandshakeTimeout reports whether err is the one form of a handshake
// timeout.
func isHandshakeTimeout(err error) bool {
	var he *HandshakeError
	var ne net.Error
	return errors.As(err, &he) && he.Timeout() && errors.Is(err, ErrHandshakeTimeout) &&
		errors.Is(err, context.DeadlineExceeded) && errors.Is(err, os.ErrDeadlineExceeded) &&
		errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.Canceled)
}

// TestHandshakeTimeoutForms: every way a handshake runs out of time gives
// the same error: a *HandshakeError wrapping ErrHandshakeTimeout, which
// matches context.DeadlineExceeded and os.ErrDeadlineExceeded. A ZAP
// handler cut off is that too, and also the *mechanism.AuthError 500 sent
// to the peer, wrapping ErrZAPTimeout. A cancelled context stays
// context.Canceled.
func TestHandshakeTimeoutForms(t *testing.T) {
	blockingZAP := zap.HandlerFunc(func(ctx context.Context, _ *zap.Request) (*zap.Reply, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	for _, tt := range []struct {
		name  string
		cfg   Config
		setup func(c *Conn) context.Context
		peer  func(r *raw) // what the raw peer sends
	}{
		{name: "HandshakeTimeout, silent", cfg: Config{HandshakeTimeout: 100 * time.Millisecond}},
		{name: "HandshakeTimeout, after the greeting", cfg: Config{HandshakeTimeout: 100 * time.Millisecond},
			peer: func(r *raw) { r.send(greetingBytes(3, 1, "NULL")) }},
		{name: "HandshakeTimeout, half a greeting", cfg: Config{HandshakeTimeout: 100 * time.Millisecond},
			peer: func(r *raw) { r.send(greetingBytes(3, 1, "NULL")[:20]) }},
		{name: "context deadline", cfg: Config{HandshakeTimeout: -1}, setup: func(c *Conn) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
		{name: "read deadline", cfg: Config{HandshakeTimeout: 10 * time.Second}, setup: func(c *Conn) context.Context {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			return context.Background()
		}},
		{name: "ZAP cut off", cfg: Config{HandshakeTimeout: 100 * time.Millisecond, ZAPHandler: blockingZAP, ZAPDomain: "d"},
			peer: func(r *raw) { r.send(greetingBytes(3, 1, "NULL"), readyFrame("Socket-Type", "DEALER")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.SocketType = zmtp.ROUTER
			c, r := rawPeer(t, tcpConns, false, &cfg)
			ctx := context.Background()
			if tt.setup != nil {
				ctx = tt.setup(c)
			}
			if tt.peer != nil {
				tt.peer(r)
			}
			start := time.Now()
			var err error
			within(t, 5*time.Second, "HandshakeContext", func() { err = c.HandshakeContext(ctx) })
			if !isHandshakeTimeout(err) {
				t.Fatalf("err = %v (%#v), want a *HandshakeError wrapping ErrHandshakeTimeout", err, err)
			}
			if tt.cfg.ZAPHandler != nil {
				var ae *mechanism.AuthError
				if !errors.As(err, &ae) || ae.Status != 500 || !errors.Is(err, ErrZAPTimeout) {
					t.Errorf("err = %v, want also a *mechanism.AuthError 500 wrapping ErrZAPTimeout", err)
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			r.expectClosed()
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		err := c.HandshakeContext(ctx)
		var he *HandshakeError
		if !errors.As(err, &he) || !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, ErrHandshakeTimeout) || he.Timeout() {
			t.Fatalf("err = %v, want a *HandshakeError wrapping context.Canceled only", err)
		}
		r.expectClosed()
	})
}

// sessionKeys returns copies of the session keys of c's sealer and opener,
// read through reflection (they are unexported, in another package). The
// caller must ensure no reader or writer is running.
func sessionKeys(t *testing.T, c *Conn) (sealer, opener []byte) {
	t.Helper()
	if c.sealer == nil || c.opener == nil {
		t.Fatal("no CURVE session")
	}
	read := func(v reflect.Value) []byte {
		k := v.Elem().FieldByName("key")
		b := make([]byte, k.Len())
		for i := range b {
			b[i] = byte(k.Index(i).Uint())
		}
		return b
	}
	return read(reflect.ValueOf(c.sealer)), read(reflect.ValueOf(c.opener))
}

func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

// TestCloseZeroesSessionKeys: once a CURVE Conn is closed, its session keys
// are zero, whether Close found the reader and writer idle or blocked (then
// they zero the key they hold as they return), and Close never waits for
// them.
func TestCloseZeroesSessionKeys(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		ccfg, scfg, _ := curveConfigs(t)
		c, s := pair(t, ccfg, scfg)
		if err := c.WriteMessage([][]byte{[]byte("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadMessage(nil); err != nil {
			t.Fatal(err)
		}
		sk, ok := sessionKeys(t, s)
		if allZero(sk) || allZero(ok) {
			t.Fatal("keys are zero before Close")
		}
		s.Close()
		if sk, ok := sessionKeys(t, s); !allZero(sk) || !allZero(ok) {
			t.Fatalf("after Close: sealer key zero %v, opener key zero %v", allZero(sk), allZero(ok))
		}
	})
	t.Run("blocked", func(t *testing.T) {
		checkGoroutines(t)
		ccfg, scfg, _ := curveConfigs(t)
		c, s := pair(t, ccfg, scfg)
		_ = c // never reads, never writes
		werr := make(chan error, 1)
		go func() {
			big := [][]byte{make([]byte, 1<<20)}
			for {
				if err := s.WriteMessage(big); err != nil {
					werr <- err
					return
				}
			}
		}()
		rerr := readAsync(s)
		time.Sleep(200 * time.Millisecond) // the writer fills the socket buffers and blocks
		select {
		case err := <-werr:
			t.Fatalf("writer did not block: %v", err)
		default:
		}
		start := time.Now()
		s.Close()
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("Close took %v with a blocked reader and writer", d)
		}
		if err := recvErr(t, werr, 5*time.Second); !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked WriteMessage = %v, want net.ErrClosed", err)
		}
		if res := recvMsg(t, rerr, 5*time.Second); !errors.Is(res.err, net.ErrClosed) {
			t.Errorf("blocked ReadMessage = %v, want net.ErrClosed", res.err)
		}
		if sk, ok := sessionKeys(t, s); !allZero(sk) || !allZero(ok) {
			t.Fatalf("after Close: sealer key zero %v, opener key zero %v", allZero(sk), allZero(ok))
		}
	})
	t.Run("verify refused", func(t *testing.T) {
		// A handshake refused by VerifyConnection zeroes the session it
		// got; the Conn never holds it.
		ccfg, scfg, _ := curveConfigs(t)
		var got *mechanism.Sealer
		scfg.VerifyConnection = func(ConnectionState) error { return errors.New("no") }
		_ = got
		a, b := tcpConns(t)
		cl, sv := Client(a, ccfg), Server(b, scfg)
		defer cl.Close()
		errc := handshakeAsync(cl)
		if err := sv.Handshake(); err == nil {
			t.Fatal("handshake passed")
		}
		<-errc
		if sv.sealer != nil || sv.opener != nil {
			t.Fatal("a refused Conn holds a session")
		}
	})
}

// TestHeartbeatTimeoutBlockedWriter: a heartbeat timeout ends the
// connection at once even while WriteMessage is blocked on a peer that
// stopped reading; the blocked write returns ErrHeartbeatTimeout.
func TestHeartbeatTimeoutBlockedWriter(t *testing.T) {
	checkGoroutines(t)
	const timeout = 300 * time.Millisecond
	c, r := rawHandshaken(t, tcpConns, &Config{SocketType: zmtp.ROUTER, HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: timeout})
	_ = r // the raw peer never reads and never writes again
	werr := make(chan error, 1)
	start := time.Now()
	go func() {
		big := [][]byte{make([]byte, 1<<20)}
		for {
			if err := c.WriteMessage(big); err != nil {
				werr <- err
				return
			}
		}
	}()
	err := recvErr(t, werr, 5*time.Second)
	d := time.Since(start)
	if !errors.Is(err, ErrHeartbeatTimeout) {
		t.Fatalf("WriteMessage = %v, want ErrHeartbeatTimeout", err)
	}
	if d > 100*time.Millisecond+timeout+time.Second { // slack for a loaded machine
		t.Errorf("the connection ended %v after the writer started, timeout %v", d, timeout)
	}
	if _, err := c.ReadMessage(nil); !errors.Is(err, ErrHeartbeatTimeout) {
		t.Errorf("ReadMessage after = %v, want ErrHeartbeatTimeout", err)
	}
}

// stallConn is a net.Conn whose writes block, once stall is set, until it
// is closed.
type stallConn struct {
	net.Conn
	stall  atomic.Bool
	closed chan struct{}
	once   sync.Once
}

func (c *stallConn) Write(b []byte) (int, error) {
	if c.stall.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestHeartbeatPingWriteBlocked: a heartbeat PING whose write blocks (the
// peer stopped reading and the socket buffer is full) does not stop the
// heartbeat: the timeout still ends the connection, which unblocks the
// write.
func TestHeartbeatPingWriteBlocked(t *testing.T) {
	checkGoroutines(t)
	a, b := tcpConns(t)
	sc := &stallConn{Conn: a, closed: make(chan struct{})}
	const timeout = 300 * time.Millisecond
	c := Server(sc, &Config{SocketType: zmtp.ROUTER, HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: timeout})
	t.Cleanup(func() { c.Close() })
	r := newRaw(t, b)
	errc := handshakeAsync(c)
	r.greet(1, "Socket-Type", "DEALER")
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	sc.stall.Store(true) // the first PING blocks
	start := time.Now()
	res := recvMsg(t, readAsync(c), 5*time.Second)
	if !errors.Is(res.err, ErrHeartbeatTimeout) {
		t.Fatalf("ReadMessage = %v, want ErrHeartbeatTimeout", res.err)
	}
	if d := time.Since(start); d > 100*time.Millisecond+timeout+time.Second { // slack for a loaded machine
		t.Errorf("ended after %v; timeout %v", d, timeout)
	}
}

// TestPropertySocketTypeExact: Property("Socket-Type") in any casing is
// the property the socket type check used, not a differently-cased one
// the peer sent first.
func TestPropertySocketTypeExact(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
	errc := handshakeAsync(c)
	r.send(greetingBytes(3, 1, "NULL"), readyFrame("socket-type", "PUB", "identity", "evil", "Socket-Type", "DEALER", "Identity", "real"))
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st := c.ConnectionState()
	if st.PeerSocketType != zmtp.DEALER || string(st.PeerIdentity) != "real" {
		t.Fatalf("state %+v", st)
	}
	for name, want := range map[string]string{"Socket-Type": "DEALER", "SOCKET-TYPE": "DEALER", "socket-type": "DEALER", "Identity": "real", "identity": "real"} {
		if v, ok := st.Property(name); !ok || string(v) != want {
			t.Errorf("Property(%q) = %q, %v; want %q", name, v, ok, want)
		}
	}
}
