// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// sealRaw builds a sealed Wrap token by hand, so that tests can make what
// Wrap never makes: an empty plaintext, EC filler, rotation.
func sealRaw(t testing.TB, c *Context, flags byte, ec, rrc uint16, seq uint64, plaintext []byte) []byte {
	t.Helper()
	var hdr [16]byte
	hdr[0], hdr[1], hdr[2], hdr[3] = 0x05, 0x04, flags, 0xff
	binary.BigEndian.PutUint16(hdr[4:], ec)
	binary.BigEndian.PutUint64(hdr[8:], seq)
	msg := append(append(append([]byte{}, plaintext...), bytes.Repeat([]byte{0xee}, int(ec))...), hdr[:]...)
	ct, err := encrypt(c.sendKey, c.usage(!c.initiator), msg)
	if err != nil {
		t.Fatal(err)
	}
	if rrc > 0 {
		r := len(ct) - int(rrc)%len(ct)
		ct = append(ct[r:], ct[:r]...) // rotate right by rrc
	}
	binary.BigEndian.PutUint16(hdr[6:], rrc)
	return append(hdr[:], ct...)
}

// TestUnwrapRefuses is acceptance test 9, both roles: each bad token is its
// own typed error, and the context still takes the next good token after
// the refusal (the caller closes the connection; the state is not
// corrupted either way).
func TestUnwrapRefuses(t *testing.T) {
	kdc := newTestKDC(t)
	for _, role := range []string{"initiator sends", "acceptor sends"} {
		t.Run(role, func(t *testing.T) {
			ini, acc, _ := kdc.establish(t, ticketSpec{})
			snd, rcv := ini, acc
			if role == "acceptor sends" {
				snd, rcv = acc, ini
			}
			wrap := func(p string) []byte {
				tok, err := snd.Wrap(nil, []byte(p))
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			expect := func(name string, tok []byte, want error) {
				t.Helper()
				_, err := rcv.Unwrap(nil, tok)
				if !errors.Is(err, want) {
					t.Errorf("%s: Unwrap = %v, want %v", name, err, want)
				}
			}
			t0 := wrap("\x00zero")
			if pt, err := rcv.Unwrap(nil, t0); err != nil || string(pt) != "\x00zero" {
				t.Fatalf("Unwrap = %q, %v", pt, err)
			}
			expect("replayed", t0, ErrSequence)
			var se *SequenceError
			if _, err := rcv.Unwrap(nil, t0); !errors.As(err, &se) || se.Got+1 != se.Want {
				t.Errorf("replay: %v", err)
			}
			t1, t2 := wrap("\x00one"), wrap("\x00two")
			expect("reordered", t2, ErrSequence)
			expect("reflected", flipDirection(t1), ErrReflected)
			for i := range t1 {
				bad := bytes.Clone(t1)
				bad[i] ^= 0x01
				_, err := rcv.Unwrap(nil, bad)
				if err == nil {
					t.Fatalf("tampered byte %d accepted", i)
				}
			}
			if _, err := snd.Unwrap(nil, t1); !errors.Is(err, ErrReflected) {
				t.Errorf("own token: %v", err)
			}
			unsealed := bytes.Clone(t1)
			unsealed[2] &^= wrapSealed
			expect("unsealed", unsealed, ErrUnsealed)
			keyflag := bytes.Clone(t1)
			keyflag[2] &^= wrapAcceptorSubkey
			expect("AcceptorSubkey flag cleared", keyflag, ErrKeyFlag)
			expect("tampered body", append(bytes.Clone(t1[:len(t1)-1]), t1[len(t1)-1]^0x80), ErrDecrypt)
			mic := bytes.Clone(t1)
			mic[0] = 0x04
			expect("MIC token", mic, ErrUnexpectedToken)
			for n := 0; n < 16+16+16+12; n++ {
				expect("truncated", t1[:n], ErrMalformed)
			}
			// t1 is still good: none of the above moved the counter.
			if pt, err := rcv.Unwrap(nil, t1); err != nil || string(pt) != "\x00one" {
				t.Fatalf("t1 after refusals: %q, %v", pt, err)
			}
			t3 := wrap("\x00three")
			expect("gap (t2 missing)", t3, ErrSequence)
			if pt, err := rcv.Unwrap(nil, t2); err != nil || string(pt) != "\x00two" {
				t.Fatalf("t2: %q, %v", pt, err)
			}
			// An empty plaintext, sealed properly.
			empty := sealRaw(t, snd, snd.sendFlags(), 0, 0, rcv.NextRecvSeq(), nil)
			expect("empty plaintext", empty, ErrEmptyPlaintext)
			rcv.limits.AllowEmpty = true
			if pt, err := rcv.Unwrap(nil, empty); err != nil || len(pt) != 0 {
				t.Errorf("empty allowed: %q, %v", pt, err)
			}
			rcv.limits.AllowEmpty = false
			// Rotation and EC filler, as SSPI sends them.
			for _, rr := range []struct{ ec, rrc uint16 }{{0, 28}, {16, 28}, {5, 0}, {0, 1}, {0, 65535}} {
				tok := sealRaw(t, snd, snd.sendFlags(), rr.ec, rr.rrc, rcv.NextRecvSeq(), []byte("\x01rotated"))
				if pt, err := rcv.Unwrap(nil, tok); err != nil || string(pt) != "\x01rotated" {
					t.Errorf("EC %d RRC %d: %q, %v", rr.ec, rr.rrc, pt, err)
				}
			}
			// EC larger than the token.
			big := sealRaw(t, snd, snd.sendFlags(), 0, 0, rcv.NextRecvSeq(), []byte("\x01x"))
			binary.BigEndian.PutUint16(big[4:], 1000)
			expect("EC beyond the token", big, ErrMalformed)
		})
	}
}

// flipDirection returns tok with its direction flag flipped: what a
// reflecting attacker would try if the flag were not checked.
func flipDirection(tok []byte) []byte {
	b := bytes.Clone(tok)
	b[2] ^= wrapSentByAcceptor
	return b
}

// TestUnwrapSizeLimitBeforeDecrypt: an oversized token is refused on its
// length, before anything is decrypted; at the limit it is decrypted.
func TestUnwrapSizeLimitBeforeDecrypt(t *testing.T) {
	kdc := newTestKDC(t)
	ini, acc, _ := kdc.establish(t, ticketSpec{})
	acc.limits.MaxToken = 200
	garbage := make([]byte, 201)
	copy(garbage, []byte{0x05, 0x04, 0x06, 0xff})
	if _, err := acc.Unwrap(nil, garbage); !errors.Is(err, ErrTokenTooLarge) {
		t.Errorf("oversized garbage: %v", err)
	}
	if _, err := acc.Unwrap(nil, garbage[:200]); !errors.Is(err, ErrDecrypt) {
		t.Errorf("garbage at the limit is decrypted: %v", err)
	}
	tok, _ := ini.Wrap(nil, make([]byte, 200-ini.Overhead()+1))
	if _, err := acc.Unwrap(nil, tok); !errors.Is(err, ErrTokenTooLarge) {
		t.Errorf("good token over the limit: %v", err)
	}
}

// TestWrapNeverEmitsWhatCrashesLibzmq is acceptance test 12: every token
// Wrap makes is sealed with a non-empty plaintext, and Wrap refuses an
// empty one.
func TestWrapNeverEmitsWhatCrashesLibzmq(t *testing.T) {
	kdc := newTestKDC(t)
	for _, e := range Enctypes {
		ini, acc, _ := kdc.establish(t, ticketSpec{keyEnctype: e})
		for _, c := range []*Context{ini, acc} {
			if tok, err := c.Wrap([]byte("keep"), nil); !errors.Is(err, ErrEmptyPlaintext) || string(tok) != "keep" {
				t.Errorf("Wrap(empty) = %q, %v", tok, err)
			}
			if _, err := c.Wrap(nil, []byte{}); !errors.Is(err, ErrEmptyPlaintext) {
				t.Errorf("Wrap([]byte{}) = %v", err)
			}
			for n := 1; n < 80; n++ {
				tok, err := c.Wrap(nil, make([]byte, n))
				if err != nil {
					t.Fatal(err)
				}
				if tok[2]&wrapSealed == 0 || len(tok) != n+c.Overhead() {
					t.Fatalf("token of %d: flags %#x, %d bytes", n, tok[2], len(tok))
				}
			}
		}
	}
}

// TestWrapAppendsAndInPlace: Wrap appends to dst; Unwrap may write its
// plaintext over the token (dst = token[:0]).
func TestWrapAppendsAndInPlace(t *testing.T) {
	kdc := newTestKDC(t)
	ini, acc, _ := kdc.establish(t, ticketSpec{})
	tok, err := ini.Wrap([]byte("prefix"), []byte("\x00payload"))
	if err != nil || string(tok[:6]) != "prefix" {
		t.Fatalf("%q %v", tok[:6], err)
	}
	pt, err := acc.Unwrap(tok[6:6], tok[6:])
	if err != nil || string(pt) != "\x00payload" || &pt[0] != &tok[6] {
		t.Fatalf("in place: %q %v", pt, err)
	}
}

// TestSequenceExhaustion: counters stop, never wrap.
func TestSequenceExhaustion(t *testing.T) {
	kdc := newTestKDC(t)
	ini, acc, _ := kdc.establish(t, ticketSpec{})
	ini.sendSeq, acc.recvSeq = math.MaxUint64, math.MaxUint64
	tok, err := ini.Wrap(nil, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Unwrap(nil, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := ini.Wrap(nil, []byte{1}); !errors.Is(err, ErrSequenceExhausted) {
		t.Errorf("Wrap after the last number: %v", err)
	}
	if _, err := acc.Unwrap(nil, tok); !errors.Is(err, ErrSequenceExhausted) {
		t.Errorf("Unwrap after the last number: %v", err)
	}
}
