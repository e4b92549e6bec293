package socket_test

import (
	"context"
	"errors"
	"runtime"
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
	pull := newSocket(t, zmtp.PULL, nil)
	ep := bind(t, pull)
	pull.Close() // free the port: the PUSH connects to nothing at first

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
