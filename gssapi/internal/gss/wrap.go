// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Wrap token flags (RFC 4121 §4.2.2).
const (
	wrapSentByAcceptor = 0x01
	wrapSealed         = 0x02
	wrapAcceptorSubkey = 0x04
)

// wrapHeaderSize is the RFC 4121 §4.2.6.2 token header: TOK_ID, flags,
// filler, EC, RRC, SND_SEQ.
const wrapHeaderSize = 16

// WrapLimits are the checks Unwrap makes beyond the RFC.
type WrapLimits struct {
	// MaxToken is the largest Wrap token Unwrap accepts, checked before
	// anything is decrypted. Zero means no limit.
	MaxToken int
	// AllowEmpty lets Unwrap return an empty plaintext. ZMTP never sends
	// one (its plaintext starts with a flags byte), and libzmq 4.3.4
	// aborts on one, so the default refuses it.
	AllowEmpty bool
}

// A Context is an established Kerberos V5 security context: the key, the
// role and the two sequence numbers of one connection. It seals with
// [Context.Wrap] and opens with [Context.Unwrap].
//
// Wrap and Unwrap may run at the same time (a writer and a reader), but
// neither may run concurrently with itself.
type Context struct {
	enc            encInfo
	initiator      bool
	acceptorSubkey bool
	limits         WrapLimits

	// Sending side, owned by Wrap. The two directions hold their own
	// copies of the key, so that each can be zeroed without racing the
	// other.
	sendKey  Key
	sendSeq  uint64
	sendDone bool // the last sequence number has been used
	seal     *msgCipher
	rand     io.Reader // confounders; nil means crypto/rand
	conf     [confounderSize]byte
	flag     [1]byte // WrapFlagged's head
	wbuf     []byte

	// Receiving side, owned by Unwrap.
	recvKey  Key
	recvSeq  uint64
	recvDone bool
	open     *msgCipher
	rbuf     []byte // a rotated token, put back in order
	pbuf     []byte // the decrypted plaintext
}

// newContext checks the key and returns a context. sendSeq and recvSeq are
// the initial sequence numbers of each direction.
func newContext(key Key, initiator, acceptorSubkey bool, sendSeq, recvSeq uint64, limits WrapLimits) (*Context, error) {
	enc, err := key.check()
	if err != nil {
		return nil, err
	}
	c := &Context{
		sendKey: Key{Enctype: key.Enctype, Value: append([]byte(nil), key.Value...)},
		recvKey: Key{Enctype: key.Enctype, Value: append([]byte(nil), key.Value...)},
		enc:     enc, initiator: initiator, acceptorSubkey: acceptorSubkey,
		limits: limits, sendSeq: sendSeq, recvSeq: recvSeq,
	}
	// The keys of both directions are derived once, here: Wrap seals
	// under our own usage, Unwrap opens under the peer's.
	if c.seal, err = newMsgCipher(key, c.usage(!initiator)); err != nil {
		return nil, err
	}
	if c.open, err = newMsgCipher(key, c.usage(initiator)); err != nil {
		return nil, err
	}
	return c, nil
}

// Initiator reports whether this side started the context.
func (c *Context) Initiator() bool { return c.initiator }

// Enctype returns the enctype of the key the Wrap tokens use.
func (c *Context) Enctype() int32 { return c.enc.id }

// AcceptorSubkey reports whether the Wrap tokens use the acceptor's subkey.
func (c *Context) AcceptorSubkey() bool { return c.acceptorSubkey }

// NextSendSeq returns the sequence number the next Wrap will use.
func (c *Context) NextSendSeq() uint64 { return c.sendSeq }

// NextRecvSeq returns the sequence number Unwrap expects next.
func (c *Context) NextRecvSeq() uint64 { return c.recvSeq }

// Overhead returns how many bytes a Wrap token adds to its plaintext: the
// header, the confounder, the header copy and the MAC (60 bytes with the
// SHA-1 enctypes, 72 with aes256-sha384).
func (c *Context) Overhead() int {
	return wrapHeaderSize + confounderSize + wrapHeaderSize + c.enc.macSize
}

func (c *Context) sendFlags() byte {
	f := byte(wrapSealed)
	if !c.initiator {
		f |= wrapSentByAcceptor
	}
	if c.acceptorSubkey {
		f |= wrapAcceptorSubkey
	}
	return f
}

