package transport

import (
	"net"
	"strings"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ConnectionState is a snapshot of a connection after its handshake. See
// [Conn.ConnectionState].
type ConnectionState struct {
	// HandshakeComplete is true once the handshake has succeeded.
	HandshakeComplete bool
	// PeerMajor and PeerMinor are the protocol version the peer announced
	// (3.0 or 3.1 in practice).
	PeerMajor, PeerMinor uint8
	// Mechanism is the security mechanism: "NULL", "PLAIN", "CURVE" or
	// "GSSAPI".
	Mechanism string
	// PeerSocketType is the peer's Socket-Type, empty if it sent none.
	PeerSocketType zmtp.SocketType
	// PeerIdentity is the peer's Identity property (its routing id), nil
	// if it sent none.
	PeerIdentity []byte
	// PeerMetadata is all the metadata the peer sent, in order.
	PeerMetadata zmtp.Metadata
	// PeerAddress is the peer's IP address as text, without a port (empty
	// for IPC), as it is given to ZAP and as libzmq's Peer-Address.
	PeerAddress string
	// UserID is the User-Id the ZAP handler returned; empty if ZAP was not
	// asked.
	UserID string
	// ZAPMetadata is the metadata the ZAP handler returned.
	ZAPMetadata zmtp.Metadata
	// PeerPublicKey is the peer's permanent CURVE key (the client's on a
	// server, the server's on a client); nil for other mechanisms.
	PeerPublicKey *cert.PublicKey
	// PeerPrincipal is the name the mechanism authenticated the peer
	// under: for GSSAPI, the Kerberos principal of the client on a server
	// ("user@REALM", what ZAP is asked about), of the service on a client.
	// Empty for NULL, PLAIN and CURVE. It is set with or without ZAP.
	PeerPrincipal string

	zapAsked bool
}

// Property looks a connection property up by name: Peer-Address first,
// then (if ZAP was asked) User-Id and the ZAP metadata, then the peer's own
// metadata. Names match ASCII case-insensitively, as 23/ZMTP says property
// names do, so ZAP's properties win over any the peer sent under the same
// name in any casing. The peer's Socket-Type and Identity are the
// properties of exactly those names, the ones the connection checked and
// took PeerSocketType and PeerIdentity from. (libzmq's zmq_msg_gets matches names exactly, so there
// a peer's "role" and ZAP's "Role" are two properties; here they are one,
// and it is ZAP's.)
//
// Unlike libzmq, a User-Id the peer put in its own metadata is never
// returned: without ZAP there is no User-Id, so a peer cannot forge one.
func (s ConnectionState) Property(name string) ([]byte, bool) {
	// These two are the connection's, never the peer's, whatever casing
	// the peer used for its own properties.
	switch {
	case strings.EqualFold(name, "Peer-Address"):
		return []byte(s.PeerAddress), s.PeerAddress != ""
	case strings.EqualFold(name, zmtp.PropUserID):
		return []byte(s.UserID), s.zapAsked
	}
	if v, ok := s.ZAPMetadata.Get(name); ok {
		return v, true
	}
	// Socket-Type and Identity are the values the connection acted on,
	// which libzmq matches exactly: a peer's "socket-type" is not its
	// Socket-Type, here either.
	for _, exact := range [...]string{zmtp.PropSocketType, zmtp.PropIdentity} {
		if strings.EqualFold(name, exact) {
			return s.PeerMetadata.GetExact(exact)
		}
	}
	return s.PeerMetadata.Get(name)
}

// peerAddress renders the IP of a remote address, without a port.
func peerAddress(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return ""
}

// clone returns a deep copy of s, so that callers cannot change the
// connection's own state through the slices of a snapshot.
func (s ConnectionState) clone() ConnectionState {
	if s.PeerIdentity != nil { // nil means "sent none"; keep the difference
		s.PeerIdentity = append([]byte{}, s.PeerIdentity...)
	}
	s.PeerMetadata = s.PeerMetadata.Clone()
	s.ZAPMetadata = s.ZAPMetadata.Clone()
	if s.PeerPublicKey != nil {
		k := *s.PeerPublicKey
		s.PeerPublicKey = &k
	}
	return s
}
