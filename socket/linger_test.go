package socket_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// closeAsync runs s.Close in a goroutine; the channel gets its result.
func closeAsync(s *socket.Socket) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	return done
}

// waitClosed waits up to d for the Close started by closeAsync.
func waitClosed(t *testing.T, done <-chan error, d time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Close %s has not returned after %v", what, d)
	}
}

// TestLingerDelivers: a PUSH closed with 100 messages queued for a peer
// that is not there yet, with a Linger of 5 s, delivers all of them to a
// PULL that binds while it lingers; Close returns once they are out.
func TestLingerDelivers(t *testing.T) {
	base := runtime.NumGoroutine()
	ep := freeEndpoint(t)
	push, err := socket.New(zmtp.PUSH, &socket.Options{Linger: 5 * time.Second, ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, push, ep)
	for i := range 100 {
		send(t, push, fmt.Sprint(i))
	}
	done := closeAsync(push)
	time.Sleep(100 * time.Millisecond) // Close is lingering
	select {
	case err := <-done:
		t.Fatalf("Close returned (%v) with 100 messages queued and Linger 5 s", err)
	default:
	}
	pull, err := socket.New(zmtp.PULL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		recv(t, pull, fmt.Sprint(i))
	}
	waitClosed(t, done, waitLong, "with a peer to deliver to")
	pull.Close()
	waitGoroutines(t, base)
}

// TestLingerNegative: with a negative Linger, Close drops what is queued
// and returns without waiting (the default would wait 30 s for a peer).
func TestLingerNegative(t *testing.T) {
	push, err := socket.New(zmtp.PUSH, &socket.Options{Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, push, freeEndpoint(t))
	for i := range 100 {
		send(t, push, fmt.Sprint(i))
	}
	waitClosed(t, closeAsync(push), 5*time.Second, "with Linger -1")
}

// TestLingerBounded: with no peer ever, Close returns after Linger; and a
// Close while the socket lingers for one endpoint also covers messages
// queued on an accepted connection whose peer does not read.
func TestLingerBounded(t *testing.T) {
	push, err := socket.New(zmtp.PUSH, &socket.Options{Linger: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, push, freeEndpoint(t))
	send(t, push, "never delivered")
	waitClosed(t, closeAsync(push), waitLong, "with Linger 200 ms")

	// A bound PUSH whose PULL stopped reading, with its queue full.
	pull := newSocket(t, zmtp.PULL, &socket.Options{RecvHWM: 1})
	push, err = socket.New(zmtp.PUSH, &socket.Options{Linger: 200 * time.Millisecond, SendHWM: 1})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, pull, bind(t, push))
	big := make([]byte, 1<<20)
	for range 64 { // far more than the kernel buffers take
		if err := push.Send(ctxFor(t, 100*time.Millisecond), [][]byte{big}); err != nil {
			break
		}
	}
	waitClosed(t, closeAsync(push), waitLong, "with Linger 200 ms and a stalled peer")
}

// TestIPC: ipc:// endpoints, for binding, connecting before the bind, and
// rebinding the same path after the peer went away.
func TestIPC(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "s")
	ev := newEvents()
	req := newSocket(t, zmtp.REQ, &socket.Options{Events: ev, ReconnectInterval: 20 * time.Millisecond})
	connect(t, req, ep) // before anyone binds
	send(t, req, "q1")
	rep := newSocket(t, zmtp.REP, nil)
	if err := rep.Bind(ep); err != nil {
		t.Fatalf("Bind(%s): %v", ep, err)
	}
	if got := rep.LastEndpoint(); got != ep {
		t.Errorf("LastEndpoint %q, want %q", got, ep)
	}
	recv(t, rep, "q1")
	send(t, rep, "a1")
	recv(t, req, "a1")

	rep.Close()
	waitKind(t, ev, socket.EventDisconnected)
	rep = newSocket(t, zmtp.REP, nil)
	if err := rep.Bind(ep); err != nil {
		t.Fatalf("Bind(%s) again: %v", ep, err)
	}
	send(t, req, "q2")
	recv(t, rep, "q2")
	send(t, rep, "a2")
	recv(t, req, "a2")

	// And the other way round, with a PUSH bound on a second path.
	ep2 := "ipc://" + filepath.Join(t.TempDir(), "t")
	push := newSocket(t, zmtp.PUSH, nil)
	if err := push.Bind(ep2); err != nil {
		t.Fatal(err)
	}
	pull := newSocket(t, zmtp.PULL, nil)
	connect(t, pull, ep2)
	for i := range 10 {
		send(t, push, fmt.Sprint(i))
	}
	for i := range 10 {
		recv(t, pull, fmt.Sprint(i))
	}
}
