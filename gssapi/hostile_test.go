// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// offlineNow is the clock of the offline fixture.
var offlineNow = time.Date(2026, 12, 3, 16, 20, 15, 0, time.UTC)

// fakeSource is a TicketSource that hands out one minted ticket.
type fakeSource struct {
	st  ServiceTicket
	err error
}

func (f *fakeSource) ServiceTicket(ctx context.Context, service Principal) (*ServiceTicket, error) {
	if f.err != nil {
		return nil, f.err
	}
	st := f.st
	st.Ticket = bytes.Clone(f.st.Ticket)
	st.SessionKey.Value = bytes.Clone(f.st.SessionKey.Value)
	return &st, nil
}

type fixture struct {
	creds  *ServerCredentials
	source *fakeSource
	conf   *Krb5Config
}

func detRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// newFixture mints a ticket for zmqtest/localhost under the service key of
// the "sealed" capture, without a KDC: deterministic with a fixed seed.
func newFixture(tb testing.TB, seed uint64) *fixture {
	tb.Helper()
	kt, err := LoadKeytab("testdata/libzmq/sealed/service.keytab")
	if err != nil {
		tb.Fatal(err)
	}
	conf, err := ParseKrb5Config("[libdefaults]\n default_realm = ZMTP.TEST\n")
	if err != nil {
		tb.Fatal(err)
	}
	svc, _ := conf.ParseName("zmqtest@localhost", HostBasedService)
	alice, _ := conf.ParseName("alice", UserName)
	ek, _, err := KeytabInternal(kt).GetEncryptionKey(types.PrincipalName{NameType: svc.NameType, NameString: svc.Components}, svc.Realm, 1, 18)
	if err != nil {
		tb.Fatal(err)
	}
	tkt, sess, err := gss.MintTicket(detRand(seed), Key{Enctype: ek.KeyType, Value: ek.KeyValue}, 1, alice, svc, offlineNow.Add(-time.Hour), offlineNow.Add(9*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	creds, err := NewServerCredentials(kt, Principal{})
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{creds: creds, conf: conf, source: &fakeSource{st: ServiceTicket{Client: alice, Service: svc, Ticket: tkt, SessionKey: sess, EndTime: offlineNow.Add(9 * time.Hour)}}}
}

func (f *fixture) mechs(tb testing.TB, seed uint64, cplain, splain bool) (mechanism.Mechanism, mechanism.Mechanism) {
	tb.Helper()
	now := func() time.Time { return offlineNow }
	c, err := Client(ClientConfig{Service: "zmqtest@localhost", Tickets: f.source, Config: f.conf, InsecurePlaintext: cplain, Now: now, Rand: detRand(seed + 1)})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Server(ServerConfig{Credentials: f.creds, InsecurePlaintext: splain, Now: now, Rand: detRand(seed + 2)})
	if err != nil {
		tb.Fatal(err)
	}
	return c, s
}

var (
	reqMD = zmtp.Metadata{{Name: "Socket-Type", Value: []byte("REQ")}}
	repMD = zmtp.Metadata{{Name: "Socket-Type", Value: []byte("REP")}}
)

// run drives a client and a server handshake against each other until both
// are done or one fails; tamper, if set, may change each command in flight.
func run(t testing.TB, c, s mechanism.Handshake, tamper func(toServer bool, i int, cmd zmtp.Command) zmtp.Command) (cerr, serr error) {
	ctx := context.Background()
	if out, err := s.Start(ctx); err != nil || len(out) != 0 {
		t.Fatalf("server Start: %v %v", out, err)
	}
	q, err := c.Start(ctx)
	if err != nil {
		return err, nil
	}
	toServer := true
	for i := 0; len(q) > 0 && i < 20; i++ {
		var next []zmtp.Command
		for _, cmd := range q {
			// What goes on the wire, and comes back parsed.
			if tamper != nil {
				cmd = tamper(toServer, i, cmd)
			}
			body := cmd.Append(nil)
			var pc zmtp.Command
			if len(body) > 0 {
				pc, err = zmtp.ParseCommand(body)
				if err != nil {
					t.Fatalf("bad command from us: %v", err)
				}
			}
			var out []zmtp.Command
			if toServer {
				if pc.IsEmpty() && !s.(mechanism.EmptyCommandAccepter).AcceptsEmptyCommand() {
					return nil, errors.New("driver: empty command refused")
				}
				out, err = s.Handle(ctx, pc)
				if err != nil {
					return nil, err
				}
			} else {
				out, err = c.Handle(ctx, pc)
				if err != nil {
					return err, nil
				}
			}
			next = append(next, out...)
		}
		q = next
		toServer = !toServer
	}
	return nil, nil
}

func handshakes(t testing.TB, cm, sm mechanism.Mechanism, sp mechanism.Params) (mechanism.Handshake, mechanism.Handshake) {
	c, err := cm.NewHandshake(mechanism.Params{Metadata: reqMD})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Metadata == nil {
		sp.Metadata = repMD
	}
	s, err := sm.NewHandshake(sp)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestOfflineHandshake: without a KDC, client and server complete, both
// sealed and plaintext, and the sessions carry messages; a second
// handshake from the same ticket with the same authenticator would be a
// replay, but each has its own.
func TestOfflineHandshake(t *testing.T) {
	f := newFixture(t, 1)
	for _, plain := range []bool{false, true} {
		cm, sm := f.mechs(t, 10, plain, plain)
		c, s := handshakes(t, cm, sm, mechanism.Params{})
		if cerr, serr := run(t, c, s, nil); cerr != nil || serr != nil {
			t.Fatalf("plain=%v: %v, %v", plain, cerr, serr)
		}
		if !c.Done() || !s.Done() {
			t.Fatal("not done")
		}
		cs, ss := c.Session(), s.Session()
		if cs.PeerPrincipal != "zmqtest/localhost@ZMTP.TEST" || ss.PeerPrincipal != "alice@ZMTP.TEST" {
			t.Errorf("principals %q %q", cs.PeerPrincipal, ss.PeerPrincipal)
		}
		if string(ss.PeerMetadata[0].Value) != "REQ" || string(cs.PeerMetadata[0].Value) != "REP" {
			t.Errorf("metadata %v %v", ss.PeerMetadata, cs.PeerMetadata)
		}
		if plain {
			if cs.Sealer != nil || cs.Opener != nil || ss.Sealer != nil {
				t.Error("plaintext session with a sealer")
			}
			continue
		}
		for i, p := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("y"), 70000)} {
			body, err := cs.Sealer.Seal([]byte("hdr"), mechanism.MessageMore, p)
			if err != nil || len(body)-3 != cs.Sealer.SealedSize(len(p)) || len(body)-3 != ss.Opener.MaxOverhead()+len(p) {
				t.Fatalf("Seal %d: %d bytes, %v", i, len(body), err)
			}
			fl, out, err := ss.Opener.Open([]byte("pre"), body[3:])
			if err != nil || fl != mechanism.MessageMore || !bytes.Equal(out[3:], p) || string(out[:3]) != "pre" {
				t.Fatalf("Open %d: %x %d %v", i, fl, len(out), err)
			}
		}
		c.Close()
		s.Close()
		cs.Sealer.Close()
		cs.Sealer.Close()
		if _, err := cs.Sealer.Seal(nil, 0, []byte("z")); !errors.Is(err, ErrClosed) {
			t.Errorf("Seal after Close: %v", err)
		}
		ss.Opener.Close()
		if _, _, err := ss.Opener.Open(nil, []byte("\x07MESSAGE\x00\x00\x00\x00")); err == nil {
			t.Error("Open after Close")
		}
	}
}

// TestHostileHandshake: each bad command at each step fails with a typed
// error, never a panic, and the failure is sticky.
func TestHostileHandshake(t *testing.T) {
	f := newFixture(t, 2)
	var unexpected *mechanism.UnexpectedCommandError
	cases := []struct {
		name   string
		cplain bool
		splain bool
		tamper func(toServer bool, i int, cmd zmtp.Command) zmtp.Command
		client bool // the client fails (else the server)
		check  func(error) bool
	}{
		{name: "INITIATE length too long", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 0 {
				c.Data = bytes.Clone(c.Data)
				binary.BigEndian.PutUint32(c.Data, uint32(len(c.Data)))
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, zmtp.ErrMalformed) }},
		{name: "INITIATE length too short", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 0 {
				c.Data = append(bytes.Clone(c.Data), 0)
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, zmtp.ErrMalformed) }},
		{name: "AP-REP length mismatch", client: true, tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 1 {
				c.Data = c.Data[:len(c.Data)-1]
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, zmtp.ErrMalformed) }},
		{name: "wrong first command", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 0 {
				return zmtp.ReadyCommand(reqMD)
			}
			return c
		}, check: func(err error) bool { return errors.As(err, &unexpected) }},
		{name: "client gets READY for AP-REP", client: true, tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 1 {
				return zmtp.ReadyCommand(repMD)
			}
			return c
		}, check: func(err error) bool { return errors.As(err, &unexpected) }},
		{name: "non-empty command where the empty one is due", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 2 {
				return zmtp.Command{Name: "PING", Data: []byte{0, 0}}
			}
			return c
		}, check: func(err error) bool { return errors.As(err, &unexpected) }},
		{name: "wrapped READY to a plaintext client", splain: false, cplain: true, client: true,
			check: func(err error) bool { return errors.Is(err, ErrProtectionMismatch) }},
		{name: "plain READY to a sealed client", splain: true, cplain: false, client: true,
			check: func(err error) bool { return errors.Is(err, ErrProtectionMismatch) }},
		{name: "tampered sealed READY", client: true, tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 3 {
				c.Data = bytes.Clone(c.Data)
				c.Data[len(c.Data)-1] ^= 1
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, ErrDecrypt) }},
		{name: "client READY as plain to a sealed server", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 4 {
				return zmtp.ReadyCommand(reqMD)
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, ErrProtectionMismatch) }},
		{name: "oversized AP-REQ", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 0 {
				tok := make([]byte, DefaultMaxToken+1)
				return initiateCommand(tok)
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, ErrTokenTooLarge) }},
		{name: "garbage AP-REQ", tamper: func(s bool, i int, c zmtp.Command) zmtp.Command {
			if i == 0 {
				return initiateCommand([]byte("\x60\x05garbage"))
			}
			return c
		}, check: func(err error) bool { return errors.Is(err, ErrMalformed) }},
	}
	for k, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm, sm := f.mechs(t, uint64(100+10*k), tc.cplain, tc.splain)
			c, s := handshakes(t, cm, sm, mechanism.Params{})
			defer c.Close()
			defer s.Close()
			cerr, serr := run(t, c, s, tc.tamper)
			err, h := serr, s
			if tc.client {
				err, h = cerr, c
			}
			if err == nil || !tc.check(err) {
				t.Fatalf("client %v, server %v", cerr, serr)
			}
			if _, again := h.Handle(context.Background(), zmtp.Command{Name: "READY"}); again != err {
				t.Errorf("not sticky: %v", again)
			}
			if h.Done() {
				t.Error("failed handshake reports Done")
			}
		})
	}
}

