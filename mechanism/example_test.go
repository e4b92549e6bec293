package mechanism_test

import (
	"context"
	"fmt"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ExampleCurveServer runs a CURVE handshake between a client and a server
// in memory, with no network: the handshakes only take and return commands.
// Then the client seals a message and the server opens it.
func ExampleCurveServer() {
	server, _ := cert.GenerateKeyPair(nil)
	client, _ := cert.GenerateKeyPair(nil)
	sm, _ := mechanism.CurveServer(server)
	cm, _ := mechanism.CurveClient(server.Public, client)
	md := zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}}
	sh, _ := sm.NewHandshake(mechanism.Params{Metadata: md})
	ch, _ := cm.NewHandshake(mechanism.Params{Metadata: md})

	ctx := context.Background()
	sh.Start(ctx)
	toServer, _ := ch.Start(ctx) // HELLO
	for !ch.Done() {
		var toClient []zmtp.Command
		for _, cmd := range toServer {
			fmt.Println("client sends", cmd.Name)
			out, err := sh.Handle(ctx, cmd)
			if err != nil {
				fmt.Println(err)
				return
			}
			toClient = append(toClient, out...)
		}
		toServer = nil
		for _, cmd := range toClient {
			fmt.Println("server sends", cmd.Name)
			out, err := ch.Handle(ctx, cmd)
			if err != nil {
				fmt.Println(err)
				return
			}
			toServer = append(toServer, out...)
		}
	}
	fmt.Println("server knows the client:", *sh.Session().PeerPublicKey == client.Public)

	body, _ := ch.Session().Sealer.Seal(nil, 0, []byte("hello"))
	_, payload, err := sh.Session().Opener.Open(nil, body)
	fmt.Printf("%q %v\n", payload, err)
	// Output:
	// client sends HELLO
	// server sends WELCOME
	// client sends INITIATE
	// server sends READY
	// server knows the client: true
	// "hello" <nil>
}
