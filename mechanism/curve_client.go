package mechanism

import (
	"context"
	"crypto/ecdh"
	"fmt"
	"io"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// CurveClient returns the client side of CURVE (25/ZMTP-CURVE and
// 26/CurveZMQ): it authenticates the server by its permanent public key
// serverKey, and itself by the permanent key pair client.
//
// The key pair is checked (the secret key must give the public key) and the
// secret is parsed once here; an all-zero server key is refused, and so is
// one that is not canonical ([ErrNonCanonicalKey]).
//
// What is kept of secrets, and for how long: the Mechanism keeps the
// permanent secret key for its whole life in a crypto/ecdh.PrivateKey and
// nowhere else (the working copy of client made here is cleared before
// CurveClient returns; the caller's KeyPair is the caller's to clear). Each
// Handshake keeps c' in a crypto/ecdh.PrivateKey until INITIATE is sent,
// and the box keys (c', S) and (c', S') as arrays it zeroes: the first once
// INITIATE is sent, the second once [Handshake.Session] has copied it into
// the Sealer and Opener (whose Close zeroes them), and every one on
// failure and on [Handshake.Close]. The vouch key and every byte copy of a
// secret are zeroed as soon as they have been used.
//
// A crypto/ecdh.PrivateKey cannot be zeroed: Go keeps its bytes until the
// garbage collector reuses the memory, so c' once dropped, and the
// permanent secret once the Mechanism is dropped, stay in memory,
// unreachable, for a while.
func CurveClient(serverKey cert.PublicKey, client cert.KeyPair) (Mechanism, error) {
	defer clear(client.Secret[:])
	if isZero(serverKey[:]) {
		return nil, &setupError{role: "client: server key", err: ErrLowOrderKey}
	}
	if !serverKey.IsCanonical() {
		return nil, &setupError{role: "client: server key", err: ErrNonCanonicalKey}
	}
	priv, err := parseKeyPair(client)
	if err != nil {
		return nil, &setupError{role: "client", err: err}
	}
	m := &curveClient{server: serverKey, public: client.Public, secret: priv}
	if m.serverKey, err = parsePublic((*[32]byte)(&m.server)); err != nil {
		return nil, &setupError{role: "client: server key", err: err}
	}
	return m, nil
}

// parseKeyPair parses the secret key of kp and checks that it gives the
// public key. It clears kp's secret (its own copy) before it returns; the
// one copy of the secret left is inside the *ecdh.PrivateKey, which Go
// offers no way to clear.
func parseKeyPair(kp cert.KeyPair) (*ecdh.PrivateKey, error) {
	defer clear(kp.Secret[:])
	priv, err := ecdh.X25519().NewPrivateKey(kp.Secret[:])
	if err != nil {
		return nil, err
	}
	if !box.Equal(priv.PublicKey().Bytes(), kp.Public[:]) {
		return nil, cert.ErrKeyMismatch
	}
	return priv, nil
}

type curveClient struct {
	server    cert.PublicKey
	serverKey *ecdh.PublicKey // server, parsed once
	public    cert.PublicKey
	secret    *ecdh.PrivateKey
}

func (*curveClient) Name() string   { return CurveName }
func (*curveClient) AsServer() bool { return false }

// String does not print the secret key.
func (m *curveClient) String() string {
	return fmt.Sprintf("CURVE client %s (server %s)", m.public, m.server)
}

func (m *curveClient) NewHandshake(p Params) (Handshake, error) {
	if err := p.Metadata.Validate(); err != nil {
		return nil, err
	}
	return &curveClientHandshake{m: m, p: p, rand: randReader(p.Rand), nonce: 1}, nil
}

type curveClientState int

const (
	curveClientStart curveClientState = iota
	curveClientWaitWelcome
	curveClientWaitReady
	curveClientDone
)

// curveClientHandshake is the client's state. The flow of 26/CurveZMQ:
//
//	C: HELLO     ->  S: WELCOME
//	C: INITIATE  ->  S: READY | ERROR
//
// It does three X25519 operations besides making C': (c', S) for HELLO and
// WELCOME, (c', S') for INITIATE, READY and MESSAGE, (c, S') for the vouch.
type curveClientHandshake struct {
	m     *curveClient
	p     Params
	rand  io.Reader
	state curveClientState
	err   error

	cPrime    *ecdh.PrivateKey // c', dropped when the handshake ends
	cPrimePub [32]byte         // C'
	helloKey  box.Key          // (c', S): HELLO and WELCOME
	msgKey    box.Key          // (c', S'): INITIATE, READY, MESSAGE
	nonce     uint64           // our next short nonce
	peerNonce uint64           // the READY nonce
	peer      zmtp.Metadata
	sess      *Session // built once: a second Sealer would reuse nonces

	// Storage for what the handshake reads from rand (cleared once used,
	// at once for c') and for the commands it returns, so that they cost
	// no allocation of their own. Each command is written once.
	scratch [32]byte
	hello   [helloDataLen]byte
	cmds    [2]zmtp.Command // HELLO, INITIATE
}

func (h *curveClientHandshake) fail(cmd string, err error) error {
	if _, ok := err.(*CurveError); !ok && cmd != "" {
		err = &CurveError{Command: cmd, Err: err}
	}
	h.err = err
	h.drop()
	h.msgKey.Zero()
	return err
}

// drop forgets what only the handshake needs.
func (h *curveClientHandshake) drop() {
	h.cPrime = nil
	h.helloKey.Zero()
}

// nextNonce returns our next short nonce.
func (h *curveClientHandshake) nextNonce() uint64 {
	n := h.nonce
	h.nonce++
	return n
}

// Start sends HELLO. See 26/CurveZMQ, "The HELLO Command".
func (h *curveClientHandshake) Start(context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state != curveClientStart {
		return nil, h.fail("", ErrAlreadyStarted)
	}
	var err error
	if h.cPrime, h.cPrimePub, err = newTransientKey(h.rand, &h.scratch); err != nil {
		return nil, h.fail(zmtp.CmdHello, err)
	}
	if h.helloKey, err = shared(h.cPrime, h.m.serverKey); err != nil {
		return nil, h.fail(zmtp.CmdHello, err)
	}
	m := curveHello{clientTransient: h.cPrimePub, nonce: h.nextNonce()}
	var signature [helloSignatureLen]byte
	box.Seal(m.signature[:0], signature[:], shortNonce(nonceHello, m.nonce), &h.helloKey)
	h.cmds[0] = zmtp.Command{Name: zmtp.CmdHello, Data: m.append(h.hello[:0])}
	h.state = curveClientWaitWelcome
	return h.cmds[0:1:1], nil
}

func (h *curveClientHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state == curveClientStart {
		return nil, h.fail("", ErrNotStarted)
	}
	if cmd.Name == zmtp.CmdError && (h.state == curveClientWaitWelcome || h.state == curveClientWaitReady) {
		return nil, h.fail("", peerError(CurveName, cmd.Data))
	}
	switch h.state {
	case curveClientWaitWelcome:
		if cmd.Name != zmtp.CmdWelcome {
			return nil, h.fail("", &UnexpectedCommandError{Mechanism: CurveName, Want: []string{zmtp.CmdWelcome, zmtp.CmdError}, Got: cmd.Name})
		}
		return h.readWelcome(cmd.Data)
	case curveClientWaitReady:
		if cmd.Name != zmtp.CmdReady {
			return nil, h.fail("", &UnexpectedCommandError{Mechanism: CurveName, Want: []string{zmtp.CmdReady, zmtp.CmdError}, Got: cmd.Name})
		}
		return nil, h.readReady(cmd.Data)
	}
	return nil, h.fail("", &UnexpectedCommandError{Mechanism: CurveName, Got: cmd.Name})
}

// readWelcome opens WELCOME and answers with INITIATE. See 26/CurveZMQ,
// "The WELCOME Command" and "The INITIATE Command".
func (h *curveClientHandshake) readWelcome(data []byte) ([]zmtp.Command, error) {
	welcome, err := parseCurveWelcome(data)
	if err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}
	var plain [keyLen + cookieLen]byte
	if _, ok := box.Open(plain[:0], welcome.box[:], longNonce(nonceWelcome, welcome.nonce[:]), &h.helloKey); !ok {
		return nil, h.fail(zmtp.CmdWelcome, ErrDecrypt)
	}
	body, err := parseCurveWelcomeBody(plain[:])
	if err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}
	sPrimeBytes := body.serverTransient
	if err := checkCanonical(&sPrimeBytes); err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}
	sPrime, err := parsePublic(&sPrimeBytes)
	if err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}
	if h.msgKey, err = shared(h.cPrime, sPrime); err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}

	// The vouch: Box[C' + S](c -> S'), under a random long nonce.
	vouchKey, err := shared(h.m.secret, sPrime)
	if err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}
	vouchNonce := (*[16]byte)(h.scratch[:16])
	if _, err := io.ReadFull(h.rand, vouchNonce[:]); err != nil {
		vouchKey.Zero()
		return nil, h.fail(zmtp.CmdInitiate, randomnessError(err))
	}
	vouch := sealVouch(*vouchNonce, &h.cPrimePub, &h.m.server, &vouchKey)
	vouchKey.Zero()
	clear(h.scratch[:])

	// INITIATE: cookie, short nonce, Box[C + vouch + metadata](c' -> S'),
	// the plaintext built on the stack (when it fits) and the box sealed
	// straight after the cookie and the nonce.
	inner := curveInitiateBody{client: h.m.public, vouch: vouch}
	var stack [stackPlain]byte
	plainInner := h.p.Metadata.Append(inner.append(stack[:0]))
	initiate := curveInitiate{cookie: body.cookie, nonce: h.nextNonce()}
	out := initiate.append(make([]byte, 0, cookieLen+8+box.Overhead+len(plainInner)))
	out = box.Seal(out, plainInner, shortNonce(nonceInitiate, initiate.nonce), &h.msgKey)
	h.drop()
	h.state = curveClientWaitReady
	h.cmds[1] = zmtp.Command{Name: zmtp.CmdInitiate, Data: out}
	return h.cmds[1:2:2], nil
}

