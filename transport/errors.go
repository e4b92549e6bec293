package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
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

// timeoutCause is ErrHandshakeTimeout with what the handshake was doing
// when its time ran out, where that is more than a read or a write cut off
// (a mechanism's own work: GSSAPI asking a KDC for a ticket). It matches
// ErrHandshakeTimeout, and unwraps to the cause, so that errors.Is finds
// both.
type timeoutCause struct{ cause error }

func (e *timeoutCause) Error() string {
	return ErrHandshakeTimeout.Error() + ": " + trimPrefix(e.cause.Error())
}
func (e *timeoutCause) Timeout() bool   { return true }
func (e *timeoutCause) Temporary() bool { return false }
func (e *timeoutCause) Unwrap() error   { return e.cause }
func (e *timeoutCause) Is(target error) bool {
	return target == ErrHandshakeTimeout || errors.Is(ErrHandshakeTimeout, target)
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
	s := fmt.Sprintf("transport: peer uses mechanism %q, we use %s", e.Peer, e.Local)
	if e.Peer == mechanism.GSSAPIName {
		// The one mechanism of libzmq that is not in this module.
		s += " (GSSAPI is the module github.com/zmtpsec/zmtpsec/gssapi)"
	}
	return s
}

// Unwrap returns [mechanism.ErrMechanismMismatch].
func (e *MechanismMismatchError) Unwrap() error { return mechanism.ErrMechanismMismatch }

// HandshakeStep names a step of the handshake, in the order they run. It
// is the Step of a [*HandshakeError] and of a [HandshakeEvent].
type HandshakeStep uint8

const (
	// StepConfig checks the Config, before any I/O. Listen, NewListener
	// and Dial check it up front; a Conn made with Client or Server checks
	// it when its handshake starts.
	StepConfig HandshakeStep = iota + 1
	// StepGreeting exchanges the 64-byte greetings and checks the peer's
	// version and mechanism.
	StepGreeting
	// StepSecurity runs the security mechanism's commands (NULL's READY;
	// PLAIN's HELLO to READY; CURVE's HELLO to READY; GSSAPI's INITIATE
	// to READY), including the checks of the peer's metadata.
	StepSecurity
	// StepSocketType checks that the peer's Socket-Type may talk to ours.
	StepSocketType
	// StepAuthentication is the ZAP decision: on a server, the ZAP handler
	// refused the peer or failed (a [*mechanism.AuthError]); on a client,
	// the server refused us (a [*ServerRefusedError]).
	StepAuthentication
	// StepVerify runs Config.VerifyConnection.
	StepVerify
	// StepStart is a handshake that never started: a Listener's
	// connection whose handshake was not started within the handshake
	// timeout after Accept.
	StepStart
	// StepAdmission is a Listener's admission control refusing a
	// connection before its handshake; it appears only in a
	// [HandshakeEvent].
	StepAdmission
)

// String returns the step's name as used in error messages and log
// records: "config", "greeting", "security handshake", "socket type
// check", "authentication", "VerifyConnection", "start" or "admission".
func (s HandshakeStep) String() string {
	switch s {
	case StepConfig:
		return "config"
	case StepGreeting:
		return "greeting"
	case StepSecurity:
		return "security handshake"
	case StepSocketType:
		return "socket type check"
	case StepAuthentication:
		return "authentication"
	case StepVerify:
		return "VerifyConnection"
	case StepStart:
		return "start"
	case StepAdmission:
		return "admission"
	}
	return "HandshakeStep(" + strconv.Itoa(int(s)) + ")"
}

// HandshakeError wraps any error that ended a handshake, saying which step
// failed. Errors.Is and errors.As see through it to the cause.
type HandshakeError struct {
	Step HandshakeStep
	Err  error
}

