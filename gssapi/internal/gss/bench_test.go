// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"fmt"
	"testing"
)

var benchSizes = []int{16, 1024, 64 << 10}

// BenchmarkWrap and BenchmarkUnwrap measure the message path on gokrb5's
// EncryptMessage/DecryptMessage, which allocate on every call (key
// derivation, confounder, CBC buffers, HMAC): see docs/gssapi.md#measured.
func BenchmarkWrap(b *testing.B) {
	kdc := newTestKDC(b)
	for _, e := range []int32{AES256CTSHMACSHA196, AES256CTSHMACSHA384192} {
		ini, _, _ := kdc.establish(b, ticketSpec{keyEnctype: e})
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("enctype%d/%d", e, n), func(b *testing.B) {
				msg := make([]byte, n)
				dst := make([]byte, 0, n+ini.Overhead())
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if dst, err = ini.Wrap(dst[:0], msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkUnwrap(b *testing.B) {
	kdc := newTestKDC(b)
	for _, e := range []int32{AES256CTSHMACSHA196, AES256CTSHMACSHA384192} {
		ini, acc, _ := kdc.establish(b, ticketSpec{keyEnctype: e})
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("enctype%d/%d", e, n), func(b *testing.B) {
				seq := ini.NextSendSeq()
				tok, err := ini.Wrap(nil, make([]byte, n))
				if err != nil {
					b.Fatal(err)
				}
				dst := make([]byte, 0, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					acc.recvSeq = seq
					if dst, err = acc.Unwrap(dst[:0], tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEstablish is one whole context: NewInitiator, Accept, ReadAPRep.
func BenchmarkEstablish(b *testing.B) {
	kdc := newTestKDC(b)
	tkt, sess := kdc.mint(b, ticketSpec{})
	acc := kdc.acceptor(b, AcceptorConfig{Replay: NewReplayCache(1 << 20)})
	b.ReportAllocs()
	for b.Loop() {
		in, tok, err := NewInitiator(InitiatorConfig{Client: testClient, Ticket: tkt, SessionKey: sess, Now: fixedClock(testNow)})
		if err != nil {
			b.Fatal(err)
		}
		res, err := acc.Accept(tok)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := in.ReadAPRep(res.Token); err != nil {
			b.Fatal(err)
		}
	}
}
