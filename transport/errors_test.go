package transport

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// zapStatus returns a ZAP handler that answers status with text.
func zapStatus(status zap.StatusCode, text string) zap.Handler {
	return zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{Version: zap.Version, RequestID: req.RequestID, StatusCode: status, StatusText: text, UserID: "u"}, nil
	})
}

// bothHandshakes runs a client with ccfg and a server with scfg on a TCP
// loopback pair and returns both results.
func bothHandshakes(t *testing.T, ccfg, scfg *Config) (cerr, serr error) {
	t.Helper()
	a, b := tcpConns(t)
	c, s := Client(a, ccfg), Server(b, scfg)
	defer c.Close()
	defer s.Close()
	sc, cc := handshakeAsync(s), handshakeAsync(c)
	return recvErr(t, cc, 10*time.Second), recvErr(t, sc, 10*time.Second)
}

func mustMech(m mechanism.Mechanism, err error) mechanism.Mechanism {
	if err != nil {
		panic(err)
	}
	return m
}

// checkSaidOnce fails if msg says the package prefix, "handshake failed"
// or the step's name more than once.
func checkSaidOnce(t *testing.T, msg string, step HandshakeStep) {
	t.Helper()
	for _, s := range []string{"transport: ", "handshake failed", "timed out", " in " + step.String()} {
		if n := strings.Count(msg, s); n > 1 {
			t.Errorf("%q says %q %d times", msg, s, n)
		}
	}
}

