// Command zmtpcat is netcat for ZMTP: it connects to, or listens on, a ZMTP
// endpoint and carries messages between the peer and standard input and
// output, under the NULL, PLAIN or CURVE mechanism, with an in-process ZAP
// authenticator when it serves.
//
// Usage:
//
//	zmtpcat [flags] ENDPOINT
//
// ENDPOINT is tcp://HOST:PORT or ipc:///PATH. Each line of standard input is
// one message, its frames separated by a TAB; each message received is
// printed as one line the same way (-hex: frames in hex). REQ adds and REP
// strips the empty delimiter frame. ROUTER prints the peer's routing id as
// the first frame and routes what it sends by its first frame. The outcome
// of each handshake goes to standard error. Exit status: 0 on success, 1 when
// a connection or handshake fails, 2 for a usage error.
//
// Examples:
//
//	zmtpcat -bind -type REP -echo tcp://127.0.0.1:5555
//	echo hello | zmtpcat -type REQ -n 1 tcp://127.0.0.1:5555
//
//	zmtpcat -bind -type PUB tcp://*:5556 < feed.txt
//	zmtpcat -type SUB -subscribe weather. tcp://127.0.0.1:5556
//
//	curvekeygen -cert server -dir certs; curvekeygen -cert client -dir clients
//	zmtpcat -bind -type ROUTER -echo -mechanism curve -curve-server -cert certs/server.key_secret -client-certs clients tcp://127.0.0.1:5557
//	echo hi | zmtpcat -mechanism curve -cert clients/client.key_secret -server-key certs/server.key -n 1 tcp://127.0.0.1:5557
//
//	zmtpcat -bind -type REP -echo -mechanism plain -plain-server -passwords passwords.txt tcp://127.0.0.1:5558
//	echo hi | zmtpcat -type REQ -mechanism plain -plain-user admin -plain-password secret -n 1 tcp://127.0.0.1:5558
package main

import (
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
