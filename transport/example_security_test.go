package transport_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// served is what serveOne saw: a line to print, or the error that ended
// the connection.
type served struct {
	line string
	err  error
}

// serveOne accepts one connection on l, runs its handshake and reads one
// message, and reports what it saw on the channel.
func serveOne(l *transport.Listener) <-chan served {
	out := make(chan served, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			out <- served{err: err}
			return
		}
		defer c.Close()
		msg, err := c.ReadMessage(nil) // runs the handshake first
		if err != nil {
			out <- served{err: err}
			return
		}
		st := c.ConnectionState()
		out <- served{line: fmt.Sprintf("server: %q from %s, user id %q", msg[0], st.PeerAddress, st.UserID)}
	}()
	return out
}

// printServed prints what the server saw. A refusal by ZAP is a
// *mechanism.AuthError with the handler's status text, for the server's
// own log (the client sees only the status).
func printServed(s served) {
	var ae *mechanism.AuthError
	switch {
	case s.err == nil:
		fmt.Println(s.line)
	case errors.As(s.err, &ae):
		fmt.Printf("server: refused the client with ZAP status %d, %q\n", ae.Status, ae.Text)
	default:
		log.Fatal(s.err)
	}
}

// Example_curveWithAuthenticator runs a CURVE server that lets in the
// clients whose public certificates are in a directory, as CZMQ's zauth
// and pyzmq's ThreadAuthenticator do: a known client gets in, a stranger
// is refused with ZAP status 400.
func Example_curveWithAuthenticator() {
	serverKeys, err := cert.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	clientKeys, err := cert.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}

	// The server's directory of allowed clients holds their public
	// certificates.
	dir, err := os.MkdirTemp("", "clients")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	public := &cert.Certificate{Public: clientKeys.Public}
	if _, _, err := public.Save(dir, "client", cert.LayoutCZMQ, nil); err != nil {
		log.Fatal(err)
	}

	auth := zap.NewAuthenticator()
	defer auth.Close()
	if err := auth.ConfigureCurve("*", dir); err != nil {
		log.Fatal(err)
	}
	// Name authenticated clients by their key's Z85 text (the default)
	// or, as here, by a name of our own.
	auth.SetCurveUserID(func(k cert.PublicKey) string {
		if k == clientKeys.Public {
			return "client"
		}
		return ""
	})

	serverMech, err := mechanism.CurveServer(serverKeys)
	if err != nil {
		log.Fatal(err)
	}
	l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{
		Mechanism:  serverMech,
		SocketType: zmtp.ROUTER,
		ZAPHandler: auth,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	// A client whose certificate is in the directory.
	served := serveOne(l)
	clientMech, err := mechanism.CurveClient(serverKeys.Public, clientKeys)
	if err != nil {
		log.Fatal(err)
	}
	c, err := transport.Dial(l.Endpoint(), &transport.Config{Mechanism: clientMech, SocketType: zmtp.DEALER})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WriteMessage([][]byte{[]byte("hello")}); err != nil {
		log.Fatal(err)
	}
	printServed(<-served)
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}

	// A stranger, whose key the server does not know.
	served = serveOne(l)
	strangerKeys, err := cert.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	strangerMech, err := mechanism.CurveClient(serverKeys.Public, strangerKeys)
	if err != nil {
		log.Fatal(err)
	}
	_, err = transport.Dial(l.Endpoint(), &transport.Config{Mechanism: strangerMech, SocketType: zmtp.DEALER})
	var refused *transport.ServerRefusedError
	if !errors.As(err, &refused) {
		log.Fatalf("stranger: %v, want a refusal", err)
	}
	fmt.Println("stranger: refused with ZAP status", refused.Status)
	printServed(<-served)
	// Output:
	// server: "hello" from 127.0.0.1, user id "client"
	// stranger: refused with ZAP status 400
	// server: refused the client with ZAP status 400, "Unknown key"
}

