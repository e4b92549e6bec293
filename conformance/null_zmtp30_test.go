package conformance

// ZMTP 3.0 peers. libzmq 4.3.4 always offers 3.1, so these peers are raw
// sockets scripted with libzmq's own test fixtures (tests/testutil.hpp,
// docs/libzmq-behaviour.md#test-fixtures): zmtp_greeting_null (minor 0) and
// zmtp_ready_dealer / a READY with Socket-Type only.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// nullReadyDealer is libzmq's zmtp_ready_dealer: READY with Socket-Type
// DEALER and an empty Identity, as a 43-byte command frame.
var nullReadyDealer = []byte("\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00")

// nullReadyOnly is a READY frame with only a Socket-Type, as libzmq's
// zmtp_ready_sub and zmtp_ready_xpub fixtures are.
func nullReadyOnly(socketType string) []byte {
	body := zmtp.AppendReady(nil, zmtp.Metadata{{Name: "Socket-Type", Value: []byte(socketType)}})
	return zmtp.AppendFrame(nil, zmtp.FlagCommand, body)
}

// nullOurGreeting is the greeting we send: 3.1, NULL, zero padding.
func nullOurGreeting() []byte {
	g := greeting30("NULL")
	g[11] = 1
	return g
}

// nullRawExpect reads exactly len(want) bytes and compares them.
func nullRawExpect(t *testing.T, r *rawConn, what string, want []byte) {
	t.Helper()
	if got := r.readFull(len(want)); !bytes.Equal(got, want) {
		t.Fatalf("%s: got %x, want %x", what, got, want)
	}
}

