package socket_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Many goroutines on one socket, and no goroutine left after Close. Run
// with -race.

// traffic makes every socket of conns, connected to b, carry a message
// each way their types allow, so that every connection is established and
// has had traffic. Where b has to send first (its connectors cannot), it
// waits for all of them, so that round-robin reaches each.
func traffic(t *testing.T, conns []*socket.Socket, b *socket.Socket) {
	t.Helper()
	// reply receives on b and answers through the envelope, n times.
	reply := func(n int) {
		t.Helper()
		for range n {
			m, err := b.Recv(ctxT(t))
			if err != nil {
				t.Fatalf("%s Recv: %v", b.Type(), err)
			}
			m[len(m)-1] = []byte("back")
			if err := b.Send(ctxT(t), m); err != nil {
				t.Fatalf("%s Send: %v", b.Type(), err)
			}
		}
	}
	// bFirst sends from b to each connector (round-robin), which answers
	// with answer (nil: nothing), then b receives the answers.
	bFirst := func(answer func(c *socket.Socket, m [][]byte) [][]byte) {
		t.Helper()
		waitPeers(t, b, len(conns))
		errs := make(chan error, len(conns))
		for _, c := range conns {
			go func() {
				m, err := c.Recv(ctxT(t))
				if err == nil && answer != nil {
					err = c.Send(ctxT(t), answer(c, m))
				}
				errs <- err
			}()
		}
		for range conns {
			send(t, b, "first")
			if answer != nil && b.Type() == zmtp.REQ {
				recv(t, b, "back")
			}
		}
		for range conns {
			if err := <-errs; err != nil {
				t.Fatalf("%s: %v", conns[0].Type(), err)
			}
		}
		if answer != nil && b.Type() != zmtp.REQ {
			for range conns {
				if _, err := b.Recv(ctxT(t)); err != nil {
					t.Fatalf("%s Recv: %v", b.Type(), err)
				}
			}
		}
	}
	back := func(_ *socket.Socket, m [][]byte) [][]byte {
		m[len(m)-1] = []byte("back")
		return m
	}
	switch ct := conns[0].Type(); {
	case ct == zmtp.PUSH:
		for _, c := range conns {
			send(t, c, "push")
			recv(t, b, "push")
		}
	case ct == zmtp.PULL:
		bFirst(nil)
	case ct == zmtp.PAIR, ct == zmtp.REQ, ct == zmtp.DEALER && b.Type() != zmtp.DEALER:
		for _, c := range conns {
			frames := []string{"q"}
			if ct == zmtp.DEALER && b.Type() == zmtp.REP {
				frames = []string{"", "q"}
			}
			send(t, c, frames...)
			if b.Type() == zmtp.PAIR {
				recv(t, b, "q")
				send(t, b, "back")
			} else {
				reply(1)
			}
			frames[len(frames)-1] = "back"
			recv(t, c, frames...)
		}
	case ct == zmtp.ROUTER, ct == zmtp.DEALER, ct == zmtp.REP:
		bFirst(back)
	case ct == zmtp.SUB:
		for _, c := range conns {
			if err := c.Subscribe(nil); err != nil {
				t.Fatal(err)
			}
		}
		// A subscription takes a moment to reach the publisher: publish
		// until each subscriber has a message.
		for _, c := range conns {
			publishText(t, b, c, "pub")
		}
	case ct == zmtp.PUB:
		if err := b.Subscribe(nil); err != nil {
			t.Fatal(err)
		}
		for i, c := range conns {
			publishText(t, c, b, fmt.Sprint("pub", i))
		}
	case ct == zmtp.XPUB:
		// The XSUB subscribes to everything; each XPUB sees the
		// subscription, then publishes until the XSUB has its message.
		waitPeers(t, b, len(conns))
		send(t, b, "\x01")
		for i, c := range conns {
			recv(t, c, "\x01")
			publishText(t, c, b, fmt.Sprint("pub", i))
		}
	default:
		t.Fatalf("no traffic for %s to %s", ct, b.Type())
	}
}

// publishUntil publishes text on pub until sub receives it.
func publishText(t *testing.T, pub, sub *socket.Socket, text string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		send(t, pub, text)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := sub.Recv(ctx)
		cancel()
		if err == nil && len(m) == 1 && string(m[0]) == text {
			return
		}
	}
	t.Fatalf("%s received no %q", sub.Type(), text)
}

