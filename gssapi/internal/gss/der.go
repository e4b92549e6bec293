// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

// DER encoders for the Kerberos messages this package writes itself
// (RFC 4120 §5.5): the AP-REQ and its Authenticator, the AP-REP and its
// EncAPRepPart. gokrb5 cannot marshal an AP-REP at all, and its AP-REQ
// re-encodes the ticket; these write the ticket bytes as the KDC sent them.

import (
	"time"

	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Kerberos message types and APPLICATION tags (RFC 4120 §5.10).
const (
	pvno           = 5
	msgTypeAPReq   = 14
	msgTypeAPRep   = 15
	appTicket      = 1
	appAuthent     = 2
	appAPReq       = 14
	appAPRep       = 15
	appEncAPRep    = 27
	generalString  = casn1.Tag(27)
	gssChecksum    = 0x8003 // RFC 4121 §4.1.1 authenticator checksum type
	gssChecksumLen = 24     // Lgth, Bnd, Flags
)

// GSS context flags (RFC 2744, RFC 4121 §4.1.1.1).
const (
	FlagDeleg    uint32 = 0x01
	FlagMutual   uint32 = 0x02
	FlagReplay   uint32 = 0x04
	FlagSequence uint32 = 0x08
	FlagConf     uint32 = 0x10
	FlagInteg    uint32 = 0x20
	FlagTrans    uint32 = 0x100
	// DefaultFlags is what MIT puts in libzmq's AP-REQ: libzmq asks for
	// MUTUAL|REPLAY and MIT adds CONF|INTEG|TRANS.
	DefaultFlags = FlagMutual | FlagReplay | FlagConf | FlagInteg | FlagTrans
)

// apOptionsMutual is the ap-options BIT STRING content with
// mutual-required (bit 2) set, as MIT sends it: 20 00 00 00.
var apOptionsMutual = []byte{0x20, 0, 0, 0}

func appTag(n int) casn1.Tag { return casn1.Tag(n) | 0x40 | 0x20 }
func ctxTag(n int) casn1.Tag { return casn1.Tag(n).ContextSpecific().Constructed() }
func addExplicit(b *cryptobyte.Builder, n int, f cryptobyte.BuilderContinuation) {
	b.AddASN1(ctxTag(n), f)
}

func addInt(b *cryptobyte.Builder, n int, v int64) {
	addExplicit(b, n, func(b *cryptobyte.Builder) { b.AddASN1Int64(v) })
}

func addOctets(b *cryptobyte.Builder, n int, v []byte) {
	addExplicit(b, n, func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) })
}

func addTime(b *cryptobyte.Builder, n int, t time.Time) {
	addExplicit(b, n, func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(t.UTC().Truncate(time.Second)) })
}

func addGeneralString(b *cryptobyte.Builder, s string) {
	b.AddASN1(generalString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func addPrincipalName(b *cryptobyte.Builder, n int, p Principal) {
	addExplicit(b, n, func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(p.NameType))
			addExplicit(b, 1, func(b *cryptobyte.Builder) {
				b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, c := range p.Components {
						addGeneralString(b, c)
					}
				})
			})
		})
	})
}

func addEncryptionKey(b *cryptobyte.Builder, n int, k Key) {
	addExplicit(b, n, func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(k.Enctype))
			addOctets(b, 1, k.Value)
		})
	})
}

// addEncryptedData writes EncryptedData without a kvno (an authenticator's
// or an AP-REP's enc-part carries none).
func addEncryptedData(b *cryptobyte.Builder, n int, enctype int32, cipher []byte) {
	addExplicit(b, n, func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(enctype))
			addOctets(b, 2, cipher)
		})
	})
}

// authenticator holds the fields of the Authenticator an initiator sends.
type authenticator struct {
	client   Principal
	checksum []byte // the 0x8003 checksum value
	ctime    time.Time
	cusec    int
	subkey   Key
	seq      uint32
}

// marshal returns the DER of the Authenticator ([APPLICATION 2]), fields
// in MIT's order: vno, crealm, cname, cksum, cusec, ctime, subkey, seq.
func (a *authenticator) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(appAuthent), func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, pvno)
			addExplicit(b, 1, func(b *cryptobyte.Builder) { addGeneralString(b, a.client.Realm) })
			addPrincipalName(b, 2, a.client)
			addExplicit(b, 3, func(b *cryptobyte.Builder) {
				b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, gssChecksum)
					addOctets(b, 1, a.checksum)
				})
			})
			addInt(b, 4, int64(a.cusec))
			addTime(b, 5, a.ctime)
			addEncryptionKey(b, 6, a.subkey)
			addInt(b, 7, int64(a.seq))
		})
	})
	return b.Bytes()
}

// marshalAPReq returns the DER of an AP-REQ ([APPLICATION 14]) with
// mutual-required set, the ticket written as given.
func marshalAPReq(ticket []byte, enctype int32, authCipher []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(appAPReq), func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, pvno)
			addInt(b, 1, msgTypeAPReq)
			addExplicit(b, 2, func(b *cryptobyte.Builder) { b.AddASN1BitString(apOptionsMutual) })
			addExplicit(b, 3, func(b *cryptobyte.Builder) { b.AddBytes(ticket) })
			addEncryptedData(b, 4, enctype, authCipher)
		})
	})
	return b.Bytes()
}

// marshalEncAPRepPart returns the DER of an EncAPRepPart ([APPLICATION 27]).
func marshalEncAPRepPart(ctime time.Time, cusec int, subkey Key, seq uint32) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(appEncAPRep), func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, 0, ctime)
			addInt(b, 1, int64(cusec))
			addEncryptionKey(b, 2, subkey)
			addInt(b, 3, int64(seq))
		})
	})
	return b.Bytes()
}

// marshalAPRep returns the DER of an AP-REP ([APPLICATION 15]).
func marshalAPRep(enctype int32, cipher []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(appAPRep), func(b *cryptobyte.Builder) {
		b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, pvno)
			addInt(b, 1, msgTypeAPRep)
			addEncryptedData(b, 2, enctype, cipher)
		})
	})
	return b.Bytes()
}

// isTicket reports whether b is exactly one DER element tagged
// [APPLICATION 1], as a Ticket is.
func isTicket(b []byte) bool {
	s := cryptobyte.String(b)
	var t cryptobyte.String
	return s.ReadASN1Element(&t, appTag(appTicket)) && s.Empty()
}

// appendGSSChecksum appends the 24-byte RFC 4121 §4.1.1 checksum value:
// Lgth = 16, sixteen zero bytes of channel bindings, flags, little-endian.
func appendGSSChecksum(dst []byte, flags uint32) []byte {
	dst = append(dst, 16, 0, 0, 0)
	dst = append(dst, make([]byte, 16)...)
	return append(dst, byte(flags), byte(flags>>8), byte(flags>>16), byte(flags>>24))
}
