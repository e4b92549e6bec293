package transport

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// badConfigs are configurations that can never work, or that would be
// silently ignored, with a word their error must contain.
var badConfigs = []struct {
	name string
	cfg  *Config
	want string
}{
	{"nil", nil, "nil Config"},
	{"no socket type", &Config{}, "no SocketType"},
	{"lower-case socket type", &Config{SocketType: "dealer"}, `unknown SocketType "dealer"`},
	{"identity with zero byte", &Config{SocketType: zmtp.DEALER, Identity: []byte{0, 1}}, "zero byte"},
	{"long identity", &Config{SocketType: zmtp.DEALER, Identity: make([]byte, 256)}, "Identity of 256 bytes"},
	{"bad metadata name", &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: "bad name"}}}, "Metadata"},
	{"metadata Socket-Type", &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: "socket-type", Value: []byte("PUB")}}}, `"socket-type": set Config.SocketType`},
	{"metadata twice", &Config{SocketType: zmtp.DEALER, Metadata: zmtp.Metadata{{Name: "X-A"}, {Name: "x-a"}}}, "twice"},
	{"long domain", &Config{SocketType: zmtp.DEALER, ZAPDomain: strings.Repeat("d", 256)}, "ZAPDomain of 256 bytes"},
	{"PLAIN server without ZAP", &Config{SocketType: zmtp.ROUTER, Mechanism: mechanism.PlainServer()}, "PLAIN server needs a ZAPHandler"},
	{"NULL ZAP without domain", &Config{SocketType: zmtp.ROUTER, ZAPHandler: zapStatus(200, "OK")}, "only when ZAPDomain is set"},
	{"negative PreAuthMaxFrameSize", &Config{SocketType: zmtp.DEALER, PreAuthMaxFrameSize: -1}, "PreAuthMaxFrameSize is negative"},
	{"negative MaxMessageSize", &Config{SocketType: zmtp.DEALER, MaxMessageSize: -1}, "MaxMessageSize is negative"},
	{"negative MaxMessageBytes", &Config{SocketType: zmtp.DEALER, MaxMessageBytes: -1}, "MaxMessageBytes is negative"},
	{"negative HeartbeatInterval", &Config{SocketType: zmtp.DEALER, HeartbeatInterval: -time.Second}, "HeartbeatInterval is negative"},
	{"negative HeartbeatTimeout", &Config{SocketType: zmtp.DEALER, HeartbeatTimeout: -time.Second}, "HeartbeatTimeout is negative"},
	{"negative HeartbeatTTL", &Config{SocketType: zmtp.DEALER, HeartbeatTTL: -time.Second}, "HeartbeatTTL is negative"},
	{"HeartbeatTTL too long", &Config{SocketType: zmtp.DEALER, HeartbeatTTL: 2 * time.Hour}, "a PING carries at most"},
	{"negative BanAfterFailures", &Config{SocketType: zmtp.ROUTER, BanAfterFailures: -1}, "BanAfterFailures is negative"},
	{"negative BanWindow", &Config{SocketType: zmtp.ROUTER, BanWindow: -time.Second}, "BanWindow is negative"},
	{"negative BanDuration", &Config{SocketType: zmtp.ROUTER, BanDuration: -time.Second}, "BanDuration is negative"},
}

// TestConfigValidation: a Conn made with Client checks its Config when the
// handshake starts, before any I/O.
func TestConfigValidation(t *testing.T) {
	for _, tt := range badConfigs {
		want := tt.want
		if tt.cfg == nil {
			want = "no SocketType" // Client and Server take nil as the zero Config
		}
		a, b := net.Pipe()
		err := Client(a, tt.cfg).Handshake()
		b.Close()
		var he *HandshakeError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &he) || he.Step != StepConfig || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want ErrConfig in StepConfig saying %q", tt.name, err, want)
		}
	}
}

// TestConfigValidatedUpFront: Listen, NewListener, Dial and DialContext
// refuse a Config that can never work at once, before binding or
// dialing, with an error that matches ErrConfig and says what is wrong.
func TestConfigValidatedUpFront(t *testing.T) {
	// A listener that counts connections: Dial must not connect.
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	accepted := make(chan struct{}, 64)
	go func() {
		for {
			c, err := nl.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	ep := "tcp://" + nl.Addr().String()
	check := func(what, name string, err error, want string) {
		t.Helper()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s(%s): err = %v, want ErrConfig saying %q", what, name, err, want)
		}
		if n := strings.Count(err.Error(), "transport: "); n != 1 {
			t.Errorf("%s(%s): %q says the prefix %d times", what, name, err, n)
		}
	}
	for _, tt := range badConfigs {
		l, err := Listen("tcp://127.0.0.1:0", tt.cfg)
		if l != nil {
			l.Close()
		}
		check("Listen", tt.name, err, tt.want)
		nl2, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err = NewListener(nl2, tt.cfg)
		if l != nil {
			l.Close()
		}
		nl2.Close()
		check("NewListener", tt.name, err, tt.want)
		c, err := Dial(ep, tt.cfg)
		if c != nil {
			c.Close()
		}
		check("Dial", tt.name, err, tt.want)
		c, err = DialContext(context.Background(), ep, tt.cfg)
		if c != nil {
			c.Close()
		}
		check("DialContext", tt.name, err, tt.want)
	}
	select {
	case <-accepted:
		t.Error("Dial connected with a bad Config")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestConfigValidGoodOnes: configurations that work are not refused, among
// them the ones next to the refused ones.
func TestConfigValidGoodOnes(t *testing.T) {
	for _, cfg := range []*Config{
		{SocketType: zmtp.ROUTER, Mechanism: mechanism.PlainServer(), ZAPHandler: zapStatus(200, "OK")},
		{SocketType: zmtp.ROUTER, ZAPHandler: zapStatus(200, "OK"), ZAPDomain: "global"},
		{SocketType: zmtp.ROUTER, ZAPDomain: "global"},
		{SocketType: zmtp.PUB, Identity: []byte("server")}, // given to ZAP as libzmq does
		{SocketType: zmtp.DEALER, HandshakeTimeout: -1, MaxHandshakes: -1, MaxConns: -1, MaxMessageFrames: -1, MaxMetadataProperties: -1},
		{SocketType: zmtp.DEALER, HeartbeatTTL: maxHeartbeatTTL, Metadata: zmtp.Metadata{{Name: "X-A"}, {Name: "User-Id"}}},
	} {
		if err := cfg.validate(); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
