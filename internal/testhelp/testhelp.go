// Package testhelp holds helpers shared by the tests of this module (and of
// conformance/, whose import path lies under it): wire bytes written the way
// docs/design-notes.md and the RFCs write them, and byte-slice plumbing.
//
// Only _test.go files import it; deps_test.go enforces that. It imports the
// standard library only, so that the tests of every package, the leaf
// packages' own (package-internal) tests included, can use it without an
// import cycle. Key-pair helpers, which need package cert, are in the
// subpackage testkeys.
package testhelp

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Wire decodes bytes written as the protocol documents write them: pairs of
// hex digits, optionally separated by blanks (spaces, tabs, newlines), and
// ASCII text between double quotes, so that
//
//	Wire(`04 29 05 "READY" 0B "Socket-Type" 00000006 "DEALER"`)
//
// is a READY command frame. It panics on anything else (an odd hex digit, a
// non-hex character, an unterminated quote): its input is a constant of the
// test, and a typo in it is a bug of the test.
func Wire(s string) []byte {
	var out []byte
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				panic(fmt.Sprintf("testhelp.Wire: unterminated quote at %q", s[i:]))
			}
			out = append(out, s[i+1:i+1+end]...)
			i += end + 2
		default:
			if i+2 > len(s) {
				panic(fmt.Sprintf("testhelp.Wire: odd hex digit at %q", s[i:]))
			}
			b, err := hex.DecodeString(s[i : i+2])
			if err != nil {
				panic(fmt.Sprintf("testhelp.Wire: at %q: %v", s[i:], err))
			}
			out = append(out, b...)
			i += 2
		}
	}
	return out
}

// Cat returns the concatenation of parts in a new slice, which it never
// shares with any of them.
func Cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// NullDealerHello returns what a ZMTP 3.1 DEALER sends first under NULL,
// written out by hand: the 64-byte greeting and a READY command carrying
// Socket-Type "DEALER" and the given Identity. Tests use it to be a peer
// whose Identity transport.Config would refuse (one starting with a zero
// byte) or to handshake without the library under test.
func NullDealerHello(identity []byte) []byte {
	greeting := Cat(
		Wire(`ff 00 00 00 00 00 00 00 00 7f  03 01  "NULL"`),
		make([]byte, 16), // the mechanism name's padding
		[]byte{0},        // as-server
		make([]byte, 31), // filler
	)
	body := Cat(
		Wire(`05 "READY"  0b "Socket-Type" 00 00 00 06 "DEALER"  08 "Identity"`),
		[]byte{0, 0, 0, byte(len(identity))},
		identity,
	)
	frame := []byte{0x04, byte(len(body))} // a short command frame
	if len(body) > 255 {
		frame = []byte{0x06, 0, 0, 0, 0, 0, 0, byte(len(body) >> 8), byte(len(body))}
	}
	return Cat(greeting, frame, body)
}
