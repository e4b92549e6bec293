package socket

import (
	"errors"
	"fmt"
	"net"
)

// Errors returned by Socket methods. Each is a sentinel to test with
// errors.Is; where libzmq returns an errno for the same condition, it is
// named.
var (
	// ErrClosed is returned by every method of a closed Socket, and by a
	// Send or Recv that was blocked when Close was called. It wraps
	// net.ErrClosed.
	ErrClosed = fmt.Errorf("socket: %w", net.ErrClosed)

	// ErrNotSupported is returned by Send on a SUB or PULL socket and by
	// Recv on a PUB or PUSH socket (libzmq's ENOTSUP).
	ErrNotSupported = errors.New("socket: operation not supported by this socket type")

	// ErrState is returned by a REQ socket's Send while a reply is awaited
	// and its Recv before a request was sent, and by a REP socket's Send
	// before a request was received or its Recv while a reply is owed
	// (libzmq's EFSM).
	ErrState = errors.New("socket: operation not allowed in the current state (send and receive must alternate)")

	// ErrHostUnreachable is returned by a ROUTER's Send with RouterMandatory
	// set when no peer has the routing id of the message's first frame
	// (libzmq's EHOSTUNREACH).
	ErrHostUnreachable = errors.New("socket: no peer with that routing id")

	// ErrEmptyMessage is returned by Send for a message with no frames.
	ErrEmptyMessage = errors.New("socket: message has no frames")

	// ErrReplyLost is returned by a REQ socket's Recv when the connection
	// its request went out on is gone before a reply arrived: the reply
	// can never come. The REQ may send again. (libzmq 4.3.4 would instead
	// take the next message from any other peer as the reply, or wait
	// forever; see docs/sockets.md#req.)
	ErrReplyLost = errors.New("socket: the peer of the pending request went away before replying")

	// ErrPeerRefused is the cause reported in an EventDisconnected for a
	// connection this socket closed right after its handshake because the
	// socket type cannot take another peer: a PAIR that already has one,
	// or a ROUTER whose routing id is taken (libzmq keeps such a
	// connection open and silently drops what it sends).
	ErrPeerRefused = errors.New("socket: connection refused by the socket pattern")
)

// OptionError reports an invalid option or argument, at New, Bind or
// Connect.
type OptionError struct {
	Option string // the field or argument, e.g. "SendHWM" or "endpoint"
	Reason string
}

func (e *OptionError) Error() string {
	return "socket: invalid " + e.Option + ": " + e.Reason
}
