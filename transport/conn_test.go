package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// pair returns a handshaken client and server over a TCP loopback pair.
func pair(t *testing.T, ccfg, scfg *Config) (*Conn, *Conn) {
	t.Helper()
	l, err := Listen("tcp://127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			err = c.Handshake()
		}
		ch <- res{c, err}
	}()
	c, err := Dial(l.Endpoint(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return c, r.c
}

func TestNullRoundTrip(t *testing.T) {
	c, s := pair(t, &Config{SocketType: zmtp.DEALER, Identity: []byte("CLI")}, &Config{SocketType: zmtp.ROUTER})
	want := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte("x"), 1<<20)}
	if err := c.WriteMessage(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadMessage(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	st := s.ConnectionState()
	if st.PeerSocketType != zmtp.DEALER || string(st.PeerIdentity) != "CLI" || st.Mechanism != "NULL" {
		t.Fatalf("state = %+v", st)
	}
}

func TestSocketTypeMismatch(t *testing.T) {
	a, b := net.Pipe()
	c := Client(a, &Config{SocketType: zmtp.PUSH})
	s := Server(b, &Config{SocketType: zmtp.PUSH})
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	err := c.Handshake()
	var ste *SocketTypeError
	if !errors.As(err, &ste) {
		t.Fatalf("client: %v", err)
	}
	if err := <-errc; err == nil {
		t.Fatal("server accepted a PUSH peer")
	}
}

func TestHandshakeTimeoutSilentPeer(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() { // read the greeting and stay silent
		buf := make([]byte, 64)
		b.Read(buf)
	}()
	c := Client(a, &Config{SocketType: zmtp.DEALER, HandshakeTimeout: 100 * time.Millisecond})
	err := c.HandshakeContext(context.Background())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}
