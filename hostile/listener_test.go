package hostile_test

// Attacks on the Listener's admission control, the ZAP limits and the audit
// trail (issue 7, items 4 and 6): floods of silent connections, HELLOs and
// INITIATEs, connection limits, ZAP handlers that hang, panic or time out,
// bans after repeated failures, EMFILE, and audit events with no secret.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// events collects the HandshakeEvents of a Config.
type events struct {
	mu  sync.Mutex
	evs []transport.HandshakeEvent
}

func (e *events) hook(ev transport.HandshakeEvent) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) all() []transport.HandshakeEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]transport.HandshakeEvent(nil), e.evs...)
}

// count returns the events for which f is true.
func (e *events) count(f func(transport.HandshakeEvent) bool) int {
	n := 0
	for _, ev := range e.all() {
		if f(ev) {
			n++
		}
	}
	return n
}

// waitFor waits up to d until at least n events satisfy f.
func (e *events) waitFor(t testing.TB, n int, d time.Duration, what string, f func(transport.HandshakeEvent) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for e.count(f) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events %s within %v, want %d", e.count(f), what, d, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// nextHandshakeErr returns the next error the server reported for a
// handshake, skipping errors of established connections (a legitimate
// client that hung up).
func nextHandshakeErr(s *server, d time.Duration) error {
	s.t.Helper()
	for {
		err := s.nextErr(d)
		var he *transport.HandshakeError
		if errors.As(err, &he) {
			return err
		}
	}
}

func refusedWith(err error) func(transport.HandshakeEvent) bool {
	return func(ev transport.HandshakeEvent) bool {
		return ev.Outcome == transport.OutcomeRefused && errors.Is(ev.Err, err)
	}
}

// refusedAtOnce checks that the server closed c without sending a byte:
// no greeting, so no work was spent on it.
func refusedAtOnce(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || err == nil {
		t.Fatalf("refused connection: read %d bytes, %v; want the connection closed with nothing sent", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("refused connection still open after %v", d)
	}
}

// openFDs counts the process's open file descriptors (Linux).
func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

// setFDLimit sets the soft RLIMIT_NOFILE to n for the rest of the test.
func setFDLimit(t testing.TB, n uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	lim := old
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// frames encodes handshake commands as command frames.
func frames(cmds ...zmtp.Command) []byte {
	var b []byte
	for _, c := range cmds {
		b = zmtp.AppendFrameHeader(b, zmtp.FlagCommand, c.Len())
		b = c.Append(b)
	}
	return b
}

// curveHello returns a CURVE client's greeting and HELLO for serverKey, with a
// fresh transient key C' each time, and the handshake that made it.
func curveHello(t testing.TB, serverKey cert.PublicKey) ([]byte, mechanism.Handshake) {
	t.Helper()
	keys, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mechanism.CurveClient(serverKey, keys)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := m.NewHandshake(mechanism.Params{Metadata: zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("DEALER")}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := hs.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return append(greeting("CURVE", false), frames(out...)...), hs
}

// TestSilentFloodUnderFDLimit is issue 7 item 4 as the reviewer measured
// it: silent connections from one address, with a low limit on open
// files. Past MaxHandshakesPerAddress (64 by default) they are refused at
// once, so they cannot use up the server's descriptors, and a client from
// another address is served at once.
func TestSilentFloodUnderFDLimit(t *testing.T) {
	leakCheck(t)
	const flood = 300
	evs := &events{}
	scfg, ccfg := nullPair()
	scfg.OnHandshake = evs.hook
	s := startServer(t, scfg)
	// Room for the flood's client ends, the server's ends up to the
	// per-address limit, and a little more: not for both ends of the flood.
	setFDLimit(t, uint64(openFDs(t)+flood+transport.DefaultMaxHandshakesPerAddress+40))
	w := watchMemory()
	conns := make([]net.Conn, 0, flood)
	for range flood {
		conns = append(conns, attacker(t, s.endpoint))
	}
	evs.waitFor(t, flood-transport.DefaultMaxHandshakesPerAddress, 5*time.Second,
		"refused with ErrAddressHandshakes", refusedWith(transport.ErrAddressHandshakes))
	refusedAtOnce(t, conns[flood-1], 2*time.Second)
	if st := s.l.Stats(); st.Handshakes > transport.DefaultMaxHandshakesPerAddress {
		t.Errorf("%d handshakes in flight, per-address limit %d", st.Handshakes, transport.DefaultMaxHandshakesPerAddress)
	}
	took, err := legit(t, s.endpoint, ccfg, 2*time.Second)
	if err != nil {
		t.Fatalf("legitimate client not served during the flood (after %v): %v", took, err)
	}
	t.Logf("legitimate client served in %v during a flood of %d silent connections", took, flood)
	assertGrowth(t, w, 8<<20)
}

// TestSilentFloodHandshakeLimit: silent connections from many addresses,
// each under its per-address limit, fill MaxHandshakes. Accept stops
// taking more (backpressure: they wait in the kernel's backlog), the
// server never has more than MaxHandshakes in flight, and since each slot
// is held at most HandshakeTimeout from Accept, a legitimate client queued
// behind the flood is served within a few timeouts.
func TestSilentFloodHandshakeLimit(t *testing.T) {
	leakCheck(t)
	const slots, perAddr, addrs = 16, 4, 8 // 32 silent connections
	scfg, ccfg := nullPair()
	scfg.MaxHandshakes, scfg.MaxHandshakesPerAddress = slots, perAddr
	scfg.HandshakeTimeout = 300 * time.Millisecond
	s := startServer(t, scfg)
	w := watchMemory()
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if n := int64(s.l.Stats().Handshakes); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	for i := range addrs {
		for range perAddr {
			c, err := dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1), s.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
		}
	}
	took, err := legit(t, s.endpoint, ccfg, 2*time.Second)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("legitimate client not served behind the flood (after %v): %v", took, err)
	}
	t.Logf("legitimate client served in %v behind %d silent connections; peak %d handshakes in flight", took, slots*2, peak.Load())
	if p := peak.Load(); p > slots {
		t.Errorf("peak of %d handshakes in flight, limit %d", p, slots)
	}
	var he *transport.HandshakeError
	if err := nextHandshakeErr(s, time.Second); !errors.As(err, &he) || !he.Timeout() {
		t.Errorf("silent connection ended with %v, want a handshake timeout", err)
	}
	assertGrowth(t, w, 4<<20)
}

// TestConnLimit: with MaxConns, connections past the limit are refused
// before any work, and closing one frees its place.
func TestConnLimit(t *testing.T) {
	leakCheck(t)
	const limit = 4
	evs := &events{}
	scfg, ccfg := nullPair()
	scfg.MaxConns = limit
	scfg.OnHandshake = evs.hook
	s := startServer(t, scfg)
	w := watchMemory()
	var held []*transport.Conn
	for range limit {
		nc := attacker(t, s.endpoint)
		c := transport.Client(nc, ccfg)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for range 20 {
		refusedAtOnce(t, attacker(t, s.endpoint), 2*time.Second)
	}
	evs.waitFor(t, 20, time.Second, "refused with ErrTooManyConns", refusedWith(transport.ErrTooManyConns))
	if _, err := legit(t, s.endpoint, ccfg, time.Second); err == nil {
		t.Error("a client was served past MaxConns")
	}
	held[0].Close()
	deadline := time.Now().Add(2 * time.Second)
	for s.l.Stats().Conns >= limit {
		if time.Now().After(deadline) {
			t.Fatalf("closing a connection did not free its place: %+v", s.l.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
	mustLegit(t, s.endpoint, ccfg, 2*time.Second)
	assertGrowth(t, w, 4<<20)
}

// TestHelloFlood: an attacker sends CURVE HELLOs with fresh C' keys (each
// costs the server an X25519) on as many connections as it likes. Only
// MaxHandshakesPerAddress of them are taken in at a time; the rest are
// refused before a byte is read, so the X25519 work is bounded by
// admission, and a legitimate client is served.
func TestHelloFlood(t *testing.T) {
	leakCheck(t)
	const perAddr, flood = 8, 200
	evs := &events{}
	scfg, ccfg, skeys, _ := curvePair(t)
	scfg.MaxHandshakesPerAddress = perAddr
	scfg.HandshakeTimeout = 3 * time.Second // longer than the flood lasts
	scfg.OnHandshake = evs.hook
	s := startServer(t, scfg)
	hellos := make([][]byte, flood)
	for i := range hellos {
		hellos[i], _ = curveHello(t, skeys.Public)
	}
	w := watchMemory()
	var welcomes atomic.Int64
	var wg sync.WaitGroup
	for i := range flood {
		c := attacker(t, s.endpoint)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write(hellos[i])
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			r := zmtp.NewReader(c)
			if _, err := r.ReadGreeting(); err != nil {
				return
			}
			if f, err := r.ReadFrame(); err == nil && bytes.Contains(f.Body, []byte(zmtp.CmdWelcome)) {
				welcomes.Add(1) // then stay silent, holding the slot
			}
		}()
	}
	mustLegit(t, s.endpoint, ccfg, 2*time.Second)
	wg.Wait()
	refused := evs.count(refusedWith(transport.ErrAddressHandshakes))
	t.Logf("%d HELLOs: %d answered with WELCOME, %d refused before the greeting", flood, welcomes.Load(), refused)
	if welcomes.Load() > perAddr || refused < flood-perAddr {
		t.Errorf("%d WELCOMEs (X25519 work done) and %d refusals for %d HELLOs; want at most %d WELCOMEs",
			welcomes.Load(), refused, flood, perAddr)
	}
	if st := s.l.Stats(); st.Handshakes > perAddr {
		t.Errorf("%d handshakes in flight, per-address limit %d", st.Handshakes, perAddr)
	}
	assertGrowth(t, w, 8<<20)
}

// TestInitiateFloodGarbage: valid HELLOs followed by INITIATEs of random
// bytes. Each fails with a typed CURVE error (the cookie box does not
// open), reported as a protocol failure, and the legitimate client is
// served meanwhile.
func TestInitiateFloodGarbage(t *testing.T) {
	leakCheck(t)
	const flood = 40
	evs := &events{}
	scfg, ccfg, skeys, _ := curvePair(t)
	scfg.HandshakeTimeout = 2 * time.Second
	scfg.OnHandshake = evs.hook
	s := startServer(t, scfg)
	w := watchMemory()
	var wg sync.WaitGroup
	for range flood {
		hello, _ := curveHello(t, skeys.Public)
		c := attacker(t, s.endpoint)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write(hello)
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			r := zmtp.NewReader(c)
			if _, err := r.ReadGreeting(); err != nil {
				t.Errorf("greeting: %v", err)
				return
			}
			if _, err := r.ReadFrame(); err != nil {
				t.Errorf("WELCOME: %v", err)
				return
			}
			data := make([]byte, 8+96+8+200)
			rand.Read(data)
			c.Write(frames(zmtp.Command{Name: zmtp.CmdInitiate, Data: data}))
			io.Copy(io.Discard, c)
		}()
	}
	mustLegit(t, s.endpoint, ccfg, 2*time.Second)
	wg.Wait()
	for range flood {
		err := nextHandshakeErr(s, 2*time.Second)
		var he *transport.HandshakeError
		if !errors.As(err, &he) || !errors.Is(err, mechanism.ErrCookie) && !errors.Is(err, mechanism.ErrDecrypt) {
			t.Fatalf("garbage INITIATE: %v, want a CURVE cookie or decryption error", err)
		}
	}
	if n := evs.count(func(ev transport.HandshakeEvent) bool { return ev.Outcome == transport.OutcomeFailedProtocol }); n != flood {
		t.Errorf("%d protocol failures reported, want %d", n, flood)
	}
	assertGrowth(t, w, 4<<20)
}

// hangingFor returns a ZAP handler that hangs for requests from attackerIP
// until release is closed (ignoring its context), and lets everyone else in.
func hangingFor(release <-chan struct{}, running *atomic.Int64) zap.Handler {
	return zap.HandlerFunc(func(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
		if req.Address == attackerIP {
			running.Add(1)
			defer running.Add(-1)
			<-release
		}
		return &zap.Reply{StatusCode: zap.StatusOK}, nil
	})
}

// TestZAPHandlerHangs is issue 7 item 6: a handler that never returns. Each
// hung handler is cut off before the handshake deadline (its client gets
// ERROR "500"), but its goroutine counts against MaxZAPInFlight until it
// returns; past the cap, handshakes fail at once with status 300 instead of
// starting another goroutine. Goroutines stay bounded, and come back when
// the handler is released.
func TestZAPHandlerHangs(t *testing.T) {
	leakCheck(t)
	const zapCap, flood = 4, 40
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // a failure below must not leave handlers hung
	var running atomic.Int64
	evs := &events{}
	scfg, ccfg := nullPair()
	scfg.ZAPHandler, scfg.ZAPDomain = hangingFor(release, &running), "global"
	scfg.MaxZAPInFlight = zapCap
	// Hung handlers are cut off at 1.8 s; the margin lets a loaded machine
	// reach ZAP well before the deadline.
	scfg.HandshakeTimeout = 2 * time.Second
	scfg.OnHandshake = evs.hook
	s := startServer(t, scfg)
	base := runtime.NumGoroutine()
	w := watchMemory()
	var wg sync.WaitGroup
	var fast atomic.Int64
	for range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := dialFrom(t, attackerIP, s.endpoint)
			if err != nil {
				t.Error(err)
				return
			}
			start := time.Now()
			c := transport.Client(nc, ccfg)
			defer c.Close()
			if err := c.Handshake(); err == nil {
				t.Error("attacker served while its ZAP handler hangs")
			}
			if time.Since(start) < 500*time.Millisecond {
				fast.Add(1)
			}
		}()
	}
	wg.Wait()
	if g := runtime.NumGoroutine() - base; g > zapCap+16 {
		t.Errorf("%d more goroutines after %d hung ZAP requests; cap %d", g, flood, zapCap)
	}
	if n := running.Load(); n != zapCap {
		t.Errorf("%d hung handlers running, want the cap %d", n, zapCap)
	}
	busy := evs.count(func(ev transport.HandshakeEvent) bool {
		return ev.ZAPStatus == zap.StatusTemporaryFailure && ev.ZAPText == transport.ZAPBusyText
	})
	if busy != flood-zapCap || fast.Load() < int64(busy) {
		t.Errorf("%d handshakes refused with 300 (%d fast), want %d", busy, fast.Load(), flood-zapCap)
	}
	for range flood {
		var ae *mechanism.AuthError
		if err := nextHandshakeErr(s, time.Second); !errors.As(err, &ae) || ae.Status != zap.StatusTemporaryFailure && ae.Status != zap.StatusInternalError {
			t.Fatalf("server: %v, want a ZAP 300 or 500", err)
		}
	}
	releaseAll()
	deadline := time.Now().Add(2 * time.Second)
	for s.l.Stats().ZAPInFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ZAP slots not returned after the handler was released: %+v", s.l.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
	mustLegit(t, s.endpoint, ccfg, 2*time.Second)
	assertGrowth(t, w, 4<<20)
}

// TestZAPHandlerPanics: a handler that panics for the attacker is answered
// 500 (the client reads ERROR "500"), the server goes on, and the
// legitimate client is served.
func TestZAPHandlerPanics(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.ZAPDomain = "global"
	scfg.ZAPHandler = zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		if req.Address == attackerIP {
			panic("handler bug")
		}
		return &zap.Reply{StatusCode: zap.StatusOK}, nil
	})
	s := startServer(t, scfg)
	w := watchMemory()
	for range 10 {
		c := transport.Client(attacker(t, s.endpoint), ccfg)
		err := c.Handshake()
		var pe *mechanism.PeerError
		if !errors.As(err, &pe) || pe.Status() != zap.StatusInternalError {
			t.Fatalf("client of a panicking handler: %v, want ERROR 500", err)
		}
		var ae *mechanism.AuthError
		if err := nextHandshakeErr(s, time.Second); !errors.As(err, &ae) || ae.Status != zap.StatusInternalError || !strings.Contains(err.Error(), "panicked") {
			t.Fatalf("server: %v, want a ZAP 500 for the panic", err)
		}
	}
	mustLegit(t, s.endpoint, ccfg, 2*time.Second)
	assertGrowth(t, w, 4<<20)
}

