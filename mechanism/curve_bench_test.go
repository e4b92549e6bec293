package mechanism

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
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
