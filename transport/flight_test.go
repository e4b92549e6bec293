package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// flightConn is a net.Conn that records its writes, fails from the write
// numbered failAt (0: never) and, with buffered, has a kernel send buffer
// (a SetWriteBuffer method) as a TCP connection has.
type flightConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	failAt int
}

var errFlight = errors.New("write failed")

func (f *flightConn) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, append([]byte(nil), b...))
	if f.failAt > 0 && len(f.writes) >= f.failAt {
		return 0, errFlight
	}
	return len(b), nil
}

type bufferedFlightConn struct{ *flightConn }

func (bufferedFlightConn) SetWriteBuffer(int) error { return nil }

// TestFlightWriter: on a connection with a kernel send buffer the first
// flights, up to syncFlightBytes, are written at once from the caller's
// buffer, and the rest by a goroutine, in order; on any other connection
// every flight goes to the goroutine. The first write error stops the
// writes after it, and wait reports it with its step.
func TestFlightWriter(t *testing.T) {
	small, big := bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, syncFlightBytes)
	for _, tt := range []struct {
		name      string
		buffered  bool
		flights   [][]byte
		failAt    int
		goroutine bool // a goroutine was started
		written   int  // writes made
		err       HandshakeStep
	}{
		{name: "buffered, small", buffered: true, flights: [][]byte{small, small, small}, written: 3},
		{name: "buffered, over the budget", buffered: true, flights: [][]byte{small, big, small}, goroutine: true, written: 3},
		{name: "not buffered", flights: [][]byte{small, small}, goroutine: true, written: 2},
		{name: "buffered, failing at once", buffered: true, flights: [][]byte{small, small, big, small}, failAt: 2, goroutine: true, written: 2, err: StepSecurity},
		{name: "buffered, failing in the goroutine", buffered: true, flights: [][]byte{small, big, small}, failAt: 2, goroutine: true, written: 2, err: StepSecurity},
		{name: "not buffered, failing", flights: [][]byte{small, small, small}, failAt: 1, goroutine: true, written: 1, err: StepGreeting},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fc := &flightConn{failAt: tt.failAt}
			var conn net.Conn = fc
			if tt.buffered {
				conn = bufferedFlightConn{fc}
			}
			var fw flightWriter
			var storage [64]byte
			fw.init(conn, storage[:])
			for i, f := range tt.flights {
				step := StepSecurity
				if i == 0 {
					step = StepGreeting
				}
				fw.send(append(fw.buffer(), f...), i == len(tt.flights)-1, step)
			}
			if started := fw.queue != nil; started != tt.goroutine {
				t.Errorf("goroutine started: %v, want %v", started, tt.goroutine)
			}
			r := fw.wait()
			if (r.err != nil) != (tt.err != 0) || (r.err != nil && (!errors.Is(r.err, errFlight) || r.step != tt.err)) {
				t.Errorf("wait = %v in %v, want an error in %v: %v", r.err, r.step, tt.err, tt.err != 0)
			}
			if !fw.lastIsError {
				t.Error("lastIsError not set by the last send")
			}
			if len(fc.writes) != tt.written {
				t.Fatalf("%d writes, want %d", len(fc.writes), tt.written)
			}
			for i, w := range fc.writes {
				if !bytes.Equal(w, tt.flights[i]) {
					t.Errorf("write %d: %d bytes of %d, want %d of %d", i, len(w), w[0], len(tt.flights[i]), tt.flights[i][0])
				}
			}
		})
	}
}

// TestHandshakeLargeFlights: over TCP, where the first flights are written
// at once, two peers that both send metadata far over the budget (their
// READY at the same time) still complete the handshake; so do they over
// net.Pipe, and with CURVE.
func TestHandshakeLargeFlights(t *testing.T) {
	md := zmtp.Metadata{{Name: "X-Big", Value: bytes.Repeat([]byte("m"), 32<<10)}}
	for _, p := range netPipes {
		for _, m := range batchMechs {
			t.Run(fmt.Sprintf("%s/%s", p.name, m.name), func(t *testing.T) {
				ccfg, scfg := m.cfgs(t)
				ccfg.Metadata, scfg.Metadata = md, md
				a, b := p.mk(t)
				c, s := handshaken(t, a, b, ccfg, scfg)
				for _, conn := range []*Conn{c, s} {
					if v, ok := conn.ConnectionState().PeerMetadata.Get("X-Big"); !ok || len(v) != 32<<10 {
						t.Errorf("peer metadata X-Big of %d bytes", len(v))
					}
				}
			})
		}
	}
}

// TestSocketType: the peer's Socket-Type is the package's constant for
// every type zmtp defines, without an allocation, and as sent otherwise.
func TestSocketType(t *testing.T) {
	for _, st := range knownSocketTypes {
		v := []byte(st)
		if got := socketType(v); got != st {
			t.Errorf("socketType(%q) = %q", v, got)
		}
		if n := testing.AllocsPerRun(10, func() { socketType(v) }); n != 0 {
			t.Errorf("socketType(%q): %v allocations", v, n)
		}
	}
	if got := socketType([]byte("dealer")); got != "dealer" {
		t.Errorf("socketType(dealer) = %q", got)
	}
}