// TestZAPTimeoutSendsError500 is the second half of issue 7 item 6: a
// handler that does not answer in time is cut off shortly before the
// handshake deadline, so the client reads ERROR "500" rather than a bare
// EOF, and the server reports ErrZAPTimeout.
func TestZAPTimeoutSendsError500(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.ZAPDomain = "global"
	scfg.HandshakeTimeout = time.Second
	scfg.ZAPHandler = zap.HandlerFunc(func(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
		if req.Address == attackerIP {
			<-ctx.Done() // a slow backend that honours its context
			return nil, ctx.Err()
		}
		return &zap.Reply{StatusCode: zap.StatusOK}, nil
	})
	s := startServer(t, scfg)
	w := watchMemory()
	start := time.Now()
	c := transport.Client(attacker(t, s.endpoint), ccfg)
	err := c.Handshake()
	var pe *mechanism.PeerError
	if !errors.As(err, &pe) || pe.Status() != zap.StatusInternalError {
		t.Fatalf("client: %v, want ERROR 500", err)
	}
	if took := time.Since(start); took >= scfg.HandshakeTimeout {
		t.Errorf("refusal after %v, not before the %v deadline", took, scfg.HandshakeTimeout)
	}
	serr := nextHandshakeErr(s, time.Second)
	var ae *mechanism.AuthError
	if !errors.As(serr, &ae) || ae.Status != zap.StatusInternalError || !errors.Is(serr, transport.ErrZAPTimeout) {
		t.Fatalf("server: %v, want a ZAP 500 wrapping ErrZAPTimeout", serr)
	}
	mustLegit(t, s.endpoint, ccfg, 2*time.Second)
	assertGrowth(t, w, 4<<20)
}

