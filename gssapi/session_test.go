// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/gssapi"
	"github.com/zmtpsec/zmtpsec/internal/krbtest"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// realmSetup is a test realm and what a client and a server need of it.
type realmSetup struct {
	r      *krbtest.Realm
	conf   *gssapi.Krb5Config
	source *gssapi.KDCTicketSource
	creds  *gssapi.ServerCredentials
}

func startSetup(t *testing.T, opts ...krbtest.Option) *realmSetup {
	t.Helper()
	r := krbtest.Start(t, opts...)
	conf, err := gssapi.LoadKrb5Config(r.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := conf.ParseName(r.ClientName, gssapi.UserName)
	if err != nil {
		t.Fatal(err)
	}
	ckt, err := gssapi.LoadKeytab(r.ClientKeytab)
	if err != nil {
		t.Fatal(err)
	}
	src, err := gssapi.NewKeytabTicketSource(conf, alice, ckt)
	if err != nil {
		t.Fatal(err)
	}
	skt, err := gssapi.LoadKeytab(r.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := gssapi.NewServerCredentials(skt, gssapi.Principal{})
	if err != nil {
		t.Fatal(err)
	}
	return &realmSetup{r: r, conf: conf, source: src, creds: creds}
}

func (s *realmSetup) client(t *testing.T, plain bool) mechanism.Mechanism {
	t.Helper()
	m, err := gssapi.Client(gssapi.ClientConfig{Service: s.r.ServiceName, Tickets: s.source, Config: s.conf, InsecurePlaintext: plain})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (s *realmSetup) server(t *testing.T, plain bool) mechanism.Mechanism {
	t.Helper()
	m, err := gssapi.Server(gssapi.ServerConfig{Credentials: s.creds, InsecurePlaintext: plain})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tap records what is written through a net.Conn.
type tap struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *tap) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *tap) frames(t *testing.T) []zmtp.Frame {
	c.mu.Lock()
	b := bytes.Clone(c.out.Bytes())
	c.mu.Unlock()
	r := zmtp.NewReader(bytes.NewReader(b))
	if _, err := r.ReadGreeting(); err != nil {
		t.Fatal(err)
	}
	var out []zmtp.Frame
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return out
		}
		out = append(out, zmtp.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
	}
}

// pair shakes hands over TCP on loopback and returns both ends, the
// client's wrapped in a tap.
func pair(t *testing.T, ccfg, scfg *transport.Config) (c, s *transport.Conn, ctap *tap, serr error, cerr error) {
	t.Helper()
	if ccfg.SocketType == "" {
		ccfg.SocketType = zmtp.DEALER
	}
	if scfg.SocketType == "" {
		scfg.SocketType = zmtp.DEALER
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		s = transport.Server(nc, scfg)
		done <- s.Handshake()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctap = &tap{Conn: nc}
	c = transport.Client(ctap, ccfg)
	cerr = c.Handshake()
	serr = <-done
	t.Cleanup(func() {
		c.Close()
		if s != nil {
			s.Close()
		}
	})
	return c, s, ctap, serr, cerr
}

type zapFunc func(context.Context, *zap.Request) (*zap.Reply, error)

func (f zapFunc) Authenticate(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
	return f(ctx, r)
}

func exchange(t *testing.T, from, to *transport.Conn, msg [][]byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- from.WriteMessage(msg) }()
	got, err := to.ReadMessage(nil)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("WriteMessage: %v", err)
	}
	if len(got) != len(msg) {
		t.Fatalf("got %d parts, want %d", len(got), len(msg))
	}
	for i := range msg {
		if !bytes.Equal(got[i], msg[i]) {
			t.Fatalf("part %d: %d bytes, want %d", i, len(got[i]), len(msg[i]))
		}
	}
}

