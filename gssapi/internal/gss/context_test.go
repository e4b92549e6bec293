// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestEstablishAllEnctypes runs initiator and acceptor against each other
// for every enctype, service key and session key alike, then for mixed
// pairs, and checks what each side ends up with.
func TestEstablishAllEnctypes(t *testing.T) {
	kdc := newTestKDC(t)
	type pair struct{ svc, sess int32 }
	var cases []pair
	for _, e := range Enctypes {
		cases = append(cases, pair{e, e})
	}
	cases = append(cases, pair{AES256CTSHMACSHA196, AES256CTSHMACSHA384192}, pair{AES128CTSHMACSHA196, AES256CTSHMACSHA196}, pair{AES256CTSHMACSHA384192, AES128CTSHMACSHA256128})
	for _, c := range cases {
		t.Run(fmt.Sprintf("svc%d-sess%d", c.svc, c.sess), func(t *testing.T) {
			ini, acc, res := kdc.establish(t, ticketSpec{keyEnctype: c.svc, sessEnc: c.sess})
			if got := res.Client.String(); got != "alice@ZMTP.TEST" {
				t.Errorf("client = %q", got)
			}
			if got := res.Service.String(); got != "zmqtest/localhost@ZMTP.TEST" {
				t.Errorf("service = %q", got)
			}
			if !ini.sendKey.Equal(acc.recvKey) || ini.Enctype() != c.sess {
				t.Fatalf("keys differ or enctype %d, want %d", ini.Enctype(), c.sess)
			}
			want := map[int32]int{17: 16, 18: 32, 19: 16, 20: 32}[c.sess]
			if len(ini.sendKey.Value) != want {
				t.Errorf("acceptor subkey is %d bytes, want %d", len(ini.sendKey.Value), want)
			}
			if !ini.AcceptorSubkey() || !acc.AcceptorSubkey() || !ini.Initiator() || acc.Initiator() {
				t.Error("roles or AcceptorSubkey flag wrong")
			}
			if ini.NextSendSeq() != acc.NextRecvSeq() || acc.NextSendSeq() != ini.NextRecvSeq() {
				t.Errorf("sequence numbers disagree: %d/%d, %d/%d", ini.NextSendSeq(), acc.NextRecvSeq(), acc.NextSendSeq(), ini.NextRecvSeq())
			}
			if ini.NextSendSeq() >= 1<<30 || acc.NextSendSeq() >= 1<<30 {
				t.Error("initial sequence number not below 2^30")
			}
			pumpWraps(t, ini, acc)
			pumpWraps(t, acc, ini)
		})
	}
}

// pumpWraps sends messages of several sizes from a to b and checks the
// plaintext, the header and the size.
func pumpWraps(t *testing.T, a, b *Context) {
	t.Helper()
	for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 255, 1000, 65536} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		msg[0] = 0x01
		seq := a.NextSendSeq()
		tok, err := a.Wrap(nil, msg)
		if err != nil {
			t.Fatalf("Wrap(%d): %v", n, err)
		}
		wantFlags := byte(0x06)
		if !a.Initiator() {
			wantFlags = 0x07
		}
		if tok[0] != 0x05 || tok[1] != 0x04 || tok[2] != wantFlags || tok[3] != 0xff ||
			binary.BigEndian.Uint32(tok[4:]) != 0 || binary.BigEndian.Uint64(tok[8:]) != seq {
			t.Fatalf("header % x", tok[:16])
		}
		if len(tok) != n+a.Overhead() {
			t.Fatalf("token %d bytes for %d, overhead %d", len(tok), n, a.Overhead())
		}
		pt, err := b.Unwrap(nil, tok)
		if err != nil {
			t.Fatalf("Unwrap(%d): %v", n, err)
		}
		if !bytes.Equal(pt, msg) {
			t.Fatalf("Unwrap(%d) returned other bytes", n)
		}
	}
}

