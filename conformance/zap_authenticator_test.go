package conformance

// Our zap.Authenticator and ZAP properties end to end, with libzmq clients:
//
//   - address allow and deny lists (CIDR) with NULL + domain and with PLAIN;
//     the libzmq client connects from 127.0.0.1 or, through libzmq's
//     "tcp://source:0;host:port" connect syntax, from 127.0.0.2;
//   - reloading: a password file and a CURVE certificate directory changed
//     while our server runs take effect for the next handshake;
//   - properties: ZAP User-Id and metadata reach ConnectionState, and ZAP
//     metadata wins over the peer's own (docs/libzmq-behaviour.md#connection-properties), on our
//     server as on libzmq's.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// plainzFrom connects a libzmq client to our server from source address src
// and returns our server's first handshake result and the client's monitor.
func plainzFrom(t *testing.T, srv *ourServer, cli *zmq.Socket, mon *libMonitor, src string) handshakeResult {
	t.Helper()
	must(t, cli.Connect("tcp://"+src+":0;"+strings.TrimPrefix(srv.endpoint, "tcp://")))
	sendQueued(cli, "queued before the handshake")
	return srv.next(3 * time.Second)
}

func TestZAPAuthenticatorAddresses(t *testing.T) {
	t.Parallel()
	type attempt struct {
		src  string
		pass string // PLAIN password for admin
		text string // "" accepted, else the 400 status text
	}
	cases := []struct {
		name     string
		allow    []string
		deny     []string
		attempts []attempt
	}{
		{"allow-127.0.0.1", []string{"127.0.0.1"}, nil, []attempt{
			{"127.0.0.1", "secret", ""},
			{"127.0.0.2", "secret", zap.TextAddressNotAllowed},
		}},
		{"deny-127.0.0.0/8", nil, []string{"127.0.0.0/8"}, []attempt{
			{"127.0.0.1", "secret", zap.TextAddressDenied},
			{"127.0.0.2", "secret", zap.TextAddressDenied},
		}},
		{"deny-127.0.0.2", nil, []string{"127.0.0.2"}, []attempt{
			{"127.0.0.1", "secret", ""},
			{"127.0.0.2", "secret", zap.TextAddressDenied},
		}},
		{"allow-10.0.0.0/8", []string{"10.0.0.0/8"}, nil, []attempt{
			{"127.0.0.1", "secret", zap.TextAddressNotAllowed},
		}},
		// An allowed address must still authenticate with PLAIN.
		{"allow-127.0.0.0/8-wrong-password", []string{"127.0.0.0/8"}, nil, []attempt{
			{"127.0.0.2", "wrong", zap.TextInvalidPassword},
		}},
	}
	for _, m := range plainzMechs {
		for _, tc := range cases {
			for _, at := range tc.attempts {
				if !m.plain && at.text == zap.TextInvalidPassword {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/from-%s", m.name, tc.name, at.src), func(t *testing.T) {
					t.Parallel()
					auth := zap.NewAuthenticator()
					// Allow and Deny are exclusive, as in pyzmq: calling one
					// with no addresses while the other is set is an error.
					if len(tc.allow) > 0 {
						must(t, auth.Allow(tc.allow...))
					}
					if len(tc.deny) > 0 {
						must(t, auth.Deny(tc.deny...))
					}
					auth.ConfigurePlain("*", plainUsers)
					domain := m.domain
					if !m.plain {
						domain = "global"
					}
					srv := serve(t, serverConfig(m.plain, auth, domain))
					lib := newZMQLib(t)
					cli := lib.socket(zmq.DEALER)
					if m.plain {
						cli = libPlainClient(lib, zmq.DEALER, "admin", at.pass)
					}
					mon := lib.monitor(cli, connEvents)
					a := plainzFrom(t, srv, cli, mon, at.src)
					if at.text == "" {
						if a.err != nil {
							t.Fatalf("our server refused %s: %v", at.src, a.err)
						}
						st := a.conn.ConnectionState()
						wantUser := zap.AnonymousUserID
						if m.plain {
							wantUser = "admin"
						}
						if st.PeerAddress != at.src || st.UserID != wantUser {
							t.Errorf("PeerAddress %q UserID %q; want %q %q", st.PeerAddress, st.UserID, at.src, wantUser)
						}
						msg, err := a.conn.ReadMessage(nil)
						if err != nil || !equalMsg(msg, strMsg("queued before the handshake")) {
							t.Errorf("we received %s, %v", shortMsg(msg), err)
						}
						libBounce(t, cli, a.conn)
						return
					}
					var ae *mechanism.AuthError
					if !errors.As(a.err, &ae) || ae.Status != 400 || ae.Text != at.text {
						t.Fatalf("our server's error = %v; want *mechanism.AuthError 400 %q", a.err, at.text)
					}
					// libzmq reads our ERROR "400" as AUTH 400: NULL's in the
					// RFC form, PLAIN's in libzmq's 5E form. Both stop.
					want := libEvent{zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400}
					if e, seen, ok := mon.waitFor(want.Event, 3*time.Second); !ok || e != want {
						t.Errorf("libzmq client monitor %v; want %v", seen, want)
					}
					mon.waitFor(zmq.EVENT_DISCONNECTED, 2*time.Second)
					mon.collect(300 * time.Millisecond)
					if n := countEvents(mon.seen, zmq.EVENT_CONNECTED); n != 1 || srv.count.Load() != 1 {
						t.Errorf("libzmq client connected %d times (we saw %d); want 1, no reconnect", n, srv.count.Load())
					}
					expectNothing(t, cli, 10*time.Millisecond)
				})
			}
		}
	}
}

