package conformance

// Our CURVE client (transport.Dial with mechanism.CurveClient) against a
// libzmq 4.3.4 CURVE server (pebbe/zmq4), with and without a libzmq ZAP
// handler.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// curveSizes are the frame sizes every interop test carries: empty, the
// largest short frame, the smallest long frame, and 1 MiB.
var curveSizes = []int{0, 255, 256, 1 << 20}

func curveSizedMessage(tag byte) [][]byte {
	msg := make([][]byte, len(curveSizes))
	for i, n := range curveSizes {
		msg[i] = bytes.Repeat([]byte{tag + byte(i)}, n)
	}
	return msg
}

// curveManyMessages is how many messages go each way in the long-session
// tests: more than 256, so that every short nonce counter needs two bytes.
const curveManyMessages = 320

func TestCurveOurClientDealerLibzmqRouter(t *testing.T) {
	t.Parallel()
	for _, withZAP := range []bool{false, true} {
		name := "no-ZAP"
		if withZAP {
			name = "ZAP"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srvKeys, cliKeys := docServer(t), testkeys.New(t)
			lib := newZMQLib(t)
			var zh *libZAP
			if withZAP {
				zh = lib.zap(func(req [][]byte) zapAnswer {
					return zapAnswer{Status: "200", Text: "OK", UserID: "bob",
						Metadata: zmtp.Metadata{{Name: "X-Zap", Value: []byte("yes")}}}
				})
			}
			router := lib.curveServer(zmq.ROUTER, srvKeys)
			must(t, router.SetIdentity("LIBZMQ-ROUTER"))
			must(t, router.SetZapDomain("global"))
			mon := lib.monitor(router, handshakeEvents)
			ep := lib.bind(router)

			cfg := curveClientConfig(t, srvKeys.Public, cliKeys, zmtp.DEALER)
			cfg.Identity = []byte("GO-DEALER")
			cfg.Metadata = zmtp.Metadata{{Name: "X-Hello", Value: []byte("world")}}
			c, err := transport.Dial(ep, cfg)
			if err != nil {
				t.Fatalf("our client: %v", err)
			}
			defer c.Close()

			st := c.ConnectionState()
			if st.Mechanism != "CURVE" || st.PeerSocketType != zmtp.ROUTER || string(st.PeerIdentity) != "LIBZMQ-ROUTER" {
				t.Errorf("our client's state: mechanism %q, peer type %q, peer identity %q", st.Mechanism, st.PeerSocketType, st.PeerIdentity)
			}
			if st.PeerPublicKey == nil || *st.PeerPublicKey != srvKeys.Public {
				t.Errorf("our client's PeerPublicKey = %v, want %v", st.PeerPublicKey, srvKeys.Public)
			}
			if e, ok := mon.next(2 * time.Second); !ok || e.Event != zmq.EVENT_HANDSHAKE_SUCCEEDED {
				t.Errorf("libzmq server monitor: %v (ok %v), want HANDSHAKE_SUCCEEDED", e, ok)
			}

			// The libzmq server sees our Identity (as the ROUTER routing
			// id), our Socket-Type and our application metadata, and the
			// User-Id its ZAP handler gave.
			if err := c.WriteMessage(strMsg("hello")); err != nil {
				t.Fatal(err)
			}
			msg, md, err := router.RecvMessageWithMetadata(0, "User-Id", "Socket-Type", "Identity", "X-Hello", "X-Zap", "Peer-Address")
			if err != nil {
				t.Fatalf("libzmq receive: %v", err)
			}
			if len(msg) != 2 || msg[0] != "GO-DEALER" || msg[1] != "hello" {
				t.Errorf("libzmq ROUTER got %q, want [GO-DEALER hello]", msg)
			}
			want := map[string]string{"Socket-Type": "DEALER", "Identity": "GO-DEALER", "X-Hello": "world", "Peer-Address": "127.0.0.1"}
			if withZAP {
				want["User-Id"] = "bob"
				want["X-Zap"] = "yes"
			}
			for k, v := range want {
				if md[k] != v {
					t.Errorf("libzmq sees %s = %q, want %q (all: %q)", k, md[k], v, md)
				}
			}
			if withZAP {
				req := zh.lastRequest()
				if zh.calls.Load() != 1 || len(req) != 7 {
					t.Fatalf("libzmq ZAP: %d calls, last request %q", zh.calls.Load(), req)
				}
				if string(req[0]) != "1.0" || string(req[1]) != "1" || string(req[2]) != "global" || string(req[3]) != "127.0.0.1" ||
					string(req[4]) != "LIBZMQ-ROUTER" || string(req[5]) != "CURVE" || !bytes.Equal(req[6], cliKeys.Public[:]) {
					t.Errorf("libzmq ZAP request %q", req)
				}
			}

			// Multipart, with frames of 0, 255, 256 bytes and 1 MiB, both ways.
			out := curveSizedMessage('a')
			if err := c.WriteMessage(out); err != nil {
				t.Fatal(err)
			}
			got, err := router.RecvMessageBytes(0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1+len(out) || string(got[0]) != "GO-DEALER" || !equalMsg(got[1:], out) {
				t.Errorf("libzmq ROUTER got %s, want the routing id then %s", shortMsg(got), shortMsg(out))
			}
			back := curveSizedMessage('A')
			if _, err := router.SendMessage("GO-DEALER", back); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if got, err := c.ReadMessage(nil); err != nil || !equalMsg(got, back) {
				t.Errorf("our client got %s, %v; want %s", shortMsg(got), err, shortMsg(back))
			}

			// More than 256 messages each way, so the nonce counters pass
			// one byte.
			for i := 0; i < curveManyMessages; i++ {
				if err := c.WriteMessage(strMsg(fmt.Sprintf("up %d", i), "x")); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < curveManyMessages; i++ {
				got, err := router.RecvMessage(0)
				if err != nil {
					t.Fatalf("libzmq receive %d: %v", i, err)
				}
				if len(got) != 3 || got[1] != fmt.Sprintf("up %d", i) || got[2] != "x" {
					t.Fatalf("libzmq message %d = %q", i, got)
				}
				if _, err := router.SendMessage("GO-DEALER", fmt.Sprintf("down %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < curveManyMessages; i++ {
				got, err := c.ReadMessage(nil)
				if err != nil {
					t.Fatalf("our read %d: %v", i, err)
				}
				if len(got) != 1 || string(got[0]) != fmt.Sprintf("down %d", i) {
					t.Fatalf("our message %d = %q", i, got)
				}
			}
			if es := mon.collect(50 * time.Millisecond); len(es) != 0 {
				t.Errorf("libzmq server monitor after the session: %v", es)
			}
		})
	}
}

func TestCurveOurClientReqLibzmqRep(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), docClient(t)
	lib := newZMQLib(t)
	rep := lib.curveServer(zmq.REP, srvKeys)
	ep := lib.bind(rep)

	cfg := curveClientConfig(t, srvKeys.Public, cliKeys, zmtp.REQ)
	c, err := transport.Dial(ep, cfg)
	if err != nil {
		t.Fatalf("our client: %v", err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.PeerSocketType != zmtp.REP {
		t.Errorf("peer socket type %q", st.PeerSocketType)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// The transport leaves the REQ envelope to the layer above: we send
	// the empty delimiter ourselves and get it back.
	for i := 0; i < curveManyMessages; i++ {
		req := strMsg("", fmt.Sprintf("request %d", i))
		if i == 7 {
			req = append([][]byte{{}}, curveSizedMessage('r')...)
		}
		if err := c.WriteMessage(req); err != nil {
			t.Fatal(err)
		}
		got, err := rep.RecvMessageBytes(0)
		if err != nil {
			t.Fatalf("libzmq REP receive %d: %v", i, err)
		}
		if !equalMsg(got, req[1:]) {
			t.Fatalf("libzmq REP got %s, want %s", shortMsg(got), shortMsg(req[1:]))
		}
		if _, err := rep.SendMessage(got); err != nil {
			t.Fatal(err)
		}
		back, err := c.ReadMessage(nil)
		if err != nil {
			t.Fatalf("our read %d: %v", i, err)
		}
		if !equalMsg(back, req) {
			t.Fatalf("our REQ got %s, want %s", shortMsg(back), shortMsg(req))
		}
	}
}

func TestCurveOurClientSubLibzmqPub(t *testing.T) {
	t.Parallel()
	srvKeys, cliKeys := docServer(t), testkeys.New(t)
	lib := newZMQLib(t)
	pub := lib.curveServer(zmq.PUB, srvKeys)
	ep := lib.bind(pub)

	c, err := transport.Dial(ep, curveClientConfig(t, srvKeys.Public, cliKeys, zmtp.SUB))
	if err != nil {
		t.Fatalf("our client: %v", err)
	}
	defer c.Close()
	// Our Subscribe travels as an inner COMMAND SUBSCRIBE in a MESSAGE
	// (libzmq is a ZMTP 3.1 peer); libzmq's PUB then filters for us.
	if err := c.Subscribe([]byte("news")); err != nil {
		t.Fatal(err)
	}
	r := readLoop(c)
	// Publish until the subscription has visibly arrived.
	deadline := time.Now().Add(3 * time.Second)
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatal("the subscription never reached libzmq's PUB")
		}
		pub.SendMessage("other topic")
		pub.SendMessage("news", "probe")
		select {
		case m := <-r.msgs:
			if len(m) != 2 || string(m[0]) != "news" || string(m[1]) != "probe" {
				t.Fatalf("our SUB got %q", m)
			}
			got = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Drain stray probes, then a long run with interleaved non-matching
	// messages and every size.
	for drained := false; !drained; {
		select {
		case <-r.msgs:
		case <-time.After(50 * time.Millisecond):
			drained = true
		}
	}
	for i := 0; i < curveManyMessages; i++ {
		pub.SendMessage("other", i)
		if _, err := pub.SendMessage("news", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	big := append(strMsg("news"), curveSizedMessage('p')...)
	if _, err := pub.SendMessage(big); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < curveManyMessages; i++ {
		m := r.next(t, 5*time.Second)
		if len(m) != 2 || string(m[0]) != "news" || string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("our SUB message %d = %q", i, m)
		}
	}
	if m := r.next(t, 5*time.Second); !equalMsg(m, big) {
		t.Fatalf("our SUB got %s, want %s", shortMsg(m), shortMsg(big))
	}
	// Cancel: libzmq stops sending.
	if err := c.Unsubscribe([]byte("news")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 5; i++ {
		pub.SendMessage("news", "after cancel")
	}
	select {
	case m := <-r.msgs:
		t.Errorf("our SUB got %q after cancelling", m)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestCurveOurClientZAPRefused: a libzmq server whose ZAP handler answers
// 400, 300 or 500.
func TestCurveOurClientZAPRefused(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"400", "300", "500"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			srvKeys := docServer(t)
			lib := newZMQLib(t)
			zh := lib.zap(func([][]byte) zapAnswer { return zapAnswer{Status: status, Text: "refused"} })
			srv := lib.curveServer(zmq.DEALER, srvKeys)
			must(t, srv.SetHandshakeIvl(1500*time.Millisecond))
			mon := lib.monitor(srv, handshakeEvents)
			ep := lib.bind(srv)

			cfg := curveClientConfig(t, srvKeys.Public, testkeys.New(t), zmtp.DEALER)
			cfg.HandshakeTimeout = 500 * time.Millisecond
			// An attempt is judged only if it reached ZAP: on a loaded
			// machine 500 ms may end our handshake before INITIATE.
			var err error
			var elapsed time.Duration
			for attempt := 1; ; attempt++ {
				before := zh.calls.Load()
				start := time.Now()
				var c *transport.Conn
				c, err = transport.Dial(ep, cfg)
				elapsed = time.Since(start)
				if err == nil {
					c.Close()
					t.Fatal("our client connected; want a refusal")
				}
				if zh.calls.Load() > before {
					break
				}
				if attempt == 3 {
					t.Fatalf("3 attempts ended before libzmq asked ZAP; last: %v", err)
				}
				t.Logf("attempt %d ended before ZAP was asked (%v); again", attempt, err)
			}
			var pe *mechanism.PeerError
			switch status {
			case "400", "500":
				if !errors.As(err, &pe) || pe.Status().String() != status || pe.Reason != status {
					t.Errorf("our client's error = %v; want a *mechanism.PeerError with status %s", err, status)
				}
				if re := (*transport.ServerRefusedError)(nil); !errors.As(err, &re) || re.Status.String() != status {
					t.Errorf("our client's error = %v; want a *transport.ServerRefusedError with status %s", err, status)
				}
			case "300":
				if errors.As(err, &pe) {
					t.Errorf("our client's error = %v; want no PeerError for ZAP 300", err)
				}
				// libzmq either closes at once or stays silent until a
				// handshake timer (docs/libzmq-behaviour.md#zap-status-outcomes).
				var he *transport.HandshakeError
				if !(errors.As(err, &he) && he.Timeout()) && !curveIsClosed(err) {
					t.Errorf("our client's error = %v; want a timeout or a closed connection", err)
				}
				t.Logf("ZAP 300: our client ended after %v with %v", elapsed.Round(time.Millisecond), err)
			}
			e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 2*time.Second)
			if !ok || fmt.Sprint(e.Value) != status {
				t.Errorf("libzmq server monitor: %v; want HANDSHAKE_FAILED_AUTH %s", seen, status)
			}
			if zh.calls.Load() < 1 {
				t.Errorf("libzmq ZAP handler was not asked")
			}
		})
	}
}

// TestCurveOurClientWrongServerKey: our client is configured with a server
// key that is not the libzmq server's. libzmq cannot open the HELLO box and
// closes without ERROR (ZMTP_CRYPTOGRAPHIC); our client sees a closed
// connection.
func TestCurveOurClientWrongServerKey(t *testing.T) {
	t.Parallel()
	lib := newZMQLib(t)
	srv := lib.curveServer(zmq.DEALER, docServer(t))
	mon := lib.monitor(srv, handshakeEvents)
	ep := lib.bind(srv)
	cfg := curveClientConfig(t, testkeys.New(t).Public, docClient(t), zmtp.DEALER)
	cfg.HandshakeTimeout = time.Second
	c, err := transport.Dial(ep, cfg)
	if err == nil {
		c.Close()
		t.Fatal("our client connected with the wrong server key")
	}
	var pe *mechanism.PeerError
	if errors.As(err, &pe) || !curveIsClosed(err) {
		t.Errorf("our client's error = %v; want a closed connection", err)
	}
	var he *transport.HandshakeError
	if !errors.Is(err, transport.ErrPeerClosed) || !errors.As(err, &he) || he.Step != transport.StepSecurity ||
		!strings.Contains(err.Error(), "check the server's public key") {
		t.Errorf("our client's error = %v; want ErrPeerClosed in StepSecurity saying to check the server's public key", err)
	}
	e, seen, ok := mon.waitFor(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, 2*time.Second)
	if !ok || e.Value != errCryptographic {
		t.Errorf("libzmq server monitor: %v; want HANDSHAKE_FAILED_PROTOCOL ZMTP_CRYPTOGRAPHIC", seen)
	}
}

// TestCurveOurClientPebbeAuth uses pebbe's own ZAP handler (zmq4.AuthStart,
// AuthCurveAdd), which serves libzmq's default context. It does not run in
// parallel with itself; the other tests use their own contexts.
func TestCurveOurClientPebbeAuth(t *testing.T) {
	srvKeys, allowed, unknown := docServer(t), docClient(t), testkeys.New(t)
	if err := zmq.AuthStart(); err != nil {
		t.Fatal(err)
	}
	defer zmq.AuthStop()
	zmq.AuthCurveAdd("curvetest", allowed.Public.String())
	defer zmq.AuthCurveRemoveAll("curvetest")

	srv, err := zmq.NewSocket(zmq.DEALER)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	must(t, srv.SetLinger(0))
	must(t, srv.SetRcvtimeo(5*time.Second))
	must(t, srv.ServerAuthCurve("curvetest", srvKeys.Secret.Z85()))
	must(t, srv.Bind("tcp://127.0.0.1:*"))
	ep, err := srv.GetLastEndpoint()
	if err != nil {
		t.Fatal(err)
	}

	c, err := transport.Dial(ep, curveClientConfig(t, srvKeys.Public, allowed, zmtp.DEALER))
	if err != nil {
		t.Fatalf("our client with an allowed key: %v", err)
	}
	defer c.Close()
	if err := c.WriteMessage(strMsg("allowed")); err != nil {
		t.Fatal(err)
	}
	if msg, md, err := srv.RecvMessageWithMetadata(0, "User-Id", "Socket-Type"); err != nil || len(msg) != 1 || msg[0] != "allowed" || md["Socket-Type"] != "DEALER" {
		t.Errorf("libzmq got %q %q, %v", msg, md, err)
	}

	_, err = transport.Dial(ep, curveClientConfig(t, srvKeys.Public, unknown, zmtp.DEALER))
	var pe *mechanism.PeerError
	if !errors.As(err, &pe) || pe.Status() != 400 {
		t.Errorf("our client with an unknown key: %v; want PeerError 400", err)
	}
}

// curveIsClosed reports an error that means the peer closed the connection.
func curveIsClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(fmt.Sprint(err), "connection reset")
}