const (
	plainUser = "alice"
	plainPass = "PLAIN-PASSWORD-d0e4b1"
	wrongPass = "WRONG-PASSWORD-7a9c3f"
)

// plainHandler admits alice with plainPass.
var plainHandler = zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
	if len(req.Credentials) == 2 && string(req.Credentials[0]) == plainUser && string(req.Credentials[1]) == plainPass {
		return &zap.Reply{StatusCode: zap.StatusOK, UserID: "user-" + plainUser}, nil
	}
	return &zap.Reply{StatusCode: zap.StatusAuthenticationError, StatusText: "bad credentials"}, nil
})

func plainConfigs(t testing.TB, pass string) (server, client *transport.Config) {
	t.Helper()
	cm, err := mechanism.PlainClient(plainUser, pass)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{SocketType: zmtp.ROUTER, Mechanism: mechanism.PlainServer(), ZAPHandler: plainHandler},
		&transport.Config{SocketType: zmtp.DEALER, Mechanism: cm}
}

// TestBanAfterFailures: after BanAfterFailures failed logins within
// BanWindow, the address is refused before its greeting for BanDuration,
// while other addresses are served; then it is let in again.
func TestBanAfterFailures(t *testing.T) {
	leakCheck(t)
	evs := &events{}
	scfg, good := plainConfigs(t, plainPass)
	_, bad := plainConfigs(t, wrongPass)
	scfg.BanAfterFailures, scfg.BanWindow, scfg.BanDuration = 3, 5*time.Second, time.Second
	scfg.OnHandshake = evs.hook
	s := startServer(t, scfg)
	w := watchMemory()
	for i := range 3 {
		err := transport.Client(attacker(t, s.endpoint), bad).Handshake()
		var pe *mechanism.PeerError
		if !errors.As(err, &pe) || pe.Status() != zap.StatusAuthenticationError {
			t.Fatalf("login %d with a wrong password: %v, want ERROR 400", i+1, err)
		}
	}
	for deadline := time.Now().Add(time.Second); !s.l.Banned(attackerIP) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the server counts the failure after the client reads ERROR
	}
	if !s.l.Banned(attackerIP) || s.l.Banned(legitIP) {
		t.Fatalf("after 3 failures: banned(attacker) = %v, banned(legit) = %v", s.l.Banned(attackerIP), s.l.Banned(legitIP))
	}
	bannedAt := time.Now()
	for range 5 {
		refusedAtOnce(t, attacker(t, s.endpoint), time.Second)
	}
	evs.waitFor(t, 5, time.Second, "refused with ErrAddressBanned", refusedWith(transport.ErrAddressBanned))
	// Even the right password is refused while banned.
	if err := transport.Client(attacker(t, s.endpoint), good).Handshake(); err == nil {
		t.Error("banned address served")
	}
	mustLegit(t, s.endpoint, good, 2*time.Second)
	if d := time.Since(bannedAt); d >= scfg.BanDuration {
		t.Fatalf("the checks during the ban took %v, longer than the ban", d)
	}
	time.Sleep(time.Until(bannedAt.Add(scfg.BanDuration + 50*time.Millisecond)))
	if s.l.Banned(attackerIP) {
		t.Fatal("still banned after BanDuration")
	}
	if err := transport.Client(attacker(t, s.endpoint), good).Handshake(); err != nil {
		t.Fatalf("after the ban: %v", err)
	}
	assertGrowth(t, w, 4<<20)
}