func TestNullZMTP30Peer(t *testing.T) {
	t.Run("raw-3.0-DEALER-to-our-ROUTER", func(t *testing.T) {
		t.Parallel()
		srv := serveRecorded(t, nullConfig(zmtp.ROUTER, ""))
		raw := dialRaw(t, srv.endpoint())
		raw.write(append(greeting30("NULL"), nullReadyDealer...))
		c := srv.accept()
		ctx, cancel := handshakeCtx()
		defer cancel()
		if err := c.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		st := c.ConnectionState()
		if st.PeerMajor != 3 || st.PeerMinor != 0 || st.PeerSocketType != zmtp.DEALER || st.PeerIdentity == nil || len(st.PeerIdentity) != 0 {
			t.Fatalf("ConnectionState %+v; want a ZMTP 3.0 DEALER with an empty identity", st)
		}
		nullRawExpect(t, raw, "our greeting", nullOurGreeting())
		nullRawExpect(t, raw, "our READY", []byte("\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER\x08Identity\x00\x00\x00\x00"))
		raw.write([]byte("\x01\x05hello\x01\x00\x00\x03end"))
		c.expect(t, []byte("hello"), nil, []byte("end"))
		c.write(t, []byte("reply"), bytes.Repeat([]byte("r"), 256))
		nullRawExpect(t, raw, "our message", append([]byte("\x01\x05reply\x02\x00\x00\x00\x00\x00\x00\x01\x00"), bytes.Repeat([]byte("r"), 256)...))
	})

	// A 3.0 subscriber subscribes with a data frame; our PUB reads it as is.
	t.Run("raw-3.0-SUB-to-our-PUB", func(t *testing.T) {
		t.Parallel()
		srv := serveRecorded(t, nullConfig(zmtp.PUB, ""))
		raw := dialRaw(t, srv.endpoint())
		raw.write(append(append(greeting30("NULL"), nullReadyOnly("SUB")...), "\x00\x02\x01A"...))
		c := srv.accept()
		c.expect(t, []byte("\x01A"))
		if st := c.ConnectionState(); st.PeerMinor != 0 || st.PeerSocketType != zmtp.SUB || st.PeerIdentity != nil {
			t.Fatalf("ConnectionState %+v; want a ZMTP 3.0 SUB without identity", st)
		}
		nullRawExpect(t, raw, "our greeting", nullOurGreeting())
		nullRawExpect(t, raw, "our READY", nullReadyOnly("PUB"))
		c.write(t, []byte("A"), []byte("news"))
		nullRawExpect(t, raw, "our message", []byte("\x01\x01A\x00\x04news"))
	})

	// Our SUB, through transport.Dial, subscribes to a 3.0 publisher with a
	// data frame, as libzmq does (downgrade_sub), not with a command.
	t.Run("our-SUB-to-raw-3.0-PUB", func(t *testing.T) {
		t.Parallel()
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer nl.Close()
		rawc := make(chan *rawConn, 1)
		go func() {
			nc, err := nl.Accept()
			if err != nil {
				close(rawc)
				return
			}
			nc.Write(append(greeting30("NULL"), nullReadyOnly("PUB")...))
			rawc <- &rawConn{t: t, nc: nc}
		}()
		c, err := transport.DialContext(context.Background(), "tcp://"+nl.Addr().String(), nullConfig(zmtp.SUB, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		raw := <-rawc
		if raw == nil {
			t.Fatal("no connection")
		}
		defer raw.nc.Close()
		if st := c.ConnectionState(); st.PeerMinor != 0 || st.PeerSocketType != zmtp.PUB {
			t.Fatalf("ConnectionState %+v; want a ZMTP 3.0 PUB", st)
		}
		nullRawExpect(t, raw, "our greeting", nullOurGreeting())
		nullRawExpect(t, raw, "our READY", nullReadyOnly("SUB"))
		if err := c.Subscribe([]byte("A")); err != nil {
			t.Fatal(err)
		}
		nullRawExpect(t, raw, "our subscription", []byte("\x00\x02\x01A"))
		if err := c.Unsubscribe([]byte("A")); err != nil {
			t.Fatal(err)
		}
		nullRawExpect(t, raw, "our cancel", []byte("\x00\x02\x00A"))
		raw.write([]byte("\x00\x03A-1"))
		c.SetReadDeadline(time.Now().Add(stepTimeout))
		msg, err := c.ReadMessage(nil)
		if err != nil {
			t.Fatal(err)
		}
		sameMsg(t, "our SUB read", msg, strMsg("A-1"))
	})

	// PING and PONG are not gated on the version, as in libzmq
	// (docs/libzmq-behaviour.md#zmtp-30-peers): a 3.0 peer's PING is answered, and our
	// heartbeats go to it (docs/design.md#behaviour-we-match).
	t.Run("raw-3.0-DEALER-heartbeats-with-our-ROUTER", func(t *testing.T) {
		t.Parallel()
		cfg := nullConfig(zmtp.ROUTER, "")
		cfg.HeartbeatInterval = 50 * time.Millisecond
		cfg.HeartbeatTimeout = time.Second
		srv := serveRecorded(t, cfg)
		raw := dialRaw(t, srv.endpoint())
		raw.write(append(greeting30("NULL"), nullReadyDealer...))
		c := srv.accept()
		ctx, cancel := handshakeCtx()
		defer cancel()
		if err := c.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		nullRawExpect(t, raw, "our greeting", nullOurGreeting())
		raw.readFrame() // READY
		raw.write([]byte("\x04\x09\x04PING\x00\x00hi\x00\x05hello"))
		c.expect(t, []byte("hello"))
		// The PONG and our first PING may come in either order.
		got := map[string]bool{}
		for range 2 {
			f, body := raw.readFrame()
			got[fmt.Sprintf("%02x %q", byte(f), body)] = true
		}
		if pong, ping := `04 "\x04PONGhi"`, `04 "\x04PING\x00\x00"`; len(got) != 2 || !got[pong] || !got[ping] {
			t.Fatalf("our frames to a 3.0 peer: %v; want the PONG %s to its PING and our heartbeat %s", got, pong, ping)
		}
	})
}
