package conformance

// libzmq 4.3.4's tests/test_security_plain.cpp (docs/libzmq-behaviour.md#plain-security-tests)
// with OUR PLAIN server set up like libzmq's fixture: a DEALER with routing
// id "IDENT\0", ZAP domain "test", and a handler that checks version "1.0",
// mechanism PLAIN and the routing id, and accepts only admin/password (400
// "Invalid username or password" otherwise). The clients are libzmq sockets
// or raw TCP, and where the client is raw bytes the same bytes go to libzmq's
// own PLAIN server too.

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

const plainzFixtureID = "IDENT\x00" // 6 bytes, as libzmq's fixture sets it

// plainzFixtureHandler is libzmq's zap_handler for test_security_plain.
func plainzFixtureHandler(t *testing.T) *zapRecorder {
	return recordZAP(zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		if req.Version != "1.0" || req.Mechanism != "PLAIN" || string(req.Identity) != plainzFixtureID || string(req.RequestID) != "1" {
			t.Errorf("ZAP request %+v; want version 1.0, request id 1, mechanism PLAIN, identity %q", req, plainzFixtureID)
		}
		if len(req.Credentials) == 2 && string(req.Credentials[0]) == "admin" && string(req.Credentials[1]) == "password" {
			return &zap.Reply{StatusCode: zap.StatusOK, StatusText: "OK", UserID: "anonymous"}, nil
		}
		return &zap.Reply{StatusCode: zap.StatusAuthenticationError, StatusText: "Invalid username or password"}, nil
	}))
}

// plainzOurFixture is our server as libzmq's fixture.
func plainzOurFixture(t *testing.T, timeout time.Duration) (*ourServer, *zapRecorder) {
	t.Helper()
	rec := plainzFixtureHandler(t)
	cfg := serverConfig(true, rec, "test")
	cfg.Identity = []byte(plainzFixtureID)
	cfg.HandshakeTimeout = timeout
	return serve(t, cfg), rec
}

