// Package box is the NaCl crypto_box primitive as CurveZMQ uses it: X25519
// key agreement through crypto/ecdh (which refuses low-order points, so an
// all-zero shared secret never becomes a key), HSalsa20 to derive the box
// key, and XSalsa20-Poly1305 (NaCl secretbox) to seal and open.
//
// Besides one-shot Seal and Open, it offers SealFlagged and OpenFlagged,
// which treat a leading flags byte and the payload as one plaintext without
// copying them together, so that a MESSAGE is sealed straight from the
// caller's buffer into the output, and opened straight into the caller's
// slot. They are built from x/crypto's salsa20/salsa and poly1305, which
// are marked deprecated as low-level building blocks; the construction is
// exactly secretbox's, and the tests check it against secretbox byte for
// byte.
//
// Why not secretbox itself on the message path: it needs flags‖payload
// contiguous, so a Sealer would copy every payload into a scratch buffer it
// keeps as large as the largest frame it has sent (allocating one per
// message instead would break the 0 allocs of steady-state Seal), and
// Open would move the payload over the flags byte. The time of that copy
// is lost in the crypto: BenchmarkMessageSeal and BenchmarkMessageOpen
// (box_bench_test.go, both variants behind the same Sealer-shaped
// function; 6 runs, benchstat) found no significant difference at 16 B,
// 1 KiB and 64 KiB (secretbox/flagged geomean +1.9 %, every p >= 0.59, on
// a shared 2-core VM), and a paired, interleaved run gave median ratios of
// 1.00 to 1.015. So this package is not faster; it is kept because it
// saves that copy and the second per-connection buffer of plaintext:
// SealFlagged and OpenFlagged allocate nothing and keep nothing.
//
// HSalsa20 comes from salsa20/salsa whatever the message path: x/crypto
// offers it nowhere else but in nacl/box.Precompute, which would redo the
// X25519 without crypto/ecdh's low-order check.
package box

import (
	"crypto/ecdh"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/nacl/secretbox"
	//lint:ignore SA1019 the one-shot Poly1305 of secretbox's construction, on the copy-free message path (see the package doc).
	"golang.org/x/crypto/poly1305"
	//lint:ignore SA1019 HSalsa20 and the XSalsa20 core of secretbox's construction (see the package doc).
	"golang.org/x/crypto/salsa20/salsa"
)

// Overhead is the number of bytes a box adds to its plaintext: the
// Poly1305 tag, which comes first.
const Overhead = secretbox.Overhead

// Key is a shared box key (crypto_box_beforenm), or a secretbox key.
type Key [32]byte

// ErrLowOrder is returned by Shared when the peer's public key is a
// low-order point (the all-zero key among them): the shared secret would
// be all zeros, known to anyone.
var ErrLowOrder = errors.New("box: peer public key is a low-order point")

// Shared computes the box key of priv and the peer's 32-byte public key:
// HSalsa20(X25519(priv, peer)), the value libsodium's crypto_box_beforenm
// computes, but refusing low-order peer keys.
func Shared(priv *ecdh.PrivateKey, peer *[32]byte) (Key, error) {
	pub, err := ParsePublicKey(peer)
	if err != nil {
		return Key{}, err
	}
	return SharedWith(priv, pub)
}

// ParsePublicKey parses a peer's 32-byte X25519 public key for SharedWith.
// A key parsed once serves any number of SharedWith calls, which saves the
// two allocations of parsing it each time (BenchmarkX25519).
func ParsePublicKey(peer *[32]byte) (*ecdh.PublicKey, error) {
	return ecdh.X25519().NewPublicKey(peer[:])
}

// SharedWith is Shared with the peer's key already parsed by
// ParsePublicKey.
func SharedWith(priv *ecdh.PrivateKey, pub *ecdh.PublicKey) (Key, error) {
	secret, err := priv.ECDH(pub)
	if err != nil {
		return Key{}, ErrLowOrder
	}
	var in Key
	copy(in[:], secret)
	clear(secret)
	var k Key
	var zero [16]byte
	salsa.HSalsa20((*[32]byte)(&k), &zero, (*[32]byte)(&in), &salsa.Sigma)
	in.Zero()
	return k, nil
}

// Zero overwrites k.
func (k *Key) Zero() { clear(k[:]) }

