package transport

import (
	"bytes"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func curveConfigs(t testing.TB) (client, server *Config, clientKeys cert.KeyPair) {
	t.Helper()
	srv, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, _ := cert.GenerateKeyPair(nil)
	cm, err := mechanism.CurveClient(srv.Public, cli)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := mechanism.CurveServer(srv)
	if err != nil {
		t.Fatal(err)
	}
	return &Config{Mechanism: cm, SocketType: zmtp.DEALER}, &Config{Mechanism: sm, SocketType: zmtp.ROUTER}, cli
}

func TestCurveRoundTrip(t *testing.T) {
	ccfg, scfg, cli := curveConfigs(t)
	c, s := pair(t, ccfg, scfg)
	var got [][]byte
	var err error
	for i := 0; i < 300; i++ {
		want := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{byte(i)}, i*7)}
		if err := c.WriteMessage(want); err != nil {
			t.Fatal(err)
		}
		if got, err = s.ReadMessage(got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || !bytes.Equal(got[2], want[2]) || string(got[0]) != "hello" || len(got[1]) != 0 {
			t.Fatalf("message %d: got %q", i, got)
		}
		if err := s.WriteMessage(got); err != nil {
			t.Fatal(err)
		}
		if got, err = c.ReadMessage(got); err != nil || len(got) != 3 {
			t.Fatal(err)
		}
	}
	if st := s.ConnectionState(); st.PeerPublicKey == nil || *st.PeerPublicKey != cli.Public || st.Mechanism != "CURVE" {
		t.Fatalf("state %+v", st)
	}
}

// TestCurveAllocations: steady-state CURVE WriteMessage and ReadMessage
// allocate nothing: frames are sealed from the caller's buffers into the
// reused output buffer and opened into the slots ReadMessage reuses.
func TestCurveAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are not stable in -short mode")
	}
	ccfg, scfg, _ := curveConfigs(t)
	c, s := pair(t, ccfg, scfg)
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		msg := [][]byte{make([]byte, n), make([]byte, n)}
		allocs, _ := roundTripAllocs(t, c, s, msg)
		if allocs != 0 {
			t.Errorf("%d-byte frames: %v allocations per CURVE round trip, want 0", n, allocs)
		}
	}
}
