package socket_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The tests of the "Bad input and misuse": options that cannot
// work are refused by New, Bind and Connect (never at the first
// connection), a closed socket says so with ErrClosed, Close releases
// blocked callers, and each type refuses what it cannot do.

// allTypes are the eleven socket types.
var allTypes = []zmtp.SocketType{
	zmtp.PAIR, zmtp.PUB, zmtp.SUB, zmtp.XPUB, zmtp.XSUB, zmtp.REQ, zmtp.REP,
	zmtp.DEALER, zmtp.ROUTER, zmtp.PUSH, zmtp.PULL,
}

func TestNewRefusesOptions(t *testing.T) {
	plainServer := mechanism.PlainServer()
	allow := zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: zap.StatusOK}, nil
	})
	tests := []struct {
		name   string
		typ    zmtp.SocketType
		opts   socket.Options
		option string // the *OptionError's Option; "" for a transport.ErrConfig
	}{
		{"unknown type", "FOO", socket.Options{}, "socket type"},
		{"lower-case type", "dealer", socket.Options{}, "socket type"},
		{"Config.SocketType of another type", zmtp.DEALER, socket.Options{Config: transport.Config{SocketType: zmtp.ROUTER}}, "Config.SocketType"},
		{"Config.SocketType unknown", zmtp.DEALER, socket.Options{Config: transport.Config{SocketType: "BOGUS"}}, "Config.SocketType"},
		{"ReconnectIntervalMax negative", zmtp.PUSH, socket.Options{ReconnectIntervalMax: -time.Second}, "ReconnectIntervalMax"},
		{"RouterMandatory on DEALER", zmtp.DEALER, socket.Options{RouterMandatory: true}, "RouterMandatory"},
		{"RouterHandover on REQ", zmtp.REQ, socket.Options{RouterHandover: true}, "RouterHandover"},
		{"ProbeRouter on PUSH", zmtp.PUSH, socket.Options{ProbeRouter: true}, "ProbeRouter"},
		{"ProbeRouter on REP", zmtp.REP, socket.Options{ProbeRouter: true}, "ProbeRouter"},
		{"ReqCorrelate on REP", zmtp.REP, socket.Options{ReqCorrelate: true}, "ReqCorrelate"},
		{"ReqRelaxed on DEALER", zmtp.DEALER, socket.Options{ReqRelaxed: true}, "ReqRelaxed"},
		{"XPubVerbose on PUSH", zmtp.PUSH, socket.Options{XPubVerbose: true}, "XPubVerbose"},
		{"XPubVerboser on REP", zmtp.REP, socket.Options{XPubVerboser: true}, "XPubVerboser"},
		{"XPubNoDrop on PULL", zmtp.PULL, socket.Options{XPubNoDrop: true}, "XPubNoDrop"},
		{"XPubManual on PAIR", zmtp.PAIR, socket.Options{XPubManual: true}, "XPubManual"},
		{"XPubWelcome on ROUTER", zmtp.ROUTER, socket.Options{XPubWelcome: []byte("hi")}, "XPubWelcome"},
		{"InvertMatching on DEALER", zmtp.DEALER, socket.Options{InvertMatching: true}, "InvertMatching"},
		{"Identity starting with a zero byte", zmtp.DEALER, socket.Options{Config: transport.Config{Identity: []byte{0, 1}}}, ""},
		{"Identity of 256 bytes", zmtp.DEALER, socket.Options{Config: transport.Config{Identity: []byte(strings.Repeat("x", 256))}}, ""},
		{"PLAIN server without ZAP handler", zmtp.ROUTER, socket.Options{Config: transport.Config{Mechanism: plainServer}}, ""},
		{"NULL ZAP handler without domain", zmtp.ROUTER, socket.Options{Config: transport.Config{ZAPHandler: allow}}, ""},
		{"negative MaxMessageSize", zmtp.PULL, socket.Options{Config: transport.Config{MaxMessageSize: -1}}, ""},
		{"negative HeartbeatInterval", zmtp.PAIR, socket.Options{Config: transport.Config{HeartbeatInterval: -time.Second}}, ""},
		{"Metadata setting Socket-Type", zmtp.PUSH, socket.Options{Config: transport.Config{Metadata: zmtp.Metadata{{Name: "Socket-Type", Value: []byte("PULL")}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := socket.New(tt.typ, &tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if s != nil {
				t.Errorf("New returned a socket with the error %v", err)
			}
			var oe *socket.OptionError
			if tt.option == "" {
				if !errors.Is(err, transport.ErrConfig) {
					t.Fatalf("New: %v, want an error wrapping transport.ErrConfig", err)
				}
				if errors.As(err, &oe) {
					t.Errorf("New: %v is also an *OptionError", err)
				}
				return
			}
			if !errors.As(err, &oe) {
				t.Fatalf("New: %v (%T), want an *OptionError", err, err)
			}
			if oe.Option != tt.option {
				t.Errorf("OptionError.Option = %q, want %q (%v)", oe.Option, tt.option, err)
			}
			if !strings.HasPrefix(err.Error(), "socket: ") {
				t.Errorf("error %q does not start with \"socket: \"", err)
			}
		})
	}
}

// TestNewAcceptsOptions: the options of the table above on the types they
// are for, and a Config.SocketType equal to the socket's, are fine.
func TestNewAcceptsOptions(t *testing.T) {
	tests := []struct {
		typ  zmtp.SocketType
		opts socket.Options
	}{
		{zmtp.DEALER, socket.Options{Config: transport.Config{SocketType: zmtp.DEALER, Identity: []byte("me")}}},
		{zmtp.ROUTER, socket.Options{RouterMandatory: true, RouterHandover: true, ProbeRouter: true}},
		{zmtp.DEALER, socket.Options{ProbeRouter: true}},
		{zmtp.REQ, socket.Options{ReqCorrelate: true, ReqRelaxed: true, ProbeRouter: true}},
		{zmtp.PUSH, socket.Options{SendHWM: -1, RecvHWM: 5, Linger: -1, ReconnectInterval: -1, ReconnectIntervalMax: time.Second}},
	}
	for _, tt := range tests {
		s, err := socket.New(tt.typ, &tt.opts)
		if err != nil {
			t.Errorf("New(%s, %+v): %v", tt.typ, tt.opts, err)
			continue
		}
		if s.Type() != tt.typ {
			t.Errorf("Type() = %s, want %s", s.Type(), tt.typ)
		}
		s.Close()
	}
}

func TestBindRefuses(t *testing.T) {
	for _, ep := range []string{
		"",
		"tcp://",
		"tcp://127.0.0.1",          // no port
		"127.0.0.1:5555",           // no scheme
		"udp://127.0.0.1:5555",     // unsupported transport
		"tcp://127.0.0.1:99999",    // port out of range
		"tcp://127.0.0.1:notaport", // not a number
		"tcp://127.0.0.1:0;127.0.0.1:5555",
		"ipc://",
	} {
		t.Run(ep, func(t *testing.T) {
			ev := newEvents()
			s := newSocket(t, zmtp.PULL, &socket.Options{Events: ev})
			err := s.Bind(ep)
			if err == nil {
				t.Fatalf("Bind(%q) succeeded (LastEndpoint %q)", ep, s.LastEndpoint())
			}
			e := waitKind(t, ev, socket.EventBindFailed)
			if e.Err == nil || e.Err.Error() != err.Error() {
				t.Errorf("EventBindFailed Err %v, want Bind's %v", e.Err, err)
			}
			if got := s.LastEndpoint(); got != "" {
				t.Errorf("LastEndpoint %q after a failed Bind", got)
			}
			// The socket is still usable.
			bind(t, s)
		})
	}
}

func TestBindPortInUse(t *testing.T) {
	ev := newEvents()
	first := newSocket(t, zmtp.PULL, nil)
	ep := bind(t, first)
	s := newSocket(t, zmtp.PULL, &socket.Options{Events: ev})
	err := s.Bind(ep)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Bind(%s) on a port in use: %v, want EADDRINUSE", ep, err)
	}
	e := waitKind(t, ev, socket.EventBindFailed)
	if !errors.Is(e.Err, syscall.EADDRINUSE) {
		t.Errorf("EventBindFailed Err %v, want EADDRINUSE", e.Err)
	}
	if e.Endpoint != ep {
		t.Errorf("EventBindFailed Endpoint %q, want %q", e.Endpoint, ep)
	}
	// The first socket still works on it.
	push := newSocket(t, zmtp.PUSH, nil)
	connect(t, push, ep)
	send(t, push, "still there")
	recv(t, first, "still there")
}

func TestConnectRefuses(t *testing.T) {
	for _, ep := range []string{
		"",
		"tcp://",
		"tcp://127.0.0.1", // no port
		"tcp://127.0.0.1:*",
		"tcp://127.0.0.1:0",
		"tcp://127.0.0.1:",
		"127.0.0.1:5555",
		"udp://127.0.0.1:5555",
		"ipc://",
		"tcp://127.0.0.1:99999",         // port out of range: no dial can work
		"tcp://127.0.0.1:notaport",      // libzmq takes numeric ports only
		"tcp://eth0;127.0.0.1:5555",     // source by interface name: not supported
		"tcp://127.0.0.1:x;127.0.0.1:5", // bad source port
	} {
		t.Run(ep, func(t *testing.T) {
			ev := newEvents()
			s := newSocket(t, zmtp.PUSH, &socket.Options{Events: ev, Linger: -1})
			base := s.LastEndpoint()
			if err := s.Connect(ep); err == nil {
				// Let the background connect show what it makes of it.
				time.Sleep(100 * time.Millisecond)
				var seen []string
				for len(ev) > 0 {
					seen = append(seen, (<-ev).String())
				}
				t.Fatalf("Connect(%q) succeeded; the error comes at each attempt instead: %q", ep, seen)
			}
			if got := s.LastEndpoint(); got != base {
				t.Errorf("LastEndpoint %q after a failed Connect", got)
			}
			if len(ev) != 0 {
				t.Errorf("a refused Connect made events: %v", <-ev)
			}
		})
	}
}

// TestConnectAcceptsSource: a numeric source address is fine.
func TestConnectAcceptsSource(t *testing.T) {
	pull := newSocket(t, zmtp.PULL, nil)
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, nil)
	for _, src := range []string{"127.0.0.1:0", "127.0.0.1"} {
		connect(t, push, "tcp://"+src+";"+strings.TrimPrefix(ep, "tcp://"))
	}
	waitPeers(t, pull, 2)
	send(t, push, "from a source address")
	recv(t, pull, "from a source address")
}

