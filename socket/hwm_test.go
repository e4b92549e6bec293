package socket_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// High-water marks: exact at the application's side, and a bound on
// memory whatever the peer does.

// TestSendHWMExact: a PUSH with SendHWM 5 connected to an endpoint nobody
// listens on accepts exactly 5 messages; the 6th blocks until its
// context ends, and is not queued. When a PULL appears, the 5 arrive in
// order, then what is sent next.
func TestSendHWMExact(t *testing.T) {
	ep := freeEndpoint(t)
	push := newSocket(t, zmtp.PUSH, &socket.Options{SendHWM: 5, Linger: -1, ReconnectInterval: 20 * time.Millisecond})
	connect(t, push, ep)
	for i := range 5 {
		send(t, push, fmt.Sprint(i))
	}
	if err := sendErr(push, 200*time.Millisecond, "6th"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("6th Send: %v, want context.DeadlineExceeded", err)
	}
	pull := newSocket(t, zmtp.PULL, nil)
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		recv(t, pull, fmt.Sprint(i))
	}
	send(t, push, "after")
	recv(t, pull, "after")
}

// TestSendHWMPerPipe: the mark is per peer: a DEALER connected to two
// absent peers with SendHWM 3 accepts 6 messages, round-robin, then
// blocks.
func TestSendHWMPerPipe(t *testing.T) {
	eps := []string{freeEndpoint(t), freeEndpoint(t)}
	dealer := newSocket(t, zmtp.DEALER, &socket.Options{SendHWM: 3, Linger: -1, ReconnectInterval: 20 * time.Millisecond})
	for _, ep := range eps {
		connect(t, dealer, ep)
	}
	for i := range 6 {
		send(t, dealer, fmt.Sprint(i))
	}
	if err := sendErr(dealer, 200*time.Millisecond, "7th"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("7th Send: %v, want context.DeadlineExceeded", err)
	}
	// Each peer got every other message.
	for i, ep := range eps {
		router := newSocket(t, zmtp.ROUTER, nil)
		if err := router.Bind(ep); err != nil {
			t.Fatal(err)
		}
		got := recvAll(t, router, 3)
		if got[0] != "0" && got[0] != "1" {
			t.Fatalf("peer %d got %q first", i, got)
		}
		first := got[0][0] - '0'
		for j, m := range got {
			if want := fmt.Sprint(int(first) + 2*j); m != want {
				t.Fatalf("peer %d got %q, want every other message from %d", i, got, first)
			}
		}
	}
}

// TestSlowReceiverMemoryBounded: a PULL whose application never reads
// does not make either socket's memory grow past its high-water marks:
// the PUSH blocks instead. The heap after the sender blocked is compared
// with the heap before, after a GC each time; the queues may hold
// SendHWM + RecvHWM messages, plus one batch a writer holds and one
// message a reader holds (the kernel's socket buffers hold the rest, off
// the Go heap). Then every accepted message arrives, in order.
func TestSlowReceiverMemoryBounded(t *testing.T) {
	const (
		hwm   = 10
		size  = 64 << 10
		limit = 4*hwm*size + 4<<20 // 2.5 MiB of messages, 4 MiB of slack
		// cap on accepted sends: past it, the sender was never held back
		// (it would be at least 4 times the limit).
		maxAccepted = 16 * limit / size
	)
	pull := newSocket(t, zmtp.PULL, &socket.Options{RecvHWM: hwm, Linger: -1})
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, &socket.Options{SendHWM: hwm, Linger: -1})
	connect(t, push, ep)
	send(t, push, "hello")
	recv(t, pull, "hello")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	accepted, blocked := 0, 0
	for blocked < 10 {
		if accepted >= maxAccepted {
			t.Fatalf("%d messages of %d bytes accepted with SendHWM and RecvHWM %d: the sender is never held back", accepted, size, hwm)
		}
		m := [][]byte{[]byte(fmt.Sprint(accepted)), make([]byte, size)}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := push.Send(ctx, m)
		cancel()
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, context.DeadlineExceeded):
			blocked++
		default:
			t.Fatalf("Send: %v", err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d messages of %d bytes accepted, then %d sends blocked; heap grew by %d bytes", accepted, size, blocked, grew)
	if grew > limit {
		t.Errorf("heap grew by %d bytes with SendHWM and RecvHWM %d of %d-byte messages; want at most %d", grew, hwm, size, limit)
	}
	for i := range accepted {
		m, err := pull.Recv(ctxT(t))
		if err != nil {
			t.Fatalf("Recv %d of %d: %v", i, accepted, err)
		}
		if string(m[0]) != fmt.Sprint(i) || len(m[1]) != size {
			t.Fatalf("message %d: %q and %d bytes", i, m[0], len(m[1]))
		}
	}
}

// TestSlowReceiverDropsBounded: a PUB never blocks, nor does a ROUTER
// without RouterMandatory: with a peer that does not read they drop what
// is past the marks. Sending 40 times what the marks and the slack allow
// leaves the heap bounded as above, and what the peer then receives is in
// order, with the rest dropped.
func TestSlowReceiverDropsBounded(t *testing.T) {
	const (
		hwm   = 10
		size  = 64 << 10
		limit = 4*hwm*size + 4<<20
		sends = 40 * limit / size
	)
	tests := []struct {
		name      string
		from, to  zmtp.SocketType
		envelope  []byte
		subscribe bool
	}{
		{name: "PUB to SUB", from: zmtp.PUB, to: zmtp.SUB, subscribe: true},
		{name: "ROUTER to DEALER", from: zmtp.ROUTER, to: zmtp.DEALER, envelope: []byte("d")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := newSocket(t, tt.from, &socket.Options{SendHWM: hwm, Linger: -1})
			topts := &socket.Options{RecvHWM: hwm}
			topts.Identity = tt.envelope // the ROUTER's routing id for the DEALER
			to := newSocket(t, tt.to, topts)
			connect(t, to, bind(t, from))
			waitPeers(t, from, 1)
			if tt.subscribe {
				if err := to.Subscribe(nil); err != nil {
					t.Fatal(err)
				}
				publishUntil(t, from, to, "ready")
			}
			ctx := ctxT(t) // one for all: each ctxT holds memory until the test ends
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range sends {
				m := [][]byte{[]byte(fmt.Sprint(i)), make([]byte, size)}
				if tt.envelope != nil {
					m = append([][]byte{tt.envelope}, m...)
				}
				if err := from.Send(ctx, m); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d messages of %d bytes sent; heap grew by %d bytes", sends, size, grew)
			if grew > limit {
				t.Errorf("heap grew by %d bytes with SendHWM and RecvHWM %d of %d-byte messages; want at most %d", grew, hwm, size, limit)
			}
			got, last := 0, -1
			for {
				m, err := to.Recv(ctxFor(t, 500*time.Millisecond))
				if errors.Is(err, context.DeadlineExceeded) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if _, err := fmt.Sscan(string(m[0]), &n); err != nil || n <= last {
					t.Fatalf("message %q after %d", m[0], last)
				}
				last = n
				got++
			}
			t.Logf("%d of %d received", got, sends)
			if got == 0 || got >= sends {
				t.Errorf("%d of %d messages received: want some, and some dropped", got, sends)
			}
		})
	}
}
