// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The test realm: the names of the captured libzmq session.
var (
	testRealm   = "ZMTP.TEST"
	testService = Principal{NameType: NTSrvHst, Components: []string{"zmqtest", "localhost"}, Realm: testRealm}
	testClient  = Principal{NameType: NTPrincipal, Components: []string{"alice"}, Realm: testRealm}
	// testNow is the time of the captured AP-REP.
	testNow = time.Date(2026, 12, 3, 16, 20, 15, 695894000, time.UTC)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// detRand is a deterministic random source for reproducible tokens.
func detRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// keytabEntry is one key for makeKeytab.
type keytabEntry struct {
	p    Principal
	kvno uint32
	key  Key
}

// makeKeytab writes a version 2 keytab file in MIT's format and parses it
// with gokrb5, so the acceptor sees what keytab.Load would give it.
func makeKeytab(t testing.TB, entries ...keytabEntry) *keytab.Keytab {
	t.Helper()
	b := []byte{0x05, 0x02}
	for _, e := range entries {
		var eb []byte
		eb = binary.BigEndian.AppendUint16(eb, uint16(len(e.p.Components)))
		eb = binary.BigEndian.AppendUint16(eb, uint16(len(e.p.Realm)))
		eb = append(eb, e.p.Realm...)
		for _, c := range e.p.Components {
			eb = binary.BigEndian.AppendUint16(eb, uint16(len(c)))
			eb = append(eb, c...)
		}
		eb = binary.BigEndian.AppendUint32(eb, uint32(e.p.NameType))
		eb = binary.BigEndian.AppendUint32(eb, uint32(testNow.Add(-24*time.Hour).Unix()))
		eb = append(eb, byte(e.kvno))
		eb = binary.BigEndian.AppendUint16(eb, uint16(e.key.Enctype))
		eb = binary.BigEndian.AppendUint16(eb, uint16(len(e.key.Value)))
		eb = append(eb, e.key.Value...)
		eb = binary.BigEndian.AppendUint32(eb, e.kvno)
		b = binary.BigEndian.AppendUint32(b, uint32(len(eb)))
		b = append(b, eb...)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(b); err != nil {
		t.Fatalf("keytab: %v", err)
	}
	return kt
}

// testKDC holds service keys, one per enctype, and mints tickets as a KDC
// would, without gokrb5's NewTicket (it sizes aes256-sha384 keys wrongly).
type testKDC struct {
	keys map[int32]Key // service keys of testService, kvno 1
	kt   *keytab.Keytab
	rnd  *rand.ChaCha8
}

func newTestKDC(t testing.TB) *testKDC {
	t.Helper()
	k := &testKDC{keys: map[int32]Key{}, rnd: detRand(1)}
	var entries []keytabEntry
	for _, e := range Enctypes {
		key, err := NewKey(k.rnd, e)
		if err != nil {
			t.Fatal(err)
		}
		k.keys[e] = key
		entries = append(entries, keytabEntry{p: testService, kvno: 1, key: key})
	}
	k.kt = makeKeytab(t, entries...)
	return k
}

// ticketSpec describes a ticket to mint; zero fields take defaults.
type ticketSpec struct {
	client     Principal // default testClient
	service    Principal // default testService
	keyEnctype int32     // service key enctype, default 18
	sessEnc    int32     // session key enctype, default keyEnctype
	kvno       int       // default 1
	serviceKey *Key      // default the KDC's key for keyEnctype
	auth, end  time.Time // default testNow-1h, testNow+9h
	flags      []byte    // ticket flags bytes, default 0x40800000 (forwardable, pre-auth)
}

func (k *testKDC) mint(t testing.TB, s ticketSpec) ([]byte, Key) {
	t.Helper()
	if s.client.IsZero() {
		s.client = testClient
	}
	if s.service.IsZero() {
		s.service = testService
	}
	if s.keyEnctype == 0 {
		s.keyEnctype = AES256CTSHMACSHA196
	}
	if s.sessEnc == 0 {
		s.sessEnc = s.keyEnctype
	}
	if s.kvno == 0 {
		s.kvno = 1
	}
	if s.auth.IsZero() {
		s.auth = testNow.Add(-time.Hour)
	}
	if s.end.IsZero() {
		s.end = testNow.Add(9 * time.Hour)
	}
	fl := s.flags
	if fl == nil {
		fl = []byte{0x40, 0x80, 0, 0}
	}
	skey := k.keys[s.keyEnctype]
	if s.serviceKey != nil {
		skey = *s.serviceKey
	}
	sess, err := NewKey(k.rnd, s.sessEnc)
	if err != nil {
		t.Fatal(err)
	}
	etp := messages.EncTicketPart{
		Flags:     asn1.BitString{Bytes: fl, BitLength: 32},
		Key:       types.EncryptionKey{KeyType: sess.Enctype, KeyValue: sess.Value},
		CRealm:    s.client.Realm,
		CName:     s.client.name(),
		Transited: messages.TransitedEncoding{TRType: 1, Contents: []byte{}},
		AuthTime:  s.auth.Truncate(time.Second),
		StartTime: s.auth.Truncate(time.Second),
		EndTime:   s.end.Truncate(time.Second),
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		t.Fatal(err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	ed, err := crypto.GetEncryptedData(b, types.EncryptionKey{KeyType: skey.Enctype, KeyValue: skey.Value}, usageTicket, s.kvno)
	if err != nil {
		t.Fatal(err)
	}
	tkt := messages.Ticket{TktVNO: 5, Realm: s.service.Realm, SName: s.service.name(), EncPart: ed}
	tb, err := tkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return tb, sess
}

// newPair mints a ticket and runs NewInitiator on it.
func (k *testKDC) newInitiator(t testing.TB, s ticketSpec, cfg InitiatorConfig) (*Initiator, []byte) {
	t.Helper()
	tkt, sess := k.mint(t, s)
	if cfg.Client.IsZero() {
		cfg.Client = testClient
		if !s.client.IsZero() {
			cfg.Client = s.client
		}
	}
	cfg.Ticket, cfg.SessionKey = tkt, sess
	if cfg.Now == nil {
		cfg.Now = fixedClock(testNow)
	}
	if cfg.Rand == nil {
		cfg.Rand = detRand(2)
	}
	in, tok, err := NewInitiator(cfg)
	if err != nil {
		t.Fatalf("NewInitiator: %v", err)
	}
	return in, tok
}

func (k *testKDC) acceptor(t testing.TB, cfg AcceptorConfig) *Acceptor {
	t.Helper()
	if cfg.Keytab == nil {
		cfg.Keytab = k.kt
	}
	if cfg.Now == nil {
		cfg.Now = fixedClock(testNow)
	}
	if cfg.Rand == nil {
		cfg.Rand = detRand(3)
	}
	a, err := NewAcceptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// establish runs a whole context establishment and returns both contexts.
func (k *testKDC) establish(t testing.TB, s ticketSpec) (ini, acc *Context, res *AcceptResult) {
	t.Helper()
	in, tok := k.newInitiator(t, s, InitiatorConfig{})
	res, err := k.acceptor(t, AcceptorConfig{}).Accept(tok)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	ini, err = in.ReadAPRep(res.Token)
	if err != nil {
		t.Fatalf("ReadAPRep: %v", err)
	}
	return ini, res.Context, res
}