// TestSessionEnctypes: a Go client and a Go server in a real realm, for each
// enctype, sealed, with ZAP 200: both principals, the User-Id, multipart
// messages with 0-byte, 300-byte (long frame) and 64 KiB parts both ways,
// and on the wire every frame after the handshake a final data frame of
// exactly SealedSize bytes.
func TestSessionEnctypes(t *testing.T) {
	for _, e := range krbtest.Enctypes {
		t.Run(string(e), func(t *testing.T) {
			s := startSetup(t, krbtest.WithEnctypes(e))
			var asked []zap.Request
			var mu sync.Mutex
			h := zapFunc(func(_ context.Context, r *zap.Request) (*zap.Reply, error) {
				mu.Lock()
				asked = append(asked, *r)
				mu.Unlock()
				return &zap.Reply{Version: zap.Version, RequestID: r.RequestID, StatusCode: zap.StatusOK, UserID: "uid:" + string(r.Credentials[0])}, nil
			})
			ccfg := &transport.Config{Mechanism: s.client(t, false), SocketType: zmtp.DEALER}
			scfg := &transport.Config{Mechanism: s.server(t, false), SocketType: zmtp.ROUTER, ZAPHandler: h}
			c, srv, ctap, serr, cerr := pair(t, ccfg, scfg)
			if cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
			cs, ss := c.ConnectionState(), srv.ConnectionState()
			if ss.PeerPrincipal != s.r.ClientPrincipal || cs.PeerPrincipal != s.r.ServicePrincipal {
				t.Errorf("principals: server sees %q, client sees %q", ss.PeerPrincipal, cs.PeerPrincipal)
			}
			if ss.UserID != "uid:"+s.r.ClientPrincipal || cs.PeerSocketType != zmtp.ROUTER || ss.PeerSocketType != zmtp.DEALER {
				t.Errorf("state: %+v / %+v", ss, cs)
			}
			if len(asked) != 1 || asked[0].Mechanism != "GSSAPI" || asked[0].Domain != "" || len(asked[0].Credentials) != 1 {
				t.Errorf("ZAP requests %+v", asked)
			}
			big := bytes.Repeat([]byte{0xa5}, 64<<10)
			msg := [][]byte{{}, []byte("hello"), bytes.Repeat([]byte("L"), 300), big}
			for i := 0; i < 2; i++ {
				exchange(t, c, srv, msg)
				exchange(t, srv, c, msg)
			}
			frames := ctap.frames(t)
			// INITIATE, empty, READY in MESSAGE (command frames), then data.
			if len(frames) != 3+2*len(msg) {
				t.Fatalf("%d client frames", len(frames))
			}
			if !frames[1].IsCommand() || len(frames[1].Body) != 0 || !frames[2].IsCommand() || !bytes.HasPrefix(frames[2].Body, []byte("\x07MESSAGE")) {
				t.Errorf("handshake frames %02x %q / %02x", frames[1].Flags, frames[1].Body, frames[2].Flags)
			}
			fixed := map[krbtest.Enctype]int{krbtest.AES128SHA1: 73, krbtest.AES256SHA1: 73, krbtest.AES128SHA256: 77, krbtest.AES256SHA384: 85}[e]
			for i, f := range frames[3:] {
				want := fixed + len(msg[i%len(msg)])
				if f.Flags&^zmtp.FlagLong != 0 || len(f.Body) != want {
					t.Errorf("frame %d: flags %02x, %d bytes, want %d", i, f.Flags, len(f.Body), want)
				}
			}
		})
	}
}

// TestSessionPlaintext: InsecurePlaintext on both sides: plain READYs, plain
// frames.
func TestSessionPlaintext(t *testing.T) {
	s := startSetup(t)
	c, srv, ctap, serr, cerr := pair(t,
		&transport.Config{Mechanism: s.client(t, true), SocketType: zmtp.REQ},
		&transport.Config{Mechanism: s.server(t, true), SocketType: zmtp.REP})
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: %v, %v", cerr, serr)
	}
	exchange(t, c, srv, [][]byte{[]byte("plain")})
	exchange(t, srv, c, [][]byte{[]byte("text"), {}})
	frames := ctap.frames(t)
	if len(frames) != 4 || !bytes.HasPrefix(frames[2].Body, []byte("\x05READY")) || string(frames[3].Body) != "plain" {
		t.Errorf("client frames %q", frames)
	}
	if srv.ConnectionState().PeerPrincipal != s.r.ClientPrincipal {
		t.Error("principal")
	}
}

// TestSessionMismatch: plaintext on one side only fails at READY, with
// ErrProtectionMismatch, both ways round.
func TestSessionMismatch(t *testing.T) {
	s := startSetup(t)
	for _, plainClient := range []bool{true, false} {
		cfgT := transport.Config{HandshakeTimeout: 3 * time.Second}
		ccfg, scfg := cfgT, cfgT
		ccfg.Mechanism, scfg.Mechanism = s.client(t, plainClient), s.server(t, !plainClient)
		_, _, _, serr, cerr := pair(t, &ccfg, &scfg)
		if !errors.Is(cerr, gssapi.ErrProtectionMismatch) && !errors.Is(serr, gssapi.ErrProtectionMismatch) {
			t.Errorf("plain client %v: client %v, server %v", plainClient, cerr, serr)
		}
	}
}

// TestSessionHeartbeats: heartbeats every 30 ms travel as PING and PONG
// sealed in MESSAGE data frames; the session stays up.
func TestSessionHeartbeats(t *testing.T) {
	s := startSetup(t)
	ccfg := &transport.Config{Mechanism: s.client(t, false), HeartbeatInterval: 30 * time.Millisecond, HeartbeatTimeout: 2 * time.Second}
	scfg := &transport.Config{Mechanism: s.server(t, false), HeartbeatInterval: 30 * time.Millisecond, HeartbeatTimeout: 2 * time.Second}
	c, srv, ctap, serr, cerr := pair(t, ccfg, scfg)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: %v, %v", cerr, serr)
	}
	// Reading drives the heartbeat replies.
	go func() {
		for {
			if _, err := srv.ReadMessage(nil); err != nil {
				return
			}
		}
	}()
	rd := make(chan error, 1)
	go func() {
		_, err := c.ReadMessage(nil)
		rd <- err
	}()
	time.Sleep(250 * time.Millisecond)
	if err := c.WriteMessage([][]byte{[]byte("after")}); err != nil {
		t.Fatal(err)
	}
	frames := ctap.frames(t)
	if len(frames) < 6 {
		t.Fatalf("only %d client frames in 250 ms of heartbeats", len(frames))
	}
	for i, f := range frames[3:] {
		if f.Flags != 0 || !bytes.HasPrefix(f.Body, []byte("\x07MESSAGE")) {
			t.Errorf("frame %d after the handshake: flags %02x %q", i, f.Flags, f.Body[:min(8, len(f.Body))])
		}
	}
	c.Close()
	<-rd
}

