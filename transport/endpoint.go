package transport

import (
	"context"
	"fmt"
	"net"
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