// readReady opens READY and takes the server's metadata. See 26/CurveZMQ,
// "The READY Command".
func (h *curveClientHandshake) readReady(data []byte) error {
	ready, err := parseCurveReady(data)
	if err != nil {
		return h.fail(zmtp.CmdReady, err)
	}
	var stack [stackPlain]byte
	plain, ok := box.Open(stack[:0], ready.box, shortNonce(nonceReady, ready.nonce), &h.msgKey)
	if !ok {
		return h.fail(zmtp.CmdReady, ErrDecrypt)
	}
	md, err := ParsePeerMetadata(CurveName, &h.p, plain)
	if err != nil {
		return h.fail("", err)
	}
	h.peer = md
	h.peerNonce = ready.nonce
	h.state = curveClientDone
	return nil
}

func (h *curveClientHandshake) Done() bool { return h.err == nil && h.state == curveClientDone }

func (h *curveClientHandshake) Session() Session {
	if !h.Done() {
		return Session{}
	}
	if h.sess == nil {
		h.sess = newCurveSession(&h.msgKey, h.m.server, h.peer, nil, nonceMessageC, h.nonce, nonceMessageS, h.peerNonce)
	}
	return *h.sess
}

// Close forgets the transient and session keys the handshake still holds.
func (h *curveClientHandshake) Close() {
	if h.err == nil && !h.Done() {
		h.err = ErrClosed
	}
	h.drop()
	h.msgKey.Zero()
}