// TestHandshakeErrorStrings: each failure path of the handshake gives one
// exact message that says the prefix once and the step once, names the
// step with a HandshakeStep, and says what to check where we can tell.
func TestHandshakeErrorStrings(t *testing.T) {
	checkGoroutines(t)
	srv, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, _ := cert.GenerateKeyPair(nil)
	other, _ := cert.GenerateKeyPair(nil)
	curveServer := func(h zap.Handler) *Config {
		return &Config{Mechanism: mustMech(mechanism.CurveServer(srv)), SocketType: zmtp.ROUTER, ZAPHandler: h}
	}
	curveClient := func(server cert.PublicKey) *Config {
		return &Config{Mechanism: mustMech(mechanism.CurveClient(server, cli)), SocketType: zmtp.DEALER}
	}
	plainClient := &Config{Mechanism: mustMech(mechanism.PlainClient("admin", "wrong")), SocketType: zmtp.DEALER}
	plainServer := func(h zap.Handler) *Config {
		return &Config{Mechanism: mechanism.PlainServer(), SocketType: zmtp.ROUTER, ZAPHandler: h}
	}
	null := func(st zmtp.SocketType) *Config { return &Config{SocketType: st} }

	type side struct {
		step  HandshakeStep
		msg   string // exact; a trailing "…" means a prefix; "" means success; "-" is not checked
		check func(error) bool
	}
	isRefused := func(status zap.StatusCode) func(error) bool {
		return func(err error) bool {
			var re *ServerRefusedError
			var pe *mechanism.PeerError
			return errors.As(err, &re) && re.Status == status && errors.As(err, &pe) && pe.Status() == status
		}
	}
	isAuth := func(status zap.StatusCode) func(error) bool {
		return func(err error) bool {
			var ae *mechanism.AuthError
			return errors.As(err, &ae) && ae.Status == status
		}
	}
	tests := []struct {
		name           string
		client, server *Config
		c, s           side
	}{
		{"mechanism mismatch", null(zmtp.DEALER), plainServer(zapStatus(200, "OK")),
			side{StepGreeting, `transport: handshake failed in greeting: peer uses mechanism "PLAIN", we use NULL`, isIs(mechanism.ErrMechanismMismatch)},
			side{StepGreeting, `transport: handshake failed in greeting: peer uses mechanism "NULL", we use PLAIN`, isIs(mechanism.ErrMechanismMismatch)}},
		{"socket type", null(zmtp.DEALER), null(zmtp.PUB),
			side{StepSocketType, `transport: handshake failed in socket type check: a DEALER socket cannot talk to a peer of type "PUB"`, isSocketType(zmtp.DEALER, zmtp.PUB)},
			side{StepSocketType, `transport: handshake failed in socket type check: a PUB socket cannot talk to a peer of type "DEALER"`, isSocketType(zmtp.PUB, zmtp.DEALER)}},
		{"PLAIN refused", plainClient, plainServer(zapStatus(400, "bad password")),
			side{StepAuthentication, `transport: handshake failed in authentication: the server refused our credentials (ZAP status 400): check the username and password`, isRefused(400)},
			side{StepAuthentication, `transport: handshake failed in authentication: mechanism: PLAIN: ZAP refused the peer with status 400 ("bad password")`, isAuth(400)}},
		{"CURVE refused", curveClient(srv.Public), curveServer(zapStatus(400, "unknown key")),
			side{StepAuthentication, `transport: handshake failed in authentication: the server refused our credentials (ZAP status 400): check that the server allows our public key (the client certificate)`, isRefused(400)},
			side{StepAuthentication, `transport: handshake failed in authentication: mechanism: CURVE: ZAP refused the peer with status 400 ("unknown key")`, isAuth(400)}},
		{"NULL refused", null(zmtp.DEALER), &Config{SocketType: zmtp.ROUTER, ZAPDomain: "d", ZAPHandler: zapStatus(400, "not from there")},
			side{StepAuthentication, `transport: handshake failed in authentication: the server refused our credentials (ZAP status 400): check that the server allows our address and ZAP domain`, isRefused(400)},
			side{StepAuthentication, `transport: handshake failed in authentication: mechanism: NULL: ZAP refused the peer with status 400 ("not from there")`, isAuth(400)}},
		{"ZAP 500", plainClient, plainServer(zapStatus(500, "db down")),
			side{StepAuthentication, `transport: handshake failed in authentication: the server could not authenticate us (ZAP status 500): its ZAP handler failed or timed out; check the server`, isRefused(500)},
			side{StepAuthentication, `transport: handshake failed in authentication: mechanism: PLAIN: ZAP refused the peer with status 500 ("db down")`, isAuth(500)}},
		{"ZAP timeout", plainClient, &Config{Mechanism: mechanism.PlainServer(), SocketType: zmtp.ROUTER, HandshakeTimeout: 300 * time.Millisecond,
			ZAPHandler: zap.HandlerFunc(func(ctx context.Context, _ *zap.Request) (*zap.Reply, error) { <-ctx.Done(); return nil, ctx.Err() })},
			side{StepAuthentication, `transport: handshake failed in authentication: the server could not authenticate us (ZAP status 500): its ZAP handler failed or timed out; check the server`, isRefused(500)},
			side{StepAuthentication, `transport: handshake failed in authentication: mechanism: PLAIN: ZAP refused the peer with status 500: zap: handler failed: ZAP handler did not answer in time`,
				func(err error) bool {
					return isAuth(500)(err) && errors.Is(err, ErrZAPTimeout) && errors.Is(err, ErrHandshakeTimeout)
				}}},
		{"CURVE wrong server key", curveClient(other.Public), curveServer(nil),
			side{StepSecurity, `transport: handshake failed in security handshake: peer closed the connection; check the server's public key: a CURVE server that cannot open our HELLO closes without sending ERROR (EOF)`,
				func(err error) bool { return errors.Is(err, ErrPeerClosed) && errors.Is(err, io.EOF) }},
			side{StepSecurity, `transport: handshake failed in security handshake: mechanism: CURVE HELLO…`, isIs(mechanism.ErrDecrypt)}},
		{"VerifyConnection", null(zmtp.DEALER), &Config{SocketType: zmtp.ROUTER, VerifyConnection: func(ConnectionState) error { return errors.New("not on the list") }},
			side{},
			side{StepVerify, `transport: handshake failed in VerifyConnection: not on the list`, nil}},
		{"config", &Config{}, null(zmtp.ROUTER),
			side{StepConfig, `transport: invalid config: no SocketType: set it to the pattern's socket type (zmtp.DEALER, zmtp.ROUTER, ...)`, isIs(ErrConfig)},
			side{msg: "-"}}, // the server sees EOF or a reset
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cerr, serr := bothHandshakes(t, tt.client, tt.server)
			for _, r := range []struct {
				who  string
				err  error
				want side
			}{{"client", cerr, tt.c}, {"server", serr, tt.s}} {
				checkErrorString(t, r.who, r.err, r.want.step, r.want.msg, r.want.check)
			}
		})
	}
}