// TestNoGoroutinesAfterClose: for every pair of socket types, with two
// peers connected to one bound socket and traffic exchanged, closing the
// sockets (the bound one first or last) leaves no goroutine behind.
func TestNoGoroutinesAfterClose(t *testing.T) {
	kp := testkeys.New(t)
	pairs := [][2]zmtp.SocketType{
		{zmtp.PAIR, zmtp.PAIR},
		{zmtp.PUSH, zmtp.PULL},
		{zmtp.PULL, zmtp.PUSH},
		{zmtp.DEALER, zmtp.ROUTER},
		{zmtp.ROUTER, zmtp.DEALER},
		{zmtp.DEALER, zmtp.DEALER},
		{zmtp.REQ, zmtp.REP},
		{zmtp.REP, zmtp.REQ},
		{zmtp.REQ, zmtp.ROUTER},
		{zmtp.DEALER, zmtp.REP},
		{zmtp.PUB, zmtp.SUB},
		{zmtp.SUB, zmtp.PUB},
		{zmtp.XPUB, zmtp.XSUB},
	}
	for _, p := range pairs {
		for _, bindFirst := range []bool{true, false} {
			for _, curve := range []bool{false, true} {
				name := fmt.Sprintf("%s-%s/boundClosedFirst=%v/curve=%v", p[0], p[1], bindFirst, curve)
				t.Run(name, func(t *testing.T) {
					base := runtime.NumGoroutine()
					bound, conn := p[1], p[0]
					copts := socket.Options{Linger: time.Second}
					copts.HeartbeatInterval = 50 * time.Millisecond
					bopts := copts
					if curve {
						srv, err := mechanism.CurveServer(kp)
						if err != nil {
							t.Fatal(err)
						}
						bopts.Mechanism = srv
						cli, err := mechanism.CurveClient(kp.Public, testkeys.New(t))
						if err != nil {
							t.Fatal(err)
						}
						copts.Mechanism = cli
					}
					b, err := socket.New(bound, &bopts)
					if err != nil {
						t.Fatal(err)
					}
					ep := bind(t, b)
					var conns []*socket.Socket
					if bound == zmtp.PAIR {
						conns = make([]*socket.Socket, 1)
					} else {
						conns = make([]*socket.Socket, 2)
					}
					for i := range conns {
						if conns[i], err = socket.New(conn, &copts); err != nil {
							t.Fatal(err)
						}
						connect(t, conns[i], ep)
					}
					traffic(t, conns, b)
					if bindFirst {
						b.Close()
					}
					for _, c := range conns {
						c.Close()
					}
					b.Close()
					waitGoroutines(t, base)
				})
			}
		}
	}
}

// TestManySendersReceivers: 8 goroutines send 1000 messages each on one
// DEALER while 8 goroutines receive on the ROUTER it is connected to, and
// the other way round (the ROUTER with RouterMandatory, so that it blocks
// at the high-water mark instead of dropping); every message arrives
// exactly once.
func TestManySendersReceivers(t *testing.T) {
	const goroutines, perG = 8, 1000
	router := newSocket(t, zmtp.ROUTER, &socket.Options{RouterMandatory: true, SendHWM: 100, RecvHWM: 100})
	ep := bind(t, router)
	dopts := &socket.Options{SendHWM: 100, RecvHWM: 100}
	dopts.Identity = []byte("dealer")
	dealer := newSocket(t, zmtp.DEALER, dopts)
	connect(t, dealer, ep)
	waitPeers(t, router, 1)

	run := func(t *testing.T, from, to *socket.Socket, envelope [][]byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*waitLong)
		defer cancel()
		var (
			mu   sync.Mutex
			seen = make(map[string]int)
			got  atomic.Int32
			wg   sync.WaitGroup
		)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perG {
					m := append(append([][]byte(nil), envelope...), []byte(fmt.Sprintf("%d-%d", g, i)))
					if err := from.Send(ctx, m); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}()
		}
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for got.Load() < goroutines*perG {
					rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
					m, err := to.Recv(rctx)
					rcancel()
					if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
						continue // another receiver took the last ones
					}
					if err != nil {
						t.Errorf("Recv: %v", err)
						return
					}
					if to.Type() == zmtp.ROUTER {
						if string(m[0]) != "dealer" {
							t.Errorf("routing id %q", m[0])
						}
						m = m[1:]
					}
					if len(m) != 1 {
						t.Errorf("message %q", m)
						return
					}
					mu.Lock()
					seen[string(m[0])]++
					mu.Unlock()
					got.Add(1)
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if len(seen) != goroutines*perG {
			t.Errorf("%d distinct messages, want %d", len(seen), goroutines*perG)
		}
		for m, n := range seen {
			if n != 1 {
				t.Errorf("message %s received %d times", m, n)
			}
		}
	}
	t.Run("DEALER to ROUTER", func(t *testing.T) { run(t, dealer, router, nil) })
	t.Run("ROUTER to DEALER", func(t *testing.T) { run(t, router, dealer, [][]byte{[]byte("dealer")}) })
}

