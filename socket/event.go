package socket

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// EventKind says what happened. The values are libzmq's ZMQ_EVENT_* numbers
// where libzmq has the event, so that tools can compare monitors; the kinds
// libzmq lacks use bits above all of libzmq's (its DRAFT ones included).
type EventKind uint32

// The events, in the order a connection meets them.
const (
	EventConnected          EventKind = 0x0001 // a connecting endpoint's TCP (or IPC) connection came up (reported when its handshake ends, just before the outcome)
	EventConnectDelayed     EventKind = 0x0002 // a connect attempt is under way
	EventConnectRetried     EventKind = 0x0004 // a connect attempt failed or a connection was lost; Interval says when the next one starts
	EventListening          EventKind = 0x0008 // Bind succeeded
	EventBindFailed         EventKind = 0x0010 // Bind failed; Err says why
	EventAccepted           EventKind = 0x0020 // a bound endpoint accepted a connection, before the handshake
	EventAcceptFailed       EventKind = 0x0040 // Accept failed
	EventClosed             EventKind = 0x0080 // a listener was closed, or a connect attempt failed before a connection was made (Err says why)
	EventDisconnected       EventKind = 0x0200 // an established connection ended; Err says why (nil when this side closed it)
	EventHandshakeSucceeded EventKind = 0x1000 // the handshake succeeded; State describes the connection
	EventHandshakeFailed    EventKind = 0x4000 // the handshake failed; Err is the *transport.HandshakeError (see Event.Status)

	// EventConnectStopped: a connecting endpoint gave up and will not try
	// again: the server refused the handshake with ERROR, a protocol
	// error ended the connection, StopReconnectOnHandshakeFailure is set,
	// or reconnection is off. Err says why. libzmq ends the session the
	// same way without an event.
	EventConnectStopped EventKind = 0x100000
	// EventSocketClosed is the last event of a socket, sent by Close.
	EventSocketClosed EventKind = 0x200000
)

var eventNames = map[EventKind]string{
	EventConnected:          "connected",
	EventConnectDelayed:     "connect delayed",
	EventConnectRetried:     "connect retried",
	EventListening:          "listening",
	EventBindFailed:         "bind failed",
	EventAccepted:           "accepted",
	EventAcceptFailed:       "accept failed",
	EventClosed:             "closed",
	EventDisconnected:       "disconnected",
	EventHandshakeSucceeded: "handshake succeeded",
	EventHandshakeFailed:    "handshake failed",
	EventConnectStopped:     "connect stopped",
	EventSocketClosed:       "socket closed",
}

func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%#x)", uint32(k))
}

// Event is something that happened to one of a socket's endpoints or
// connections, delivered on Options.Events.
type Event struct {
	Kind EventKind
	// Endpoint is the endpoint as given to Bind or Connect (for a bound
	// endpoint with an ephemeral port, the resolved one).
	Endpoint string
	// RemoteAddr is the peer's address, for events about one connection.
	RemoteAddr net.Addr
	// Time is when the socket noticed.
	Time time.Time
	// Interval is the pause before the next attempt, for
	// EventConnectRetried.
	Interval time.Duration
	// State describes the connection, for EventHandshakeSucceeded: the
	// mechanism, the peer's socket type, identity and metadata, the ZAP
	// user id and, under CURVE, the peer's public key.
	State transport.ConnectionState
	// Err is the cause of a failure event.
	Err error
}

// Status returns the ZAP status of an authentication failure: on a server,
// what its ZAP handler answered; on a client, what the server's ERROR said.
// It returns 0 for every other event.
func (e Event) Status() zap.StatusCode {
	var refused *transport.ServerRefusedError
	if errors.As(e.Err, &refused) {
		return refused.Status
	}
	var auth *mechanism.AuthError
	if errors.As(e.Err, &auth) {
		return auth.Status
	}
	return 0
}

func (e Event) String() string {
	s := e.Kind.String() + " " + e.Endpoint
	if e.RemoteAddr != nil {
		s += " peer " + e.RemoteAddr.String()
	}
	if e.Kind == EventConnectRetried {
		s += " in " + e.Interval.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Timeout reports whether Err is a timeout: a handshake that did not finish
// within Config.HandshakeTimeout, or a connection whose peer fell silent
// past the heartbeat timeout.
func (e Event) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}
