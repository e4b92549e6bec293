package cert

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrKeyMismatch means a secret key does not belong to the public key
	// it is stored with, or a public file and its secret file name
	// different public keys.
	ErrKeyMismatch = errors.New("cert: secret key does not match public key")
	// ErrInvalidMetadata means a metadata entry cannot be written to a
	// certificate file: its name is not a ZPL name, or is repeated, or its
	// value holds a newline, another control character, or both kinds of
	// quote (ZPL has no escapes).
	ErrInvalidMetadata = errors.New("cert: invalid metadata")
	// ErrDuplicateKey means two certificate files in one directory hold the
	// same public key.
	ErrDuplicateKey = errors.New("cert: duplicate public key")
)

// A ParseError reports a certificate file that is not well-formed ZPL or does
// not hold a valid certificate. Text taken from the file is quoted with %q
// in Msg, and secret key text never appears in it.
type ParseError struct {
	// Path is the file that was read; it is empty for [ParseCertificate].
	Path string
	// Line is the 1-based line number, or 0 when the error concerns the
	// whole file (for example, no public key).
	Line int
	// Msg describes the problem.
	Msg string
	// Err is the underlying error, if any: a [*Z85Error] for a malformed
	// key, or ErrKeyMismatch.
	Err error
}

// Error returns a message of the form "cert: PATH:LINE: MSG".
func (e *ParseError) Error() string {
	s := "cert: "
	switch {
	case e.Path != "" && e.Line > 0:
		s += e.Path + ":" + strconv.Itoa(e.Line) + ": "
	case e.Path != "":
		s += e.Path + ": "
	case e.Line > 0:
		s += "line " + strconv.Itoa(e.Line) + ": "
	}
	return s + e.Msg
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

// metadataError is the error for metadata that cannot be written. It
// unwraps to ErrInvalidMetadata.
type metadataError struct {
	name string
	msg  string
}

func (e *metadataError) Error() string {
	return fmt.Sprintf("cert: metadata %q: %s", e.name, e.msg)
}

func (e *metadataError) Unwrap() error { return ErrInvalidMetadata }
