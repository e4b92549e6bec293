// Package transport runs ZMTP 3.x with a security mechanism on a net.Conn,
// in the shape of crypto/tls: [Client] and [Server] wrap a connection without
// doing any I/O, [Conn.HandshakeContext] runs the greeting and the
// mechanism's handshake (lazily on first use if not called), and then
// [Conn.ReadMessage] and [Conn.WriteMessage] carry multipart messages.
// [Dial] and [Listen] do the same for "tcp://host:port" and "ipc:///path"
// endpoints; a [Dialer] also dials from a given source address, as libzmq's
// "tcp://SRC;DST" does. Both check the [Config] first: one that can never
// work is refused at once with an error that wraps [ErrConfig].
//
// A failed handshake returns a [*HandshakeError] naming the
// [HandshakeStep] that failed; its cause says what to check. A client
// refused by the server's ZAP handler gets a [*ServerRefusedError], and a
// peer that hangs up mid-handshake a [*PeerClosedError].
//
// Socket patterns (REQ/REP envelopes, ROUTER routing, PUB/SUB filtering,
// queues, reconnection) belong to the layer above,
// [github.com/zmtpsec/zmtpsec/socket]: use it for libzmq-like sockets, and
// this package to manage one connection yourself. This package carries
// what each pattern needs on the wire: the Socket-Type property and its
// compatibility check, identities, subscriptions and heartbeats.
package transport

