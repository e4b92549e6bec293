package hostile_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Attacks on one connection: slowloris at every handshake step, bombs
// (frames, bytes, metadata), floods, and peers that stop reading. Server
// configs use short handshake timeouts so that each case stays fast.

const (
	shortHandshake = 400 * time.Millisecond
	legitWithin    = 3 * time.Second
)

// awaitErr waits up to d for a connection error of the server that
// satisfies match, skipping others (a legitimate client's connection ends
// with EOF, for example). It returns when the error arrived, and the error.
func awaitErr(t *testing.T, s *server, d time.Duration, what string, match func(error) bool) (time.Time, error) {
	t.Helper()
	deadline := time.After(d)
	var seen []string
	for {
		select {
		case err := <-s.errs:
			if match(err) {
				return time.Now(), err
			}
			seen = append(seen, err.Error())
		case <-deadline:
			t.Fatalf("no %s from the server within %v; saw: %q", what, d, seen)
			return time.Time{}, nil
		}
	}
}

// isDeadline reports the one form of a handshake timeout.
func isDeadline(err error) bool {
	var he *transport.HandshakeError
	return errors.As(err, &he) && he.Timeout() && errors.Is(err, transport.ErrHandshakeTimeout) &&
		errors.Is(err, context.DeadlineExceeded) && errors.Is(err, os.ErrDeadlineExceeded)
}

// totalAlloc returns the bytes allocated on the heap so far, freed or not:
// unlike the sampled heap size, it misses no short spike.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// assertAllocated fails the test if more than limit bytes were allocated
// since from (a totalAlloc reading).
func assertAllocated(t *testing.T, from, limit uint64) {
	t.Helper()
	if got := totalAlloc() - from; got > limit {
		t.Errorf("%d KiB allocated during the attack; bound %d KiB", got>>10, limit>>10)
	} else {
		t.Logf("allocated during the attack: %d KiB (bound %d KiB)", got>>10, limit>>10)
	}
}

// drip writes b to c one byte every ivl until it is all written, the
// connection fails or the test ends.
func drip(t *testing.T, c net.Conn, b []byte, ivl time.Duration) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range b {
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(ivl):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// nullReady returns a NULL READY command frame with the given properties.
func nullReady(kv ...string) []byte {
	var md zmtp.Metadata
	for i := 0; i+1 < len(kv); i += 2 {
		md = append(md, zmtp.Property{Name: kv[i], Value: []byte(kv[i+1])})
	}
	return commandFrame(zmtp.Command{Name: zmtp.CmdReady, Data: md.Append(nil)})
}

// commandFrame encodes cmd as a command frame.
func commandFrame(cmd zmtp.Command) []byte {
	b := zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, cmd.Len())
	return cmd.Append(b)
}

