package mechanism_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// frameBytes renders cmd as the command frame the transport would send.
func frameBytes(cmd zmtp.Command) []byte {
	b := zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, cmd.Len())
	return cmd.Append(b)
}

// pumpResult is what pump observed.
type pumpResult struct {
	// fromClient and fromServer are every command each side produced, in
	// order, including commands returned together with an error.
	fromClient, fromServer []zmtp.Command
	clientErr, serverErr   error
}

// pump runs a client and a server Handshake against each other in one
// goroutine: it starts both, then delivers each side's pending commands to
// the other, one at a time, until nothing is left to deliver. A side that
// has failed takes no more commands, but what it returned with its error
// (an ERROR command) is still delivered, as the transport sends it before
// closing. Every command is copied through its wire encoding before
// delivery, so a handshake that keeps a view of a command's data is caught.
func pump(t *testing.T, client, server mechanism.Handshake) pumpResult {
	t.Helper()
	ctx := context.Background()
	var r pumpResult
	var toServer, toClient []zmtp.Command

	out, err := client.Start(ctx)
	r.fromClient = append(r.fromClient, out...)
	toServer = append(toServer, out...)
	r.clientErr = err
	out, err = server.Start(ctx)
	r.fromServer = append(r.fromServer, out...)
	toClient = append(toClient, out...)
	r.serverErr = err

	for steps := 0; ; steps++ {
		if steps > 100 {
			t.Fatal("pump: handshake does not converge")
		}
		progress := false
		if len(toServer) > 0 && r.serverErr == nil {
			cmd := copyCommand(toServer[0])
			toServer = toServer[1:]
			out, err := server.Handle(ctx, cmd)
			r.fromServer = append(r.fromServer, out...)
			toClient = append(toClient, out...)
			r.serverErr = err
			progress = true
		}
		if len(toClient) > 0 && r.clientErr == nil {
			cmd := copyCommand(toClient[0])
			toClient = toClient[1:]
			out, err := client.Handle(ctx, cmd)
			r.fromClient = append(r.fromClient, out...)
			toServer = append(toServer, out...)
			r.clientErr = err
			progress = true
		}
		if !progress {
			return r
		}
	}
}

// copyCommand returns cmd with a private copy of its data, round-tripped
// through the wire encoding.
func copyCommand(cmd zmtp.Command) zmtp.Command {
	body := cmd.Append(nil)
	c, err := zmtp.ParseCommand(body)
	if err != nil {
		panic(fmt.Sprintf("copyCommand: %v", err))
	}
	return c
}

// md builds metadata from name, value pairs.
func md(kv ...string) zmtp.Metadata {
	var m zmtp.Metadata
	for i := 0; i+1 < len(kv); i += 2 {
		m = append(m, zmtp.Property{Name: kv[i], Value: []byte(kv[i+1])})
	}
	return m
}

// newHandshake returns m.NewHandshake(p) or fails the test.
func newHandshake(t *testing.T, m mechanism.Mechanism, p mechanism.Params) mechanism.Handshake {
	t.Helper()
	h, err := m.NewHandshake(p)
	if err != nil {
		t.Fatalf("%s NewHandshake: %v", m.Name(), err)
	}
	return h
}
