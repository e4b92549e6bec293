package transport

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var (
	// ErrConfig is wrapped by every error about an invalid Config.
	ErrConfig = errors.New("transport: invalid config")

	// ErrHeartbeatTimeout reports a peer that sent nothing within the
	// heartbeat timeout after a PING, or within the TTL its own PING asked
	// for. It has a Timeout method that reports true.
	ErrHeartbeatTimeout error = heartbeatTimeoutError{}

	// ErrBadEndpoint is wrapped by errors about endpoint strings.
	ErrBadEndpoint = errors.New("transport: bad endpoint")

	// ErrHandshakeTimeout reports a handshake that ran out of time, however
	// it did: the context's deadline, Config.HandshakeTimeout, a deadline
	// set on the Conn expiring during the greeting or a command, or a ZAP
	// handler cut off. It is returned wrapped in a [*HandshakeError]. It
	// matches [context.DeadlineExceeded] and [os.ErrDeadlineExceeded] with
	// errors.Is, and has a Timeout method that reports true. A cancelled
	// context is reported as [context.Canceled] instead.
	ErrHandshakeTimeout error = handshakeTimeoutError{}

	// ErrMessageTooLarge is wrapped by [*MessageTooLargeError].
	ErrMessageTooLarge = errors.New("transport: message too large")

	// ErrTooManyProperties is wrapped by [*TooManyPropertiesError].
	ErrTooManyProperties = zmtp.ErrTooManyProperties
)

type handshakeTimeoutError struct{}

func (handshakeTimeoutError) Error() string   { return "transport: handshake timed out" }
func (handshakeTimeoutError) Timeout() bool   { return true }
func (handshakeTimeoutError) Temporary() bool { return false }

// Is reports whether target is context.DeadlineExceeded or
// os.ErrDeadlineExceeded, the two ways Go reports a deadline.
func (handshakeTimeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// MessageTooLargeError reports an incoming message over
// [Config.MaxMessageFrames] or [Config.MaxMessageBytes]. It is returned as
// soon as the frame that crosses the limit is announced, before its body is
// read, and the connection is closed. It unwraps to [ErrMessageTooLarge].
// A single frame over [Config.MaxMessageSize] is a [*zmtp.FrameTooLargeError]
// instead.
type MessageTooLargeError struct {
	// Limit names the limit: "MaxMessageFrames" or "MaxMessageBytes".
	Limit string
	// Max is the limit's value. Got is what the message would have
	// reached with the frame that crossed it: a number of frames, or of
	// payload bytes (counting the announced size of that frame).
	Max int64
	Got uint64
}

func (e *MessageTooLargeError) Error() string {
	unit := "bytes"
	if e.Limit == "MaxMessageFrames" {
		unit = "frames"
	}
	return fmt.Sprintf("transport: message of at least %d %s exceeds %s (%d)", e.Got, unit, e.Limit, e.Max)
}

// Unwrap returns [ErrMessageTooLarge].
func (e *MessageTooLargeError) Unwrap() error { return ErrMessageTooLarge }

// TooManyPropertiesError reports peer metadata with more properties than
// [Config.MaxMetadataProperties] allows. The handshake fails with it
// (wrapped in a [*mechanism.MetadataError] and a [*HandshakeError]) before
// the metadata is stored. It unwraps to [ErrTooManyProperties].
type TooManyPropertiesError = zmtp.TooManyPropertiesError

type heartbeatTimeoutError struct{}

func (heartbeatTimeoutError) Error() string   { return "transport: heartbeat timeout: peer is silent" }
func (heartbeatTimeoutError) Timeout() bool   { return true }
func (heartbeatTimeoutError) Temporary() bool { return false }

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// SocketTypeError reports a peer whose socket type may not talk to ours
// (23/ZMTP and libzmq's check_socket_type). Like libzmq, we close without
// sending ERROR.
type SocketTypeError struct {
	Local, Peer zmtp.SocketType
}

func (e *SocketTypeError) Error() string {
	return fmt.Sprintf("transport: a %s socket cannot talk to a peer of type %q", e.Local, string(e.Peer))
}

// MechanismMismatchError reports a peer that announced another security
// mechanism in its greeting. It unwraps to [mechanism.ErrMechanismMismatch].
type MechanismMismatchError struct {
	Local, Peer string
}

func (e *MechanismMismatchError) Error() string {
	if e.Peer == "GSSAPI" {
		return fmt.Sprintf("transport: peer uses GSSAPI, which is not supported (we use %s)", e.Local)
	}
	return fmt.Sprintf("transport: peer uses mechanism %q, we use %s", e.Peer, e.Local)
}

// Unwrap returns [mechanism.ErrMechanismMismatch].
func (e *MechanismMismatchError) Unwrap() error { return mechanism.ErrMechanismMismatch }

// HandshakeError wraps any error that ended a handshake, saying which step
// failed. Errors.Is and errors.As see through it to the cause.
type HandshakeError struct {
	Step string // "greeting", "handshake", "verify"
	Err  error
}

func (e *HandshakeError) Error() string {
	return "transport: handshake failed in " + e.Step + ": " + trimPrefix(e.Err.Error())
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake ran out of time, that is, whether
// it wraps [ErrHandshakeTimeout].
func (e *HandshakeError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// trimPrefix drops a leading "transport: " so the prefix is said once.
func trimPrefix(s string) string {
	const p = "transport: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
