package mechanism_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
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

// ExampleAskZAP is how a mechanism written outside this module (GSSAPI, in
// github.com/zmtpsec/zmtpsec/gssapi) asks ZAP about the principal it has
// authenticated, as the mechanisms here ask: the same request, the same
// checks of the reply. A refusal is an *AuthError; GSSAPI has no ERROR
// command, so it sends nothing and the connection closes.
func ExampleAskZAP() {
	auth := zap.NewAuthenticator()
	auth.ConfigureGSSAPIPrincipals("*", "alice@ZMTP.TEST")
	p := &mechanism.Params{ZAP: auth, Domain: "global", PeerAddress: "192.0.2.7"}

	ctx := context.Background()
	for _, principal := range []string{"alice@ZMTP.TEST", "mallory@ZMTP.TEST"} {
		rep, err := mechanism.AskZAP(ctx, mechanism.GSSAPIName, p, [][]byte{[]byte(principal)})
		var ae *mechanism.AuthError
		switch {
		case err == nil:
			fmt.Printf("%s: user id %q\n", principal, rep.UserID)
		case errors.As(err, &ae):
			fmt.Printf("%s: refused with %d (%s)\n", principal, ae.Status, ae.Text)
		}
	}
	// Output:
	// alice@ZMTP.TEST: user id "alice@ZMTP.TEST"
	// mallory@ZMTP.TEST: refused with 400 (Unknown principal)
}
