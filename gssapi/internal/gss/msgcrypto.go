// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
)

// This file is the Kerberos encryption of the message path: the Wrap
// tokens' E(confounder | plaintext | header) for the four AES enctypes,
// with the keys of one key usage derived once per context instead of once
// per message. gokrb5's EncryptMessage and DecryptMessage derive both keys
// again on every call and copy the data several times (about 95
// allocations for a 16-byte message); a msgCipher allocates nothing per
// message. The handshake's few encryptions still go through gokrb5.
//
// What it computes, from the RFCs:
//
//   - aes128/256-cts-hmac-sha1-96 (RFC 3962, under RFC 3961's simplified
//     profile): Ke = DK(key, usage | 0xAA), Ki = DK(key, usage | 0x55),
//     where DK encrypts the n-fold of the constant with the base key and
//     chains AES blocks to the key's length; the ciphertext is
//     AES-CTS(Ke, IV 0, confounder | plaintext) followed by the first 12
//     bytes of HMAC-SHA1(Ki, confounder | plaintext).
//   - aes128-cts-hmac-sha256-128 and aes256-cts-hmac-sha384-192 (RFC 8009):
//     Ke and Ki come from KDF-HMAC-SHA2 (HMAC(key, 00000001 | label | 00 |
//     bits)); the ciphertext is C = AES-CTS(Ke, IV 0, confounder |
//     plaintext) followed by the first 16 (24) bytes of HMAC(Ki, IV | C).
//
// AES-CTS is CBC with the last two blocks swapped and the last one cut to
// the length of the input (RFC 3962 §5; a one-block input is one AES
// block).

// A msgCipher encrypts or decrypts under one key usage of one context. It
// is not safe for concurrent use; a Context has one per direction.
type msgCipher struct {
	block   cipher.Block // Ke
	mac     hash.Hash    // HMAC keyed with Ki
	macSize int
	rfc8009 bool
	sum     [sha512.Size384]byte // the untruncated MAC
	prev    [aes.BlockSize]byte  // CBC chaining
	tmp     [aes.BlockSize]byte
	dn, en1 [aes.BlockSize]byte // ctsDecrypt's last two blocks
}

// zeroIV is the IV of every message: RFC 8009's MAC covers it too.
var zeroIV [aes.BlockSize]byte

// newMsgCipher derives the encryption and integrity keys of usage from k.
func newMsgCipher(k Key, usage uint32) (*msgCipher, error) {
	e, err := k.check()
	if err != nil {
		return nil, err
	}
	var ke, ki []byte
	var newHash func() hash.Hash
	switch e.id {
	case AES128CTSHMACSHA196, AES256CTSHMACSHA196:
		newHash = sha1.New
		if ke, err = dk(k.Value, usageConstant(usage, 0xAA)); err != nil {
			return nil, err
		}
		if ki, err = dk(k.Value, usageConstant(usage, 0x55)); err != nil {
			return nil, err
		}
	case AES128CTSHMACSHA256128:
		newHash = sha256.New
		ke = kdfHMACSHA2(sha256.New, k.Value, usageConstant(usage, 0xAA), 128)
		ki = kdfHMACSHA2(sha256.New, k.Value, usageConstant(usage, 0x55), 128)
	case AES256CTSHMACSHA384192:
		newHash = sha512.New384
		ke = kdfHMACSHA2(sha512.New384, k.Value, usageConstant(usage, 0xAA), 256)
		ki = kdfHMACSHA2(sha512.New384, k.Value, usageConstant(usage, 0x55), 192)
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedEnctype, e.id)
	}
	block, err := aes.NewCipher(ke)
	clear(ke)
	if err != nil {
		return nil, fmt.Errorf("%w: derived key: %v", ErrMalformed, err)
	}
	m := &msgCipher{block: block, mac: hmac.New(newHash, ki), macSize: e.macSize,
		rfc8009: e.id == AES128CTSHMACSHA256128 || e.id == AES256CTSHMACSHA384192}
	clear(ki)
	return m, nil
}

