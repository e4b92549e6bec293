package transport

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
)

// ParseEndpoint splits a ZeroMQ endpoint into a Go network and address:
// "tcp://host:port" gives ("tcp", "host:port") and "ipc:///path" gives
// ("unix", "/path"). As in libzmq, "tcp://*:port" binds every interface and
// "ipc://@name" is a Linux abstract socket.
func ParseEndpoint(endpoint string) (network, address string, err error) {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w %q: want tcp://HOST:PORT or ipc:///PATH", ErrBadEndpoint, endpoint)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || port == "" {
			return "", "", fmt.Errorf("%w %q: want tcp://HOST:PORT", ErrBadEndpoint, endpoint)
		}
		if host == "*" {
			host = ""
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "ipc":
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("%w %q: unsupported transport %q", ErrBadEndpoint, endpoint, scheme)
}

// Dial connects to endpoint and runs the handshake; see DialContext.
func Dial(endpoint string, cfg *Config) (*Conn, error) {
	return DialContext(context.Background(), endpoint, cfg)
}

// DialContext connects to endpoint ("tcp://host:port" or "ipc:///path") and
// runs the handshake as a client, bounded by ctx and cfg.HandshakeTimeout.
// On failure the connection is closed.
func DialContext(ctx context.Context, endpoint string, cfg *Config) (*Conn, error) {
	network, address, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c := Client(nc, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Listener accepts ZMTP connections. Accept returns before the handshake,
// so a slow or silent peer never delays the next Accept; the handshake runs
// on the returned Conn's first use or its HandshakeContext.
type Listener struct {
	nl  net.Listener
	cfg *Config
}

// Listen listens on endpoint ("tcp://host:port", "tcp://*:port" or
// "ipc:///path"). For IPC, a stale socket file at the path is removed first,
// as libzmq does.
func Listen(endpoint string, cfg *Config) (*Listener, error) {
	network, address, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if network == "unix" && !strings.HasPrefix(address, "@") {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(address)
		}
	}
	nl, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return NewListener(nl, cfg), nil
}

// NewListener returns a Listener that accepts from nl with cfg.
func NewListener(nl net.Listener, cfg *Config) *Listener { return &Listener{nl: nl, cfg: cfg} }

// Accept waits for the next connection and returns it without running the
// handshake.
func (l *Listener) Accept() (*Conn, error) {
	nc, err := l.nl.Accept()
	if err != nil {
		return nil, err
	}
	return Server(nc, l.cfg), nil
}

// Close stops listening.
func (l *Listener) Close() error { return l.nl.Close() }

// Addr returns the listener's network address.
func (l *Listener) Addr() net.Addr { return l.nl.Addr() }

// Endpoint returns the endpoint the listener is bound to, with the port the
// system chose for "tcp://host:0".
func (l *Listener) Endpoint() string {
	switch a := l.nl.Addr().(type) {
	case *net.TCPAddr:
		return "tcp://" + a.String()
	case *net.UnixAddr:
		return "ipc://" + a.Name
	}
	return l.nl.Addr().Network() + "://" + l.nl.Addr().String()
}
