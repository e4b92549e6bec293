package conformance

// PLAIN interop with libzmq 4.3.4, both directions (docs/libzmq-behaviour.md#plain
// and docs/wire-format.md#plain):
//
//   - our PLAIN client against a libzmq PLAIN server whose ZAP handler is a
//     scripted REP socket on inproc://zeromq.zap.01 in the server's context;
//   - a libzmq PLAIN client against our PLAIN server with our
//     zap.Authenticator (ConfigurePlain and ConfigurePlainFile) or a scripted
//     zap.HandlerFunc.
//
// A recording TCP proxy sits between the two where the test asserts the
// bytes: libzmq's PLAIN server sends the malformed 5E "RROR" ERROR, ours the
// RFC form 05 "ERROR".

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestPlainOurClientLibzmqServer: our PLAIN client, libzmq PLAIN server.
func TestPlainOurClientLibzmqServer(t *testing.T) {
	t.Parallel()

	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s, zh, mon, ep := libPlainServer(t, lib, libPlainDecide)
		c, err := transport.Dial(ep, plainClientConfig(t, "admin", "secret"))
		if err != nil {
			t.Fatalf("our client: %v", err)
		}
		defer c.Close()
		st := c.ConnectionState()
		if st.Mechanism != "PLAIN" || st.PeerSocketType != zmtp.DEALER || string(st.PeerIdentity) != serverID {
			t.Errorf("ConnectionState: mechanism %q, peer %q, identity %q; want PLAIN, DEALER, %q",
				st.Mechanism, st.PeerSocketType, st.PeerIdentity, serverID)
		}
		if st.UserID != "" || st.ZAPMetadata != nil {
			t.Errorf("client ConnectionState has ZAP data %q %v; a client never asks ZAP", st.UserID, st.ZAPMetadata)
		}
		// The handler saw exactly libzmq's request: version, id "1",
		// domain, our address, the server's OWN routing id, PLAIN, the
		// credentials (docs/libzmq-behaviour.md#zap-request-frames).
		want := strMsg("1.0", "1", zapDomain, "127.0.0.1", serverID, "PLAIN", "admin", "secret")
		if got := zh.lastRequest(); !equalMsg(got, want) {
			t.Errorf("ZAP request %s; want %s", shortMsg(got), shortMsg(want))
		}
		if err := c.WriteMessage(strMsg("hello", "plain")); err != nil {
			t.Fatal(err)
		}
		msg, md, err := s.RecvMessageWithMetadata(0, "User-Id", "Socket-Type", "Peer-Address")
		if err != nil || !slices.Equal(msg, []string{"hello", "plain"}) {
			t.Fatalf("libzmq received %q, %v", msg, err)
		}
		if md["User-Id"] != "admin" || md["Socket-Type"] != "DEALER" || md["Peer-Address"] != "127.0.0.1" {
			t.Errorf("libzmq properties %q; want User-Id admin, Socket-Type DEALER, Peer-Address 127.0.0.1", md)
		}
		if _, err := s.SendMessage("back", "to us"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, err := c.ReadMessage(nil)
		if err != nil || !equalMsg(got, strMsg("back", "to us")) {
			t.Fatalf("we received %s, %v", shortMsg(got), err)
		}
		if e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, 2*time.Second); !ok || e.Value != 0 {
			t.Errorf("libzmq server monitor %v; want HANDSHAKE_SUCCEEDED", seen)
		}
	})

	// Refusals. The proxy records what libzmq sent after its greeting.
	refusals := []struct {
		name       string
		user, pass string
		decide     func([][]byte) zapAnswer
		status     string // the ZAP status; "" for a refusal by the handler table
	}{
		{"wrong-password", "admin", "wrong", libPlainDecide, "400"},
		{"unknown-user", "mallory", "secret", libPlainDecide, "400"},
		{"unknown-user-empty-password", "mallory", "", libPlainDecide, "400"},
		{"empty-username-and-password", "", "", libPlainDecide, "400"},
		{"status-400", "admin", "secret", func([][]byte) zapAnswer { return zapAnswer{Status: "400", Text: "no"} }, "400"},
		{"status-500", "admin", "secret", func([][]byte) zapAnswer { return zapAnswer{Status: "500", Text: "broken"} }, "500"},
		{"status-300", "admin", "secret", func([][]byte) zapAnswer { return zapAnswer{Status: "300", Text: "later"} }, "300"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lib := newZMQLib(t)
			s, zh, mon, ep := libPlainServer(t, lib, tc.decide)
			proxy := startProxy(t, ep)
			cfg := plainClientConfig(t, tc.user, tc.pass)
			cfg.HandshakeTimeout = 500 * time.Millisecond
			start := time.Now()
			c, err := transport.Dial(proxy.endpoint, cfg)
			elapsed := time.Since(start)
			if err == nil {
				c.Close()
				t.Fatal("our client connected; want a refusal")
			}
			want := strMsg("1.0", "1", zapDomain, "127.0.0.1", serverID, "PLAIN", tc.user, tc.pass)
			if got := zh.lastRequest(); !equalMsg(got, want) {
				t.Errorf("ZAP request %s; want %s (credentials verbatim, empty ones as empty frames)", shortMsg(got), shortMsg(want))
			}
			pe := peerError(err)
			// libzmq's greeting has as-server 0 even on a server
			// (docs/libzmq-behaviour.md#greeting-and-older-peers).
			after := afterGreeting(t, proxy.closed(0, 3*time.Second), "PLAIN", false)
			switch tc.status {
			case "400", "500":
				// libzmq sent 04 09 5E "RROR" 03 "400": our client reads it
				// as ERROR "400".
				if pe == nil || pe.Reason != tc.status || pe.Status().String() != tc.status {
					t.Errorf("our client's error = %v; want *mechanism.PeerError with Status() %s", err, tc.status)
				}
				if wantB := libzmqPlainError(tc.status); !bytes.Equal(after, wantB) {
					t.Errorf("libzmq sent after its greeting %s; want exactly %s", hexString(after), hexString(wantB))
				}
			case "300":
				// No ERROR. libzmq 4.3.4 leaves the connection open and
				// silent (the ZAP reply came after the mechanism looked),
				// or closes it: either our handshake timeout or a close.
				if pe != nil {
					t.Errorf("our client's error = %v; want no PeerError for ZAP 300", err)
				}
				if !timedOut(err) && !curveIsClosed(err) {
					t.Errorf("our client's error = %v; want our handshake timeout or a closed connection", err)
				}
				if elapsed > 2*time.Second {
					t.Errorf("our client gave up after %v; the 500 ms handshake timeout must bound it", elapsed)
				}
				if len(after) != 0 {
					t.Errorf("libzmq sent %s after its greeting for ZAP 300; want nothing", hexString(after))
				}
				t.Logf("ZAP 300: our client ended after %v: timeout %v, closed %v", elapsed.Round(time.Millisecond), timedOut(err), curveIsClosed(err))
			}
			e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 2*time.Second)
			if !ok || e.Value != plainzAtoi(tc.status) {
				t.Errorf("libzmq server monitor %v; want HANDSHAKE_FAILED_AUTH %s", seen, tc.status)
			}
			expectNothing(t, s, 10*time.Millisecond)
		})
	}
}

func plainzAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// plainzAuthSetup configures a fresh zap.Authenticator with the users of
// plainUsers in domain "*" (our server sets no domain, so the request's
// empty domain falls back to "*"), either in memory or through a password
// file.
type plainzAuthSetup struct {
	name  string
	setup func(t *testing.T) *zap.Authenticator
}

var plainzAuthSetups = []plainzAuthSetup{
	{"ConfigurePlain", func(t *testing.T) *zap.Authenticator {
		a := zap.NewAuthenticator()
		a.ConfigurePlain("*", plainUsers)
		return a
	}},
	{"ConfigurePlainFile", func(t *testing.T) *zap.Authenticator {
		path := filepath.Join(t.TempDir(), "passwords")
		var b bytes.Buffer
		b.WriteString("# CZMQ zauth password file\n")
		for u, p := range plainUsers {
			b.WriteString(u + "=" + p + "\n")
		}
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		a := zap.NewAuthenticator()
		t.Cleanup(func() { a.Close() })
		if err := a.ConfigurePlainFile("*", path); err != nil {
			t.Fatal(err)
		}
		return a
	}},
}

// TestPlainLibzmqClientOurServer: a libzmq PLAIN client, our PLAIN server.
func TestPlainLibzmqClientOurServer(t *testing.T) {
	t.Parallel()
	for _, as := range plainzAuthSetups {
		t.Run(as.name, func(t *testing.T) {
			t.Parallel()
			t.Run("accepted", func(t *testing.T) {
				t.Parallel()
				rec := recordZAP(as.setup(t))
				srv := serve(t, serverConfig(true, rec, ""))
				lib := newZMQLib(t)
				cli := libPlainClient(lib, zmq.DEALER, "alice", "wonderland")
				must(t, cli.SetIdentity("CLI"))
				mon := lib.monitor(cli, connEvents)
				must(t, cli.Connect(srv.endpoint))
				a := srv.next(3 * time.Second)
				if a.err != nil {
					t.Fatalf("our server: %v", a.err)
				}
				st := a.conn.ConnectionState()
				if st.UserID != "alice" || st.Mechanism != "PLAIN" || string(st.PeerIdentity) != "CLI" {
					t.Errorf("ConnectionState: UserID %q, mechanism %q, peer identity %q; want alice, PLAIN, CLI", st.UserID, st.Mechanism, st.PeerIdentity)
				}
				if v, ok := st.Property("User-Id"); !ok || string(v) != "alice" {
					t.Errorf("Property(User-Id) = %q, %v", v, ok)
				}
				r := rec.first()
				if r == nil || r.Version != "1.0" || string(r.RequestID) != "1" || r.Domain != "" || r.Address != "127.0.0.1" ||
					string(r.Identity) != serverID || r.Mechanism != "PLAIN" ||
					!equalMsg(r.Credentials, strMsg("alice", "wonderland")) {
					t.Errorf("ZAP request %+v; want libzmq's fields with our own routing id", r)
				}
				libBounce(t, cli, a.conn)
				if e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_SUCCEEDED, 2*time.Second); !ok || e.Value != 0 {
					t.Errorf("libzmq client monitor %v; want HANDSHAKE_SUCCEEDED", seen)
				}
			})

			// Refused by the Authenticator with 400 and an ERROR "400" in
			// libzmq's own 5E "RROR" form, our default: the libzmq PLAIN
			// client reports HANDSHAKE_FAILED_AUTH 400, exactly as it does
			// from a libzmq server, and never reconnects (see
			// docs/design-notes.md, "Matching libzmq").
			for _, tc := range []struct {
				name, user, pass, text string
			}{
				{"wrong-password", "alice", "rabbit", zap.TextInvalidPassword},
				{"unknown-user", "mallory", "wonderland", zap.TextInvalidUsername},
				// libzmq sends the unset password as an empty string. An
				// unknown user with an empty password must not pass (it does
				// with pebbe/zmq4's handler, docs/libzmq-behaviour.md#other-zap-authenticators).
				{"unknown-user-empty-password", "mallory", "", zap.TextInvalidUsername},
				{"known-user-empty-password", "alice", "", zap.TextInvalidPassword},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					rec := recordZAP(as.setup(t))
					srv := serve(t, serverConfig(true, rec, ""))
					proxy := startProxy(t, srv.endpoint)
					lib := newZMQLib(t)
					cli := libPlainClient(lib, zmq.DEALER, tc.user, tc.pass)
					mon := lib.monitor(cli, connEvents)
					must(t, cli.Connect(proxy.endpoint))
					sendQueued(cli, "must not pass")
					err := ourRefusal(t, srv, 3*time.Second)
					var ae *mechanism.AuthError
					if !errors.As(err, &ae) || ae.Status != zap.StatusAuthenticationError || ae.Text != tc.text {
						t.Errorf("our server's error = %v; want *mechanism.AuthError 400 %q", err, tc.text)
					}
					if r := rec.first(); r == nil || !equalMsg(r.Credentials, strMsg(tc.user, tc.pass)) {
						t.Errorf("ZAP request %+v; want credentials [%q %q]", r, tc.user, tc.pass)
					}
					after := afterGreeting(t, proxy.closed(0, 3*time.Second), "PLAIN", true)
					if want := libzmqPlainError("400"); !bytes.Equal(after, want) {
						t.Errorf("our server sent %s after its greeting; want exactly %s", hexString(after), hexString(want))
					}
					plainzExpectStopped(t, mon, proxy, "EVENT_HANDSHAKE_FAILED_AUTH(400)")
				})
			}
		})
	}

	// Scripted handlers for the statuses an Authenticator never sends.
	t.Run("status-300", func(t *testing.T) {
		t.Parallel()
		r := plainzRunRefused(t, true, fixedZAP(zap.StatusTemporaryFailure), "")
		if authStatus(r.err) != zap.StatusTemporaryFailure {
			t.Errorf("our server's error = %v; want *mechanism.AuthError 300", r.err)
		}
		r.expectSilentClose(t)
	})
	// mechanism.PlainRFCError: the 23/ZMTP form, which a libzmq PLAIN
	// client does not recognise: it reports ZMTP_UNEXPECTED_COMMAND, a
	// protocol error, and does not reconnect either.
	t.Run("status-400-rfc-form", func(t *testing.T) {
		t.Parallel()
		r := plainzRunRefused(t, true, fixedZAP(zap.StatusAuthenticationError), "", mechanism.PlainRFCError())
		if authStatus(r.err) != zap.StatusAuthenticationError {
			t.Errorf("our server's error = %v; want *mechanism.AuthError 400", r.err)
		}
		r.expectError(t, "400")
	})
	t.Run("status-500", func(t *testing.T) {
		t.Parallel()
		r := plainzRunRefused(t, true, fixedZAP(zap.StatusInternalError), "")
		if authStatus(r.err) != zap.StatusInternalError {
			t.Errorf("our server's error = %v; want *mechanism.AuthError 500", r.err)
		}
		r.expectError(t, "500")
	})
	// No handler: libzmq's PLAIN server closes every client (EFAULT event
	// there); ours is refused up front by Listen (TestZAPScenarios/
	// PLAIN/no-handler).
}