// TestEmptyCommandWindow: the server takes the empty command only right
// after its AP-REP; a client never.
func TestEmptyCommandWindow(t *testing.T) {
	f := newFixture(t, 3)
	cm, sm := f.mechs(t, 30, false, false)
	c, s := handshakes(t, cm, sm, mechanism.Params{})
	ctx := context.Background()
	acc := func(h mechanism.Handshake) bool { return h.(mechanism.EmptyCommandAccepter).AcceptsEmptyCommand() }
	s.Start(ctx)
	if acc(s) || acc(c) {
		t.Error("empty command accepted before the AP-REQ")
	}
	req, _ := c.Start(ctx)
	rep, err := s.Handle(ctx, req[0])
	if err != nil || !acc(s) {
		t.Fatalf("after AP-REP: %v %v", err, acc(s))
	}
	empty, err := c.Handle(ctx, rep[0])
	if err != nil || len(empty) != 1 || !empty[0].IsEmpty() || acc(c) {
		t.Fatalf("client after AP-REP: %v %v", empty, err)
	}
	if _, err := s.Handle(ctx, empty[0]); err != nil || acc(s) {
		t.Fatalf("after the empty command: %v %v", err, acc(s))
	}
}

// TestZAPRefusalSendsNothing: a refusal fails the server with the
// *AuthError and no command to send; 200 gives the Session its reply.
func TestZAPRefusalSendsNothing(t *testing.T) {
	f := newFixture(t, 4)
	for k, st := range []zap.StatusCode{zap.StatusOK, zap.StatusTemporaryFailure, zap.StatusAuthenticationError, zap.StatusInternalError} {
		var got *zap.Request
		h := zapFunc(func(_ context.Context, r *zap.Request) (*zap.Reply, error) {
			got = r
			return &zap.Reply{Version: zap.Version, RequestID: r.RequestID, StatusCode: st, UserID: "u"}, nil
		})
		cm, sm := f.mechs(t, uint64(40+10*k), false, false)
		c, s := handshakes(t, cm, sm, mechanism.Params{ZAP: h, PeerAddress: "127.0.0.1"})
		ctx := context.Background()
		s.Start(ctx)
		req, _ := c.Start(ctx)
		rep, _ := s.Handle(ctx, req[0])
		empty, _ := c.Handle(ctx, rep[0])
		out, err := s.Handle(ctx, empty[0])
		if got == nil || got.Mechanism != "GSSAPI" || got.Domain != "" || len(got.Credentials) != 1 || string(got.Credentials[0]) != "alice@ZMTP.TEST" {
			t.Fatalf("ZAP request %+v", got)
		}
		if st == zap.StatusOK {
			if err != nil || len(out) != 1 {
				t.Fatalf("200: %v %v", out, err)
			}
			continue
		}
		var ae *mechanism.AuthError
		if !errors.As(err, &ae) || ae.Status != st || len(out) != 0 {
			t.Errorf("%d: %v %v", st, out, err)
		}
		c.Close()
		s.Close()
	}
}