// TestAuditEvents: every handshake, server and client side, is reported
// exactly once with its outcome, and no password or secret key reaches the
// events or the log.
func TestAuditEvents(t *testing.T) {
	leakCheck(t)
	var logBuf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srvEvs, cliEvs := &events{}, &events{}

	// PLAIN: a success, a wrong password, garbage.
	scfg, good := plainConfigs(t, plainPass)
	_, bad := plainConfigs(t, wrongPass)
	scfg.OnHandshake, scfg.AuditLogger = srvEvs.hook, logger
	good.OnHandshake, good.AuditLogger = cliEvs.hook, logger
	bad.OnHandshake, bad.AuditLogger = cliEvs.hook, logger
	s := startServer(t, scfg)
	w := watchMemory()
	mustLegit(t, s.endpoint, good, 2*time.Second)
	if err := transport.Client(attacker(t, s.endpoint), bad).Handshake(); err == nil {
		t.Fatal("wrong password accepted")
	}
	g := attacker(t, s.endpoint)
	g.Write(bytes.Repeat([]byte{0xff}, 64))
	expectClosed(t, g, 2*time.Second)

	// CURVE: a success and an unknown key refused by ZAP.
	ccfgS, ccfgC, skeys, ckeys := curvePair(t)
	ccfgS.ZAPHandler = zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		if bytes.Equal(req.Credentials[0], ckeys.Public[:]) {
			return &zap.Reply{StatusCode: zap.StatusOK, UserID: "curve-user"}, nil
		}
		return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
	})
	ccfgS.OnHandshake, ccfgS.AuditLogger = srvEvs.hook, logger
	ccfgC.OnHandshake, ccfgC.AuditLogger = cliEvs.hook, logger
	cs := startServer(t, ccfgS)
	mustLegit(t, cs.endpoint, ccfgC, 2*time.Second)
	otherKeys, _ := cert.GenerateKeyPair(nil)
	om, _ := mechanism.CurveClient(skeys.Public, otherKeys)
	if err := transport.Client(attacker(t, cs.endpoint), &transport.Config{SocketType: zmtp.DEALER, Mechanism: om, OnHandshake: cliEvs.hook, AuditLogger: logger}).Handshake(); err == nil {
		t.Fatal("unknown CURVE key accepted")
	}

	srvEvs.waitFor(t, 5, 2*time.Second, "on the servers", func(transport.HandshakeEvent) bool { return true })
	time.Sleep(50 * time.Millisecond) // no sixth
	type want struct {
		outcome         transport.Outcome
		mech, user, key string
		status          zap.StatusCode
		userID          string
		server          bool
	}
	wants := []want{
		{transport.OutcomeSucceeded, "PLAIN", plainUser, "", 200, "user-alice", true},
		{transport.OutcomeFailedAuth, "PLAIN", plainUser, "", 400, "", true},
		{transport.OutcomeFailedProtocol, "PLAIN", "", "", 0, "", true},
		{transport.OutcomeSucceeded, "CURVE", "", ckeys.Public.String(), 200, "curve-user", true},
		{transport.OutcomeFailedAuth, "CURVE", "", otherKeys.Public.String(), 400, "", true},
	}
	got := srvEvs.all()
	if len(got) != len(wants) {
		t.Fatalf("%d server events, want %d: %+v", len(got), len(wants), got)
	}
	for _, wt := range wants {
		n := 0
		for _, ev := range got {
			if ev.Outcome == wt.outcome && ev.Mechanism == wt.mech && ev.Username == wt.user && ev.PublicKey == wt.key &&
				ev.ZAPStatus == wt.status && ev.UserID == wt.userID && ev.Server == wt.server && ev.RemoteAddr != "" &&
				ev.Duration > 0 && (ev.Err == nil) == (wt.outcome == transport.OutcomeSucceeded) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d server events match %+v; want 1 in %+v", n, wt, got)
		}
	}
	// Four clients (the garbage one is not ours): each reported once.
	cliEvs.waitFor(t, 4, time.Second, "on the clients", func(transport.HandshakeEvent) bool { return true })
	cli := cliEvs.all()
	if len(cli) != 4 || cli[0].Outcome != transport.OutcomeSucceeded || cli[1].Outcome != transport.OutcomeFailedAuth ||
		cli[2].PublicKey != skeys.Public.String() || cli[3].Outcome != transport.OutcomeFailedAuth || cli[0].Server {
		t.Errorf("client events: %+v", cli)
	}

	// No secret anywhere: not in the log, not in the events as printed.
	var all bytes.Buffer
	all.Write(logBuf.Bytes())
	for _, ev := range append(got, cli...) {
		fmt.Fprintf(&all, "%+v %v\n", ev, ev.Err)
	}
	secrets := map[string]string{
		"PLAIN password":          plainPass,
		"wrong PLAIN password":    wrongPass,
		"client secret key (Z85)": mustZ85(t, ckeys.Secret[:]),
		"server secret key (Z85)": mustZ85(t, skeys.Secret[:]),
		"other secret key (Z85)":  mustZ85(t, otherKeys.Secret[:]),
	}
	for what, sec := range secrets {
		if bytes.Contains(all.Bytes(), []byte(sec)) {
			t.Errorf("the %s appears in the audit trail", what)
		}
	}
	for _, k := range [][]byte{ckeys.Secret[:], skeys.Secret[:], otherKeys.Secret[:]} {
		if bytes.Contains(all.Bytes(), k) || bytes.Contains(all.Bytes(), []byte(fmt.Sprintf("%x", k))) {
			t.Error("a secret key appears in the audit trail")
		}
	}
	for _, must := range []string{`"outcome":"succeeded"`, `"outcome":"failed_auth"`, `"username":"alice"`, ckeys.Public.String(), `"zap_status":400`} {
		if !strings.Contains(logBuf.String(), must) {
			t.Errorf("the log lacks %s:\n%s", must, logBuf.String())
		}
	}
	assertGrowth(t, w, 4<<20)
}