// plainzRun is the outcome of a libzmq DEALER client (PLAIN admin/secret,
// or NULL) connecting through the recording proxy to our server and being
// refused.
type plainzRun struct {
	plain bool
	rfc   bool   // PLAIN server with mechanism.PlainRFCError
	err   error  // our server's first handshake result
	after []byte // what our server sent on the first connection, after its greeting
	mon   *libMonitor
	proxy *recProxy
	cli   *zmq.Socket
}

// plainzRunRefused runs one refusal: our server with handler h (PLAIN or
// NULL with domain), a libzmq client that queues a message. It checks that
// our server accepted nothing and the libzmq client received nothing.
func plainzRunRefused(t *testing.T, plain bool, h zap.Handler, domain string, opts ...mechanism.PlainServerOption) *plainzRun {
	t.Helper()
	srv := serve(t, serverConfig(plain, h, domain, opts...))
	proxy := startProxy(t, srv.endpoint)
	lib := newZMQLib(t)
	var cli *zmq.Socket
	if plain {
		cli = libPlainClient(lib, zmq.DEALER, "admin", "secret")
	} else {
		cli = lib.socket(zmq.DEALER)
	}
	mon := lib.monitor(cli, connEvents)
	must(t, cli.Connect(proxy.endpoint))
	sendQueued(cli, "must not pass")
	r := &plainzRun{plain: plain, rfc: len(opts) > 0, cli: cli, mon: mon, proxy: proxy}
	r.err = ourRefusal(t, srv, 3*time.Second)
	mech := "NULL"
	if plain {
		mech = "PLAIN"
	}
	r.after = afterGreeting(t, proxy.closed(0, 3*time.Second), mech, plain)
	t.Cleanup(func() {
		for _, a := range srv.drain(0) {
			if a.err == nil {
				t.Errorf("our server accepted a reconnect; want every attempt refused")
			}
		}
	})
	expectNothing(t, cli, 10*time.Millisecond)
	return r
}

