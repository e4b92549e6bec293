package hostile_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Addresses: attackers connect from attackerIP, legitimate clients from
// legitIP, so that per-address limits and bans on the attacker never touch
// the legitimate client. Both are loopback addresses (Linux routes all of
// 127.0.0.0/8 to lo).
const (
	attackerIP = "127.0.0.1"
	legitIP    = "127.0.0.2"
)

// leakCheck fails the test if, once the test and its other cleanups are
// done, more goroutines run than when it was called. Call it first, so that
// its cleanup runs last.
func leakCheck(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// memWatch samples the Go heap while an attack runs.
type memWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

// watchMemory starts sampling HeapInuse every few milliseconds. Call
// [memWatch.Growth] to stop and read the peak growth over the baseline.
func watchMemory() *memWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &memWatch{base: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	w.peak.Store(ms.HeapInuse)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > w.peak.Load() {
				w.peak.Store(ms.HeapInuse)
			}
		}
	}()
	return w
}

// Growth stops the sampling and returns the peak heap growth in bytes.
func (w *memWatch) Growth() uint64 {
	close(w.stop)
	<-w.done
	if p := w.peak.Load(); p > w.base {
		return p - w.base
	}
	return 0
}

// assertGrowth stops w and fails the test if the heap grew by more than
// limit bytes at any sample.
func assertGrowth(t testing.TB, w *memWatch, limit uint64) {
	t.Helper()
	if g := w.Growth(); g > limit {
		t.Errorf("heap grew by %d KiB during the attack; bound %d KiB", g>>10, limit>>10)
	} else {
		t.Logf("heap growth during the attack: %d KiB (bound %d KiB)", g>>10, limit>>10)
	}
}

// server is a listener with an accept loop that runs every handshake in a
// goroutine of its own and echoes every message back. The handshake (and
// first read) error of every connection is sent on errs.
type server struct {
	t        testing.TB
	l        *transport.Listener
	endpoint string
	errs     chan error
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[*transport.Conn]struct{}
	accepted atomic.Int64
}

// startServer listens on 127.0.0.1 with cfg and serves until the test ends.
func startServer(t testing.TB, cfg *transport.Config) *server {
	t.Helper()
	l, err := transport.Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, l)
}

// serve runs the accept loop of server on l until the test ends.
func serve(t testing.TB, l *transport.Listener) *server { return serveWith(t, l, nil) }

// serveWith is serve, except that a connection from attackerIP whose
// handshake succeeds is handed to attack (when attack is not nil) instead
// of the echo loop; attack's error is reported.
func serveWith(t testing.TB, l *transport.Listener, attack func(*transport.Conn) error) *server {
	s := &server{t: t, l: l, endpoint: l.Endpoint(), errs: make(chan error, 1<<16), conns: make(map[*transport.Conn]struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// Temporary errors (EMFILE and the like): keep going.
				time.Sleep(time.Millisecond)
				continue
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					c.Close()
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
				}()
				err := c.Handshake()
				if err != nil {
					s.report(err)
					return
				}
				if attack != nil && strings.HasPrefix(c.RemoteAddr().String(), attackerIP+":") {
					s.report(attack(c))
					return
				}
				var msg [][]byte
				for {
					if msg, err = c.ReadMessage(msg); err != nil {
						s.report(err)
						return
					}
					if err = c.WriteMessage(msg); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *server) report(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

func (s *server) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// nextErr waits up to d for the next connection error the server saw.
func (s *server) nextErr(d time.Duration) error {
	s.t.Helper()
	select {
	case err := <-s.errs:
		return err
	case <-time.After(d):
		s.t.Fatalf("the server reported no connection error within %v", d)
		return nil
	}
}

// dialFrom opens a TCP connection to a "tcp://host:port" endpoint from the
// source IP src.
func dialFrom(t testing.TB, src, endpoint string) (net.Conn, error) {
	t.Helper()
	network, addr, err := transport.ParseEndpoint(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.Dial(network, addr)
}

// attacker opens a raw TCP connection from attackerIP, closed when the test
// ends.
func attacker(t testing.TB, endpoint string) net.Conn {
	t.Helper()
	c, err := dialFrom(t, attackerIP, endpoint)
	if err != nil {
		t.Fatalf("attacker dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// legit runs a whole client from legitIP with cfg: handshake and one echo
// round trip, within d. It returns how long it took.
func legit(t testing.TB, endpoint string, cfg *transport.Config, d time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	nc, err := dialFrom(t, legitIP, endpoint)
	if err != nil {
		return 0, err
	}
	c := transport.Client(nc, cfg)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return time.Since(start), err
	}
	c.SetDeadline(time.Now().Add(d))
	want := []byte("hello from a legitimate client")
	if err := c.WriteMessage([][]byte{want}); err != nil {
		return time.Since(start), err
	}
	msg, err := c.ReadMessage(nil)
	if err != nil {
		return time.Since(start), err
	}
	if len(msg) != 1 || string(msg[0]) != string(want) {
		return time.Since(start), errors.New("echo does not match")
	}
	return time.Since(start), nil
}

// mustLegit fails the test unless a legitimate client is served within d.
func mustLegit(t testing.TB, endpoint string, cfg *transport.Config, d time.Duration) {
	t.Helper()
	took, err := legit(t, endpoint, cfg, d)
	if err != nil {
		t.Fatalf("legitimate client not served during the attack (after %v): %v", took, err)
	}
}

// curvePair returns server and client configs for CURVE with fresh keys.
func curvePair(t testing.TB) (server, client *transport.Config, serverKeys, clientKeys cert.KeyPair) {
	t.Helper()
	serverKeys, clientKeys = testkeys.New(t), testkeys.New(t)
	sm, err := mechanism.CurveServer(serverKeys)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := mechanism.CurveClient(serverKeys.Public, clientKeys)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{SocketType: zmtp.ROUTER, Mechanism: sm},
		&transport.Config{SocketType: zmtp.DEALER, Mechanism: cm},
		serverKeys, clientKeys
}

// nullPair returns server and client configs for NULL.
func nullPair() (server, client *transport.Config) {
	return &transport.Config{SocketType: zmtp.ROUTER}, &transport.Config{SocketType: zmtp.DEALER}
}

// greeting returns a 64-byte ZMTP 3.1 greeting for mech.
func greeting(mech string, asServer bool) []byte {
	g := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: mech, AsServer: asServer}
	return g.Append(nil)
}

// expectClosed reads from c until it is closed by the peer or d passes; it
// fails the test if the connection is still open after d.
func expectClosed(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
		return
	}
}

// syncBuffer is a bytes.Buffer that a logger and a test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written.
func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }
