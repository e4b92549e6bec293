// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
)

// DefaultKDCTimeout bounds a ServiceTicket call whose context has no
// deadline: every KDC exchange it makes, all KDCs tried, fits in it.
const DefaultKDCTimeout = 5 * time.Second

// ticketMargin is how long before its end a cached ticket is replaced.
const ticketMargin = time.Minute

// A KDCTicketSource gets service tickets for one client from the KDCs of
// its realm, from a keytab, a password or a FILE credential cache. It
// caches the TGT and the service tickets until a minute before they end,
// then asks again; it starts no goroutine. It is safe for concurrent use.
//
// The KDC exchange is zmtpsec's own over gokrb5's message types (gokrb5's
// client cannot be given a deadline): each call is bounded by its context,
// or by [DefaultKDCTimeout] when the context has none, and every failure is
// typed: [ErrKDCUnreachable], [ErrUnknownService], [ErrUnknownClient],
// [ErrPreauthFailed], [ErrClockSkew], [ErrNoCredentials]. Only one realm is
// served: cross-realm referrals are an error.
type KDCTicketSource struct {
	conf   *Krb5Config
	client Principal
	// Exactly one of these is the client's secret.
	keytab   *keytab.Keytab
	password string
	ccache   string

	// AttemptTimeout bounds one attempt at one KDC address (TCP) before
	// the next is tried; UDP attempts get half. Zero means 2 s.
	AttemptTimeout time.Duration

	mu      sync.Mutex
	tgt     *cachedTicket
	tickets map[string]*cachedTicket
}

type cachedTicket struct {
	ticket messages.Ticket // parsed, for a TGS-REQ
	raw    []byte          // DER as sent by the KDC
	key    Key
	end    time.Time
	sname  Principal
}

// NewKeytabTicketSource returns a source for client, whose key is in kt.
func NewKeytabTicketSource(conf *Krb5Config, client Principal, kt *Keytab) (*KDCTicketSource, error) {
	if kt == nil || !kt.hasKey(client) {
		return nil, fmt.Errorf("%w: no key for %q in the keytab", ErrNoCredentials, client.String())
	}
	return newSource(conf, client, &KDCTicketSource{keytab: kt.kt})
}

// NewPasswordTicketSource returns a source for client, which logs in with
// password. The password is kept in memory and never printed.
func NewPasswordTicketSource(conf *Krb5Config, client Principal, password string) (*KDCTicketSource, error) {
	if password == "" {
		return nil, fmt.Errorf("%w: empty password", ErrNoCredentials)
	}
	return newSource(conf, client, &KDCTicketSource{password: password})
}

// NewCCacheTicketSource returns a source for the default principal of a
// FILE credential cache (kinit's), using its TGT. An empty path means
// $KRB5CCNAME, else /tmp/krb5cc_UID. KEYRING:, KCM: and other caches are
// refused ([ErrBadConfig]): gokrb5 reads only files. The cache is read
// again when its TGT has expired; a missing or expired TGT is
// [ErrNoCredentials].
func NewCCacheTicketSource(conf *Krb5Config, path string) (*KDCTicketSource, error) {
	if path == "" {
		path = os.Getenv("KRB5CCNAME")
		if path == "" {
			path = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
		}
	}
	path, err := filePath(path)
	if err != nil {
		return nil, err
	}
	cc, err := loadCCache(path)
	if err != nil {
		return nil, err
	}
	client := Principal{
		NameType:   cc.DefaultPrincipal.PrincipalName.NameType,
		Components: cc.DefaultPrincipal.PrincipalName.NameString,
		Realm:      cc.DefaultPrincipal.Realm,
	}
	return newSource(conf, client, &KDCTicketSource{ccache: path})
}

func newSource(conf *Krb5Config, client Principal, s *KDCTicketSource) (*KDCTicketSource, error) {
	if conf == nil {
		return nil, fmt.Errorf("%w: no krb5.conf", ErrBadConfig)
	}
	if client.IsZero() || client.Realm == "" {
		return nil, fmt.Errorf("%w: no client principal", ErrNoCredentials)
	}
	s.conf, s.client, s.tickets = conf, client, map[string]*cachedTicket{}
	return s, nil
}

// Client returns the client principal.
func (s *KDCTicketSource) Client() Principal { return s.client }

