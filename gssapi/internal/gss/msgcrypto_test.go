// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
)

// TestNfold checks n-fold against the vectors of RFC 3961 appendix A.1.
func TestNfold(t *testing.T) {
	for _, tc := range []struct {
		bits int
		in   string
		want string
	}{
		{64, "012345", "be072631276b1955"},
		{56, "password", "78a07b6caf85fa"},
		{64, "Rough Consensus, and Running Code", "bb6ed30870b7f0e0"},
		{168, "password", "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"},
		{192, "MASSACHVSETTS INSTITVTE OF TECHNOLOGY", "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"},
		{168, "Q", "518a54a215a8452a518a54a215a8452a518a54a215"},
		{168, "ba", "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"},
	} {
		if got := hex.EncodeToString(nfold([]byte(tc.in), tc.bits/8)); got != tc.want {
			t.Errorf("%d-fold(%q) = %s, want %s", tc.bits, tc.in, got, tc.want)
		}
	}
}

// msgLengths are the input lengths the cross-checks try: every length
// around the block boundaries CTS treats apart, and large ones.
var msgLengths = func() []int {
	var n []int
	for i := 16; i <= 80; i++ {
		n = append(n, i)
	}
	return append(n, 255, 256, 1000, 1<<16+7)
}()

// TestMsgCipherAgainstGokrb5: what msgCipher seals, gokrb5's independent
// implementation of RFC 3962 and RFC 8009 opens, and the other way round,
// for every enctype, both Wrap usages and lengths across the CTS cases; a
// flipped bit anywhere fails the MAC.
func TestMsgCipherAgainstGokrb5(t *testing.T) {
	for _, et := range Enctypes {
		key, err := NewKey(rand.Reader, et)
		if err != nil {
			t.Fatal(err)
		}
		gk, err := crypto.GetEtype(et)
		if err != nil {
			t.Fatal(err)
		}
		for _, usage := range []uint32{usageAcceptorSeal, usageInitiatorSeal} {
			m, err := newMsgCipher(key, usage)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range msgLengths {
				t.Run(fmt.Sprintf("etype%d/usage%d/%d", et, usage, n), func(t *testing.T) {
					plain := make([]byte, n) // confounder | message
					rand.Read(plain)
					ct := m.seal([]byte("prefix"), plain)
					if !bytes.Equal(ct[:6], []byte("prefix")) || len(ct) != 6+n+m.overhead() {
						t.Fatalf("seal appended %d bytes, want %d", len(ct)-6, n+m.overhead())
					}
					got, err := gk.DecryptMessage(key.Value, ct[6:], usage)
					if err != nil {
						t.Fatalf("gokrb5 cannot open ours: %v", err)
					}
					if !bytes.Equal(got, plain[confounderSize:]) {
						t.Fatal("gokrb5 opened ours to other bytes")
					}
					_, theirs, err := gk.EncryptMessage(key.Value, plain[confounderSize:], usage)
					if err != nil {
						t.Fatal(err)
					}
					out, err := m.open(nil, theirs)
					if err != nil {
						t.Fatalf("we cannot open gokrb5's: %v", err)
					}
					if !bytes.Equal(out[confounderSize:], plain[confounderSize:]) {
						t.Fatal("we opened gokrb5's to other bytes")
					}
					for _, i := range []int{0, n / 2, len(theirs) - 1} {
						bad := bytes.Clone(theirs)
						bad[i] ^= 0x10
						if _, err := m.open(nil, bad); !errors.Is(err, ErrDecrypt) {
							t.Fatalf("a bit flipped at %d of %d: %v, want ErrDecrypt", i, len(bad), err)
						}
					}
				})
			}
		}
	}
}

// TestWrapAllocs: once a context's buffers have grown, Wrap and Unwrap
// allocate nothing, for every enctype.
func TestWrapAllocs(t *testing.T) {
	for _, et := range Enctypes {
		key, err := NewKey(rand.Reader, et)
		if err != nil {
			t.Fatal(err)
		}
		a, err := newContext(key, false, true, 10, 20, WrapLimits{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := newContext(key, true, true, 20, 10, WrapLimits{})
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte("x"), 1024)
		tok := make([]byte, 0, 2048)
		out := make([]byte, 0, 2048)
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if tok, err = a.Wrap(tok[:0], msg); err != nil {
				t.Fatal(err)
			}
			if out, err = b.Unwrap(out[:0], tok); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("enctype %d: %.1f allocations per Wrap and Unwrap, want 0", et, allocs)
		}
		if !bytes.Equal(out, msg) {
			t.Errorf("enctype %d: round trip changed the message", et)
		}
	}
}
