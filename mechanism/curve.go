package mechanism

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// CurveName is the CURVE mechanism's name in the greeting.
const CurveName = "CURVE"

// Errors of the CURVE mechanism. Each is returned wrapped in a
// [*CurveError] that names the command it concerns.
var (
	// ErrDecrypt reports a box that did not open: a wrong key, or bytes
	// changed on the way. It says nothing more, by design.
	ErrDecrypt error = curveError("box does not open")
	// ErrNonceReplay reports a short nonce that is not greater than the
	// last one the peer used.
	ErrNonceReplay error = curveError("nonce not greater than the last one")
	// ErrNonceExhausted reports that our 64-bit nonce counter would wrap:
	// the connection must end.
	ErrNonceExhausted error = curveError("nonce counter exhausted")
	// ErrLowOrderKey reports a public key that is a low-order point (the
	// all-zero key among them): the shared secret would be public.
	ErrLowOrderKey error = curveError("public key is a low-order point")
	// ErrNonCanonicalKey reports a public key (C', C or S') that is not in
	// canonical form: bit 255 set, or not below 2^255-19 (see
	// [cert.PublicKey.IsCanonical]). X25519 would treat it as the same key
	// as its canonical twin, so one secret key could show ZAP two
	// identities; libzmq accepts such keys, no key generator makes them.
	// An error that wraps it also matches [cert.ErrNonCanonicalKey] under
	// errors.Is.
	ErrNonCanonicalKey error = nonCanonicalError{}
	// ErrVouch reports an INITIATE whose vouch does not name the client's
	// transient key and this server's permanent key.
	ErrVouch error = curveError("vouch does not match")
	// ErrCookie reports an INITIATE whose cookie is not the one this server
	// sent on this connection.
	ErrCookie error = curveError("cookie does not match")
)

// curveError is the type of the CURVE sentinel errors. Alone it reads
// "mechanism: CURVE " and its text; inside a [*CurveError], which says
// "mechanism: CURVE" and the command, only its text.
type curveError string

func (e curveError) Error() string { return "mechanism: CURVE " + string(e) }

// CurveError wraps a CURVE failure with the command it concerns.
type CurveError struct {
	Command string // "HELLO", "WELCOME", "INITIATE", "READY", "MESSAGE"
	Err     error
}

func (e *CurveError) Error() string {
	return "mechanism: CURVE " + e.Command + ": " + curveCause(e.Err, e.Command)
}

// Unwrap returns the cause.
func (e *CurveError) Unwrap() error { return e.Err }

// setupError is an error of CurveClient or CurveServer: "mechanism: CURVE
// " once, then the role and the cause without its own prefix.
type setupError struct {
	role string
	err  error
}

func (e *setupError) Error() string {
	return "mechanism: CURVE " + e.role + ": " + curveCause(e.err, "")
}

func (e *setupError) Unwrap() error { return e.err }

// curveCause is the text of err inside an error that has already said
// "mechanism: CURVE" and, if command is not empty, the command: what err
// would repeat of that is left out.
func curveCause(err error, command string) string {
	switch c := err.(type) {
	case curveError:
		return string(c)
	case nonCanonicalError:
		return c.text()
	case *zmtp.MalformedError:
		if command != "" && (c.What == command || c.What == CurveName+" "+command) {
			return "malformed: " + c.Detail
		}
		return "malformed " + c.What + ": " + c.Detail
	}
	s := err.Error()
	for _, p := range []string{"mechanism: CURVE ", "mechanism: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}

// Nonce prefixes of 26/CurveZMQ, as libzmq spells them.
const (
	nonceHello    = "CurveZMQHELLO---"
	nonceWelcome  = "WELCOME-"
	nonceCookie   = "COOKIE--"
	nonceInitiate = "CurveZMQINITIATE"
	nonceVouch    = "VOUCH---"
	nonceReady    = "CurveZMQREADY---"
	nonceMessageC = "CurveZMQMESSAGEC" // client to server
	nonceMessageS = "CurveZMQMESSAGES" // server to client
)

// Sizes of the CURVE commands' data (the command body after the name), from
// 26/CurveZMQ and libzmq's curve_client_tools.hpp and curve_server.cpp.
const (
	helloDataLen       = 200 - 6 // version, padding, C', nonce, signature box
	helloPaddingLen    = 72
	helloSignatureLen  = 64
	welcomeDataLen     = 168 - 8 // nonce, box(S' + cookie)
	cookieLen          = 16 + 64 + box.Overhead
	initiateMinDataLen = 257 - 9 // cookie, nonce, box(C + vouch)
	vouchLen           = 16 + 64 + box.Overhead
	readyMinDataLen    = 30 - 6 // nonce, box tag
	keyLen             = 32
)

// shortNonce builds a 24-byte nonce from a 16-byte prefix and a counter.
func shortNonce(prefix string, n uint64) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	return &nonce
}

// longNonce builds a 24-byte nonce from an 8-byte prefix and 16 bytes.
func longNonce(prefix string, suffix []byte) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	copy(nonce[8:], suffix)
	return &nonce
}