func mustZ85(t testing.TB, b []byte) string {
	t.Helper()
	var k cert.PublicKey
	copy(k[:], b)
	return k.String() // the same Z85 encoding, for a search
}

// TestAcceptEMFILE: when the process runs out of file descriptors, Accept
// neither returns the error nor spins: it backs off, and once descriptors
// are free again the waiting client is served by the same listener.
func TestAcceptEMFILE(t *testing.T) {
	leakCheck(t)
	var logBuf syncBuffer
	scfg, ccfg := nullPair()
	scfg.AuditLogger = slog.New(slog.NewTextHandler(&logBuf, nil))
	l, err := transport.Listen("tcp://127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *transport.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case err := <-acceptErr:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept after Close: %v", err)
			}
		case <-time.After(2 * time.Second):
			// Accept returned earlier; the test has failed already.
		}
	})
	setFDLimit(t, uint64(openFDs(t)+8))
	// Use up the descriptors, leaving one for the client's socket.
	var fill []*os.File
	defer func() {
		for _, f := range fill {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		fill = append(fill, f)
	}
	fill[len(fill)-1].Close()
	fill = fill[:len(fill)-1]
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	defer nc.Close()
	time.Sleep(300 * time.Millisecond) // Accept meets EMFILE and backs off
	select {
	case err := <-acceptErr:
		t.Fatalf("Accept returned %v", err)
	case <-accepted:
		t.Fatal("accepted with no descriptor free")
	default:
	}
	retries := strings.Count(logBuf.String(), "accept failed")
	if retries == 0 || retries > 10 {
		t.Errorf("%d accept retries in 300ms; want a few, with backoff:\n%s", retries, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "too many open files") {
		t.Errorf("the log does not show EMFILE:\n%s", logBuf.String())
	}
	for _, f := range fill {
		f.Close()
	}
	fill = nil
	var c *transport.Conn
	select {
	case c = <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("not accepted once descriptors were free")
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() { errc <- c.Handshake() }()
	cc := transport.Client(nc, ccfg)
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
