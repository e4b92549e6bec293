package transport

import (
	"errors"
	"fmt"

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
)

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

// Timeout reports whether the handshake ran out of time.
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
