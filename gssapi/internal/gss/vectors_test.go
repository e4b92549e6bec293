// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/jcmturner/gokrb5/v8/messages"
)

// Frames captured between two libzmq 4.3.4 peers with MIT krb5 1.20.1
// (docs/gssapi.md#recorded-tokens): ZMTP frame header, command name, the
// u32 token length, then the GSS token.
const (
	// S->C INITIATE carrying the AP-REP, whole.
	recAPRepFrame = "04a908494e4954494154450000009c60819906092a864886f71201020202006f8189308186a003020105a10302010fa27a3078a003020112a271046f09d37fb3e16b27244c14e6808ea14afa57d2d3a2cbc3473648fd666cbce62887ac35039368f425405b09d2c4b8de57a745d64d258ba6b94b44c4551a94893429509f3323f14cdc62e4f314c273ddb3d68cfe020e608fddc1c2652899ed7d74bf5f48e056167328dad8cfaef8426e95"
	// The first bytes of the C->S INITIATE carrying the 715-byte AP-REQ.
	recAPReqPrefix = "0600000000000002d808494e495449415445000002cb608202c706092a864886f71201020201006e8202b6308202b2a003020105a10302010ea20703050020000000a38201cc618201c8308201c4a003020105a10b1b095a4d54502e54455354a21f301d"
	// S->C MESSAGE: READY sealed by the acceptor.
	recServerReady = "0462074d45535341474500000056050407ff000000000000000010f389b8e42b4537c2ac30ca87d9eed5510dd9572b310658036367d62b15947bfea0fb94a378eb4f68131d2750491b2db791e56d7eaec25c4d440cae460710294d66138624d143d0bbf9"
	// C->S MESSAGE: READY sealed by the initiator.
	recClientReady = "046f074d45535341474500000063050406ff000000000000000020430251f1071e2e322b05708de21d5232b43165d2c75900d7ba244c7136b439cfb17c49bf8296361efb6f47c1c0bc942d0942fa03ecd226e6fe2deaa6f4eb2b48cc54326759c07b976739b8763f7ee7af5170051a7a07"
	// C->S MESSAGE: the REQ delimiter (one flags byte, 0x01).
	recClientDelim = "0049074d4553534147450000003d050406ff000000000000000020430252d43330bee1f4983b1678d5f23a8afb2aa615da1a25c10c75f1340951110b4bb797b0744a15298bd23dd601d5bf"
)

// recToken strips the ZMTP frame header (2 bytes short, 9 long), the
// command name and the u32 length from a captured frame, checking them.
func recToken(t *testing.T, frameHex string, name string) []byte {
	t.Helper()
	f, err := hex.DecodeString(frameHex)
	if err != nil {
		t.Fatal(err)
	}
	hdr := 2
	if f[0]&0x02 != 0 {
		hdr = 9
	}
	b := f[hdr:]
	if int(b[0]) != len(name) || string(b[1:1+len(name)]) != name {
		t.Fatalf("command %q", b[1:1+len(name)])
	}
	b = b[1+len(name):]
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if int(n) > len(b) {
		return b // a prefix only
	}
	if int(n) != len(b) {
		t.Fatalf("length %d, body %d", n, len(b))
	}
	return b
}

// TestRecordedAPRep decodes MIT's AP-REP: the framing, the AP-REP fields,
// and our encoder reproduces its DER byte for byte.
func TestRecordedAPRep(t *testing.T) {
	tok := recToken(t, recAPRepFrame, "INITIATE")
	if len(tok) != 156 {
		t.Fatalf("token %d bytes", len(tok))
	}
	id, msg, err := ParseToken(tok)
	if err != nil || id != TokAPRep {
		t.Fatalf("ParseToken: %v, %v", id, err)
	}
	if got := AppendToken(nil, id, msg); !bytes.Equal(got, tok) {
		t.Errorf("re-framing differs:\n%x\n%x", got, tok)
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	if rep.PVNO != 5 || rep.MsgType != 15 || rep.EncPart.EType != 18 || rep.EncPart.KVNO != 0 || len(rep.EncPart.Cipher) != 111 {
		t.Fatalf("AP-REP pvno %d type %d etype %d kvno %d cipher %d", rep.PVNO, rep.MsgType, rep.EncPart.EType, rep.EncPart.KVNO, len(rep.EncPart.Cipher))
	}
	ours, err := marshalAPRep(rep.EncPart.EType, rep.EncPart.Cipher)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, msg) {
		t.Errorf("our AP-REP DER differs from MIT's:\n%x\n%x", ours, msg)
	}
	// 111 = confounder 16 + EncAPRepPart 83 + HMAC 12: an EncAPRepPart
	// with ctime, cusec, a 32-byte subkey and a 4-byte seq-number is 83
	// bytes when cusec takes 3 bytes, as 695894 does.
	part, err := marshalEncAPRepPart(testNow, 695894, Key{Enctype: 18, Value: make([]byte, 32)}, 284395960)
	if err != nil {
		t.Fatal(err)
	}
	if len(part)+confounderSize+12 != 111 {
		t.Errorf("our EncAPRepPart is %d bytes, MIT's %d", len(part), 111-confounderSize-12)
	}
	// The initiator refuses it: it answers someone else's AP-REQ, so the
	// key is wrong. It must fail on integrity, not on parsing.
	kdc := newTestKDC(t)
	in, _ := kdc.newInitiator(t, ticketSpec{}, InitiatorConfig{})
	if _, err := in.ReadAPRep(tok); !errors.Is(err, ErrDecrypt) {
		t.Errorf("ReadAPRep(recorded) = %v, want ErrDecrypt", err)
	}
}

