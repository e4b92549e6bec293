// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmtpsec/zmtpsec/gssapi"
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