// plainzReplaceFile writes data to path by renaming a new file over it, as
// ConfigurePlainFile asks.
func plainzReplaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestZAPAuthenticatorReload(t *testing.T) {
	t.Parallel()

	// A password file changed while our PLAIN server runs: a user added is
	// accepted at the next handshake, a user removed refused; an established
	// connection is not re-checked (no authenticator does that;
	// docs/libzmq-behaviour.md#other-zap-authenticators).
	t.Run("password-file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "passwords")
		plainzReplaceFile(t, path, []byte("admin=secret\n"))
		auth := zap.NewAuthenticator()
		t.Cleanup(func() { auth.Close() })
		if err := auth.ConfigurePlainFile("*", path); err != nil {
			t.Fatal(err)
		}
		srv := serve(t, serverConfig(true, auth, ""))
		lib := newZMQLib(t)
		try := func() (handshakeResult, *zmq.Socket) {
			cli := libPlainClient(lib, zmq.DEALER, "bob", "builder")
			must(t, cli.Connect(srv.endpoint))
			return srv.next(3 * time.Second), cli
		}
		if a, _ := try(); authStatus(a.err) != 400 {
			t.Fatalf("bob before he is in the file: %v; want 400", a.err)
		}

		changed := time.Now()
		plainzReplaceFile(t, path, []byte("admin=secret\nbob=builder\n"))
		must(t, auth.Reload()) // or wait for the next reload, within 1 s
		a, cli := try()
		if a.err != nil {
			t.Fatalf("bob after he was added: %v", a.err)
		}
		if d := time.Since(changed); d > time.Second {
			t.Errorf("bob accepted %v after the file changed; want within 1 s", d)
		}
		if a.conn.ConnectionState().UserID != "bob" {
			t.Errorf("UserID %q", a.conn.ConnectionState().UserID)
		}
		libBounce(t, cli, a.conn)

		plainzReplaceFile(t, path, []byte("admin=secret\n"))
		must(t, auth.Reload())
		b, _ := try()
		var ae *mechanism.AuthError
		if !errors.As(b.err, &ae) || ae.Status != 400 || ae.Text != zap.TextInvalidUsername {
			t.Errorf("bob after he was removed: %v; want 400 %q", b.err, zap.TextInvalidUsername)
		}
		libBounce(t, cli, a.conn) // still up: sessions are not re-checked
	})

	// The same for a CURVE certificate directory (CZMQ layout).
	t.Run("curve-certificates", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		other := testkeys.New(t)
		plainzWriteCert(t, dir, "other", other.Public)
		auth := zap.NewAuthenticator()
		t.Cleanup(func() { auth.Close() })
		if err := auth.ConfigureCurve("*", dir); err != nil {
			t.Fatal(err)
		}
		srvKeys, client := testkeys.New(t), testkeys.New(t)
		cfg := curveServerConfig(t, srvKeys, zmtp.DEALER)
		cfg.ZAPHandler = auth
		srv := serve(t, cfg)
		lib := newZMQLib(t)
		try := func() (handshakeResult, *zmq.Socket, *libMonitor) {
			cli := lib.curveClient(zmq.DEALER, srvKeys.Public.String(), client.Public.String(), client.Secret.Z85())
			mon := lib.monitor(cli, connEvents)
			must(t, cli.Connect(srv.endpoint))
			return srv.next(3 * time.Second), cli, mon
		}
		a, _, mon := try()
		if authStatus(a.err) != 400 {
			t.Fatalf("client before its certificate is in the directory: %v; want 400", a.err)
		}
		// CURVE's ERROR is correct in libzmq, so its client reports AUTH 400.
		if e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 3*time.Second); !ok || e.Value != 400 {
			t.Errorf("libzmq client monitor %v; want HANDSHAKE_FAILED_AUTH 400", seen)
		}

		changed := time.Now()
		plainzWriteCert(t, dir, "client", client.Public)
		must(t, auth.Reload()) // or wait for the next reload, within 1 s
		b, cli, _ := try()
		if b.err != nil {
			t.Fatalf("client after its certificate was added: %v", b.err)
		}
		if d := time.Since(changed); d > time.Second {
			t.Errorf("client accepted %v after the directory changed; want within 1 s", d)
		}
		st := b.conn.ConnectionState()
		if st.UserID != zap.DefaultCurveUserID(client.Public) || st.PeerPublicKey == nil || *st.PeerPublicKey != client.Public {
			t.Errorf("UserID %q, PeerPublicKey %v; want the client's Z85 key", st.UserID, st.PeerPublicKey)
		}
		if v, ok := st.Property("X-Role"); !ok || string(v) != "tester" {
			t.Errorf("Property(X-Role) = %q, %v; want the certificate's metadata", v, ok)
		}
		libBounce(t, cli, b.conn)

		if err := os.Remove(filepath.Join(dir, "client")); err != nil {
			t.Fatal(err)
		}
		must(t, auth.Reload())
		c, _, _ := try()
		var ae *mechanism.AuthError
		if !errors.As(c.err, &ae) || ae.Status != 400 || ae.Text != zap.TextUnknownKey {
			t.Errorf("client after its certificate was removed: %v; want 400 %q", c.err, zap.TextUnknownKey)
		}
	})
}