func (c *Context) usage(fromAcceptor bool) uint32 {
	if fromAcceptor {
		return usageAcceptorSeal
	}
	return usageInitiatorSeal
}

// Wrap appends to dst a sealed RFC 4121 Wrap token carrying plaintext and
// returns the extended slice: the header (05 04, flags, ff, EC = 0,
// RRC = 0, SND_SEQ), then E(confounder | plaintext | header). It never
// makes an unsealed token, and refuses an empty plaintext
// ([ErrEmptyPlaintext]): libzmq 4.3.4 aborts on either.
//
// dst and plaintext must not overlap. The sequence number advances only
// when Wrap succeeds.
func (c *Context) Wrap(dst, plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return dst, ErrEmptyPlaintext
	}
	return c.wrap(dst, nil, plaintext)
}

// WrapFlagged is Wrap of the plaintext flags | payload, the form of a ZMTP
// frame in a GSSAPI MESSAGE, without first copying the two together.
func (c *Context) WrapFlagged(dst []byte, flags byte, payload []byte) ([]byte, error) {
	c.flag[0] = flags
	return c.wrap(dst, c.flag[:], payload)
}

// wrap seals head | plaintext, which is not empty.
func (c *Context) wrap(dst, head, plaintext []byte) ([]byte, error) {
	if c.sendKey.Value == nil {
		return dst, ErrContextClosed
	}
	if c.sendDone {
		return dst, ErrSequenceExhausted
	}
	var hdr [wrapHeaderSize]byte
	hdr[0], hdr[1] = 0x05, 0x04
	hdr[2] = c.sendFlags()
	hdr[3] = 0xff
	// EC and RRC stay zero: AES needs no padding, and MIT rotates nothing.
	binary.BigEndian.PutUint64(hdr[8:], c.sendSeq)

	// E(confounder | plaintext | header), with the keys derived once
	// (msgcrypto.go); the plaintext is copied once, into wbuf.
	if c.rand != nil {
		if _, err := io.ReadFull(c.rand, c.conf[:]); err != nil {
			return dst, fmt.Errorf("gssapi: reading a confounder: %w", err)
		}
	} else {
		rand.Read(c.conf[:]) // never fails (Go 1.24 and later)
	}
	c.wbuf = append(append(append(append(c.wbuf[:0], c.conf[:]...), head...), plaintext...), hdr[:]...)
	dst = append(dst, hdr[:]...)
	dst = c.seal.seal(dst, c.wbuf)
	clear(c.wbuf)
	if c.sendSeq == math.MaxUint64 {
		c.sendDone = true
	} else {
		c.sendSeq++
	}
	return dst, nil
}

// Unwrap checks a sealed Wrap token from the peer and appends its
// plaintext to dst. It refuses, each with its own error:
//   - a token over [WrapLimits.MaxToken] ([ErrTokenTooLarge]), before
//     anything else;
//   - a malformed header or a ciphertext too short for the enctype
//     ([ErrMalformed]), a MIC token ([ErrUnexpectedToken]);
//   - a token that claims to come from our side ([ErrReflected]), an
//     unsealed one ([ErrUnsealed]), one whose AcceptorSubkey flag is not
//     ours ([ErrKeyFlag]);
//   - a failed integrity check ([ErrDecrypt]) or a header copy that differs;
//   - a sequence number other than the next one ([*SequenceError]): unlike
//     MIT, a gap is an error too;
//   - an empty plaintext unless [WrapLimits.AllowEmpty] ([ErrEmptyPlaintext]).
//
// A rotated token (RRC ≠ 0) and EC filler are accepted. token is not
// modified; dst may be token[:0].
func (c *Context) Unwrap(dst, token []byte) ([]byte, error) {
	pt, err := c.unwrap(token)
	if err != nil {
		return dst, err
	}
	return append(dst, pt...), nil
}

// UnwrapFlagged is Unwrap of a token whose plaintext is a ZMTP frame in a
// GSSAPI MESSAGE: it returns the first byte, the inner flags, apart and
// appends the rest to dst, copying the payload once. The plaintext must
// not be empty whatever [WrapLimits.AllowEmpty] says.
func (c *Context) UnwrapFlagged(dst, token []byte) (flags byte, out []byte, err error) {
	pt, err := c.unwrap(token)
	if err != nil {
		return 0, dst, err
	}
	if len(pt) == 0 {
		return 0, dst, ErrEmptyPlaintext
	}
	return pt[0], append(dst, pt[1:]...), nil
}

