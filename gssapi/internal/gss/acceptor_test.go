// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// craft builds an AP-REQ token with gokrb5's Authenticator, so that a test
// can change any field, including ones our initiator never gets wrong.
type craft struct {
	spec       ticketSpec
	now        time.Time                  // authenticator time, default testNow
	mutAuth    func(*types.Authenticator) // change the authenticator
	apOptions  []byte                     // default 20 00 00 00
	authCipher func([]byte) []byte        // change the authenticator ciphertext
	tktCipher  func([]byte) []byte        // change the ticket ciphertext
	authKey    *Key                       // encrypt the authenticator under this key
}

func (k *testKDC) craft(t testing.TB, c craft) []byte {
	t.Helper()
	tb, sess := k.mint(t, c.spec)
	if c.tktCipher != nil {
		var tkt messages.Ticket
		if err := tkt.Unmarshal(tb); err != nil {
			t.Fatal(err)
		}
		tkt.EncPart.Cipher = c.tktCipher(tkt.EncPart.Cipher)
		var err error
		if tb, err = tkt.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	now := c.now
	if now.IsZero() {
		now = testNow
	}
	client := c.spec.client
	if client.IsZero() {
		client = testClient
	}
	sub, _ := NewKey(k.rnd, sess.Enctype)
	a := types.Authenticator{
		AVNO:      5,
		CRealm:    client.Realm,
		CName:     client.name(),
		Cksum:     types.Checksum{CksumType: 0x8003, Checksum: appendGSSChecksum(nil, DefaultFlags)},
		Cusec:     now.Nanosecond() / 1000,
		CTime:     now.Truncate(time.Second),
		SubKey:    types.EncryptionKey{KeyType: sub.Enctype, KeyValue: sub.Value},
		SeqNumber: 12345,
	}
	if c.mutAuth != nil {
		c.mutAuth(&a)
	}
	ab, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ak := sess
	if c.authKey != nil {
		ak = *c.authKey
	}
	ed, err := crypto.GetEncryptedData(ab, types.EncryptionKey{KeyType: ak.Enctype, KeyValue: ak.Value}, usageAuthenticator, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.authCipher != nil {
		ed.Cipher = c.authCipher(ed.Cipher)
	}
	opts := c.apOptions
	if opts == nil {
		opts = apOptionsMutual
	}
	var b cryptobyte.Builder
	b.AddASN1(appTag(appAPReq), func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, pvno)
			addInt(b, 1, msgTypeAPReq)
			addExplicit(b, 2, func(b *cryptobyte.Builder) { b.AddASN1BitString(opts) })
			addExplicit(b, 3, func(b *cryptobyte.Builder) { b.AddBytes(tb) })
			addEncryptedData(b, 4, ed.EType, ed.Cipher)
		})
	})
	msg, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return AppendToken(nil, TokAPReq, msg)
}

func truncateTo(n int) func([]byte) []byte {
	return func(b []byte) []byte { return b[:min(n, len(b))] }
}

// TestAcceptorRefuses is acceptance test 8 of docs/gssapi.md#acceptance-tests:
// each bad AP-REQ is a typed error, never a panic.
func TestAcceptorRefuses(t *testing.T) {
	kdc := newTestKDC(t)
	other := Principal{NameType: NTSrvHst, Components: []string{"other", "localhost"}, Realm: testRealm}
	wrongKey, _ := NewKey(detRand(9), AES256CTSHMACSHA196)
	// SPNEGO's OID, 1.3.6.1.5.5.2, then TOK_ID 01 00.
	spnego := []byte{0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0x01, 0x00}
	for _, tc := range []struct {
		name string
		tok  func() []byte
		cfg  AcceptorConfig
		want error
	}{
		{"good", func() []byte { return kdc.craft(t, craft{}) }, AcceptorConfig{}, nil},
		{"skewed +6m", func() []byte { return kdc.craft(t, craft{now: testNow.Add(6 * time.Minute)}) }, AcceptorConfig{}, ErrClockSkew},
		{"skewed -6m", func() []byte { return kdc.craft(t, craft{now: testNow.Add(-6 * time.Minute)}) }, AcceptorConfig{}, ErrClockSkew},
		{"skew 4m allowed", func() []byte { return kdc.craft(t, craft{now: testNow.Add(-4 * time.Minute)}) }, AcceptorConfig{}, nil},
		{"skew 2m, 1m allowed", func() []byte { return kdc.craft(t, craft{now: testNow.Add(2 * time.Minute)}) }, AcceptorConfig{MaxSkew: time.Minute}, ErrClockSkew},
		{"other service, restricted", func() []byte { return kdc.craft(t, craft{spec: ticketSpec{service: other}}) }, AcceptorConfig{Principal: testService}, ErrWrongPrincipal},
		{"other service, not in keytab", func() []byte { return kdc.craft(t, craft{spec: ticketSpec{service: other}}) }, AcceptorConfig{}, ErrNoKey},
		{"other realm", func() []byte {
			return kdc.craft(t, craft{spec: ticketSpec{service: Principal{Components: testService.Components, Realm: "EVIL.TEST"}}})
		}, AcceptorConfig{}, ErrNoKey},
		{"restricted, right service", func() []byte { return kdc.craft(t, craft{}) }, AcceptorConfig{Principal: testService}, nil},
		{"kvno 2", func() []byte { return kdc.craft(t, craft{spec: ticketSpec{kvno: 2}}) }, AcceptorConfig{}, ErrNoKey},
		{"ticket under another key", func() []byte { return kdc.craft(t, craft{spec: ticketSpec{serviceKey: &wrongKey}}) }, AcceptorConfig{}, ErrDecrypt},
		{"expired", func() []byte {
			return kdc.craft(t, craft{spec: ticketSpec{auth: testNow.Add(-10 * time.Hour), end: testNow.Add(-6 * time.Minute)}})
		}, AcceptorConfig{}, ErrTicketExpired},
		{"not yet valid", func() []byte {
			return kdc.craft(t, craft{spec: ticketSpec{auth: testNow.Add(6 * time.Minute), end: testNow.Add(10 * time.Hour)}})
		}, AcceptorConfig{}, ErrTicketNotYetValid},
		{"invalid flag", func() []byte { return kdc.craft(t, craft{spec: ticketSpec{flags: []byte{0x41, 0x80, 0, 0}}}) }, AcceptorConfig{}, ErrTicketNotYetValid},
		{"authenticator under another key", func() []byte { return kdc.craft(t, craft{authKey: &wrongKey}) }, AcceptorConfig{}, ErrDecrypt},
		{"authenticator enctype differs", func() []byte {
			k, _ := NewKey(detRand(5), AES128CTSHMACSHA196)
			return kdc.craft(t, craft{authKey: &k})
		}, AcceptorConfig{}, ErrMalformed},
		{"client mismatch", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.CName.NameString = []string{"mallory"} }})
		}, AcceptorConfig{}, ErrClientMismatch},
		{"client realm mismatch", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.CRealm = "EVIL.TEST" }})
		}, AcceptorConfig{}, ErrClientMismatch},
		{"no checksum", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum = types.Checksum{} }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"checksum type 16", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.CksumType = 16 }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"checksum 23 bytes", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.Checksum = a.Cksum.Checksum[:23] }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"checksum empty", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.Checksum = []byte{} }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"checksum Lgth 8", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.Checksum[0] = 8 }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"channel bindings", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.Checksum[9] = 1 }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"no MUTUAL flag", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.Checksum[20] &^= byte(FlagMutual) }})
		}, AcceptorConfig{}, ErrBadChecksum},
		{"checksum with delegation data", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.Cksum.Checksum = append(a.Cksum.Checksum, 1, 0, 0, 0) }})
		}, AcceptorConfig{}, nil},
		{"rc4 subkey", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.SubKey.KeyType = 23; a.SubKey.KeyValue = a.SubKey.KeyValue[:16] }})
		}, AcceptorConfig{}, ErrUnsupportedEnctype},
		{"short subkey", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.SubKey.KeyValue = a.SubKey.KeyValue[:16] }})
		}, AcceptorConfig{}, ErrMalformed},
		{"no subkey", func() []byte {
			return kdc.craft(t, craft{mutAuth: func(a *types.Authenticator) { a.SubKey = types.EncryptionKey{} }})
		}, AcceptorConfig{}, nil},
		{"no mutual-required", func() []byte { return kdc.craft(t, craft{apOptions: []byte{0, 0, 0, 0}}) }, AcceptorConfig{}, ErrMutualRequired},
		{"use-session-key", func() []byte { return kdc.craft(t, craft{apOptions: []byte{0x60, 0, 0, 0}}) }, AcceptorConfig{}, ErrUnsupported},
		{"SPNEGO OID", func() []byte { return spnego }, AcceptorConfig{}, ErrWrongMechanism},
		{"AP-REP token", func() []byte { return AppendToken(nil, TokAPRep, []byte{0x6f, 0}) }, AcceptorConfig{}, ErrUnexpectedToken},
		{"garbage AP-REQ", func() []byte { return AppendToken(nil, TokAPReq, []byte{0x6e, 0x03, 0x30, 0x01, 0x00}) }, AcceptorConfig{}, ErrMalformed},
		{"rc4 ticket", func() []byte {
			tok := kdc.craft(t, craft{})
			// Rewrite the ticket enc-part etype 18 (a0 03 02 01 12) to 23.
			i := strings.Index(string(tok), "\xa3\x82")
			j := i + strings.Index(string(tok[i:]), "\xa0\x03\x02\x01\x12")
			tok[j+4] = 23
			return tok
		}, AcceptorConfig{}, ErrUnsupportedEnctype},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kdc.acceptor(t, tc.cfg).Accept(tc.tok())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Accept: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Accept = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "panicked") {
				t.Errorf("reached gokrb5's panic instead of a guard: %v", err)
			}
		})
	}
}

