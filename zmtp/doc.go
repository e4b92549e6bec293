// Package zmtp is the wire codec of ZMTP 3.0 and 3.1 (RFC 23 and RFC 37): the
// 64-byte greeting, frames, commands, connection metadata and the bodies of the
// commands ZMTP itself defines (READY, ERROR, PING, PONG, SUBSCRIBE, CANCEL).
//
// The package does no network I/O of its own beyond reading from and writing
// to the io.Reader and io.Writer it is given, and it imports no cryptography.
// Parsers take a byte slice and check that nothing is left over; encoders are
// append-style (AppendX(b []byte) []byte) so that steady-state encoding
// allocates nothing.
//
// Every error this package returns for bad input wraps [ErrMalformed],
// [ErrFrameTooLarge] or [ErrUnsupportedVersion], so callers can branch with
// errors.Is, and carries detail through the typed errors [*MalformedError],
// [*FrameTooLargeError] and [*VersionError] for errors.As.
package zmtp