// TestClosedSocket: every method of a closed socket returns ErrClosed,
// which is net.ErrClosed too; Close again is fine.
func TestClosedSocket(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(string(typ), func(t *testing.T) {
			s, err := socket.New(typ, nil)
			if err != nil {
				t.Fatal(err)
			}
			ep := bind(t, s)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, socket.ErrClosed) || !errors.Is(err, net.ErrClosed) {
					t.Errorf("%s after Close: %v, want ErrClosed (net.ErrClosed)", what, err)
				}
			}
			check("Send", s.Send(ctxT(t), msg("x")))
			_, err = s.Recv(ctxT(t))
			check("Recv", err)
			check("Bind", s.Bind("tcp://127.0.0.1:*"))
			check("Connect", s.Connect(ep))
			check("Unbind", s.Unbind(ep))
			check("Disconnect", s.Disconnect(ep))
			if typ == zmtp.SUB {
				check("Subscribe", s.Subscribe([]byte("a")))
				check("Unsubscribe", s.Unsubscribe([]byte("a")))
			}
			for range 2 {
				if err := s.Close(); err != nil {
					t.Errorf("Close again: %v", err)
				}
			}
		})
	}
}

// TestCloseUnblocks: Close releases every goroutine blocked in Send (no
// peer to send to) or Recv (nothing to receive) with ErrClosed, well
// before their contexts end.
func TestCloseUnblocks(t *testing.T) {
	tests := []struct {
		typ           zmtp.SocketType
		senders, recv int
		setup         func(t *testing.T, s *socket.Socket)
	}{
		{typ: zmtp.PUSH, senders: 4},
		{typ: zmtp.PULL, recv: 4},
		{typ: zmtp.DEALER, senders: 4, recv: 4},
		{typ: zmtp.PAIR, senders: 2, recv: 2},
		{typ: zmtp.ROUTER, recv: 4},
		{typ: zmtp.REP, recv: 2},
		// A REQ waiting for a reply that does not come.
		{typ: zmtp.REQ, recv: 1, setup: func(t *testing.T, s *socket.Socket) {
			connect(t, s, freeEndpoint(t))
			send(t, s, "request")
		}},
		// A PUSH whose only peer's queue is full.
		{typ: zmtp.PUSH, senders: 3, setup: func(t *testing.T, s *socket.Socket) {
			connect(t, s, freeEndpoint(t))
			send(t, s, "fills the queue")
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			base := runtime.NumGoroutine()
			s, err := socket.New(tt.typ, &socket.Options{SendHWM: 1, Linger: -1})
			if err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*waitLong)
			defer cancel()
			errs := make(chan error, tt.senders+tt.recv)
			var started sync.WaitGroup
			for range tt.senders {
				started.Add(1)
				go func() {
					started.Done()
					errs <- s.Send(ctx, msg("blocked"))
				}()
			}
			for range tt.recv {
				started.Add(1)
				go func() {
					started.Done()
					_, err := s.Recv(ctx)
					errs <- err
				}()
			}
			started.Wait()
			time.Sleep(50 * time.Millisecond) // let them block (if they have not, they meet ErrClosed all the same)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for range tt.senders + tt.recv {
				err := <-errs // each returns by ctx's deadline at the latest
				if !errors.Is(err, socket.ErrClosed) {
					t.Errorf("blocked call after Close: %v, want ErrClosed", err)
				}
			}
			if ctx.Err() != nil {
				t.Errorf("blocked calls returned only when their context ended")
			}
			waitGoroutines(t, base)
		})
	}
}

