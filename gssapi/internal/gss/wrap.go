// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"encoding/binary"
	"fmt"
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
	wbuf     []byte

	// Receiving side, owned by Unwrap.
	recvKey  Key
	recvSeq  uint64
	recvDone bool
	rbuf     []byte
}

// newContext checks the key and returns a context. sendSeq and recvSeq are
// the initial sequence numbers of each direction.
func newContext(key Key, initiator, acceptorSubkey bool, sendSeq, recvSeq uint64, limits WrapLimits) (*Context, error) {
	enc, err := key.check()
	if err != nil {
		return nil, err
	}
	return &Context{
		sendKey: Key{Enctype: key.Enctype, Value: append([]byte(nil), key.Value...)},
		recvKey: Key{Enctype: key.Enctype, Value: append([]byte(nil), key.Value...)},
		enc:     enc, initiator: initiator, acceptorSubkey: acceptorSubkey,
		limits: limits, sendSeq: sendSeq, recvSeq: recvSeq,
	}, nil
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

	c.wbuf = append(append(c.wbuf[:0], plaintext...), hdr[:]...)
	ct, err := encrypt(c.sendKey, c.usage(!c.initiator), c.wbuf)
	clear(c.wbuf)
	if err != nil {
		return dst, err
	}
	dst = append(dst, hdr[:]...)
	dst = append(dst, ct...)
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
	if c.limits.MaxToken > 0 && len(token) > c.limits.MaxToken {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrTokenTooLarge, len(token), c.limits.MaxToken)
	}
	if c.recvKey.Value == nil {
		return dst, ErrContextClosed
	}
	if len(token) < wrapHeaderSize {
		return dst, malformed("short wrap token")
	}
	switch id := TokenID(token[0])<<8 | TokenID(token[1]); id {
	case TokWrap:
	case TokMIC:
		return dst, fmt.Errorf("%w: MIC token where a Wrap token was due", ErrUnexpectedToken)
	default:
		return dst, malformed("bad wrap TOK_ID")
	}
	flags := token[2]
	if flags&^(wrapSentByAcceptor|wrapSealed|wrapAcceptorSubkey) != 0 || token[3] != 0xff {
		return dst, malformed("bad wrap flags or filler")
	}
	if fromAcceptor := flags&wrapSentByAcceptor != 0; fromAcceptor != c.initiator {
		return dst, ErrReflected
	}
	if flags&wrapSealed == 0 {
		return dst, ErrUnsealed
	}
	if (flags&wrapAcceptorSubkey != 0) != c.acceptorSubkey {
		return dst, ErrKeyFlag
	}
	ec := int(binary.BigEndian.Uint16(token[4:]))
	rrc := int(binary.BigEndian.Uint16(token[6:]))
	seq := binary.BigEndian.Uint64(token[8:])
	if c.recvDone {
		return dst, ErrSequenceExhausted
	}

	body := token[wrapHeaderSize:]
	if len(body) < c.enc.minCipher()+wrapHeaderSize+ec {
		return dst, malformed("wrap ciphertext too short")
	}
	// Undo the right rotation by RRC (RFC 4121 §4.2.5).
	if r := rrc % len(body); r != 0 {
		c.rbuf = append(append(c.rbuf[:0], body[r:]...), body[:r]...)
		body = c.rbuf
	}
	pt, err := decrypt(c.recvKey, c.usage(c.initiator), body)
	if err != nil {
		return dst, err
	}
	// pt = plaintext | EC filler bytes | header copy with RRC = 0.
	if len(pt) < wrapHeaderSize+ec {
		return dst, malformed("wrap plaintext too short")
	}
	cp := pt[len(pt)-wrapHeaderSize:]
	if !bytes.Equal(cp[:6], token[:6]) || cp[6] != 0 || cp[7] != 0 || !bytes.Equal(cp[8:], token[8:wrapHeaderSize]) {
		return dst, fmt.Errorf("%w: wrap header copy differs", ErrDecrypt)
	}
	pt = pt[:len(pt)-wrapHeaderSize-ec]
	if seq != c.recvSeq {
		return dst, &SequenceError{Want: c.recvSeq, Got: seq}
	}
	if len(pt) == 0 && !c.limits.AllowEmpty {
		return dst, ErrEmptyPlaintext
	}
	if c.recvSeq == math.MaxUint64 {
		c.recvDone = true
	} else {
		c.recvSeq++
	}
	return append(dst, pt...), nil
}

// CloseSend zeroes the sending key; every later Wrap fails with
// [ErrContextClosed]. It must not run concurrently with Wrap, but may with
// Unwrap and CloseRecv. It is safe to call more than once.
func (c *Context) CloseSend() {
	clear(c.sendKey.Value)
	c.sendKey.Value = nil
	clear(c.wbuf)
}

// CloseRecv zeroes the receiving key; every later Unwrap fails with
// [ErrContextClosed]. It must not run concurrently with Unwrap, but may
// with Wrap and CloseSend. It is safe to call more than once.
func (c *Context) CloseRecv() {
	clear(c.recvKey.Value)
	c.recvKey.Value = nil
	clear(c.rbuf)
}

// Close is CloseSend and CloseRecv.
func (c *Context) Close() {
	c.CloseSend()
	c.CloseRecv()
}
