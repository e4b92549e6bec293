package socket_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// BenchmarkIdleConnectionMemory reports what one idle, established
// connection costs, both ends counted (heap and goroutine stacks): a
// ROUTER with b.N DEALER peers, each socket with one connection, after
// one message each way. Run with -benchtime=1000x or so; the figure is
// bytes/conn.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	for _, mech := range []string{"NULL", "CURVE"} {
		b.Run(mech, func(b *testing.B) {
			var so, co *socket.Options
			if mech == "CURVE" {
				so, co = curveOptions(b)
			} else {
				so, co = &socket.Options{}, &socket.Options{}
			}
			so.Linger, co.Linger = -1, -1
			router, err := socket.New(zmtp.ROUTER, so)
			if err != nil {
				b.Fatal(err)
			}
			defer router.Close()
			if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
				b.Fatal(err)
			}
			ep := router.LastEndpoint()
			before := memInUse()
			dealers := make([]*socket.Socket, b.N)
			for i := range dealers {
				d, err := socket.New(zmtp.DEALER, co)
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				if err := d.Connect(ep); err != nil {
					b.Fatal(err)
				}
				if err := d.Send(b.Context(), [][]byte{[]byte("hi")}); err != nil {
					b.Fatal(err)
				}
				m, err := router.Recv(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if err := router.Send(b.Context(), [][]byte{m[0], []byte("back")}); err != nil {
					b.Fatal(err)
				}
				if _, err := d.Recv(b.Context()); err != nil {
					b.Fatal(err)
				}
				dealers[i] = d
			}
			time.Sleep(50 * time.Millisecond)
			after := memInUse()
			perConn := float64(after-before) / float64(b.N)
			b.ReportMetric(perConn, "bytes/conn")
			b.ReportMetric(float64(runtime.NumGoroutine())/float64(b.N), "goroutines/conn")
			if testing.Verbose() {
				fmt.Printf("%s: %.0f bytes per idle connection (both ends, heap and stacks)\n", mech, perConn)
			}
		})
	}
}

// memInUse is the heap in use plus goroutine stacks, after a collection.
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}