import (
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Defaults for the zero values of [Config].
const (
	DefaultHandshakeTimeout = 30 * time.Second // libzmq's ZMQ_HANDSHAKE_IVL
	// DefaultPreAuthMaxFrameSize bounds every frame read before the
	// handshake completes.
	DefaultPreAuthMaxFrameSize = 64 << 10
	// DefaultMaxMessageFrames bounds the frames of one incoming message.
	DefaultMaxMessageFrames = 4096
	// DefaultMaxMetadataProperties bounds the properties of the peer's
	// metadata (libzmq peers send two to four).
	DefaultMaxMetadataProperties = 64

	// DefaultMaxHandshakes is the default of Config.MaxHandshakes: enough
	// to keep two cores busy with CURVE handshakes across slow links, and
	// well under the usual 1024 open files.
	DefaultMaxHandshakes = 512
	// DefaultMaxHandshakesPerAddress is the default of
	// Config.MaxHandshakesPerAddress: a single address then holds at most
	// an eighth of the listener's handshake slots.
	DefaultMaxHandshakesPerAddress = 64
	// DefaultMaxZAPInFlight is the default of Config.MaxZAPInFlight.
	DefaultMaxZAPInFlight = 256
	// DefaultBanWindow and DefaultBanDuration are the defaults of
	// Config.BanWindow and Config.BanDuration (fail2ban's findtime and
	// bantime).
	DefaultBanWindow   = 10 * time.Minute
	DefaultBanDuration = 10 * time.Minute
)

// Config configures a [Conn]. A Config is never modified by this package
// and may be shared by any number of connections, used concurrently.
//
// [Listen], [NewListener] and [Dial] refuse a Config that can never work,
// or that holds a setting that would be silently ignored, with an error
// that wraps [ErrConfig]; a Conn made with [Client] or [Server] fails its
// handshake with it in [StepConfig]. A negative number is refused unless
// the field's doc says what it means.
type Config struct {
	// Mechanism is the security mechanism and role; nil means NULL.
	Mechanism mechanism.Mechanism

	// SocketType is our socket type, sent as the Socket-Type property and
	// checked against the peer's as libzmq checks it. It must be set.
	SocketType zmtp.SocketType

	// Identity is our routing id (ZMQ_ROUTING_ID), 0 to 255 bytes not
	// starting with a zero byte. Like libzmq, REQ, DEALER and ROUTER always
	// send the Identity property (empty if Identity is empty); other types
	// never do.
	Identity []byte

	// Metadata holds extra properties sent to the peer, after Socket-Type
	// and Identity; by convention their names start with "X-".
	Metadata zmtp.Metadata

	// ZAPHandler, on a server, decides whether a peer may connect, and
	// ZAPDomain is the domain it is asked for. It is asked as libzmq asks
	// its ZAP socket: for NULL only when ZAPDomain is set (so a NULL
	// Config with a handler and no domain is refused), and a PLAIN server
	// must have one; CURVE and GSSAPI servers ask it whenever it is set,
	// and need none. A handler that
	// has not answered shortly before the handshake deadline is cut off and
	// the peer is sent ERROR "500" (see [ErrZAPTimeout]); on a Listener,
	// MaxZAPInFlight bounds the handlers running at once.
	ZAPHandler zap.Handler
	ZAPDomain  string

	// HandshakeTimeout bounds the whole handshake: greeting, mechanism and
	// ZAP. Zero means DefaultHandshakeTimeout; a negative value means none.
	HandshakeTimeout time.Duration

	// PreAuthMaxFrameSize bounds every frame read before the handshake
	// completes. Zero means DefaultPreAuthMaxFrameSize.
	PreAuthMaxFrameSize int64

	// MaxMessageSize bounds every frame read after the handshake; it is
	// checked on the frame header, before the body is read, like libzmq's
	// ZMQ_MAXMSGSIZE. When the mechanism seals messages (CURVE, GSSAPI) it
	// bounds the payload each frame carries: the frame itself may be the
	// mechanism's overhead longer (MessageOpener.MaxOverhead: 33 bytes for
	// CURVE; libzmq bounds the sealed frame instead). Zero means no limit,
	// as in libzmq; memory then still grows only as bytes actually arrive.
	MaxMessageSize int64

	// MaxMessageFrames bounds the number of frames in one incoming
	// message. It is checked as each frame arrives: a message whose
	// MaxMessageFrames-th frame says more follow fails at once with a
	// [*MessageTooLargeError], before anything more is read. Each frame
	// costs a 24-byte slice header on top of its payload, so without this
	// limit a message of empty frames (2 bytes each on the wire) would cost
	// 12 times the bytes received, more while the slice grows. Zero means DefaultMaxMessageFrames
	// (4096); a negative value means no limit, as in libzmq (memory then
	// still grows only in proportion to the bytes received).
	MaxMessageFrames int

	// MaxMessageBytes bounds the total payload of one incoming multipart
	// message (the sum of its frame bodies; when the mechanism seals
	// messages, of the opened payloads). It is checked on each frame header, before the body is
	// read, and a message that would cross it fails with a
	// [*MessageTooLargeError]. A command frame between messages may not
	// exceed it either (or 64 bytes, whichever is larger), and neither may
	// a SUBSCRIBE or CANCEL turned into a message. Zero means no limit, as
	// in libzmq: memory for a message then grows only as its bytes arrive,
	// plus the per-frame cost that MaxMessageFrames bounds.
	MaxMessageBytes int64

	// MaxMetadataProperties bounds the number of properties the peer's
	// metadata (in READY or INITIATE) may carry; more fail the handshake
	// with a [*TooManyPropertiesError] before anything is allocated for it
	// (the parser counts first). Their total size is already bounded by
	// PreAuthMaxFrameSize, since metadata travels in a handshake command.
	// Zero means DefaultMaxMetadataProperties (64); a negative value means
	// no limit.
	MaxMetadataProperties int

	// HeartbeatInterval, if positive, makes the connection send a PING
	// this often once the handshake is done (ZMQ_HEARTBEAT_IVL).
	// HeartbeatTimeout is how long without any incoming traffic after a
	// PING ends the connection (ZMQ_HEARTBEAT_TIMEOUT; zero means the
	// interval). HeartbeatTTL is the time-to-live sent in our PINGs
	// (ZMQ_HEARTBEAT_TTL, rounded down to tenths of a second; at most
	// 6553.5 s, what a PING carries).
	//
	// Incoming traffic is seen only while someone reads: a connection
	// whose application does not call ReadMessage looks silent.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	HeartbeatTTL      time.Duration

	// Rand is the source of randomness for the mechanism (CURVE's
	// ephemeral keys, nonces and cookie keys); nil means crypto/rand,
	// which is what every program should use. A Config may serve many
	// connections at once, so Rand must be safe for concurrent use, and it
	// must be a cryptographically secure source: a predictable one gives
	// away the session keys. Other sources are for tests that replay
	// recorded transcripts.
	Rand io.Reader

	// VerifyConnection, if set, is called once the handshake has completed;
	// an error fails the handshake and closes the connection.
	VerifyConnection func(ConnectionState) error

	// Admission control. A [Listener] applies these limits in Accept,
	// before it spends any work on a connection (no byte read, no X25519,
	// no ZAP); a connection refused is closed at once and reported as an
	// [OutcomeRefused] event. A [Conn] made with [Server] directly is not
	// subject to them. Source addresses are compared by IP for IPv4 and by
	// /64 prefix for IPv6; IPC peers have no address and are never
	// refused per address.

	// MaxHandshakes bounds the handshakes in flight on one Listener, from
	// Accept until the handshake ends or the Conn is closed. At the limit,
	// Accept waits for a slot (the kernel's backlog holds the waiting
	// connections, so their clients wait rather than fail); a slot is held
	// at most HandshakeTimeout, counted from Accept. Zero means
	// DefaultMaxHandshakes (512); negative means no limit.
	MaxHandshakes int

	// MaxHandshakesPerAddress bounds the handshakes in flight from one
	// source address; a connection past it is refused at once. Zero means
	// DefaultMaxHandshakesPerAddress (64); negative means no limit.
	MaxHandshakesPerAddress int

	// MaxConns bounds the connections a Listener has open, from Accept
	// until Close; a connection past it is refused at once. Zero or
	// negative means no limit (the default).
	MaxConns int

	// MaxZAPInFlight bounds the ZAP requests running at once on one
	// Listener, counting handlers that were cut off by the handshake
	// deadline but have not returned yet. A request past it is not asked:
	// the handshake fails at once as if the handler had answered status
	// 300 "too many ZAP requests in flight" (no ERROR is sent, and libzmq
	// clients reconnect). Zero means DefaultMaxZAPInFlight (256); negative
	// means no limit.
	MaxZAPInFlight int

	// BanAfterFailures, if positive, bans a source address from a
	// Listener for BanDuration once BanAfterFailures of its handshakes
	// have failed within BanWindow (counted from the first of them), in
	// the manner of fail2ban: Accept refuses its connections at once.
	// Every failure counts (bad credentials, protocol errors, a peer
	// silent until the timeout) except ZAP statuses 300 and 500, which
	// are the server's trouble, and failures of our own making (Close,
	// a cancelled context). Zero (the default) turns banning off: one
	// misconfigured client behind a shared address could otherwise lock
	// out all its neighbours. BanWindow and BanDuration default to
	// DefaultBanWindow and DefaultBanDuration (10 minutes each, as in
	// fail2ban).
	BanAfterFailures int
	BanWindow        time.Duration
	BanDuration      time.Duration

	// Audit.

	// OnHandshake, if set, is called once for every handshake that ends,
	// on a server or a client, with its outcome; a Listener also calls it
	// for every connection it refuses before the handshake, and for one
	// whose handshake was not started within HandshakeTimeout of Accept.
	// (A Conn closed before its handshake ever ran reports nothing.) It
	// is called synchronously (from Accept for refusals), so it must not
	// block. The event never carries a password or secret key.
	OnHandshake func(HandshakeEvent)

	// AuditLogger, if set, receives the same events as OnHandshake as log
	// records: successes at Info, authentication failures and bans at
	// Warn, other failures at Info, and refusals in Accept at Debug (a
	// flood would otherwise flood the log). Nil means no log.
	AuditLogger *slog.Logger
}

func (c *Config) mechanism() mechanism.Mechanism {
	if c.Mechanism == nil {
		return mechanism.Null()
	}
	return c.Mechanism
}

func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout == 0 {
		return DefaultHandshakeTimeout
	}
	return c.HandshakeTimeout
}

