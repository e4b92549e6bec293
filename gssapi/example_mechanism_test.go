// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"fmt"
	"log"

	"github.com/zmtpsec/zmtpsec/gssapi"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// gssapiConfigs makes the transport configurations of a GSSAPI server,
// from the service's keytab, and of a client, whose tickets come from a
// password (NewKeytabTicketSource and NewCCacheTicketSource are the other
// sources). The README shows this function.
func gssapiConfigs(krb5conf, keytab, password string) (server, client *transport.Config) {
	conf, err := gssapi.LoadKrb5Config(krb5conf)
	if err != nil {
		log.Fatal(err)
	}
	kt, err := gssapi.LoadKeytab(keytab)
	if err != nil {
		log.Fatal(err)
	}
	service, err := conf.ParseName("zmqtest/localhost@ZMTP.TEST", gssapi.KerberosPrincipal)
	if err != nil {
		log.Fatal(err)
	}
	creds, err := gssapi.NewServerCredentials(kt, service)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := gssapi.Server(gssapi.ServerConfig{Credentials: creds})
	if err != nil {
		log.Fatal(err)
	}
	// ZAP sees the client's principal, "alice@ZMTP.TEST".
	auth := zap.NewAuthenticator()
	auth.ConfigureGSSAPIPrincipals("*", "alice@ZMTP.TEST")
	server = &transport.Config{Mechanism: srv, SocketType: zmtp.REP, ZAPHandler: auth}

	alice, err := conf.ParseName("alice", gssapi.UserName)
	if err != nil {
		log.Fatal(err)
	}
	tickets, err := gssapi.NewPasswordTicketSource(conf, alice, password)
	if err != nil {
		log.Fatal(err)
	}
	cli, err := gssapi.Client(gssapi.ClientConfig{Service: "zmqtest@localhost", Tickets: tickets, Config: conf})
	if err != nil {
		log.Fatal(err)
	}
	client = &transport.Config{Mechanism: cli, SocketType: zmtp.REQ}
	return server, client
}

// A server and a client configuration; neither talks to the KDC until the
// client's first handshake asks for a ticket.
func Example_configs() {
	server, client := gssapiConfigs("testdata/example-krb5.conf", "testdata/libzmq/sealed/service.keytab", "alice-zmtp-test-password")
	fmt.Println(server.Mechanism.Name(), client.Mechanism.Name())
	server.ZAPHandler.(*zap.Authenticator).Close()
	// Output: GSSAPI GSSAPI
}
