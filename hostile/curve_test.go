package hostile_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The CURVE attacks: a hand-made CURVE client (rawCurve) that can put any
// key, nonce, cookie or box on the wire, and a hand-made CURVE server for
// the attack on clients. Both follow 26/CurveZMQ with internal/box, and
// share nothing with the mechanism package but the wire format.

// curveAttackRounds is how many connections each attack makes.
const curveAttackRounds = 20

// curveMemBound bounds the heap growth of a CURVE attack: a few
// connections' worth of buffers.
const curveMemBound = 4 << 20

// rawCurve is an attacker's CURVE client on one connection.
type rawCurve struct {
	t      testing.TB
	c      net.Conn
	r      *zmtp.Reader
	server [32]byte         // S
	perm   *ecdh.PrivateKey // c
	permPK [32]byte         // C
	tr     *ecdh.PrivateKey // c'
	trPK   [32]byte         // C'
}

// dialCurve connects from the attacker's address and exchanges greetings.
func dialCurve(t testing.TB, endpoint string, server cert.PublicKey, client cert.KeyPair) *rawCurve {
	t.Helper()
	a := &rawCurve{t: t, c: attacker(t, endpoint), server: server}
	a.r = zmtp.NewReader(a.c)
	a.r.SetMaxFrameSize(1 << 16)
	var err error
	if a.perm, err = ecdh.X25519().NewPrivateKey(client.Secret[:]); err != nil {
		t.Fatal(err)
	}
	a.permPK = client.Public
	if a.tr, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	a.trPK = [32]byte(a.tr.PublicKey().Bytes())
	a.c.SetDeadline(time.Now().Add(3 * time.Second))
	a.write(greeting(mechanism.CurveName, false))
	if _, err := a.r.ReadGreeting(); err != nil {
		t.Fatalf("attacker: reading the server's greeting: %v", err)
	}
	return a
}

func (a *rawCurve) write(b []byte) {
	a.t.Helper()
	if _, err := a.c.Write(b); err != nil {
		a.t.Fatalf("attacker: write: %v", err)
	}
}

// send writes one command.
func (a *rawCurve) send(name string, data []byte) {
	a.t.Helper()
	cmd := zmtp.Command{Name: name, Data: data}
	a.write(zmtp.AppendFrame(nil, zmtp.FlagCommand, cmd.Append(nil)))
}

// read reads one command, or returns the error that ended the connection.
func (a *rawCurve) read() (zmtp.Command, error) {
	f, err := a.r.ReadFrame()
	if err != nil {
		return zmtp.Command{}, err
	}
	return zmtp.ParseCommand(f.Body)
}

func shortNonce(prefix string, n uint64) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	return &nonce
}

func longNonce(prefix string, suffix []byte) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	copy(nonce[8:], suffix)
	return &nonce
}

// shared is box.Shared that fails the test.
func shared(t testing.TB, priv *ecdh.PrivateKey, pub [32]byte) box.Key {
	t.Helper()
	k, err := box.Shared(priv, &pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hello returns HELLO data that names wireKey as C' but is sealed with the
// transient key c' (so it opens if wireKey and C' are the same X25519 key).
func (a *rawCurve) hello(wireKey [32]byte) []byte {
	k := shared(a.t, a.tr, a.server)
	data := append([]byte{1, 0}, make([]byte, 72)...)
	data = append(data, wireKey[:]...)
	data = binary.BigEndian.AppendUint64(data, 1)
	return box.Seal(data, make([]byte, 64), shortNonce("CurveZMQHELLO---", 1), &k)
}

// welcome opens WELCOME: S' and the cookie.
func (a *rawCurve) welcome(cmd zmtp.Command) (sPrime [32]byte, cookie []byte) {
	a.t.Helper()
	if cmd.Name != zmtp.CmdWelcome || len(cmd.Data) != 160 {
		a.t.Fatalf("attacker: want WELCOME, got %q (%d bytes)", cmd.Name, len(cmd.Data))
	}
	k := shared(a.t, a.tr, a.server)
	plain, ok := box.Open(nil, cmd.Data[16:], longNonce("WELCOME-", cmd.Data[:16]), &k)
	if !ok {
		a.t.Fatal("attacker: WELCOME does not open")
	}
	return [32]byte(plain[:32]), plain[32:]
}

// initiate returns INITIATE data with cookie, short nonce 2, and wireKey as
// C, vouched for by the permanent secret c.
func (a *rawCurve) initiate(sPrime [32]byte, cookie []byte, wireKey [32]byte) []byte {
	vk := shared(a.t, a.perm, sPrime)
	vn := make([]byte, 16)
	rand.Read(vn)
	vouch := box.Seal(append([]byte(nil), vn...), append(a.trPK[:], a.server[:]...), longNonce("VOUCH---", vn), &vk)
	inner := append(wireKey[:], vouch...)
	inner = zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("DEALER")}}.Append(inner)
	mk := shared(a.t, a.tr, sPrime)
	data := append([]byte(nil), cookie...)
	data = binary.BigEndian.AppendUint64(data, 2)
	return box.Seal(data, inner, shortNonce("CurveZMQINITIATE", 2), &mk)
}