// unwrap checks token and returns its plaintext, in the Context's own
// buffer (valid until the next unwrap).
func (c *Context) unwrap(token []byte) ([]byte, error) {
	if c.limits.MaxToken > 0 && len(token) > c.limits.MaxToken {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTokenTooLarge, len(token), c.limits.MaxToken)
	}
	if c.recvKey.Value == nil {
		return nil, ErrContextClosed
	}
	if len(token) < wrapHeaderSize {
		return nil, malformed("short wrap token")
	}
	switch id := TokenID(token[0])<<8 | TokenID(token[1]); id {
	case TokWrap:
	case TokMIC:
		return nil, fmt.Errorf("%w: MIC token where a Wrap token was due", ErrUnexpectedToken)
	default:
		return nil, malformed("bad wrap TOK_ID")
	}
	flags := token[2]
	if flags&^(wrapSentByAcceptor|wrapSealed|wrapAcceptorSubkey) != 0 || token[3] != 0xff {
		return nil, malformed("bad wrap flags or filler")
	}
	if fromAcceptor := flags&wrapSentByAcceptor != 0; fromAcceptor != c.initiator {
		return nil, ErrReflected
	}
	if flags&wrapSealed == 0 {
		return nil, ErrUnsealed
	}
	if (flags&wrapAcceptorSubkey != 0) != c.acceptorSubkey {
		return nil, ErrKeyFlag
	}
	ec := int(binary.BigEndian.Uint16(token[4:]))
	rrc := int(binary.BigEndian.Uint16(token[6:]))
	seq := binary.BigEndian.Uint64(token[8:])
	if c.recvDone {
		return nil, ErrSequenceExhausted
	}

	body := token[wrapHeaderSize:]
	if len(body) < c.enc.minCipher()+wrapHeaderSize+ec {
		return nil, malformed("wrap ciphertext too short")
	}
	// Undo the right rotation by RRC (RFC 4121 §4.2.5).
	if r := rrc % len(body); r != 0 {
		c.rbuf = append(append(c.rbuf[:0], body[r:]...), body[:r]...)
		body = c.rbuf
	}
	pt, err := c.open.open(c.pbuf[:0], body)
	c.pbuf = pt[:0]
	if err != nil {
		return nil, err
	}
	// pt = confounder | plaintext | EC filler bytes | header copy with
	// RRC = 0.
	pt = pt[confounderSize:]
	if len(pt) < wrapHeaderSize+ec {
		return nil, malformed("wrap plaintext too short")
	}
	cp := pt[len(pt)-wrapHeaderSize:]
	if !bytes.Equal(cp[:6], token[:6]) || cp[6] != 0 || cp[7] != 0 || !bytes.Equal(cp[8:], token[8:wrapHeaderSize]) {
		return nil, fmt.Errorf("%w: wrap header copy differs", ErrDecrypt)
	}
	pt = pt[:len(pt)-wrapHeaderSize-ec]
	if seq != c.recvSeq {
		return nil, &SequenceError{Want: c.recvSeq, Got: seq}
	}
	if len(pt) == 0 && !c.limits.AllowEmpty {
		return nil, ErrEmptyPlaintext
	}
	if c.recvSeq == math.MaxUint64 {
		c.recvDone = true
	} else {
		c.recvSeq++
	}
	return pt, nil
}

// CloseSend zeroes the sending key; every later Wrap fails with
// [ErrContextClosed]. It must not run concurrently with Wrap, but may with
// Unwrap and CloseRecv. It is safe to call more than once.
func (c *Context) CloseSend() {
	clear(c.sendKey.Value)
	c.sendKey.Value = nil
	c.seal = nil // its derived keys: crypto/aes and crypto/hmac offer no way to zero them
	clear(c.wbuf)
}

// CloseRecv zeroes the receiving key; every later Unwrap fails with
// [ErrContextClosed]. It must not run concurrently with Unwrap, but may
// with Wrap and CloseSend. It is safe to call more than once.
func (c *Context) CloseRecv() {
	clear(c.recvKey.Value)
	c.recvKey.Value = nil
	c.open = nil // its derived keys: crypto/aes and crypto/hmac offer no way to zero them
	clear(c.rbuf)
}

// Close is CloseSend and CloseRecv.
func (c *Context) Close() {
	c.CloseSend()
	c.CloseRecv()
}