// Error says "transport: handshake failed in STEP: CAUSE", the cause
// without its own "transport: " prefix; a timeout says "transport:
// handshake timed out in STEP". A Config error reads as the ErrConfig it
// wraps.
func (e *HandshakeError) Error() string {
	switch {
	case e.Step == StepConfig && errors.Is(e.Err, ErrConfig):
		return e.Err.Error()
	case e.Err == ErrHandshakeTimeout:
		return "transport: handshake timed out in " + e.Step.String()
	case isTimeoutCause(e.Err):
		return "transport: handshake timed out in " + e.Step.String() + ": " + trimPrefix(e.Err.(*timeoutCause).cause.Error())
	case e.Err == errNotStarted:
		return e.Err.Error()
	}
	return "transport: handshake failed in " + e.Step.String() + ": " + trimPrefix(e.Err.Error())
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

func isTimeoutCause(err error) bool {
	_, ok := err.(*timeoutCause)
	return ok
}

// Timeout reports whether the handshake ran out of time, that is, whether
// it wraps [ErrHandshakeTimeout].
func (e *HandshakeError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// ServerRefusedError reports, on a client, that the server refused us: it
// sent an ERROR command whose reason is a ZAP status ("400" when its ZAP
// handler denied our credentials, "500" when the handler failed; libzmq
// servers send exactly these). The server's status text never travels on
// the wire, so only the status is known. It is the cause of a
// [*HandshakeError] in [StepAuthentication] and unwraps to the
// [*mechanism.PeerError] that carried the ERROR.
type ServerRefusedError struct {
	Mechanism string         // our mechanism: "NULL", "PLAIN", "CURVE", ...
	Status    zap.StatusCode // the ZAP status the server sent
	Err       error          // the *mechanism.PeerError
}

func (e *ServerRefusedError) Error() string {
	switch e.Status {
	case zap.StatusAuthenticationError:
		return fmt.Sprintf("transport: the server refused our credentials (ZAP status %d): %s", int(e.Status), refusalHint(e.Mechanism))
	case zap.StatusInternalError:
		return fmt.Sprintf("transport: the server could not authenticate us (ZAP status %d): its ZAP handler failed or timed out; check the server", int(e.Status))
	}
	return fmt.Sprintf("transport: the server refused authentication for now (ZAP status %d); try again later", int(e.Status))
}

// Unwrap returns the cause, the [*mechanism.PeerError].
func (e *ServerRefusedError) Unwrap() error { return e.Err }

// refusalHint says what a client refused with status 400 should check.
func refusalHint(mech string) string {
	switch mech {
	case mechanism.PlainName:
		return "check the username and password"
	case mechanism.CurveName:
		return "check that the server allows our public key (the client certificate)"
	case mechanism.GSSAPIName:
		return "check that the server's ZAP handler allows our principal"
	}
	return "check that the server allows our address and ZAP domain"
}

// ErrPeerClosed is wrapped by [*PeerClosedError].
var ErrPeerClosed = errors.New("transport: peer closed the connection during the handshake")

// PeerClosedError reports a peer that closed the connection (or reset it)
// in the middle of the handshake without sending ERROR. Hint, if not
// empty, says what to check: a CURVE server that cannot open our HELLO,
// because we were given the wrong server public key, closes without a
// word. It matches [ErrPeerClosed] and the read or write error behind it
// ([io.EOF], [io.ErrUnexpectedEOF] or a connection reset) with errors.Is.
type PeerClosedError struct {
	Hint string
	Err  error
}

func (e *PeerClosedError) Error() string {
	s := "transport: peer closed the connection"
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s + " (" + trimPrefix(e.Err.Error()) + ")"
}

// Unwrap returns ErrPeerClosed and the cause.
func (e *PeerClosedError) Unwrap() []error { return []error{ErrPeerClosed, e.Err} }

// trimPrefix drops "transport: " from a cause's text, so that the message
// that wraps it says the prefix once: at the start, and after ": " or "("
// wherever a layer in between quoted a transport error (a ZAP handler cut
// off by ErrZAPTimeout reads "...status 500: zap: handler failed: transport:
// ZAP handler did not answer in time"). Text inside double quotes, where
// peer-supplied text goes (%q), is left alone.
func trimPrefix(s string) string {
	const p = "transport: "
	if !strings.Contains(s, p) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	quoted, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], p) && (i == 0 || strings.HasSuffix(s[:i], ": ") || s[i-1] == '('):
			i += len(p) - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