// twinKey returns k with bit 255 flipped: the same X25519 key.
func twinKey(k [32]byte) [32]byte {
	k[31] ^= 0x80
	return k
}

// wantServerErr waits for the server's next connection error and fails
// unless it wraps target.
func wantServerErr(t *testing.T, s *server, target error) {
	t.Helper()
	if err := s.nextErr(3 * time.Second); !errors.Is(err, target) {
		t.Fatalf("server error %v; want one wrapping %v", err, target)
	}
}

// curveServer starts an echo CURVE server, optionally with a ZAP handler,
// with a short handshake timeout.
func curveServer(t *testing.T, zh zap.Handler) (s *server, ccfg *transport.Config, serverKeys cert.KeyPair) {
	scfg, ccfg, serverKeys, _ := curvePair(t)
	scfg.HandshakeTimeout = 2 * time.Second
	scfg.ZAPHandler = zh
	ccfg.HandshakeTimeout = 2 * time.Second
	return startServer(t, scfg), ccfg, serverKeys
}

// TestCurveNonCanonicalHelloKey: HELLOs whose C' has bit 255 set (they open,
// since X25519 ignores the bit), or is 2^255-10 (the base point spelled
// above the field prime), are refused with ErrNonCanonicalKey.
func TestCurveNonCanonicalHelloKey(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	w := watchMemory()
	// 2^255-10, the base point 9 plus 2^255-19: bit 255 clear, yet not
	// below 2^255-19.
	nine := [32]byte{0xf6}
	for i := 1; i < 31; i++ {
		nine[i] = 0xff
	}
	nine[31] = 0x7f
	for i := range curveAttackRounds {
		a := dialCurve(t, s.endpoint, sk.Public, testkeys.New(t))
		if i%4 == 3 {
			a.send(zmtp.CmdHello, a.hello(nine))
		} else {
			a.send(zmtp.CmdHello, a.hello(twinKey(a.trPK)))
		}
		expectClosed(t, a.c, 3*time.Second)
		wantServerErr(t, s, mechanism.ErrNonCanonicalKey)
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// TestCurveTwinClientKeyCannotEvadeDenyByKey: ZAP denies a client key. The
// client that holds its secret comes back with C's twin (bit 255 set) in
// INITIATE, whose vouch opens: it is refused with ErrNonCanonicalKey before
// ZAP is asked, so ZAP only ever sees one identity for the secret.
func TestCurveTwinClientKeyCannotEvadeDenyByKey(t *testing.T) {
	leakCheck(t)
	denied := testkeys.New(t)
	var mu sync.Mutex
	var seen []cert.PublicKey
	zh := zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		k := cert.PublicKey(r.Credentials[0])
		mu.Lock()
		seen = append(seen, k)
		mu.Unlock()
		if k == denied.Public {
			return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
		}
		return &zap.Reply{StatusCode: zap.StatusOK, UserID: k.String()}, nil
	})
	s, ccfg, sk := curveServer(t, zh)
	w := watchMemory()

	// The key itself: ZAP says 400.
	a := dialCurve(t, s.endpoint, sk.Public, denied)
	a.send(zmtp.CmdHello, a.hello(a.trPK))
	cmd, err := a.read()
	if err != nil {
		t.Fatal(err)
	}
	sPrime, cookie := a.welcome(cmd)
	a.send(zmtp.CmdInitiate, a.initiate(sPrime, cookie, denied.Public))
	if cmd, err := a.read(); err != nil || cmd.Name != zmtp.CmdError {
		t.Fatalf("denied key: got %q, %v; want ERROR", cmd.Name, err)
	}
	var ae *mechanism.AuthError
	if err := s.nextErr(3 * time.Second); !errors.As(err, &ae) || ae.Status != zap.StatusAuthenticationError {
		t.Fatalf("denied key: server error %v; want ZAP 400", err)
	}

	// Its twin, again and again.
	for range curveAttackRounds {
		a := dialCurve(t, s.endpoint, sk.Public, denied)
		a.send(zmtp.CmdHello, a.hello(a.trPK))
		cmd, err := a.read()
		if err != nil {
			t.Fatal(err)
		}
		sPrime, cookie := a.welcome(cmd)
		a.send(zmtp.CmdInitiate, a.initiate(sPrime, cookie, twinKey(denied.Public)))
		if cmd, err := a.read(); err == nil {
			t.Fatalf("twin key: the server answered %q", cmd.Name)
		}
		wantServerErr(t, s, mechanism.ErrNonCanonicalKey)
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)

	mu.Lock()
	defer mu.Unlock()
	for _, k := range seen[1:] {
		if k == twinKey(denied.Public) {
			t.Fatal("ZAP was asked about the twin of the denied key")
		}
	}
	if len(seen) != 2 || seen[0] != denied.Public {
		t.Errorf("ZAP saw %d keys; want the denied key, then the legitimate client's", len(seen))
	}
}

