package mechanism

import (
	"encoding/binary"
	"fmt"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The layouts of the CURVE commands of 26/CurveZMQ, and of the cookie and
// the vouch they carry, each in one place: a struct of the fields, an
// append method that writes them (the command's data, after its name),
// and a parse function that reads them back, checking the sizes and
// returning a *zmtp.MalformedError for data that does not fit. A box field
// is the sealed bytes (tag first); the handshakes seal and open them with
// the keys the fields name. Parsing then appending gives the same bytes.
// Variable-length fields of a parsed message alias its input.

// Sizes of the boxes inside the commands.
const (
	helloBoxLen   = helloSignatureLen + box.Overhead  // Box[64 zero bytes](C' -> S)
	welcomeBoxLen = keyLen + cookieLen + box.Overhead // Box[S' + cookie](S -> C')
	keysBoxLen    = 2*keyLen + box.Overhead           // the box of a cookie or a vouch
)

// curveHello is the data of HELLO: version 1.0, 72 bytes of padding, C',
// the short nonce and the signature box. See 26/CurveZMQ, "The HELLO
// Command".
type curveHello struct {
	padding         [helloPaddingLen]byte // zero when we send; not checked, as libzmq does not
	clientTransient [keyLen]byte          // C'
	nonce           uint64
	signature       [helloBoxLen]byte
}

func (m *curveHello) append(b []byte) []byte {
	b = append(b, 1, 0) // version 1.0
	b = append(b, m.padding[:]...)
	b = append(b, m.clientTransient[:]...)
	b = binary.BigEndian.AppendUint64(b, m.nonce)
	return append(b, m.signature[:]...)
}

// parseCurveHello reads HELLO data. Like libzmq it does not check the
// padding.
func parseCurveHello(data []byte) (curveHello, error) {
	var m curveHello
	if len(data) != helloDataLen {
		return m, &zmtp.MalformedError{What: "CURVE HELLO", Detail: fmt.Sprintf("%d bytes of data, want %d", len(data), helloDataLen)}
	}
	if data[0] != 1 || data[1] != 0 {
		return m, &zmtp.MalformedError{What: "CURVE HELLO", Detail: fmt.Sprintf("version %d.%d, want 1.0", data[0], data[1])}
	}
	c := cursor(data[2:])
	c.read(m.padding[:])
	c.read(m.clientTransient[:])
	m.nonce = c.uint64()
	c.read(m.signature[:])
	return m, nil
}

// curveWelcome is the data of WELCOME: a long nonce and
// Box[S' + cookie](S -> C'). See 26/CurveZMQ, "The WELCOME Command".
type curveWelcome struct {
	nonce [16]byte
	box   [welcomeBoxLen]byte
}

func (m *curveWelcome) append(b []byte) []byte {
	b = append(b, m.nonce[:]...)
	return append(b, m.box[:]...)
}

func parseCurveWelcome(data []byte) (curveWelcome, error) {
	var m curveWelcome
	if len(data) != welcomeDataLen {
		return m, &zmtp.MalformedError{What: "CURVE WELCOME", Detail: fmt.Sprintf("%d bytes of data, want %d", len(data), welcomeDataLen)}
	}
	c := cursor(data)
	c.read(m.nonce[:])
	c.read(m.box[:])
	return m, nil
}

// curveWelcomeBody is the plaintext of the WELCOME box: S' and the cookie.
type curveWelcomeBody struct {
	serverTransient [keyLen]byte // S'
	cookie          curveKeysBox
}

func (m *curveWelcomeBody) append(b []byte) []byte {
	b = append(b, m.serverTransient[:]...)
	return m.cookie.append(b)
}

// parseCurveWelcomeBody reads the plaintext of a WELCOME box, which has
// the right size whenever the box opened.
func parseCurveWelcomeBody(plain []byte) (curveWelcomeBody, error) {
	var m curveWelcomeBody
	if len(plain) != keyLen+cookieLen {
		return m, &zmtp.MalformedError{What: "CURVE WELCOME", Detail: fmt.Sprintf("box of %d bytes, want %d", len(plain), keyLen+cookieLen)}
	}
	c := cursor(plain)
	c.read(m.serverTransient[:])
	var err error
	m.cookie, err = parseCurveCookie(c.next(cookieLen))
	return m, err
}

// curveKeysBox is the layout of the cookie and of the vouch: a long nonce
// and the box of two keys. The cookie is Box[C' + s'](K) under the prefix
// "COOKIE--"; the vouch is Box[C' + S](C -> S') under "VOUCH---". See
// 26/CurveZMQ, "The WELCOME Command" and "The INITIATE Command".
type curveKeysBox struct {
	nonce [16]byte
	box   [keysBoxLen]byte
}

func (m *curveKeysBox) append(b []byte) []byte {
	b = append(b, m.nonce[:]...)
	return append(b, m.box[:]...)
}

// parseCurveKeysBox reads a cookie or a vouch; what names it in an error.
func parseCurveKeysBox(what string, data []byte) (curveKeysBox, error) {
	if len(data) != cookieLen {
		return curveKeysBox{}, &zmtp.MalformedError{What: what, Detail: fmt.Sprintf("%d bytes, want %d", len(data), cookieLen)}
	}
	var m curveKeysBox
	c := cursor(data)
	c.read(m.nonce[:])
	c.read(m.box[:])
	return m, nil
}

// parseCurveCookie reads a cookie: the long nonce and Box[C' + s'](K).
func parseCurveCookie(data []byte) (curveKeysBox, error) {
	return parseCurveKeysBox("CURVE cookie", data)
}

// parseCurveVouch reads a vouch: the long nonce and Box[C' + S](C -> S').
func parseCurveVouch(data []byte) (curveKeysBox, error) {
	return parseCurveKeysBox("CURVE vouch", data)
}

// sealCookie makes the cookie Box[C' + s'](K) under "COOKIE--" and nonce.
// s' is secret: the copy made here is cleared before it returns.
func sealCookie(nonce [16]byte, clientTransient *[keyLen]byte, serverTransientSecret []byte, k *box.Key) curveKeysBox {
	return sealKeys(nonceCookie, nonce, clientTransient[:], serverTransientSecret, k)
}

// openCookie opens a cookie with K into keys: C', then s'. The caller
// clears keys.
func openCookie(m *curveKeysBox, k *box.Key, keys *[2 * keyLen]byte) bool {
	return m.open(nonceCookie, k, keys)
}

// sealVouch makes the vouch Box[C' + S](c -> S') under "VOUCH---" and
// nonce.
func sealVouch(nonce [16]byte, clientTransient *[keyLen]byte, server *cert.PublicKey, k *box.Key) curveKeysBox {
	return sealKeys(nonceVouch, nonce, clientTransient[:], server[:], k)
}

// openVouch opens a vouch with (s', C) into keys: C', then S.
func openVouch(m *curveKeysBox, k *box.Key, keys *[2 * keyLen]byte) bool {
	return m.open(nonceVouch, k, keys)
}

// sealKeys seals the two keys a and b under prefix+nonce and key; the
// plaintext it builds is cleared.
func sealKeys(prefix string, nonce [16]byte, a, b []byte, key *box.Key) curveKeysBox {
	var plain [2 * keyLen]byte
	copy(plain[:keyLen], a)
	copy(plain[keyLen:], b)
	m := curveKeysBox{nonce: nonce}
	box.Seal(m.box[:0], plain[:], longNonce(prefix, nonce[:]), key)
	clear(plain[:])
	return m
}

// open opens the box under prefix and key into keys (the first key, then
// the second), and reports whether it opened.
func (m *curveKeysBox) open(prefix string, key *box.Key, keys *[2 * keyLen]byte) bool {
	_, ok := box.Open(keys[:0], m.box[:], longNonce(prefix, m.nonce[:]), key)
	return ok
}

// curveInitiate is the data of INITIATE: the cookie, the short nonce and
// Box[C + vouch + metadata](C' -> S'). See 26/CurveZMQ, "The INITIATE
// Command".
type curveInitiate struct {
	cookie curveKeysBox
	nonce  uint64
	box    []byte
}

func (m *curveInitiate) append(b []byte) []byte {
	b = m.cookie.append(b)
	b = binary.BigEndian.AppendUint64(b, m.nonce)
	return append(b, m.box...)
}

func parseCurveInitiate(data []byte) (curveInitiate, error) {
	var m curveInitiate
	if len(data) < initiateMinDataLen {
		return m, &zmtp.MalformedError{What: "CURVE INITIATE", Detail: fmt.Sprintf("%d bytes of data, want at least %d", len(data), initiateMinDataLen)}
	}
	c := cursor(data)
	var err error
	m.cookie, err = parseCurveCookie(c.next(cookieLen))
	m.nonce = c.uint64()
	m.box = c.rest()
	return m, err
}

// curveInitiateBody is the plaintext of the INITIATE box: C, the vouch and
// the client's metadata.
type curveInitiateBody struct {
	client   [keyLen]byte // C
	vouch    curveKeysBox
	metadata []byte
}

func (m *curveInitiateBody) append(b []byte) []byte {
	b = append(b, m.client[:]...)
	b = m.vouch.append(b)
	return append(b, m.metadata...)
}

func parseCurveInitiateBody(plain []byte) (curveInitiateBody, error) {
	var m curveInitiateBody
	if len(plain) < keyLen+vouchLen {
		return m, &zmtp.MalformedError{What: "CURVE INITIATE", Detail: fmt.Sprintf("box of %d bytes, want at least %d", len(plain), keyLen+vouchLen)}
	}
	c := cursor(plain)
	c.read(m.client[:])
	var err error
	m.vouch, err = parseCurveVouch(c.next(vouchLen))
	m.metadata = c.rest()
	return m, err
}

// curveReady is the data of READY: the short nonce and
// Box[metadata](S' -> C'). See 26/CurveZMQ, "The READY Command".
type curveReady struct {
	nonce uint64
	box   []byte
}

func (m *curveReady) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.nonce)
	return append(b, m.box...)
}

func parseCurveReady(data []byte) (curveReady, error) {
	if len(data) < readyMinDataLen {
		return curveReady{}, &zmtp.MalformedError{What: "CURVE READY", Detail: fmt.Sprintf("%d bytes of data, want at least %d", len(data), readyMinDataLen)}
	}
	c := cursor(data)
	return curveReady{nonce: c.uint64(), box: c.rest()}, nil
}

// cursor reads fields off the front of a byte slice whose size the caller
// has checked; reading past its end is a programming error and panics.
type cursor []byte

func (c *cursor) read(dst []byte) {
	copy(dst, (*c)[:len(dst)])
	*c = (*c)[len(dst):]
}

func (c *cursor) uint64() uint64 {
	n := binary.BigEndian.Uint64((*c)[:8])
	*c = (*c)[8:]
	return n
}

// next returns the next n bytes.
func (c *cursor) next(n int) []byte {
	b := (*c)[:n:n]
	*c = (*c)[n:]
	return b
}

func (c *cursor) rest() []byte {
	r := *c
	*c = nil
	return r
}