// TestCloseConcurrent: Close from many goroutines at once returns nil in
// each, once the socket is closed.
func TestCloseConcurrent(t *testing.T) {
	pull := newSocket(t, zmtp.PULL, nil)
	ep := bind(t, pull)
	push := newSocket(t, zmtp.PUSH, nil)
	connect(t, push, ep)
	send(t, push, "x")
	recv(t, pull, "x")
	var wg sync.WaitGroup
	for _, s := range []*socket.Socket{push, pull} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if err := s.Send(ctxT(t), msg("x")); !errors.Is(err, socket.ErrClosed) {
					t.Errorf("Send after Close returned: %v", err)
				}
			}()
		}
	}
	wg.Wait()
}

// TestNotSupported: SUB and PULL cannot send, PUB and PUSH cannot receive
// (ErrNotSupported at once, with a peer or without); only a SUB
// subscribes with Subscribe.
func TestNotSupported(t *testing.T) {
	tests := []struct {
		typ, peer zmtp.SocketType
		op        string
	}{
		{zmtp.PULL, zmtp.PUSH, "Send"},
		{zmtp.PUSH, zmtp.PULL, "Recv"},
		{zmtp.SUB, zmtp.PUB, "Send"},
		{zmtp.PUB, zmtp.SUB, "Recv"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"."+tt.op, func(t *testing.T) {
			s := newSocket(t, tt.typ, nil)
			peer := newSocket(t, tt.peer, nil)
			for _, connected := range []bool{false, true} {
				if connected {
					connect(t, peer, bind(t, s))
					waitPeers(t, s, 1)
				}
				var err error
				if tt.op == "Send" {
					err = s.Send(ctxT(t), msg("x"))
				} else {
					_, err = s.Recv(ctxT(t))
				}
				if !errors.Is(err, socket.ErrNotSupported) {
					t.Errorf("%s on %s (connected %v): %v, want ErrNotSupported", tt.op, tt.typ, connected, err)
				}
			}
		})
	}
	// XSUB subscribes by sending, XPUB only with XPubManual.
	for _, typ := range allTypes {
		if typ == zmtp.SUB {
			continue
		}
		s := newSocket(t, typ, nil)
		if err := s.Subscribe([]byte("a")); !errors.Is(err, socket.ErrNotSupported) {
			t.Errorf("Subscribe on %s: %v, want ErrNotSupported", typ, err)
		}
		if err := s.Unsubscribe([]byte("a")); !errors.Is(err, socket.ErrNotSupported) {
			t.Errorf("Unsubscribe on %s: %v, want ErrNotSupported", typ, err)
		}
	}
}

