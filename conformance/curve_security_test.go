package conformance

// Every scenario of libzmq 4.3.4's tests/test_security_curve.cpp
// (docs/libzmq-behaviour.md#curve-security-tests), with our CURVE server facing the hostile or
// misconfigured client. Where the client is raw bytes, the same bytes also
// go to a libzmq CURVE server set up like libzmq's fixture, so that "our
// server refuses as libzmq does" is shown, not assumed.

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// curveFixtureRoutingID is the server routing id of libzmq's security
// fixture (setup_context_and_server_side).
const curveFixtureRoutingID = "IDENT"

// curveOurFixture is our server as libzmq's fixture sets up its own: a
// DEALER with routing id IDENT, domain ZAPTEST, a ZAP handler that knows one
// client key.
func curveOurFixture(t testing.TB, routingID string, valid cert.PublicKey) (*ourServer, *curveOurAuth) {
	t.Helper()
	auth := newCurveOurAuth(t, "ZAPTEST", valid)
	cfg := curveServerConfig(t, docServer(t), zmtp.DEALER)
	cfg.Identity = []byte(routingID)
	cfg.ZAPHandler = auth
	cfg.ZAPDomain = "ZAPTEST"
	cfg.HandshakeTimeout = 2 * time.Second
	return serve(t, cfg), auth
}

// curveLibFixture is libzmq's own fixture: a CURVE DEALER server with
// routing id IDENT, domain ZAPTEST, a ZAP handler that knows one client key,
// and a monitor on the handshake events.
func curveLibFixture(t testing.TB, valid cert.PublicKey) (lib *zmqLib, srv *zmq.Socket, mon *libMonitor, zh *libZAP, endpoint string) {
	t.Helper()
	lib = newZMQLib(t)
	zh = lib.zap(zapAllowKeys(valid))
	srv = lib.curveServer(zmq.DEALER, docServer(t))
	must(t, srv.SetIdentity(curveFixtureRoutingID))
	must(t, srv.SetZapDomain("ZAPTEST"))
	mon = lib.monitor(srv, handshakeEvents)
	endpoint = lib.bind(srv)
	return
}

// 1. test_curve_security_with_valid_credentials.
func TestCurveSecurityValidCredentials(t *testing.T) {
	t.Parallel()
	valid := testkeys.New(t)
	srv, auth := curveOurFixture(t, curveFixtureRoutingID, valid.Public)
	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.DEALER, docServerPublic, valid.Public.String(), valid.Secret.Z85())
	mon := lib.monitor(cli, handshakeEvents)
	must(t, cli.Connect(srv.endpoint))
	a := srv.next(3 * time.Second)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	curveBounce(t, cli, a.conn)
	es := mon.collect(250 * time.Millisecond)
	if len(es) != 1 || es[0].Event != zmq.EVENT_HANDSHAKE_SUCCEEDED {
		t.Errorf("libzmq client monitor: %v; want exactly one HANDSHAKE_SUCCEEDED", es)
	}
	if auth.calls.Load() != 1 || string(auth.lastRequest().Identity) != curveFixtureRoutingID {
		t.Errorf("ZAP: %d calls, identity %q", auth.calls.Load(), auth.lastRequest().Identity)
	}
}