// checkErrorString checks a handshake's err against the step and message
// (exact, or a prefix if it ends in "…") and check.
func checkErrorString(t *testing.T, who string, err error, step HandshakeStep, msg string, check func(error) bool) {
	t.Helper()
	if msg == "-" {
		return
	}
	if msg == "" {
		if err != nil {
			t.Errorf("%s: %v, want success", who, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: success, want %q", who, msg)
		return
	}
	got := err.Error()
	if p, ok := strings.CutSuffix(msg, "…"); ok {
		if !strings.HasPrefix(got, p) {
			t.Errorf("%s: Error() = %q, want prefix %q", who, got, p)
		}
	} else if got != msg {
		t.Errorf("%s: Error() =\n%q, want\n%q", who, got, msg)
	}
	var he *HandshakeError
	if !errors.As(err, &he) || he.Step != step {
		t.Errorf("%s: %#v, want a *HandshakeError in step %v", who, err, step)
	}
	if check != nil && !check(err) {
		t.Errorf("%s: %v does not match its typed error", who, err)
	}
	checkSaidOnce(t, got, step)
}

// TestHandshakeErrorStringsRawPeer: the failure paths that need a peer
// breaking the protocol.
func TestHandshakeErrorStringsRawPeer(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		c, _ := rawPeer(t, tcpConns, true, &Config{SocketType: zmtp.DEALER, HandshakeTimeout: 50 * time.Millisecond})
		err := recvErr(t, handshakeAsync(c), 5*time.Second)
		checkErrorString(t, "client", err, StepGreeting, `transport: handshake timed out in greeting`, isIs(ErrHandshakeTimeout))
	})
	t.Run("closed in greeting", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, true, &Config{SocketType: zmtp.DEALER})
		errc := handshakeAsync(c)
		r.read(64)
		r.close()
		checkErrorString(t, "client", recvErr(t, errc, 5*time.Second), StepGreeting,
			`transport: handshake failed in greeting: peer closed the connection; is it a ZMTP 3 peer, and does it accept connections on this endpoint? (EOF)`,
			func(err error) bool { return errors.Is(err, ErrPeerClosed) && errors.Is(err, io.EOF) })
	})
	t.Run("bad greeting", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, false, &Config{SocketType: zmtp.ROUTER})
		errc := handshakeAsync(c)
		r.send(greetingMech([]byte("null")))
		checkErrorString(t, "server", recvErr(t, errc, 5*time.Second), StepGreeting,
			`transport: handshake failed in greeting: zmtp: malformed greeting: …`, isMalformedErr)
	})
	t.Run("peer ERROR", func(t *testing.T) {
		c, r := rawPeer(t, tcpConns, true, &Config{SocketType: zmtp.DEALER})
		errc := handshakeAsync(c)
		r.send(greetingBytes(3, 1, "NULL"), commandFrame(zmtp.AppendError(nil, "nope")))
		checkErrorString(t, "client", recvErr(t, errc, 5*time.Second), StepSecurity,
			`transport: handshake failed in security handshake: mechanism: NULL: peer sent ERROR "nope"`,
			func(err error) bool { var pe *mechanism.PeerError; return errors.As(err, &pe) && pe.Reason == "nope" })
	})
	t.Run("not started", func(t *testing.T) {
		err := &HandshakeError{Step: StepStart, Err: errNotStarted}
		checkErrorString(t, "server", err, StepStart,
			`transport: handshake not started within the handshake timeout after Accept: context deadline exceeded`, isIs(context.DeadlineExceeded))
	})
}

// TestHandshakeStepString: every step has a name.
func TestHandshakeStepString(t *testing.T) {
	seen := map[string]bool{}
	for s := StepConfig; s <= StepAdmission; s++ {
		name := s.String()
		if strings.HasPrefix(name, "HandshakeStep(") || seen[name] {
			t.Errorf("step %d: name %q", s, name)
		}
		seen[name] = true
	}
	if got := HandshakeStep(0).String(); got != "HandshakeStep(0)" {
		t.Errorf("HandshakeStep(0) = %q", got)
	}
}

func TestTrimPrefix(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"transport: a", "a"},
		{"a: transport: b", "a: b"},
		{"a (transport: b)", "a (b)"},
		{"mechanism: x: zap: y: transport: z", "mechanism: x: zap: y: z"},
		{`peer sent ERROR "a: transport: b"`, `peer sent ERROR "a: transport: b"`},
		{`peer sent "\"transport: " then: transport: c`, `peer sent "\"transport: " then: c`},
		{"atransport: b", "atransport: b"},
		{"no prefix", "no prefix"},
	} {
		if got := trimPrefix(tt.in); got != tt.want {
			t.Errorf("trimPrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
