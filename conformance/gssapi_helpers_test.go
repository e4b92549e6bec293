package conformance

// The harness of the tests of our GSSAPI mechanism against libzmq
// (gssapi_test.go): our client and server configurations in a krbtest
// realm, and a checker of the bytes our side puts on the wire.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/gssapi"
	"github.com/zmtpsec/zmtpsec/internal/krbtest"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// gssOurs holds our side's credentials in one realm: the client's ticket
// source (alice, from the client keytab, through our own KDC exchange) and
// the service's keytab.
type gssOurs struct {
	r       *krbtest.Realm
	conf    *gssapi.Krb5Config
	tickets *gssapi.KDCTicketSource
	creds   *gssapi.ServerCredentials
}

// newGSSOurs loads the realm's krb5.conf and keytabs for our side. Our
// side reads no environment: every file is named.
func newGSSOurs(t testing.TB, r *krbtest.Realm) *gssOurs {
	t.Helper()
	conf, err := gssapi.LoadKrb5Config(r.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	return &gssOurs{r: r, conf: conf, tickets: gssTickets(t, r, conf), creds: gssServerCreds(t, r.ServiceKeytab)}
}

// gssTickets is a fresh ticket source for alice (no cached tickets).
func gssTickets(t testing.TB, r *krbtest.Realm, conf *gssapi.Krb5Config) *gssapi.KDCTicketSource {
	t.Helper()
	kt, err := gssapi.LoadKeytab(r.ClientKeytab)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := conf.ParseName(r.ClientName, gssapi.UserName)
	if err != nil {
		t.Fatal(err)
	}
	src, err := gssapi.NewKeytabTicketSource(conf, alice, kt)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// gssServerCreds accepts with any key of the keytab at path.
func gssServerCreds(t testing.TB, path string) *gssapi.ServerCredentials {
	t.Helper()
	kt, err := gssapi.LoadKeytab(path)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := gssapi.NewServerCredentials(kt, gssapi.Principal{})
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// clientMech is our GSSAPI client for service (a host-based name).
func (o *gssOurs) clientMech(t testing.TB, service string, plaintext bool) *transport.Config {
	t.Helper()
	m, err := gssapi.Client(gssapi.ClientConfig{
		Service:           service,
		ServiceNameType:   gssapi.HostBasedService,
		Tickets:           o.tickets,
		Config:            o.conf,
		InsecurePlaintext: plaintext,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{Mechanism: m, SocketType: zmtp.DEALER, Identity: []byte(gssOurClientID),
		Metadata: zmtp.Metadata{{Name: "X-Ours", Value: []byte("client")}}, HandshakeTimeout: gssHandshakeIvl}
}

// client is our GSSAPI DEALER client for the realm's service.
func (o *gssOurs) client(t testing.TB, plaintext bool) *transport.Config {
	t.Helper()
	return o.clientMech(t, o.r.ServiceName, plaintext)
}

// server is our GSSAPI DEALER server, asking h (if not nil) in domain
// gssZAPDomain.
func (o *gssOurs) server(t testing.TB, plaintext bool, h zap.Handler) *transport.Config {
	t.Helper()
	m, err := gssapi.Server(gssapi.ServerConfig{Credentials: o.creds, InsecurePlaintext: plaintext})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &transport.Config{Mechanism: m, SocketType: zmtp.DEALER, Identity: []byte(gssOurServerID),
		HandshakeTimeout: gssHandshakeIvl}
	if h != nil {
		cfg.ZAPHandler, cfg.ZAPDomain = h, gssZAPDomain
	}
	return cfg
}

// Routing ids of the GSSAPI interop tests' sockets.
const (
	gssOurClientID = "GO-CLIENT"
	gssOurServerID = "GO-SERVER"
	gssLibServerID = "LIBZMQ-SERVER"
	gssLibClientID = "LIBZMQ-CLIENT"
)

// gssZAPOK answers every GSSAPI request 200 with the principal as user id
// and one metadata property.
var gssZAPOK = zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
	if req.Mechanism != "GSSAPI" || len(req.Credentials) != 1 {
		return &zap.Reply{StatusCode: zap.StatusAuthenticationError, StatusText: "not GSSAPI"}, nil
	}
	return &zap.Reply{StatusCode: zap.StatusOK, StatusText: "OK", UserID: "uid:" + string(req.Credentials[0]),
		Metadata: zmtp.Metadata{{Name: "X-Zap", Value: []byte("yes")}}}, nil
})

// gssSizedMessage is a multipart message with an empty part, the largest
// short frame, the smallest long one, and a 64 KiB part, tagged so that the
// directions differ.
func gssSizedMessage(tag string) [][]byte {
	return [][]byte{[]byte(tag), {}, bytes.Repeat([]byte{'s'}, 255), bytes.Repeat([]byte{'l'}, 256), bytes.Repeat([]byte{'k'}, 64<<10)}
}

// gssWire is what checkOurGSSWire found in one direction of a session.
type gssWire struct {
	messages int   // MESSAGE frames after the handshake
	pings    int   // of which PING, by the length of their plaintext
	pongs    int   // of which PONG
	lengths  []int // the plaintext length of each, in order
}

// Plaintext lengths of the heartbeats inside MESSAGE: the inner flags byte
// (COMMAND), then "\x04PING" and a 2-byte TTL (our PINGs and libzmq's
// carry no context), or "\x04PONG" with the empty context.
const (
	gssPingLen = 1 + 5 + 2
	gssPongLen = 1 + 5
)

// checkOurGSSWire checks the bytes one side sent (the client's when client
// is set) against libzmq 4.3.4's layout (docs/wire-format.md#gssapi):
// greeting GSSAPI with as-server 0; INITIATE with a length-prefixed token;
// from the client, the empty command 04 00; READY, sealed in a MESSAGE
// command frame or plain; then only MESSAGE data frames without MORE
// (sealed), each Wrap token with the sender's flags (06 from the client,
// 07 from the server), EC 0, RRC 0, SND_SEQ rising by one, and room for
// a plaintext of at least the inner flags byte. The plaintext lengths
// follow from the token lengths and etype's checksum size. In plaintext
// mode the frames after READY are ordinary ZMTP frames and are not
// examined here.
func checkOurGSSWire(stream []byte, client, plaintext bool, etype int32) (gssWire, error) {
	var w gssWire
	rd := zmtp.NewReader(bytes.NewReader(stream))
	g, err := rd.ReadGreeting()
	if err != nil {
		return w, err
	}
	if g.Mechanism != "GSSAPI" || g.AsServer || g.Major != 3 || stream[32] != 0 {
		return w, fmt.Errorf("greeting %+v (as-server byte %#x): want GSSAPI, as-server 0, version 3", g, stream[32])
	}
	var frames []zmtp.Frame
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break // the capture may end inside a frame when a side closed
		}
		if err != nil {
			return w, fmt.Errorf("frame %d: %w", len(frames), err)
		}
		frames = append(frames, zmtp.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
	}
	next := 2
	if client {
		next = 3
	}
	if len(frames) < next {
		return w, fmt.Errorf("%d frames, want at least %d for the handshake", len(frames), next)
	}
	ini, err := parseCommandFrame(frames[0], zmtp.CmdInitiate)
	if err != nil {
		return w, fmt.Errorf("first frame: %w", err)
	}
	if _, err := lengthPrefixed(ini.Data); err != nil {
		return w, fmt.Errorf("INITIATE: %w", err)
	}
	if client && (!frames[1].IsCommand() || len(frames[1].Body) != 0) {
		return w, fmt.Errorf("second frame %s: want the empty command", partString(frames[1].Body))
	}
	wrapFlags := byte(0x07)
	if client {
		wrapFlags = 0x06
	}
	var seq uint64
	first := true
	plainLen := func(i int, cmd zmtp.Command) (int, error) {
		n, sn, err := wrapPlainLen(i, cmd, wrapFlags, etype)
		if err != nil {
			return 0, err
		}
		if !first && sn != seq+1 {
			return 0, fmt.Errorf("frame %d: SND_SEQ %d after %d", i, sn, seq)
		}
		seq, first = sn, false
		return n, nil
	}
	rf := frames[next-1]
	if plaintext {
		if _, err := parseCommandFrame(rf, zmtp.CmdReady); err != nil {
			return w, fmt.Errorf("plain READY: %w", err)
		}
		return w, nil
	}
	cmd, err := parseCommandFrame(rf, zmtp.CmdMessage)
	if err != nil {
		return w, fmt.Errorf("sealed READY: %w", err)
	}
	if _, err := plainLen(next-1, cmd); err != nil {
		return w, err
	}
	for i := next; i < len(frames); i++ {
		f := frames[i]
		if f.IsCommand() || f.More() {
			return w, fmt.Errorf("frame %d: flags %#x: want a data frame without MORE", i, f.Flags)
		}
		cmd, err := zmtp.ParseCommand(f.Body)
		if err != nil || !cmd.Is(zmtp.CmdMessage) {
			return w, fmt.Errorf("frame %d: want MESSAGE: %v %v", i, cmd, err)
		}
		n, err := plainLen(i, cmd)
		if err != nil {
			return w, err
		}
		w.messages++
		w.lengths = append(w.lengths, n)
		switch n {
		case gssPingLen:
			w.pings++
		case gssPongLen:
			w.pongs++
		}
	}
	return w, nil
}

// gssTimed runs f and fails t if it took longer than d.
func gssTimed(t testing.TB, what string, d time.Duration, f func()) time.Duration {
	t.Helper()
	began := time.Now()
	f()
	took := time.Since(began)
	if took > d {
		t.Errorf("%s took %v, want at most %v", what, took.Round(time.Millisecond), d)
	}
	return took
}

// TestGSSAPIWireChecker runs checkOurGSSWire on libzmq <-> libzmq sessions
// (sealed with heartbeats both ways, and plaintext), through the recording
// proxy: the checker must accept libzmq's own layout, and count the
// heartbeats it knows are there, before it judges ours.
func TestGSSAPIWireChecker(t *testing.T) {
	r := gssRealm(t)
	for _, plaintext := range []bool{false, true} {
		t.Run(fmt.Sprintf("plaintext=%v", plaintext), func(t *testing.T) {
			lib := newZMQLib(t)
			srv := lib.gssServer(zmq.DEALER, plaintext)
			cli := lib.gssClient(zmq.DEALER, r.ServiceName, plaintext)
			for _, s := range []*zmq.Socket{srv, cli} {
				must(t, s.SetHeartbeatIvl(50*time.Millisecond))
				must(t, s.SetRcvtimeo(stepTimeout))
			}
			p := startProxy(t, lib.bind(srv))
			must(t, cli.Connect(p.endpoint))
			msg := strMsg("part", "", strings.Repeat("x", 300))
			libSend(t, cli, msg...)
			libExpect(t, srv, msg...)
			time.Sleep(300 * time.Millisecond)
			libSend(t, srv, msg...)
			libExpect(t, cli, msg...)
			must(t, cli.Close())
			p.closed(0, stepTimeout)
			toClient, toServer := p.conns[0].bytes()
			for _, d := range []struct {
				client bool
				stream []byte
			}{{true, toServer}, {false, toClient}} {
				w, err := checkOurGSSWire(d.stream, d.client, plaintext, gssEtype(r))
				if err != nil {
					t.Fatalf("client=%v: %v", d.client, err)
				}
				if plaintext {
					continue
				}
				if w.pings == 0 || w.pongs == 0 || w.messages != len(msg)+w.pings+w.pongs {
					t.Errorf("client=%v: %d MESSAGE frames, %d PINGs, %d PONGs (lengths %v); want %d parts and heartbeats",
						d.client, w.messages, w.pings, w.pongs, w.lengths, len(msg))
				}
			}
			// A stream cut inside the handshake, or with a plain command
			// after a sealed READY, is refused.
			if _, err := checkOurGSSWire(toServer[:zmtp.GreetingSize+10], true, plaintext, gssEtype(r)); err == nil {
				t.Error("a stream cut after 10 bytes of INITIATE passed")
			}
			if !plaintext {
				bad := zmtp.AppendFrame(bytes.Clone(toServer), zmtp.FlagCommand, zmtp.AppendPing(nil, zmtp.Ping{}))
				if _, err := checkOurGSSWire(bad, true, false, gssEtype(r)); err == nil {
					t.Error("a plain PING after the handshake passed")
				}
			}
		})
	}
}