// plainzWriteCert writes a public certificate for key (metadata
// X-Role=tester) to dir/name in CZMQ's layout.
func plainzWriteCert(t *testing.T, dir, name string, key cert.PublicKey) {
	t.Helper()
	c := &cert.Certificate{Public: key, Metadata: []cert.MetadataEntry{{Name: "X-Role", Value: "tester"}}}
	b, err := c.MarshalPublic(cert.LayoutCZMQ, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	plainzReplaceFile(t, filepath.Join(dir, name), b)
}

// TestZAPProperties: the ZAP User-Id and metadata reach ConnectionState,
// and ZAP metadata wins over the peer's metadata of the same name. The
// libzmq client sends ZMQ_METADATA X-Foo:peer and X-Peer:only; the handler
// answers User-Id alice and metadata X-Foo=zap, X-Zap=only. The differential
// subtest shows libzmq's server resolving the same conflict the same way.
func TestZAPProperties(t *testing.T) {
	t.Parallel()
	zapMeta := zmtp.Metadata{{Name: "X-Foo", Value: []byte("zap")}, {Name: "X-Zap", Value: []byte("only")}}
	handler := zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: zap.StatusOK, StatusText: "OK", UserID: "alice", Metadata: zapMeta}, nil
	})
	for _, m := range plainzMechs {
		t.Run("our-server/"+m.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, serverConfig(m.plain, handler, m.domain))
			lib := newZMQLib(t)
			cli := lib.socket(zmq.DEALER)
			if m.plain {
				cli = libPlainClient(lib, zmq.DEALER, "alice", "wonderland")
			}
			must(t, cli.SetIdentity("CLI"))
			setMetadata(t, cli, "X-Foo:peer")
			setMetadata(t, cli, "X-Peer:only")
			must(t, cli.Connect(srv.endpoint))
			a := srv.next(3 * time.Second)
			if a.err != nil {
				t.Fatalf("our server: %v", a.err)
			}
			st := a.conn.ConnectionState()
			if st.UserID != "alice" {
				t.Errorf("UserID %q; want alice", st.UserID)
			}
			if !plainzSameMetadata(st.ZAPMetadata, zapMeta) {
				t.Errorf("ZAPMetadata %v; want %v", st.ZAPMetadata, zapMeta)
			}
			// The peer's own metadata, as libzmq sent it (§3.2: Socket-Type,
			// Identity, then ZMQ_METADATA sorted by name).
			wantPeer := zmtp.Metadata{
				{Name: "Socket-Type", Value: []byte("DEALER")},
				{Name: "Identity", Value: []byte("CLI")},
				{Name: "X-Foo", Value: []byte("peer")},
				{Name: "X-Peer", Value: []byte("only")},
			}
			if !plainzSameMetadata(st.PeerMetadata, wantPeer) {
				t.Errorf("PeerMetadata %v; want %v", st.PeerMetadata, wantPeer)
			}
			for name, want := range map[string]string{
				"X-Foo":        "zap", // ZAP wins
				"X-Zap":        "only",
				"X-Peer":       "only",
				"User-Id":      "alice",
				"Socket-Type":  "DEALER",
				"Identity":     "CLI",
				"Peer-Address": "127.0.0.1",
			} {
				if v, ok := st.Property(name); !ok || string(v) != want {
					t.Errorf("Property(%q) = %q, %v; want %q", name, v, ok, want)
				}
			}
			libBounce(t, cli, a.conn)
		})
	}

	// libzmq's PLAIN server, ZAP handler answering the same, our client
	// sending X-Foo=peer: zmq_msg_gets gives the ZAP values too.
	t.Run("libzmq-server/PLAIN", func(t *testing.T) {
		t.Parallel()
		lib := newZMQLib(t)
		s, _, _, ep := libPlainServer(t, lib, func([][]byte) zapAnswer {
			return zapAnswer{Status: "200", Text: "OK", UserID: "alice", Metadata: zapMeta}
		})
		cfg := plainClientConfig(t, "alice", "wonderland")
		cfg.Metadata = zmtp.Metadata{{Name: "X-Foo", Value: []byte("peer")}, {Name: "X-Peer", Value: []byte("only")}}
		c, err := transport.Dial(ep, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WriteMessage(strMsg("props")); err != nil {
			t.Fatal(err)
		}
		msg, md, err := s.RecvMessageWithMetadata(0, "X-Foo", "X-Zap", "X-Peer", "User-Id")
		if err != nil || len(msg) != 1 || msg[0] != "props" {
			t.Fatalf("libzmq received %q, %v", msg, err)
		}
		want := map[string]string{"X-Foo": "zap", "X-Zap": "only", "X-Peer": "only", "User-Id": "alice"}
		for k, v := range want {
			if md[k] != v {
				t.Errorf("libzmq zmq_msg_gets(%q) = %q; want %q (all: %q)", k, md[k], v, md)
			}
		}
	})
}

// plainzSameMetadata compares metadata in order, names exactly.
func plainzSameMetadata(a, b zmtp.Metadata) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