func TestPlainSecurity(t *testing.T) {
	t.Parallel()

	// test_plain_success.
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		srv, rec := plainzOurFixture(t, 2*time.Second)
		lib := newZMQLib(t)
		cli := libPlainClient(lib, zmq.DEALER, "admin", "password")
		must(t, cli.Connect(srv.endpoint))
		a := srv.next(3 * time.Second)
		if a.err != nil {
			t.Fatalf("our server: %v", a.err)
		}
		libBounce(t, cli, a.conn)
		if r := rec.first(); rec.calls.Load() != 1 || r.Domain != "test" {
			t.Errorf("ZAP: %d calls, first %+v; want one, domain test", rec.calls.Load(), r)
		}
	})

	// test_plain_client_as_server_fails: the client is a PLAIN server too,
	// so both sides wait for HELLO. Our handshake timeout (300 ms) ends it;
	// ZAP is never asked; nothing passes.
	t.Run("client-as-server", func(t *testing.T) {
		t.Parallel()
		srv, rec := plainzOurFixture(t, 300*time.Millisecond)
		lib := newZMQLib(t)
		cli := lib.socket(zmq.DEALER)
		must(t, cli.SetZapDomain("test"))
		must(t, cli.SetPlainServer(1))
		must(t, cli.Connect(srv.endpoint))
		sendQueued(cli, "must not pass")
		start := time.Now()
		err := ourRefusal(t, srv, 3*time.Second)
		if !timedOut(err) {
			t.Errorf("our server's error = %v; want a handshake timeout (both sides wait for HELLO)", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("our server gave up after %v; want about 300 ms", d)
		}
		if n := rec.calls.Load(); n != 0 {
			t.Errorf("ZAP asked %d times; want 0 (no HELLO ever came)", n)
		}
		expectNothing(t, cli, 10*time.Millisecond)
	})

	// The same from our side: our PLAIN *server* mechanism dialling libzmq's
	// PLAIN server. Both wait; our handshake timeout ends it.
	t.Run("our-client-as-server", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s, zh, _, ep := libPlainServer(t, lib, libPlainDecide)
		cfg := serverConfig(true, fixedZAP(zap.StatusOK), "")
		cfg.HandshakeTimeout = 300 * time.Millisecond
		c, err := transport.Dial(ep, cfg)
		if err == nil {
			c.Close()
			t.Fatal("handshake between two PLAIN servers succeeded")
		}
		if !timedOut(err) {
			t.Errorf("our error = %v; want a handshake timeout", err)
		}
		if zh.calls.Load() != 0 {
			t.Errorf("libzmq asked ZAP %d times; want 0", zh.calls.Load())
		}
		expectNothing(t, s, 10*time.Millisecond)
	})

	// test_plain_wrong_credentials_fails.
	t.Run("wrong-credentials", func(t *testing.T) {
		t.Parallel()
		srv, rec := plainzOurFixture(t, 2*time.Second)
		lib := newZMQLib(t)
		cli := libPlainClient(lib, zmq.DEALER, "wronguser", "wrongpass")
		mon := lib.monitor(cli, connEvents)
		must(t, cli.Connect(srv.endpoint))
		sendQueued(cli, "must not pass")
		err := ourRefusal(t, srv, 3*time.Second)
		var ae *mechanism.AuthError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Text != "Invalid username or password" {
			t.Errorf("our server's error = %v; want *mechanism.AuthError 400", err)
		}
		if r := rec.first(); r == nil || !equalMsg(r.Credentials, strMsg("wronguser", "wrongpass")) {
			t.Errorf("ZAP request %+v", r)
		}
		// Our ERROR "400" in libzmq's 5E form: libzmq's PLAIN client
		// reports an authentication failure with the status, as
		// test_security_plain expects from a libzmq server, and stops.
		if e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 3*time.Second); !ok || e.Value != 400 {
			t.Errorf("libzmq client monitor %v; want HANDSHAKE_FAILED_AUTH 400", seen)
		}
		expectNothing(t, cli, 10*time.Millisecond)
	})

	// test_plain_vanilla_socket: a raw ZMTP 1.0 client (an anonymous
	// identity frame 01 00, then the message 08 00 "sneaky\0") gets nothing
	// through. The same bytes go to libzmq's PLAIN server.
	t.Run("vanilla-socket", func(t *testing.T) {
		t.Parallel()
		srv, rec := plainzOurFixture(t, 2*time.Second)
		ours := plainzVanilla(t, srv.endpoint)
		err := ourRefusal(t, srv, 3*time.Second)
		var ve *zmtp.VersionError
		if !errors.As(err, &ve) || ve.Major != 1 {
			t.Errorf("our server's error = %v; want *zmtp.VersionError 1.0", err)
		}
		if rec.calls.Load() != 0 {
			t.Errorf("ZAP asked %d times; want 0", rec.calls.Load())
		}

		lib := newZMQLib(t)
		s, zh, _, ep := libPlainServer(t, lib, libPlainDecide)
		theirs := plainzVanilla(t, ep)
		expectNothing(t, s, 200*time.Millisecond)
		if zh.calls.Load() != 0 {
			t.Errorf("libzmq asked ZAP %d times; want 0", zh.calls.Load())
		}
		for _, v := range []struct {
			who string
			r   plainzVanillaResult
		}{{"our server", ours()}, {"libzmq", theirs()}} {
			if !v.r.closed {
				t.Errorf("%s left the ZMTP 1.0 connection open (got %s, %v)", v.who, hexString(v.r.got), v.r.err)
			}
			t.Logf("%s sent %d bytes (% x), closed %v", v.who, len(v.r.got), v.r.got, v.r.closed)
		}
		// Ours sends its whole greeting before it reads (docs/wire-format.md#sending-the-greeting,
		// order (a)); libzmq sends its 10-byte signature first and stops
		// when the peer's first byte is not FF.
		if r := ours(); len(r.got) != zmtp.GreetingSize || r.got[0] != 0xFF {
			t.Errorf("our server sent %s; want its 64-byte greeting and nothing else", hexString(r.got))
		}
	})
}

type plainzVanillaResult struct {
	got    []byte
	closed bool
	err    error
}

// plainzVanilla connects a raw ZMTP 1.0 client to endpoint, sends libzmq's
// vanilla-socket bytes, and returns a function that reports (once, then
// from memory) what came back before the server closed or 2 s passed.
func plainzVanilla(t *testing.T, endpoint string) func() plainzVanillaResult {
	t.Helper()
	raw := dialRaw(t, endpoint)
	raw.write([]byte("\x01\x00"))
	raw.write([]byte("\x08\x00sneaky\x00"))
	var res *plainzVanillaResult
	return func() plainzVanillaResult {
		if res == nil {
			got, closed, err := raw.readRest(2 * time.Second)
			res = &plainzVanillaResult{got: bytes.Clone(got), closed: closed, err: err}
		}
		return *res
	}
}
