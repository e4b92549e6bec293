package transport

import (
	"testing"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// BenchmarkNullWriteRead measures a one-frame NULL message written and read
// back in one goroutine over TCP loopback (the path TestAllocations checks).
func BenchmarkNullWriteRead(b *testing.B) {
	benchWriteRead(b, func(b *testing.B) (*Conn, *Conn) { return loopbackPair(b) })
}

// BenchmarkCurveWriteRead is BenchmarkNullWriteRead under CURVE: each
// message is sealed and opened, which the sealed path's overhead shows in
// against the crypto.
func BenchmarkCurveWriteRead(b *testing.B) {
	benchWriteRead(b, func(b *testing.B) (*Conn, *Conn) {
		ccfg, scfg, _ := curveConfigs(b)
		return loopbackPairWith(b, ccfg, scfg)
	})
}

// benchWriteRead writes a one-frame message of each size on the client
// that pair makes and reads it back on the server, in one goroutine.
func benchWriteRead(b *testing.B, pair func(*testing.B) (*Conn, *Conn)) {
	for _, sz := range messageSizes {
		b.Run(sz.name, func(b *testing.B) {
			c, s := pair(b)
			msg := [][]byte{make([]byte, sz.n)}
			var buf [][]byte
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.WriteMessage(msg); err != nil {
					b.Fatal(err)
				}
				var err error
				if buf, err = s.ReadMessage(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealedFrame measures the transport's own part of a sealed frame
// under CURVE, with no I/O: one frame sealed into the output buffer as
// WriteMessage seals it (appendFrameLocked), then opened as ReadMessage
// opens it (readSealed), into reused storage. It is where a cost of the
// mechanism-neutral message path (the sealer and opener behind interfaces)
// would show, without the noise of the network.
func BenchmarkSealedFrame(b *testing.B) {
	for _, sz := range messageSizes {
		b.Run(sz.name, func(b *testing.B) {
			ccfg, scfg, _ := curveConfigs(b)
			c, s := loopbackPairWith(b, ccfg, scfg)
			payload := make([]byte, sz.n)
			var out []byte
			msg := make([][]byte, 0, 1)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				if out, err = c.appendFrameLocked(out[:0], 0, payload); err != nil {
					b.Fatal(err)
				}
				f := zmtp.Frame{Body: out[len(out)-mechanism.SealedSize(sz.n):]}
				if msg, _, err = s.readSealed(msg[:0], f); err != nil || len(msg[0]) != sz.n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteMessage measures WriteMessage while another goroutine reads
// and discards.
func BenchmarkWriteMessage(b *testing.B) {
	for _, sz := range messageSizes {
		b.Run(sz.name, func(b *testing.B) {
			c, s := loopbackPair(b)
			done := make(chan error, 1)
			go func() {
				var buf [][]byte
				var err error
				for i := 0; i < b.N; i++ {
					if buf, err = s.ReadMessage(buf); err != nil {
						break
					}
				}
				done <- err
			}()
			msg := [][]byte{make([]byte, sz.n)}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.WriteMessage(msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkReadMessage measures ReadMessage while another goroutine writes.
func BenchmarkReadMessage(b *testing.B) {
	for _, sz := range messageSizes {
		b.Run(sz.name, func(b *testing.B) {
			c, s := loopbackPair(b)
			done := make(chan error, 1)
			go func() {
				msg := [][]byte{make([]byte, sz.n)}
				var err error
				for i := 0; i < b.N; i++ {
					if err = c.WriteMessage(msg); err != nil {
						break
					}
				}
				done <- err
			}()
			var buf [][]byte
			var err error
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if buf, err = s.ReadMessage(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkWriteMessages compares 16-byte messages sent by WriteMessage one
// at a time ("loop") with the same messages sent by WriteMessages in batches
// of 256 ("batch"), under NULL and CURVE, while another goroutine reads them
// all. msgs/s counts messages written and read (the timer stops once the
// reader has them all).
func BenchmarkWriteMessages(b *testing.B) {
	const batchSize = 256
	for _, m := range batchMechs {
		for _, mode := range []string{"loop", "batch"} {
			b.Run(m.name+"/"+mode, func(b *testing.B) {
				ccfg, scfg := m.cfgs(b)
				c, s := loopbackPairWith(b, ccfg, scfg)
				done := make(chan error, 1)
				go func() {
					var buf [][]byte
					var err error
					for i := 0; i < b.N; i++ {
						if buf, err = s.ReadMessage(buf); err != nil {
							break
						}
					}
					done <- err
				}()
				msg := [][]byte{make([]byte, 16)}
				batch := make([][][]byte, batchSize)
				for i := range batch {
					batch[i] = msg
				}
				b.SetBytes(16)
				b.ReportAllocs()
				b.ResetTimer()
				if mode == "loop" {
					for i := 0; i < b.N; i++ {
						if err := c.WriteMessage(msg); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					for i := 0; i < b.N; i += batchSize {
						if err := c.WriteMessages(batch[:min(batchSize, b.N-i)]); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
