package bench

import (
	"fmt"
	"testing"
)

var (
	throughputSizes = []int{16, 1024, 65536}
	roundTripSizes  = []int{16, 1024}
)

// handshakePayload is the message each handshake iteration bounces.
var handshakePayload = []byte("handshake-probe!") // 16 bytes

// BenchmarkThroughput streams b.N messages one way, PUSH to PULL, and
// stops the clock when the last one has arrived: ns/op is the time per
// message at full pipeline, B/s the payload rate. Sender and receiver are
// the same implementation, except in the informative mixed pairs.
func BenchmarkThroughput(b *testing.B) {
	for _, m := range mechs {
		b.Run("mech="+m.name, func(b *testing.B) {
			for _, size := range throughputSizes {
				b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
					for _, im := range impls {
						if im.stream == nil || !im.supports(m) {
							continue
						}
						b.Run("impl="+im.name, func(b *testing.B) { benchThroughput(b, im, m, size) })
					}
				})
			}
		})
	}
}

func benchThroughput(b *testing.B, im impl, m mech, size int) {
	l := openStream(b, im, m)
	payload := payloadOf(size)
	warmUpWith(b, l, payload, false)
	n := b.N
	recvErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			p, err := l.server.recv()
			if err == nil && len(p) != size {
				err = fmt.Errorf("message %d: %d bytes, want %d", i, len(p), size)
			}
			if err != nil {
				l.abort()
				recvErr <- err
				return
			}
		}
		recvErr <- nil
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var sendErr error
	for i := 0; i < n; i++ {
		if sendErr = l.client.send(payload); sendErr != nil {
			l.abort()
			break
		}
	}
	err := <-recvErr
	b.StopTimer()
	if sendErr != nil {
		b.Fatalf("send: %v (receiver: %v)", sendErr, err)
	}
	if err != nil {
		b.Fatalf("recv: %v", err)
	}
}

// BenchmarkRoundTrip measures latency: one REQ/REP round trip per op, the
// payload going there and back. B/s counts the payload once per op.
func BenchmarkRoundTrip(b *testing.B) {
	for _, m := range mechs {
		b.Run("mech="+m.name, func(b *testing.B) {
			for _, size := range roundTripSizes {
				b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
					for _, im := range impls {
						if im.reqrep == nil || !im.supports(m) {
							continue
						}
						b.Run("impl="+im.name, func(b *testing.B) { benchRoundTrip(b, im, m, size) })
					}
				})
			}
		})
	}
}

func benchRoundTrip(b *testing.B, im impl, m mech, size int) {
	l := openReqRep(b, im, m)
	payload := payloadOf(size)
	warmUpWith(b, l, payload, true)
	n := b.N
	srvErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			p, err := l.server.recv()
			if err == nil {
				err = l.server.send(p)
			}
			if err != nil {
				l.abort()
				srvErr <- err
				return
			}
		}
		srvErr <- nil
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var cliErr error
	for i := 0; i < n; i++ {
		if cliErr = l.client.send(payload); cliErr != nil {
			break
		}
		var p []byte
		if p, cliErr = l.client.recv(); cliErr != nil {
			break
		}
		if len(p) != size {
			cliErr = fmt.Errorf("reply %d: %d bytes, want %d", i, len(p), size)
			break
		}
	}
	if cliErr != nil {
		l.abort()
	}
	err := <-srvErr
	b.StopTimer()
	if cliErr != nil {
		b.Fatalf("client: %v (server: %v)", cliErr, err)
	}
	if err != nil {
		b.Fatalf("server: %v", err)
	}
}

// BenchmarkHandshake measures one whole connection per op: connect, the
// greeting and security handshake, one 16-byte message bounced off a
// ROUTER, close. libzmq shakes hands in its I/O thread, so for every
// implementation the clock runs through the first round trip. It reports
// handshakes/s and no bytes per op: 16 bytes per connection is no
// throughput, and go test prints it as "0.00 MB/s" once a handshake takes
// over 3.2 ms, which benchstat then reads as a unit of its own.
func BenchmarkHandshake(b *testing.B) {
	for _, m := range mechs {
		b.Run("mech="+m.name, func(b *testing.B) {
			for _, im := range impls {
				if im.handshake == nil || !im.supports(m) {
					continue
				}
				b.Run("impl="+im.name, func(b *testing.B) { benchHandshake(b, im, m) })
			}
		})
	}
}

func benchHandshake(b *testing.B, im impl, m mech) {
	const warmUps = 1
	dial := im.handshake(b, m, b.N+warmUps)
	for i := 0; i < warmUps; i++ {
		if _, err := dial(handshakePayload); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := dial(handshakePayload)
		if err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
		if len(p) != len(handshakePayload) {
			b.Fatalf("connection %d: echo of %d bytes, want %d", i, len(p), len(handshakePayload))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}
