// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// DefaultMaxSkew is the clock skew an acceptor allows by default, as MIT.
const DefaultMaxSkew = 5 * time.Minute

// AcceptorConfig is what an acceptor needs.
type AcceptorConfig struct {
	// Keytab holds the service keys. Required.
	Keytab *keytab.Keytab
	// Principal, when not zero, restricts the acceptor to tickets for
	// that service principal; otherwise any key in Keytab serves.
	Principal Principal
	// MaxSkew is the clock skew allowed; zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the acceptor's clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of the acceptor subkey and sequence number; nil
	// means crypto/rand.
	Rand io.Reader
	// Replay is the replay cache, shared by every acceptor of the same
	// keytab; nil means a private one of DefaultReplayCacheSize.
	Replay *ReplayCache
	// Limits apply to the Context's Unwrap.
	Limits WrapLimits
}

// An Acceptor verifies AP-REQs. It is immutable after NewAcceptor, and safe
// for concurrent use by many connections.
type Acceptor struct {
	cfg AcceptorConfig
}

// NewAcceptor checks cfg and returns an Acceptor.
func NewAcceptor(cfg AcceptorConfig) (*Acceptor, error) {
	if cfg.Keytab == nil {
		return nil, errors.New("gssapi: acceptor needs a keytab")
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Replay == nil {
		cfg.Replay = NewReplayCache(0)
	}
	return &Acceptor{cfg: cfg}, nil
}

// AcceptResult is an accepted AP-REQ.
type AcceptResult struct {
	// Context is the established context; its Wrap key is the acceptor
	// subkey sent in the AP-REP.
	Context *Context
	// Token is the framed AP-REP (TOK_ID 02 00) to send back.
	Token []byte
	// Client is the authenticated client principal; Client.String() is
	// the "user@REALM" display name libzmq gives ZAP.
	Client Principal
	// Service is the service principal of the ticket.
	Service Principal
}

// openTicket decrypts tkt's EncTicketPart with the service key kt holds
// for it: the enctype checked, the length guard, and gokrb5 under a
// recover.
func openTicket(kt *keytab.Keytab, tkt *messages.Ticket) (messages.EncTicketPart, error) {
	var etp messages.EncTicketPart
	if _, err := lookupEnctype(tkt.EncPart.EType); err != nil {
		return etp, fmt.Errorf("ticket: %w", err)
	}
	var skey types.EncryptionKey
	err := guard("keytab", func() error {
		var kerr error
		skey, _, kerr = kt.GetEncryptionKey(tkt.SName, tkt.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
		return kerr
	})
	if err != nil {
		return etp, fmt.Errorf("%w: %q kvno %d enctype %d", ErrNoKey, principalFrom(tkt.SName, tkt.Realm).String(), tkt.EncPart.KVNO, tkt.EncPart.EType)
	}
	tb, err := decrypt(Key{Enctype: skey.KeyType, Value: skey.KeyValue}, usageTicket, tkt.EncPart.Cipher)
	if err != nil {
		return etp, fmt.Errorf("ticket: %w", err)
	}
	if err := guard("EncTicketPart", func() error { return etp.Unmarshal(tb) }); err != nil {
		return etp, malformedErr("EncTicketPart", err)
	}
	return etp, nil
}

// Accept verifies a framed AP-REQ and, if it is good, returns the context
// and the AP-REP to send.
//
// Every ciphertext is length-checked before gokrb5 decrypts it, and gokrb5
// runs under a recover. The checks, in order: the framing and TOK_ID 01 00;
// the AP-REQ (no user-to-user, mutual-required set); the ticket's service
// principal against the restriction; the keytab key (principal, kvno,
// enctype); the ticket (decrypts, usage 2; within its validity allowing the
// skew); the authenticator (decrypts under the session key, usage 11; same
// client as the ticket; time within the skew); the 0x8003 checksum (type,
// at least 24 bytes, Lgth 16, zero channel bindings, MUTUAL set); the
// subkey's enctype and size; then the replay cache. Only then is the AP-REP
// built: EncAPRepPart{ctime, cusec, a fresh acceptor subkey of the
// initiator subkey's enctype, a random seq-number below 2^30}, encrypted
// under the session key with usage 12.
func (a *Acceptor) Accept(token []byte) (*AcceptResult, error) {
	id, msg, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	if id != TokAPReq {
		return nil, fmt.Errorf("%w: %v where an AP-REQ was due", ErrUnexpectedToken, id)
	}
	var req messages.APReq
	if err := guard("AP-REQ", func() error { return req.Unmarshal(msg) }); err != nil {
		return nil, malformedErr("AP-REQ", err)
	}
	if req.PVNO != pvno || req.Ticket.TktVNO != pvno {
		return nil, malformed("AP-REQ pvno")
	}
	if isFlagSet(req.APOptions, flags.APOptionUseSessionKey) {
		return nil, fmt.Errorf("%w: user-to-user AP-REQ", ErrUnsupported)
	}
	if !isFlagSet(req.APOptions, flags.APOptionMutualRequired) {
		return nil, ErrMutualRequired
	}
	tkt := &req.Ticket
	if len(tkt.SName.NameString) == 0 || tkt.Realm == "" {
		return nil, malformed("ticket without a service principal")
	}
	service := principalFrom(tkt.SName, tkt.Realm)
	if !a.cfg.Principal.IsZero() && !a.cfg.Principal.Equal(service) {
		return nil, fmt.Errorf("%w: %q", ErrWrongPrincipal, service.String())
	}

	// The ticket, under the service key.
	etp, err := openTicket(a.cfg.Keytab, tkt)
	if err != nil {
		return nil, err
	}
	sessionKey := Key{Enctype: etp.Key.KeyType, Value: etp.Key.KeyValue}
	if _, err := sessionKey.check(); err != nil {
		return nil, fmt.Errorf("ticket session key: %w", err)
	}
	now := a.cfg.Now().UTC()
	skew := a.cfg.MaxSkew
	start := etp.StartTime
	if start.IsZero() {
		start = etp.AuthTime
	}
	if isFlagSet(etp.Flags, flags.Invalid) || start.Sub(now) > skew {
		return nil, ErrTicketNotYetValid
	}
	if now.Sub(etp.EndTime) > skew {
		return nil, ErrTicketExpired
	}
	client := principalFrom(etp.CName, etp.CRealm)
	if client.IsZero() || client.Realm == "" {
		return nil, malformed("ticket without a client principal")
	}

	// The authenticator, under the session key.
	if req.EncryptedAuthenticator.EType != sessionKey.Enctype {
		return nil, fmt.Errorf("%w: authenticator enctype %d, session key %d", ErrMalformed, req.EncryptedAuthenticator.EType, sessionKey.Enctype)
	}
	ab, err := decrypt(sessionKey, usageAuthenticator, req.EncryptedAuthenticator.Cipher)
	if err != nil {
		return nil, fmt.Errorf("authenticator: %w", err)
	}
	var auth types.Authenticator
	if err := guard("Authenticator", func() error { return auth.Unmarshal(ab) }); err != nil {
		return nil, malformedErr("Authenticator", err)
	}
	if auth.AVNO != pvno {
		return nil, malformed("authenticator vno")
	}
	if !principalFrom(auth.CName, auth.CRealm).Equal(client) {
		return nil, ErrClientMismatch
	}
	if auth.Cusec < 0 || auth.Cusec > 999999 {
		return nil, malformed("authenticator cusec")
	}
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > skew || -d > skew {
		return nil, fmt.Errorf("%w: %v", ErrClockSkew, d.Round(time.Second))
	}
	if err := checkGSSChecksum(auth.Cksum); err != nil {
		return nil, err
	}
	subkeyType := sessionKey.Enctype
	haveSubkey := len(auth.SubKey.KeyValue) > 0 || auth.SubKey.KeyType != 0
	if haveSubkey {
		sk := Key{Enctype: auth.SubKey.KeyType, Value: auth.SubKey.KeyValue}
		if _, err := sk.check(); err != nil {
			return nil, fmt.Errorf("authenticator subkey: %w", err)
		}
		subkeyType = sk.Enctype
	}
	if auth.SeqNumber < 0 || auth.SeqNumber > 0xffffffff {
		return nil, malformed("authenticator seq-number")
	}

	// Everything checks: remember it, then answer.
	rk := replayKey(client, auth.CTime, auth.Cusec, req.EncryptedAuthenticator.Cipher)
	if err := a.cfg.Replay.add(rk, now, 2*skew); err != nil {
		return nil, err
	}
	asub, err := NewKey(a.cfg.Rand, subkeyType)
	if err != nil {
		return nil, err
	}
	var sb [4]byte
	if _, err := io.ReadFull(a.cfg.Rand, sb[:]); err != nil {
		return nil, fmt.Errorf("gssapi: reading random sequence number: %w", err)
	}
	aseq := binary.BigEndian.Uint32(sb[:]) & 0x3fffffff
	part, err := marshalEncAPRepPart(auth.CTime, auth.Cusec, asub, aseq)
	if err != nil {
		return nil, fmt.Errorf("gssapi: encoding EncAPRepPart: %w", err)
	}
	pc, err := encrypt(sessionKey, usageAPRepPart, part)
	if err != nil {
		return nil, err
	}
	rep, err := marshalAPRep(sessionKey.Enctype, pc)
	if err != nil {
		return nil, fmt.Errorf("gssapi: encoding AP-REP: %w", err)
	}
	ctx, err := newContext(asub, false, true, uint64(aseq), uint64(auth.SeqNumber), a.cfg.Limits)
	if err != nil {
		return nil, err
	}
	return &AcceptResult{
		Context: ctx,
		Token:   AppendToken(nil, TokAPRep, rep),
		Client:  client,
		Service: service,
	}, nil
}

// checkGSSChecksum checks the RFC 4121 §4.1.1 authenticator checksum:
// type 0x8003, at least 24 bytes, Lgth = 16, sixteen zero bytes of channel
// bindings (we bind none, as libzmq), and the MUTUAL flag. Delegation data
// after the 24 bytes is ignored.
func checkGSSChecksum(c types.Checksum) error {
	if c.CksumType != gssChecksum {
		return fmt.Errorf("%w: type %#x", ErrBadChecksum, c.CksumType)
	}
	b := c.Checksum
	if len(b) < gssChecksumLen {
		return fmt.Errorf("%w: %d bytes", ErrBadChecksum, len(b))
	}
	if binary.LittleEndian.Uint32(b[0:4]) != 16 {
		return fmt.Errorf("%w: Lgth %d", ErrBadChecksum, binary.LittleEndian.Uint32(b[0:4]))
	}
	for _, x := range b[4:20] {
		if x != 0 {
			return fmt.Errorf("%w: channel bindings present", ErrBadChecksum)
		}
	}
	if binary.LittleEndian.Uint32(b[20:24])&FlagMutual == 0 {
		return fmt.Errorf("%w: MUTUAL flag not set", ErrBadChecksum)
	}
	return nil
}

// isFlagSet reads bit i of a Kerberos flags BIT STRING without the
// out-of-range panic of a short one.
func isFlagSet(bs interface{ At(int) int }, i int) bool {
	return bs.At(i) == 1
}
