package transport

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestSplitSource(t *testing.T) {
	tests := []struct {
		endpoint, src, dst, err string
	}{
		{"tcp://127.0.0.1:5555", "", "tcp://127.0.0.1:5555", ""},
		{"tcp://127.0.0.2:0;127.0.0.1:5555", "127.0.0.2:0", "tcp://127.0.0.1:5555", ""},
		{"tcp://127.0.0.2;127.0.0.1:5555", "127.0.0.2:0", "tcp://127.0.0.1:5555", ""},
		{"tcp://127.0.0.2:6000;127.0.0.1:5555", "127.0.0.2:6000", "tcp://127.0.0.1:5555", ""},
		{"tcp://[::1]:7;[::1]:5555", "[::1]:7", "tcp://[::1]:5555", ""},
		{"tcp://[::1];[::1]:5555", "[::1]:0", "tcp://[::1]:5555", ""},
		{"tcp://::1;[::1]:5555", "[::1]:0", "tcp://[::1]:5555", ""},
		{"tcp://eth0;127.0.0.1:5555", "", "", "interface names are not supported"},
		{"tcp://eth0:0;127.0.0.1:5555", "", "", "interface names are not supported"},
		{"tcp://localhost;127.0.0.1:5555", "", "", "not a numeric IP address"},
		{"tcp://127.0.0.2:x;127.0.0.1:5555", "", "", `source port "x"`},
		{"tcp://127.0.0.2:70000;127.0.0.1:5555", "", "", `source port "70000"`},
		{"tcp://*:0;127.0.0.1:5555", "", "", "not a numeric IP address"},
		{"tcp://;127.0.0.1:5555", "", "", "not a numeric IP address"},
		{"ipc://a;b", "", "", "only tcp endpoints"},
	}
	for _, tt := range tests {
		src, dst, err := splitSource(tt.endpoint)
		if tt.err != "" {
			if !errors.Is(err, ErrBadEndpoint) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("splitSource(%q) = %v, %q, %v; want an ErrBadEndpoint saying %q", tt.endpoint, src, dst, err, tt.err)
			}
			continue
		}
		got := ""
		if src != nil {
			got = src.String()
		}
		if err != nil || got != tt.src || dst != tt.dst {
			t.Errorf("splitSource(%q) = %q, %q, %v; want %q, %q", tt.endpoint, got, dst, err, tt.src, tt.dst)
		}
	}
}

// TestParseEndpointRefusesSource: Listen and ParseEndpoint say that a
// source address is for dialing only.
func TestParseEndpointRefusesSource(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.2;127.0.0.1:5555", "tcp://127.0.0.2:0;127.0.0.1:0"} {
		if _, _, err := ParseEndpoint(ep); !errors.Is(err, ErrBadEndpoint) || !strings.Contains(err.Error(), "only for dialing") {
			t.Errorf("ParseEndpoint(%q): %v", ep, err)
		}
		if l, err := Listen(ep, &Config{SocketType: zmtp.ROUTER}); err == nil || !strings.Contains(err.Error(), "only for dialing") {
			if l != nil {
				l.Close()
			}
			t.Errorf("Listen(%q): %v", ep, err)
		}
	}
}

// dialFrom dials l with dial and returns the PeerAddress and remote
// address the server sees.
func dialFrom(t *testing.T, l *Listener, dial func() (*Conn, error)) (peerAddr string, remote net.Addr) {
	t.Helper()
	type res struct {
		st  ConnectionState
		ra  net.Addr
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer c.Close()
		err = c.Handshake()
		ch <- res{c.ConnectionState(), c.RemoteAddr(), err}
	}()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.st.PeerAddress, r.ra
}

// TestDialFromSource: a client that dials from 127.0.0.2, through the
// endpoint's source or a Dialer's LocalAddr, is seen from there.
func TestDialFromSource(t *testing.T) {
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.ROUTER})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ccfg := &Config{SocketType: zmtp.DEALER}
	for _, tt := range []struct {
		name string
		dial func() (*Conn, error)
	}{
		{"endpoint source", func() (*Conn, error) { return Dial("tcp://127.0.0.2;"+l.Addr().String(), ccfg) }},
		{"endpoint source and port 0", func() (*Conn, error) {
			return DialContext(context.Background(), "tcp://127.0.0.2:0;"+l.Addr().String(), ccfg)
		}},
		{"Dialer.LocalAddr", func() (*Conn, error) {
			d := &Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Config: ccfg}
			return d.Dial(l.Endpoint())
		}},
		{"Dialer.NetDialer.LocalAddr", func() (*Conn, error) {
			d := &Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}, Config: ccfg}
			return d.DialContext(context.Background(), l.Endpoint())
		}},
	} {
		addr, ra := dialFrom(t, l, tt.dial)
		if addr != "127.0.0.2" || ra.(*net.TCPAddr).IP.String() != "127.0.0.2" {
			t.Errorf("%s: the server sees PeerAddress %q, RemoteAddr %v; want 127.0.0.2", tt.name, addr, ra)
		}
	}
	// Without a source, the connection comes from 127.0.0.1.
	if addr, _ := dialFrom(t, l, func() (*Conn, error) { return Dial(l.Endpoint(), ccfg) }); addr != "127.0.0.1" {
		t.Errorf("without a source the server sees %q", addr)
	}
	// Both a source and LocalAddr: refused before dialing.
	d := &Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Config: ccfg}
	if c, err := d.Dial("tcp://127.0.0.3;127.0.0.1:" + strconv.Itoa(port)); !errors.Is(err, ErrBadEndpoint) {
		if c != nil {
			c.Close()
		}
		t.Errorf("source twice: %v", err)
	}
	// A Dialer without a Config.
	if _, err := (&Dialer{}).Dial(l.Endpoint()); !errors.Is(err, ErrConfig) {
		t.Errorf("no Config: %v", err)
	}
}

// FuzzSplitSource: splitSource never panics; what it accepts is a TCP
// source with a valid IP and a tcp:// destination, and what it refuses is
// an ErrBadEndpoint.
func FuzzSplitSource(f *testing.F) {
	for _, s := range []string{"tcp://127.0.0.2;127.0.0.1:5555", "tcp://[::1]:7;[::1]:5555", "tcp://eth0;x", "ipc://a;b", "tcp://;", "tcp://a:b:c;d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		src, dst, err := splitSource(endpoint)
		switch {
		case err != nil:
			if !errors.Is(err, ErrBadEndpoint) {
				t.Fatalf("splitSource(%q): %v is not an ErrBadEndpoint", endpoint, err)
			}
		case src == nil:
			if dst != endpoint {
				t.Fatalf("splitSource(%q) without a source changed it to %q", endpoint, dst)
			}
		default:
			if !strings.HasPrefix(dst, "tcp://") || src.IP == nil || strings.Contains(dst, ";") && strings.Count(endpoint, ";") < 2 {
				t.Fatalf("splitSource(%q) = %v, %q", endpoint, src, dst)
			}
		}
	})
}
