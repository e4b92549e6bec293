// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"bytes"
	"fmt"
)

// A TokenID is the two-byte TOK_ID of a Kerberos V5 context token (RFC 1964
// §1.1, RFC 4121 §4.1), or of a per-message token (RFC 4121 §4.2.6).
type TokenID uint16

// Context token IDs, and the per-message ones.
const (
	TokAPReq    TokenID = 0x0100 // KRB_AP_REQ, initiator to acceptor
	TokAPRep    TokenID = 0x0200 // KRB_AP_REP, acceptor to initiator
	TokKRBError TokenID = 0x0300 // KRB_ERROR, either way
	TokMIC      TokenID = 0x0404 // RFC 4121 MIC token (never accepted here)
	TokWrap     TokenID = 0x0504 // RFC 4121 Wrap token
)

// String returns the token's name, "AP-REQ" for instance.
func (id TokenID) String() string {
	switch id {
	case TokAPReq:
		return "AP-REQ"
	case TokAPRep:
		return "AP-REP"
	case TokKRBError:
		return "KRB-ERROR"
	case TokMIC:
		return "MIC"
	case TokWrap:
		return "Wrap"
	}
	return fmt.Sprintf("TokenID(%#04x)", uint16(id))
}

// krb5OID is the DER of the Kerberos V5 mechanism OID 1.2.840.113554.1.2.2,
// tag and length included.
var krb5OID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}

// MaxContextToken bounds a context token (AP-REQ, AP-REP, KRB-ERROR) that
// ParseToken accepts. An AP-REQ from MIT was 715 bytes; tickets carrying a
// Windows PAC reach a few tens of kilobytes.
const MaxContextToken = 64 << 10

// AppendToken appends the RFC 2743 §3.1 framing of a Kerberos V5 context
// token to dst: 0x60, the DER length, the mechanism OID, id, then msg (the
// DER Kerberos message).
func AppendToken(dst []byte, id TokenID, msg []byte) []byte {
	n := len(krb5OID) + 2 + len(msg)
	dst = append(dst, 0x60)
	dst = appendDERLength(dst, n)
	dst = append(dst, krb5OID...)
	dst = append(dst, byte(id>>8), byte(id))
	return append(dst, msg...)
}

func appendDERLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xff:
		return append(dst, 0x81, byte(n))
	case n <= 0xffff:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// ParseToken checks the RFC 2743 §3.1 framing of a context token and
// returns its TOK_ID and the Kerberos message after it, a view into tok.
//
// It is strict: the outer length must be in DER's minimal form and cover
// exactly the rest of tok, and the OID must be Kerberos V5 (any other,
// SPNEGO's included, is ErrWrongMechanism). Tokens over MaxContextToken are
// refused before anything else is read.
func ParseToken(tok []byte) (TokenID, []byte, error) {
	if len(tok) > MaxContextToken {
		return 0, nil, fmt.Errorf("%w: %d-byte context token, limit %d", ErrMalformed, len(tok), MaxContextToken)
	}
	if len(tok) < 2 || tok[0] != 0x60 {
		return 0, nil, malformed("not an RFC 2743 initial context token")
	}
	n, rest, ok := readDERLength(tok[1:])
	if !ok {
		return 0, nil, malformed("bad DER length")
	}
	if n != len(rest) {
		return 0, nil, malformed("DER length does not match the token")
	}
	// The mechanism OID: 06, a one-byte length, the OID bytes.
	if len(rest) < 2 || rest[0] != 0x06 || rest[1] >= 0x80 || int(rest[1])+2 > len(rest) {
		return 0, nil, malformed("no mechanism OID")
	}
	oid := rest[:2+int(rest[1])]
	if !bytes.Equal(oid, krb5OID) {
		return 0, nil, fmt.Errorf("%w: OID %s", ErrWrongMechanism, oidString(oid[2:]))
	}
	rest = rest[len(oid):]
	if len(rest) < 2 {
		return 0, nil, malformed("no TOK_ID")
	}
	return TokenID(rest[0])<<8 | TokenID(rest[1]), rest[2:], nil
}

// readDERLength reads a DER length: short form, or long form in one to four
// bytes with no leading zero and only when the short form cannot hold it.
func readDERLength(b []byte) (n int, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	if b[0] < 0x80 {
		return int(b[0]), b[1:], true
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 || len(b) < 1+k || b[1] == 0 {
		return 0, nil, false
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0x80 {
		return 0, nil, false
	}
	return n, b[1+k:], true
}

// oidString formats the content bytes of an OID in dotted form for an error
// message, or as hex if they do not decode. At most 64 bytes are read.
func oidString(b []byte) string {
	if len(b) == 0 || len(b) > 64 {
		return fmt.Sprintf("%x", b)
	}
	var arcs []uint64
	var v uint64
	for i, c := range b {
		if v > 1<<56 {
			return fmt.Sprintf("%x", b)
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			arcs = append(arcs, v)
			v = 0
		} else if i == len(b)-1 {
			return fmt.Sprintf("%x", b)
		}
	}
	var s []byte
	first := arcs[0]
	switch {
	case first < 40:
		s = fmt.Appendf(s, "0.%d", first)
	case first < 80:
		s = fmt.Appendf(s, "1.%d", first-40)
	default:
		s = fmt.Appendf(s, "2.%d", first-80)
	}
	for _, a := range arcs[1:] {
		s = fmt.Appendf(s, ".%d", a)
	}
	return string(s)
}