// Seal appends the box of msg under key and nonce to dst. dst and msg must
// not overlap.
func Seal(dst, msg []byte, nonce *[24]byte, key *Key) []byte {
	return secretbox.Seal(dst, msg, nonce, (*[32]byte)(key))
}

// Open appends the plaintext of box to dst, or reports false if the box
// does not authenticate. dst and box must not overlap.
func Open(dst, box []byte, nonce *[24]byte, key *Key) ([]byte, bool) {
	return secretbox.Open(dst, box, nonce, (*[32]byte)(key))
}

// setup derives the XSalsa20 subkey and the initial counter block from the
// 24-byte nonce, as NaCl's secretbox does.
func setup(subKey *[32]byte, counter *[16]byte, nonce *[24]byte, key *Key) {
	var hNonce [16]byte
	copy(hNonce[:], nonce[:16])
	salsa.HSalsa20(subKey, &hNonce, (*[32]byte)(key), &salsa.Sigma)
	copy(counter[:], nonce[16:])
}

// SealFlagged appends to dst the box of the plaintext flags‖payload: the
// same bytes as Seal(dst, append([]byte{flags}, payload...), nonce, key),
// without building that plaintext. payload must not overlap the bytes
// appended.
func SealFlagged(dst []byte, flags byte, payload []byte, nonce *[24]byte, key *Key) []byte {
	var subKey [32]byte
	var counter [16]byte
	setup(&subKey, &counter, nonce, key)

	// The first keystream block gives the Poly1305 key (bytes 0-31) and
	// encrypts the first 32 plaintext bytes (bytes 32-63).
	var block [64]byte
	salsa.XORKeyStream(block[:], block[:], &counter, &subKey)
	var macKey [32]byte
	copy(macKey[:], block[:32])

	n := 1 + len(payload)
	ret, out := grow(dst, Overhead+n)
	ct := out[Overhead:]
	ct[0] = block[32] ^ flags
	head := payload
	if len(head) > 31 {
		head = head[:31]
	}
	for i, x := range head {
		ct[1+i] = block[33+i] ^ x
	}
	if rest := payload[len(head):]; len(rest) > 0 {
		binary.LittleEndian.PutUint64(counter[8:], 1)
		salsa.XORKeyStream(ct[32:], rest, &counter, &subKey)
	}
	var tag [16]byte
	poly1305.Sum(&tag, ct, &macKey)
	copy(out, tag[:])
	clear(subKey[:])
	clear(macKey[:])
	return ret
}

// OpenFlagged opens a box whose plaintext is flags‖payload. It appends the
// payload to dst and returns the flags byte, or reports false if the box
// does not authenticate or holds no flags byte. dst must not overlap box.
func OpenFlagged(dst, box []byte, nonce *[24]byte, key *Key) (flags byte, out []byte, ok bool) {
	if len(box) < Overhead+1 {
		return 0, dst, false
	}
	var subKey [32]byte
	var counter [16]byte
	setup(&subKey, &counter, nonce, key)
	var block [64]byte
	salsa.XORKeyStream(block[:], block[:], &counter, &subKey)
	var macKey [32]byte
	copy(macKey[:], block[:32])
	var tag [16]byte
	copy(tag[:], box)
	ct := box[Overhead:]
	if !poly1305.Verify(&tag, ct, &macKey) {
		clear(subKey[:])
		return 0, dst, false
	}
	clear(macKey[:])
	flags = block[32] ^ ct[0]
	ct = ct[1:]
	ret, pt := grow(dst, len(ct))
	head := ct
	if len(head) > 31 {
		head = head[:31]
	}
	for i, x := range head {
		pt[i] = block[33+i] ^ x
	}
	if rest := ct[len(head):]; len(rest) > 0 {
		binary.LittleEndian.PutUint64(counter[8:], 1)
		salsa.XORKeyStream(pt[31:], rest, &counter, &subKey)
	}
	clear(subKey[:])
	return flags, ret, true
}

// grow extends dst by n bytes and returns the whole slice and the new tail.
func grow(dst []byte, n int) (whole, tail []byte) {
	if total := len(dst) + n; cap(dst) >= total {
		whole = dst[:total]
	} else {
		whole = make([]byte, total, total+total/4)
		copy(whole, dst)
	}
	return whole, whole[len(dst):]
}

// Equal compares two secrets in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