func (c *Config) preAuthMaxFrameSize() int64 {
	if c.PreAuthMaxFrameSize <= 0 {
		return DefaultPreAuthMaxFrameSize
	}
	return c.PreAuthMaxFrameSize
}

func (c *Config) maxMessageFrames() int {
	switch {
	case c.MaxMessageFrames == 0:
		return DefaultMaxMessageFrames
	case c.MaxMessageFrames < 0:
		return 0
	}
	return c.MaxMessageFrames
}

func (c *Config) maxMetadataProperties() int {
	switch {
	case c.MaxMetadataProperties == 0:
		return DefaultMaxMetadataProperties
	case c.MaxMetadataProperties < 0:
		return 0
	}
	return c.MaxMetadataProperties
}

func (c *Config) heartbeatTimeout() time.Duration {
	if c.HeartbeatTimeout > 0 {
		return c.HeartbeatTimeout
	}
	return c.HeartbeatInterval
}

// validate checks c for settings that can never work, or that would be
// silently ignored. Listen, NewListener and DialContext call it up front;
// a Conn made with Client or Server calls it as its handshake starts.
// Validate reports whether c can work, as Listen, NewListener and Dial check
// it before doing anything: nil, or an error that wraps [ErrConfig] saying
// what to change. Layers built on this package (such as package socket)
// call it to refuse a bad Config up front.
func (c *Config) Validate() error { return c.validate() }

