package transport

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The handshake benchmarks. allocs/op and B/op count, per handshake:
//
//   - both/pipe: a client and a server Conn over a fresh net.Pipe, both
//     handshakes (the server's in a goroutine), then Close on both: the cost
//     of one connection to the two sides together, in one process, with
//     net.Pipe's own few allocations;
//   - client, server: one side only, against a scripted peer (a net.Conn
//     that plays back the bytes the other side sent in a recorded handshake
//     and checks ours against the recording), so nothing of the peer is
//     counted; the Conn is closed as in both/pipe.
//
// "zap" runs the server with a ZAP handler that accepts every client.
// handshakes/s is for one handshake at a time, both sides in one process
// for both/pipe.
func BenchmarkCurveHandshake(b *testing.B) {
	for _, withZAP := range []bool{false, true} {
		name := ""
		if withZAP {
			name = "-zap"
		}
		b.Run("both/pipe"+name, func(b *testing.B) {
			ccfg, scfg := benchCurveConfigs(b, withZAP)
			benchHandshakePipe(b, ccfg, scfg)
		})
		b.Run("client"+name, func(b *testing.B) {
			ccfg, scfg := benchCurveConfigs(b, withZAP)
			benchHandshakeSide(b, ccfg, scfg, true)
		})
		b.Run("server"+name, func(b *testing.B) {
			ccfg, scfg := benchCurveConfigs(b, withZAP)
			benchHandshakeSide(b, ccfg, scfg, false)
		})
	}
}

// BenchmarkNullHandshake is BenchmarkCurveHandshake under NULL, without
// ZAP: what the transport costs around any mechanism.
func BenchmarkNullHandshake(b *testing.B) {
	ccfg, scfg := &Config{SocketType: zmtp.DEALER}, &Config{SocketType: zmtp.ROUTER}
	b.Run("both/pipe", func(b *testing.B) { benchHandshakePipe(b, ccfg, scfg) })
	b.Run("client", func(b *testing.B) { benchHandshakeSide(b, ccfg, scfg, true) })
	b.Run("server", func(b *testing.B) { benchHandshakeSide(b, ccfg, scfg, false) })
}

// benchCurveConfigs returns CURVE configs for the handshake benchmarks,
// the server's with a ZAP handler that accepts everyone if withZAP.
func benchCurveConfigs(tb testing.TB, withZAP bool) (*Config, *Config) {
	ccfg, scfg, _ := curveConfigs(tb)
	if withZAP {
		rep := &zap.Reply{Version: zap.Version, StatusCode: zap.StatusOK, StatusText: "OK", UserID: "alice"}
		scfg.ZAPHandler = zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) { return rep, nil })
	}
	return ccfg, scfg
}