// TestTruncatedEncryptedData is the gokrb5 panic regression (acceptance
// test 8): every EncryptedData cut to 0..40 bytes, in the ticket, the
// authenticator and the AP-REP, is an error from our guard, and gokrb5 is
// never reached with it.
func TestTruncatedEncryptedData(t *testing.T) {
	kdc := newTestKDC(t)
	for _, e := range Enctypes {
		minLen := map[int32]int{17: 28, 18: 28, 19: 32, 20: 40}[e]
		acc := kdc.acceptor(t, AcceptorConfig{})
		for n := 0; n <= 40; n++ {
			for _, where := range []string{"ticket", "authenticator"} {
				c := craft{spec: ticketSpec{keyEnctype: e}}
				if where == "ticket" {
					c.tktCipher = truncateTo(n)
				} else {
					c.authCipher = truncateTo(n)
				}
				_, err := acc.Accept(kdc.craft(t, c))
				want := ErrMalformed
				if n >= minLen {
					want = ErrDecrypt // long enough for gokrb5; wrong MAC
				}
				if !errors.Is(err, want) || strings.Contains(err.Error(), "panicked") {
					t.Errorf("enctype %d, %s cut to %d: %v, want %v from the guard", e, where, n, err, want)
				}
			}
			// The AP-REP, to an initiator.
			in, tok := kdc.newInitiator(t, ticketSpec{keyEnctype: e}, InitiatorConfig{})
			res, err := kdc.acceptor(t, AcceptorConfig{}).Accept(tok)
			if err != nil {
				t.Fatal(err)
			}
			_, msg, _ := ParseToken(res.Token)
			var rep messages.APRep
			if err := rep.Unmarshal(msg); err != nil {
				t.Fatal(err)
			}
			cut, _ := marshalAPRep(rep.EncPart.EType, rep.EncPart.Cipher[:n])
			_, err = in.ReadAPRep(AppendToken(nil, TokAPRep, cut))
			want := ErrMalformed
			if n >= minLen {
				want = ErrDecrypt
			}
			if !errors.Is(err, want) || strings.Contains(err.Error(), "panicked") {
				t.Errorf("enctype %d, AP-REP cut to %d: %v, want %v", e, n, err, want)
			}
		}
	}
}