// TestSessionZAPRefusals: ZAP 300, 400 and 500 fail the server's handshake
// with an *AuthError and the client's with an error, within a bound,
// though GSSAPI has no ERROR to tell it.
func TestSessionZAPRefusals(t *testing.T) {
	s := startSetup(t)
	for _, st := range []zap.StatusCode{zap.StatusTemporaryFailure, zap.StatusAuthenticationError, zap.StatusInternalError} {
		h := zapFunc(func(_ context.Context, r *zap.Request) (*zap.Reply, error) {
			return &zap.Reply{Version: zap.Version, RequestID: r.RequestID, StatusCode: st}, nil
		})
		began := time.Now()
		_, _, _, serr, cerr := pair(t,
			&transport.Config{Mechanism: s.client(t, false), HandshakeTimeout: 5 * time.Second},
			&transport.Config{Mechanism: s.server(t, false), ZAPHandler: h})
		var ae *mechanism.AuthError
		if !errors.As(serr, &ae) || ae.Status != st || ae.Mechanism != "GSSAPI" {
			t.Errorf("status %d: server %v", st, serr)
		}
		if cerr == nil {
			t.Errorf("status %d: the client completed its handshake", st)
		}
		if d := time.Since(began); d > 4*time.Second {
			t.Errorf("status %d: took %v", st, d)
		}
	}
}

// TestSessionPrincipalRestriction: a server restricted to the service
// principal accepts; one restricted to another principal refuses the
// ticket with ErrWrongPrincipal.
func TestSessionPrincipalRestriction(t *testing.T) {
	s := startSetup(t)
	all, err := gssapi.LoadKeytab(s.r.AllKeytab)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		principal string
		want      error
	}{{s.r.ServicePrincipal, nil}, {s.r.ClientPrincipal, gssapi.ErrWrongPrincipal}} {
		p, err := s.conf.ParseName(tc.principal, gssapi.KerberosPrincipal)
		if err != nil {
			t.Fatal(err)
		}
		creds, err := gssapi.NewServerCredentials(all, p)
		if err != nil {
			t.Fatal(err)
		}
		sm, err := gssapi.Server(gssapi.ServerConfig{Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, serr, cerr := pair(t,
			&transport.Config{Mechanism: s.client(t, false), HandshakeTimeout: 3 * time.Second},
			&transport.Config{Mechanism: sm})
		if tc.want == nil && (serr != nil || cerr != nil) || tc.want != nil && !errors.Is(serr, tc.want) {
			t.Errorf("%s: server %v, client %v", tc.principal, serr, cerr)
		}
	}
}

// TestSessionCredentialFailures: an unknown service and a KDC that is down
// fail the client's Dial with a typed error, quickly (not the 30 s
// handshake timeout).
func TestSessionCredentialFailures(t *testing.T) {
	s := startSetup(t)
	ln, err := transport.Listen("tcp://127.0.0.1:0", &transport.Config{Mechanism: s.server(t, false), SocketType: zmtp.DEALER})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.Handshake(); c.Close() }()
		}
	}()
	dial := func(m mechanism.Mechanism) error {
		c, err := transport.Dial(ln.Endpoint(), &transport.Config{Mechanism: m, SocketType: zmtp.DEALER})
		if err == nil {
			err = c.Handshake()
			c.Close()
		}
		return err
	}
	began := time.Now()
	m, err := gssapi.Client(gssapi.ClientConfig{Service: "nosuch@localhost", Tickets: s.source, Config: s.conf})
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(m); !errors.Is(err, gssapi.ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("unknown service took %v", d)
	}

	// A realm whose KDC listens nowhere.
	down, err := gssapi.ParseKrb5Config("[libdefaults]\n default_realm = ZMTP.TEST\n udp_preference_limit = 1\n[realms]\n ZMTP.TEST = {\n  kdc = 127.0.0.1:1\n }\n")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := down.ParseName("alice", gssapi.UserName)
	src, err := gssapi.NewPasswordTicketSource(down, alice, s.r.Password)
	if err != nil {
		t.Fatal(err)
	}
	m, err = gssapi.Client(gssapi.ClientConfig{Service: s.r.ServiceName, Tickets: src, Config: down})
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	if err := dial(m); !errors.Is(err, gssapi.ErrKDCUnreachable) {
		t.Errorf("KDC down: %v", err)
	}
	if d := time.Since(began); d > 8*time.Second {
		t.Errorf("KDC down took %v", d)
	}
}