// TestFanOutFanIn: several goroutines on each of two PUSH sockets, two
// PULL sockets each read by several goroutines; every message arrives
// exactly once.
func TestFanOutFanIn(t *testing.T) {
	const perPush = 2000
	pulls := []*socket.Socket{newSocket(t, zmtp.PULL, &socket.Options{RecvHWM: 10}), newSocket(t, zmtp.PULL, &socket.Options{RecvHWM: 10})}
	pushes := []*socket.Socket{newSocket(t, zmtp.PUSH, &socket.Options{SendHWM: 10}), newSocket(t, zmtp.PUSH, &socket.Options{SendHWM: 10})}
	for _, pull := range pulls {
		ep := bind(t, pull)
		for _, push := range pushes {
			connect(t, push, ep)
		}
	}
	for _, pull := range pulls {
		waitPeers(t, pull, len(pushes))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitLong)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  = make(map[string]int)
		total atomic.Int32
		want  = int32(len(pushes) * perPush)
	)
	for p, push := range pushes {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < perPush; i += 4 {
					if err := push.Send(ctx, msg(fmt.Sprintf("%d-%d", p, i))); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}()
		}
	}
	for _, pull := range pulls {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for total.Load() < want {
					rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
					m, err := pull.Recv(rctx)
					rcancel()
					if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
						continue
					}
					if err != nil {
						t.Errorf("Recv: %v", err)
						return
					}
					mu.Lock()
					seen[string(m[0])]++
					mu.Unlock()
					total.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if len(seen) != int(want) {
		t.Errorf("%d distinct messages, want %d", len(seen), want)
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("message %s received %d times", m, n)
		}
	}
}

// TestCloseDuringTraffic: Close while goroutines send and receive in
// loops on both ends; every loop ends with ErrClosed (or, on the side
// still open, with its context), and nothing is left running.
func TestCloseDuringTraffic(t *testing.T) {
	base := runtime.NumGoroutine()
	dealer, err := socket.New(zmtp.DEALER, &socket.Options{Linger: -1, SendHWM: 10, RecvHWM: 10})
	if err != nil {
		t.Fatal(err)
	}
	router, err := socket.New(zmtp.ROUTER, &socket.Options{Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	ep := bind(t, router)
	connect(t, dealer, ep)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	var wg sync.WaitGroup
	loop := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := f()
				if err == nil {
					continue
				}
				if !errors.Is(err, socket.ErrClosed) {
					t.Errorf("loop ended with %v, want ErrClosed", err)
				}
				return
			}
		}()
	}
	for range 4 {
		loop(func() error { return dealer.Send(ctx, msg("x")) })
		loop(func() error { _, err := dealer.Recv(ctx); return err })
		loop(func() error {
			m, err := router.Recv(ctx)
			if err != nil {
				return err
			}
			return router.Send(ctx, [][]byte{m[0], []byte("y")})
		})
	}
	// Both sockets see traffic, and Stats is read meanwhile.
	for router.Stats().Peers != 1 || dealer.Stats().Peers != 1 {
		if ctx.Err() != nil {
			t.Fatal("no connection")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	dealer.Close()
	router.Close()
	wg.Wait()
	if ctx.Err() != nil {
		t.Error("loops ended only with their context")
	}
	waitGoroutines(t, base)
}

// TestConcurrentEndpoints: Bind, Connect, Disconnect, Unbind and Stats
// from several goroutines while messages flow, under -race.
func TestConcurrentEndpoints(t *testing.T) {
	pull := newSocket(t, zmtp.PULL, nil)
	push := newSocket(t, zmtp.PUSH, &socket.Options{Linger: -1})
	var wg sync.WaitGroup
	eps := make([]string, 4)
	for range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
				t.Errorf("Bind: %v", err)
			}
		}()
	}
	wg.Wait()
	// LastEndpoint is one of them; bind four more to know each.
	for i := range eps {
		eps[i] = bind(t, pull)
	}
	for _, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := push.Connect(ep); err != nil {
				t.Errorf("Connect: %v", err)
			}
			_ = push.Stats()
			_ = pull.LastEndpoint()
		}()
	}
	wg.Wait()
	waitPeers(t, pull, len(eps))
	for i := range 20 {
		send(t, push, fmt.Sprint(i))
	}
	for range 20 {
		if _, err := pull.Recv(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	// One endpoint is disconnected, another unbound (and disconnected too,
	// or the PUSH would go on queueing for it: load balancing counts
	// queue space, not liveness).
	for i, ep := range eps[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 1 {
				if err := pull.Unbind(ep); err != nil {
					t.Errorf("Unbind(%s): %v", ep, err)
				}
			}
			if err := push.Disconnect(ep); err != nil {
				t.Errorf("Disconnect(%s): %v", ep, err)
			}
		}()
	}
	wg.Wait()
	waitPeers(t, pull, len(eps)-2)
	for i := range 10 {
		send(t, push, fmt.Sprint(i))
		recv(t, pull, fmt.Sprint(i))
	}
}
