// Package mechanism implements the ZMTP security handshakes as sans-I/O
// state machines: a [Handshake] takes the commands the peer sent and returns
// the commands to send back, and never touches a network connection, a
// reader or a goroutine. The transport package drives them over a net.Conn;
// tests drive a client and a server against each other in one function.
//
// A [Mechanism] is immutable and may be shared by any number of connections;
// each connection gets a fresh Handshake from [Mechanism.NewHandshake].
//
// The interfaces are public so that a mechanism can live outside this
// module: GSSAPI does, in the module github.com/zmtpsec/zmtpsec/gssapi, so
// that its Kerberos dependency stays out of this one. What such a
// mechanism needs from here is exported: the optional interfaces
// [Greeter] and [EmptyCommandAccepter] for the quirks of libzmq's
// handshakes, [MessageSealer] and [MessageOpener] for the messages after
// it, [AskZAP] and [ParsePeerMetadata] to ask ZAP and check the peer's
// metadata exactly as NULL, PLAIN and CURVE do, and the typed errors.
package mechanism

import (
	"context"
	"io"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Mechanism is a configured security mechanism for one side (client or
// server). Implementations are immutable and safe for concurrent use.
type Mechanism interface {
	// Name is the mechanism name sent in the greeting: "NULL", "PLAIN",
	// "CURVE" or "GSSAPI".
	Name() string
	// AsServer reports whether this side takes the server role, which is
	// sent as the greeting's as-server bit unless the Mechanism is also a
	// [Greeter].
	AsServer() bool
	// NewHandshake returns the state of one handshake.
	NewHandshake(p Params) (Handshake, error)
}

// Params is what a handshake needs to know about its connection.
type Params struct {
	// Metadata is our own metadata: Socket-Type, Identity and any
	// application properties, sent in READY or INITIATE.
	Metadata zmtp.Metadata

	// CheckPeerMetadata, if set, is called with the peer's metadata as soon
	// as it arrives; an error fails the handshake before it completes. The
	// transport uses it for the socket-type check.
	CheckPeerMetadata func(zmtp.Metadata) error

	// MaxPeerProperties bounds the properties of the peer's metadata: more
	// fail the handshake with a [*zmtp.TooManyPropertiesError] (in a
	// [*MetadataError]) before the metadata is stored. Zero or less means
	// no bound.
	MaxPeerProperties int

	// ZAP is the handler servers ask; Domain is the ZAP domain. When the
	// mechanism asks ZAP follows libzmq: NULL only when Domain is set.
	ZAP    zap.Handler
	Domain string
	// PeerAddress is the peer's IP address as text, for ZAP requests.
	PeerAddress string
	// Identity is our own routing id, sent in the ZAP request's identity
	// frame as libzmq does.
	Identity []byte

	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
}

// Handshake is the state of one security handshake. It is not safe for
// concurrent use.
//
// The driver sends what Start returns, then feeds every command the peer
// sends to Handle and sends what Handle returns, until Done reports true or
// an error is returned. Commands returned together with an error (an ERROR
// command) must still be sent before the connection is closed. After an
// error the handshake stays failed: every later call returns the same error.
type Handshake interface {
	// Start returns the commands this side sends first, which may be none.
	// It is called once; a second call is a misuse and fails the
	// handshake with [ErrAlreadyStarted].
	Start(ctx context.Context) ([]zmtp.Command, error)
	// Handle processes one command from the peer. Called before Start it
	// fails the handshake with [ErrNotStarted]. cmd.Data may alias the
	// driver's read buffer: it is valid until Handle returns, so what the
	// handshake keeps (or hands to a ZAP handler) it copies. The driver
	// encodes the commands returned before it calls again, so they may
	// use storage the handshake reuses from one call to the next.
	Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error)
	// Done reports whether the handshake has completed on this side.
	Done() bool
	// Session returns what the handshake established. It is valid once Done
	// reports true.
	Session() Session
	// Close ends the handshake and forgets every secret it still holds
	// (transient keys, cookie key, and session keys not yet handed over in
	// a Session). The driver calls it once the handshake has ended,
	// whatever the outcome: after Session on success, and on failure,
	// timeout or EOF. It is safe to call more than once. After Close, Start
	// and Handle return an error wrapping [ErrClosed] unless the handshake
	// had already ended.
	Close()
}

// GSSAPIName is the GSSAPI mechanism's name in the greeting (ZeroMQ RFC 38).
// The mechanism itself lives in the module github.com/zmtpsec/zmtpsec/gssapi;
// this package and the transport know it only by name.
const GSSAPIName = "GSSAPI"

// Greeter is implemented by a [Mechanism] whose greeting's as-server bit is
// not its role. The driver sends GreetingAsServer() in the greeting instead
// of AsServer(). libzmq's GSSAPI sends 0 on both sides
// (docs/wire-format.md#gssapi-greeting); NULL, PLAIN and CURVE send their
// role and do not implement it. The peer's bit is never checked.
type Greeter interface {
	GreetingAsServer() bool
}

// EmptyCommandAccepter is implemented by a [Handshake] that takes an empty
// command frame (a zero-length body) from the peer. While the handshake
// runs, the driver hands such a frame to Handle as the empty command, the
// zero [zmtp.Command], whenever AcceptsEmptyCommand reports true; otherwise
// the frame is malformed, as it is for NULL, PLAIN and CURVE and after
// every handshake. libzmq's GSSAPI client sends one after the server's
// last token (docs/wire-format.md#the-empty-command). Like any other
// command, it may come in a frame with or without the COMMAND flag.
//
// A Handshake sends the empty command by returning the zero zmtp.Command:
// it encodes as the frame 04 00.
type EmptyCommandAccepter interface {
	AcceptsEmptyCommand() bool
}

// Session is what a completed handshake established.
type Session struct {
	// PeerMetadata is the metadata the peer sent (READY or INITIATE).
	PeerMetadata zmtp.Metadata
	// ZAP holds the ZAP reply when a handler was asked, else nil. Its
	// UserID and Metadata are the connection's User-Id and ZAP properties.
	ZAP *zap.Reply
	// PeerPublicKey is the peer's permanent CURVE key: the client's C on
	// a server, the server's S on a client; nil for other mechanisms.
	PeerPublicKey *cert.PublicKey
	// PeerPrincipal is the name the mechanism authenticated the peer
	// under, where it has one: for GSSAPI, the Kerberos principal
	// ("user@REALM") of the client on a server, of the service on a
	// client. Empty for NULL, PLAIN and CURVE.
	PeerPrincipal string
	// Sealer and Opener carry the messages after the handshake: each
	// frame travels as one body that Sealer seals and Opener opens (for
	// CURVE a *[Sealer] and an *[Opener]). Both are nil when messages
	// travel in clear (NULL, PLAIN), and a mechanism sets both or
	// neither. They may have been in use during the handshake (GSSAPI
	// seals its READY): the transport continues where they stand.
	Sealer MessageSealer
	Opener MessageOpener
}
