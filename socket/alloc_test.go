package socket_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestSteadyStateAllocs checks that a message through a PUSH and a PULL
// socket costs at most one allocation in steady state, all goroutines of
// both sockets counted (the receive side carves messages out of slabs;
// the send side takes the caller's frames as they are).
func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet run")
	}
	for _, mech := range []string{"NULL", "CURVE"} {
		t.Run(mech, func(t *testing.T) {
			pull := newSocket(t, zmtp.PULL, nil)
			push := newSocket(t, zmtp.PUSH, nil)
			if mech == "CURVE" {
				so, co := curveOptions(t)
				pull = newSocket(t, zmtp.PULL, so)
				push = newSocket(t, zmtp.PUSH, co)
			}
			connect(t, push, bind(t, pull))
			ctx := context.Background()
			m := [][]byte{make([]byte, 16)}
			round := func() {
				if err := push.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
				if _, err := pull.Recv(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for range 2000 { // warm up: rings, slabs, waiter pool
				round()
			}
			allocs := testing.AllocsPerRun(5000, round)
			t.Logf("%s: %.3f allocations per message", mech, allocs)
			if allocs > 1 {
				t.Errorf("%.3f allocations per message, want at most 1", allocs)
			}
		})
	}
}

// TestRecvIntoLargeAllocs checks that RecvInto recycles large messages: 64
// KiB messages through PUSH and PULL cost under one allocation each in
// steady state, and arrive intact.
func TestRecvIntoLargeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet run")
	}
	pull := newSocket(t, zmtp.PULL, nil)
	push := newSocket(t, zmtp.PUSH, nil)
	connect(t, push, bind(t, pull))
	ctx := context.Background()
	payload := make([]byte, 64<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	m := [][]byte{payload}
	var dst [][]byte
	round := func() {
		if err := push.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		var err error
		if dst, err = pull.RecvInto(ctx, dst); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		round()
	}
	if len(dst) != 1 || !bytes.Equal(dst[0], payload) {
		t.Fatal("RecvInto: the message arrived changed")
	}
	allocs := testing.AllocsPerRun(500, round)
	t.Logf("%.3f allocations per 64 KiB message", allocs)
	if allocs > 1 {
		t.Errorf("%.3f allocations per 64 KiB message with RecvInto, want at most 1", allocs)
	}
}
