// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss_test

import (
	"fmt"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
)

// Context tokens travel framed as RFC 2743 §3.1 says, with the Kerberos V5
// OID and a TOK_ID; ParseToken gives both back, and refuses other mechanisms.
func ExampleParseToken() {
	tok := gss.AppendToken(nil, gss.TokAPRep, []byte{0x6f, 0x00})
	fmt.Printf("% x\n", tok)
	id, msg, err := gss.ParseToken(tok)
	fmt.Println(id, msg, err)
	spnego := []byte{0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0x01, 0x00}
	_, _, err = gss.ParseToken(spnego)
	fmt.Println(err)
	// Output:
	// 60 0f 06 09 2a 86 48 86 f7 12 01 02 02 02 00 6f 00
	// AP-REP [111 0] <nil>
	// gssapi: token for another GSS mechanism: OID 1.3.6.1.5.5.2
}
