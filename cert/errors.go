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
	// ErrNotRegular means a file to be read is not a regular file: a
	// directory, a FIFO, a device or a socket. See [ReadFile].
	ErrNotRegular = errors.New("cert: not a regular file")
	// ErrFileTooLarge means a file to be read is larger than allowed
	// ([MaxFileSize] for a certificate). See [ReadFile].
	ErrFileTooLarge = errors.New("cert: file too large")
	// ErrNoSecretKey means a certificate has no secret key where one is
	// needed: it was read from a public certificate file, or built without
	// one. See [Certificate.KeyPair].
	ErrNoSecretKey = errors.New("cert: certificate has no secret key")
)

// A ParseError reports a certificate file that is not well-formed ZPL or does
// not hold a valid certificate. It locates the problem by line and column
// and describes it with fixed text: no byte of the file appears in it, so
// that a file that is not a certificate at all (a secret linked into a
// certificate directory, say) cannot leak into error messages and logs.
type ParseError struct {
	// Path is the file that was read; it is empty for [ParseCertificate].
	Path string
	// Line is the 1-based line number, or 0 when the error concerns the
	// whole file (for example, no public key).
	Line int
	// Column is the 1-based byte offset in the line of the problem, or 0
	// when Line is 0.
	Column int
	// Msg describes the problem. It is one of a fixed set of texts, with
	// numbers (lengths, levels, line numbers) but no text from the file.
	Msg string
	// Err is the underlying error, if any: a [*Z85Error] for a malformed
	// key (with no text of the key in it), or ErrKeyMismatch.
	Err error
}

// Error returns a message of the form "cert: PATH:LINE:COLUMN: MSG".
func (e *ParseError) Error() string {
	s := "cert: "
	pos := ""
	if e.Line > 0 {
		pos = strconv.Itoa(e.Line)
		if e.Column > 0 {
			pos += ":" + strconv.Itoa(e.Column)
		}
	}
	switch {
	case e.Path != "" && pos != "":
		s += e.Path + ":" + pos + ": "
	case e.Path != "":
		s += e.Path + ": "
	case pos != "":
		s += "line " + pos + ": "
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

// noSecretKeyError is ErrNoSecretKey for a certificate loaded from a file:
// it names the file, and matches ErrNoSecretKey.
type noSecretKeyError struct {
	path string
}

func (e *noSecretKeyError) Error() string {
	return "cert: " + e.path + ": certificate has no secret key"
}

func (e *noSecretKeyError) Is(target error) bool { return target == ErrNoSecretKey }
