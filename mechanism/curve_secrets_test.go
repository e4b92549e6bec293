package mechanism

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// helloKeyOffset is where C' sits in HELLO data: version (2), padding (72).
const helloKeyOffset = 2 + helloPaddingLen

// twin returns k with bit 255 flipped: the same X25519 key, spelled
// differently.
func twin(k [32]byte) [32]byte {
	k[31] ^= 0x80
	return k
}

// wantCurveErr fails t unless err is a *CurveError for command wrapping
// target.
func wantCurveErr(t *testing.T, err error, command string, target error) {
	t.Helper()
	var ce *CurveError
	if !errors.Is(err, target) || !errors.As(err, &ce) || ce.Command != command {
		t.Fatalf("error %v; want a *CurveError for %s wrapping %v", err, command, target)
	}
}

// TestCurveServerRefusesNonCanonicalHello: a HELLO whose C' has bit 255 set
// is refused, though its box opens (X25519 ignores the bit); unchanged, the
// same HELLO gets a WELCOME.
func TestCurveServerRefusesNonCanonicalHello(t *testing.T) {
	ctx := context.Background()
	for _, flip := range []bool{false, true} {
		ch, sh := newCurvePair(t, nil)
		hello, err := ch.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if flip {
			hello[0].Data[helloKeyOffset+31] |= 0x80
		}
		sh.Start(ctx)
		out, err := sh.Handle(ctx, roundTrip(t, hello[0]))
		if !flip {
			if err != nil || len(out) != 1 || out[0].Name != zmtp.CmdWelcome {
				t.Fatalf("canonical C': %v, %v", out, err)
			}
			continue
		}
		wantCurveErr(t, err, zmtp.CmdHello, ErrNonCanonicalKey)
		if len(out) != 0 {
			t.Errorf("refused HELLO answered with %v", out)
		}
		if !errors.Is(err, cert.ErrNonCanonicalKey) {
			t.Errorf("%v does not match cert.ErrNonCanonicalKey", err)
		}
		if want := "mechanism: CURVE HELLO: public key is not canonical"; err.Error() != want {
			t.Errorf("error text %q, want %q", err, want)
		}
	}
}

// TestCurveServerRefusesTwinClientKey: a client that holds the secret of C
// and presents C with bit 255 set in INITIATE (its vouch opens, since X25519
// ignores the bit) is refused before ZAP is asked, so ZAP only ever sees
// one key for one secret.
func TestCurveServerRefusesTwinClientKey(t *testing.T) {
	srv := testkeys.FromZ85(t, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	real, err := CurveClient(srv.Public, cli)
	if err != nil {
		t.Fatal(err)
	}
	// CurveClient refuses a key pair whose public key is not the one the
	// secret derives, so the twin is set up by hand.
	evil := *real.(*curveClient)
	evil.public = cert.PublicKey(twin(cli.Public))
	sm, err := CurveServer(srv)
	if err != nil {
		t.Fatal(err)
	}
	var seen []cert.PublicKey
	deny := zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		k := cert.PublicKey(r.Credentials[0])
		seen = append(seen, k)
		if k == cli.Public { // deny by key
			return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
		}
		return &zap.Reply{StatusCode: zap.StatusOK}, nil
	})
	md := zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}}
	for _, m := range []Mechanism{real, &evil} {
		ch, _ := m.NewHandshake(Params{Metadata: md})
		sh, _ := sm.NewHandshake(Params{Metadata: md, ZAP: deny})
		_, serr := pump(t, ch, sh)
		if m == real {
			var ae *AuthError
			if !errors.As(serr, &ae) || ae.Status != zap.StatusAuthenticationError {
				t.Fatalf("the denied key: %v, want a 400 from ZAP", serr)
			}
			continue
		}
		wantCurveErr(t, serr, zmtp.CmdInitiate, ErrNonCanonicalKey)
		if sh.Done() {
			t.Fatal("server done with the twin key")
		}
	}
	if len(seen) != 1 || seen[0] != cli.Public {
		t.Errorf("ZAP saw keys %v; want only the canonical %v", seen, cli.Public)
	}
}