// 16. test_curve_security_with_valid_credentials with a 255-byte routing id
// on the server: our READY carries a 255-byte Identity, and ZAP sees it.
func TestCurveSecurityLargeRoutingID(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for b.Len() < 255 {
		b.WriteString("0123456789")
	}
	id := b.String()[:255]
	valid := testkeys.New(t)
	srv, auth := curveOurFixture(t, id, valid.Public)
	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.DEALER, docServerPublic, valid.Public.String(), valid.Secret.Z85())
	mon := lib.monitor(cli, handshakeEvents)
	must(t, cli.Connect(srv.endpoint))
	a := srv.next(3 * time.Second)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	if got := string(auth.lastRequest().Identity); got != id {
		t.Errorf("ZAP identity frame %q, want the 255-byte routing id", got)
	}
	if err := a.conn.WriteMessage(strMsg("big id")); err != nil {
		t.Fatal(err)
	}
	msg, md, err := cli.RecvMessageWithMetadata(0, "Identity")
	if err != nil || len(msg) != 1 || msg[0] != "big id" || md["Identity"] != id {
		t.Errorf("libzmq client got %q, Identity %q (%d bytes), %v", msg, md["Identity"], len(md["Identity"]), err)
	}
	curveBounce(t, cli, a.conn)
	if es := mon.collect(250 * time.Millisecond); len(es) != 1 || es[0].Event != zmq.EVENT_HANDSHAKE_SUCCEEDED {
		t.Errorf("libzmq client monitor: %v; want exactly one HANDSHAKE_SUCCEEDED", es)
	}
}

// 2-4. A libzmq client with a null server key, a null public key, a null
// secret key (and both): no message passes. The server key case fails on
// the client (libsodium refuses the low-order point) and stalls until its
// handshake timer; the others reach our server, which refuses them.
// Differential: the same client runs against libzmq's fixture at the same
// time, and its monitor must show the same kinds of events against both.
func TestCurveSecurityNullKeys(t *testing.T) {
	t.Parallel()
	valid := testkeys.New(t)
	cases := []struct {
		name                   string
		serverKey, pub, secret string
		// ours judges one of our server's handshake errors.
		ours func(error) bool
		want string
		// libzmqServer is the event libzmq's server reports.
		libzmqServer libEvent
	}{
		{"server-key", libzmqNullKey, valid.Public.String(), valid.Secret.Z85(),
			curveIsClosedOrTimeout, "a closed connection (the client sends nothing after its greeting)",
			libEvent{zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, 32}},
		{"client-public-key", docServerPublic, libzmqNullKey, valid.Secret.Z85(),
			func(err error) bool { return errors.Is(err, mechanism.ErrLowOrderKey) }, "ErrLowOrderKey",
			libEvent{zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, errCryptographic}},
		{"client-secret-key", docServerPublic, valid.Public.String(), libzmqNullKey,
			func(err error) bool { return errors.Is(err, mechanism.ErrDecrypt) }, "ErrDecrypt (the vouch does not open)",
			libEvent{zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, errCryptographic}},
		{"client-both-keys", docServerPublic, libzmqNullKey, libzmqNullKey,
			func(err error) bool {
				return errors.Is(err, mechanism.ErrLowOrderKey) || errors.Is(err, mechanism.ErrDecrypt)
			}, "ErrLowOrderKey or ErrDecrypt",
			libEvent{zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, errCryptographic}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := func(lib *zmqLib, ep string) (*zmq.Socket, *libMonitor) {
				cli := lib.curveClient(zmq.DEALER, tc.serverKey, tc.pub, tc.secret)
				must(t, cli.SetHandshakeIvl(300*time.Millisecond))
				mon := lib.monitor(cli, handshakeEvents)
				must(t, cli.Connect(ep))
				must(t, cli.SetSndtimeo(0))
				cli.SendMessage("must not pass") // queued, or EAGAIN
				return cli, mon
			}
			srv, auth := curveOurFixture(t, curveFixtureRoutingID, valid.Public)
			_, ours := client(newZMQLib(t), srv.endpoint)
			_, libSrv, libSrvMon, zh, ep := curveLibFixture(t, valid.Public)
			_, theirs := client(newZMQLib(t), ep)

			// The client retries every 50 ms and gives each attempt 300 ms,
			// so an attempt may also end in a close (under load, or when the
			// test ends); every other failure must be the expected one. Wait
			// for one expected failure on each server.
			var results []handshakeResult
			expected := 0
			for deadline := time.Now().Add(5 * time.Second); expected == 0 && time.Now().Before(deadline); {
				results = append(results, srv.drain(50*time.Millisecond)...)
				expected = 0
				for _, a := range results {
					switch {
					case a.err == nil:
						m, _ := a.conn.ReadMessage(nil)
						t.Fatalf("our server accepted the client; it sent %q", m)
					case tc.ours(a.err):
						expected++
					}
				}
			}
			if len(results) == 0 {
				t.Fatalf("our server saw no connection")
			}
			for _, a := range results {
				if !tc.ours(a.err) && !curveIsClosedOrTimeout(a.err) {
					t.Errorf("our server's error = %v; want %s", a.err, tc.want)
				}
			}
			if expected == 0 {
				t.Errorf("our server's errors: none is %s (first: %v)", tc.want, results[0].err)
			}
			if n := auth.calls.Load(); n != 0 {
				t.Errorf("ZAP asked %d times; the keys are refused before ZAP", n)
			}
			_, libSrvEvents, ok := libSrvMon.waitFor(tc.libzmqServer.Event, 5*time.Second)
			if _, found := curveFindEvent(libSrvEvents, tc.libzmqServer); !ok || !found {
				t.Errorf("libzmq server monitor %v; want %v", libSrvEvents, tc.libzmqServer)
			}
			if zh.calls.Load() != 0 {
				t.Errorf("libzmq ZAP asked %d times", zh.calls.Load())
			}
			expectNothing(t, libSrv, 10*time.Millisecond)
			// The libzmq client sees the same kinds of events against both.
			for _, m := range []*libMonitor{ours, theirs} {
				if len(m.seen) == 0 {
					m.next(3 * time.Second)
				}
				m.collect(20 * time.Millisecond)
			}
			if a, b := curveKinds(ours.seen), curveKinds(theirs.seen); a != b {
				t.Errorf("libzmq client events against our server: %v; against libzmq's: %v", ours.seen, theirs.seen)
			}
			if tc.name == "server-key" {
				if e, ok := curveFind(ours.seen, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL); !ok || e.Value != errCryptographic {
					t.Errorf("libzmq client monitor %v; want its local HANDSHAKE_FAILED_PROTOCOL ZMTP_CRYPTOGRAPHIC", ours.seen)
				}
			}
			t.Logf("our server: %d connections, first error %v; libzmq client events: %v against ours, %v against libzmq (libzmq server: %v)",
				len(results), results[0].err, curveKinds(ours.seen), curveKinds(theirs.seen), curveKinds(libSrvEvents))
		})
	}
}

