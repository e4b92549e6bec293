package mechanism

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var (
	// ErrMechanismMismatch reports a peer that announced another mechanism
	// in its greeting.
	ErrMechanismMismatch = errors.New("mechanism: peer uses a different security mechanism")

	// ErrNotStarted is returned by Handle called before Start, a misuse.
	ErrNotStarted = errors.New("mechanism: Handle called before Start")

	// ErrClosed is returned by Start and Handle after Close.
	ErrClosed = errors.New("mechanism: handshake closed")

	// ErrAlreadyStarted is returned by a second call of Start, a misuse.
	// Like every error of a Handshake it is sticky: the handshake has
	// failed, and every later call returns it again.
	ErrAlreadyStarted = errors.New("mechanism: Start called twice")

	// ErrHandshakeFailed is no longer returned: a handshake that has
	// failed returns its first error again, and a second Start returns
	// [ErrAlreadyStarted].
	//
	// Deprecated: test for the first error, or for [ErrAlreadyStarted].
	ErrHandshakeFailed = errors.New("mechanism: handshake already failed")
)

// UnexpectedCommandError reports a command that arrived when the handshake
// expected another (or none).
type UnexpectedCommandError struct {
	Mechanism string   // "NULL", "PLAIN", "CURVE"
	Want      []string // the commands that were acceptable; empty if none
	Got       string   // the command that arrived (peer text; quoted on print)
}

func (e *UnexpectedCommandError) Error() string {
	if len(e.Want) == 0 {
		return fmt.Sprintf("mechanism: %s: unexpected command %q after the handshake", e.Mechanism, e.Got)
	}
	return fmt.Sprintf("mechanism: %s: unexpected command %q, want %s", e.Mechanism, e.Got, strings.Join(e.Want, " or "))
}

// PeerError reports an ERROR command from the peer. Reason is the peer's text;
// Error() quotes it.
type PeerError struct {
	Mechanism string
	Reason    string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("mechanism: %s: peer sent ERROR %q", e.Mechanism, e.Reason)
}

// Status returns the ZAP status the reason carries when it is exactly "300",
// "400" or "500" (what libzmq servers send), or 0.
func (e *PeerError) Status() zap.StatusCode {
	switch e.Reason {
	case "300":
		return zap.StatusTemporaryFailure
	case "400":
		return zap.StatusAuthenticationError
	case "500":
		return zap.StatusInternalError
	}
	return 0
}

// AuthError reports that this side (a server) refused the peer because the
// ZAP handler answered with a status other than 200. For 400 and 500 an
// ERROR command went to the peer; for 300 nothing did.
type AuthError struct {
	Mechanism string
	Status    zap.StatusCode
	// Text is the handler's status text; it is for local logs and is never
	// sent to the peer.
	Text string
	// Err is the ZAP failure behind a 500, if any.
	Err error
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("mechanism: %s: ZAP refused the peer with status %d", e.Mechanism, int(e.Status))
	if e.Text != "" {
		s += fmt.Sprintf(" (%q)", e.Text)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the ZAP failure behind a 500, if any.
func (e *AuthError) Unwrap() error { return e.Err }

// MetadataError reports peer metadata that was refused: malformed, or
// rejected by Params.CheckPeerMetadata.
type MetadataError struct {
	Mechanism string
	Err       error
}

func (e *MetadataError) Error() string {
	var me *zmtp.MalformedError
	if errors.As(e.Err, &me) && me.What == "metadata" {
		return fmt.Sprintf("mechanism: %s: malformed peer metadata: %s", e.Mechanism, me.Detail)
	}
	return fmt.Sprintf("mechanism: %s: peer metadata: %v", e.Mechanism, e.Err)
}

// Unwrap returns the cause.
func (e *MetadataError) Unwrap() error { return e.Err }
