package transport

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestHandshakeTimeoutSurvivesCallerDeadlines: a caller that lifts its
// deadlines while the handshake runs (SetDeadline with the zero time, over
// and over) does not lift the handshake timeout: the connection's deadlines
// stay the earlier of the caller's and the handshake's.
func TestHandshakeTimeoutSurvivesCallerDeadlines(t *testing.T) {
	for _, set := range []struct {
		name string
		f    func(c *Conn)
	}{
		{"SetDeadline", func(c *Conn) { c.SetDeadline(time.Time{}) }},
		{"SetReadDeadline", func(c *Conn) { c.SetReadDeadline(time.Time{}) }},
		{"SetWriteDeadline", func(c *Conn) { c.SetWriteDeadline(time.Time{}) }},
	} {
		t.Run(set.name, func(t *testing.T) {
			c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER, HandshakeTimeout: 100 * time.Millisecond})
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
						set.f(c)
					}
				}
			}()
			start := time.Now()
			var err error
			within(t, 5*time.Second, "HandshakeContext", func() { err = c.HandshakeContext(context.Background()) })
			close(stop)
			wg.Wait()
			if !isHandshakeTimeout(err) {
				t.Fatalf("err = %v, want the handshake timeout", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			r.expectClosed()
		})
	}
}

// deadlineConn records the deadlines set on a net.Conn.
type deadlineConn struct {
	net.Conn
	mu          sync.Mutex
	read, write []time.Time
}

func (d *deadlineConn) SetDeadline(t time.Time) error {
	d.mu.Lock()
	d.read, d.write = append(d.read, t), append(d.write, t)
	d.mu.Unlock()
	return d.Conn.SetDeadline(t)
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.mu.Lock()
	d.read = append(d.read, t)
	d.mu.Unlock()
	return d.Conn.SetReadDeadline(t)
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	d.write = append(d.write, t)
	d.mu.Unlock()
	return d.Conn.SetWriteDeadline(t)
}

func (d *deadlineConn) last() (read, write time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read[len(d.read)-1], d.write[len(d.write)-1]
}

// TestDeadlinesSetDuringHandshake: deadlines the caller sets while the
// handshake runs are capped by the handshake's until it ends, and are the
// connection's once it has ended.
func TestDeadlinesSetDuringHandshake(t *testing.T) {
	a, b := tcpConns(t)
	dc := &deadlineConn{Conn: a}
	c := Client(dc, &Config{SocketType: zmtp.DEALER, HandshakeTimeout: time.Minute})
	defer c.Close()
	s := Server(b, &Config{SocketType: zmtp.ROUTER})
	defer s.Close()
	errc := handshakeAsync(c)
	// The client waits for the server, which has not started: set the
	// caller's deadlines now, one later and one earlier than the
	// handshake's.
	time.Sleep(20 * time.Millisecond)
	later, sooner := time.Now().Add(time.Hour), time.Now().Add(30*time.Second)
	c.SetReadDeadline(later)
	c.SetWriteDeadline(sooner)
	if r, w := dc.last(); !r.Before(later) || r.After(time.Now().Add(time.Minute)) || !w.Equal(sooner) {
		t.Errorf("during the handshake: read deadline %v (caller's %v), write deadline %v (caller's %v)", r, later, w, sooner)
	}
	if err := s.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if r, w := dc.last(); !r.Equal(later) || !w.Equal(sooner) {
		t.Errorf("after the handshake: read deadline %v, write deadline %v; want the caller's %v and %v", r, w, later, sooner)
	}
	c.SetDeadline(time.Time{})
	if r, w := dc.last(); !r.IsZero() || !w.IsZero() {
		t.Errorf("SetDeadline(zero) after the handshake: %v, %v", r, w)
	}
}

// TestDeadlineContext checks the lazy context against what
// context.WithDeadline promises.
func TestDeadlineContext(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")

	t.Run("deadline", func(t *testing.T) {
		var hc deadlineContext
		d := time.Now().Add(time.Hour)
		hc.init(parent, d)
		if got, ok := hc.Deadline(); !ok || !got.Equal(d) {
			t.Errorf("Deadline = %v, %v", got, ok)
		}
		if hc.Err() != nil || hc.Value(key{}) != "v" {
			t.Errorf("Err %v, Value %v", hc.Err(), hc.Value(key{}))
		}
		select {
		case <-hc.Done():
			t.Fatal("done before its deadline")
		default:
		}
		hc.release()
		<-hc.Done()
		if !errors.Is(hc.Err(), context.Canceled) {
			t.Errorf("after release: Err = %v", hc.Err())
		}
	})
	t.Run("parent's earlier deadline", func(t *testing.T) {
		pd := time.Now().Add(time.Minute)
		p, cancel := context.WithDeadline(parent, pd)
		defer cancel()
		var hc deadlineContext
		hc.init(p, time.Now().Add(time.Hour))
		if got, ok := hc.Deadline(); !ok || !got.Equal(pd) {
			t.Errorf("Deadline = %v, %v; want the parent's %v", got, ok, pd)
		}
		var none deadlineContext
		none.init(parent, time.Time{})
		if _, ok := none.Deadline(); ok {
			t.Error("a deadline with neither the parent's nor its own")
		}
	})
	t.Run("expired without Done", func(t *testing.T) {
		var hc deadlineContext
		hc.init(parent, time.Now().Add(-time.Second))
		if !errors.Is(hc.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err = %v", hc.Err())
		}
		<-hc.Done() // already closed
		if !errors.Is(hc.Err(), context.DeadlineExceeded) {
			t.Errorf("Err after Done = %v", hc.Err())
		}
		hc.release()
		if !errors.Is(hc.Err(), context.DeadlineExceeded) {
			t.Errorf("Err after release = %v; an error once reported stays", hc.Err())
		}
	})
	t.Run("expires with Done", func(t *testing.T) {
		var hc deadlineContext
		hc.init(parent, time.Now().Add(20*time.Millisecond))
		defer hc.release()
		select {
		case <-hc.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("not done at its deadline")
		}
		if !errors.Is(hc.Err(), context.DeadlineExceeded) {
			t.Errorf("Err = %v", hc.Err())
		}
	})
	t.Run("parent cancelled", func(t *testing.T) {
		p, cancel := context.WithCancel(parent)
		var hc deadlineContext
		hc.init(p, time.Now().Add(time.Hour))
		defer hc.release()
		child, stop := context.WithCancel(&hc)
		defer stop()
		cancel()
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a child of the context not cancelled with the parent")
		}
		if !errors.Is(hc.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
			t.Errorf("Err = %v, child's %v", hc.Err(), child.Err())
		}
	})
}