// String returns "gssapi.KDCTicketSource(client)", never a secret.
func (s *KDCTicketSource) String() string {
	return fmt.Sprintf("gssapi.KDCTicketSource(%s)", s.client.String())
}

// Format prints s as String does, whatever the verb, so that neither the
// password nor a cached key can reach a log through fmt.
func (s *KDCTicketSource) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// ServiceTicket returns a ticket for service, from the cache or the KDC.
func (s *KDCTicketSource) ServiceTicket(ctx context.Context, service Principal) (*ServiceTicket, error) {
	if service.IsZero() || service.Realm == "" {
		return nil, fmt.Errorf("gssapi: service principal %q has no realm", service.String())
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultKDCTimeout)
		defer cancel()
	}
	key := service.String()
	now := time.Now()
	s.mu.Lock()
	if t := s.tickets[key]; t != nil && now.Add(ticketMargin).Before(t.end) {
		s.mu.Unlock()
		return s.serviceTicket(t), nil
	}
	s.mu.Unlock()

	if s.ccache != "" {
		if t, err := s.fromCCache(service, now); err != nil || t != nil {
			return t, err
		}
	}
	s.mu.Lock()
	tgt := s.tgt
	s.mu.Unlock()
	if tgt == nil || !now.Add(ticketMargin).Before(tgt.end) {
		var err error
		if tgt, err = s.getTGT(ctx, now); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.tgt = tgt
		s.mu.Unlock()
	}
	t, err := s.tgsExchange(ctx, tgt, service)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.tickets[key] = t
	s.mu.Unlock()
	return s.serviceTicket(t), nil
}

func (s *KDCTicketSource) serviceTicket(t *cachedTicket) *ServiceTicket {
	return &ServiceTicket{
		Client:     s.client,
		Service:    t.sname,
		Ticket:     append([]byte(nil), t.raw...),
		SessionKey: Key{Enctype: t.key.Enctype, Value: append([]byte(nil), t.key.Value...)},
		EndTime:    t.end,
	}
}

func loadCCache(path string) (*credentials.CCache, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("%w: credential cache: %v", ErrNoCredentials, err)
	}
	cc := new(credentials.CCache)
	// gokrb5's ccache parser indexes without bounds checks: guard it.
	if len(b) < 2 || guardPanic(func() error { return cc.Unmarshal(b) }) != nil {
		return nil, fmt.Errorf("%w: credential cache %s does not parse", ErrBadConfig, path)
	}
	return cc, nil
}

// fromCCache returns a valid service ticket from the cache if it holds
// one; otherwise it loads the cache's TGT into s.tgt and returns nil, nil.
func (s *KDCTicketSource) fromCCache(service Principal, now time.Time) (*ServiceTicket, error) {
	s.mu.Lock()
	have := s.tgt != nil && now.Add(ticketMargin).Before(s.tgt.end)
	s.mu.Unlock()
	cc, err := loadCCache(s.ccache)
	if err != nil {
		return nil, err
	}
	krbtgt := Principal{Components: []string{"krbtgt", s.client.Realm}, Realm: s.client.Realm}
	var tgt *cachedTicket
	for _, c := range cc.GetEntries() {
		sp := Principal{Components: c.Server.PrincipalName.NameString, Realm: c.Server.Realm}
		if !now.Add(ticketMargin).Before(c.EndTime) || !supportedEnctype(c.Key.KeyType) {
			continue
		}
		ct := &cachedTicket{raw: c.Ticket, key: Key{Enctype: c.Key.KeyType, Value: c.Key.KeyValue}, end: c.EndTime, sname: sp}
		switch {
		case sp.Equal(service):
			return s.serviceTicket(ct), nil
		case sp.Equal(krbtgt) && !have:
			if err := guardPanic(func() error { return ct.ticket.Unmarshal(c.Ticket) }); err != nil {
				return nil, fmt.Errorf("%w: credential cache TGT does not parse", ErrBadConfig)
			}
			tgt = ct
		}
	}
	if have {
		return nil, nil
	}
	if tgt == nil {
		return nil, fmt.Errorf("%w: no valid TGT for %q in %s", ErrNoCredentials, s.client.String(), s.ccache)
	}
	s.mu.Lock()
	s.tgt = tgt
	s.mu.Unlock()
	return nil, nil
}

