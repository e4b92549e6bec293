// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
)

// InitiatorConfig is what an initiator needs: a service ticket and its
// session key, as a KDC issued them to Client.
type InitiatorConfig struct {
	// Client is the principal the ticket was issued to.
	Client Principal
	// Ticket is the service ticket, DER ([APPLICATION 1]), sent as is.
	Ticket []byte
	// SessionKey is the ticket's session key.
	SessionKey Key
	// Flags are the GSS flags of the authenticator checksum; zero means
	// DefaultFlags (0x136, what MIT sends for libzmq). FlagMutual is
	// always added.
	Flags uint32
	// Rand is the source of the subkey and the sequence number; nil
	// means crypto/rand.
	Rand io.Reader
	// Now is the clock of the authenticator; nil means time.Now.
	Now func() time.Time
	// Limits apply to the Context's Unwrap.
	Limits WrapLimits
}

// An Initiator is the client side of one context being established: it
// made the AP-REQ, and waits for the AP-REP.
type Initiator struct {
	sessionKey Key
	subkey     Key
	seq        uint32
	ctime      time.Time
	cusec      int
	limits     WrapLimits
	done       bool
}

// NewInitiator builds the AP-REQ exactly as MIT krb5 does for libzmq
// (docs/gssapi.md#the-context-tokens): ap-options mutual-required, an
// authenticator with the 0x8003 checksum (Lgth 16, no channel bindings,
// the flags), a fresh subkey of the session key's enctype and a random
// sequence number below 2^30. It returns the initiator and the framed
// context token (TOK_ID 01 00) to send.
func NewInitiator(cfg InitiatorConfig) (*Initiator, []byte, error) {
	if _, err := cfg.SessionKey.check(); err != nil {
		return nil, nil, fmt.Errorf("session key: %w", err)
	}
	if !isTicket(cfg.Ticket) {
		return nil, nil, malformed("service ticket is not a DER Ticket")
	}
	if cfg.Client.IsZero() || cfg.Client.Realm == "" {
		return nil, nil, fmt.Errorf("gssapi: initiator needs a client principal with a realm")
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	flags := cfg.Flags
	if flags == 0 {
		flags = DefaultFlags
	}
	flags |= FlagMutual

	// The subkey is sized from the session key's enctype by our own table,
	// not gokrb5's GetKeyByteSize (24 for aes256-sha384, whose keys are 32).
	subkey, err := NewKey(r, cfg.SessionKey.Enctype)
	if err != nil {
		return nil, nil, err
	}
	var sb [4]byte
	if _, err := io.ReadFull(r, sb[:]); err != nil {
		return nil, nil, fmt.Errorf("gssapi: reading random sequence number: %w", err)
	}
	t := now().UTC()
	in := &Initiator{
		sessionKey: cfg.SessionKey,
		subkey:     subkey,
		seq:        binary.BigEndian.Uint32(sb[:]) & 0x3fffffff,
		ctime:      t.Truncate(time.Second),
		cusec:      t.Nanosecond() / 1000,
		limits:     cfg.Limits,
	}
	a := authenticator{
		client:   cfg.Client,
		checksum: appendGSSChecksum(nil, flags),
		ctime:    in.ctime,
		cusec:    in.cusec,
		subkey:   subkey,
		seq:      in.seq,
	}
	ab, err := a.marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("gssapi: encoding authenticator: %w", err)
	}
	ac, err := encrypt(cfg.SessionKey, usageAuthenticator, ab)
	if err != nil {
		return nil, nil, err
	}
	req, err := marshalAPReq(cfg.Ticket, cfg.SessionKey.Enctype, ac)
	if err != nil {
		return nil, nil, fmt.Errorf("gssapi: encoding AP-REQ: %w", err)
	}
	return in, AppendToken(nil, TokAPReq, req), nil
}

// ReadAPRep checks the acceptor's answer and returns the established
// context. The token must be an AP-REP (TOK_ID 02 00) whose EncAPRepPart
// decrypts under the session key (key usage 12) and echoes our ctime and
// cusec; its subkey, when present, becomes the Wrap key and its seq-number
// the acceptor's first. A KRB-ERROR token is returned as a [*KRBError];
// anything else is an error. An Initiator reads one answer only: after the
// first call, success or not, it returns ErrContextState.
func (in *Initiator) ReadAPRep(token []byte) (*Context, error) {
	if in.done {
		return nil, ErrContextState
	}
	in.done = true
	id, msg, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	switch id {
	case TokAPRep:
	case TokKRBError:
		return nil, parseKRBError(msg)
	default:
		return nil, fmt.Errorf("%w: %v where an AP-REP was due", ErrUnexpectedToken, id)
	}
	var rep messages.APRep
	if err := guard("AP-REP", func() error { return rep.Unmarshal(msg) }); err != nil {
		return nil, malformedErr("AP-REP", err)
	}
	if rep.PVNO != pvno {
		return nil, malformed("AP-REP pvno")
	}
	if rep.EncPart.EType != in.sessionKey.Enctype {
		return nil, fmt.Errorf("%w: AP-REP enctype %d, session key %d", ErrMalformed, rep.EncPart.EType, in.sessionKey.Enctype)
	}
	pb, err := decrypt(in.sessionKey, usageAPRepPart, rep.EncPart.Cipher)
	if err != nil {
		return nil, fmt.Errorf("AP-REP: %w", err)
	}
	var part messages.EncAPRepPart
	if err := guard("EncAPRepPart", func() error { return part.Unmarshal(pb) }); err != nil {
		return nil, malformedErr("EncAPRepPart", err)
	}
	if !part.CTime.Equal(in.ctime) || part.Cusec != in.cusec {
		return nil, ErrAPRepMismatch
	}
	key, acceptorSubkey := in.subkey, false
	if len(part.Subkey.KeyValue) > 0 || part.Subkey.KeyType != 0 {
		key = Key{Enctype: part.Subkey.KeyType, Value: part.Subkey.KeyValue}
		if _, err := key.check(); err != nil {
			return nil, fmt.Errorf("AP-REP subkey: %w", err)
		}
		acceptorSubkey = true
	}
	if part.SequenceNumber < 0 || part.SequenceNumber > 0xffffffff {
		return nil, malformed("AP-REP seq-number")
	}
	return newContext(key, true, acceptorSubkey, uint64(in.seq), uint64(part.SequenceNumber), in.limits)
}

// malformedErr wraps a gokrb5 parse failure as ErrMalformed; a recovered
// panic already is one.
func malformedErr(what string, err error) error {
	if isMalformed(err) {
		return err
	}
	return fmt.Errorf("%w: %s: %q", ErrMalformed, what, err.Error())
}

// parseKRBError returns the *KRBError a KRB-ERROR message carries, or
// ErrMalformed.
func parseKRBError(msg []byte) error {
	var ke messages.KRBError
	if err := guard("KRB-ERROR", func() error { return ke.Unmarshal(msg) }); err != nil {
		return malformedErr("KRB-ERROR", err)
	}
	text := ke.EText
	if len(text) > 256 {
		text = text[:256]
	}
	return &KRBError{Code: ke.ErrorCode, Text: text}
}

// Close zeroes the initiator's session key and subkey (the Context that
// ReadAPRep returned holds copies of its own). A later ReadAPRep fails.
// It is safe to call more than once.
func (in *Initiator) Close() {
	clear(in.sessionKey.Value)
	clear(in.subkey.Value)
	in.done = true
}