// curveKinds summarises events as the sorted set of their kinds, with the
// value for protocol errors.
func curveKinds(es []libEvent) string {
	set := map[string]bool{}
	for _, e := range es {
		k := e.Event.String()
		if e.Event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL || e.Event == zmq.EVENT_HANDSHAKE_FAILED_AUTH {
			k = e.String()
		}
		set[k] = true
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func curveFindEvent(es []libEvent, want libEvent) (libEvent, bool) {
	for _, e := range es {
		if e == want {
			return e, true
		}
	}
	return libEvent{}, false
}

// 5. test_curve_security_with_bogus_client_credentials: our handler answers
// 400; the libzmq client gets ERROR "400", reports HANDSHAKE_FAILED_AUTH 400
// and does not reconnect.
func TestCurveSecurityBogusClientCredentials(t *testing.T) {
	t.Parallel()
	valid, bogus := testkeys.New(t), testkeys.New(t)
	srv, auth := curveOurFixture(t, curveFixtureRoutingID, valid.Public)
	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.DEALER, docServerPublic, bogus.Public.String(), bogus.Secret.Z85())
	mon := lib.monitor(cli, handshakeEvents)
	must(t, cli.Connect(srv.endpoint))
	a := srv.next(3 * time.Second)
	var ae *mechanism.AuthError
	if !errors.As(a.err, &ae) || ae.Status != 400 {
		t.Errorf("our server's error = %v; want *mechanism.AuthError 400", a.err)
	}
	mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 3*time.Second)
	mon.collect(500 * time.Millisecond)
	es := mon.seen
	if countEvents(es, zmq.EVENT_HANDSHAKE_FAILED_AUTH) != 1 || len(es) != 1 || es[0].Value != 400 {
		t.Errorf("libzmq client monitor: %v; want exactly one HANDSHAKE_FAILED_AUTH 400", es)
	}
	if n := srv.count.Load(); n != 1 {
		t.Errorf("our server saw %d connections in 500 ms after the ERROR (RECONNECT_IVL 50 ms); want 1: no reconnect", n)
	}
	if n := auth.calls.Load(); n != 1 {
		t.Errorf("ZAP asked %d times, want 1", n)
	}
	expectNothing(t, cli, 100*time.Millisecond)
}

