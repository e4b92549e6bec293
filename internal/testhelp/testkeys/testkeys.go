// Package testkeys builds CURVE key pairs for the tests of this module (and
// of conformance/): from the Z85 text of published test vectors, or
// deterministically from a seed.
//
// Only _test.go files import it; deps_test.go enforces that. It is apart
// from package testhelp because it imports cert, whose own tests use
// testhelp.
package testkeys

import (
	"bytes"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
)

// FromZ85 returns the key pair whose public and secret keys are the 40-character
// Z85 texts pub and sec. It fails the test if either does not parse. It does
// not check that pub is sec's public key: some tests want a mismatched pair.
func FromZ85(tb testing.TB, pub, sec string) cert.KeyPair {
	tb.Helper()
	p, err := cert.ParsePublicKey(pub)
	if err != nil {
		tb.Fatalf("testkeys: public key %q: %v", pub, err)
	}
	s, err := cert.ParseSecretKey(sec)
	if err != nil {
		tb.Fatalf("testkeys: secret key: %v", err)
	}
	return cert.KeyPair{Public: p, Secret: s}
}

// FromSeed returns the key pair that cert.GenerateKeyPair makes from 32
// bytes of seed: the same pair for the same seed, a different one for
// another seed.
func FromSeed(tb testing.TB, seed byte) cert.KeyPair {
	tb.Helper()
	kp, err := cert.GenerateKeyPair(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		tb.Fatalf("testkeys: %v", err)
	}
	return kp
}

// New returns a new random key pair.
func New(tb testing.TB) cert.KeyPair {
	tb.Helper()
	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		tb.Fatalf("testkeys: %v", err)
	}
	return kp
}