// randReader returns r, or crypto/rand when r is nil.
func randReader(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// newTransientKey reads 32 bytes from r into *seed, makes an X25519 key of
// them and clears *seed. Reading the bytes here, rather than calling
// GenerateKey, keeps a scripted Config.Rand in control of the key, so
// transcripts replay exactly. seed is the handshake's own scratch space: a
// buffer on the stack would escape to the heap through r.
func newTransientKey(r io.Reader, seed *[32]byte) (*ecdh.PrivateKey, [32]byte, error) {
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		clear(seed[:])
		return nil, [32]byte{}, randomnessError(err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(seed[:])
	clear(seed[:])
	if err != nil {
		return nil, [32]byte{}, err
	}
	var pub [32]byte
	copy(pub[:], priv.PublicKey().Bytes())
	return priv, pub, nil
}

// randomnessError reports that the source of randomness failed; it is
// always wrapped in a [*CurveError], which names the mechanism.
func randomnessError(err error) error { return fmt.Errorf("reading randomness: %w", err) }

// nonCanonicalError is the type of ErrNonCanonicalKey: it also is
// cert.ErrNonCanonicalKey, so one errors.Is test covers keys refused by
// the handshake and by the cert package.
type nonCanonicalError struct{}

func (e nonCanonicalError) Error() string { return "mechanism: CURVE " + e.text() }

func (nonCanonicalError) text() string { return "public key is not canonical" }

func (nonCanonicalError) Is(target error) bool { return target == cert.ErrNonCanonicalKey }

// checkCanonical returns ErrNonCanonicalKey unless k is a canonical X25519
// public key.
func checkCanonical(k *[32]byte) error {
	if !cert.PublicKey(*k).IsCanonical() {
		return ErrNonCanonicalKey
	}
	return nil
}

// parsePublic parses a peer's public key for shared, once for every
// shared key it takes part in.
func parsePublic(peer *[32]byte) (*ecdh.PublicKey, error) {
	pub, err := box.ParsePublicKey(peer)
	if err != nil {
		return nil, ErrLowOrderKey // never for 32 bytes; refused as Shared would
	}
	return pub, nil
}

// shared wraps box.SharedWith, mapping a low-order key to ErrLowOrderKey.
func shared(priv *ecdh.PrivateKey, peer *ecdh.PublicKey) (box.Key, error) {
	k, err := box.SharedWith(priv, peer)
	if err != nil {
		return box.Key{}, ErrLowOrderKey
	}
	return k, nil
}

// curveSession is what a completed CURVE handshake hands over, in one
// allocation: the Session and the Sealer, Opener and peer key it points
// to. The padding keeps the Sealer, which the writer updates on every
// message, off the cache line of the Opener, which the reader uses.
type curveSession struct {
	sess    Session
	sealer  Sealer
	_       [64]byte
	opener  Opener
	peerKey cert.PublicKey
}

// newCurveSession builds the Session of a completed CURVE handshake: the
// Sealer seals under sealPrefix from short nonce next, the Opener opens
// under openPrefix what comes after the peer's short nonce last. The
// session key moves from *key into them: *key is zeroed.
func newCurveSession(key *box.Key, peerKey cert.PublicKey, peer zmtp.Metadata, rep *zap.Reply,
	sealPrefix string, next uint64, openPrefix string, last uint64) *Session {
	cs := &curveSession{peerKey: peerKey}
	cs.sealer.prefix, cs.sealer.next = sealPrefix, next
	cs.sealer.key = *key
	cs.opener.prefix, cs.opener.last = openPrefix, last
	cs.opener.key = *key
	key.Zero()
	cs.sess = Session{
		PeerMetadata:  peer,
		ZAP:           rep,
		PeerPublicKey: &cs.peerKey,
		Sealer:        &cs.sealer,
		Opener:        &cs.opener,
	}
	return &cs.sess
}

// stackPlain is the size of the buffers on the stack in which a handshake
// builds or opens a box's plaintext (INITIATE's and READY's, which carry
// metadata): larger plaintexts, rare, take an allocation.
const stackPlain = 512

func isZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return acc == 0
}
