package socket

import (
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Defaults, as in libzmq 4.3.4.
const (
	// DefaultHWM is the default SendHWM and RecvHWM, in messages.
	DefaultHWM = 1000
	// DefaultReconnectInterval is the default ReconnectInterval.
	DefaultReconnectInterval = 100 * time.Millisecond
	// DefaultLinger is the default Linger of every type but SUB and XSUB,
	// whose default is no linger at all, as in libzmq. libzmq's default is
	// to wait for ever, in zmq_ctx_term; a Go Close returns within
	// DefaultLinger.
	DefaultLinger = 30 * time.Second
)

// Options configures a Socket. The zero value is a NULL-security socket
// with libzmq's defaults. Options are read once, by New; the Socket keeps
// its own copy.
type Options struct {
	// Config is the configuration of every connection the socket makes or
	// accepts: the security mechanism and its role, the ZAP handler and
	// domain, heartbeats, size limits, handshake timeout, metadata,
	// admission limits for bound endpoints and the audit hooks. Its
	// SocketType must be empty or the socket's type; Config.Identity is
	// the socket's routing id (libzmq's ZMQ_ROUTING_ID), sent by REQ,
	// DEALER and ROUTER sockets.
	transport.Config

	// SendHWM and RecvHWM are the high-water marks, in whole messages, of
	// each peer's outgoing and incoming queue (ZMQ_SNDHWM, ZMQ_RCVHWM).
	// Zero means DefaultHWM; a negative value means no limit (libzmq's 0).
	SendHWM, RecvHWM int

	// Linger bounds how long Close (and Disconnect, Unbind) waits for
	// queued messages to go out (ZMQ_LINGER). Zero means the type's
	// default: DefaultLinger, or none for SUB and XSUB; a negative value
	// means none: queued messages are dropped at once.
	Linger time.Duration

	// ReconnectInterval is the pause before a connecting endpoint tries
	// again, plus a random jitter of up to the same amount, as in libzmq
	// (ZMQ_RECONNECT_IVL). Zero means DefaultReconnectInterval; a negative
	// value means never reconnect: an endpoint whose first attempt fails,
	// or whose connection is lost, is given up.
	ReconnectInterval time.Duration

	// ReconnectIntervalMax, if greater than ReconnectInterval, makes the
	// pause double after every failed TCP connect, up to this bound
	// (ZMQ_RECONNECT_IVL_MAX). As in libzmq the backoff restarts after
	// every connection that was established, so it does not slow retries
	// after a failed handshake.
	ReconnectIntervalMax time.Duration

	// StopReconnectOnHandshakeFailure makes a connecting endpoint give up
	// after any failed handshake, even one libzmq would retry (the server
	// closed without a word, or the handshake timed out); libzmq's
	// ZMQ_RECONNECT_STOP_HANDSHAKE_FAILED. Without it, as in libzmq 4.3.4,
	// only a handshake the server refused with ERROR (ZAP 400 or 500) or a
	// protocol error ends the endpoint.
	StopReconnectOnHandshakeFailure bool

	// Immediate queues messages only for completed connections
	// (ZMQ_IMMEDIATE): a connecting endpoint gets its queue when its
	// handshake succeeds, and loses it with the connection. By default a
	// connecting endpoint has a queue from Connect on, which survives
	// reconnections.
	Immediate bool

	// Events, if set, receives the socket's events (see Event), like
	// zmq_socket_monitor. The socket never blocks on it: an event that does
	// not fit in the channel's buffer is dropped and counted in
	// Stats().EventsDropped. Size the buffer for the expected burst.
	// The channel is never closed by the socket; EventSocketClosed, sent
	// by Close, is the last event.
	Events chan<- Event

	// RouterMandatory makes a ROUTER's Send fail with ErrHostUnreachable
	// for an unknown routing id, and block (bounded by its context) while
	// the peer's queue is full, instead of dropping the message
	// (ZMQ_ROUTER_MANDATORY).
	RouterMandatory bool

	// RouterHandover lets a new peer take over a routing id already in
	// use (ZMQ_ROUTER_HANDOVER): the older connection is closed. Without
	// it the newer connection is closed (libzmq keeps it open and drops
	// what it sends).
	RouterHandover bool

	// ProbeRouter makes a DEALER, ROUTER or REQ send an empty message to
	// every new peer (ZMQ_PROBE_ROUTER).
	ProbeRouter bool

	// ReqCorrelate prefixes every request of a REQ socket with a 4-byte
	// request id and accepts only the reply that carries it
	// (ZMQ_REQ_CORRELATE). ReqRelaxed lets a REQ send a new request
	// without waiting for the reply to the last one, which is then
	// discarded (ZMQ_REQ_RELAXED).
	ReqCorrelate, ReqRelaxed bool

	// XPubVerbose makes an XPUB report every subscription, not only the
	// first for a topic; XPubVerboser reports every unsubscription too
	// (ZMQ_XPUB_VERBOSE, ZMQ_XPUB_VERBOSER).
	XPubVerbose, XPubVerboser bool

	// XPubNoDrop makes a PUB or XPUB's Send block (bounded by its
	// context) while a matching subscriber's queue is full, instead of
	// dropping the message for that subscriber (ZMQ_XPUB_NODROP).
	XPubNoDrop bool

	// XPubManual makes an XPUB report subscriptions without applying
	// them: the application applies them with Subscribe and Unsubscribe,
	// which act on the peer whose subscription was received last
	// (ZMQ_XPUB_MANUAL).
	XPubManual bool

	// XPubWelcome, if set, is sent to every new subscriber of a PUB or
	// XPUB before anything else (ZMQ_XPUB_WELCOME_MSG).
	XPubWelcome []byte

	// InvertMatching makes a PUB or XPUB send each message to the
	// subscribers that do not match it, and a SUB deliver the messages
	// that match none of its subscriptions (ZMQ_INVERT_MATCHING).
	InvertMatching bool
}

func (o *Options) sendHWM() int { return hwm(o.SendHWM) }
func (o *Options) recvHWM() int { return hwm(o.RecvHWM) }

func hwm(n int) int {
	switch {
	case n == 0:
		return DefaultHWM
	case n < 0:
		return 0 // no limit
	}
	return n
}

func (o *Options) linger(t zmtp.SocketType) time.Duration {
	switch {
	case o.Linger < 0:
		return 0
	case o.Linger > 0:
		return o.Linger
	case t == zmtp.SUB || t == zmtp.XSUB:
		return 0
	}
	return DefaultLinger
}

func (o *Options) reconnectInterval() time.Duration {
	if o.ReconnectInterval == 0 {
		return DefaultReconnectInterval
	}
	return o.ReconnectInterval
}

// validate checks the options for a socket of type t.
func (o *Options) validate(t zmtp.SocketType) error {
	if o.SocketType != "" && o.SocketType != t {
		return &OptionError{Option: "Config.SocketType", Reason: "is " + string(o.SocketType) + " on a " + string(t) + " socket; leave it empty"}
	}
	if o.ReconnectIntervalMax < 0 {
		return &OptionError{Option: "ReconnectIntervalMax", Reason: "negative"}
	}
	only := func(name string, set bool, types ...zmtp.SocketType) error {
		if !set {
			return nil
		}
		for _, ok := range types {
			if t == ok {
				return nil
			}
		}
		return &OptionError{Option: name, Reason: "has no effect on a " + string(t) + " socket"}
	}
	for _, err := range []error{
		only("Config.Identity", len(o.Identity) > 0, zmtp.REQ, zmtp.DEALER, zmtp.ROUTER),
		only("RouterMandatory", o.RouterMandatory, zmtp.ROUTER),
		only("RouterHandover", o.RouterHandover, zmtp.ROUTER),
		only("ProbeRouter", o.ProbeRouter, zmtp.ROUTER, zmtp.DEALER, zmtp.REQ),
		only("ReqCorrelate", o.ReqCorrelate, zmtp.REQ),
		only("ReqRelaxed", o.ReqRelaxed, zmtp.REQ),
		only("XPubVerbose", o.XPubVerbose, zmtp.XPUB),
		only("XPubVerboser", o.XPubVerboser, zmtp.XPUB),
		only("XPubNoDrop", o.XPubNoDrop, zmtp.PUB, zmtp.XPUB),
		only("XPubManual", o.XPubManual, zmtp.XPUB),
		only("XPubWelcome", o.XPubWelcome != nil, zmtp.PUB, zmtp.XPUB),
		only("InvertMatching", o.InvertMatching, zmtp.PUB, zmtp.XPUB, zmtp.SUB),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
