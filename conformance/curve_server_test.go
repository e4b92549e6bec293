package conformance

// A libzmq 4.3.4 CURVE client (pebbe/zmq4) against our CURVE server
// (transport.Listen with mechanism.CurveServer and zap.Authenticator).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// curveOurAuth is our ZAP handler for these tests: a zap.Authenticator
// whose CURVE domain is a certificate directory holding the allowed client
// keys (each certificate carries the metadata X-Role=tester), with user ids
// from SetCurveUserID. It counts the requests and keeps the last one.
type curveOurAuth struct {
	auth  *zap.Authenticator
	calls atomic.Int32
	mu    sync.Mutex
	last  *zap.Request
}

func newCurveOurAuth(t testing.TB, domain string, allowed ...cert.PublicKey) *curveOurAuth {
	t.Helper()
	dir := t.TempDir()
	for i, k := range allowed {
		c := &cert.Certificate{Public: k, Metadata: []cert.MetadataEntry{{Name: "X-Role", Value: "tester"}}}
		b, err := c.MarshalPublic(cert.LayoutCZMQ, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("client%d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := zap.NewAuthenticator()
	t.Cleanup(func() { a.Close() })
	if err := a.ConfigureCurve(domain, dir); err != nil {
		t.Fatal(err)
	}
	a.SetCurveUserID(func(k cert.PublicKey) string { return "user-" + k.String()[:8] })
	return &curveOurAuth{auth: a}
}

func (a *curveOurAuth) Authenticate(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
	a.calls.Add(1)
	cp := *req
	a.mu.Lock()
	a.last = &cp
	a.mu.Unlock()
	return a.auth.Authenticate(ctx, req)
}

func (a *curveOurAuth) lastRequest() *zap.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func TestCurveLibzmqDealerOurRouter(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), docClient(t)
	auth := newCurveOurAuth(t, "global", cliKeys.Public)
	cfg := curveServerConfig(t, srvKeys, zmtp.ROUTER)
	cfg.Identity = []byte("GO-ROUTER")
	cfg.Metadata = zmtp.Metadata{{Name: "X-Server", Value: []byte("go")}}
	cfg.ZAPHandler = auth
	cfg.ZAPDomain = "global"
	srv := serve(t, cfg)

	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.DEALER, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
	must(t, cli.SetIdentity("LIBZMQ-DEALER"))
	mon := lib.monitor(cli, handshakeEvents)
	must(t, cli.Connect(srv.endpoint))

	a := srv.next(3 * time.Second)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	c := a.conn
	if e, ok := mon.next(2 * time.Second); !ok || e.Event != zmq.EVENT_HANDSHAKE_SUCCEEDED {
		t.Errorf("libzmq client monitor: %v (ok %v), want HANDSHAKE_SUCCEEDED", e, ok)
	}

	// What our server knows about the libzmq client.
	st := c.ConnectionState()
	if st.PeerPublicKey == nil || *st.PeerPublicKey != cliKeys.Public {
		t.Errorf("PeerPublicKey = %v, want the libzmq client's %v", st.PeerPublicKey, cliKeys.Public)
	}
	if st.PeerSocketType != zmtp.DEALER || string(st.PeerIdentity) != "LIBZMQ-DEALER" || st.PeerAddress != "127.0.0.1" {
		t.Errorf("peer type %q, identity %q, address %q", st.PeerSocketType, st.PeerIdentity, st.PeerAddress)
	}
	wantUser := "user-" + cliKeys.Public.String()[:8]
	if st.UserID != wantUser {
		t.Errorf("UserID = %q, want %q", st.UserID, wantUser)
	}
	if v, ok := st.Property("User-Id"); !ok || string(v) != wantUser {
		t.Errorf("Property(User-Id) = %q, %v", v, ok)
	}
	if v, ok := st.Property("X-Role"); !ok || string(v) != "tester" {
		t.Errorf("Property(X-Role) = %q, %v; want the certificate's metadata from ZAP", v, ok)
	}
	req := auth.lastRequest()
	if auth.calls.Load() != 1 || req == nil {
		t.Fatalf("ZAP asked %d times", auth.calls.Load())
	}
	if req.Mechanism != "CURVE" || req.Domain != "global" || req.Address != "127.0.0.1" || string(req.Identity) != "GO-ROUTER" ||
		string(req.RequestID) != "1" || len(req.Credentials) != 1 || !bytes.Equal(req.Credentials[0], cliKeys.Public[:]) {
		t.Errorf("ZAP request %+v", req)
	}

	r := readLoop(c)
	if _, err := cli.SendMessage("hello", "there"); err != nil {
		t.Fatal(err)
	}
	if m := r.next(t, 3*time.Second); !equalMsg(m, strMsg("hello", "there")) {
		t.Errorf("our ROUTER got %q", m)
	}
	// The libzmq client sees our Socket-Type, Identity and metadata.
	if err := c.WriteMessage(strMsg("welcome")); err != nil {
		t.Fatal(err)
	}
	msg, md, err := cli.RecvMessageWithMetadata(0, "Socket-Type", "Identity", "X-Server", "User-Id")
	if err != nil || len(msg) != 1 || msg[0] != "welcome" {
		t.Fatalf("libzmq client got %q, %v", msg, err)
	}
	for k, v := range map[string]string{"Socket-Type": "ROUTER", "Identity": "GO-ROUTER", "X-Server": "go"} {
		if md[k] != v {
			t.Errorf("libzmq client sees %s = %q, want %q", k, md[k], v)
		}
	}
	if _, ok := md["User-Id"]; ok {
		t.Errorf("libzmq client sees a User-Id %q; clients never ask ZAP", md["User-Id"])
	}

	// Every size, both ways, then a long session.
	big := curveSizedMessage('s')
	if _, err := cli.SendMessage(big); err != nil {
		t.Fatal(err)
	}
	if m := r.next(t, 5*time.Second); !equalMsg(m, big) {
		t.Errorf("our ROUTER got %s, want %s", shortMsg(m), shortMsg(big))
	}
	if err := c.WriteMessage(big); err != nil {
		t.Fatal(err)
	}
	if m, err := cli.RecvMessageBytes(0); err != nil || !equalMsg(m, big) {
		t.Errorf("libzmq client got %s, %v", shortMsg(m), err)
	}
	for i := 0; i < curveManyMessages; i++ {
		if _, err := cli.SendMessage(fmt.Sprintf("up %d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < curveManyMessages; i++ {
		m := r.next(t, 5*time.Second)
		if !equalMsg(m, strMsg(fmt.Sprintf("up %d", i), fmt.Sprint(i))) {
			t.Fatalf("our ROUTER message %d = %q", i, m)
		}
		if err := c.WriteMessage(strMsg(fmt.Sprintf("down %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < curveManyMessages; i++ {
		m, err := cli.RecvMessage(0)
		if err != nil || len(m) != 1 || m[0] != fmt.Sprintf("down %d", i) {
			t.Fatalf("libzmq message %d = %q, %v", i, m, err)
		}
	}
	if es := mon.collect(50 * time.Millisecond); len(es) != 0 {
		t.Errorf("libzmq client monitor after the session: %v", es)
	}
	if n := srv.count.Load(); n != 1 {
		t.Errorf("our server accepted %d connections, want 1", n)
	}
}

func TestCurveLibzmqReqOurRep(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), testkeys.New(t)
	cfg := curveServerConfig(t, srvKeys, zmtp.REP) // no ZAP handler: any client key
	srv := serve(t, cfg)
	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.REQ, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
	must(t, cli.Connect(srv.endpoint))
	a := srv.next(3 * time.Second)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	c := a.conn
	if st := c.ConnectionState(); st.PeerPublicKey == nil || *st.PeerPublicKey != cliKeys.Public || st.UserID != "" {
		t.Errorf("state: key %v, user %q", st.PeerPublicKey, st.UserID)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < curveManyMessages; i++ {
		req := strMsg(fmt.Sprintf("request %d", i))
		if i == 3 {
			req = curveSizedMessage('q')
		}
		if _, err := cli.SendMessage(req); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMessage(nil)
		if err != nil {
			t.Fatalf("our read %d: %v", i, err)
		}
		// libzmq's REQ puts the empty delimiter first; our REP keeps it.
		if len(got) != 1+len(req) || len(got[0]) != 0 || !equalMsg(got[1:], req) {
			t.Fatalf("our REP got %s, want the delimiter then %s", shortMsg(got), shortMsg(req))
		}
		if err := c.WriteMessage(got); err != nil {
			t.Fatal(err)
		}
		back, err := cli.RecvMessageBytes(0)
		if err != nil || !equalMsg(back, req) {
			t.Fatalf("libzmq REQ got %s, %v", shortMsg(back), err)
		}
	}
}

func TestCurveLibzmqSubOurPub(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), testkeys.New(t)
	srv := serve(t, curveServerConfig(t, srvKeys, zmtp.PUB))
	lib := newZMQLib(t)
	sub := lib.curveClient(zmq.SUB, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
	must(t, sub.SetSubscribe("weather"))
	must(t, sub.Connect(srv.endpoint))
	a := srv.next(3 * time.Second)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	c := a.conn
	r := readLoop(c)
	// libzmq's subscription reaches our PUB as [0x01 topic].
	if m := r.next(t, 3*time.Second); !equalMsg(m, [][]byte{[]byte("\x01weather")}) {
		t.Fatalf("our PUB read %q, want the subscription [\\x01weather]", m)
	}
	for i := 0; i < curveManyMessages; i++ {
		if err := c.WriteMessage(strMsg("weather", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		// Our PUB does not filter (that is the socket layer's job), so
		// libzmq's SUB must drop this one.
		if err := c.WriteMessage(strMsg("traffic", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	big := append(strMsg("weather"), curveSizedMessage('w')...)
	if err := c.WriteMessage(big); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < curveManyMessages; i++ {
		m, err := sub.RecvMessage(0)
		if err != nil || len(m) != 2 || m[0] != "weather" || m[1] != fmt.Sprint(i) {
			t.Fatalf("libzmq SUB message %d = %q, %v", i, m, err)
		}
	}
	if m, err := sub.RecvMessageBytes(0); err != nil || !equalMsg(m, big) {
		t.Fatalf("libzmq SUB got %s, %v", shortMsg(m), err)
	}
	must(t, sub.SetUnsubscribe("weather"))
	if m := r.next(t, 3*time.Second); !equalMsg(m, [][]byte{[]byte("\x00weather")}) {
		t.Fatalf("our PUB read %q, want the cancel [\\x00weather]", m)
	}
}

// TestCurveLibzmqOurServerNoZAP: with no ZAP handler our server, like a
// libzmq CURVE server without one, accepts any client key (libzmq's
// "Stonehouse"), and the connection has no User-Id.
func TestCurveLibzmqOurServerNoZAP(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), testkeys.New(t)
	srv := serve(t, curveServerConfig(t, srvKeys, zmtp.DEALER))
	lib := newZMQLib(t)
	cli := lib.curveClient(zmq.DEALER, srvKeys.Public.String(), cliKeys.Public.String(), cliKeys.Secret.Z85())
	must(t, cli.Connect(srv.endpoint))
	a := srv.next(3 * time.Second)
	if a.err != nil {
		t.Fatalf("our server: %v", a.err)
	}
	st := a.conn.ConnectionState()
	if _, ok := st.Property("User-Id"); ok || st.UserID != "" {
		t.Errorf("User-Id without ZAP: %q", st.UserID)
	}
	if st.PeerPublicKey == nil || *st.PeerPublicKey != cliKeys.Public {
		t.Errorf("PeerPublicKey = %v", st.PeerPublicKey)
	}
	curveBounce(t, cli, a.conn)
}

// curveBounce is libzmq's bounce() between a libzmq client and our
// server's connection: two 32-byte parts each way.
func curveBounce(t testing.TB, cli *zmq.Socket, c *transport.Conn) {
	t.Helper()
	content := bytes.Repeat([]byte("x"), 32)
	msg := [][]byte{content, content}
	if _, err := cli.SendMessage(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := c.ReadMessage(nil)
	if err != nil || !equalMsg(got, msg) {
		t.Fatalf("bounce: our server got %q, %v", got, err)
	}
	if err := c.WriteMessage(got); err != nil {
		t.Fatal(err)
	}
	back, err := cli.RecvMessageBytes(0)
	if err != nil || !equalMsg(back, msg) {
		t.Fatalf("bounce: libzmq got %q, %v", back, err)
	}
	c.SetReadDeadline(time.Time{})
}
