package transport_test

import (
	"fmt"
	"log"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ExampleListen runs a ROUTER-style server that answers one message, and a
// DEALER client that sends it.
func ExampleListen() {
	l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{SocketType: zmtp.ROUTER})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept() // returns before the handshake
		if err != nil {
			log.Print(err)
			return
		}
		defer c.Close()
		msg, err := c.ReadMessage(nil) // runs the handshake, then reads
		if err != nil {
			log.Print(err)
			return
		}
		st := c.ConnectionState()
		fmt.Printf("server: %s from a %s peer with identity %q\n", msg[0], st.PeerSocketType, st.PeerIdentity)
		if err := c.WriteMessage([][]byte{[]byte("world")}); err != nil {
			log.Print(err)
		}
	}()

	c, err := transport.Dial(l.Endpoint(), &transport.Config{SocketType: zmtp.DEALER, Identity: []byte("client-1")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage([][]byte{[]byte("hello")}); err != nil {
		log.Fatal(err)
	}
	reply, err := c.ReadMessage(nil)
	if err != nil {
		log.Fatal(err)
	}
	<-done
	fmt.Printf("client: %s\n", reply[0])
	// Output:
	// server: hello from a DEALER peer with identity "client-1"
	// client: world
}

// ExampleDial connects, handshakes and exchanges a multipart message. The
// ConnectionState shows what the handshake established.
func ExampleDial() {
	l, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{SocketType: zmtp.REP})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			log.Print(err)
			return
		}
		defer c.Close()
		// Echo one request back.
		msg, err := c.ReadMessage(nil)
		if err != nil {
			log.Print(err)
			return
		}
		if err := c.WriteMessage(msg); err != nil {
			log.Print(err)
		}
	}()

	c, err := transport.Dial(l.Endpoint(), &transport.Config{SocketType: zmtp.REQ})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	fmt.Printf("ZMTP %d.%d, mechanism %s, peer %s\n", st.PeerMajor, st.PeerMinor, st.Mechanism, st.PeerSocketType)

	// A REQ request is an empty delimiter frame, then the body.
	if err := c.WriteMessage([][]byte{{}, []byte("ping")}); err != nil {
		log.Fatal(err)
	}
	reply, err := c.ReadMessage(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d frames: %q %q\n", len(reply), reply[0], reply[1])
	// Output:
	// ZMTP 3.1, mechanism NULL, peer REP
	// 2 frames: "" "ping"
}
