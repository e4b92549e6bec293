// Package mechanism implements the ZMTP security handshakes as sans-I/O
// state machines: a [Handshake] takes the commands the peer sent and returns
// the commands to send back, and never touches a network connection, a
// reader or a goroutine. The transport package drives them over a net.Conn;
// tests drive a client and a server against each other in one function.
//
// A [Mechanism] is immutable and may be shared by any number of connections;
// each connection gets a fresh Handshake from [Mechanism.NewHandshake].
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
	// Name is the mechanism name sent in the greeting: "NULL", "PLAIN" or
	// "CURVE".
	Name() string
	// AsServer reports whether this side takes the server role, which is
	// sent as the greeting's as-server bit.
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
	// fails the handshake with [ErrNotStarted].
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

// Session is what a completed handshake established.
type Session struct {
	// PeerMetadata is the metadata the peer sent (READY or INITIATE).
	PeerMetadata zmtp.Metadata
	// ZAP holds the ZAP reply when a handler was asked, else nil. Its
	// UserID and Metadata are the connection's User-Id and ZAP properties.
	ZAP *zap.Reply
	// PeerPublicKey is the peer's permanent CURVE key: the client's C on
	// a server, the server's S on a client; nil for NULL and PLAIN.
	PeerPublicKey *cert.PublicKey
	// Sealer and Opener carry messages after a CURVE handshake; they are
	// nil for NULL and PLAIN, whose messages travel in clear.
	Sealer *Sealer
	Opener *Opener
}
