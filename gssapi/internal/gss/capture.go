// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// A Recovered is what a recorded context establishment yields to the
// holder of the service keytab: both sides' Contexts, as they stood right
// after the AP-REP, and the authenticator's time.
type Recovered struct {
	Initiator, Acceptor *Context
	// AuthTime is the authenticator's ctime and cusec: when the
	// initiator made its AP-REQ.
	AuthTime time.Time
	Client   Principal
}

// Recover rebuilds both Contexts of a recorded establishment from the
// framed AP-REQ and AP-REP and the service keytab: the ticket gives the
// session key, the authenticator the initiator's sequence number, the
// EncAPRepPart the acceptor subkey and sequence number. It is for tests
// that open recorded sessions (known answers); it checks nothing that
// Accept checks beyond what decryption does.
func Recover(kt *keytab.Keytab, apReq, apRep []byte) (*Recovered, error) {
	id, msg, err := ParseToken(apReq)
	if err != nil {
		return nil, err
	}
	if id != TokAPReq {
		return nil, fmt.Errorf("%w: %v, want an AP-REQ", ErrUnexpectedToken, id)
	}
	var req messages.APReq
	if err := guard("AP-REQ", func() error { return req.Unmarshal(msg) }); err != nil {
		return nil, malformedErr("AP-REQ", err)
	}
	etp, err := openTicket(kt, &req.Ticket)
	if err != nil {
		return nil, err
	}
	session := Key{Enctype: etp.Key.KeyType, Value: etp.Key.KeyValue}
	ab, err := decrypt(session, usageAuthenticator, req.EncryptedAuthenticator.Cipher)
	if err != nil {
		return nil, fmt.Errorf("authenticator: %w", err)
	}
	var auth types.Authenticator
	if err := guard("Authenticator", func() error { return auth.Unmarshal(ab) }); err != nil {
		return nil, malformedErr("Authenticator", err)
	}
	id, msg, err = ParseToken(apRep)
	if err != nil {
		return nil, err
	}
	if id != TokAPRep {
		return nil, fmt.Errorf("%w: %v, want an AP-REP", ErrUnexpectedToken, id)
	}
	var rep messages.APRep
	if err := guard("AP-REP", func() error { return rep.Unmarshal(msg) }); err != nil {
		return nil, malformedErr("AP-REP", err)
	}
	pb, err := decrypt(session, usageAPRepPart, rep.EncPart.Cipher)
	if err != nil {
		return nil, fmt.Errorf("AP-REP: %w", err)
	}
	var part messages.EncAPRepPart
	if err := guard("EncAPRepPart", func() error { return part.Unmarshal(pb) }); err != nil {
		return nil, malformedErr("EncAPRepPart", err)
	}
	asub := Key{Enctype: part.Subkey.KeyType, Value: part.Subkey.KeyValue}
	iseq, aseq := uint64(uint32(auth.SeqNumber)), uint64(uint32(part.SequenceNumber))
	ini, err := newContext(asub, true, true, iseq, aseq, WrapLimits{})
	if err != nil {
		return nil, err
	}
	acc, err := newContext(asub, false, true, aseq, iseq, WrapLimits{})
	if err != nil {
		return nil, err
	}
	return &Recovered{
		Initiator: ini, Acceptor: acc,
		AuthTime: auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond),
		Client:   principalFrom(etp.CName, etp.CRealm),
	}, nil
}

// Reseal opens token, a Wrap token receiver's peer sent, with receiver
// (which advances its sequence number as Unwrap does), then seals the same
// plaintext again with sender, whose next sequence number must be the
// token's, under the confounder the token used. Wrap is deterministic but
// for the confounder, so a sender that computes as MIT does gives back
// token byte for byte: a known answer for Wrap against recorded tokens. An
// unrotated token (RRC 0, as MIT sends) is assumed.
func Reseal(sender, receiver *Context, token []byte) ([]byte, error) {
	if len(token) < wrapHeaderSize {
		return nil, malformed("short wrap token")
	}
	inner, err := receiver.open.open(nil, token[wrapHeaderSize:])
	if err != nil {
		return nil, err
	}
	pt, err := receiver.Unwrap(nil, token)
	if err != nil {
		return nil, err
	}
	sender.rand = bytes.NewReader(inner[:confounderSize])
	defer func() { sender.rand = nil }()
	return sender.Wrap(nil, pt)
}
