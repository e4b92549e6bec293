package transport_test

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ExampleConfig_limits configures a server's admission limits and its audit
// trail: every handshake's outcome goes to OnHandshake (here, printed) and
// to a structured log.
func ExampleConfig_limits() {
	cfg := &transport.Config{
		SocketType:       zmtp.ROUTER,
		HandshakeTimeout: 5 * time.Second,
		// At most 256 handshakes at once; more wait in the backlog.
		MaxHandshakes: 256,
		// At most 16 at once from one address; more are refused.
		MaxHandshakesPerAddress: 16,
		MaxConns:                10_000,
		// Ban an address for an hour after 5 failures within 10 minutes.
		BanAfterFailures: 5,
		BanWindow:        10 * time.Minute,
		BanDuration:      time.Hour,
		OnHandshake: func(ev transport.HandshakeEvent) {
			if ev.Server {
				fmt.Println("server:", ev.Outcome, ev.Mechanism)
			}
		},
		AuditLogger: slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
	l, err := transport.Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			log.Print(err)
			return
		}
		defer c.Close()
		if err := c.Handshake(); err != nil {
			log.Print(err)
		}
	}()
	c, err := transport.Dial(l.Endpoint(), &transport.Config{SocketType: zmtp.DEALER})
	if err != nil {
		log.Fatal(err)
	}
	<-done // the server's handshake has ended and been reported
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}
	// Output: server: succeeded NULL
}