// nullAttacker completes a NULL handshake as a DEALER over a raw
// connection and returns the connection, ready for frames. What the server
// sends after its READY is left partly read.
func nullAttacker(t *testing.T, endpoint string) net.Conn {
	t.Helper()
	c := attacker(t, endpoint)
	if _, err := c.Write(append(greeting("NULL", false), nullReady("Socket-Type", "DEALER", "Identity", "")...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := zmtp.NewReader(c)
	if _, err := r.ReadGreeting(); err != nil {
		t.Fatalf("attacker: server greeting: %v", err)
	}
	f, err := r.ReadFrame()
	if err != nil || !bytes.HasPrefix(f.Body, []byte("\x05READY")) {
		t.Fatalf("attacker: want READY, got %q, %v", f.Body, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// curveClientHandshake returns a sans-I/O CURVE client handshake for cfg,
// closed when the test ends.
func curveClientHandshake(t *testing.T, cfg *transport.Config) mechanism.Handshake {
	t.Helper()
	hs, err := cfg.Mechanism.NewHandshake(mechanism.Params{
		Metadata: zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("DEALER")}, {Name: zmtp.PropIdentity}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.Close)
	return hs
}

// TestSlowlorisHandshake: a peer that sends the handshake slowly, or stops
// at any step, is cut off by HandshakeTimeout with the one timeout error
// (errors.Is context.DeadlineExceeded), while a legitimate client is
// served.
func TestSlowlorisHandshake(t *testing.T) {
	type attack func(t *testing.T, c net.Conn, ccfg *transport.Config)
	for _, tt := range []struct {
		name  string
		curve bool
		run   attack
	}{
		{"greeting one byte per 100ms", false, func(t *testing.T, c net.Conn, _ *transport.Config) {
			drip(t, c, greeting("NULL", false), 100*time.Millisecond)
		}},
		{"NULL stop after greeting", false, func(t *testing.T, c net.Conn, _ *transport.Config) {
			c.Write(greeting("NULL", false))
		}},
		{"NULL stop inside READY", false, func(t *testing.T, c net.Conn, _ *transport.Config) {
			ready := nullReady("Socket-Type", "DEALER")
			c.Write(append(greeting("NULL", false), ready[:len(ready)-3]...))
		}},
		{"NULL READY one byte per 100ms", false, func(t *testing.T, c net.Conn, _ *transport.Config) {
			c.Write(greeting("NULL", false))
			drip(t, c, nullReady("Socket-Type", "DEALER"), 100*time.Millisecond)
		}},
		{"CURVE stop after greeting", true, func(t *testing.T, c net.Conn, _ *transport.Config) {
			c.Write(greeting("CURVE", false))
		}},
		{"CURVE stop after HELLO", true, func(t *testing.T, c net.Conn, ccfg *transport.Config) {
			hs := curveClientHandshake(t, ccfg)
			out, err := hs.Start(context.Background())
			if err != nil || len(out) != 1 || out[0].Name != zmtp.CmdHello {
				t.Fatalf("HELLO: %v %v", out, err)
			}
			c.Write(append(greeting("CURVE", false), commandFrame(out[0])...))
		}},
		{"CURVE stop inside INITIATE", true, func(t *testing.T, c net.Conn, ccfg *transport.Config) {
			hs := curveClientHandshake(t, ccfg)
			out, err := hs.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c.Write(append(greeting("CURVE", false), commandFrame(out[0])...))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			r := zmtp.NewReader(c)
			if _, err := r.ReadGreeting(); err != nil {
				t.Fatal(err)
			}
			f, err := r.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := zmtp.ParseCommand(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			out, err = hs.Handle(context.Background(), cmd)
			if err != nil || len(out) != 1 || out[0].Name != zmtp.CmdInitiate {
				t.Fatalf("INITIATE: %v %v", out, err)
			}
			initiate := commandFrame(out[0])
			c.Write(initiate[:len(initiate)/2])
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			scfg, ccfg := nullPair()
			if tt.curve {
				scfg, ccfg, _, _ = curvePair(t)
			}
			scfg.HandshakeTimeout = shortHandshake
			s := startServer(t, scfg)
			mem := watchMemory()
			c := attacker(t, s.endpoint)
			start := time.Now()
			tt.run(t, c, ccfg)
			mustLegit(t, s.endpoint, ccfg, legitWithin)
			at, _ := awaitErr(t, s, 3*time.Second, "handshake timeout", isDeadline)
			if d := at.Sub(start); d > shortHandshake+time.Second {
				t.Errorf("cut off after %v; HandshakeTimeout %v", d, shortHandshake)
			}
			expectClosed(t, c, 2*time.Second)
			assertGrowth(t, mem, 4<<20)
		})
	}
}

// TestOversizedFrameBeforeAuth: a frame header announcing 1 GiB before the
// handshake completes is refused on the header (*zmtp.FrameTooLargeError),
// before any of the body is buffered.
func TestOversizedFrameBeforeAuth(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	s := startServer(t, scfg)
	mem := watchMemory()
	c := attacker(t, s.endpoint)
	c.Write(append(greeting("NULL", false), zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, 1<<30)...))
	c.Write(make([]byte, 32<<10)) // the start of the body
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	_, err := awaitErr(t, s, 3*time.Second, "*zmtp.FrameTooLargeError", func(err error) bool {
		var fte *zmtp.FrameTooLargeError
		return errors.As(err, &fte) && fte.Size == 1<<30 && fte.Limit == transport.DefaultPreAuthMaxFrameSize
	})
	var he *transport.HandshakeError
	if !errors.As(err, &he) {
		t.Errorf("err = %v, want a *transport.HandshakeError", err)
	}
	expectClosed(t, c, 2*time.Second)
	assertGrowth(t, mem, 2<<20)
}

// TestMetadataBomb: 60 KB of 1-byte properties in READY is refused with
// *transport.TooManyPropertiesError; nothing of it is kept.
func TestMetadataBomb(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	s := startServer(t, scfg)
	const conns = 8
	var md []byte
	md = append(md, 11)
	md = append(md, "Socket-Type"...)
	md = append(md, 0, 0, 0, 6)
	md = append(md, "DEALER"...)
	n := 1
	for len(md)+7 < 60<<10 {
		md = append(md, 1, 'a'+byte(n%26), 0, 0, 0, 1, 'v')
		n++
	}
	ready := commandFrame(zmtp.Command{Name: zmtp.CmdReady, Data: md})
	mem := watchMemory()
	for i := 0; i < conns; i++ {
		c := attacker(t, s.endpoint)
		c.Write(append(greeting("NULL", false), ready...))
	}
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	for i := 0; i < conns; i++ {
		awaitErr(t, s, 3*time.Second, "*transport.TooManyPropertiesError", func(err error) bool {
			var te *transport.TooManyPropertiesError
			var me *mechanism.MetadataError
			return errors.As(err, &te) && te.Count == n && te.Limit == transport.DefaultMaxMetadataProperties &&
				errors.Is(err, transport.ErrTooManyProperties) && errors.As(err, &me)
		})
	}
	// Eight connections, each with 60 KB of metadata: a few MB at most
	// while they are parsed, nothing kept.
	assertGrowth(t, mem, 8<<20)
}

// TestCommandFloodBeforeReady: unknown commands before READY end the
// handshake at the first, with *mechanism.UnexpectedCommandError.
func TestCommandFloodBeforeReady(t *testing.T) {
	for _, curve := range []bool{false, true} {
		name := "NULL"
		if curve {
			name = "CURVE"
		}
		t.Run(name, func(t *testing.T) {
			leakCheck(t)
			scfg, ccfg := nullPair()
			if curve {
				scfg, ccfg, _, _ = curvePair(t)
			}
			scfg.HandshakeTimeout = shortHandshake
			s := startServer(t, scfg)
			flood := greeting(name, false)
			junk := commandFrame(zmtp.Command{Name: "FLOOD", Data: make([]byte, 200)})
			for len(flood) < 1<<20 {
				flood = append(flood, junk...)
			}
			mem := watchMemory()
			c := attacker(t, s.endpoint)
			go c.Write(flood) // fails once the server closes; the cleanup closes c
			mustLegit(t, s.endpoint, ccfg, legitWithin)
			awaitErr(t, s, 3*time.Second, "*mechanism.UnexpectedCommandError", func(err error) bool {
				var ue *mechanism.UnexpectedCommandError
				return errors.As(err, &ue) && ue.Got == "FLOOD"
			})
			expectClosed(t, c, 2*time.Second)
			assertGrowth(t, mem, 4<<20)
		})
	}
}

// TestFrameBomb: millions of empty frames in one message fail with
// *transport.MessageTooLargeError at MaxMessageFrames, with the heap
// bounded (they used to cost 564 MB in a server).
func TestFrameBomb(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	s := startServer(t, scfg)
	chunk := bytes.Repeat([]byte{byte(zmtp.FlagMore), 0}, 64<<10) // 64 Ki empty frames
	c := nullAttacker(t, s.endpoint)
	mem := watchMemory()
	alloc := totalAlloc()
	done := make(chan int)
	go func() {
		sent := 0
		for sent < 2_000_000 {
			if _, err := c.Write(chunk); err != nil {
				break
			}
			sent += len(chunk) / 2
		}
		done <- sent
	}()
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	awaitErr(t, s, 3*time.Second, "*transport.MessageTooLargeError", func(err error) bool {
		var me *transport.MessageTooLargeError
		return errors.As(err, &me) && me.Limit == "MaxMessageFrames" && me.Max == transport.DefaultMaxMessageFrames
	})
	select {
	case sent := <-done:
		t.Logf("the attacker got %d frames out before the connection closed", sent)
	case <-time.After(3 * time.Second):
		t.Fatal("the attacker's writes did not fail")
	}
	assertGrowth(t, mem, 4<<20)
	// 4096 slots of 24 bytes, with the copies made while the slice grew,
	// and the legitimate client.
	assertAllocated(t, alloc, 2<<20)
}

// TestFrameBombCurve: the same under CURVE, from an authenticated client.
func TestFrameBombCurve(t *testing.T) {
	leakCheck(t)
	scfg, ccfg, _, _ := curvePair(t)
	scfg.HandshakeTimeout = shortHandshake
	s := startServer(t, scfg)
	mem := watchMemory()
	nc, err := dialFrom(t, attackerIP, s.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := transport.Client(nc, ccfg)
	defer c.Close()
	werr := make(chan error, 1)
	bomb := make([][]byte, 20_000)
	go func() { werr <- c.WriteMessage(bomb) }()
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	awaitErr(t, s, 3*time.Second, "*transport.MessageTooLargeError", func(err error) bool {
		var me *transport.MessageTooLargeError
		return errors.As(err, &me) && me.Limit == "MaxMessageFrames"
	})
	select {
	case <-werr:
	case <-time.After(3 * time.Second):
		t.Fatal("the attacker's write did not end")
	}
	assertGrowth(t, mem, 8<<20) // the attacker's own sealed message (700 KB) is in this heap too
}

// TestMaxMessageBytesExceeded: frames of 64 KiB with MORE, without end,
// fail with *transport.MessageTooLargeError at MaxMessageBytes.
func TestMaxMessageBytesExceeded(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	scfg.MaxMessageBytes = 1 << 20
	s := startServer(t, scfg)
	frame := zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 64<<10))
	c := nullAttacker(t, s.endpoint)
	mem := watchMemory()
	alloc := totalAlloc()
	go func() {
		for i := 0; i < 1000; i++ { // 64 MB, if the server took it
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
	}()
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	awaitErr(t, s, 3*time.Second, "*transport.MessageTooLargeError", func(err error) bool {
		var me *transport.MessageTooLargeError
		return errors.As(err, &me) && me.Limit == "MaxMessageBytes" && me.Max == 1<<20 && me.Got > 1<<20
	})
	expectClosed(t, c, 2*time.Second)
	assertGrowth(t, mem, 6<<20)
	// The 1 MiB the message may hold and the reader's buffer, not the
	// 64 MB sent.
	assertAllocated(t, alloc, 4<<20)
}

// customServer serves like startServer, but runs handle for every
// connection from the attacker's address once its handshake is done; the
// legitimate client gets the echo. handle's error is reported.
func customServer(t *testing.T, cfg *transport.Config, handle func(c *transport.Conn) error) *server {
	t.Helper()
	l, err := transport.Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveWith(t, l, handle)
}

// TestPeerStopsReading: a peer that stops reading while the server writes
// is ended by the heartbeat timeout, within the timeout and a little slack,
// even though the server's writer is blocked; no goroutine is left.
func TestPeerStopsReading(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	scfg.HeartbeatInterval = 100 * time.Millisecond
	scfg.HeartbeatTimeout = 300 * time.Millisecond
	started := make(chan time.Time, 1)
	s := customServer(t, scfg, func(c *transport.Conn) error {
		started <- time.Now()
		msg := [][]byte{make([]byte, 256<<10)}
		for {
			if err := c.WriteMessage(msg); err != nil {
				return err
			}
		}
	})
	mem := watchMemory()
	c := nullAttacker(t, s.endpoint) // never reads again
	start := <-started
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	at, _ := awaitErr(t, s, 3*time.Second, "transport.ErrHeartbeatTimeout", func(err error) bool {
		return errors.Is(err, transport.ErrHeartbeatTimeout)
	})
	if d := at.Sub(start); d > scfg.HeartbeatInterval+scfg.HeartbeatTimeout+time.Second { // slack for a loaded machine
		t.Errorf("the connection ended %v after the server started writing; heartbeat timeout %v", d, scfg.HeartbeatTimeout)
	}
	_ = c
	assertGrowth(t, mem, 8<<20)
}

// TestSlowDripMessage: a message whose MORE frames trickle in and never
// end is cut off by the server's read deadline: a timeout in the middle of
// a message ends the connection, and memory stays bounded.
func TestSlowDripMessage(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	s := customServer(t, scfg, func(c *transport.Conn) error {
		var msg [][]byte
		var err error
		for {
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if msg, err = c.ReadMessage(msg); err != nil {
				return err
			}
		}
	})
	mem := watchMemory()
	c := nullAttacker(t, s.endpoint)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		frame := zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("drip"))
		for {
			if _, err := c.Write(frame); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	awaitErr(t, s, 3*time.Second, "a read timeout", func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
	})
	expectClosed(t, c, 2*time.Second)
	assertGrowth(t, mem, 2<<20)
}

// pingFrame is a PING command frame with a TTL of 0 and a 16-byte context.
var pingFrame = commandFrame(zmtp.Command{Name: zmtp.CmdPing, Data: append([]byte{0, 0}, "0123456789abcdef"...)})

// TestPingFlood: 100,000 PINGs after the handshake. The server answers
// with at most one PONG each, keeps no backlog in memory, and stays
// responsive: once the attacker reads, its own message is echoed. A flooder
// that never reads is ended by the heartbeat timeout.
func TestPingFlood(t *testing.T) {
	const pings = 100_000
	flood := bytes.Repeat(pingFrame, pings)
	t.Run("then reads", func(t *testing.T) {
		leakCheck(t)
		scfg, ccfg := nullPair()
		scfg.HandshakeTimeout = shortHandshake
		s := startServer(t, scfg)
		mem := watchMemory()
		c := nullAttacker(t, s.endpoint)
		werr := make(chan error, 1)
		go func() { _, err := c.Write(flood); werr <- err }()
		mustLegit(t, s.endpoint, ccfg, legitWithin)
		// Now read: PONGs, then the echo of our message.
		go func() {
			if err := <-werr; err == nil {
				c.Write(zmtp.AppendFrame(nil, 0, []byte("still there?")))
			}
		}()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := zmtp.NewReader(c)
		pongs := 0
		for {
			f, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("after %d PONGs: %v", pongs, err)
			}
			if f.IsCommand() {
				if !bytes.HasPrefix(f.Body, []byte("\x04PONG")) {
					t.Fatalf("unexpected command %q", f.Body)
				}
				pongs++
				continue
			}
			if string(f.Body) != "still there?" {
				t.Fatalf("echo %q", f.Body)
			}
			break
		}
		if pongs > pings {
			t.Errorf("%d PONGs for %d PINGs", pongs, pings)
		}
		t.Logf("%d PONGs for %d PINGs", pongs, pings)
		assertGrowth(t, mem, 4<<20)
	})
	t.Run("never reads", func(t *testing.T) {
		leakCheck(t)
		scfg, ccfg := nullPair()
		scfg.HandshakeTimeout = shortHandshake
		scfg.HeartbeatInterval = 100 * time.Millisecond
		scfg.HeartbeatTimeout = 300 * time.Millisecond
		s := startServer(t, scfg)
		mem := watchMemory()
		c := nullAttacker(t, s.endpoint)
		go func() {
			for i := 0; i < 20; i++ { // 20 floods at most; the writes fail once the server closes
				if _, err := c.Write(flood); err != nil {
					return
				}
			}
		}()
		mustLegit(t, s.endpoint, ccfg, legitWithin)
		awaitErr(t, s, 5*time.Second, "transport.ErrHeartbeatTimeout", func(err error) bool {
			return errors.Is(err, transport.ErrHeartbeatTimeout)
		})
		assertGrowth(t, mem, 4<<20)
	})
}

// TestAttackerClosesMidMessage: a peer that sends half a multipart message
// and hangs up gives io.ErrUnexpectedEOF or EOF, nothing more.
func TestAttackerClosesMidMessage(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := nullPair()
	scfg.HandshakeTimeout = shortHandshake
	s := startServer(t, scfg)
	mem := watchMemory()
	c := nullAttacker(t, s.endpoint)
	c.Write(append(zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("a")), 0x02, 0, 0, 0, 0, 0, 1, 0, 0, 'x'))
	c.Close()
	mustLegit(t, s.endpoint, ccfg, legitWithin)
	awaitErr(t, s, 3*time.Second, "io.ErrUnexpectedEOF", func(err error) bool {
		return errors.Is(err, io.ErrUnexpectedEOF)
	})
	assertGrowth(t, mem, 2<<20)
}
