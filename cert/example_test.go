package cert_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
)

func ExampleGenerateKeyPair() {
	// A fixed reader makes the key pair reproducible; pass nil in real use.
	kp, err := cert.GenerateKeyPair(bytes.NewReader(bytes.Repeat([]byte{0x42}, 32)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("public:", kp.Public)
	fmt.Println("secret:", kp.Secret)
	fmt.Println("secret, on purpose:", kp.Secret.Z85())
	// Output:
	// public: 6d=K4&1k!oESw*Ld5}ENai.L$i<6S&c^+UUNuNn-
	// secret: cert.SecretKey(REDACTED)
	// secret, on purpose: lpa19lpa19lpa19lpa19lpa19lpa19lpa19lpa19
}

func ExampleLoadCertificate() {
	// testdata/czmq/client_secret exists, so it is read instead, and the
	// secret key comes along.
	c, err := cert.LoadCertificate("testdata/czmq/client")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read:", filepath.ToSlash(c.Path))
	fmt.Println("public key:", c.Public)
	fmt.Println("has secret key:", c.Secret != nil)
	for _, m := range c.Metadata {
		fmt.Printf("%s = %q\n", m.Name, m.Value)
	}
	// Output:
	// read: testdata/czmq/client_secret
	// public key: Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID
	// has secret key: true
	// name = "example-client"
	// email = "client@example.invalid"
	// organization = "O'Example # Ltd"
}

func ExampleCertificate_MarshalPublic() {
	pub, err := cert.ParsePublicKey("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
	if err != nil {
		log.Fatal(err)
	}
	c := &cert.Certificate{
		Public:   pub,
		Metadata: []cert.MetadataEntry{{Name: "name", Value: "example-server"}},
	}
	data, err := c.MarshalPublic(cert.LayoutCZMQ, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(data)
	// Output:
	// #   ****  Generated on 2025-01-02 03:04:05 by CZMQ  ****
	// #   ZeroMQ CURVE Public Certificate
	// #   Exchange securely, or use a secure mechanism to verify the contents
	// #   of this file after exchange. Store public certificates in your home
	// #   directory, in the .curve subdirectory.
	//
	// metadata
	//     name = "example-server"
	// curve
	//     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
}

func ExampleCertificate_Save() {
	dir, err := os.MkdirTemp("", "certs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	c := &cert.Certificate{
		Public:   kp.Public,
		Secret:   &kp.Secret,
		Metadata: []cert.MetadataEntry{{Name: "name", Value: "client"}},
	}
	pubPath, secPath, err := c.Save(dir, "client", cert.LayoutPyzmq, nil)
	if err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(secPath)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(pubPath), filepath.Base(secPath), fi.Mode().Perm())
	// Output: client.key client.key_secret -rw-------
}

func ExampleStore() {
	store := cert.NewStore("testdata/pyzmq")
	// Refresh loads the directory; call it again to pick up changes.
	if _, err := store.Refresh(); err != nil {
		log.Fatal(err)
	}
	for _, c := range store.Certificates() {
		name, _ := c.Meta("name")
		fmt.Printf("%s %q\n", filepath.Base(c.Path), name)
	}
	// Output:
	// client.key_secret "example-client"
	// server.key_secret ""
}

func ExampleCertificate_KeyPair() {
	c, err := cert.LoadCertificate("testdata/czmq/server")
	if err != nil {
		log.Fatal(err)
	}
	kp, err := c.KeyPair() // fails with cert.ErrNoSecretKey for a public certificate
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server public key:", kp.Public)

	// A public certificate alone has no key pair.
	data, err := os.ReadFile("testdata/czmq/server")
	if err != nil {
		log.Fatal(err)
	}
	pub, err := cert.ParseCertificate(data)
	if err != nil {
		log.Fatal(err)
	}
	_, err = pub.KeyPair()
	fmt.Println(errors.Is(err, cert.ErrNoSecretKey))
	// Output:
	// server public key: SqgX0Rw<U6SXTof2Id43mb96?aCzGA}sELDCR#iZ
	// true
}
