package zmtp

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is wrapped by every error that reports bytes that do not
	// follow the ZMTP grammar.
	ErrMalformed = errors.New("zmtp: malformed input")

	// ErrFrameTooLarge is wrapped by [*FrameTooLargeError].
	ErrFrameTooLarge = errors.New("zmtp: frame too large")

	// ErrTooManyProperties is wrapped by [*TooManyPropertiesError].
	ErrTooManyProperties = errors.New("zmtp: too many metadata properties")

	// ErrUnsupportedVersion is wrapped by [*VersionError]: the peer speaks a
	// protocol older than ZMTP 3.0.
	ErrUnsupportedVersion = errors.New("zmtp: unsupported protocol version")
)

// MalformedError reports input that breaks the ZMTP grammar. What names the
// structure being parsed ("greeting", "command", "metadata", ...) and Detail
// says what is wrong with it.
type MalformedError struct {
	What   string
	Detail string
}

func (e *MalformedError) Error() string {
	return "zmtp: malformed " + e.What + ": " + e.Detail
}

// Unwrap returns [ErrMalformed].
func (e *MalformedError) Unwrap() error { return ErrMalformed }

func malformed(what, format string, args ...any) error {
	return &MalformedError{What: what, Detail: fmt.Sprintf(format, args...)}
}

// FrameTooLargeError reports a frame whose declared size is over the limit in
// force. It is returned after the header has been read and before any of the
// body is, so the body is never buffered.
type FrameTooLargeError struct {
	Size  uint64 // declared body size
	Limit int64  // the limit in force
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("zmtp: frame of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// Unwrap returns [ErrFrameTooLarge].
func (e *FrameTooLargeError) Unwrap() error { return ErrFrameTooLarge }

// VersionError reports a peer whose greeting announces a protocol older than
// ZMTP 3.0. Major and Minor are the version detected from the signature and
// revision bytes (1.0 or 2.0).
type VersionError struct {
	Major, Minor int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("zmtp: peer speaks ZMTP %d.%d; only ZMTP 3.x is supported", e.Major, e.Minor)
}

// Unwrap returns [ErrUnsupportedVersion].
func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }

// TooManyPropertiesError reports metadata with more properties than the
// limit given to [ParseMetadataLimit]; nothing was allocated for it. Count
// is how many properties the metadata holds. It unwraps to
// [ErrTooManyProperties].
type TooManyPropertiesError struct {
	Count, Limit int
}

func (e *TooManyPropertiesError) Error() string {
	return fmt.Sprintf("zmtp: peer sent %d metadata properties; the limit is %d", e.Count, e.Limit)
}

// Unwrap returns [ErrTooManyProperties].
func (e *TooManyPropertiesError) Unwrap() error { return ErrTooManyProperties }