// TestCurveLowOrderHelloKey: HELLOs whose C' is a low-order point (0, 1,
// and a point of order 8) are refused with ErrLowOrderKey.
func TestCurveLowOrderHelloKey(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	lowOrder := [][32]byte{
		{},
		{1},
		// A point of order 8 (RFC 7748 test lists; libsodium's blocklist).
		{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
			0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	}
	w := watchMemory()
	for i := range curveAttackRounds {
		a := dialCurve(t, s.endpoint, sk.Public, testkeys.New(t))
		a.send(zmtp.CmdHello, a.hello(lowOrder[i%len(lowOrder)]))
		expectClosed(t, a.c, 3*time.Second)
		wantServerErr(t, s, mechanism.ErrLowOrderKey)
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// TestCurveHelloBadBox: HELLOs whose signature box was changed on the way
// are refused with ErrDecrypt.
func TestCurveHelloBadBox(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	w := watchMemory()
	for i := range curveAttackRounds {
		a := dialCurve(t, s.endpoint, sk.Public, testkeys.New(t))
		h := a.hello(a.trPK)
		h[2+72+32+8+i%80] ^= 0x01 // the box: tag or ciphertext
		a.send(zmtp.CmdHello, h)
		expectClosed(t, a.c, 3*time.Second)
		wantServerErr(t, s, mechanism.ErrDecrypt)
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// TestCurveInitiateWrongCookie: INITIATEs whose cookie was changed, or is
// another connection's, are refused with ErrCookie.
func TestCurveInitiateWrongCookie(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	keys := testkeys.New(t)
	var other []byte // a cookie from another connection
	w := watchMemory()
	for i := range curveAttackRounds {
		a := dialCurve(t, s.endpoint, sk.Public, keys)
		a.send(zmtp.CmdHello, a.hello(a.trPK))
		cmd, err := a.read()
		if err != nil {
			t.Fatal(err)
		}
		sPrime, cookie := a.welcome(cmd)
		bad := append([]byte(nil), cookie...)
		switch {
		case i%2 == 0 || other == nil:
			bad[i%len(bad)] ^= 0x80
		default:
			bad = other
		}
		other = cookie
		a.send(zmtp.CmdInitiate, a.initiate(sPrime, bad, keys.Public))
		expectClosed(t, a.c, 3*time.Second)
		wantServerErr(t, s, mechanism.ErrCookie)
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// TestCurveReplayOnNewConnection: HELLO and INITIATE recorded from a
// complete handshake and replayed on new connections: the HELLO gets a
// WELCOME (the server cannot tell), but the INITIATE's cookie belongs to
// the old connection, so it is refused with ErrCookie.
func TestCurveReplayOnNewConnection(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	a := dialCurve(t, s.endpoint, sk.Public, testkeys.New(t))
	hello := a.hello(a.trPK)
	a.send(zmtp.CmdHello, hello)
	cmd, err := a.read()
	if err != nil {
		t.Fatal(err)
	}
	sPrime, cookie := a.welcome(cmd)
	initiate := a.initiate(sPrime, cookie, a.permPK)
	a.send(zmtp.CmdInitiate, initiate)
	if cmd, err := a.read(); err != nil || cmd.Name != zmtp.CmdReady {
		t.Fatalf("recorded handshake: got %q, %v; want READY", cmd.Name, err)
	}
	a.c.Close()
	if err := s.nextErr(3 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("recorded connection: server error %v; want EOF", err)
	}

	w := watchMemory()
	for range curveAttackRounds {
		r := &rawCurve{t: t, c: attacker(t, s.endpoint)}
		r.r = zmtp.NewReader(r.c)
		r.c.SetDeadline(time.Now().Add(3 * time.Second))
		r.write(greeting(mechanism.CurveName, false))
		if _, err := r.r.ReadGreeting(); err != nil {
			t.Fatal(err)
		}
		r.send(zmtp.CmdHello, hello)
		if cmd, err := r.read(); err != nil || cmd.Name != zmtp.CmdWelcome {
			t.Fatalf("replayed HELLO: got %q, %v; want WELCOME", cmd.Name, err)
		}
		r.send(zmtp.CmdInitiate, initiate)
		expectClosed(t, r.c, 3*time.Second)
		wantServerErr(t, s, mechanism.ErrCookie)
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// TestCurveEOFAtEveryStep: connections that end after the greeting, after
// HELLO, after INITIATE's first bytes, and in the middle of a frame: every
// one ends with an EOF error on the server and leaves nothing running
// (leakCheck). That each handshake's secrets are forgotten on these paths
// is checked inside the mechanism package (TestCurveCloseForgetsSecrets).
func TestCurveEOFAtEveryStep(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	w := watchMemory()
	for i := range curveAttackRounds {
		a := dialCurve(t, s.endpoint, sk.Public, testkeys.New(t))
		switch i % 4 {
		case 0: // after the greeting
		case 1: // after HELLO, with the WELCOME read
			a.send(zmtp.CmdHello, a.hello(a.trPK))
			if _, err := a.read(); err != nil {
				t.Fatal(err)
			}
		case 2: // in the middle of INITIATE
			a.send(zmtp.CmdHello, a.hello(a.trPK))
			cmd, err := a.read()
			if err != nil {
				t.Fatal(err)
			}
			sPrime, cookie := a.welcome(cmd)
			cmd = zmtp.Command{Name: zmtp.CmdInitiate, Data: a.initiate(sPrime, cookie, a.permPK)}
			frame := zmtp.AppendFrame(nil, zmtp.FlagCommand, cmd.Append(nil))
			a.write(frame[:len(frame)/2])
		case 3: // in the middle of HELLO
			cmd := zmtp.Command{Name: zmtp.CmdHello, Data: a.hello(a.trPK)}
			a.write(zmtp.AppendFrame(nil, zmtp.FlagCommand, cmd.Append(nil))[:50])
		}
		a.c.(*net.TCPConn).CloseWrite()
		expectClosed(t, a.c, 3*time.Second)
		if err := s.nextErr(3 * time.Second); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("step %d: server error %v; want an EOF", i%4, err)
		}
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// TestCurveClientRefusesNonCanonicalServerKey: a hostile server answers
// HELLO with a WELCOME whose S' has bit 255 set (the box opens: the server
// knows s). Our client refuses it with ErrNonCanonicalKey and sends no
// INITIATE.
func TestCurveClientRefusesNonCanonicalServerKey(t *testing.T) {
	leakCheck(t)
	s, ccfg, sk := curveServer(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	sPriv, err := ecdh.X25519().NewPrivateKey(sk.Secret[:])
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, curveAttackRounds)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { sent <- hostileWelcome(c, sPriv) })
		}
	})
	w := watchMemory()
	for range curveAttackRounds {
		c, err := transport.Dial("tcp://"+l.Addr().String(), ccfg)
		if err == nil {
			err = c.Handshake()
			c.Close()
		}
		if !errors.Is(err, mechanism.ErrNonCanonicalKey) {
			t.Fatalf("client error %v; want one wrapping ErrNonCanonicalKey", err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("hostile server: %v", err)
		}
	}
	mustLegit(t, s.endpoint, ccfg, 3*time.Second)
	assertGrowth(t, w, curveMemBound)
}

// hostileWelcome plays a CURVE server with secret s on c that sends a
// WELCOME with a non-canonical S', then checks that the client closes
// without sending INITIATE.
func hostileWelcome(c net.Conn, s *ecdh.PrivateKey) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	r := zmtp.NewReader(c)
	r.SetMaxFrameSize(1 << 16)
	if _, err := c.Write(greeting(mechanism.CurveName, true)); err != nil {
		return err
	}
	if _, err := r.ReadGreeting(); err != nil {
		return err
	}
	f, err := r.ReadFrame()
	if err != nil {
		return err
	}
	hello, err := zmtp.ParseCommand(f.Body)
	if err != nil || hello.Name != zmtp.CmdHello || len(hello.Data) != 194 {
		return errors.New("no HELLO")
	}
	cPrime := [32]byte(hello.Data[74:106])
	k, err := box.Shared(s, &cPrime)
	if err != nil {
		return err
	}
	sPrime, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	plain := make([]byte, 32+96)
	twin := twinKey([32]byte(sPrime.PublicKey().Bytes()))
	copy(plain, twin[:])
	rand.Read(plain[32:])
	nonce := make([]byte, 16)
	rand.Read(nonce)
	welcome := zmtp.Command{Name: zmtp.CmdWelcome, Data: box.Seal(nonce, plain, longNonce("WELCOME-", nonce), &k)}
	if _, err := c.Write(zmtp.AppendFrame(nil, zmtp.FlagCommand, welcome.Append(nil))); err != nil {
		return err
	}
	if f, err := r.ReadFrame(); err == nil {
		return errors.New("the client answered a non-canonical S' with " + string(f.Body[1:min(len(f.Body), 9)]))
	}
	return nil
}