// TestAPReqLayout decodes our AP-REQ with gokrb5 and checks every field
// MIT puts there for libzmq (docs/gssapi.md#the-context-tokens).
func TestAPReqLayout(t *testing.T) {
	kdc := newTestKDC(t)
	for _, e := range Enctypes {
		in, tok := kdc.newInitiator(t, ticketSpec{keyEnctype: e}, InitiatorConfig{})
		id, msg, err := ParseToken(tok)
		if err != nil || id != TokAPReq {
			t.Fatalf("ParseToken: %v %v", id, err)
		}
		// ap-options mutual-required, exactly as captured: a2 07 03 05 00 20 00 00 00.
		if !bytes.Contains(msg, []byte{0xa2, 0x07, 0x03, 0x05, 0x00, 0x20, 0x00, 0x00, 0x00}) {
			t.Error("ap-options not 20 00 00 00")
		}
		var req messages.APReq
		if err := req.Unmarshal(msg); err != nil {
			t.Fatalf("gokrb5 cannot parse our AP-REQ: %v", err)
		}
		if req.APOptions.At(flags.APOptionMutualRequired) != 1 || req.APOptions.At(flags.APOptionUseSessionKey) != 0 {
			t.Error("ap-options")
		}
		ab, err := decrypt(in.sessionKey, usageAuthenticator, req.EncryptedAuthenticator.Cipher)
		if err != nil {
			t.Fatal(err)
		}
		var a types.Authenticator
		if err := a.Unmarshal(ab); err != nil {
			t.Fatalf("gokrb5 cannot parse our Authenticator: %v", err)
		}
		want := []byte{16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x36, 0x01, 0, 0}
		if a.Cksum.CksumType != 0x8003 || !bytes.Equal(a.Cksum.Checksum, want) {
			t.Errorf("checksum %#x % x", a.Cksum.CksumType, a.Cksum.Checksum)
		}
		if a.SubKey.KeyType != e || len(a.SubKey.KeyValue) != len(in.sessionKey.Value) {
			t.Errorf("subkey enctype %d, %d bytes", a.SubKey.KeyType, len(a.SubKey.KeyValue))
		}
		if a.SeqNumber != int64(in.seq) || a.SeqNumber >= 1<<30 {
			t.Errorf("seq %d", a.SeqNumber)
		}
		if !a.CTime.Equal(testNow.Truncate(time.Second)) || a.Cusec != 695894 {
			t.Errorf("ctime %v cusec %d", a.CTime, a.Cusec)
		}
		if a.CRealm != testRealm || !a.CName.Equal(testClient.name()) || len(a.AuthorizationData) != 0 {
			t.Errorf("client %v@%s", a.CName, a.CRealm)
		}
	}
}

// TestInitiatorChecksInput: NewInitiator refuses what it cannot use.
func TestInitiatorChecksInput(t *testing.T) {
	kdc := newTestKDC(t)
	tkt, sess := kdc.mint(t, ticketSpec{})
	for _, tc := range []struct {
		name string
		cfg  InitiatorConfig
		want error
	}{
		{"rc4 key", InitiatorConfig{Client: testClient, Ticket: tkt, SessionKey: Key{Enctype: 23, Value: make([]byte, 16)}}, ErrUnsupportedEnctype},
		{"short key", InitiatorConfig{Client: testClient, Ticket: tkt, SessionKey: Key{Enctype: 18, Value: make([]byte, 24)}}, ErrMalformed},
		{"not a ticket", InitiatorConfig{Client: testClient, Ticket: tkt[1:], SessionKey: sess}, ErrMalformed},
		{"ticket and more", InitiatorConfig{Client: testClient, Ticket: append(tkt[:len(tkt):len(tkt)], 0), SessionKey: sess}, ErrMalformed},
	} {
		if _, _, err := NewInitiator(tc.cfg); !errorsIs(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, _, err := NewInitiator(InitiatorConfig{Ticket: tkt, SessionKey: sess}); err == nil {
		t.Error("no client principal accepted")
	}
}

func TestPrincipalString(t *testing.T) {
	for _, tc := range []struct {
		p    Principal
		want string
	}{
		{testClient, "alice@ZMTP.TEST"},
		{testService, "zmqtest/localhost@ZMTP.TEST"},
		{Principal{Components: []string{"a@b", "c/d", "e\\f\n"}, Realm: "R@S"}, `a\@b/c\/d/e\\f\n@R\@S`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.p.Components, got, tc.want)
		}
	}
}

func TestKeyRedacted(t *testing.T) {
	k := Key{Enctype: 18, Value: []byte("0123456789abcdef0123456789abcdef")}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if s := fmt.Sprintf(f, k); s != "gss.Key(REDACTED)" {
			t.Errorf("%s prints %q", f, s)
		}
		if s := fmt.Sprintf(f, InitiatorConfig{SessionKey: k}); bytes.Contains([]byte(s), []byte("0123")) || bytes.Contains([]byte(s), []byte("3031")) {
			t.Errorf("%s of a config prints the key: %s", f, s)
		}
	}
}

// Close zeroes both keys and makes Wrap and Unwrap fail; each direction
// can be closed on its own.
func TestContextClose(t *testing.T) {
	ini, acc, _ := newTestKDC(t).establish(t, ticketSpec{})
	tok, err := ini.Wrap(nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	sk := ini.sendKey.Value
	ini.CloseSend()
	if !allZero(sk) {
		t.Error("CloseSend left the send key")
	}
	if _, err := ini.Wrap(nil, []byte("x")); !errors.Is(err, ErrContextClosed) {
		t.Errorf("Wrap after CloseSend: %v", err)
	}
	rk := acc.recvKey.Value
	acc.CloseRecv()
	if !allZero(rk) {
		t.Error("CloseRecv left the receive key")
	}
	if _, err := acc.Unwrap(nil, tok); !errors.Is(err, ErrContextClosed) {
		t.Errorf("Unwrap after CloseRecv: %v", err)
	}
	// The other direction still works until closed.
	tok2, err := acc.Wrap(nil, []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := ini.Unwrap(nil, tok2); err != nil || string(pt) != "y" {
		t.Errorf("Unwrap on the open direction: %q, %v", pt, err)
	}
	acc.Close()
	acc.Close()
	if _, err := acc.Wrap(nil, []byte("y")); !errors.Is(err, ErrContextClosed) {
		t.Errorf("Wrap after Close: %v", err)
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return len(b) > 0
}