// welcomeWith builds the WELCOME a server with secret s would send to the
// client whose HELLO is hello, with sPrime as S' and a random cookie.
func welcomeWith(t *testing.T, s cert.SecretKey, hello zmtp.Command, sPrime [32]byte) zmtp.Command {
	t.Helper()
	priv, err := parseKeyPair(cert.KeyPair{Public: mustPublic(t, s), Secret: s})
	if err != nil {
		t.Fatal(err)
	}
	cPrime := [32]byte(hello.Data[helloKeyOffset : helloKeyOffset+32])
	k, err := box.Shared(priv, &cPrime)
	if err != nil {
		t.Fatal(err)
	}
	var plain [keyLen + cookieLen]byte
	copy(plain[:], sPrime[:])
	rand.Read(plain[keyLen:])
	var nonce [16]byte
	rand.Read(nonce[:])
	data := box.Seal(append([]byte(nil), nonce[:]...), plain[:], longNonce(nonceWelcome, nonce[:]), &k)
	return zmtp.Command{Name: zmtp.CmdWelcome, Data: data}
}

func mustPublic(t *testing.T, s cert.SecretKey) cert.PublicKey {
	t.Helper()
	p, err := s.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCurveClientRefusesNonCanonicalWelcome: a WELCOME whose S' is not
// canonical is refused; the same WELCOME with the canonical S' is answered
// with INITIATE. A non-canonical server key is refused by CurveClient.
func TestCurveClientRefusesNonCanonicalWelcome(t *testing.T) {
	ctx := context.Background()
	srv := testkeys.FromZ85(t, docServerPublic, docServerSecret)
	sPrime, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, flip := range []bool{false, true} {
		ch, _ := newCurvePair(t, nil)
		hello, err := ch.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		key := [32]byte(sPrime.Public)
		if flip {
			key = twin(key)
		}
		out, err := ch.Handle(ctx, welcomeWith(t, srv.Secret, hello[0], key))
		if !flip {
			if err != nil || len(out) != 1 || out[0].Name != zmtp.CmdInitiate {
				t.Fatalf("canonical S': %v, %v", out, err)
			}
			continue
		}
		wantCurveErr(t, err, zmtp.CmdWelcome, ErrNonCanonicalKey)
		if len(out) != 0 {
			t.Errorf("refused WELCOME answered with %v", out)
		}
	}

	cli := testkeys.FromZ85(t, docClientPublic, docClientSecret)
	_, err = CurveClient(cert.PublicKey(twin(srv.Public)), cli)
	if !errors.Is(err, ErrNonCanonicalKey) {
		t.Fatalf("CurveClient with a twin server key: %v", err)
	}
	if want := "mechanism: CURVE client: server key: public key is not canonical"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

// clientSecrets reports which secrets h still holds.
func clientSecrets(h *curveClientHandshake) []string {
	var held []string
	if h.cPrime != nil {
		held = append(held, "c'")
	}
	if !isZero(h.helloKey[:]) {
		held = append(held, "(c', S)")
	}
	if !isZero(h.msgKey[:]) {
		held = append(held, "(c', S')")
	}
	if !isZero(h.scratch[:]) {
		held = append(held, "randomness (c')")
	}
	return held
}

// serverSecrets reports which secrets h still holds.
func serverSecrets(h *curveServerHandshake) []string {
	var held []string
	if h.sPrime != nil {
		held = append(held, "s'")
	}
	if !isZero(h.helloKey[:]) {
		held = append(held, "(s, C')")
	}
	if !isZero(h.cookieKey[:]) {
		held = append(held, "K")
	}
	if !isZero(h.msgKey[:]) {
		held = append(held, "(s', C')")
	}
	if !isZero(h.scratch[:]) {
		held = append(held, "randomness (s', K)")
	}
	return held
}

// TestCurveCloseForgetsSecrets drives a CURVE handshake to each point where
// it can end (EOF or timeout while waiting, a failure, success) and checks
// that after Close the handshake holds no secret, that it did hold some
// before (so the check means something), and that it stays closed.
func TestCurveCloseForgetsSecrets(t *testing.T) {
	ctx := context.Background()
	type step int
	const (
		notStarted   step = iota
		afterHello        // client waits for WELCOME; server has not seen HELLO
		afterWelcome      // client waits for READY after INITIATE; server waits for INITIATE
		badInitiate       // server refuses an INITIATE with a wrong cookie
		badWelcome        // client refuses a WELCOME that does not open
		zapRefused        // server refuses through ZAP
		done              // both done; Session taken
	)
	names := []string{"not started", "after HELLO", "after WELCOME", "bad INITIATE", "bad WELCOME", "ZAP refused", "done"}
	for s := notStarted; s <= done; s++ {
		t.Run(names[s], func(t *testing.T) {
			var zh zap.Handler
			if s == zapRefused {
				zh = zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
					return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
				})
			}
			chs, shs := newCurvePair(t, zh)
			c, sv := chs.(*curveClientHandshake), shs.(*curveServerHandshake)
			var sess []Session
			switch s {
			case afterHello:
				c.Start(ctx)
				sv.Start(ctx)
			case afterWelcome, badInitiate, badWelcome:
				hello, _ := c.Start(ctx)
				sv.Start(ctx)
				welcome, err := sv.Handle(ctx, roundTrip(t, hello[0]))
				if err != nil {
					t.Fatal(err)
				}
				if s == badWelcome {
					welcome[0].Data[40] ^= 1
					if _, err := c.Handle(ctx, welcome[0]); !errors.Is(err, ErrDecrypt) {
						t.Fatalf("bad WELCOME: %v", err)
					}
					break
				}
				initiate, err := c.Handle(ctx, roundTrip(t, welcome[0]))
				if err != nil {
					t.Fatal(err)
				}
				if held := serverSecrets(sv); len(held) != 2 {
					t.Fatalf("server waiting for INITIATE holds %v; want s' and K", held)
				}
				if held := clientSecrets(c); len(held) != 1 {
					t.Fatalf("client waiting for READY holds %v; want (c', S')", held)
				}
				if s == badInitiate {
					initiate[0].Data[20] ^= 1
					if _, err := sv.Handle(ctx, initiate[0]); !errors.Is(err, ErrCookie) {
						t.Fatalf("bad INITIATE: %v", err)
					}
				}
			case zapRefused, done:
				cerr, serr := pump(t, c, sv)
				if s == done && (cerr != nil || serr != nil) {
					t.Fatal(cerr, serr)
				}
				if s == zapRefused && !errors.As(serr, new(*AuthError)) {
					t.Fatalf("ZAP refusal: %v", serr)
				}
				if s == done {
					sess = []Session{c.Session(), sv.Session()}
				}
			}
			if s == afterHello {
				if held := clientSecrets(c); len(held) != 2 {
					t.Fatalf("client waiting for WELCOME holds %v; want c' and (c', S)", held)
				}
			}
			c.Close()
			sv.Close()
			c.Close() // twice is fine
			if held := clientSecrets(c); len(held) != 0 {
				t.Errorf("client holds %v after Close", held)
			}
			if held := serverSecrets(sv); len(held) != 0 {
				t.Errorf("server holds %v after Close", held)
			}
			for _, h := range []Handshake{c, sv} {
				_, err := h.Handle(ctx, zmtp.Command{Name: zmtp.CmdReady})
				if err == nil || (s <= afterWelcome && !errors.Is(err, ErrClosed)) {
					t.Errorf("Handle after Close: %v", err)
				}
			}
			if s != done {
				return
			}
			// The session keys were handed over: Close leaves them to the
			// Sealer and Opener, whose Close zeroes them.
			for _, se := range sess {
				sealer, opener := curveSealer(se), curveOpener(se)
				if isZero(sealer.key[:]) || isZero(opener.key[:]) {
					t.Fatal("handshake Close zeroed the session's keys")
				}
				se.Sealer.Close()
				se.Opener.Close()
				if !isZero(sealer.key[:]) || !isZero(opener.key[:]) {
					t.Error("Sealer/Opener Close left the session key")
				}
			}
		})
	}
}

// TestPlainClientCloseZeroesHello: the HELLO a PLAIN client built holds the
// password; Close zeroes it.
func TestPlainClientCloseZeroesHello(t *testing.T) {
	m, err := PlainClient("admin", "secret")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := m.NewHandshake(Params{})
	out, err := h.Start(context.Background())
	if err != nil || !bytes.Contains(out[0].Data, []byte("secret")) {
		t.Fatalf("HELLO %v, %v", out, err)
	}
	h.Close()
	if !isZero(out[0].Data) {
		t.Errorf("HELLO data %q after Close; want zeroes", out[0].Data)
	}
}
