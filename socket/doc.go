// Package socket implements ZeroMQ sockets in the manner of libzmq 4.3.4:
// PAIR, PUB, SUB, XPUB, XSUB, REQ, REP, DEALER, ROUTER, PUSH and PULL, each
// binding and connecting to any number of tcp:// and ipc:// endpoints, over
// connections secured by NULL, PLAIN or CURVE with ZAP.
//
// A [Socket] keeps a queue per peer, bounded by high-water marks, and
// routes messages between its peers and the application as its type says:
// round-robin and fair-queueing, REQ/REP envelopes, ROUTER routing ids,
// subscriptions filtered at the publisher. [Socket.Connect] returns at once
// and connects in the background, when the peer is there, and again after
// the connection is lost; [Socket.Close] gives queued messages a bounded
// time to go out. What happens to endpoints and connections is reported on
// [Options.Events], which never blocks the socket. A Socket is safe for
// concurrent use by any number of goroutines.
//
// Security is configured as for one connection: [Options] embeds a
// [transport.Config], whose mechanism, ZAP handler and domain, heartbeats,
// limits and timeouts apply to every connection the socket makes or
// accepts.
//
// # Which layer
//
// Use this package for what a libzmq socket gives: connecting before the
// peer exists, reconnection, several peers behind one socket, routing and
// queues. Use [github.com/zmtpsec/zmtpsec/transport] to manage one
// connection yourself, as with crypto/tls: Dial or Accept, then
// ReadMessage and WriteMessage with your own goroutines, no queues and no
// reconnection.
//
// docs/sockets.md describes each socket type, the high-water marks,
// reconnection, linger, events and concurrency, and lists where this
// package deliberately differs from libzmq.
package socket
