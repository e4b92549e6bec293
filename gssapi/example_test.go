// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmtpsec/zmtpsec/gssapi"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Names are read as libzmq reads its principal options: host-based by
// default, "service@host" becoming service/host in the host's realm.
func ExampleKrb5Config_ParseName() {
	conf, err := gssapi.ParseKrb5Config(`
[libdefaults]
 default_realm = ZMTP.TEST
[realms]
 ZMTP.TEST = {
  kdc = 127.0.0.1:88
 }
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	service, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
	client, _ := conf.ParseName("alice", gssapi.UserName)
	fmt.Println(service)
	fmt.Println(client)
	// Output:
	// zmqtest/localhost@ZMTP.TEST
	// alice@ZMTP.TEST
}

// A client gets its service ticket from a KDC with a password (or a keytab,
// or kinit's FILE credential cache). Here no KDC listens, so the call fails
// at once with a typed error rather than stalling.
func ExampleKDCTicketSource() {
	conf, _ := gssapi.ParseKrb5Config(`
[libdefaults]
 default_realm = ZMTP.TEST
 udp_preference_limit = 1
[realms]
 ZMTP.TEST = {
  kdc = 127.0.0.1:1
 }
`)
	alice, _ := conf.ParseName("alice", gssapi.UserName)
	service, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
	src, err := gssapi.NewPasswordTicketSource(conf, alice, "secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = src.ServiceTicket(ctx, service)
	fmt.Println(src, errors.Is(err, gssapi.ErrKDCUnreachable))
	// Output: gssapi.KDCTicketSource(alice@ZMTP.TEST) true
}

// A GSSAPI client and server over the transport. The client gets its
// ticket from the KDC with a keytab; the server needs only the service
// keytab. (Needs a KDC: no output is checked.)
func ExampleClient() {
	conf, err := gssapi.LoadKrb5Config("") // $KRB5_CONFIG, else /etc/krb5.conf
	if err != nil {
		fmt.Println(err)
		return
	}
	alice, _ := conf.ParseName("alice", gssapi.UserName)
	kt, err := gssapi.LoadKeytab("/etc/zmtp/alice.keytab")
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := gssapi.NewKeytabTicketSource(conf, alice, kt)
	client, err := gssapi.Client(gssapi.ClientConfig{Service: "zmqtest@localhost", Tickets: src, Config: conf})
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := transport.Dial("tcp://localhost:5555", &transport.Config{Mechanism: client, SocketType: zmtp.DEALER})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	if err := conn.Handshake(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("authenticated to", conn.ConnectionState().PeerPrincipal)
}

// A configuration without what it needs fails at once with ErrConfig.
func ExampleServer() {
	_, err := gssapi.Server(gssapi.ServerConfig{})
	fmt.Println(errors.Is(err, gssapi.ErrConfig))
	conf, _ := gssapi.ParseKrb5Config("[libdefaults]\n default_realm = ZMTP.TEST\n")
	_, err = gssapi.Client(gssapi.ClientConfig{Service: "zmqtest@localhost", Config: conf})
	fmt.Println(errors.Is(err, gssapi.ErrConfig))
	// Output:
	// true
	// true
}
