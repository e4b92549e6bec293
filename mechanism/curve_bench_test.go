package mechanism

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var benchSizes = []int{16, 1 << 10, 64 << 10, 1 << 20}

func benchSession(b *testing.B) (client, server Session) {
	ch, sh := newCurvePair(b, nil)
	if cerr, serr := pump(b, ch, sh); cerr != nil || serr != nil {
		b.Fatal(cerr, serr)
	}
	return ch.Session(), sh.Session()
}

// BenchmarkCurveSeal measures Sealer.Seal; compare with
// BenchmarkSecretboxSeal, the raw x/crypto secretbox at the same sizes.
func BenchmarkCurveSeal(b *testing.B) {
	cs, _ := benchSession(b)
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			payload := make([]byte, n)
			dst := make([]byte, 0, SealedSize(n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = cs.Sealer.Seal(dst[:0], 0, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCurveOpen measures Opener.Open. Each iteration opens a fresh
// MESSAGE, since a nonce is accepted once; sealing them is not timed.
func BenchmarkCurveOpen(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs, ss := benchSession(b)
			payload := make([]byte, n)
			const batch = 64
			bodies := make([][]byte, batch)
			for i := range bodies {
				bodies[i] = make([]byte, 0, SealedSize(n))
			}
			out := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			i := batch
			for b.Loop() {
				if i == batch {
					b.StopTimer()
					for j := range bodies {
						bodies[j], _ = cs.Sealer.Seal(bodies[j][:0], 0, payload)
					}
					i = 0
					b.StartTimer()
				}
				var err error
				if _, out, err = ss.Opener.Open(out[:0], bodies[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSecretboxSeal is the reference: x/crypto's secretbox.Seal on a
// plaintext of flags+payload, as a MESSAGE needs.
func BenchmarkSecretboxSeal(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			msg := make([]byte, n+1)
			dst := make([]byte, 0, n+1+secretbox.Overhead)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				dst = secretbox.Seal(dst[:0], msg, &nonce, &key)
			}
		})
	}
}

// BenchmarkSecretboxOpen is the reference for BenchmarkCurveOpen.
func BenchmarkSecretboxOpen(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sealed := secretbox.Seal(nil, make([]byte, n+1), &nonce, &key)
			dst := make([]byte, 0, n+1)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				var ok bool
				if dst, ok = secretbox.Open(dst[:0], sealed, &nonce, &key); !ok {
					b.Fatal("open")
				}
			}
		})
	}
}

// BenchmarkCurveHandshake runs whole client-server handshakes in memory;
// handshakes/s is 1e9 / ns/op.
func BenchmarkCurveHandshake(b *testing.B) {
	srv := testkeys.FromZ85(b, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(b, docClientPublic, docClientSecret)
	cm, _ := CurveClient(srv.Public, cli)
	sm, _ := CurveServer(srv)
	b.ReportAllocs()
	for b.Loop() {
		ch, _ := cm.NewHandshake(Params{})
		sh, _ := sm.NewHandshake(Params{})
		if cerr, serr := pump(b, ch, sh); cerr != nil || serr != nil {
			b.Fatal(cerr, serr)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkCurveHandshakeSide runs one side of a CURVE handshake against
// the commands the other side sent in a recorded handshake (both sides
// take their randomness from a fixed stream, so the recording replays byte
// for byte): NewHandshake, Start, Handle of each peer command, Session and
// Close. Nothing of the peer, nor any wire encoding, is counted: allocs/op
// and B/op are the mechanism's own, per side. "zap" asks a ZAP handler
// that accepts every client and allocates nothing itself.
func BenchmarkCurveHandshakeSide(b *testing.B) {
	srv := testkeys.FromZ85(b, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(b, docClientPublic, docClientSecret)
	cm, _ := CurveClient(srv.Public, cli)
	sm, _ := CurveServer(srv)
	md := zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("DEALER")}, {Name: zmtp.PropIdentity}}
	rep := &zap.Reply{Version: zap.Version, StatusCode: zap.StatusOK, StatusText: "OK", UserID: "alice"}
	accept := zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) { return rep, nil })
	crandBytes, srandBytes := bytes.Repeat([]byte{1, 2, 3, 4}, 64), bytes.Repeat([]byte{5, 6, 7, 8}, 64)
	var crand, srand bytes.Reader
	for _, side := range []struct {
		name string
		zap  zap.Handler
	}{{"client", nil}, {"server", nil}, {"server-zap", accept}} {
		b.Run(side.name, func(b *testing.B) {
			cp := Params{Metadata: md, Rand: &crand}
			sp := Params{Metadata: md, Rand: &srand, ZAP: side.zap, PeerAddress: "127.0.0.1"}
			crand.Reset(crandBytes)
			srand.Reset(srandBytes)
			fromClient, fromServer := recordCurveHandshake(b, cm, sm, cp, sp)
			m, p, rnd, rndBytes, in, out := cm, cp, &crand, crandBytes, fromServer, fromClient
			if side.name != "client" {
				m, p, rnd, rndBytes, in, out = sm, sp, &srand, srandBytes, fromClient, fromServer
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				rnd.Reset(rndBytes)
				h, err := m.NewHandshake(p)
				if err != nil {
					b.Fatal(err)
				}
				sent, err := h.Start(ctx)
				n := 0
				for _, cmd := range in {
					if err != nil {
						break
					}
					n = checkSent(b, out, n, sent)
					sent, err = h.Handle(ctx, cmd)
				}
				n = checkSent(b, out, n, sent)
				if err != nil || !h.Done() || n != len(out) {
					b.Fatalf("err %v, done %v, %d of %d commands sent", err, h.Done(), n, len(out))
				}
				h.Session()
				h.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// checkSent checks that sent are the commands out[n:] and returns the index
// of the next one.
func checkSent(b *testing.B, out []zmtp.Command, n int, sent []zmtp.Command) int {
	for _, cmd := range sent {
		if n >= len(out) || cmd.Name != out[n].Name || !bytes.Equal(cmd.Data, out[n].Data) {
			b.Fatalf("command %d differs from the recording", n)
		}
		n++
	}
	return n
}

// recordCurveHandshake runs a handshake of cm and sm with cp and sp and
// returns copies of the commands each side sent.
func recordCurveHandshake(b *testing.B, cm, sm Mechanism, cp, sp Params) (fromClient, fromServer []zmtp.Command) {
	ctx := context.Background()
	ch, _ := cm.NewHandshake(cp)
	sh, _ := sm.NewHandshake(sp)
	toServer, err := ch.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sh.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for !ch.Done() || !sh.Done() {
		if len(toServer) == 0 {
			b.Fatal("handshake stalled")
		}
		var toClient []zmtp.Command
		for _, cmd := range toServer {
			fromClient = append(fromClient, roundTrip(b, cmd))
			out, err := sh.Handle(ctx, fromClient[len(fromClient)-1])
			if err != nil {
				b.Fatal(err)
			}
			toClient = append(toClient, out...)
		}
		toServer = nil
		for _, cmd := range toClient {
			fromServer = append(fromServer, roundTrip(b, cmd))
			out, err := ch.Handle(ctx, fromServer[len(fromServer)-1])
			if err != nil {
				b.Fatal(err)
			}
			toServer = append(toServer, out...)
		}
	}
	return fromClient, fromServer
}