// 6, 7. test_curve_security_with_null_client_credentials and
// ..._plain_client_credentials: a NULL or PLAIN libzmq client against our
// CURVE server. Mechanism mismatch; ZAP never asked; no reconnect.
//
// Our server sends its whole greeting at once, so the libzmq client sees
// the mismatch first and closes before it has sent its own mechanism name
// (libzmq queues the rest of its greeting and drops it with the
// connection): our server reads 10 bytes, then EOF, in the greeting step.
// The "raw" subtests send a complete NULL or PLAIN greeting (libzmq's
// zmtp_greeting_null fixture), which makes our server report the mismatch
// itself; the same bytes go to libzmq's CURVE server too.
func TestCurveSecurityMechanismMismatch(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"NULL", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			srv, auth := curveOurFixture(t, curveFixtureRoutingID, testkeys.New(t).Public)
			lib := newZMQLib(t)
			cli := lib.socket(zmq.DEALER)
			if mech == "PLAIN" {
				must(t, cli.SetPlainUsername("admin"))
				must(t, cli.SetPlainPassword("password"))
			}
			mon := lib.monitor(cli, handshakeEvents)
			must(t, cli.Connect(srv.endpoint))
			a := srv.next(3 * time.Second)
			var he *transport.HandshakeError
			var me *transport.MechanismMismatchError
			switch {
			case errors.As(a.err, &me):
				if me.Peer != mech || me.Local != "CURVE" || !errors.Is(a.err, mechanism.ErrMechanismMismatch) {
					t.Errorf("our server's error = %v", a.err)
				}
			case errors.As(a.err, &he) && he.Step == transport.StepGreeting && curveIsClosed(a.err):
				t.Logf("our server: %v (the libzmq client closed before sending its mechanism)", a.err)
			default:
				t.Errorf("our server's error = %v; want a mismatch or a close in the greeting", a.err)
			}
			if e, es, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, 3*time.Second); !ok || e.Value != errMechanismMismatch {
				t.Errorf("libzmq client monitor: %v; want HANDSHAKE_FAILED_PROTOCOL ZMTP_MECHANISM_MISMATCH", es)
			}
			mon.collect(300 * time.Millisecond) // time for a reconnect, which must not come
			if n := srv.count.Load(); n != 1 {
				t.Errorf("our server saw %d connections; want 1 (a protocol error stops libzmq's reconnects)", n)
			}
			if n := auth.calls.Load(); n != 0 {
				t.Errorf("ZAP asked %d times; want 0", n)
			}
		})
		t.Run(mech+"-raw", func(t *testing.T) {
			t.Parallel()
			t.Run("ours", func(t *testing.T) {
				t.Parallel()
				srv, auth := curveOurFixture(t, curveFixtureRoutingID, testkeys.New(t).Public)
				raw := dialRaw(t, srv.endpoint)
				raw.write(greeting30(mech))
				a := srv.next(3 * time.Second)
				var me *transport.MechanismMismatchError
				if !errors.As(a.err, &me) || me.Peer != mech || me.Local != "CURVE" || !errors.Is(a.err, mechanism.ErrMechanismMismatch) {
					t.Errorf("our server's error = %v; want *transport.MechanismMismatchError (peer %s)", a.err, mech)
				}
				if got, closed, err := raw.readRest(time.Second); !closed || len(got) != 64 {
					t.Errorf("raw client read %x (closed %v, %v); want our 64-byte greeting, then a close", got, closed, err)
				}
				if n := auth.calls.Load(); n != 0 {
					t.Errorf("ZAP asked %d times; want 0", n)
				}
			})
			t.Run("libzmq", func(t *testing.T) {
				t.Parallel()
				_, _, mon, zh, ep := curveLibFixture(t, testkeys.New(t).Public)
				raw := dialRaw(t, ep)
				raw.write(greeting30(mech))
				// libzmq sends the first 10 or 11 bytes of its greeting, sees
				// the mismatch and closes with the rest still queued.
				if got, closed, err := raw.readRest(time.Second); !closed || len(got) > 64 {
					t.Errorf("raw client read %x (closed %v, %v); want at most a greeting, then a close", got, closed, err)
				} else {
					t.Logf("libzmq sent %d bytes of its greeting, then closed", len(got))
				}
				e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, time.Second)
				if !ok || e.Value != errMechanismMismatch {
					t.Errorf("libzmq server monitor: %v; want HANDSHAKE_FAILED_PROTOCOL ZMTP_MECHANISM_MISMATCH", seen)
				}
				if zh.calls.Load() != 0 {
					t.Errorf("libzmq ZAP asked %d times", zh.calls.Load())
				}
			})
		})
	}
}

