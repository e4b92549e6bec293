package socket_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// curveOptions returns matching CURVE server and client options.
func curveOptions(tb testing.TB) (server, client *socket.Options) {
	tb.Helper()
	srv := testkeys.New(tb)
	cli := testkeys.New(tb)
	sm, err := mechanism.CurveServer(srv)
	if err != nil {
		tb.Fatal(err)
	}
	cm, err := mechanism.CurveClient(srv.Public, cli)
	if err != nil {
		tb.Fatal(err)
	}
	server = &socket.Options{Config: transport.Config{Mechanism: sm}}
	client = &socket.Options{Config: transport.Config{Mechanism: cm}}
	return server, client
}

// BenchmarkPushPull measures one-way throughput through the socket layer
// over loopback TCP: b.N messages of each size, sent by one goroutine and
// received by another (with RecvInto, reusing its storage).
func BenchmarkPushPull(b *testing.B) {
	for _, mech := range []string{"NULL", "CURVE"} {
		for _, size := range []int{16, 1024, 65536} {
			b.Run(fmt.Sprintf("%s/%dB", mech, size), func(b *testing.B) {
				var so, co *socket.Options
				if mech == "CURVE" {
					so, co = curveOptions(b)
				}
				pull, err := socket.New(zmtp.PULL, so)
				if err != nil {
					b.Fatal(err)
				}
				defer pull.Close()
				if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
					b.Fatal(err)
				}
				push, err := socket.New(zmtp.PUSH, co)
				if err != nil {
					b.Fatal(err)
				}
				defer push.Close()
				if err := push.Connect(pull.LastEndpoint()); err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				payload := make([]byte, size)
				// Warm up: the connection is up once one message went through.
				if err := push.Send(ctx, [][]byte{payload}); err != nil {
					b.Fatal(err)
				}
				if _, err := pull.Recv(ctx); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				done := make(chan error, 1)
				go func() {
					var dst [][]byte
					for i := 0; i < b.N; i++ {
						var err error
						if dst, err = pull.RecvInto(ctx, dst); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				for i := 0; i < b.N; i++ {
					if err := push.Send(ctx, [][]byte{payload}); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
