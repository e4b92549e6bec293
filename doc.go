// Package zmtpsec is a pure-Go (zero cgo) implementation of ZMTP 3.x security:
// the greeting, framing and commands of ZMTP 3.0/3.1, the NULL, PLAIN and CURVE
// handshakes, an in-process ZAP (RFC 27) authenticator, and libzmq's socket
// types on top.
//
// The root package holds no code; the work is done by its subpackages:
//
//   - [github.com/zmtpsec/zmtpsec/zmtp]: the wire codec (greeting, frames, commands, metadata);
//   - [github.com/zmtpsec/zmtpsec/mechanism]: sans-I/O security handshakes;
//   - [github.com/zmtpsec/zmtpsec/zap]: ZAP requests, replies and the authenticator;
//   - [github.com/zmtpsec/zmtpsec/cert]: CURVE keys, Z85 and certificate files;
//   - [github.com/zmtpsec/zmtpsec/transport]: Conn, Dial and Listen on net.Conn;
//   - [github.com/zmtpsec/zmtpsec/socket]: libzmq's socket types above transport
//     (queues, routing, reconnection, events).
//
// Start with socket for libzmq-like sockets; use transport to manage one
// connection yourself.
package zmtpsec