// TestHostileMessages: in a live session over the transport, a scripted
// client injects raw frames after a good handshake: a tampered MESSAGE,
// a replay, a reordering, an empty plaintext, an unsealed PING, a
// truncated MESSAGE. Each ends the server's connection with a typed error.
func TestHostileMessages(t *testing.T) {
	f := newFixture(t, 5)
	cases := []struct {
		name   string
		frames func(s mechanism.Session) [][]byte // bodies of data frames to send
		want   error
	}{
		{"tampered", func(s mechanism.Session) [][]byte {
			b := seal(t, s, "one")
			b[len(b)-3] ^= 0x10
			return [][]byte{b}
		}, ErrDecrypt},
		{"replayed", func(s mechanism.Session) [][]byte {
			b := seal(t, s, "one")
			return [][]byte{b, b}
		}, ErrSequence},
		{"reordered", func(s mechanism.Session) [][]byte {
			a, b := seal(t, s, "one"), seal(t, s, "two")
			return [][]byte{b, a}
		}, ErrSequence},
		{"empty plaintext", func(s mechanism.Session) [][]byte {
			tok, err := gss.WrapEmpty(s.Sealer.(*sealer).ctx)
			if err != nil {
				t.Fatal(err)
			}
			return [][]byte{append(binary.BigEndian.AppendUint32([]byte(messagePrefix), uint32(len(tok))), tok...)}
		}, ErrEmptyPlaintext},
		{"length mismatch", func(s mechanism.Session) [][]byte {
			b := seal(t, s, "one")
			return [][]byte{b[:len(b)-1]}
		}, zmtp.ErrMalformed},
		{"not a MESSAGE", func(s mechanism.Session) [][]byte {
			return [][]byte{[]byte("\x04PING\x00\x00")}
		}, zmtp.ErrMalformed},
	}
	for k, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm, sm := f.mechs(t, uint64(500+10*k), false, false)
			a, b := net.Pipe()
			srv := transport.Server(b, &transport.Config{Mechanism: sm, SocketType: zmtp.DEALER})
			defer srv.Close()
			errc := make(chan error, 1)
			go func() {
				for {
					if _, err := srv.ReadMessage(nil); err != nil {
						errc <- err
						return
					}
				}
			}()
			sess := scriptedClient(t, a, cm)
			defer a.Close()
			a.SetWriteDeadline(time.Now().Add(5 * time.Second))
			for _, body := range tc.frames(sess) {
				if _, err := a.Write(zmtp.AppendFrame(nil, 0, body)); err != nil {
					break // the server hung up: fine
				}
			}
			select {
			case err := <-errc:
				if !errors.Is(err, tc.want) {
					t.Errorf("server read: %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server did not fail")
			}
		})
	}
}

