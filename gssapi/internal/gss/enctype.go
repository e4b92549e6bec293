// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
)

// Enctype numbers (RFC 3962, RFC 8009): the only ones accepted.
const (
	AES128CTSHMACSHA196    int32 = 17 // aes128-cts-hmac-sha1-96
	AES256CTSHMACSHA196    int32 = 18 // aes256-cts-hmac-sha1-96
	AES128CTSHMACSHA256128 int32 = 19 // aes128-cts-hmac-sha256-128
	AES256CTSHMACSHA384192 int32 = 20 // aes256-cts-hmac-sha384-192
)

// Enctypes lists the supported enctypes, strongest first.
var Enctypes = []int32{AES256CTSHMACSHA384192, AES256CTSHMACSHA196, AES128CTSHMACSHA256128, AES128CTSHMACSHA196}

// Key usages of RFC 4120 §7.5.1 and RFC 4121 §2 that this package uses.
const (
	usageTicket        = 2  // EncTicketPart, under the service key
	usageAuthenticator = 11 // AP-REQ Authenticator, under the session key
	usageAPRepPart     = 12 // EncAPRepPart, under the session key
	usageAcceptorSeal  = 22 // Wrap sealed by the acceptor
	usageInitiatorSeal = 24 // Wrap sealed by the initiator
)

// confounderSize is the AES block size: every AES enctype starts its
// plaintext with one random block.
const confounderSize = 16

// An encInfo gives the sizes of one enctype, from the RFCs rather than from
// gokrb5: gokrb5 v8.4.4 says 24 bytes for an aes256-sha384 key, which is 32.
type encInfo struct {
	id      int32
	keySize int // protocol key bytes
	macSize int // truncated HMAC bytes at the end of a ciphertext
	et      etype.EType
}

func lookupEnctype(id int32) (encInfo, error) {
	var e encInfo
	switch id {
	case AES128CTSHMACSHA196:
		e = encInfo{id: id, keySize: 16, macSize: 12}
	case AES256CTSHMACSHA196:
		e = encInfo{id: id, keySize: 32, macSize: 12}
	case AES128CTSHMACSHA256128:
		e = encInfo{id: id, keySize: 16, macSize: 16}
	case AES256CTSHMACSHA384192:
		e = encInfo{id: id, keySize: 32, macSize: 24}
	default:
		return e, fmt.Errorf("%w: %d", ErrUnsupportedEnctype, id)
	}
	et, err := crypto.GetEtype(id)
	if err != nil {
		return e, fmt.Errorf("%w: %d", ErrUnsupportedEnctype, id)
	}
	e.et = et
	return e, nil
}

// minCipher is the shortest ciphertext of this enctype: the confounder and
// the MAC around an empty plaintext. Anything shorter would make gokrb5
// v8.4.4 slice out of range.
func (e encInfo) minCipher() int { return confounderSize + e.macSize }

// A Key is a Kerberos protocol key: an enctype and its bytes. Its String
// and Format methods never print the bytes.
type Key struct {
	Enctype int32
	Value   []byte
}

const redactedKey = "gss.Key(REDACTED)"

// String returns "gss.Key(REDACTED)".
func (k Key) String() string { return redactedKey }

// GoString returns "gss.Key(REDACTED)", so that %#v hides the key too.
func (k Key) GoString() string { return redactedKey }

// Format implements [fmt.Formatter]: every verb prints "gss.Key(REDACTED)".
func (k Key) Format(f fmt.State, verb rune) { io.WriteString(f, redactedKey) }

// Equal reports whether k and o are the same key, in constant time over the
// key bytes.
func (k Key) Equal(o Key) bool {
	return k.Enctype == o.Enctype && subtle.ConstantTimeCompare(k.Value, o.Value) == 1
}

// check returns the enctype of k after checking its size.
func (k Key) check() (encInfo, error) {
	e, err := lookupEnctype(k.Enctype)
	if err != nil {
		return e, err
	}
	if len(k.Value) != e.keySize {
		return e, fmt.Errorf("%w: %d-byte key for enctype %d", ErrMalformed, len(k.Value), k.Enctype)
	}
	return e, nil
}

// NewKey returns a fresh random key of the given enctype, sized from the
// RFCs (see encInfo).
func NewKey(rand io.Reader, enctype int32) (Key, error) {
	e, err := lookupEnctype(enctype)
	if err != nil {
		return Key{}, err
	}
	v := make([]byte, e.keySize)
	if _, err := io.ReadFull(rand, v); err != nil {
		return Key{}, fmt.Errorf("gssapi: reading random key: %w", err)
	}
	return Key{Enctype: enctype, Value: v}, nil
}

// guard runs f, a call into gokrb5, and turns a panic into ErrMalformed.
func guard(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: kerberos library panicked", ErrMalformed, what)
		}
	}()
	return f()
}

// decrypt checks the length of ciphertext for k's enctype, then decrypts
// and verifies it with gokrb5 under the recover guard. A failed integrity
// check is ErrDecrypt, with no detail.
func decrypt(k Key, usage uint32, ciphertext []byte) ([]byte, error) {
	e, err := k.check()
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < e.minCipher() {
		return nil, fmt.Errorf("%w: %d-byte ciphertext, enctype %d needs at least %d", ErrMalformed, len(ciphertext), e.id, e.minCipher())
	}
	var pt []byte
	err = guard("decrypt", func() error {
		var derr error
		pt, derr = e.et.DecryptMessage(k.Value, ciphertext, usage)
		return derr
	})
	if err != nil {
		if isMalformed(err) {
			return nil, err
		}
		return nil, ErrDecrypt
	}
	return pt, nil
}

// encrypt seals plaintext under k with gokrb5 under the recover guard.
func encrypt(k Key, usage uint32, plaintext []byte) ([]byte, error) {
	e, err := k.check()
	if err != nil {
		return nil, err
	}
	var ct []byte
	err = guard("encrypt", func() error {
		var eerr error
		_, ct, eerr = e.et.EncryptMessage(k.Value, plaintext, usage)
		return eerr
	})
	if err != nil {
		return nil, fmt.Errorf("gssapi: encrypting: %w", err)
	}
	return ct, nil
}

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }

// Decrypt is decrypt for the module root's KDC exchange: the length guard,
// gokrb5 under a recover, and ErrDecrypt on an integrity failure.
func Decrypt(k Key, usage uint32, ciphertext []byte) ([]byte, error) {
	return decrypt(k, usage, ciphertext)
}

// CheckKey reports whether k is of a supported enctype and the right size.
func CheckKey(k Key) error {
	_, err := k.check()
	return err
}