func (c *Config) validate() error {
	switch {
	case c == nil:
		return configError("nil Config: at least SocketType must be set")
	case c.SocketType == "":
		return configError("no SocketType: set it to the pattern's socket type (zmtp.DEALER, zmtp.ROUTER, ...)")
	case !c.SocketType.Valid():
		return configError("unknown SocketType %q: socket types are upper case, as zmtp.DEALER", string(c.SocketType))
	case len(c.Identity) > 255:
		return configError("Identity of %d bytes; at most 255", len(c.Identity))
	case len(c.Identity) > 0 && c.Identity[0] == 0:
		return configError("Identity may not start with a zero byte (reserved for generated routing ids)")
	case len(c.ZAPDomain) > 255:
		return configError("ZAPDomain of %d bytes; at most 255", len(c.ZAPDomain))
	}
	if err := c.Metadata.Validate(); err != nil {
		return configError("Metadata: %v", trimPackagePrefix(err.Error()))
	}
	for i, p := range c.Metadata {
		for _, name := range [...]string{zmtp.PropSocketType, zmtp.PropIdentity} {
			if strings.EqualFold(p.Name, name) {
				return configError("Metadata may not set %q: set Config.%s instead", p.Name, strings.ReplaceAll(name, "-", ""))
			}
		}
		for _, q := range c.Metadata[:i] {
			if strings.EqualFold(p.Name, q.Name) {
				return configError("Metadata sets %q twice (names match case-insensitively)", p.Name)
			}
		}
	}
	mech := c.mechanism()
	switch {
	case mech.Name() == mechanism.PlainName && mech.AsServer() && c.ZAPHandler == nil:
		return configError("a PLAIN server needs a ZAPHandler to check the passwords (zap.NewAuthenticator with ConfigurePlain)")
	case mech.Name() == mechanism.NullName && c.ZAPHandler != nil && c.ZAPDomain == "":
		return configError("a ZAPHandler with NULL is asked only when ZAPDomain is set, as in libzmq: set ZAPDomain, or drop the handler")
	}
	for _, v := range [...]struct {
		name string
		val  int64
	}{
		{"PreAuthMaxFrameSize", c.PreAuthMaxFrameSize},
		{"MaxMessageSize", c.MaxMessageSize},
		{"MaxMessageBytes", c.MaxMessageBytes},
		{"HeartbeatInterval", int64(c.HeartbeatInterval)},
		{"HeartbeatTimeout", int64(c.HeartbeatTimeout)},
		{"HeartbeatTTL", int64(c.HeartbeatTTL)},
		{"BanAfterFailures", int64(c.BanAfterFailures)},
		{"BanWindow", int64(c.BanWindow)},
		{"BanDuration", int64(c.BanDuration)},
	} {
		if v.val < 0 {
			return configError("%s is negative; zero means its default", v.name)
		}
	}
	if c.HeartbeatTTL > maxHeartbeatTTL {
		return configError("HeartbeatTTL of %v; a PING carries at most %v", c.HeartbeatTTL, maxHeartbeatTTL)
	}
	return nil
}

// maxHeartbeatTTL is the longest TTL a PING carries: 65535 tenths of a
// second.
const maxHeartbeatTTL = 0xFFFF * 100 * time.Millisecond

// trimPackagePrefix drops a leading "zmtp: " (or any "pkg: ") from an error
// text that is quoted inside one of ours.
func trimPackagePrefix(s string) string {
	if i := strings.Index(s, ": "); i > 0 && !strings.ContainsAny(s[:i], " \"\n") {
		return s[i+2:]
	}
	return s
}

// appendOwnMetadata appends to md what we send in READY/INITIATE:
// Socket-Type (its value appended to typeBuf), Identity for the types
// libzmq sends it for, then c.Metadata.
func (c *Config) appendOwnMetadata(md zmtp.Metadata, typeBuf []byte) zmtp.Metadata {
	md = append(md, zmtp.Property{Name: zmtp.PropSocketType, Value: append(typeBuf, c.SocketType...)})
	if c.SocketType.SendsIdentity() {
		md = append(md, zmtp.Property{Name: zmtp.PropIdentity, Value: c.Identity})
	}
	return append(md, c.Metadata...)
}