func curveFind(es []libEvent, ev zmq.Event) (libEvent, bool) {
	for _, e := range es {
		if e.Event == ev {
			return e, true
		}
	}
	return libEvent{}, false
}

// 8. test_curve_security_unauthenticated_message: a ZMTP 1.0 client sends
// an empty identity and the message "sneaky". Differential: our server and
// libzmq's both close, and neither application receives anything.
func TestCurveSecurityUnauthenticatedMessage(t *testing.T) {
	t.Parallel()
	sneaky := []byte{0x01, 0x00, 0x08, 0x00, 's', 'n', 'e', 'a', 'k', 'y', 0}

	t.Run("ours", func(t *testing.T) {
		t.Parallel()
		srv, auth := curveOurFixture(t, curveFixtureRoutingID, testkeys.New(t).Public)
		raw := dialRaw(t, srv.endpoint)
		raw.write(sneaky[:2])
		raw.write(sneaky[2:])
		a := srv.next(3 * time.Second)
		if a.err == nil || !errors.Is(a.err, zmtp.ErrUnsupportedVersion) {
			t.Errorf("our server's error = %v; want zmtp.ErrUnsupportedVersion", a.err)
		}
		got, closed, err := raw.readRest(time.Second)
		if !closed || len(got) > 64 {
			t.Errorf("raw client read %x (closed %v, %v); want at most our greeting, then a close", got, closed, err)
		}
		if auth.calls.Load() != 0 {
			t.Errorf("ZAP asked")
		}
	})
	t.Run("libzmq", func(t *testing.T) {
		t.Parallel()
		_, srv, mon, zh, ep := curveLibFixture(t, testkeys.New(t).Public)
		raw := dialRaw(t, ep)
		raw.write(sneaky[:2])
		raw.write(sneaky[2:])
		expectNothing(t, srv, 250*time.Millisecond)
		got, closed, err := raw.readRest(time.Second)
		if !closed || len(got) > 64 {
			t.Errorf("raw client read %x (closed %v, %v); want at most libzmq's greeting, then a close", got, closed, err)
		}
		if es := mon.collect(20 * time.Millisecond); len(es) != 0 || zh.calls.Load() != 0 {
			t.Errorf("libzmq server events %v, ZAP calls %d; want none", es, zh.calls.Load())
		}
	})
}

// curveHostile is one raw-client scenario of test_security_curve.cpp: a
// HELLO or an INITIATE that a real CURVE client (ours, driven by hand)
// produced, changed before it is sent.
type curveHostile struct {
	name string
	// initiate: the bad command replaces INITIATE (a valid HELLO goes
	// first and the WELCOME is read); otherwise it replaces HELLO.
	initiate bool
	// body turns the real command body into the one sent.
	body func(real []byte) []byte
	// libzmqEvent is the ZMQ_PROTOCOL_ERROR_* value libzmq's test expects
	// on the server monitor.
	libzmqEvent int
	// ours judges our server's handshake error.
	ours func(error) bool
	want string
}

