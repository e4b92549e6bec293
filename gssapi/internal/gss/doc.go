// Copyright 2026 The zmtpsec Authors. All rights reserved.

// Package gss is the Kerberos V5 GSS-API mechanism (RFC 4121, OID
// 1.2.840.113554.1.2.2) as libzmq's GSSAPI security speaks it through MIT
// krb5: the RFC 2743 token framing, the initiator's AP-REQ and the check of
// the acceptor's AP-REP, the acceptor's check of an AP-REQ against a keytab
// and its AP-REP, and sealed RFC 4121 Wrap tokens. It does no I/O: it takes
// tokens and returns tokens. The KDC exchange lives in the module root.
//
// It stands on github.com/jcmturner/gokrb5/v8 (pinned at v8.4.4) for the
// Kerberos message types and the RFC 3961/3962/8009 crypto, behind a guard
// layer: every ciphertext is length-checked against its enctype before
// gokrb5 sees it, and every call into gokrb5 runs under a recover that turns
// a panic into [ErrMalformed]. Only the four AES enctypes are accepted
// (17, 18, 19, 20). See docs/gssapi.md#gokrb5-and-the-guard-layer.
//
// A [Context] is stricter than MIT krb5 in one place: Unwrap accepts only the
// next sequence number, so a replayed, reordered or missing token ends the
// connection (docs/gssapi.md#how-we-are-stricter-than-libzmq-and-mit).
package gss
