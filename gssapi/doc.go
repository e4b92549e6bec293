// Copyright 2026 The zmtpsec Authors. All rights reserved.

// Package gssapi is zmtpsec's GSSAPI security for ZMTP, in a module of its
// own (github.com/zmtpsec/zmtpsec/gssapi) so that the main module keeps its
// short list of dependencies: this one adds github.com/jcmturner/gokrb5/v8,
// pinned at v8.4.4, and keeps net/http out (a test checks it).
//
// It speaks Kerberos V5 as libzmq 4.3.4 does through MIT krb5: raw krb5 GSS
// tokens (no SPNEGO), mutual authentication, and every message sealed in an
// RFC 4121 Wrap token. docs/gssapi.md describes the wire and where we are
// stricter than libzmq and MIT.
//
// This package holds the credentials: [Krb5Config], [Keytab], names
// ([Krb5Config.ParseName], with libzmq's three name types), the
// [TicketSource] seam through which a client gets its service ticket, and
// [KDCTicketSource], which gets one from a KDC with a keytab, a password or
// a FILE credential cache, every exchange bounded by a context and every
// failure typed. A server authenticates with [ServerCredentials].
//
// [Client] and [Server] return the mechanism itself, a
// mechanism.Mechanism for transport.Config.Mechanism. It matches libzmq
// 4.3.4 on the wire (docs/wire-format.md#gssapi) and is stricter where
// libzmq has a hole: a ZAP refusal fails the handshake (4.3.4 ignores it;
// master ba63f037 agrees with us); only the empty command is taken where
// libzmq's server takes any command; the READY inside MESSAGE must carry
// inner flags 00; a gap in the Wrap sequence numbers is an error (MIT
// accepts one); an unsealed or empty Wrap token is refused, never sent.
// InsecurePlaintext is libzmq's ZMQ_GSSAPI_PLAINTEXT: after
// authentication nothing protects the messages.
//
// gokrb5 panics on some malformed input (a ciphertext shorter than its MAC,
// a truncated credential cache). Every call into it here and in the context
// layer runs behind a guard: lengths are checked before gokrb5 sees them,
// and a recover turns what slips through into [ErrMalformed]
// (docs/gssapi.md#gokrb5-and-the-guard-layer).
package gssapi
