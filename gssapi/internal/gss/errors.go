// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"errors"
	"fmt"
)

// Errors a caller can branch on with [errors.Is]. Error strings start with
// "gssapi: " where they are created; wrapping adds detail after it.
var (
	// ErrMalformed reports a token, Kerberos message or ciphertext that
	// does not parse, is too short for its enctype, or made the Kerberos
	// library fail.
	ErrMalformed = errors.New("gssapi: malformed token")
	// ErrWrongMechanism reports an RFC 2743 token for another mechanism
	// than Kerberos V5 (SPNEGO, 1.3.6.1.5.5.2, among others).
	ErrWrongMechanism = errors.New("gssapi: token for another GSS mechanism")
	// ErrUnexpectedToken reports a well-formed token of the wrong kind
	// for the step (an AP-REP where an AP-REQ was due, a MIC token where
	// a Wrap token was due).
	ErrUnexpectedToken = errors.New("gssapi: unexpected token")
	// ErrUnsupportedEnctype reports a key or ciphertext of an enctype
	// other than the four AES ones (17, 18, 19, 20).
	ErrUnsupportedEnctype = errors.New("gssapi: unsupported enctype")
	// ErrDecrypt reports a ciphertext whose integrity check failed: the
	// wrong key, or tampering. It says nothing more, on purpose.
	ErrDecrypt = errors.New("gssapi: decryption failed")

	// ErrNoKey reports a ticket for which the acceptor's keytab holds no
	// key (principal, kvno and enctype).
	ErrNoKey = errors.New("gssapi: no key in the keytab for the ticket")
	// ErrWrongPrincipal reports a ticket for another service principal
	// than the one the acceptor is restricted to.
	ErrWrongPrincipal = errors.New("gssapi: ticket for another service principal")
	// ErrTicketNotYetValid and ErrTicketExpired report a ticket outside
	// its validity window, allowing for the clock skew.
	ErrTicketNotYetValid = errors.New("gssapi: ticket not yet valid")
	ErrTicketExpired     = errors.New("gssapi: ticket expired")
	// ErrClientMismatch reports an authenticator whose client is not the
	// ticket's.
	ErrClientMismatch = errors.New("gssapi: authenticator client differs from the ticket's")
	// ErrClockSkew reports an authenticator time too far from the
	// acceptor's clock.
	ErrClockSkew = errors.New("gssapi: clock skew too great")
	// ErrBadChecksum reports a missing, short or wrong-type 0x8003
	// authenticator checksum, non-zero channel bindings, or flags without
	// mutual authentication.
	ErrBadChecksum = errors.New("gssapi: bad GSS authenticator checksum")
	// ErrMutualRequired reports an AP-REQ that does not ask for mutual
	// authentication (libzmq always does).
	ErrMutualRequired = errors.New("gssapi: AP-REQ without mutual authentication")
	// ErrUnsupported reports a request this implementation does not
	// serve (user-to-user tickets).
	ErrUnsupported = errors.New("gssapi: unsupported request")
	// ErrReplay reports an AP-REQ the acceptor has already seen.
	ErrReplay = errors.New("gssapi: replayed AP-REQ")
	// ErrReplayCacheFull reports that the replay cache holds its maximum
	// of live entries; the AP-REQ is refused rather than forgotten.
	ErrReplayCacheFull = errors.New("gssapi: replay cache full")
	// ErrAPRepMismatch reports an AP-REP that decrypts but does not echo
	// the authenticator's time: it answers another AP-REQ.
	ErrAPRepMismatch = errors.New("gssapi: AP-REP does not answer our AP-REQ")
	// ErrContextState reports a call out of turn on an Initiator.
	ErrContextState = errors.New("gssapi: context used out of turn")

	// ErrTokenTooLarge reports a Wrap token over the caller's limit,
	// refused before decryption.
	ErrTokenTooLarge = errors.New("gssapi: wrap token too large")
	// ErrUnsealed reports a Wrap token without confidentiality (an
	// integrity-only token; it aborts libzmq 4.3.4).
	ErrUnsealed = errors.New("gssapi: wrap token not sealed")
	// ErrEmptyPlaintext reports a Wrap token with nothing inside (it
	// aborts libzmq 4.3.4), or a Wrap call with nothing to seal.
	ErrEmptyPlaintext = errors.New("gssapi: empty wrap plaintext")
	// ErrSequence reports a Wrap token whose sequence number is not the
	// next one expected: a replay, a reordering or a gap. It is matched by
	// every *SequenceError.
	ErrSequence = errors.New("gssapi: wrap token out of sequence")
	// ErrReflected reports a Wrap token whose direction flag says it came
	// from our own side.
	ErrReflected = errors.New("gssapi: wrap token reflected")
	// ErrKeyFlag reports a Wrap token whose AcceptorSubkey flag disagrees
	// with the key the context uses.
	ErrKeyFlag = errors.New("gssapi: wrap token names the wrong key")
	// ErrSequenceExhausted reports a send sequence number that would wrap.
	ErrSequenceExhausted = errors.New("gssapi: wrap sequence numbers exhausted")
	// ErrContextClosed reports a Wrap or Unwrap after the context's keys
	// were zeroed.
	ErrContextClosed = errors.New("gssapi: security context closed")
)

// A SequenceError reports a Wrap token whose sequence number is not the one
// expected. It matches [ErrSequence].
type SequenceError struct {
	Want, Got uint64
}

func (e *SequenceError) Error() string {
	kind := "gap"
	if e.Got < e.Want {
		kind = "replay or reorder"
	}
	return fmt.Sprintf("gssapi: wrap token out of sequence (%s): want %d, got %d", kind, e.Want, e.Got)
}

// Is reports whether target is [ErrSequence].
func (e *SequenceError) Is(target error) bool { return target == ErrSequence }

// A KRBError is a KRB-ERROR message the peer sent as its context token
// (TOK_ID 03 00), such as an acceptor refusing our AP-REQ.
type KRBError struct {
	Code int32  // the RFC 4120 error code
	Text string // the e-text, as sent (quoted when printed)
}

func (e *KRBError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("gssapi: peer sent KRB-ERROR %d", e.Code)
	}
	return fmt.Sprintf("gssapi: peer sent KRB-ERROR %d: %q", e.Code, e.Text)
}

// malformed returns an error matching ErrMalformed with what failed.
func malformed(what string) error {
	return fmt.Errorf("%w: %s", ErrMalformed, what)
}