// expectError checks an ERROR with reason status, byte for byte, and the
// libzmq client's reaction. NULL sends the RFC form, which libzmq reads:
// AUTH <status>. PLAIN sends libzmq's 5E "RROR" form by default: AUTH
// <status> too. PLAIN with PlainRFCError sends the RFC form, which libzmq's
// PLAIN client does not recognise: ZMTP_UNEXPECTED_COMMAND. No reconnect in
// any case.
func (r *plainzRun) expectError(t *testing.T, status string) {
	t.Helper()
	want := specError(status)
	if r.plain && !r.rfc {
		want = libzmqPlainError(status)
	}
	if !bytes.Equal(r.after, want) {
		t.Errorf("our server sent %s after its greeting; want exactly %s", hexString(r.after), hexString(want))
	}
	failed := "EVENT_HANDSHAKE_FAILED_AUTH(" + status + ")"
	if r.plain && r.rfc {
		failed = "EVENT_HANDSHAKE_FAILED_PROTOCOL(0x10000001)"
	}
	plainzExpectStopped(t, r.mon, r.proxy, failed)
}

// plainzExpectStopped waits for the libzmq client to disconnect, then checks
// its events were exactly CONNECTED, failed, DISCONNECTED, and that it did
// not reconnect within 500 ms (RECONNECT_IVL is 50 ms).
func plainzExpectStopped(t *testing.T, mon *libMonitor, proxy *recProxy, failed string) {
	t.Helper()
	mon.waitFor(zmq.EVENT_DISCONNECTED, 3*time.Second)
	mon.collect(500 * time.Millisecond)
	want := []string{"EVENT_CONNECTED", failed, "EVENT_DISCONNECTED"}
	if got := eventKinds(mon.seen); !slices.Equal(got, want) {
		t.Errorf("libzmq client monitor %v; want %v and no reconnect", got, want)
	}
	if n := proxy.count(); n != 1 {
		t.Errorf("%d connections; want 1 (no reconnect after ERROR)", n)
	}
}

