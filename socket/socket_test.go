package socket_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// newSocket makes a socket closed at the end of the test.
func newSocket(t *testing.T, typ zmtp.SocketType, opts *socket.Options) *socket.Socket {
	t.Helper()
	s, err := socket.New(typ, opts)
	if err != nil {
		t.Fatalf("New(%s): %v", typ, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bind binds s to an ephemeral loopback port and returns the endpoint.
func bind(t *testing.T, s *socket.Socket) string {
	t.Helper()
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return s.LastEndpoint()
}

func connect(t *testing.T, s *socket.Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatalf("Connect(%s): %v", ep, err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msg(frames ...string) [][]byte {
	m := make([][]byte, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	return m
}

func strs(m [][]byte) []string {
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = string(f)
	}
	return out
}

func send(t *testing.T, s *socket.Socket, frames ...string) {
	t.Helper()
	if err := s.Send(ctxT(t), msg(frames...)); err != nil {
		t.Fatalf("Send(%q): %v", frames, err)
	}
}

func recv(t *testing.T, s *socket.Socket, want ...string) {
	t.Helper()
	m, err := s.Recv(ctxT(t))
	if err != nil {
		t.Fatalf("Recv: %v (want %q)", err, want)
	}
	if diff := cmp.Diff(want, strs(m)); diff != "" {
		t.Fatalf("Recv: (-want +got)\n%s", diff)
	}
}

func TestPushPullConnectBeforeBind(t *testing.T) {
	base := runtime.NumGoroutine()
	ep := freeEndpoint(t) // the PUSH connects to nothing at first

	push := newSocket(t, zmtp.PUSH, nil)
	connect(t, push, ep)
	for i := range 3 {
		send(t, push, "m", string(rune('0'+i)))
	}
	pull2 := newSocket(t, zmtp.PULL, nil)
	if err := pull2.Bind(ep); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		recv(t, pull2, "m", string(rune('0'+i)))
	}
	push.Close()
	pull2.Close()
	waitGoroutines(t, base)
}

func TestReqRep(t *testing.T) {
	rep := newSocket(t, zmtp.REP, nil)
	ep := bind(t, rep)
	req := newSocket(t, zmtp.REQ, nil)
	connect(t, req, ep)
	for range 3 {
		send(t, req, "hello", "world")
		if err := req.Send(ctxT(t), msg("again")); !errors.Is(err, socket.ErrState) {
			t.Fatalf("second Send: %v, want ErrState", err)
		}
		recv(t, rep, "hello", "world")
		send(t, rep, "reply")
		recv(t, req, "reply")
	}
}

func TestDealerRouter(t *testing.T) {
	router := newSocket(t, zmtp.ROUTER, nil)
	ep := bind(t, router)
	d1 := newSocket(t, zmtp.DEALER, &socket.Options{})
	d1opts := &socket.Options{}
	d1opts.Identity = []byte("two")
	d2 := newSocket(t, zmtp.DEALER, d1opts)
	connect(t, d1, ep)
	connect(t, d2, ep)
	send(t, d2, "from two")
	recv(t, router, "two", "from two")
	send(t, router, "two", "back")
	recv(t, d2, "back")
	send(t, d1, "from one")
	m, err := router.Recv(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m[0]) != 5 || m[0][0] != 0 {
		t.Fatalf("generated id %x, want 5 bytes starting 00", m[0])
	}
	if err := router.Send(ctxT(t), [][]byte{m[0], []byte("to one")}); err != nil {
		t.Fatal(err)
	}
	recv(t, d1, "to one")
}

// waitGoroutines waits until no more goroutines run than base, the count
// taken at the start of the test, and fails with every stack if that takes
// more than 5 s. No test in this package calls t.Parallel, so the count is
// this test's own.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d at start:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLong bounds every wait for something that must happen; it is
// generous, so that a loaded machine (the race detector, every package's
// tests at once) does not make a test flaky. Nothing is asserted about
// speed: a wait that ends early is the normal case.
const waitLong = 10 * time.Second

// ctxFor returns a context that ends after d, cancelled at the end of the
// test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newEvents returns a channel for Options.Events, with room for every
// event a test produces.
func newEvents() chan socket.Event { return make(chan socket.Event, 4096) }

// waitEvent reads events from ch until one satisfies match and returns it;
// it fails after waitLong, listing the events seen.
func waitEvent(t *testing.T, ch <-chan socket.Event, what string, match func(socket.Event) bool) socket.Event {
	t.Helper()
	timer := time.NewTimer(waitLong)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case e := <-ch:
			if match(e) {
				return e
			}
			seen = append(seen, e.String())
		case <-timer.C:
			t.Fatalf("no %s event within %v; saw %q", what, waitLong, seen)
		}
	}
}

// waitKind waits for the next event of kind k.
func waitKind(t *testing.T, ch <-chan socket.Event, k socket.EventKind) socket.Event {
	t.Helper()
	return waitEvent(t, ch, k.String(), func(e socket.Event) bool { return e.Kind == k })
}

// noEvent fails if an event of kind k is waiting on ch or arrives within
// d.
func noEvent(t *testing.T, ch <-chan socket.Event, k socket.EventKind, d time.Duration) {
	t.Helper()
	for len(ch) > 0 {
		if e := <-ch; e.Kind == k {
			t.Fatalf("unexpected event: %v", e)
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e := <-ch:
			if e.Kind == k {
				t.Fatalf("unexpected event: %v", e)
			}
		case <-timer.C:
			return
		}
	}
}

// waitPeers waits until s has n established connections.
func waitPeers(t *testing.T, s *socket.Socket, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for s.Stats().Peers != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d peers after %v, want %d", s.Type(), s.Stats().Peers, waitLong, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recvErr receives with a context that ends after d, and returns the error.
func recvErr(s *socket.Socket, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := s.Recv(ctx)
	return err
}

// sendErr sends with a context that ends after d, and returns the error.
func sendErr(s *socket.Socket, d time.Duration, frames ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Send(ctx, msg(frames...))
}

// freeEndpoint returns a loopback TCP endpoint nobody listens on, for a
// test to connect to before it binds there (or never does). Its port is
// below Linux's (32768-60999) and macOS's (49152-65535) ranges of
// ephemeral ports: the system never hands it out by itself, so it is
// still free when the test binds it, and a connect to it cannot end up
// connected to itself (a TCP self-connect, when the system picks the
// destination port as the source port).
func freeEndpoint(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 10000+rand.N(20000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use
		}
		ln.Close()
		return "tcp://" + addr
	}
	t.Fatal("no free port from 10000 to 29999")
	return ""
}

// bindFixed binds s to a freeEndpoint, for a test that binds the same
// endpoint again later (an ephemeral port, once closed, may be handed out
// to a connection in between).
func bindFixed(t *testing.T, s *socket.Socket) string {
	t.Helper()
	for range 10 {
		ep := freeEndpoint(t)
		if err := s.Bind(ep); err == nil {
			return ep
		}
	}
	t.Fatal("no free port to bind")
	return ""
}

// rawServer is a TCP listener on loopback that runs handle on every
// connection it accepts, each in its own goroutine. At the end of the test
// the listener and every connection are closed and the goroutines waited
// for.
type rawServer struct {
	ln       net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newRawServer(t *testing.T, handle func(net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawServer{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.accepted.Add(1)
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *rawServer) endpoint() string { return "tcp://" + r.ln.Addr().String() }

func TestStatsQueuedAfterClose(t *testing.T) {
	push := newSocket(t, zmtp.PUSH, &socket.Options{Linger: 50 * time.Millisecond})
	connect(t, push, "tcp://127.0.0.1:1") // nobody there
	for range 3 {
		send(t, push, "lost")
	}
	if q := push.Stats().Queued; q != 3 {
		t.Fatalf("Queued = %d before Close, want 3", q)
	}
	push.Close()
	if q := push.Stats().Queued; q != 3 {
		t.Fatalf("Queued = %d after Close, want 3 (dropped when the linger ran out)", q)
	}
}
