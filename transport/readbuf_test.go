package transport

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestReadBufferReturned: Close gives an idle connection's read buffer back
// to the pool, cleared, and a read after Close fails as it did, without
// touching it; a reader blocked in a read when Close comes gives it back as
// it returns; one that still holds bytes not read keeps it.
func TestReadBufferReturned(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		a, b := tcpConns(t)
		c, s := handshaken(t, a, b, &Config{SocketType: zmtp.DEALER}, &Config{SocketType: zmtp.ROUTER})
		if err := c.WriteMessage([][]byte{[]byte("secret")}); err != nil {
			t.Fatal(err)
		}
		msg, err := s.ReadMessage(nil)
		if err != nil || string(msg[0]) != "secret" {
			t.Fatalf("read %q, %v", msg, err)
		}
		buf := s.inBuf
		if buf == nil || !bytes.Contains(buf[:], []byte("secret")) {
			t.Fatal("the message was not read through the connection's buffer")
		}
		s.Close()
		if s.inBuf != nil {
			t.Fatal("Close kept the read buffer")
		}
		if !bytes.Equal(buf[:], make([]byte, len(buf))) {
			t.Error("the buffer given back was not cleared")
		}
		if _, err := s.ReadMessage(nil); !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after Close: %v, want net.ErrClosed", err)
		}
		if string(msg[0]) != "secret" {
			t.Errorf("a message read before Close changed to %q", msg[0])
		}
	})
	t.Run("blocked reader", func(t *testing.T) {
		a, b := tcpConns(t)
		c, s := handshaken(t, a, b, &Config{SocketType: zmtp.DEALER}, &Config{SocketType: zmtp.ROUTER})
		defer c.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := s.ReadMessage(nil)
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond) // let it block in the read
		s.Close()
		if err := recvErr(t, errc, 5*time.Second); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read: %v", err)
		}
		s.inMu.Lock()
		kept := s.inBuf != nil
		s.inMu.Unlock()
		if kept {
			t.Error("the read buffer was not given back after the blocked read returned")
		}
	})
	t.Run("bytes not read", func(t *testing.T) {
		a, b := tcpConns(t)
		c, s := handshaken(t, a, b, &Config{SocketType: zmtp.DEALER}, &Config{SocketType: zmtp.ROUTER})
		// Two messages in one write, most likely read in one read: once
		// the first has been taken, the second is left in the buffer.
		for attempt := 0; s.in.Buffered() == 0; attempt++ {
			if attempt == 20 {
				t.Skip("two messages never arrived in one read")
			}
			if err := c.WriteMessages([][][]byte{{[]byte("one")}, {[]byte("two")}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
			if _, err := s.ReadMessage(nil); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if s.inBuf == nil {
			t.Error("a buffer holding bytes not read went back to the pool")
		}
		c.Close()
	})
}

// TestReadBufferSwitch: the handshake reads through the small buffer; the
// first ReadMessage moves what the handshake read beyond itself (messages
// the peer sent with its READY, in the same write) to the message buffer
// and gives the small one back.
func TestReadBufferSwitch(t *testing.T) {
	c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
	msgs := zmtp.AppendFrame(zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("first")), 0, bytes.Repeat([]byte("x"), 300))
	r.send(greetingBytes(3, 1, "NULL"), readyFrame("Socket-Type", "DEALER"), msgs)
	errc := handshakeAsync(c)
	r.expect("greeting", greetingBytes(3, 1, "NULL"))
	r.frame()
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c.inMu.Lock()
	hs, in, buffered := c.hsBuf, c.inBuf, c.in.Buffered()
	c.inMu.Unlock()
	if hs == nil || in != nil {
		t.Fatalf("after the handshake: handshake buffer %v, message buffer %v", hs != nil, in != nil)
	}
	msg, err := c.ReadMessage(nil)
	if err != nil || len(msg) != 2 || string(msg[0]) != "first" || len(msg[1]) != 300 {
		t.Fatalf("read %d frames, %v", len(msg), err)
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if c.hsBuf != nil || c.inBuf == nil {
		t.Errorf("after the first read: handshake buffer %v, message buffer %v", c.hsBuf != nil, c.inBuf != nil)
	}
	if !bytes.Equal(hs[:], make([]byte, len(hs))) {
		t.Error("the handshake buffer given back was not cleared")
	}
	t.Logf("%d bytes read beyond the handshake", buffered)
}

// TestReadBufferReuse: connections made and closed while others read, under
// -race, each read their own messages intact through buffers that go round
// the pool.
func TestReadBufferReuse(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				a, b := net.Pipe()
				c, s := Client(a, &Config{SocketType: zmtp.DEALER}), Server(b, &Config{SocketType: zmtp.ROUTER})
				want := bytes.Repeat([]byte{byte(g*20 + i)}, 100+i)
				go func() {
					c.WriteMessage([][]byte{want})
					c.Close()
				}()
				msg, err := s.ReadMessage(nil)
				if err != nil || len(msg) != 1 || !bytes.Equal(msg[0], want) {
					t.Errorf("goroutine %d, connection %d: %d frames, %v", g, i, len(msg), err)
				}
				s.Close()
				if err == nil && !bytes.Equal(msg[0], want) {
					t.Errorf("goroutine %d, connection %d: message changed after Close", g, i)
				}
			}
		}()
	}
	wg.Wait()
}

// TestConnDone: the channel Done returns is closed by Close, whether Done
// was first called before Close or after it, and from any goroutine.
func TestConnDone(t *testing.T) {
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	a, b := net.Pipe()
	defer b.Close()
	c := Client(a, &Config{SocketType: zmtp.DEALER})
	before := c.Done()
	if closed(before) || c.Done() != before {
		t.Fatal("Done before Close: closed, or not the same channel each time")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Error("Done not closed by Close")
			}
		}()
	}
	c.Close()
	wg.Wait()
	if !closed(before) {
		t.Error("Close did not close the channel Done returned before it")
	}
	a2, b2 := net.Pipe()
	defer b2.Close()
	c2 := Client(a2, &Config{SocketType: zmtp.DEALER})
	c2.Close()
	if !closed(c2.Done()) {
		t.Error("Done after Close: not closed")
	}
}
