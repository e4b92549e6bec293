package mechanism

import (
	"context"
	"crypto/ecdh"
	"fmt"
	"io"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// CurveServer returns the server side of CURVE with the permanent key pair
// server. The key pair is checked and the secret parsed once here.
//
// When Params.ZAP is set the server asks it about every client that proves
// its key, with the client's 32-byte permanent key as the one credential,
// and acts on the reply as libzmq does; with no handler every client that
// completes the handshake is accepted, as libzmq does.
//
// Where libzmq is laxer than 26/CurveZMQ this server follows the RFC, since
// the laxness would open a hole and libzmq clients never rely on it: the
// vouch must name this server's permanent key S as well as C' (libzmq
// checks only C'), the HELLO signature must open to 64 zero bytes, and the
// INITIATE short nonce must be greater than the HELLO's; and C' and C must
// be canonical public keys ([ErrNonCanonicalKey]), so that one client
// secret key shows ZAP one identity, never a twin with bit 255 set.
//
// What is kept of secrets, and for how long: the Mechanism keeps the
// permanent secret key for its whole life in a crypto/ecdh.PrivateKey and
// nowhere else (the working copy of server made here is cleared before
// CurveServer returns). Each Handshake keeps s' in a crypto/ecdh.PrivateKey
// until the vouch is checked, the cookie key K until INITIATE arrives, the
// box key (s, C') until WELCOME is built, and (s', C') until
// [Handshake.Session] has copied it into the Sealer and Opener (whose Close
// zeroes them); the keys are arrays it zeroes, and every one is zeroed (s'
// dropped) on failure and on [Handshake.Close]. The vouch key, the cookie's
// plaintext (which holds s') and every byte copy of s' are zeroed as soon as
// they have been used.
//
// A crypto/ecdh.PrivateKey cannot be zeroed: Go keeps its bytes until the
// garbage collector reuses the memory, so s' once dropped, and the
// permanent secret once the Mechanism is dropped, stay in memory,
// unreachable, for a while.
func CurveServer(server cert.KeyPair) (Mechanism, error) {
	defer clear(server.Secret[:])
	priv, err := parseKeyPair(server)
	if err != nil {
		return nil, &setupError{role: "server", err: err}
	}
	return &curveServer{public: server.Public, secret: priv}, nil
}

type curveServer struct {
	public cert.PublicKey
	secret *ecdh.PrivateKey
}

func (*curveServer) Name() string   { return CurveName }
func (*curveServer) AsServer() bool { return true }

// String does not print the secret key.
func (m *curveServer) String() string { return fmt.Sprintf("CURVE server %s", m.public) }

func (m *curveServer) NewHandshake(p Params) (Handshake, error) {
	if err := p.Metadata.Validate(); err != nil {
		return nil, err
	}
	return &curveServerHandshake{m: m, p: p, rand: randReader(p.Rand), nonce: 1}, nil
}

type curveServerState int

const (
	curveServerStart curveServerState = iota
	curveServerWaitHello
	curveServerWaitInitiate
	curveServerDone
)

// curveServerHandshake is the server's state. Like libzmq it keeps state per
// connection (C', s' and the cookie key) until INITIATE, instead of the
// stateless server RFC 26 sketches; the handshake timeout bounds how long.
//
// It does three X25519 operations besides making S': (s, C') for HELLO and
// WELCOME, (s', C') for INITIATE, READY and MESSAGE, (s', C) for the vouch.
type curveServerHandshake struct {
	m     *curveServer
	p     Params
	rand  io.Reader
	state curveServerState
	err   error

	cPrime    [32]byte         // C'
	cPrimeKey *ecdh.PublicKey  // C', parsed once
	helloKey  box.Key          // (s, C')
	sPrime    *ecdh.PrivateKey // s', dropped when the handshake ends
	sPrimePub [32]byte         // S'
	cookieKey box.Key          // K, dropped at INITIATE
	msgKey    box.Key          // (s', C')
	nonce     uint64           // our next short nonce
	peerNonce uint64           // the last short nonce the client used
	client    cert.PublicKey   // C
	peer      zmtp.Metadata
	sess      *Session // built once: a second Sealer would reuse nonces
	zap       *zap.Reply

	// Storage for what the handshake reads from rand (cleared once used,
	// at once for s' and K) and for the commands it returns, so that they
	// cost no allocation of their own. Each command is written once.
	scratch [keyLen + 16 + 16]byte
	welcome [welcomeDataLen]byte
	cmds    [2]zmtp.Command // WELCOME, READY
}

func (h *curveServerHandshake) fail(cmd string, err error) error {
	if _, ok := err.(*CurveError); !ok && cmd != "" {
		err = &CurveError{Command: cmd, Err: err}
	}
	h.err = err
	h.drop()
	h.msgKey.Zero()
	return err
}

// drop forgets what only the handshake needs.
func (h *curveServerHandshake) drop() {
	h.sPrime = nil
	h.helloKey.Zero()
	h.cookieKey.Zero()
}

func (h *curveServerHandshake) Start(context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state != curveServerStart {
		return nil, h.fail("", ErrAlreadyStarted)
	}
	h.state = curveServerWaitHello
	return nil, nil // the server waits for HELLO
}

func (h *curveServerHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state == curveServerStart {
		return nil, h.fail("", ErrNotStarted)
	}
	switch h.state {
	case curveServerWaitHello:
		if cmd.Name != zmtp.CmdHello {
			return nil, h.fail("", &UnexpectedCommandError{Mechanism: CurveName, Want: []string{zmtp.CmdHello}, Got: cmd.Name})
		}
		return h.readHello(cmd.Data)
	case curveServerWaitInitiate:
		if cmd.Name != zmtp.CmdInitiate {
			return nil, h.fail("", &UnexpectedCommandError{Mechanism: CurveName, Want: []string{zmtp.CmdInitiate}, Got: cmd.Name})
		}
		return h.readInitiate(ctx, cmd.Data)
	}
	return nil, h.fail("", &UnexpectedCommandError{Mechanism: CurveName, Got: cmd.Name})
}

// readHello checks HELLO and answers with WELCOME. See 26/CurveZMQ, "The
// HELLO Command" and "The WELCOME Command". Like libzmq, a bad HELLO is
// answered by closing, never with ERROR.
func (h *curveServerHandshake) readHello(data []byte) ([]zmtp.Command, error) {
	hello, err := parseCurveHello(data)
	if err != nil {
		return nil, h.fail(zmtp.CmdHello, err)
	}
	h.cPrime = hello.clientTransient
	if err := checkCanonical(&h.cPrime); err != nil {
		return nil, h.fail(zmtp.CmdHello, err)
	}
	if h.cPrimeKey, err = parsePublic(&h.cPrime); err != nil {
		return nil, h.fail(zmtp.CmdHello, err)
	}
	if h.helloKey, err = shared(h.m.secret, h.cPrimeKey); err != nil {
		return nil, h.fail(zmtp.CmdHello, err)
	}
	var signature [helloSignatureLen]byte
	sig, ok := box.Open(signature[:0], hello.signature[:], shortNonce(nonceHello, hello.nonce), &h.helloKey)
	if !ok || len(sig) != helloSignatureLen || !isZero(sig) {
		return nil, h.fail(zmtp.CmdHello, ErrDecrypt)
	}
	h.peerNonce = hello.nonce

	// WELCOME: Box[S' + cookie](s -> C'), where the cookie is
	// Box[C' + s'](K) under a fresh key K kept until INITIATE.
	if h.sPrime, h.sPrimePub, err = newTransientKey(h.rand, (*[32]byte)(h.scratch[:keyLen])); err != nil {
		return nil, h.fail(zmtp.CmdWelcome, err)
	}
	random := &h.scratch // K, cookie nonce, WELCOME nonce
	defer clear(random[:])
	if _, err := io.ReadFull(h.rand, random[:]); err != nil {
		return nil, h.fail(zmtp.CmdWelcome, randomnessError(err))
	}
	copy(h.cookieKey[:], random[:keyLen])
	clear(random[:keyLen])
	body := curveWelcomeBody{serverTransient: h.sPrimePub}
	sPrimeBytes := h.sPrime.Bytes()
	body.cookie = sealCookie([16]byte(random[keyLen:keyLen+16]), &h.cPrime, sPrimeBytes, &h.cookieKey)
	clear(sPrimeBytes)
	var welcomePlain [keyLen + cookieLen]byte
	body.append(welcomePlain[:0])
	welcome := curveWelcome{nonce: [16]byte(random[keyLen+16:])}
	box.Seal(welcome.box[:0], welcomePlain[:], longNonce(nonceWelcome, welcome.nonce[:]), &h.helloKey)
	clear(welcomePlain[:])
	h.helloKey.Zero()
	h.state = curveServerWaitInitiate
	h.cmds[0] = zmtp.Command{Name: zmtp.CmdWelcome, Data: welcome.append(h.welcome[:0])}
	return h.cmds[0:1:1], nil
}

// readInitiate checks the cookie, the INITIATE box and the vouch, asks ZAP
// and answers with READY (or ERROR). See 26/CurveZMQ, "The INITIATE
// Command" and "The READY Command".
func (h *curveServerHandshake) readInitiate(ctx context.Context, data []byte) ([]zmtp.Command, error) {
	initiate, err := parseCurveInitiate(data)
	if err != nil {
		return nil, h.fail(zmtp.CmdInitiate, err)
	}
	// The cookie must be the one we sent: it opens with K and holds C'
	// and s'. K is dropped once it has been used.
	var cookie [2 * keyLen]byte // C' and s'
	defer clear(cookie[:])
	ok := openCookie(&initiate.cookie, &h.cookieKey, &cookie)
	h.cookieKey.Zero()
	if !ok {
		return nil, h.fail(zmtp.CmdInitiate, ErrCookie)
	}
	sPrimeBytes := h.sPrime.Bytes()
	match := box.Equal(cookie[:keyLen], h.cPrime[:]) && box.Equal(cookie[keyLen:], sPrimeBytes)
	clear(sPrimeBytes)
	clear(cookie[:])
	if !match {
		return nil, h.fail(zmtp.CmdInitiate, ErrCookie)
	}

	if initiate.nonce <= h.peerNonce {
		return nil, h.fail(zmtp.CmdInitiate, ErrNonceReplay)
	}
	if h.msgKey, err = shared(h.sPrime, h.cPrimeKey); err != nil {
		return nil, h.fail(zmtp.CmdInitiate, err)
	}
	var stack [stackPlain]byte
	plain, ok := box.Open(stack[:0], initiate.box, shortNonce(nonceInitiate, initiate.nonce), &h.msgKey)
	if !ok {
		return nil, h.fail(zmtp.CmdInitiate, ErrDecrypt)
	}
	inner, err := parseCurveInitiateBody(plain)
	if err != nil {
		// A box that opens but is too short to hold C and the vouch is
		// reported as one that does not open, as before.
		return nil, h.fail(zmtp.CmdInitiate, ErrDecrypt)
	}
	h.peerNonce = initiate.nonce
	client := inner.client
	// C goes to ZAP as it is: it must be the one spelling of the key.
	if err := checkCanonical(&client); err != nil {
		return nil, h.fail(zmtp.CmdInitiate, err)
	}

	// The vouch: Box[C' + S](c -> S') proves the client holds c.
	clientKey, err := parsePublic(&client)
	if err != nil {
		return nil, h.fail(zmtp.CmdInitiate, err)
	}
	vouchKey, err := shared(h.sPrime, clientKey)
	if err != nil {
		return nil, h.fail(zmtp.CmdInitiate, err)
	}
	var vouch [2 * keyLen]byte // C' and S
	ok = openVouch(&inner.vouch, &vouchKey, &vouch)
	vouchKey.Zero()
	if !ok {
		return nil, h.fail(zmtp.CmdInitiate, ErrDecrypt)
	}
	if !box.Equal(vouch[:keyLen], h.cPrime[:]) || !box.Equal(vouch[keyLen:], h.m.public[:]) {
		return nil, h.fail(zmtp.CmdInitiate, ErrVouch)
	}
	h.client = cert.PublicKey(client)
	h.sPrime = nil

	// Authenticate C, as libzmq does, before the metadata is parsed.
	if h.p.ZAP != nil {
		rep, out, err := authenticate(ctx, CurveName, &h.p, [][]byte{client[:]})
		if err != nil {
			return out, h.fail("", err)
		}
		h.zap = rep
	}
	md, err := ParsePeerMetadata(CurveName, &h.p, inner.metadata)
	if err != nil {
		return nil, h.fail("", err)
	}
	h.peer = md

	// READY: short nonce, Box[metadata](s' -> C'), the plaintext built on
	// the stack (when it fits, which the buffer INITIATE opened into has
	// done with) and the box sealed straight after the nonce.
	ready := curveReady{nonce: h.nonce}
	h.nonce++
	own := h.p.Metadata.Append(stack[:0])
	out := ready.append(make([]byte, 0, 8+box.Overhead+len(own)))
	out = box.Seal(out, own, shortNonce(nonceReady, ready.nonce), &h.msgKey)
	h.state = curveServerDone
	h.cmds[1] = zmtp.Command{Name: zmtp.CmdReady, Data: out}
	return h.cmds[1:2:2], nil
}

func (h *curveServerHandshake) Done() bool { return h.err == nil && h.state == curveServerDone }

func (h *curveServerHandshake) Session() Session {
	if !h.Done() {
		return Session{}
	}
	if h.sess == nil {
		h.sess = newCurveSession(&h.msgKey, h.client, h.peer, h.zap, nonceMessageS, h.nonce, nonceMessageC, h.peerNonce)
	}
	return *h.sess
}

// Close forgets the transient and session keys the handshake still holds.
func (h *curveServerHandshake) Close() {
	if h.err == nil && !h.Done() {
		h.err = ErrClosed
	}
	h.drop()
	h.msgKey.Zero()
}
