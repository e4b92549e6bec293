// Command zmtpcat is netcat for ZMTP: a ZeroMQ socket (package socket) of
// the type given by -type that connects to, or listens on, a ZMTP 3.x
// endpoint and carries messages between its peers and standard input and
// output, under the NULL, PLAIN or CURVE mechanism, with an in-process ZAP
// authenticator when it serves.
//
// Usage:
//
//	zmtpcat [flags] ENDPOINT
//
// ENDPOINT is tcp://HOST:PORT or ipc:///PATH. Each line of standard input is
// one message, its frames separated by a TAB; each message received is
// printed as one line the same way. A byte that would break a line (a
// control byte, and the backslash itself) is printed as \xNN, and \xNN in
// input stands for that byte; with -hex every frame is in hex instead.
//
// The socket type (-type) decides the envelopes and the routing, as libzmq
// does for that type: REQ adds the empty delimiter frame to what it sends
// and strips it from what it receives, and waits for each reply before it
// sends the next line; REP strips the envelope from a request and puts it
// back on the reply (the -echo, or the next stdin line); ROUTER prints the
// peer's routing id as the first frame and sends each line to the peer
// whose routing id is its first frame; PUB sends each line only to the
// peers whose subscriptions match its first frame; DEALER, PUSH and REQ
// take turns among their peers. With -bind, connections are accepted and
// shaken hands with concurrently, so a silent or slow peer never delays
// another.
//
// When connecting, zmtpcat behaves as a libzmq socket does: it connects
// when the peer appears, and connects again when the peer closes the
// connection; lines read meanwhile wait for it. A failed handshake ends it
// with status 1, unless -retry asks for libzmq's rule (see the help text).
//
// The outcome of each handshake (mechanism, peer socket type, peer user-id,
// peer address) goes to standard error, one line per connection. Exit
// status: 0 on success, 1 when a handshake fails (or the endpoint, a
// certificate or standard input cannot be used), 2 for a usage error.
//
// Examples:
//
//	zmtpcat -bind -type REP -echo tcp://127.0.0.1:5555
//	echo hello | zmtpcat -type REQ -n 1 tcp://127.0.0.1:5555
//
//	zmtpcat -bind -type PUB tcp://*:5556            # type lines to publish them
//	zmtpcat -type SUB -subscribe weather. tcp://127.0.0.1:5556
//
//	zmtpcat -bind -type ROUTER ipc:///tmp/router.sock
//	printf 'a\tb\n' | zmtpcat -identity C1 -n 1 ipc:///tmp/router.sock
//
//	curvekeygen -cert server -dir certs; curvekeygen -cert client -dir clients
//	zmtpcat -bind -type ROUTER -echo -mechanism curve -curve-server -cert certs/server.key_secret -client-certs clients tcp://127.0.0.1:5557
//	echo hi | zmtpcat -mechanism curve -cert clients/client.key_secret -server-key certs/server.key -n 1 tcp://127.0.0.1:5557
//
//	zmtpcat -bind -type REP -echo -mechanism plain -plain-server -passwords passwords.txt tcp://127.0.0.1:5558
//	echo hi | ZMTPCAT_PLAIN_PASSWORD=secret zmtpcat -type REQ -mechanism plain -plain-user admin -n 1 tcp://127.0.0.1:5558
//
// The GSSAPI mechanism lives in a module of its own (gssapi/), so that
// its Kerberos dependencies stay out of this one; its zmtpcat, the same
// command with -mechanism gssapi added, is gssapi/cmd/zmtpcat:
//
//	go run ./gssapi/cmd/zmtpcat -h
package main

import "github.com/zmtpsec/zmtpsec/internal/zmtpcat"

// The command's logic is in internal/zmtpcat, which the GSSAPI module's
// zmtpcat imports too.
func main() { (&zmtpcat.Program{}).Main() }
