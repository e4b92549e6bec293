package box

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

func TestFlaggedMatchesSecretbox(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var key Key
	var nonce [24]byte
	for n := 0; n < 300; n++ {
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for i := range nonce {
			nonce[i] = byte(r.Uint32())
		}
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
		flags := byte(r.Uint32())
		want := Seal(nil, append([]byte{flags}, payload...), &nonce, &key)
		got := SealFlagged([]byte("prefix"), flags, payload, &nonce, &key)
		if !bytes.Equal(got[6:], want) || string(got[:6]) != "prefix" {
			t.Fatalf("n=%d: SealFlagged differs from secretbox", n)
		}
		f, pt, ok := OpenFlagged([]byte("x"), want, &nonce, &key)
		if !ok || f != flags || !bytes.Equal(pt[1:], payload) || pt[0] != 'x' {
			t.Fatalf("n=%d: OpenFlagged failed", n)
		}
		bad := append([]byte(nil), want...)
		bad[r.IntN(len(bad))] ^= 1 << r.IntN(8)
		if _, _, ok := OpenFlagged(nil, bad, &nonce, &key); ok {
			t.Fatalf("n=%d: a flipped bit was accepted", n)
		}
	}
}

func hexKey(t *testing.T, s string) *[32]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatal(s)
	}
	return (*[32]byte)(b)
}

// TestSharedKnownAnswer checks Shared against the precomputed key of
// docs/wire-format.md#curve-hello-known-answer: box.Precompute(S, c') with S the libzmq doc server
// public key and c' the libzmq fuzzer client secret key.
func TestSharedKnownAnswer(t *testing.T) {
	S := hexKey(t, "54FCBA24E93249969316FB617C872BB0C1D1FF14800427C594CBFACF1BC2D652")
	c := hexKey(t, "9B1362563E8B469C716A617818602808A844B5AD20FB13A275C1DA379D7ED614")
	priv, err := ecdh.X25519().NewPrivateKey(c[:])
	if err != nil {
		t.Fatal(err)
	}
	k, err := Shared(priv, S)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(k[:]); got != "034520304717ae4ee771a1c9298d72c12f588dcbc37595c1d828b3b76400bcf7" {
		t.Fatalf("shared key %s", got)
	}
	var ref [32]byte
	box.Precompute(&ref, S, c)
	if ref != [32]byte(k) {
		t.Fatal("differs from box.Precompute")
	}
}

func TestSharedRefusesLowOrder(t *testing.T) {
	priv, _ := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{7}, 32))
	var zero [32]byte
	if _, err := Shared(priv, &zero); err != ErrLowOrder {
		t.Fatalf("err = %v, want ErrLowOrder", err)
	}
	one := [32]byte{1}
	if _, err := Shared(priv, &one); err != ErrLowOrder {
		t.Fatalf("point 1: err = %v, want ErrLowOrder", err)
	}
}

func TestFlaggedAllocations(t *testing.T) {
	var key Key
	var nonce [24]byte
	payload := make([]byte, 1024)
	dst := make([]byte, 0, 2048)
	pt := make([]byte, 0, 2048)
	sealed := SealFlagged(nil, 1, payload, &nonce, &key)
	if n := testing.AllocsPerRun(100, func() {
		dst = SealFlagged(dst[:0], 1, payload, &nonce, &key)
		_, pt, _ = OpenFlagged(pt[:0], sealed, &nonce, &key)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