// getTGT runs the AS exchange (RFC 4120 §3.1): first without
// pre-authentication, then, if the KDC asks, with PA-ENC-TIMESTAMP under
// the client key for the enctype and salt the KDC names.
func (s *KDCTicketSource) getTGT(ctx context.Context, now time.Time) (*cachedTicket, error) {
	if s.ccache != "" {
		return nil, fmt.Errorf("%w: no valid TGT in %s", ErrNoCredentials, s.ccache)
	}
	realm := s.client.Realm
	cname := types.PrincipalName{NameType: s.client.NameType, NameString: s.client.Components}
	var req messages.ASReq
	if err := guardPanic(func() error {
		var err error
		req, err = messages.NewASReqForTGT(realm, s.conf.c, cname)
		return err
	}); err != nil {
		return nil, fmt.Errorf("gssapi: building AS-REQ: %w", err)
	}
	req.ReqBody.EType = supportedOnly(req.ReqBody.EType)
	var pas types.PADataSequence // from the KDC's PREAUTH_REQUIRED, for the salt
	for attempt := 0; ; attempt++ {
		b, err := req.Marshal()
		if err != nil {
			return nil, fmt.Errorf("gssapi: encoding AS-REQ: %w", err)
		}
		rb, err := s.exchange(ctx, realm, b)
		if err != nil {
			return nil, err
		}
		if ke, ok := asKRBError(rb); ok {
			if ke.ErrorCode == errorcode.KDC_ERR_PREAUTH_REQUIRED && attempt == 0 {
				if pas, err = s.addPreauth(&req, ke); err != nil {
					return nil, err
				}
				continue
			}
			return nil, kdcError(ke)
		}
		return s.readASRep(rb, &req, pas, now)
	}
}

func (s *KDCTicketSource) readASRep(rb []byte, req *messages.ASReq, pas types.PADataSequence, now time.Time) (*cachedTicket, error) {
	var rep messages.ASRep
	if err := guardPanic(func() error { return rep.Unmarshal(rb) }); err != nil {
		return nil, fmt.Errorf("%w: AS-REP", ErrMalformed)
	}
	if !principalOf(rep.CName, rep.CRealm).Equal(s.client) {
		return nil, fmt.Errorf("%w: AS-REP for another client", ErrMalformed)
	}
	key, err := s.clientKey(rep.EncPart.EType, rep.EncPart.KVNO, append(pas, rep.PAData...))
	if err != nil {
		return nil, err
	}
	pb, err := decryptGuarded(key, keyusage.AS_REP_ENCPART, rep.EncPart)
	if err != nil {
		if errors.Is(err, ErrDecrypt) {
			return nil, fmt.Errorf("%w (AS-REP does not decrypt)", ErrPreauthFailed)
		}
		return nil, err
	}
	var part messages.EncKDCRepPart
	if err := guardPanic(func() error { return part.Unmarshal(pb) }); err != nil {
		return nil, fmt.Errorf("%w: AS-REP enc-part", ErrMalformed)
	}
	if part.Nonce != req.ReqBody.Nonce {
		return nil, fmt.Errorf("%w: AS-REP nonce differs", ErrMalformed)
	}
	if skew := s.conf.c.LibDefaults.Clockskew; now.Sub(part.AuthTime) > skew || part.AuthTime.Sub(now) > skew {
		return nil, fmt.Errorf("%w: KDC time %v", ErrClockSkew, part.AuthTime)
	}
	raw, err := ticketBytes(rb, 11)
	if err != nil {
		return nil, err
	}
	return &cachedTicket{ticket: rep.Ticket, raw: raw, key: Key{Enctype: part.Key.KeyType, Value: part.Key.KeyValue},
		end: part.EndTime, sname: principalOf(part.SName, part.SRealm)}, nil
}

