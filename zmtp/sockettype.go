package zmtp

// SocketType is a ZeroMQ socket type as it travels in the Socket-Type
// property: an upper-case name such as "DEALER".
type SocketType string

// The socket types of ZMTP 3.0 and 3.1 (the 3.1 draft types are listed too).
const (
	PAIR    SocketType = "PAIR"
	PUB     SocketType = "PUB"
	SUB     SocketType = "SUB"
	REQ     SocketType = "REQ"
	REP     SocketType = "REP"
	DEALER  SocketType = "DEALER"
	ROUTER  SocketType = "ROUTER"
	PULL    SocketType = "PULL"
	PUSH    SocketType = "PUSH"
	XPUB    SocketType = "XPUB"
	XSUB    SocketType = "XSUB"
	CLIENT  SocketType = "CLIENT"
	SERVER  SocketType = "SERVER"
	RADIO   SocketType = "RADIO"
	DISH    SocketType = "DISH"
	GATHER  SocketType = "GATHER"
	SCATTER SocketType = "SCATTER"
	PEER    SocketType = "PEER"
	CHANNEL SocketType = "CHANNEL"
)

// compatible is the table of 37/ZMTP, which libzmq's check_socket_type
// follows exactly.
var compatible = map[SocketType][]SocketType{
	PAIR:    {PAIR},
	PUB:     {SUB, XSUB},
	XPUB:    {SUB, XSUB},
	SUB:     {PUB, XPUB},
	XSUB:    {PUB, XPUB},
	REQ:     {REP, ROUTER},
	REP:     {REQ, DEALER},
	DEALER:  {REP, DEALER, ROUTER},
	ROUTER:  {REQ, DEALER, ROUTER},
	PUSH:    {PULL},
	PULL:    {PUSH},
	CLIENT:  {SERVER},
	SERVER:  {CLIENT},
	RADIO:   {DISH},
	DISH:    {RADIO},
	GATHER:  {SCATTER},
	SCATTER: {GATHER},
	PEER:    {PEER},
	CHANNEL: {CHANNEL},
}

// Valid reports whether t is a socket type this package knows.
func (t SocketType) Valid() bool {
	_, ok := compatible[t]
	return ok
}

// Compatible reports whether a socket of type t may talk to a peer of type
// peer. Names are compared exactly (case-sensitively), as libzmq does.
func (t SocketType) Compatible(peer SocketType) bool {
	for _, p := range compatible[t] {
		if p == peer {
			return true
		}
	}
	return false
}

// SendsIdentity reports whether libzmq sends the Identity property from a
// socket of this type: REQ, DEALER and ROUTER always do, even when it is
// empty.
func (t SocketType) SendsIdentity() bool {
	return t == REQ || t == DEALER || t == ROUTER
}

// String returns the type's name.
func (t SocketType) String() string { return string(t) }