// usageConstant is the 5-byte derivation constant: the usage, big-endian,
// then the key's purpose (0xAA encryption, 0x55 integrity).
func usageConstant(usage uint32, purpose byte) []byte {
	c := binary.BigEndian.AppendUint32(make([]byte, 0, 5), usage)
	return append(c, purpose)
}

// dk is RFC 3961's DK for the AES enctypes: the n-fold of constant to one
// block, encrypted with key, then each further block the encryption of the
// one before, until there are len(key) bytes (random-to-key is the
// identity for AES).
func dk(key, constant []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: base key: %v", ErrMalformed, err)
	}
	out := make([]byte, 0, len(key)+aes.BlockSize)
	in := nfold(constant, aes.BlockSize)
	var b [aes.BlockSize]byte
	for len(out) < len(key) {
		block.Encrypt(b[:], in)
		out = append(out, b[:]...)
		in = b[:]
	}
	return out[:len(key)], nil
}

// nfold is RFC 3961's n-fold of in to n bytes: copies of in, each rotated
// 13 bits further right than the one before, laid end to end to the least
// common multiple of both lengths, then added in n-byte chunks with
// one's-complement (end-around carry) addition.
func nfold(in []byte, n int) []byte {
	inBits := len(in) * 8
	total := lcm(len(in), n)
	buf := make([]byte, total)
	for i := 0; i < total/len(in); i++ {
		rot := (13 * i) % inBits
		for j := 0; j < inBits; j++ {
			src := (j - rot + inBits) % inBits
			if in[src/8]&(0x80>>(src%8)) != 0 {
				buf[i*len(in)+j/8] |= 0x80 >> (j % 8)
			}
		}
	}
	out := make([]byte, n)
	for off := 0; off < total; off += n {
		carry := 0
		for j := n - 1; j >= 0; j-- {
			s := int(out[j]) + int(buf[off+j]) + carry
			out[j] = byte(s)
			carry = s >> 8
		}
		for j := n - 1; carry != 0 && j >= 0; j-- {
			s := int(out[j]) + carry
			out[j] = byte(s)
			carry = s >> 8
			if j == 0 && carry != 0 {
				j = n // end-around carry once more from the right
			}
		}
	}
	return out
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

// kdfHMACSHA2 is RFC 8009's KDF-HMAC-SHA2(key, label, bits): the first
// bits/8 bytes of HMAC(key, 00000001 | label | 00 | bits as 4 bytes).
func kdfHMACSHA2(h func() hash.Hash, key, label []byte, bits int) []byte {
	m := hmac.New(h, key)
	var ctr [4]byte
	binary.BigEndian.PutUint32(ctr[:], 1)
	m.Write(ctr[:])
	m.Write(label)
	m.Write([]byte{0})
	binary.BigEndian.PutUint32(ctr[:], uint32(bits))
	m.Write(ctr[:])
	return m.Sum(nil)[:bits/8]
}

// overhead is what seal adds to its input: the MAC (the confounder is part
// of the input).
func (m *msgCipher) overhead() int { return m.macSize }

// seal appends to dst the ciphertext of plain (the confounder, then the
// plaintext, then the header copy: at least one block) and its MAC.
func (m *msgCipher) seal(dst, plain []byte) []byte {
	n := len(plain)
	start := len(dst)
	dst = grow(dst, n+m.macSize)
	ct := dst[start : start+n]
	m.ctsEncrypt(ct, plain)
	m.mac.Reset()
	if m.rfc8009 {
		m.mac.Write(zeroIV[:])
		m.mac.Write(ct)
	} else {
		m.mac.Write(plain)
	}
	sum := m.mac.Sum(m.sum[:0])
	copy(dst[start+n:], sum[:m.macSize])
	return dst
}

// open checks and decrypts ct (ciphertext then MAC, at least one block and
// the MAC long: the caller checks) and appends the plaintext to dst.
func (m *msgCipher) open(dst, ct []byte) ([]byte, error) {
	n := len(ct) - m.macSize
	body, tag := ct[:n], ct[n:]
	if m.rfc8009 {
		m.mac.Reset()
		m.mac.Write(zeroIV[:])
		m.mac.Write(body)
		if subtle.ConstantTimeCompare(m.mac.Sum(m.sum[:0])[:m.macSize], tag) != 1 {
			return dst, ErrDecrypt
		}
	}
	start := len(dst)
	dst = grow(dst, n)
	pt := dst[start : start+n]
	m.ctsDecrypt(pt, body)
	if !m.rfc8009 {
		m.mac.Reset()
		m.mac.Write(pt)
		if subtle.ConstantTimeCompare(m.mac.Sum(m.sum[:0])[:m.macSize], tag) != 1 {
			clear(pt)
			return dst[:start], ErrDecrypt
		}
	}
	return dst, nil
}

// grow extends b by n bytes, reallocating only when its capacity is short.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n+len(b)/4)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// ctsEncrypt encrypts src (at least one block) into dst (as long) with
// AES-CBC under a zero IV, then swaps the last two blocks and cuts the
// last to the length of the input's last partial block.
func (m *msgCipher) ctsEncrypt(dst, src []byte) {
	const bs = aes.BlockSize
	n := len(src)
	m.prev = [bs]byte{}
	if n == bs {
		m.block.Encrypt(dst, src)
		return
	}
	tail := n % bs
	if tail == 0 {
		tail = bs
	}
	full := n - tail // the blocks before the last, partial or not
	for off := 0; off < full; off += bs {
		subtle.XORBytes(m.tmp[:], src[off:off+bs], m.prev[:])
		m.block.Encrypt(m.prev[:], m.tmp[:])
		copy(dst[off:], m.prev[:]) // moved below for the last full block
	}
	// m.prev = E(n-1), the last full ciphertext block. The last block is
	// the partial plaintext, zero-padded, chained to it.
	last := full - bs
	var en [bs]byte
	copy(en[:], m.prev[:])
	m.tmp = en
	subtle.XORBytes(m.tmp[:tail], src[full:], en[:tail])
	m.block.Encrypt(dst[last:last+bs], m.tmp[:]) // E(n) goes where E(n-1) was
	copy(dst[full:], en[:tail])                  // and E(n-1), cut, comes last
	clear(m.tmp[:])
}

// ctsDecrypt undoes ctsEncrypt: src (at least one block) into dst.
func (m *msgCipher) ctsDecrypt(dst, src []byte) {
	const bs = aes.BlockSize
	n := len(src)
	if n == bs {
		m.block.Decrypt(dst, src)
		return
	}
	tail := n % bs
	if tail == 0 {
		tail = bs
	}
	full := n - tail
	last := full - bs // src[last:full] is E(n); src[full:] is E(n-1) cut to tail
	// CBC over the blocks before the last two.
	m.prev = [bs]byte{}
	for off := 0; off < last; off += bs {
		m.block.Decrypt(m.tmp[:], src[off:off+bs])
		subtle.XORBytes(dst[off:off+bs], m.tmp[:], m.prev[:])
		copy(m.prev[:], src[off:off+bs])
	}
	// D(E(n)) = P(n) padded XOR E(n-1); E(n-1)'s missing bytes are the
	// padding's, so they come out of D(E(n)) as they are.
	dn, en1 := m.dn[:], m.en1[:]
	m.block.Decrypt(dn, src[last:full])
	copy(en1, src[full:])
	copy(en1[tail:], dn[tail:])
	subtle.XORBytes(dst[full:], dn[:tail], en1[:tail])
	m.block.Decrypt(m.tmp[:], en1)
	subtle.XORBytes(dst[last:full], m.tmp[:], m.prev[:])
	clear(m.tmp[:])
	clear(dn)
}
