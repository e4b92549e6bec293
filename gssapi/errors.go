// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"errors"
	"fmt"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
)

// Errors of the security context, for [errors.Is]; see their doc in the
// list below. They are the same values the context layer returns.
var (
	ErrMalformed          = gss.ErrMalformed          // a token or message that does not parse
	ErrWrongMechanism     = gss.ErrWrongMechanism     // a GSS token for SPNEGO or another mechanism
	ErrUnexpectedToken    = gss.ErrUnexpectedToken    // a token of the wrong kind for the step
	ErrUnsupportedEnctype = gss.ErrUnsupportedEnctype // not one of the AES enctypes 17, 18, 19, 20
	ErrDecrypt            = gss.ErrDecrypt            // an integrity check failed
	ErrNoKey              = gss.ErrNoKey              // the keytab has no key for the ticket
	ErrWrongPrincipal     = gss.ErrWrongPrincipal     // a ticket for another service principal
	ErrTicketNotYetValid  = gss.ErrTicketNotYetValid  // a ticket before its start time
	ErrTicketExpired      = gss.ErrTicketExpired      // a ticket past its end time
	ErrClientMismatch     = gss.ErrClientMismatch     // authenticator and ticket name different clients
	ErrClockSkew          = gss.ErrClockSkew          // clocks too far apart (also from the KDC)
	ErrBadChecksum        = gss.ErrBadChecksum        // a bad 0x8003 authenticator checksum
	ErrMutualRequired     = gss.ErrMutualRequired     // an AP-REQ without mutual authentication
	ErrReplay             = gss.ErrReplay             // a replayed AP-REQ
	ErrReplayCacheFull    = gss.ErrReplayCacheFull    // the replay cache is full of live entries
	ErrAPRepMismatch      = gss.ErrAPRepMismatch      // an AP-REP that answers another AP-REQ
	ErrTokenTooLarge      = gss.ErrTokenTooLarge      // a Wrap token over the size limit
	ErrUnsealed           = gss.ErrUnsealed           // a Wrap token without confidentiality
	ErrEmptyPlaintext     = gss.ErrEmptyPlaintext     // a Wrap token with nothing inside
	ErrSequence           = gss.ErrSequence           // a Wrap token replayed, reordered or after a gap
	ErrReflected          = gss.ErrReflected          // a Wrap token sent back to its sender
	ErrKeyFlag            = gss.ErrKeyFlag            // a Wrap token naming the wrong key
)

// Errors of the credentials and the KDC exchange.
var (
	// ErrNoCredentials reports a client without what it needs to get a
	// ticket: no key for it in the keytab, a credential cache without a
	// valid TGT, or a server keytab without a key for its principal.
	ErrNoCredentials = errors.New("gssapi: no credentials")
	// ErrKDCUnreachable reports that no KDC of the realm answered within
	// the time allowed. The error also wraps the last network error (or
	// context.DeadlineExceeded).
	ErrKDCUnreachable = errors.New("gssapi: KDC unreachable")
	// ErrUnknownService reports a service principal the KDC does not know:
	// often a host name the KDC knows under another spelling (zmtpsec does
	// not canonicalize host names through DNS).
	ErrUnknownService = errors.New("gssapi: service principal unknown to the KDC")
	// ErrUnknownClient reports a client principal the KDC does not know.
	ErrUnknownClient = errors.New("gssapi: client principal unknown to the KDC")
	// ErrPreauthFailed reports a wrong password or client key.
	ErrPreauthFailed = errors.New("gssapi: pre-authentication failed: wrong password or key")
	// ErrBadConfig reports a krb5.conf, keytab or credential cache that
	// cannot be used; the error says which file, never its contents.
	ErrBadConfig = errors.New("gssapi: bad Kerberos configuration")
)

// A KRBError is a KRB-ERROR a peer sent instead of an AP-REP. It is the
// context layer's type.
type KRBError = gss.KRBError

// A KDCError is a KRB-ERROR the KDC answered with. It matches the sentinel
// of its code: ErrUnknownService (7), ErrUnknownClient (6),
// ErrPreauthFailed (24, and 31 from a password exchange), ErrClockSkew (37).
type KDCError struct {
	Code int32  // RFC 4120 §7.5.9 error code
	Text string // the KDC's e-text, as sent (quoted when printed)
}

func (e *KDCError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("gssapi: KDC error %d (%s)", e.Code, kdcErrorName(e.Code))
	}
	return fmt.Sprintf("gssapi: KDC error %d (%s): %q", e.Code, kdcErrorName(e.Code), e.Text)
}

// Is matches the sentinel of e's code.
func (e *KDCError) Is(target error) bool {
	switch e.Code {
	case 6:
		return target == ErrUnknownClient
	case 7:
		return target == ErrUnknownService
	case 24, 31:
		return target == ErrPreauthFailed
	case 37:
		return target == ErrClockSkew
	}
	return false
}

func kdcErrorName(code int32) string {
	switch code {
	case 6:
		return "client not found"
	case 7:
		return "server not found"
	case 14:
		return "enctype not supported"
	case 18:
		return "client revoked"
	case 24:
		return "pre-authentication failed"
	case 25:
		return "pre-authentication required"
	case 31:
		return "integrity check failed"
	case 37:
		return "clock skew too great"
	case 52:
		return "response too big for UDP"
	case 68:
		return "wrong realm"
	}
	return "unknown"
}