// TestGokrb5StillPanics documents why the guard exists: gokrb5 v8.4.4
// slices out of range on a ciphertext shorter than its MAC. If an upgrade
// fixes it, this test says so (and the guard stays, harmless).
func TestGokrb5StillPanics(t *testing.T) {
	key := types.EncryptionKey{KeyType: 18, KeyValue: make([]byte, 32)}
	for _, n := range []int{0, 3, 11} {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			crypto.DecryptMessage(make([]byte, n), key, usageTicket)
			return false
		}()
		if !panicked {
			t.Errorf("gokrb5 no longer panics on a %d-byte ciphertext", n)
		}
	}
	// And the guard turns such a panic into ErrMalformed.
	err := guard("test", func() error { var b []byte; _ = b[5]; return nil })
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("guard = %v", err)
	}
}

// TestReplay: the same AP-REQ twice is refused, by the same acceptor and by
// another sharing its cache; a different one is not; entries expire after
// twice the skew.
func TestReplay(t *testing.T) {
	kdc := newTestKDC(t)
	cache := NewReplayCache(0)
	now := testNow
	clock := func() time.Time { return now }
	a1 := kdc.acceptor(t, AcceptorConfig{Replay: cache, Now: clock})
	a2 := kdc.acceptor(t, AcceptorConfig{Replay: cache, Now: clock})
	tok := kdc.craft(t, craft{})
	if _, err := a1.Accept(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := a1.Accept(tok); !errors.Is(err, ErrReplay) {
		t.Errorf("replay to the same acceptor: %v", err)
	}
	if _, err := a2.Accept(tok); !errors.Is(err, ErrReplay) {
		t.Errorf("replay to another acceptor: %v", err)
	}
	if _, err := a1.Accept(kdc.craft(t, craft{})); err != nil {
		t.Errorf("a fresh AP-REQ: %v", err)
	}
	if cache.Len() != 2 {
		t.Errorf("cache holds %d", cache.Len())
	}
	// After the skew the authenticator is too old anyway; after twice
	// the skew its entry is gone.
	now = testNow.Add(DefaultMaxSkew + time.Second)
	if _, err := a1.Accept(tok); !errors.Is(err, ErrClockSkew) {
		t.Errorf("old AP-REQ: %v", err)
	}
	now = testNow.Add(2 * DefaultMaxSkew)
	kdc.acceptor(t, AcceptorConfig{Replay: cache, Now: clock}).Accept(kdc.craft(t, craft{now: now}))
	if cache.Len() != 1 {
		t.Errorf("after expiry the cache holds %d, want 1", cache.Len())
	}
}

// TestReplayCacheBounded: a full cache refuses rather than forgets.
func TestReplayCacheBounded(t *testing.T) {
	c := NewReplayCache(3)
	for i := range 3 {
		if err := c.add([32]byte{byte(i)}, testNow, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.add([32]byte{9}, testNow, time.Minute); !errors.Is(err, ErrReplayCacheFull) {
		t.Errorf("full cache: %v", err)
	}
	if err := c.add([32]byte{1}, testNow, time.Minute); !errors.Is(err, ErrReplay) {
		t.Errorf("replay in a full cache: %v", err)
	}
	if err := c.add([32]byte{9}, testNow.Add(time.Minute), time.Minute); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	if c.Len() != 1 || len(c.queue) > 3 {
		t.Errorf("len %d, queue %d", c.Len(), len(c.queue))
	}
	// Memory stays bounded over many rounds (a constant ttl and a clock
	// that does not go back, as in use).
	for i := range 10000 {
		now := testNow.Add(2*time.Minute + time.Duration(i)*time.Second)
		if err := c.add([32]byte{byte(i), byte(i >> 8), 1}, now, 2*time.Second); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if c.Len() > 3 || cap(c.queue) > 16 {
		t.Errorf("after 10000 rounds: len %d, queue cap %d", c.Len(), cap(c.queue))
	}
}

// TestInitiatorRefusesAPRep is acceptance test 7: the initiator rejects an
// AP-REP for another AP-REQ (wrong ctime/cusec), one under the wrong key, a
// KRB-ERROR, an AP-REQ in its place, and a second answer.
func TestInitiatorRefusesAPRep(t *testing.T) {
	kdc := newTestKDC(t)
	build := func(ctime time.Time, cusec int, key Key, subkey Key) []byte {
		part, err := marshalEncAPRepPart(ctime, cusec, subkey, 7)
		if err != nil {
			t.Fatal(err)
		}
		c, err := encrypt(key, usageAPRepPart, part)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := marshalAPRep(key.Enctype, c)
		return AppendToken(nil, TokAPRep, rep)
	}
	ctime := testNow.Truncate(time.Second)
	sub, _ := NewKey(detRand(4), 18)
	other, _ := NewKey(detRand(5), 18)
	krbErr := func() []byte {
		ke := messages.NewKRBError(testService.name(), testRealm, 41, "bad\x1b[31m integrity")
		b, err := ke.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return AppendToken(nil, TokKRBError, b)
	}
	for _, tc := range []struct {
		name string
		tok  func(in *Initiator) []byte
		want error
	}{
		{"good", func(in *Initiator) []byte { return build(ctime, 695894, in.sessionKey, sub) }, nil},
		{"wrong cusec", func(in *Initiator) []byte { return build(ctime, 695895, in.sessionKey, sub) }, ErrAPRepMismatch},
		{"wrong ctime", func(in *Initiator) []byte { return build(ctime.Add(time.Second), 695894, in.sessionKey, sub) }, ErrAPRepMismatch},
		{"wrong key", func(in *Initiator) []byte { return build(ctime, 695894, other, sub) }, ErrDecrypt},
		{"rc4 subkey", func(in *Initiator) []byte {
			return build(ctime, 695894, in.sessionKey, Key{Enctype: 23, Value: make([]byte, 16)})
		}, ErrUnsupportedEnctype},
		{"KRB-ERROR", func(in *Initiator) []byte { return krbErr() }, &KRBError{}},
		{"AP-REQ", func(in *Initiator) []byte { return AppendToken(nil, TokAPReq, []byte{0x6e, 0}) }, ErrUnexpectedToken},
		{"empty", func(in *Initiator) []byte { return nil }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := kdc.newInitiator(t, ticketSpec{}, InitiatorConfig{})
			ctx, err := in.ReadAPRep(tc.tok(in))
			switch want := tc.want.(type) {
			case nil:
				if err != nil || !ctx.recvKey.Equal(sub) || ctx.NextRecvSeq() != 7 {
					t.Fatalf("ReadAPRep: %v", err)
				}
			case *KRBError:
				var ke *KRBError
				if !errors.As(err, &ke) || ke.Code != 41 {
					t.Fatalf("ReadAPRep = %v, want a KRBError 41", err)
				}
				if strings.Contains(err.Error(), "\x1b") {
					t.Errorf("peer text not quoted: %q", err.Error())
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("ReadAPRep = %v, want %v", err, want)
				}
			}
			if _, err := in.ReadAPRep(tc.tok(in)); !errors.Is(err, ErrContextState) {
				t.Errorf("second ReadAPRep = %v", err)
			}
		})
	}
}
