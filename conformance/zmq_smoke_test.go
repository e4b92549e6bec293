package conformance

// The smoke test proves the cgo toolchain and libzmq are in place before the
// interop suite relies on them: it loads libzmq through github.com/pebbe/zmq4,
// checks the version the suite is written against, bounces one message
// between a DEALER and a ROUTER over TCP on the loopback interface, and
// checks that the root module (through the replace directive) and libzmq
// agree on CURVE keys.

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
)

// smokeTimeout bounds every send and receive of the smoke test, so that a
// broken setup fails in seconds instead of hanging until the test deadline.
const smokeTimeout = 5 * time.Second

func TestLibzmqVersion(t *testing.T) {
	major, minor, patch := zmq.Version()
	t.Logf("libzmq %d.%d.%d", major, minor, patch)
	if major != 4 || minor != 3 {
		t.Errorf("libzmq %d.%d.%d; the conformance suite is written against 4.3.x (Debian libzmq3-dev 4.3.4)", major, minor, patch)
	}
	if !zmq.HasCurve() {
		t.Error("libzmq was built without CURVE support; the CURVE interop tests need it")
	}
}

func TestLibzmqDealerRouterSmoke(t *testing.T) {
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatalf("zmq_ctx_new: %v", err)
	}
	// Term blocks until every socket is closed; the sockets' cleanups run
	// first (t.Cleanup is last in, first out).
	t.Cleanup(func() {
		if err := ctx.Term(); err != nil {
			t.Errorf("zmq_ctx_term: %v", err)
		}
	})

	newSocket := func(typ zmq.Type) *zmq.Socket {
		t.Helper()
		s, err := ctx.NewSocket(typ)
		if err != nil {
			t.Fatalf("zmq_socket(%v): %v", typ, err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("zmq_close(%v): %v", typ, err)
			}
		})
		for _, set := range []func() error{
			func() error { return s.SetLinger(0) },
			func() error { return s.SetRcvtimeo(smokeTimeout) },
			func() error { return s.SetSndtimeo(smokeTimeout) },
		} {
			if err := set(); err != nil {
				t.Fatalf("zmq_setsockopt(%v): %v", typ, err)
			}
		}
		return s
	}

	router := newSocket(zmq.ROUTER)
	if err := router.SetRouterMandatory(1); err != nil {
		t.Fatalf("ZMQ_ROUTER_MANDATORY: %v", err)
	}
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatalf("ROUTER bind: %v", err)
	}
	endpoint, err := router.GetLastEndpoint()
	if err != nil {
		t.Fatalf("ZMQ_LAST_ENDPOINT: %v", err)
	}

	dealer := newSocket(zmq.DEALER)
	const identity = "smoke-dealer"
	if err := dealer.SetIdentity(identity); err != nil {
		t.Fatalf("ZMQ_ROUTING_ID: %v", err)
	}
	if err := dealer.Connect(endpoint); err != nil {
		t.Fatalf("DEALER connect %s: %v", endpoint, err)
	}

	// DEALER -> ROUTER: the ROUTER sees the DEALER's routing id first.
	if _, err := dealer.SendMessage("ping", []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatalf("DEALER send: %v", err)
	}
	got, err := router.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("ROUTER receive from %s: %v", endpoint, err)
	}
	want := [][]byte{[]byte(identity), []byte("ping"), {0, 1, 2, 0xff}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("ROUTER received %q, want %q", got, want)
	}

	// ROUTER -> DEALER: addressed by that routing id, which ROUTER_MANDATORY
	// turns into an error if the ROUTER does not know it.
	if _, err := router.SendMessage(identity, "pong"); err != nil {
		t.Fatalf("ROUTER send: %v", err)
	}
	reply, err := dealer.RecvMessage(0)
	if err != nil {
		t.Fatalf("DEALER receive: %v", err)
	}
	if !slices.Equal(reply, []string{"pong"}) {
		t.Fatalf("DEALER received %q, want [\"pong\"]", reply)
	}
}

// TestLibzmqCurveKeysMatchCert derives public keys from secret keys both ways:
// libzmq's zmq_curve_keypair checked by package cert, and cert's key pairs
// checked by libzmq's zmq_curve_public.
func TestLibzmqCurveKeysMatchCert(t *testing.T) {
	zpub, zsec, err := zmq.NewCurveKeypair()
	if err != nil {
		t.Fatalf("zmq_curve_keypair: %v", err)
	}
	sec, err := cert.ParseSecretKey(zsec)
	if err != nil {
		t.Fatalf("cert.ParseSecretKey(libzmq secret): %v", err)
	}
	pub, err := sec.PublicKey()
	if err != nil {
		t.Fatalf("cert.SecretKey.PublicKey: %v", err)
	}
	if pub.String() != zpub {
		t.Errorf("libzmq key pair: cert derives public key %s, libzmq made %s", pub, zpub)
	}

	kp, err := cert.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatalf("cert.GenerateKeyPair: %v", err)
	}
	zpub, err = zmq.AuthCurvePublic(kp.Secret.Z85())
	if err != nil {
		t.Fatalf("zmq_curve_public: %v", err)
	}
	if zpub != kp.Public.String() {
		t.Errorf("cert key pair: libzmq derives public key %s, cert made %s", zpub, kp.Public)
	}
}
