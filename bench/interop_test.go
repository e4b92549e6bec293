package bench

// Mixed pairs, informative: a zmtpsec end talking CURVE to a libzmq end, one
// way, in each direction. The connecting side is the PUSH and the CURVE
// client, as in the other streams.

import (
	"testing"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var (
	zmtpsecClientLibzmqServer = impl{
		name:      "zmtpsec-client+libzmq-server",
		curve:     true,
		onlyCurve: true,
		stream:    zmtpsecClientLibzmqServerStream,
	}
	libzmqClientZmtpsecServer = impl{
		name:      "libzmq-client+zmtpsec-server",
		curve:     true,
		onlyCurve: true,
		stream:    libzmqClientZmtpsecServerStream,
	}
)

// zmtpsecClientLibzmqServerStream: a zmtpsec PUSH dials a libzmq PULL.
func zmtpsecClientLibzmqServerStream(tb testing.TB, m mech) link {
	tb.Helper()
	pull, ep := libzmqServerSocket(tb, libzmqContext(tb), zmq.PULL, m)
	ccfg, _ := zmtpsecConfigs(tb, m, zmtp.PUSH, zmtp.PULL)
	c, err := transport.Dial(ep, ccfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return link{client: zmtpsecEnd(c, false), server: libzmqEnd(pull), abort: func() { c.Close() }}
}

// libzmqClientZmtpsecServerStream: a libzmq PUSH connects to a zmtpsec
// listener, whose accepted PULL shakes hands.
func libzmqClientZmtpsecServerStream(tb testing.TB, m mech) link {
	tb.Helper()
	cctx := libzmqContext(tb)
	_, scfg := zmtpsecConfigs(tb, m, zmtp.PUSH, zmtp.PULL)
	ln, err := transport.Listen("tcp://127.0.0.1:0", scfg)
	if err != nil {
		tb.Fatal(err)
	}
	var push *zmq.Socket
	s, err := zmtpsecAccept(tb, ln, func() error {
		push = libzmqClientSocket(tb, cctx, zmq.PUSH, m, ln.Endpoint())
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return link{client: libzmqEnd(push), server: zmtpsecEnd(s, false), abort: func() { s.Close() }}
}
