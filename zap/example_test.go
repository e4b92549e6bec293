package zap_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/zap"
)

// plainRequest is the request a PLAIN server makes for a client.
func plainRequest(domain, user, password string) *zap.Request {
	return &zap.Request{
		Version:     zap.Version,
		RequestID:   []byte("1"),
		Domain:      domain,
		Address:     "192.0.2.7",
		Mechanism:   "PLAIN",
		Credentials: [][]byte{[]byte(user), []byte(password)},
	}
}

func ExampleAuthenticator_ConfigurePlain() {
	a := zap.NewAuthenticator()
	// "*" serves every domain that has no configuration of its own.
	a.ConfigurePlain("*", map[string]string{"admin": "secret"})
	if err := a.Allow("192.0.2.0/24", "2001:db8::/32"); err != nil {
		log.Fatal(err)
	}

	for _, pw := range []string{"secret", "guess"} {
		rep, _ := a.Authenticate(context.Background(), plainRequest("", "admin", pw))
		fmt.Printf("%s %q user-id=%q\n", rep.StatusCode, rep.StatusText, rep.UserID)
	}
	// Output:
	// 200 "OK" user-id="admin"
	// 400 "Invalid password" user-id=""
}

func ExampleAuthenticator_ConfigurePlainFile() {
	dir, err := os.MkdirTemp("", "zap")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "passwords")
	if err := os.WriteFile(path, []byte("# name=password\nadmin=secret\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	a := zap.NewAuthenticator()
	defer a.Close() // stops the goroutine that follows the file
	if err := a.ConfigurePlainFile("*", path); err != nil {
		log.Fatal(err)
	}
	rep, _ := a.Authenticate(context.Background(), plainRequest("", "alice", "wonderland"))
	fmt.Println(rep.StatusCode, rep.StatusText)

	// A new file renamed over the old one counts within a reload interval
	// (1 s by default), or at once after Reload.
	tmp := filepath.Join(dir, ".passwords.new")
	if err := os.WriteFile(tmp, []byte("admin=secret\nalice=wonderland\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		log.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		log.Fatal(err)
	}
	rep, _ = a.Authenticate(context.Background(), plainRequest("", "alice", "wonderland"))
	fmt.Println(rep.StatusCode, rep.StatusText, rep.UserID)
	// Output:
	// 400 Invalid username
	// 200 OK alice
}

func ExampleAuthenticator_ConfigureCurve() {
	dir, err := os.MkdirTemp("", "certs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A client certificate; a fixed reader makes the key reproducible.
	client, err := cert.GenerateKeyPair(bytes.NewReader(bytes.Repeat([]byte{0x42}, 32)))
	if err != nil {
		log.Fatal(err)
	}
	c := &cert.Certificate{Public: client.Public, Metadata: []cert.MetadataEntry{{Name: "X-Role", Value: "reader"}}}
	if _, _, err := c.Save(dir, "client", cert.LayoutCZMQ, nil); err != nil {
		log.Fatal(err)
	}

	a := zap.NewAuthenticator()
	defer a.Close() // stops the goroutine that follows the directory
	if err := a.ConfigureCurve("*", dir); err != nil {
		log.Fatal(err)
	}
	// In the domain "open", any key will do.
	if err := a.ConfigureCurve("open", zap.CurveAllowAny); err != nil {
		log.Fatal(err)
	}

	stranger := cert.PublicKey{1, 2, 3}
	for _, r := range []struct {
		domain string
		key    cert.PublicKey
	}{{"", client.Public}, {"", stranger}, {"open", stranger}} {
		rep, _ := a.Authenticate(context.Background(), &zap.Request{
			Version:     zap.Version,
			RequestID:   []byte("1"),
			Domain:      r.domain,
			Address:     "2001:db8::7",
			Mechanism:   "CURVE",
			Credentials: [][]byte{r.key[:]},
		})
		fmt.Printf("%s %q user-id=%q", rep.StatusCode, rep.StatusText, rep.UserID)
		for _, p := range rep.Metadata {
			fmt.Printf(" %s=%q", p.Name, p.Value)
		}
		fmt.Println()
	}
	// Output:
	// 200 "OK" user-id="6d=K4&1k!oESw*Ld5}ENai.L$i<6S&c^+UUNuNn-" X-Role="reader"
	// 400 "Unknown key" user-id=""
	// 200 "OK" user-id="0rJu600000000000000000000000000000000000"
}

// ExampleAuthenticator_ConfigureGSSAPIPrincipals lets into every domain
// only two Kerberos principals, which the GSSAPI mechanism authenticated,
// and gives them their user name, without the realm, as user id.
func ExampleAuthenticator_ConfigureGSSAPIPrincipals() {
	a := zap.NewAuthenticator()
	a.ConfigureGSSAPIPrincipals("*", "alice@ZMTP.TEST", "bob@ZMTP.TEST")
	a.SetGSSAPIUserID(func(principal string) string {
		user, _, _ := strings.Cut(principal, "@")
		return user
	})

	for _, principal := range []string{"alice@ZMTP.TEST", "Alice@ZMTP.TEST", "mallory@ZMTP.TEST"} {
		rep, _ := a.Authenticate(context.Background(), &zap.Request{
			Version:     zap.Version,
			RequestID:   []byte("1"),
			Address:     "192.0.2.7",
			Mechanism:   "GSSAPI",
			Credentials: [][]byte{[]byte(principal)},
		})
		fmt.Printf("%s: %s %q user-id=%q\n", principal, rep.StatusCode, rep.StatusText, rep.UserID)
	}
	// Output:
	// alice@ZMTP.TEST: 200 "OK" user-id="alice"
	// Alice@ZMTP.TEST: 400 "Unknown principal" user-id=""
	// mallory@ZMTP.TEST: 400 "Unknown principal" user-id=""
}