// addPreauth adds PA-ENC-TIMESTAMP to req under the client key for the
// enctype the KDC prefers (its first ETYPE-INFO2 entry).
func (s *KDCTicketSource) addPreauth(req *messages.ASReq, ke messages.KRBError) (types.PADataSequence, error) {
	var pas types.PADataSequence
	if err := guardPanic(func() error { return pas.Unmarshal(ke.EData) }); err != nil {
		return nil, fmt.Errorf("%w: PREAUTH_REQUIRED e-data", ErrMalformed)
	}
	etype := int32(0)
	for _, pa := range pas {
		if pa.PADataType == patype.PA_ETYPE_INFO2 {
			var info types.ETypeInfo2
			if guardPanic(func() error { return info.Unmarshal(pa.PADataValue) }) == nil {
				for _, e := range info {
					if supportedEnctype(e.EType) {
						etype = e.EType
						break
					}
				}
			}
		}
	}
	if etype == 0 {
		return nil, fmt.Errorf("%w: the KDC offers no AES enctype for pre-authentication", ErrUnsupportedEnctype)
	}
	key, err := s.clientKey(etype, 0, pas)
	if err != nil {
		return nil, err
	}
	var ts []byte
	if err := guardPanic(func() error { var e error; ts, e = types.GetPAEncTSEncAsnMarshalled(); return e }); err != nil {
		return nil, err
	}
	var ed types.EncryptedData
	if err := guardPanic(func() error {
		var e error
		ed, e = crypto.GetEncryptedData(ts, types.EncryptionKey{KeyType: key.Enctype, KeyValue: key.Value}, keyusage.AS_REQ_PA_ENC_TIMESTAMP, 0)
		return e
	}); err != nil {
		return nil, fmt.Errorf("gssapi: pre-authentication: %w", err)
	}
	eb, err := ed.Marshal()
	if err != nil {
		return nil, err
	}
	req.PAData = types.PADataSequence{{PADataType: patype.PA_ENC_TIMESTAMP, PADataValue: eb}}
	return pas, nil
}

// clientKey returns the client's long-term key of an enctype.
func (s *KDCTicketSource) clientKey(etype int32, kvno int, pas types.PADataSequence) (Key, error) {
	if !supportedEnctype(etype) {
		return Key{}, fmt.Errorf("%w: %d", ErrUnsupportedEnctype, etype)
	}
	cname := types.PrincipalName{NameType: s.client.NameType, NameString: s.client.Components}
	var k types.EncryptionKey
	err := guardPanic(func() error {
		var e error
		if s.keytab != nil {
			k, _, e = s.keytab.GetEncryptionKey(cname, s.client.Realm, kvno, etype)
			if e != nil {
				k, _, e = s.keytab.GetEncryptionKey(cname, s.client.Realm, 0, etype)
			}
			return e
		}
		k, _, e = crypto.GetKeyFromPassword(s.password, cname, s.client.Realm, etype, pas)
		return e
	})
	if err != nil {
		return Key{}, fmt.Errorf("%w: no key of enctype %d for %q", ErrNoCredentials, etype, s.client.String())
	}
	// Check the size rather than trust gokrb5's GetKeyByteSize (24 for
	// aes256-sha384, whose keys are 32).
	key := Key{Enctype: etype, Value: k.KeyValue}
	if err := gss.CheckKey(key); err != nil {
		return Key{}, fmt.Errorf("client key: %w", err)
	}
	return key, nil
}

