package mechanism

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var errDBDown = errors.New("db down")

// checkSaysOnce fails t if msg says a package prefix or the mechanism's
// name more than once.
func checkSaysOnce(t *testing.T, msg string) {
	t.Helper()
	for _, p := range []string{"mechanism: ", "zap: ", "zmtp: ", "CURVE", "PLAIN", "NULL"} {
		if n := strings.Count(msg, p); n > 1 {
			t.Errorf("%q says %q %d times", msg, p, n)
		}
	}
}

// TestErrorText pins the Error() text of every typed error of the package:
// each says "mechanism: " once, then the mechanism, the command and the
// cause, without repeating any of them.
func TestErrorText(t *testing.T) {
	_, zapFailed := zap.Ask(context.Background(), zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
		return nil, errDBDown
	}), &zap.Request{})
	tests := []struct {
		err  error
		want string
	}{
		{ErrMechanismMismatch, "mechanism: peer uses a different security mechanism"},
		{ErrNotStarted, "mechanism: Handle called before Start"},
		{ErrAlreadyStarted, "mechanism: Start called twice"},
		{ErrClosed, "mechanism: handshake closed"},
		{ErrNoZAPHandler, "mechanism: PLAIN server has no ZAP handler; every client is refused"},
		{ErrDecrypt, "mechanism: CURVE box does not open"},
		{ErrNonceReplay, "mechanism: CURVE nonce not greater than the last one"},
		{ErrNonceExhausted, "mechanism: CURVE nonce counter exhausted"},
		{ErrLowOrderKey, "mechanism: CURVE public key is a low-order point"},
		{ErrNonCanonicalKey, "mechanism: CURVE public key is not canonical"},
		{ErrVouch, "mechanism: CURVE vouch does not match"},
		{ErrCookie, "mechanism: CURVE cookie does not match"},
		{&CurveError{Command: "HELLO", Err: ErrDecrypt}, "mechanism: CURVE HELLO: box does not open"},
		{&CurveError{Command: "INITIATE", Err: ErrNonCanonicalKey}, "mechanism: CURVE INITIATE: public key is not canonical"},
		{&CurveError{Command: "HELLO", Err: randomnessError(io.EOF)}, "mechanism: CURVE HELLO: reading randomness: EOF"},
		{&CurveError{Command: "WELCOME", Err: &zmtp.MalformedError{What: "CURVE WELCOME", Detail: "10 bytes of data, want 160"}},
			"mechanism: CURVE WELCOME: malformed: 10 bytes of data, want 160"},
		{&CurveError{Command: "MESSAGE", Err: &zmtp.MalformedError{What: "MESSAGE", Detail: "not a MESSAGE command"}},
			"mechanism: CURVE MESSAGE: malformed: not a MESSAGE command"},
		{&CurveError{Command: "MESSAGE", Err: fmt.Errorf("mechanism: CURVE oops")}, "mechanism: CURVE MESSAGE: oops"},
		{&setupError{role: "client: server key", err: ErrNonCanonicalKey}, "mechanism: CURVE client: server key: public key is not canonical"},
		{&setupError{role: "server", err: cert.ErrKeyMismatch}, "mechanism: CURVE server: cert: secret key does not match public key"},
		{&UnexpectedCommandError{Mechanism: "PLAIN", Want: []string{"WELCOME", "ERROR"}, Got: "READY"},
			`mechanism: PLAIN: unexpected command "READY", want WELCOME or ERROR`},
		{&UnexpectedCommandError{Mechanism: "NULL", Got: "PING\n"}, `mechanism: NULL: unexpected command "PING\n" after the handshake`},
		{&PeerError{Mechanism: "CURVE", Reason: "400"}, `mechanism: CURVE: peer sent ERROR "400"`},
		{&AuthError{Mechanism: "PLAIN", Status: 400, Text: "bad password"}, `mechanism: PLAIN: ZAP refused the peer with status 400 ("bad password")`},
		{&AuthError{Mechanism: "NULL", Status: 500, Err: zapFailed}, "mechanism: NULL: ZAP refused the peer with status 500: zap: handler failed: db down"},
		{&MetadataError{Mechanism: "NULL", Err: &zmtp.MalformedError{What: "metadata", Detail: "empty property name"}},
			"mechanism: NULL: malformed peer metadata: empty property name"},
		{&MetadataError{Mechanism: "CURVE", Err: &zmtp.TooManyPropertiesError{Count: 9, Limit: 8}},
			"mechanism: CURVE: peer metadata: zmtp: peer sent 9 metadata properties; the limit is 8"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\n           want %q", got, tt.want)
		}
		checkSaysOnce(t, tt.err.Error())
	}
	// The errors keep their causes for errors.Is and errors.As.
	if err := (&CurveError{Command: "WELCOME", Err: &zmtp.MalformedError{What: "CURVE WELCOME"}}); !errors.Is(err, zmtp.ErrMalformed) {
		t.Error("a malformed CurveError does not match zmtp.ErrMalformed")
	}
	if err := (&CurveError{Command: "HELLO", Err: randomnessError(io.EOF)}); !errors.Is(err, io.EOF) {
		t.Error("a randomness CurveError does not match its cause")
	}
}

// failingRand fails after n bytes.
type failingRand struct{ n int }

func (r *failingRand) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("no entropy")
	}
	k := min(len(p), r.n)
	clear(p[:k])
	for i := range p[:k] {
		p[i] = byte(i + 1)
	}
	r.n -= k
	return k, nil
}