func TestEmptyMessage(t *testing.T) {
	for _, typ := range []zmtp.SocketType{zmtp.PUSH, zmtp.DEALER, zmtp.PAIR} {
		s := newSocket(t, typ, nil)
		for _, m := range [][][]byte{nil, {}} {
			if err := s.Send(ctxT(t), m); !errors.Is(err, socket.ErrEmptyMessage) {
				t.Errorf("%s: Send(%#v): %v, want ErrEmptyMessage", typ, m, err)
			}
		}
	}
}

// TestReqRepState: REQ and REP refuse calls out of turn with ErrState,
// and the refusal changes nothing: the exchange goes on.
func TestReqRepState(t *testing.T) {
	rep := newSocket(t, zmtp.REP, nil)
	ep := bind(t, rep)
	req := newSocket(t, zmtp.REQ, nil)
	connect(t, req, ep)
	state := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, socket.ErrState) {
			t.Fatalf("%s: %v, want ErrState", what, err)
		}
	}
	for range 2 {
		_, err := req.Recv(ctxT(t))
		state("REQ Recv before a request", err)
		state("REP Send before a request", rep.Send(ctxT(t), msg("no")))
		send(t, req, "q")
		state("REQ Send while awaiting the reply", req.Send(ctxT(t), msg("q2")))
		recv(t, rep, "q")
		_, err = rep.Recv(ctxT(t))
		state("REP Recv while a reply is owed", err)
		send(t, rep, "a")
		state("REP Send of a second reply", rep.Send(ctxT(t), msg("a2")))
		recv(t, req, "a")
	}
}