// Example_plainWithAuthenticator runs a PLAIN server whose ZAP handler is an
// Authenticator with a user list. PLAIN sends the password in clear text:
// use it only on a network you trust, or inside a tunnel.
func Example_plainWithAuthenticator() {
	auth := zap.NewAuthenticator()
	defer auth.Close()
	auth.ConfigurePlain("*", map[string]string{"admin": "secret"})

	l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{
		Mechanism:  mechanism.PlainServer(),
		SocketType: zmtp.ROUTER,
		ZAPHandler: auth,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	dial := func(user, password string) (*transport.Conn, error) {
		m, err := mechanism.PlainClient(user, password)
		if err != nil {
			return nil, err
		}
		return transport.Dial(l.Endpoint(), &transport.Config{Mechanism: m, SocketType: zmtp.DEALER})
	}

	served := serveOne(l)
	c, err := dial("admin", "secret")
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WriteMessage([][]byte{[]byte("hello")}); err != nil {
		log.Fatal(err)
	}
	printServed(<-served)
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}

	served = serveOne(l)
	_, err = dial("admin", "guess")
	var refused *transport.ServerRefusedError
	if !errors.As(err, &refused) {
		log.Fatalf("wrong password: %v, want a refusal", err)
	}
	fmt.Println("client:", err)
	printServed(<-served)
	// Output:
	// server: "hello" from 127.0.0.1, user id "admin"
	// client: transport: handshake failed in authentication: the server refused our credentials (ZAP status 400): check the username and password
	// server: refused the client with ZAP status 400, "Invalid password"
}

// ExampleConfig_verifyConnection checks the server once the handshake is
// done: here the client wants a server that says it is the primary in its
// metadata. A refusal fails the handshake in StepVerify.
func ExampleConfig_verifyConnection() {
	for _, role := range []string{"primary", "replica"} {
		l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{
			SocketType: zmtp.ROUTER,
			Metadata:   zmtp.Metadata{{Name: "X-Role", Value: []byte(role)}},
		})
		if err != nil {
			log.Fatal(err)
		}
		served := serveOne(l)
		c, err := transport.Dial(l.Endpoint(), &transport.Config{
			SocketType: zmtp.DEALER,
			VerifyConnection: func(st transport.ConnectionState) error {
				if r, _ := st.Property("X-Role"); string(r) != "primary" {
					return fmt.Errorf("server is a %q, want the primary", r)
				}
				return nil
			},
		})
		var he *transport.HandshakeError
		switch {
		case err == nil:
			fmt.Println("connected to the", role)
			if err := c.WriteMessage([][]byte{[]byte("hi")}); err != nil {
				log.Fatal(err)
			}
			if err := c.Close(); err != nil {
				log.Fatal(err)
			}
		case errors.As(err, &he) && he.Step == transport.StepVerify:
			fmt.Println(err)
		default:
			log.Fatal(err)
		}
		if s := <-served; s.err != nil && !errors.Is(s.err, io.EOF) && !errors.Is(s.err, transport.ErrPeerClosed) {
			log.Fatal(s.err)
		}
		if err := l.Close(); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// connected to the primary
	// transport: handshake failed in VerifyConnection: server is a "replica", want the primary
}

// ExampleDialer dials from a given source address, with a Dialer's
// LocalAddr or with libzmq's "tcp://SOURCE;DESTINATION" endpoint. (On
// Linux every 127.0.0.0/8 address is the loopback interface's.)
func ExampleDialer() {
	l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{SocketType: zmtp.ROUTER})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	cfg := &transport.Config{SocketType: zmtp.DEALER}

	d := &transport.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
		Config:    cfg,
	}
	for _, dial := range []func() (*transport.Conn, error){
		func() (*transport.Conn, error) { return d.Dial(l.Endpoint()) },
		func() (*transport.Conn, error) { return transport.Dial("tcp://127.0.0.3;"+l.Addr().String(), cfg) },
	} {
		served := serveOne(l)
		c, err := dial()
		if err != nil {
			log.Fatal(err)
		}
		if err := c.WriteMessage([][]byte{[]byte("hi")}); err != nil {
			log.Fatal(err)
		}
		printServed(<-served)
		if err := c.Close(); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// server: "hi" from 127.0.0.2, user id ""
	// server: "hi" from 127.0.0.3, user id ""
}