// TestCurveRandomnessErrorText: a failing source of randomness reads
// "reading randomness" once, after the mechanism and command, on each of
// the three paths that read it.
func TestCurveRandomnessErrorText(t *testing.T) {
	ctx := context.Background()
	srv := testkeys.FromZ85(t, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	cm, _ := CurveClient(srv.Public, cli)
	sm, _ := CurveServer(srv)

	// HELLO: c' cannot be made.
	h, _ := cm.NewHandshake(Params{Rand: &failingRand{}})
	_, err := h.Start(ctx)
	if want := "mechanism: CURVE HELLO: reading randomness: no entropy"; err == nil || err.Error() != want {
		t.Errorf("HELLO: %v, want %q", err, want)
	}

	// WELCOME: the server makes s' and then fails on K and the nonces.
	ch, _ := cm.NewHandshake(Params{})
	sh, _ := sm.NewHandshake(Params{Rand: &failingRand{n: 32}})
	hello, _ := ch.Start(ctx)
	sh.Start(ctx)
	_, err = sh.Handle(ctx, roundTrip(t, hello[0]))
	if want := "mechanism: CURVE WELCOME: reading randomness: no entropy"; err == nil || err.Error() != want {
		t.Errorf("WELCOME: %v, want %q", err, want)
	}

	// INITIATE: the client makes c' and then fails on the vouch nonce.
	ch, _ = cm.NewHandshake(Params{Rand: &failingRand{n: 32}})
	sh, _ = sm.NewHandshake(Params{})
	hello, _ = ch.Start(ctx)
	sh.Start(ctx)
	welcome, err := sh.Handle(ctx, roundTrip(t, hello[0]))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.Handle(ctx, roundTrip(t, welcome[0]))
	if want := "mechanism: CURVE INITIATE: reading randomness: no entropy"; err == nil || err.Error() != want {
		t.Errorf("INITIATE: %v, want %q", err, want)
	}
}

// TestZAPHandlerErrorSaidOnce: a ZAP handler that fails reads "zap: handler
// failed: db down" once in the handshake's error, also when the handler
// is itself a wrapper that asked the real one through zap.Ask (as a
// transport that bounds handlers may be); the cause stays reachable.
func TestZAPHandlerErrorSaidOnce(t *testing.T) {
	failing := zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) { return nil, errDBDown })
	wrapper := zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		return zap.Ask(ctx, failing, r)
	})
	for _, zh := range []zap.Handler{failing, wrapper} {
		for _, mech := range []string{NullName, PlainName, CurveName} {
			var cerr, serr error
			switch mech {
			case NullName:
				ch, _ := Null().NewHandshake(Params{})
				sh, _ := Null().NewHandshake(Params{ZAP: zh, Domain: "global"})
				cerr, serr = pump(t, ch, sh)
			case PlainName:
				cm, _ := PlainClient("admin", "secret")
				ch, _ := cm.NewHandshake(Params{})
				sh, _ := PlainServer().NewHandshake(Params{ZAP: zh})
				cerr, serr = pump(t, ch, sh)
			case CurveName:
				ch, sh := newCurvePair(t, zh)
				cerr, serr = pump(t, ch, sh)
			}
			want := "mechanism: " + mech + ": ZAP refused the peer with status 500: zap: handler failed: db down"
			if serr == nil || serr.Error() != want {
				t.Errorf("%s server: %v\nwant %q", mech, serr, want)
			}
			if !errors.Is(serr, errDBDown) {
				t.Errorf("%s server: %v does not wrap the handler's error", mech, serr)
			}
			var pe *PeerError
			if mech == NullName {
				continue // this pump stops before delivering what Start refused with
			}
			if !errors.As(cerr, &pe) || pe.Status() != zap.StatusInternalError {
				t.Errorf("%s client: %v, want ERROR 500", mech, cerr)
			}
		}
	}
}

// TestStartTwice: a second Start is a misuse, reported as ErrAlreadyStarted
// by every mechanism on both sides (not as a handshake failure), and then
// sticks like every handshake error.
func TestStartTwice(t *testing.T) {
	ctx := context.Background()
	srv := testkeys.FromZ85(t, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	cc, _ := CurveClient(srv.Public, cli)
	cs, _ := CurveServer(srv)
	pc, _ := PlainClient("u", "p")
	for _, m := range []Mechanism{Null(), pc, PlainServer(), cc, cs} {
		h, err := m.NewHandshake(Params{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Start(ctx); err != nil {
			t.Fatalf("%v: first Start: %v", m, err)
		}
		out, err := h.Start(ctx)
		if !errors.Is(err, ErrAlreadyStarted) || errors.Is(err, ErrHandshakeFailed) || len(out) != 0 {
			t.Errorf("%s (server %v): second Start = %v, %v; want ErrAlreadyStarted", m.Name(), m.AsServer(), out, err)
		}
		if _, again := h.Handle(ctx, zmtp.Command{Name: zmtp.CmdReady}); again != err {
			t.Errorf("%s: Handle after the misuse = %v, want %v again", m.Name(), again, err)
		}
		if h.Done() {
			t.Errorf("%s: done after the misuse", m.Name())
		}
	}
}

// TestErrorCommandIsZMTPs: the ERROR a refusing server sends is encoded by
// zmtp.ErrorCommand, the one encoder of ERROR.
func TestErrorCommandIsZMTPs(t *testing.T) {
	zh := zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
	})
	h, _ := Null().NewHandshake(Params{ZAP: zh, Domain: "d"})
	out, err := h.Start(context.Background())
	if err == nil || len(out) != 1 {
		t.Fatalf("Start = %v, %v", out, err)
	}
	want := zmtp.ErrorCommand("400")
	if out[0].Name != want.Name || !bytes.Equal(out[0].Data, want.Data) || !bytes.Equal(out[0].Append(nil), zmtp.AppendError(nil, "400")) {
		t.Errorf("ERROR %v, want %v", out[0], want)
	}
}