// tgsExchange asks the KDC for a ticket to service with the TGT (RFC 4120
// §3.3).
func (s *KDCTicketSource) tgsExchange(ctx context.Context, tgt *cachedTicket, service Principal) (*cachedTicket, error) {
	if service.Realm != s.client.Realm {
		return nil, fmt.Errorf("gssapi: service realm %q differs from the client's %q: cross-realm is not supported", service.Realm, s.client.Realm)
	}
	cname := types.PrincipalName{NameType: s.client.NameType, NameString: s.client.Components}
	sname := types.PrincipalName{NameType: service.NameType, NameString: service.Components}
	if sname.NameType == 0 {
		sname.NameType = nametype.KRB_NT_PRINCIPAL
	}
	var req messages.TGSReq
	if err := guardPanic(func() error {
		var e error
		req, e = messages.NewTGSReq(cname, service.Realm, s.conf.c, tgt.ticket,
			types.EncryptionKey{KeyType: tgt.key.Enctype, KeyValue: tgt.key.Value}, sname, false)
		return e
	}); err != nil {
		return nil, fmt.Errorf("gssapi: building TGS-REQ: %w", err)
	}
	// The body is under the authenticator's checksum: it cannot be
	// changed now. The session key's enctype is checked in the reply.
	b, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("gssapi: encoding TGS-REQ: %w", err)
	}
	rb, err := s.exchange(ctx, service.Realm, b)
	if err != nil {
		return nil, err
	}
	if ke, ok := asKRBError(rb); ok {
		return nil, kdcError(ke)
	}
	var rep messages.TGSRep
	if err := guardPanic(func() error { return rep.Unmarshal(rb) }); err != nil {
		return nil, fmt.Errorf("%w: TGS-REP", ErrMalformed)
	}
	pb, err := decryptGuarded(tgt.key, keyusage.TGS_REP_ENCPART_SESSION_KEY, rep.EncPart)
	if err != nil {
		return nil, fmt.Errorf("TGS-REP: %w", err)
	}
	var part messages.EncKDCRepPart
	if err := guardPanic(func() error { return part.Unmarshal(pb) }); err != nil {
		return nil, fmt.Errorf("%w: TGS-REP enc-part", ErrMalformed)
	}
	if part.Nonce != req.ReqBody.Nonce {
		return nil, fmt.Errorf("%w: TGS-REP nonce differs", ErrMalformed)
	}
	got := principalOf(part.SName, part.SRealm)
	if !got.Equal(service) {
		return nil, fmt.Errorf("gssapi: KDC issued a ticket for %q, not %q (referrals are not supported)", got.String(), service.String())
	}
	if !supportedEnctype(part.Key.KeyType) {
		return nil, fmt.Errorf("%w: session key enctype %d", ErrUnsupportedEnctype, part.Key.KeyType)
	}
	raw, err := ticketBytes(rb, 13)
	if err != nil {
		return nil, err
	}
	return &cachedTicket{ticket: rep.Ticket, raw: raw, key: Key{Enctype: part.Key.KeyType, Value: part.Key.KeyValue},
		end: part.EndTime, sname: got}, nil
}

// ticketBytes returns the ticket of a KDC-REP ([APPLICATION app]) as the
// KDC encoded it: the content of field [5].
func ticketBytes(rep []byte, app int) ([]byte, error) {
	s := cryptobyte.String(rep)
	var seq, body cryptobyte.String
	if !s.ReadASN1(&seq, casn1.Tag(app)|0x60) || !seq.ReadASN1(&body, casn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: KDC-REP", ErrMalformed)
	}
	for !body.Empty() {
		var field cryptobyte.String
		var tag casn1.Tag
		if !body.ReadAnyASN1(&field, &tag) {
			return nil, fmt.Errorf("%w: KDC-REP", ErrMalformed)
		}
		if tag == casn1.Tag(5).ContextSpecific().Constructed() {
			return append([]byte(nil), field...), nil
		}
	}
	return nil, fmt.Errorf("%w: KDC-REP without a ticket", ErrMalformed)
}

// decryptGuarded decrypts an EncryptedData from the KDC under key: the
// enctypes must agree, then the context layer's guarded decrypt runs.
func decryptGuarded(key Key, usage uint32, ed types.EncryptedData) ([]byte, error) {
	if ed.EType != key.Enctype {
		return nil, fmt.Errorf("%w: enctype %d under a key of enctype %d", ErrMalformed, ed.EType, key.Enctype)
	}
	return gss.Decrypt(key, usage, ed.Cipher)
}

// asKRBError reports whether b is a KRB-ERROR ([APPLICATION 30]).
func asKRBError(b []byte) (messages.KRBError, bool) {
	var ke messages.KRBError
	if len(b) == 0 || b[0] != 0x7e {
		return ke, false
	}
	if guardPanic(func() error { return ke.Unmarshal(b) }) != nil {
		return ke, false
	}
	return ke, true
}

func kdcError(ke messages.KRBError) error {
	text := ke.EText
	if len(text) > 256 {
		text = text[:256]
	}
	return &KDCError{Code: ke.ErrorCode, Text: text}
}

func principalOf(n types.PrincipalName, realm string) Principal {
	return Principal{NameType: n.NameType, Components: n.NameString, Realm: realm}
}

// supportedOnly keeps the AES enctypes of a krb5.conf list, or all four if
// it names none.
func supportedOnly(in []int32) []int32 {
	var out []int32
	for _, e := range in {
		if supportedEnctype(e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		out = append(out, gss.Enctypes...)
	}
	return out
}
