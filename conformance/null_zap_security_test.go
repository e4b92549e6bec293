package conformance

// libzmq 4.3.4's tests/test_security_null.cpp and
// tests/test_security_no_zap_handler.cpp (docs/libzmq-behaviour.md#null-security-tests)
// with OUR NULL server (a DEALER) and libzmq DEALER clients. The handler is
// libzmq's: it checks version "1.0" and mechanism NULL, answers domain TEST
// with 200 "OK" "anonymous" and anything else with 400 "BAD DOMAIN".

import (
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

func plainzNullHandler(t *testing.T) *zapRecorder {
	return recordZAP(zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		if req.Version != "1.0" || req.Mechanism != "NULL" || len(req.Credentials) != 0 {
			t.Errorf("ZAP request %+v; want version 1.0, mechanism NULL, no credentials", req)
		}
		if req.Domain == "TEST" {
			return &zap.Reply{StatusCode: zap.StatusOK, StatusText: "OK", UserID: "anonymous"}, nil
		}
		return &zap.Reply{StatusCode: zap.StatusAuthenticationError, StatusText: "BAD DOMAIN"}, nil
	}))
}

// plainzNullAccept connects a libzmq NULL DEALER to our server and returns
// both ends of the accepted connection.
func plainzNullAccept(t *testing.T, srv *ourServer) (*zmq.Socket, *libMonitor, handshakeResult) {
	t.Helper()
	lib := newZMQLib(t)
	cli := lib.socket(zmq.DEALER)
	mon := lib.monitor(cli, connEvents)
	must(t, cli.Connect(srv.endpoint))
	return cli, mon, srv.next(3 * time.Second)
}

func TestNullZAPSecurity(t *testing.T) {
	t.Parallel()

	// test_no_domain: a handler exists but the server has no domain, so
	// libzmq never asks ZAP. Ours would never ask it either, so such a
	// configuration is refused up front (transport.ErrConfig) rather than
	// silently ignoring the handler; without the handler the bounce works
	// and, with no ZAP, there is no User-Id.
	t.Run("no-domain", func(t *testing.T) {
		t.Parallel()
		rec := plainzNullHandler(t)
		if l, err := transport.Listen("tcp://127.0.0.1:0", serverConfig(false, rec, "")); err == nil {
			l.Close()
			t.Error("Listen accepted NULL with a ZAP handler and no domain")
		} else if !errors.Is(err, transport.ErrConfig) {
			t.Errorf("Listen: %v; want transport.ErrConfig", err)
		}
		srv := serve(t, serverConfig(false, nil, ""))
		cli, _, a := plainzNullAccept(t, srv)
		if a.err != nil {
			t.Fatalf("our server: %v", a.err)
		}
		libBounce(t, cli, a.conn)
		if n := rec.calls.Load(); n != 0 {
			t.Errorf("ZAP asked %d times; want 0 (no domain)", n)
		}
		st := a.conn.ConnectionState()
		if _, ok := st.Property("User-Id"); ok || st.UserID != "" || st.ZAPMetadata != nil {
			t.Errorf("ConnectionState has ZAP data (UserID %q, %v) without ZAP", st.UserID, st.ZAPMetadata)
		}
	})

	// test_wrong_domain_fails: ZAP 400, ERROR "400"; the libzmq client
	// reports HANDSHAKE_FAILED_AUTH 400 and does not reconnect.
	t.Run("wrong-domain", func(t *testing.T) {
		t.Parallel()
		rec := plainzNullHandler(t)
		r := plainzRunRefused(t, false, rec, "WRONG")
		var ae *mechanism.AuthError
		if !errors.As(r.err, &ae) || ae.Status != 400 || ae.Text != "BAD DOMAIN" || ae.Mechanism != "NULL" {
			t.Errorf("our server's error = %v; want *mechanism.AuthError NULL 400 \"BAD DOMAIN\"", r.err)
		}
		r.expectError(t, "400")
		if r := rec.first(); r == nil || r.Domain != "WRONG" || r.Address != "127.0.0.1" || string(r.Identity) != serverID {
			t.Errorf("ZAP request %+v; want domain WRONG, address 127.0.0.1, our routing id", r)
		}
	})

	// test_success: domain TEST.
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		rec := plainzNullHandler(t)
		srv := serve(t, serverConfig(false, rec, "TEST"))
		cli, mon, a := plainzNullAccept(t, srv)
		if a.err != nil {
			t.Fatalf("our server: %v", a.err)
		}
		libBounce(t, cli, a.conn)
		if st := a.conn.ConnectionState(); st.UserID != "anonymous" || st.Mechanism != "NULL" {
			t.Errorf("ConnectionState UserID %q mechanism %q; want anonymous NULL", st.UserID, st.Mechanism)
		}
		if rec.calls.Load() != 1 {
			t.Errorf("ZAP asked %d times; want 1", rec.calls.Load())
		}
		if e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, 2*time.Second); !ok || e.Value != 0 {
			t.Errorf("libzmq client monitor %v", seen)
		}
	})

	// test_vanilla_socket: domain WRONG and a raw ZMTP 1.0 client; nothing
	// passes and ZAP is not asked. The same bytes go to a libzmq NULL server
	// with domain WRONG and a handler.
	t.Run("vanilla-socket", func(t *testing.T) {
		t.Parallel()
		rec := plainzNullHandler(t)
		srv := serve(t, serverConfig(false, rec, "WRONG"))
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
		zh := lib.zap(func([][]byte) zapAnswer { return zapAnswer{Status: "400", Text: "BAD DOMAIN"} })
		s := lib.socket(zmq.DEALER)
		must(t, s.SetZapDomain("WRONG"))
		theirs := plainzVanilla(t, lib.bind(s))
		expectNothing(t, s, 200*time.Millisecond)
		for _, v := range []struct {
			who string
			r   plainzVanillaResult
		}{{"our server", ours()}, {"libzmq", theirs()}} {
			if !v.r.closed {
				t.Errorf("%s left the ZMTP 1.0 connection open (got %s, %v)", v.who, hexString(v.r.got), v.r.err)
			}
		}
		if n := zh.calls.Load(); n != 0 {
			t.Errorf("libzmq asked its ZAP handler %d times for the ZMTP 1.0 peer; want 0", n)
		}
	})
}

// TestNullZAPNoHandler mirrors test_security_no_zap_handler's
// test_no_zap_handler: a domain ("TEST\0", 5 bytes) and no handler; NULL
// proceeds without authentication and the bounce works.
// (test_no_zap_handler_enforce_domain needs ZMQ_ZAP_ENFORCE_DOMAIN, which
// our Config does not have: a NULL server asks ZAP only when it has both a
// domain and a handler.)
func TestNullZAPNoHandler(t *testing.T) {
	t.Parallel()
	srv := serve(t, serverConfig(false, nil, "TEST\x00"))
	cli, mon, a := plainzNullAccept(t, srv)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	libBounce(t, cli, a.conn)
	if st := a.conn.ConnectionState(); st.UserID != "" || st.ZAPMetadata != nil {
		t.Errorf("ConnectionState UserID %q ZAPMetadata %v; want none without ZAP", st.UserID, st.ZAPMetadata)
	}
	if e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, 2*time.Second); !ok || e.Value != 0 {
		t.Errorf("libzmq client monitor %v", seen)
	}
}