// expectSilentClose checks a refusal without ERROR: our server sent nothing
// after its greeting and closed; the libzmq client saw only the close
// (NO_DETAIL EPIPE/ECONNRESET, the events test_security_zap ignores) and
// reconnected.
func (r *plainzRun) expectSilentClose(t *testing.T) {
	t.Helper()
	if len(r.after) != 0 {
		t.Errorf("our server sent %s after its greeting; want nothing", hexString(r.after))
	}
	plainzExpectRetried(t, r.mon)
	if !eventually(2*time.Second, func() bool { return r.proxy.count() >= 2 }) {
		t.Errorf("%d connections; want the libzmq client to reconnect after a close", r.proxy.count())
	}
}

// plainzExpectRetried waits up to 3 s for a second CONNECTED on the libzmq
// client's monitor and checks that every event up to then is a connect, a
// disconnect or a NO_DETAIL that says the peer closed: no ERROR arrived.
func plainzExpectRetried(t *testing.T, mon *libMonitor) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for countEvents(mon.seen, zmq.EVENT_CONNECTED) < 2 && time.Now().Before(deadline) {
		mon.next(time.Until(deadline))
	}
	if countEvents(mon.seen, zmq.EVENT_CONNECTED) < 2 {
		t.Errorf("libzmq client events %v; want it to reconnect after the close", eventKinds(mon.seen))
	}
	for _, e := range mon.seen {
		if e.Event != zmq.EVENT_CONNECTED && e.Event != zmq.EVENT_DISCONNECTED && !isPeerClose(e) {
			t.Errorf("libzmq client event %v; want only CONNECTED, NO_DETAIL (peer closed), DISCONNECTED", e)
		}
	}
}