// TestRecordedAPReqPrefix checks our framing and AP-REQ headers against
// the first bytes MIT sent: the same outer lengths give the same bytes.
func TestRecordedAPReqPrefix(t *testing.T) {
	rec := recToken(t, recAPReqPrefix, "INITIATE")
	// 715-byte token: 60 82 02c7, OID, 01 00, then a 698-byte AP-REQ.
	msg := make([]byte, 698)
	msg[0] = 0x6e
	got := AppendToken(nil, TokAPReq, msg)
	if len(got) != 715 || !bytes.Equal(got[:17], rec[:17]) {
		t.Fatalf("framing % x, want % x", got[:17], rec[:17])
	}
	// The AP-REQ header: our encoder on a 460-byte ticket (61 8201c8...)
	// and a 190-byte authenticator cipher gives MIT's 6e 8202b6 lengths.
	ticket := append([]byte{0x61, 0x82, 0x01, 0xc8}, make([]byte, 0x1c8)...)
	req, err := marshalAPReq(ticket, 18, make([]byte, 190))
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := rec[17 : 17+26] // 6e8202b6 308202b2 a003020105 a10302010e a20703050020000000 a3
	if !bytes.Equal(req[:26], wantHdr) {
		t.Errorf("AP-REQ header\n% x\nwant\n% x", req[:26], wantHdr)
	}
	if len(req) != 698 {
		t.Errorf("AP-REQ %d bytes, MIT's 698", len(req))
	}
}

// TestRecordedWraps checks the captured Wrap tokens field by field, and
// that Unwrap's checks before decryption accept MIT's tokens: with our own
// (different) key, each fails on integrity only.
func TestRecordedWraps(t *testing.T) {
	kdc := newTestKDC(t)
	ini, acc, _ := kdc.establish(t, ticketSpec{})
	for _, tc := range []struct {
		name      string
		frame     string
		flags     byte
		seq       uint64
		plainLen  int
		receiver  *Context
		reflector *Context
	}{
		{"server READY", recServerReady, 0x07, 284395960, 26, ini, acc},
		{"client READY", recClientReady, 0x06, 541262417, 39, acc, ini},
		{"client delimiter", recClientDelim, 0x06, 541262418, 1, acc, ini},
	} {
		tok := recToken(t, tc.frame, "MESSAGE")
		if tok[0] != 0x05 || tok[1] != 0x04 || tok[2] != tc.flags || tok[3] != 0xff {
			t.Errorf("%s: header % x", tc.name, tok[:4])
		}
		if ec, rrc := binary.BigEndian.Uint16(tok[4:]), binary.BigEndian.Uint16(tok[6:]); ec != 0 || rrc != 0 {
			t.Errorf("%s: EC %d RRC %d", tc.name, ec, rrc)
		}
		if seq := binary.BigEndian.Uint64(tok[8:]); seq != tc.seq {
			t.Errorf("%s: SND_SEQ %d, want %d", tc.name, seq, tc.seq)
		}
		// aes256-cts-hmac-sha1-96: 60 bytes around the plaintext.
		if len(tok)-tc.plainLen != ini.Overhead() {
			t.Errorf("%s: %d bytes for %d of plaintext, overhead %d", tc.name, len(tok), tc.plainLen, ini.Overhead())
		}
		tc.receiver.recvSeq = tc.seq
		if _, err := tc.receiver.Unwrap(nil, tok); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: Unwrap = %v, want ErrDecrypt", tc.name, err)
		}
		if _, err := tc.reflector.Unwrap(nil, tok); !errors.Is(err, ErrReflected) {
			t.Errorf("%s: reflected Unwrap = %v, want ErrReflected", tc.name, err)
		}
	}
}

// TestAuthenticatorSizeMatchesMIT: MIT's authenticator cipher in the
// captured AP-REQ is 190 bytes, so its plaintext is 190-16-12 = 162. Ours,
// with the same values (the AP-REP echoes ctime and cusec; the Wrap tokens
// give the seq-number), is 162 bytes too: the same fields, none missing and
// none added.
func TestAuthenticatorSizeMatchesMIT(t *testing.T) {
	a := authenticator{
		client:   testClient,
		checksum: appendGSSChecksum(nil, DefaultFlags),
		ctime:    testNow,
		cusec:    695894,
		subkey:   Key{Enctype: 18, Value: make([]byte, 32)},
		seq:      541262417,
	}
	b, err := a.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 162 {
		t.Errorf("authenticator %d bytes, MIT's 162", len(b))
	}
}
