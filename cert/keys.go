package cert

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/tilinna/z85"
)

// KeySize is the size in bytes of a CURVE public or secret key.
const KeySize = 32

// KeyTextSize is the length of the Z85 text of a key.
const KeyTextSize = 40

// A PublicKey is a CURVE (X25519) public key. A raw 32-byte key converts
// directly: PublicKey(b) for a [32]byte b, or PublicKey(s) for a slice s of
// length 32.
type PublicKey [KeySize]byte

// ErrNonCanonicalKey means a public key is not in canonical form: its bit
// 255 is set, or it is not below 2^255-19 (see [PublicKey.IsCanonical]).
// [ParsePublicKey] returns it wrapped in a [*Z85Error].
var ErrNonCanonicalKey = errors.New("cert: public key is not canonical")

// ParsePublicKey parses the 40-character Z85 text of a public key. Errors are
// [*Z85Error] values; one that wraps [ErrNonCanonicalKey] reports text that
// decodes to a key that is not canonical (see [PublicKey.IsCanonical]),
// which is refused so that a store of keys never holds two spellings of one
// key. To use 32 raw bytes instead, convert them (see [PublicKey]).
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	if err := parseKey(k[:], s, "parse public key", false); err != nil {
		return PublicKey{}, err
	}
	if !k.IsCanonical() {
		return PublicKey{}, &Z85Error{Op: "parse public key", Err: ErrNonCanonicalKey, Len: len(s), Offset: -1}
	}
	return k, nil
}

// IsCanonical reports whether k is the canonical encoding of an X25519
// public key: a little-endian number below 2^255-19, and so with bit 255
// clear.
//
// X25519 (RFC 7748, section 5) ignores bit 255 and reduces the rest modulo
// 2^255-19, so each canonical key has a twin with bit 255 set (and the 19
// keys below 19 have two more twins each) that agrees on the same secrets:
// one secret key would have two or more public keys, and a rule that denies
// one of them could be evaded with another. Every key pair generator
// produces canonical keys (libsodium's crypto_box_keypair and crypto/ecdh
// both reduce fully and clear bit 255), so refusing the other encodings
// costs no real peer anything.
func (k PublicKey) IsCanonical() bool {
	if k[31]&0x80 != 0 {
		return false
	}
	// With bit 255 clear, k >= 2^255-19 only for 7f ff..ff (ed..ff), in
	// little-endian order: the top byte 0x7f, bytes 30..1 all 0xff and the
	// low byte at least 0xed.
	if k[31] != 0x7f || k[0] < 0xed {
		return true
	}
	for _, b := range k[1:31] {
		if b != 0xff {
			return true
		}
	}
	return false
}

// String returns the 40-character Z85 text of k.
func (k PublicKey) String() string {
	var b [KeyTextSize]byte
	z85.Encode(b[:], k[:])
	return string(b[:])
}

// IsZero reports whether k is all zero bytes, which is never a usable key.
func (k PublicKey) IsZero() bool {
	var zero PublicKey
	return k == zero
}

// A SecretKey is a CURVE (X25519) secret key. It never prints its bytes: all
// fmt verbs give "cert.SecretKey(REDACTED)". Use [SecretKey.Bytes] or
// [SecretKey.Z85] to export it on purpose. A raw 32-byte key converts
// directly: SecretKey(b) for a [32]byte b.
type SecretKey [KeySize]byte

const redactedSecret = "cert.SecretKey(REDACTED)"

// ParseSecretKey parses the 40-character Z85 text of a secret key. Errors are
// [*Z85Error] values that hold no part of s. To use 32 raw bytes instead,
// convert them (see [SecretKey]).
func ParseSecretKey(s string) (SecretKey, error) {
	var k SecretKey
	if err := parseKey(k[:], s, "parse secret key", true); err != nil {
		return SecretKey{}, err
	}
	return k, nil
}

// Bytes returns a copy of the 32 bytes of k. The copy is the caller's to
// clear (clear(b)) once it has been used.
func (k SecretKey) Bytes() []byte {
	b := make([]byte, KeySize)
	copy(b, k[:])
	return b
}

// Z85 returns the 40-character Z85 text of k. Treat it as a secret.
func (k SecretKey) Z85() string {
	var b [KeyTextSize]byte
	z85.Encode(b[:], k[:])
	return string(b[:])
}

// String returns "cert.SecretKey(REDACTED)".
func (k SecretKey) String() string { return redactedSecret }

// GoString returns "cert.SecretKey(REDACTED)", so that %#v hides k too.
func (k SecretKey) GoString() string { return redactedSecret }

// Format implements [fmt.Formatter] so that every verb, including %x, %X,
// %q and %#v, prints "cert.SecretKey(REDACTED)" instead of the key.
func (k SecretKey) Format(f fmt.State, verb rune) {
	io.WriteString(f, redactedSecret)
}

// IsZero reports whether k is all zero bytes.
func (k SecretKey) IsZero() bool {
	var zero SecretKey
	return subtle.ConstantTimeCompare(k[:], zero[:]) == 1
}

// PublicKey returns the public key that belongs to k, X25519(k, 9), computed
// with crypto/ecdh.
func (k SecretKey) PublicKey() (PublicKey, error) {
	defer clear(k[:]) // k is a copy; the caller's key is untouched
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		return PublicKey{}, fmt.Errorf("cert: X25519 secret key: %w", err)
	}
	return PublicKey(priv.PublicKey().Bytes()), nil
}

// A KeyPair is a CURVE public key and the secret key it belongs to.
type KeyPair struct {
	Public PublicKey
	Secret SecretKey
}

// GenerateKeyPair returns a new X25519 key pair. If rand is nil, the secret
// key comes from crypto/ecdh's secure source. Otherwise it is the next 32
// bytes read from rand, which lets tests make deterministic keys; unlike
// [ecdh.Curve.GenerateKey] since Go 1.26, a non-nil rand is honoured.
func GenerateKeyPair(rand io.Reader) (KeyPair, error) {
	var priv *ecdh.PrivateKey
	var err error
	if rand == nil {
		priv, err = ecdh.X25519().GenerateKey(randReader)
	} else {
		var b [KeySize]byte
		if _, err = io.ReadFull(rand, b[:]); err == nil {
			priv, err = ecdh.X25519().NewPrivateKey(b[:])
		}
		clear(b[:])
	}
	if err != nil {
		return KeyPair{}, fmt.Errorf("cert: generate key pair: %w", err)
	}
	secret := priv.Bytes()
	kp := KeyPair{Public: PublicKey(priv.PublicKey().Bytes()), Secret: SecretKey(secret)}
	clear(secret) // the copy Bytes made; priv keeps its own, which Go cannot clear
	return kp, nil
}

// randReader is crypto/rand.Reader, named apart from GenerateKeyPair's
// parameter.
var randReader = rand.Reader

// parseKey decodes the 40-character Z85 text s into dst.
func parseKey(dst []byte, s, op string, secret bool) error {
	if len(s) != KeyTextSize {
		return &Z85Error{Op: op, Err: ErrZ85Length, Len: len(s), Offset: -1}
	}
	if err := checkZ85(s, op, secret); err != nil {
		return err
	}
	if _, err := z85.Decode(dst, []byte(s)); err != nil {
		// Unreachable: checkZ85 accepts only what z85.Decode accepts.
		return &Z85Error{Op: op, Err: ErrZ85Char, Len: len(s), Offset: -1}
	}
	return nil
}
