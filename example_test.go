// Copyright 2025 The zmtpsec Authors. All rights reserved.

package zmtpsec_test

// The examples of the README. readme_test.go checks that every Go snippet
// of README.md appears in this file (or another example file) as it is,
// so the README shows code that compiles, checks its errors and runs.

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Example_curve is the README's quick start: a CURVE server that admits the
// clients whose certificates are in a directory, and one of those clients.
func Example_curve() {
	dir, err := os.MkdirTemp("", "zmtpsec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// What curvekeygen writes: a certificate pair for the server, and one
	// for a client whose public certificate is put in clients/.
	writeCertificate(dir, "server")
	writeCertificate(dir, "client")
	clientsDir := filepath.Join(dir, "clients")
	if err := os.Mkdir(clientsDir, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "client.key"), filepath.Join(clientsDir, "client.key")); err != nil {
		log.Fatal(err)
	}
	serverCertFile := filepath.Join(dir, "server.key_secret")

	srv, err := cert.LoadCertificate(serverCertFile)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := srv.KeyPair() // cert.ErrNoSecretKey for a public certificate
	if err != nil {
		log.Fatal(err)
	}
	mech, err := mechanism.CurveServer(keys)
	if err != nil {
		log.Fatal(err)
	}

	auth := zap.NewAuthenticator()
	defer auth.Close() // stops the background reload
	// Reloaded within a second as files are added, changed or removed.
	if err := auth.ConfigureCurve("*", clientsDir); err != nil {
		log.Fatal(err)
	}

	l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{
		Mechanism:  mech,
		SocketType: zmtp.ROUTER,
		ZAPHandler: auth,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go serve(l)

	reply, err := curveClient(l.Endpoint(), srv.Public, filepath.Join(dir, "client.key_secret"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", reply)
	// Output: ["hello"]
}

// serve answers every message with the same message, on every connection
// l accepts, until l is closed.
func serve(l *transport.Listener) {
	for {
		c, err := l.Accept() // returns before the handshake
		if err != nil {
			return // l was closed
		}
		go func() {
			defer c.Close()
			var msg [][]byte
			for {
				var err error
				if msg, err = c.ReadMessage(msg); err != nil { // runs the handshake first
					if !errors.Is(err, io.EOF) {
						log.Printf("%v: %v", c.RemoteAddr(), err)
					}
					return
				}
				if err := c.WriteMessage(msg); err != nil {
					log.Printf("%v: %v", c.RemoteAddr(), err)
					return
				}
			}
		}()
	}
}

// curveClient sends "hello" to a CURVE server and returns its answer. It
// authenticates the server by its public key, and itself with the key pair
// of a secret certificate file.
func curveClient(endpoint string, serverKey cert.PublicKey, certFile string) ([][]byte, error) {
	me, err := cert.LoadCertificate(certFile)
	if err != nil {
		return nil, err
	}
	keys, err := me.KeyPair()
	if err != nil {
		return nil, err
	}
	mech, err := mechanism.CurveClient(serverKey, keys)
	if err != nil {
		return nil, err
	}
	c, err := transport.Dial(endpoint, &transport.Config{Mechanism: mech, SocketType: zmtp.DEALER})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.WriteMessage([][]byte{[]byte("hello")}); err != nil {
		return nil, err
	}
	return c.ReadMessage(nil)
}

// Example_plain is the README's PLAIN example: a password file read by the
// authenticator, an address allow list, and a client that logs in.
func Example_plain() {
	dir, err := os.MkdirTemp("", "zmtpsec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	passwords := filepath.Join(dir, "passwords")
	if err := os.WriteFile(passwords, []byte("admin=secret\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	auth := zap.NewAuthenticator()
	defer auth.Close()
	// CZMQ's format, one name=password a line; reloaded within a second.
	if err := auth.ConfigurePlainFile("*", passwords); err != nil {
		log.Fatal(err)
	}
	// Or Deny; addresses and CIDR ranges.
	if err := auth.Allow("127.0.0.1", "10.0.0.0/8"); err != nil {
		log.Fatal(err)
	}
	server := &transport.Config{Mechanism: mechanism.PlainServer(), SocketType: zmtp.REP, ZAPHandler: auth}

	plain, err := mechanism.PlainClient("admin", "secret")
	if err != nil {
		log.Fatal(err)
	}
	client := &transport.Config{Mechanism: plain, SocketType: zmtp.REQ}

	l, err := transport.Listen("tcp://127.0.0.1:0", server)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go serve(l)
	c, err := transport.Dial(l.Endpoint(), client)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage([][]byte{[]byte("ping")}); err != nil {
		log.Fatal(err)
	}
	reply, err := c.ReadMessage(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q over %s\n", reply, c.ConnectionState().Mechanism)
	// Output: ["ping"] over PLAIN
}

// writeCertificate writes a new certificate pair NAME.key and
// NAME.key_secret into dir, as curvekeygen -cert NAME -dir DIR does.
func writeCertificate(dir, name string) {
	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	c := &cert.Certificate{Public: kp.Public, Secret: &kp.Secret}
	if _, _, err := c.Save(dir, name, cert.LayoutPyzmq, nil); err != nil {
		log.Fatal(err)
	}
}
