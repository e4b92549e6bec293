// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"slices"
	"strings"

	"github.com/jcmturner/gokrb5/v8/types"
)

// Kerberos name types (RFC 4120 §6.2).
const (
	NTPrincipal int32 = 1 // KRB_NT_PRINCIPAL: a user, "alice"
	NTSrvInst   int32 = 2 // KRB_NT_SRV_INST: a service instance, "krbtgt/REALM"
	NTSrvHst    int32 = 3 // KRB_NT_SRV_HST: a host-based service, "zmq/host"
)

// A Principal is a Kerberos principal name: its name type, its components
// and its realm.
type Principal struct {
	NameType   int32
	Components []string
	Realm      string
}

// String returns the display form MIT's gss_display_name gives, and the
// one libzmq sends to ZAP: the components joined by "/", then "@" and the
// realm, with "/", "@", "\" and control characters in a component escaped
// by a backslash ("alice@ZMTP.TEST", "zmqtest/localhost@ZMTP.TEST").
func (p Principal) String() string {
	var b strings.Builder
	for i, c := range p.Components {
		if i > 0 {
			b.WriteByte('/')
		}
		writeEscaped(&b, c, true)
	}
	if p.Realm != "" {
		b.WriteByte('@')
		writeEscaped(&b, p.Realm, false)
	}
	return b.String()
}

func writeEscaped(b *strings.Builder, s string, slash bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '@', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '/':
			if slash {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
}

// Equal reports whether p and q name the same principal: the same
// components and realm. Name types are not compared, as in MIT krb5.
func (p Principal) Equal(q Principal) bool {
	return p.Realm == q.Realm && slices.Equal(p.Components, q.Components)
}

// IsZero reports whether p has no components.
func (p Principal) IsZero() bool { return len(p.Components) == 0 }

func (p Principal) name() types.PrincipalName {
	return types.PrincipalName{NameType: p.NameType, NameString: p.Components}
}

func principalFrom(n types.PrincipalName, realm string) Principal {
	return Principal{NameType: n.NameType, Components: slices.Clone(n.NameString), Realm: realm}
}
