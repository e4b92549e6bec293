package mechanism

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Public test keys from libzmq (docs/wire-format.md#published-test-keys).
const (
	docServerPublic    = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	docServerSecret    = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	docClientPublic    = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	docClientSecret    = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
	fuzzerClientSecret = "N?Gmik8R[2ACw{b7*[-$S6[4}aO#?DB?#=<OQPc7"
)

// pump runs a client and a server handshake against each other, returning
// the first error of either side.
func pump(t testing.TB, c, s Handshake) (clientErr, serverErr error) {
	t.Helper()
	ctx := context.Background()
	toServer, clientErr := c.Start(ctx)
	toClient, serverErr := s.Start(ctx)
	for i := 0; i < 10 && clientErr == nil && serverErr == nil && !(c.Done() && s.Done()); i++ {
		var next []zmtp.Command
		for _, cmd := range toServer {
			var out []zmtp.Command
			out, serverErr = s.Handle(ctx, roundTrip(t, cmd))
			next = append(next, out...)
			if serverErr != nil {
				break
			}
		}
		toServer = nil
		for _, cmd := range append(toClient, next...) {
			var out []zmtp.Command
			out, clientErr = c.Handle(ctx, roundTrip(t, cmd))
			toServer = append(toServer, out...)
			if clientErr != nil {
				break
			}
		}
		toClient = nil
	}
	return clientErr, serverErr
}

// roundTrip encodes and re-parses a command, as the wire would.
func roundTrip(t testing.TB, cmd zmtp.Command) zmtp.Command {
	t.Helper()
	got, err := zmtp.ParseCommand(cmd.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func newCurvePair(t testing.TB, zh zap.Handler) (Handshake, Handshake) {
	t.Helper()
	srv := testkeys.FromZ85(t, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	cm, err := CurveClient(srv.Public, cli)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := CurveServer(srv)
	if err != nil {
		t.Fatal(err)
	}
	md := zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}}
	ch, _ := cm.NewHandshake(Params{Metadata: md})
	sh, _ := sm.NewHandshake(Params{Metadata: md, ZAP: zh})
	return ch, sh
}

func TestCurveHandshakeAndMessages(t *testing.T) {
	var asked *zap.Request
	ch, sh := newCurvePair(t, zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		asked = r
		return &zap.Reply{StatusCode: zap.StatusOK, UserID: "alice"}, nil
	}))
	if cerr, serr := pump(t, ch, sh); cerr != nil || serr != nil {
		t.Fatalf("client %v, server %v", cerr, serr)
	}
	if !ch.Done() || !sh.Done() {
		t.Fatal("not done")
	}
	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	if asked == nil || asked.Mechanism != "CURVE" || len(asked.Credentials) != 1 || !bytes.Equal(asked.Credentials[0], cli.Public[:]) {
		t.Fatalf("ZAP request %+v", asked)
	}
	cs, ss := ch.Session(), sh.Session()
	if *ss.PeerPublicKey != cli.Public || ss.ZAP.UserID != "alice" {
		t.Fatal("server session")
	}
	// Client to server: nonces start at 3 (HELLO 1, INITIATE 2).
	for i, payload := range [][]byte{{}, []byte("a"), bytes.Repeat([]byte("z"), 300)} {
		body, err := cs.Sealer.Seal(nil, MessageMore, payload)
		if err != nil {
			t.Fatal(err)
		}
		if got := body[8:16]; !bytes.Equal(got, []byte{0, 0, 0, 0, 0, 0, 0, byte(3 + i)}) {
			t.Fatalf("nonce %x", got)
		}
		if len(body) != SealedSize(len(payload)) {
			t.Fatalf("size %d", len(body))
		}
		flags, got, err := ss.Opener.Open(nil, body)
		if err != nil || flags != MessageMore || !bytes.Equal(got, payload) {
			t.Fatalf("open: %v %x %q", err, flags, got)
		}
		if _, _, err := ss.Opener.Open(nil, body); !errors.Is(err, ErrNonceReplay) {
			t.Fatalf("replay: %v", err)
		}
	}
	// Server to client: READY was 1, so messages start at 2.
	body, _ := ss.Sealer.Seal(nil, 0, []byte("x"))
	if body[15] != 2 {
		t.Fatalf("server nonce %x", body[8:16])
	}
	body[len(body)-1] ^= 1
	if _, _, err := cs.Opener.Open(nil, body); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("flipped: %v", err)
	}
}

func TestCurveZAPRefusal(t *testing.T) {
	ch, sh := newCurvePair(t, zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
	}))
	cerr, serr := pump(t, ch, sh)
	var ae *AuthError
	if !errors.As(serr, &ae) || ae.Status != 400 {
		t.Fatalf("server: %v", serr)
	}
	var pe *PeerError
	if !errors.As(cerr, &pe) || pe.Status() != 400 {
		t.Fatalf("client: %v", cerr)
	}
}

// scripted is a Rand that returns its bytes in order.
type scripted struct{ r io.Reader }

func (s scripted) Read(p []byte) (int, error) { return io.ReadFull(s.r, p) }

// TestCurveHelloKnownAnswer checks our HELLO against the vector of
// docs/wire-format.md#curve-hello-known-answer, which was checked against
// libsodium: transient secret = the libzmq fuzzer client secret, server =
// the libzmq doc server key, short nonce 1.
func TestCurveHelloKnownAnswer(t *testing.T) {
	srv := testkeys.FromZ85(t, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	transient, err := cert.ParseSecretKey(fuzzerClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := CurveClient(srv.Public, cli)
	h, _ := m.NewHandshake(Params{Rand: scripted{bytes.NewReader(transient.Bytes())}})
	out, err := h.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body := out[0].Append(nil)
	if len(body) != 200 {
		t.Fatalf("HELLO of %d bytes", len(body))
	}
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); got != "46c8b9e147a0d6cbd40fd9e96a27196a47edc4bb02b76911271ae415652dd7f2" {
		t.Fatalf("HELLO sha256 %s\n%x", got, body)
	}
	wantBox := "47fe19ae76bb75404e2a4e5c462c0aaeab1e942a44c74755ef61a9b0d29a4d37f942d3893b6c3f36e10010c32d9246be38b466efe76e2eae49430910bc0baececf7a652d67ee3f08c803b86c80aa4afa"
	if got := hex.EncodeToString(body[120:]); got != wantBox {
		t.Fatalf("signature box %s", got)
	}
}

// TestCurveSessionOnce: every Session call returns the same Sealer, so two
// callers can never seal with the same nonce under the same key.
func TestCurveSessionOnce(t *testing.T) {
	ch, sh := newCurvePair(t, nil)
	if cerr, serr := pump(t, ch, sh); cerr != nil || serr != nil {
		t.Fatal(cerr, serr)
	}
	for _, h := range []Handshake{ch, sh} {
		a, b := h.Session(), h.Session()
		if a.Sealer != b.Sealer || a.Opener != b.Opener {
			t.Fatal("Session built a second Sealer/Opener")
		}
	}
	x, _ := ch.Session().Sealer.Seal(nil, 0, []byte("x"))
	y, _ := ch.Session().Sealer.Seal(nil, 0, []byte("y"))
	if bytes.Equal(x[8:16], y[8:16]) {
		t.Fatal("nonce reused")
	}
}

// curveSealer and curveOpener return the CURVE Sealer and Opener of a
// CURVE session, which the Session holds as interfaces.
func curveSealer(s Session) *Sealer { return s.Sealer.(*Sealer) }
func curveOpener(s Session) *Opener { return s.Opener.(*Opener) }
