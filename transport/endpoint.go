package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ParseEndpoint splits a ZeroMQ endpoint into a Go network and address:
// "tcp://host:port" gives ("tcp", "host:port") and "ipc:///path" gives
// ("unix", "/path"). As in libzmq, "tcp://*:port" binds every interface and
// "ipc://@name" is a Linux abstract socket. An endpoint with a source
// address ("tcp://SRC;DST") is for dialing only, and refused here; see
// [Dialer].
func ParseEndpoint(endpoint string) (network, address string, err error) {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w %q: want tcp://HOST:PORT or ipc:///PATH", ErrBadEndpoint, endpoint)
	}
	switch scheme {
	case "tcp":
		if strings.Contains(rest, ";") {
			return "", "", fmt.Errorf("%w %q: a source address (tcp://SRC;DST) is only for dialing", ErrBadEndpoint, endpoint)
		}
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

// splitSource splits libzmq's "tcp://SRC;DST" into the source address and
// "tcp://DST". The source is a numeric IP address (IPv6 in brackets) with
// an optional port: "127.0.0.2", "127.0.0.2:0", "[::1]:5000". libzmq also
// takes an interface name there ("eth1"); that is refused. Without ";",
// source is nil and dst is endpoint.
func splitSource(endpoint string) (source *net.TCPAddr, dst string, err error) {
	scheme, rest, _ := strings.Cut(endpoint, "://")
	src, to, ok := strings.Cut(rest, ";")
	if !ok {
		return nil, endpoint, nil
	}
	if scheme != "tcp" {
		return nil, "", fmt.Errorf("%w %q: only tcp endpoints take a source address", ErrBadEndpoint, endpoint)
	}
	host, port := src, "0"
	if h, p, err := net.SplitHostPort(src); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(src, "[") && strings.HasSuffix(src, "]") {
		host = src[1 : len(src)-1]
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return nil, "", fmt.Errorf("%w %q: source %q is not a numeric IP address with an optional port (interface names are not supported: give the interface's address)", ErrBadEndpoint, endpoint, src)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, "", fmt.Errorf("%w %q: source port %q is not a number from 0 to 65535", ErrBadEndpoint, endpoint, port)
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(n))), "tcp://" + to, nil
}

// A Dialer connects to endpoints and runs the handshake, as [net.Dialer]
// connects to addresses. Its zero value dials with a zero net.Dialer and
// no Config, which Dial refuses: set Config.
type Dialer struct {
	// NetDialer, if set, makes the connection (its Timeout, KeepAlive,
	// Control and so on apply); nil means a zero net.Dialer.
	NetDialer *net.Dialer

	// LocalAddr, if set, is the local address to dial from (a
	// *net.TCPAddr for tcp; port 0 lets the system choose the port). It
	// takes the place of NetDialer.LocalAddr. An endpoint may give its own
	// source instead, as libzmq's "tcp://SRC;DST"; giving both is an error.
	LocalAddr net.Addr

	// Config configures the connections. It must be set.
	Config *Config
}

// Dial connects to endpoint and runs the handshake; see [Dialer.DialContext].
func (d *Dialer) Dial(endpoint string) (*Conn, error) {
	return d.DialContext(context.Background(), endpoint)
}

// DialContext connects to endpoint ("tcp://host:port", "tcp://SRC;DST" or
// "ipc:///path") and runs the handshake as a client, bounded by ctx and
// Config.HandshakeTimeout. A Config that can never work is refused before
// dialing, with an error that wraps [ErrConfig]. On failure the connection
// is closed.
func (d *Dialer) DialContext(ctx context.Context, endpoint string) (*Conn, error) {
	if err := d.Config.validate(); err != nil {
		return nil, err
	}
	source, dst, err := splitSource(endpoint)
	if err != nil {
		return nil, err
	}
	network, address, err := ParseEndpoint(dst)
	if err != nil {
		return nil, err
	}
	var nd net.Dialer
	if d.NetDialer != nil {
		nd = *d.NetDialer
	}
	switch {
	case source != nil && d.LocalAddr != nil:
		return nil, fmt.Errorf("%w %q: a source address in the endpoint and a Dialer.LocalAddr", ErrBadEndpoint, endpoint)
	case source != nil:
		nd.LocalAddr = source
	case d.LocalAddr != nil:
		nd.LocalAddr = d.LocalAddr
	}
	nc, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c := Client(nc, d.Config)
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Dial connects to endpoint and runs the handshake; see DialContext.
func Dial(endpoint string, cfg *Config) (*Conn, error) {
	return DialContext(context.Background(), endpoint, cfg)
}

// DialContext connects to endpoint ("tcp://host:port", "tcp://SRC;DST" to
// dial from the source address SRC, or "ipc:///path") and runs the
// handshake as a client, bounded by ctx and cfg.HandshakeTimeout. A Config
// that can never work is refused before dialing, with an error that wraps
// [ErrConfig]. On failure the connection is closed. It is a [Dialer] with
// only a Config.
func DialContext(ctx context.Context, endpoint string, cfg *Config) (*Conn, error) {
	d := Dialer{Config: cfg}
	return d.DialContext(ctx, endpoint)
}
