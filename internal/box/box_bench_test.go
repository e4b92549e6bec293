package box

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"testing"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/secretbox"
)

// The message path compared two ways, as mechanism.Sealer.Seal and
// mechanism.Opener.Open use it: Seal appends the box of flags‖payload to a
// buffer that already holds the frame header, the MESSAGE name and the
// short nonce; Open appends the payload (without the flags byte) to an
// empty slot of the caller's message. "flagged" is this package's
// SealFlagged/OpenFlagged; "secretbox" is x/crypto's nacl/secretbox, which
// needs flags‖payload contiguous to seal (a copy into a scratch buffer the
// Sealer would keep) and leaves the flags byte in front of the payload
// when it opens (a move of the payload).

// messageHeader is what precedes the box in a MESSAGE frame: a long frame
// header (9), 07 "MESSAGE" (8) and the short nonce (8).
const messageHeader = 9 + 8 + 8

type (
	sealFunc func(dst []byte, flags byte, payload []byte, nonce *[24]byte, key *Key) []byte
	openFunc func(dst, box []byte, nonce *[24]byte, key *Key) (byte, []byte, bool)
)

// secretboxSealer returns a sealFunc built on secretbox.Seal, with the
// scratch buffer a Sealer would keep between calls.
func secretboxSealer() sealFunc {
	var scratch []byte
	return func(dst []byte, flags byte, payload []byte, nonce *[24]byte, key *Key) []byte {
		scratch = append(append(scratch[:0], flags), payload...)
		return secretbox.Seal(dst, scratch, nonce, (*[32]byte)(key))
	}
}

// secretboxOpen opens with secretbox.Open and moves the payload over the
// flags byte.
func secretboxOpen(dst, box []byte, nonce *[24]byte, key *Key) (byte, []byte, bool) {
	out, ok := secretbox.Open(dst, box, nonce, (*[32]byte)(key))
	if !ok || len(out) == len(dst) {
		return 0, dst, false
	}
	flags := out[len(dst)]
	copy(out[len(dst):], out[len(dst)+1:])
	return flags, out[:len(out)-1], true
}

var messageVariants = []struct {
	name string
	seal func() sealFunc
	open openFunc
}{
	{"flagged", func() sealFunc { return SealFlagged }, OpenFlagged},
	{"secretbox", secretboxSealer, secretboxOpen},
}

var messageSizes = []int{16, 1 << 10, 64 << 10}

// TestMessageVariantsAgree: both variants of the benchmark give the same
// bytes, so the benchmark compares equal work.
func TestMessageVariantsAgree(t *testing.T) {
	var key Key
	var nonce [24]byte
	key[0], nonce[0] = 1, 2
	for _, n := range []int{0, 1, 31, 32, 33, 1000} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		a := messageVariants[0].seal()(nil, 3, payload, &nonce, &key)
		b := messageVariants[1].seal()(nil, 3, payload, &nonce, &key)
		if string(a) != string(b) {
			t.Fatalf("n=%d: sealed boxes differ", n)
		}
		for _, v := range messageVariants {
			f, pt, ok := v.open([]byte("x"), a, &nonce, &key)
			if !ok || f != 3 || string(pt[1:]) != string(payload) || pt[0] != 'x' {
				t.Fatalf("%s n=%d: open gave %v %d %q", v.name, n, ok, f, pt)
			}
		}
	}
}

// BenchmarkMessageSeal compares the two ways to seal a MESSAGE; run it with
// -count and benchstat (see the package doc for the figures).
func BenchmarkMessageSeal(b *testing.B) {
	var key Key
	var nonce [24]byte
	for _, n := range messageSizes {
		for _, v := range messageVariants {
			b.Run(fmt.Sprintf("%s/%d", v.name, n), func(b *testing.B) {
				seal := v.seal()
				payload := make([]byte, n)
				buf := make([]byte, messageHeader, messageHeader+Overhead+1+n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					buf = seal(buf[:messageHeader], 1, payload, &nonce, &key)
				}
			})
		}
	}
}

// BenchmarkMessageOpen compares the two ways to open a MESSAGE into an
// empty slot of the caller's message.
func BenchmarkMessageOpen(b *testing.B) {
	var key Key
	var nonce [24]byte
	for _, n := range messageSizes {
		for _, v := range messageVariants {
			b.Run(fmt.Sprintf("%s/%d", v.name, n), func(b *testing.B) {
				sealed := SealFlagged(nil, 1, make([]byte, n), &nonce, &key)
				slot := make([]byte, 0, n+1)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					var ok bool
					if _, slot, ok = v.open(slot[:0], sealed, &nonce, &key); !ok {
						b.Fatal("open")
					}
				}
			})
		}
	}
}

// BenchmarkX25519 compares what an X25519 costs through crypto/ecdh, which
// Shared uses, with golang.org/x/crypto/curve25519, in time and
// allocations:
//
//   - ecdh/keygen: ecdh.X25519().NewPrivateKey from 32 random bytes (a
//     transient key pair; it computes the public key);
//   - ecdh/shared: NewPublicKey of the peer's key, then ECDH (Shared);
//   - ecdh/shared-parsed: ECDH with a peer key parsed beforehand;
//   - curve25519/keygen: curve25519.X25519(scalar, Basepoint);
//   - curve25519/shared: curve25519.X25519(scalar, peer).
//
// x/crypto's curve25519 is built on crypto/ecdh (since Go 1.20): each call
// parses both keys, and so pays a base-point multiplication for the private
// key it makes on top of the one it was asked for.
func BenchmarkX25519(b *testing.B) {
	scalar := bytes.Repeat([]byte{7}, 32)
	priv, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		b.Fatal(err)
	}
	peer := [32]byte(priv.PublicKey().Bytes())
	parsed, _ := ecdh.X25519().NewPublicKey(peer[:])
	b.Run("ecdh/keygen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdh.X25519().NewPrivateKey(scalar); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ecdh/shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Shared(priv, &peer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ecdh/shared-parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := priv.ECDH(parsed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("curve25519/keygen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := curve25519.X25519(scalar, curve25519.Basepoint); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("curve25519/shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := curve25519.X25519(scalar, peer[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