// curveNegate is libzmq's test mutation: b[i] = !b[i].
func curveNegate(i int) func([]byte) []byte {
	return func(b []byte) []byte {
		if b[i] == 0 {
			b[i] = 1
		} else {
			b[i] = 0
		}
		return b
	}
}

func curveSet(i int, v byte) func([]byte) []byte {
	return func(b []byte) []byte { b[i] = v; return b }
}

func curveIsMalformed(cmd string) func(error) bool {
	return func(err error) bool {
		var ce *mechanism.CurveError
		return errors.Is(err, zmtp.ErrMalformed) && errors.As(err, &ce) && ce.Command == cmd
	}
}

func curveIsUnexpected(got string) func(error) bool {
	return func(err error) bool {
		var ue *mechanism.UnexpectedCommandError
		return errors.As(err, &ue) && ue.Got == got
	}
}

var curveHostileCases = []curveHostile{
	// 9. test_curve_security_invalid_hello_wrong_length: 04 06 05 "HELLO".
	{"hello-wrong-length", false, func([]byte) []byte { return []byte("\x05HELLO") },
		errMalformedHello, curveIsMalformed("HELLO"), "MalformedError in CurveError HELLO"},
	// 10. test_curve_security_invalid_hello_command_name: HELLX.
	{"hello-command-name", false, curveSet(5, 'X'),
		errUnexpectedCommand, curveIsUnexpected("HELLX"), "UnexpectedCommandError HELLX"},
	// 11. test_curve_security_invalid_hello_version: major 2.
	{"hello-version", false, curveSet(6, 2),
		errMalformedHello, curveIsMalformed("HELLO"), "MalformedError in CurveError HELLO"},
	// 12. test_curve_security_invalid_initiate_wrong_length: 04 09 08 "INITIATE".
	{"initiate-wrong-length", true, func([]byte) []byte { return []byte("\x08INITIATE") },
		errMalformedInitiate, curveIsMalformed("INITIATE"), "MalformedError in CurveError INITIATE"},
	// 13. test_curve_security_invalid_initiate_command_name: INITXATE.
	{"initiate-command-name", true, curveSet(5, 'X'),
		errUnexpectedCommand, curveIsUnexpected("INITXATE"), "UnexpectedCommandError INITXATE"},
	// 14. test_curve_security_invalid_initiate_command_encrypted_cookie.
	{"initiate-encrypted-cookie", true, curveNegate(30),
		errCryptographic, func(err error) bool { return errors.Is(err, mechanism.ErrCookie) }, "ErrCookie"},
	// 15. test_curve_security_invalid_initiate_command_encrypted_content.
	{"initiate-encrypted-content", true, curveNegate(150),
		errCryptographic, func(err error) bool { return errors.Is(err, mechanism.ErrDecrypt) }, "ErrDecrypt"},
}

// curveRunHostile plays one scenario against the server at endpoint and
// returns what the raw client read after its bad command, and whether the
// server closed.
func curveRunHostile(t *testing.T, endpoint string, hc curveHostile, client cert.KeyPair) (after []byte, closed bool, err error) {
	t.Helper()
	m, merr := mechanism.CurveClient(docServer(t).Public, client)
	if merr != nil {
		t.Fatal(merr)
	}
	// No metadata, as libzmq's test tools send none; a fixed Rand so both
	// servers get the same HELLO.
	hs, herr := m.NewHandshake(mechanism.Params{Rand: seededRand([32]byte{'h', 'o', 's', 't', 'i', 'l', 'e'})})
	if herr != nil {
		t.Fatal(herr)
	}
	hello, herr := hs.Start(t.Context())
	if herr != nil || len(hello) != 1 {
		t.Fatalf("HELLO: %v", herr)
	}
	raw := dialRaw(t, endpoint)
	raw.write(greetingCurve30())
	raw.readFull(64)
	sent := hello[0].Append(nil)
	if hc.initiate {
		raw.write(commandFrame(hello[0]))
		welcome := raw.readCommand()
		if welcome.Name != "WELCOME" {
			t.Fatalf("server answered HELLO with %q", welcome.Name)
		}
		out, herr := hs.Handle(t.Context(), welcome)
		if herr != nil || len(out) != 1 || out[0].Name != "INITIATE" {
			t.Fatalf("INITIATE: %v", herr)
		}
		sent = out[0].Append(nil)
	}
	raw.write(bodyFrame(hc.body(sent)))
	return raw.readRest(time.Second)
}