func benchHandshakePipe(b *testing.B, ccfg, scfg *Config) {
	errc := make(chan error, 1)
	b.ReportAllocs()
	for b.Loop() {
		a, p := net.Pipe()
		c, s := Client(a, ccfg), Server(p, scfg)
		go func() { errc <- s.Handshake() }()
		err := c.Handshake()
		if serr := <-errc; err == nil {
			err = serr
		}
		c.Close()
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// benchHandshakeSide measures the client's handshake (client true) or the
// server's against a scripted peer.
func benchHandshakeSide(b *testing.B, ccfg, scfg *Config, client bool) {
	handshake := scriptedHandshake(b, ccfg, scfg, client)
	b.ReportAllocs()
	for b.Loop() {
		if err := handshake(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// scriptedHandshake returns a function that runs the client's handshake
// (client true) or the server's against a scripted peer, then closes the
// Conn. Both sides take their randomness from a fixed stream, so the
// handshake recorded once replays byte for byte.
func scriptedHandshake(tb testing.TB, ccfg, scfg *Config, client bool) func() error {
	cc, sc := *ccfg, *scfg
	var crand, srand bytes.Reader
	crandBytes, srandBytes := bytes.Repeat([]byte{1, 2, 3, 4}, 256), bytes.Repeat([]byte{5, 6, 7, 8}, 256)
	crand.Reset(crandBytes)
	srand.Reset(srandBytes)
	cc.Rand, sc.Rand = &crand, &srand
	fromClient, fromServer := recordHandshake(tb, &cc, &sc)

	cfg, rnd, rndBytes := &sc, &srand, srandBytes
	peer := &scriptedConn{in: fromClient, out: fromServer}
	if client {
		cfg, rnd, rndBytes = &cc, &crand, crandBytes
		peer = &scriptedConn{in: fromServer, out: fromClient}
	}
	return func() error {
		rnd.Reset(rndBytes)
		peer.reset()
		var c *Conn
		if client {
			c = Client(peer, cfg)
		} else {
			c = Server(peer, cfg)
		}
		err := c.Handshake()
		c.Close()
		if err != nil {
			return err
		}
		return peer.check()
	}
}

// recordHandshake runs one handshake of ccfg and scfg over net.Pipe and
// returns what each side wrote.
func recordHandshake(tb testing.TB, ccfg, scfg *Config) (fromClient, fromServer []byte) {
	tb.Helper()
	a, p := net.Pipe()
	ra, rp := &writeRecorder{Conn: a}, &writeRecorder{Conn: p}
	c, s := Client(ra, ccfg), Server(rp, scfg)
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	err := c.Handshake()
	if serr := <-errc; err == nil {
		err = serr
	}
	c.Close()
	s.Close()
	if err != nil {
		tb.Fatal(err)
	}
	return ra.bytes(), rp.bytes()
}

// writeRecorder is a net.Conn that keeps a copy of what is written to it.
type writeRecorder struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	return w.Conn.Write(p)
}

func (w *writeRecorder) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.buf...)
}

// scriptedConn is a net.Conn that plays a recorded peer: Read returns the
// bytes in (all that is left of them at once, then io.EOF) and Write checks
// that what is written is the next part of out. It allocates nothing, so a
// benchmark counts only the side under test. Its writes never wait, as on
// a TCP connection, and like one it has a SetWriteBuffer method, so the
// handshake writes to it as it writes to TCP.
type scriptedConn struct {
	in, out []byte
	mu      sync.Mutex
	r, w    int
	bad     bool // a write differed from out
}

var scriptedAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}

func (s *scriptedConn) reset() {
	s.mu.Lock()
	s.r, s.w, s.bad = 0, 0, false
	s.mu.Unlock()
}

// check reports a write that differed from the recording, or a recording
// not written in full.
func (s *scriptedConn) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad || s.w != len(s.out) {
		return errScriptMismatch
	}
	return nil
}

var errScriptMismatch = &zmtp.MalformedError{What: "scripted peer", Detail: "our bytes differ from the recorded ones"}

func (s *scriptedConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r == len(s.in) {
		return 0, io.EOF
	}
	n := copy(p, s.in[s.r:])
	s.r += n
	return n, nil
}

func (s *scriptedConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p) > len(s.out)-s.w || !bytes.Equal(p, s.out[s.w:s.w+len(p)]) {
		s.bad = true
		return len(p), nil
	}
	s.w += len(p)
	return len(p), nil
}

func (s *scriptedConn) SetWriteBuffer(int) error         { return nil }
func (s *scriptedConn) Close() error                     { return nil }
func (s *scriptedConn) LocalAddr() net.Addr              { return scriptedAddr }
func (s *scriptedConn) RemoteAddr() net.Addr             { return scriptedAddr }
func (s *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (s *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkConnection is one connection from start to end, both sides in
// one process over TCP loopback, as bench/'s BenchmarkHandshake counts it:
// Dial, the Listener's Accept, both handshakes, a 16-byte message echoed
// back, Close on both sides. allocs/op and B/op include what the net
// package allocates for the TCP connections (addresses, file descriptors).
func BenchmarkConnection(b *testing.B) {
	for _, m := range batchMechs {
		b.Run(m.name, func(b *testing.B) {
			ccfg, scfg := m.cfgs(b)
			ln, err := Listen("tcp://127.0.0.1:0", scfg)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			served := make(chan error, 1)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						msg, err := c.ReadMessage(nil)
						if err == nil {
							err = c.WriteMessage(msg)
						}
						for err == nil {
							msg, err = c.ReadMessage(msg)
						}
						served <- nil
					}()
				}
			}()
			ep := ln.Endpoint()
			out, in := [][]byte{make([]byte, 16)}, [][]byte(nil)
			b.ReportAllocs()
			for b.Loop() {
				c, err := Dial(ep, ccfg)
				if err != nil {
					b.Fatal(err)
				}
				if err = c.WriteMessage(out); err == nil {
					in, err = c.ReadMessage(in)
				}
				c.Close()
				if err != nil {
					b.Fatal(err)
				}
				<-served
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
		})
	}
}
