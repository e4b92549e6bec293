package krbtest_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/zmtpsec/zmtpsec/internal/krbtest"
)

// A test calls krbtest.Start(t) and gets a realm whose KDC stops when the
// test ends. Code without a testing.TB, such as a TestMain or a capture
// program, uses New and Close, and points MIT's libraries (and so libzmq)
// at the realm through the process environment. This example needs MIT's
// KDC tools (`make deps`), so it has no Output to check.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "realm-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	r, err := krbtest.New(dir, krbtest.WithEnctypes(krbtest.AES256SHA384))
	if errors.Is(err, krbtest.ErrToolsMissing) {
		fmt.Println("no MIT Kerberos tools: run `make deps`")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, kv := range r.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	// A libzmq client now sets ZMQ_GSSAPI_SERVICE_PRINCIPAL to
	// r.ServiceName and authenticates as r.ClientPrincipal from
	// r.ClientKeytab; a libzmq server sets ZMQ_GSSAPI_SERVER and accepts
	// with r.ServiceKeytab.
	fmt.Println(r.ServiceName, "is", r.ServicePrincipal, "with keys in", r.ServiceKeytab)
}
