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
