// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzParseToken: whatever parses re-frames to the same bytes, and nothing
// panics.
func FuzzParseToken(f *testing.F) {
	for _, h := range []string{recAPRepFrame[26:], recAPReqPrefix[46:]} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Add([]byte{0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0x01, 0x00})
	f.Add(AppendToken(nil, TokKRBError, make([]byte, 300)))
	f.Fuzz(func(t *testing.T, tok []byte) {
		id, msg, err := ParseToken(tok)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongMechanism) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if got := AppendToken(nil, id, msg); !bytes.Equal(got, tok) {
			t.Fatalf("re-framed %x, input %x", got, tok)
		}
	})
}

// FuzzAccept runs the acceptor, with a fixed keytab and clock, on mutated
// AP-REQs. Every error must be typed; a token that is accepted must give a
// context that works with the AP-REP it produced.
func FuzzAccept(f *testing.F) {
	kdc := newTestKDC(f)
	for _, e := range Enctypes {
		_, tok := kdc.newInitiator(f, ticketSpec{keyEnctype: e}, InitiatorConfig{})
		f.Add(tok)
	}
	f.Add(kdc.craft(f, craft{mutAuth: nil, authCipher: truncateTo(11)}))
	f.Add(kdc.craft(f, craft{tktCipher: truncateTo(5)}))
	f.Fuzz(func(t *testing.T, tok []byte) {
		acc := kdc.acceptor(t, AcceptorConfig{})
		res, err := acc.Accept(tok)
		if err != nil {
			checkTyped(t, err)
			return
		}
		if _, _, err := ParseToken(res.Token); err != nil {
			t.Fatalf("our AP-REP does not parse: %v", err)
		}
	})
}

// FuzzReadAPRep feeds mutated AP-REPs to an initiator whose state is the
// same every run (deterministic clock and random source), so the seeds are
// valid answers.
func FuzzReadAPRep(f *testing.F) {
	kdc := newTestKDC(f)
	tkt, sess := kdc.mint(f, ticketSpec{})
	newIn := func(t testing.TB) (*Initiator, []byte) {
		in, tok, err := NewInitiator(InitiatorConfig{Client: testClient, Ticket: tkt, SessionKey: sess, Now: fixedClock(testNow), Rand: detRand(7)})
		if err != nil {
			t.Fatal(err)
		}
		return in, tok
	}
	_, tok := newIn(f)
	res, err := kdc.acceptor(f, AcceptorConfig{}).Accept(tok)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(res.Token)
	b, _ := hex.DecodeString(recAPRepFrame[26:])
	f.Add(b)
	f.Fuzz(func(t *testing.T, rep []byte) {
		in, _ := newIn(t)
		ctx, err := in.ReadAPRep(rep)
		if err != nil {
			var ke *KRBError
			if !errors.As(err, &ke) {
				checkTyped(t, err)
			}
			return
		}
		if _, err := ctx.Wrap(nil, []byte{0}); err != nil {
			t.Fatalf("context from an accepted AP-REP cannot wrap: %v", err)
		}
	})
}

// FuzzUnwrap feeds mutated Wrap tokens to a fresh acceptor context each
// run; seeds are good tokens, rotated ones and ones with EC filler.
func FuzzUnwrap(f *testing.F) {
	kdc := newTestKDC(f)
	ini, acc, _ := kdc.establish(f, ticketSpec{})
	key, seq := acc.recvKey, acc.recvSeq
	for _, n := range []int{1, 16, 100} {
		tok, _ := ini.Wrap(nil, bytes.Repeat([]byte{1}, n))
		f.Add(tok)
		ini.sendSeq = seq
	}
	f.Add(sealRaw(f, ini, ini.sendFlags(), 16, 28, seq, []byte("\x01filler")))
	f.Add(sealRaw(f, ini, ini.sendFlags(), 0, 0, seq, nil))
	for _, h := range []string{recClientReady[28:], recClientDelim[28:]} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		c, err := newContext(key, false, true, 1, seq, WrapLimits{MaxToken: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		pt, err := c.Unwrap(nil, tok)
		if err != nil {
			checkTyped(t, err)
			if c.NextRecvSeq() != seq {
				t.Fatal("a refused token moved the counter")
			}
			return
		}
		if len(pt) == 0 || len(pt) > len(tok) || c.NextRecvSeq() != seq+1 {
			t.Fatalf("accepted: %d bytes from %d, seq %d", len(pt), len(tok), c.NextRecvSeq())
		}
	})
}

// checkTyped fails unless err is one of the package's errors, and not the
// recover guard's: every input gokrb5 would panic on must be stopped before.
func checkTyped(t *testing.T, err error) {
	t.Helper()
	for _, e := range []error{ErrMalformed, ErrWrongMechanism, ErrUnexpectedToken, ErrUnsupportedEnctype, ErrDecrypt,
		ErrNoKey, ErrWrongPrincipal, ErrTicketNotYetValid, ErrTicketExpired, ErrClientMismatch, ErrClockSkew,
		ErrBadChecksum, ErrMutualRequired, ErrUnsupported, ErrReplay, ErrAPRepMismatch, ErrTokenTooLarge,
		ErrUnsealed, ErrEmptyPlaintext, ErrSequence, ErrReflected, ErrKeyFlag} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("untyped error: %v", err)
}