// 9-15: malformed HELLO and INITIATE from a raw client. Both servers must
// close without a byte (no ERROR); libzmq reports the protocol error its own
// test expects, and ours returns the typed error.
func TestCurveSecurityHostileCommands(t *testing.T) {
	t.Parallel()
	valid := testkeys.New(t)
	for _, hc := range curveHostileCases {
		t.Run(hc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("ours", func(t *testing.T) {
				t.Parallel()
				srv, auth := curveOurFixture(t, curveFixtureRoutingID, valid.Public)
				after, closed, err := curveRunHostile(t, srv.endpoint, hc, valid)
				if !closed || len(after) != 0 {
					t.Errorf("our server: raw client read %x (closed %v, %v); want a close and no bytes (no ERROR)", after, closed, err)
				}
				a := srv.next(3 * time.Second)
				if !hc.ours(a.err) {
					t.Errorf("our server's error = %v; want %s", a.err, hc.want)
				}
				if auth.calls.Load() != 0 {
					t.Errorf("ZAP asked %d times; want 0", auth.calls.Load())
				}
			})
			t.Run("libzmq", func(t *testing.T) {
				t.Parallel()
				_, srv, mon, zh, ep := curveLibFixture(t, valid.Public)
				after, closed, err := curveRunHostile(t, ep, hc, valid)
				if !closed || len(after) != 0 {
					t.Errorf("libzmq server: raw client read %x (closed %v, %v); want a close and no bytes", after, closed, err)
				}
				e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, time.Second)
				if !ok || e.Value != hc.libzmqEvent {
					t.Errorf("libzmq server monitor: %v; want HANDSHAKE_FAILED_PROTOCOL %#x", seen, hc.libzmqEvent)
				}
				if zh.calls.Load() != 0 {
					t.Errorf("libzmq ZAP asked %d times", zh.calls.Load())
				}
				expectNothing(t, srv, 50*time.Millisecond)
			})
		})
	}
}

// 17. test_curve_security_invalid_keysize: libzmq refuses a 123-byte key
// option with EINVAL; our key parser refuses 123 characters.
func TestCurveSecurityInvalidKeySize(t *testing.T) {
	t.Parallel()
	lib := newZMQLib(t)
	s := lib.socket(zmq.DEALER)
	bad := strings.Repeat("0", 123)
	for name, set := range map[string]func(string) error{
		"SERVERKEY": s.SetCurveServerkey, "PUBLICKEY": s.SetCurvePublickey, "SECRETKEY": s.SetCurveSecretkey,
	} {
		if err := set(bad); zmq.AsErrno(err) != zmq.Errno(22) {
			t.Errorf("libzmq ZMQ_CURVE_%s with 123 bytes: %v; want EINVAL", name, err)
		}
	}
	if _, err := cert.ParsePublicKey(bad); err == nil {
		t.Error("cert.ParsePublicKey accepted 123 characters")
	}
	if _, err := cert.ParseSecretKey(bad); err == nil {
		t.Error("cert.ParseSecretKey accepted 123 characters")
	}
}

// curveIsClosedOrTimeout reports a handshake that ended because the peer
// closed or went silent.
func curveIsClosedOrTimeout(err error) bool {
	var he *transport.HandshakeError
	return curveIsClosed(err) || (errors.As(err, &he) && he.Timeout())
}