func seal(t *testing.T, s mechanism.Session, msg string) []byte {
	t.Helper()
	b, err := s.Sealer.Seal(nil, 0, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scriptedClient runs our client handshake by hand over nc (greeting,
// commands, the empty command) and returns its Session.
func scriptedClient(t *testing.T, nc net.Conn, cm mechanism.Mechanism) mechanism.Session {
	t.Helper()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	h, _ := cm.NewHandshake(mechanism.Params{Metadata: zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}}})
	g := zmtp.Greeting{Major: 3, Minor: 0, Mechanism: Name}
	// net.Pipe has no buffer: the greeting goes out from a goroutine while
	// the server's is read, and must be out before the first command, or
	// the server would read INITIATE as the rest of a greeting.
	greeted := make(chan error, 1)
	go func() {
		_, err := nc.Write(g.Append(nil))
		greeted <- err
	}()
	r := zmtp.NewReader(nc)
	if _, err := r.ReadGreeting(); err != nil {
		t.Fatal(err)
	}
	if err := <-greeted; err != nil {
		t.Fatal(err)
	}
	send := func(cmds []zmtp.Command) {
		for _, c := range cmds {
			if _, err := nc.Write(zmtp.AppendFrame(nil, zmtp.FlagCommand, c.Append(nil))); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := h.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	send(out)
	for !h.Done() {
		fr, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := zmtp.ParseCommand(fr.Body)
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.Handle(context.Background(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		send(out)
	}
	nc.SetDeadline(time.Time{})
	return h.Session()
}

type zapFunc func(context.Context, *zap.Request) (*zap.Reply, error)

func (f zapFunc) Authenticate(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
	return f(ctx, r)
}
