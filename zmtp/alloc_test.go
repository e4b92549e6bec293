package zmtp_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// allocStream is a repeating mix of frames: a message of three parts (one
// over the 8 KiB initial buffer), a PING and an empty frame.
func allocStream() (stream []byte, frames int) {
	add := func(flags zmtp.Flags, n int) {
		stream = zmtp.AppendFrame(stream, flags, bytes.Repeat([]byte{byte(n)}, n))
		frames++
	}
	add(zmtp.FlagMore, 16)
	add(zmtp.FlagMore, 1024)
	add(0, 20000)
	stream = zmtp.AppendFrame(stream, zmtp.FlagCommand, zmtp.AppendPing(nil, zmtp.Ping{TTL: 100}))
	frames++
	add(0, 0)
	return stream, frames
}

func TestAllocations(t *testing.T) {
	t.Run("Reader.ReadFrame", func(t *testing.T) {
		stream, n := allocStream()
		r := zmtp.NewReader(&loopReader{data: stream})
		read := func() {
			for i := 0; i < n; i++ {
				if _, err := r.ReadFrame(); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Warm up: let the buffer reach its steady size.
		for i := 0; i < 10; i++ {
			read()
		}
		if allocs := testing.AllocsPerRun(100, read); allocs != 0 {
			t.Errorf("ReadFrame: %v allocations per %d frames, want 0", allocs, n)
		}
	})

	t.Run("Reader.ReadFrame bytes.Reader", func(t *testing.T) {
		stream, n := allocStream()
		src := bytes.NewReader(stream)
		r := zmtp.NewReader(src)
		read := func() {
			src.Reset(stream)
			for i := 0; i < n; i++ {
				if _, err := r.ReadFrame(); err != nil {
					t.Fatal(err)
				}
			}
		}
		read()
		if allocs := testing.AllocsPerRun(100, read); allocs != 0 {
			t.Errorf("ReadFrame: %v allocations, want 0", allocs)
		}
	})

	t.Run("AppendFrame", func(t *testing.T) {
		bodies := [][]byte{nil, make([]byte, 16), make([]byte, 1024), make([]byte, 65536)}
		buf := make([]byte, 0, 70000)
		if allocs := testing.AllocsPerRun(100, func() {
			for _, b := range bodies {
				buf = zmtp.AppendFrame(buf[:0], zmtp.FlagMore, b)
			}
		}); allocs != 0 {
			t.Errorf("AppendFrame: %v allocations, want 0", allocs)
		}
	})

	t.Run("encoders", func(t *testing.T) {
		buf := make([]byte, 0, 1024)
		g := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "CURVE"}
		md := dealerMetadata
		cmd := zmtp.Command{Name: zmtp.CmdReady, Data: goldenDealerMetadata}
		ctx := []byte("context")
		if allocs := testing.AllocsPerRun(100, func() {
			buf = g.Append(buf[:0])
			buf = md.Append(buf[:0])
			buf = cmd.Append(buf[:0])
			buf = zmtp.AppendPing(buf[:0], zmtp.Ping{TTL: 1, Context: ctx})
			buf = zmtp.AppendPong(buf[:0], ctx)
			buf = zmtp.AppendSubscribe(buf[:0], ctx)
			buf = zmtp.AppendCancel(buf[:0], ctx)
			buf = zmtp.AppendError(buf[:0], "400")
			buf = zmtp.AppendReady(buf[:0], md)
		}); allocs != 0 {
			t.Errorf("encoders: %v allocations, want 0", allocs)
		}
	})

	t.Run("ParseCommand known names", func(t *testing.T) {
		bodies := [][]byte{goldenPing, goldenPong, goldenSubscribe, goldenReadyDealer, goldenHello,
			goldenWelcome, goldenError400, goldenLibzmqError, testhelp.Wire(`07 "MESSAGE" 00`), testhelp.Wire(`06 "CANCEL"`), testhelp.Wire(`08 "INITIATE"`)}
		if allocs := testing.AllocsPerRun(100, func() {
			for _, b := range bodies {
				if _, err := zmtp.ParseCommand(b); err != nil {
					t.Fatal(err)
				}
			}
		}); allocs != 0 {
			t.Errorf("ParseCommand: %v allocations, want 0", allocs)
		}
	})

	t.Run("ParseGreeting known mechanisms", func(t *testing.T) {
		var greetings [][]byte
		for _, m := range []string{"NULL", "PLAIN", "CURVE", "GSSAPI"} {
			greetings = append(greetings, zmtp.Greeting{Major: 3, Minor: 1, Mechanism: m}.Append(nil))
		}
		if allocs := testing.AllocsPerRun(100, func() {
			for i, b := range greetings {
				if g, err := zmtp.ParseGreeting(b); err != nil || g.Mechanism != []string{"NULL", "PLAIN", "CURVE", "GSSAPI"}[i] {
					t.Fatal(g, err)
				}
			}
		}); allocs != 0 {
			t.Errorf("ParseGreeting: %v allocations, want 0", allocs)
		}
		g, err := zmtp.ParseGreeting(zmtp.Greeting{Major: 3, Mechanism: "X"}.Append(nil))
		if err != nil || g.Mechanism != "X" {
			t.Errorf("ParseGreeting of an unknown mechanism: %+v, %v", g, err)
		}
	})
}

var benchSizes = []int{16, 1 << 10, 64 << 10}

func BenchmarkReadFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			stream := zmtp.AppendFrame(nil, 0, make([]byte, n))
			r := zmtp.NewReader(&loopReader{data: stream})
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			body := make([]byte, n)
			buf := make([]byte, 0, n+9)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				buf = zmtp.AppendFrame(buf[:0], 0, body)
			}
		})
	}
}

func BenchmarkParseMetadata(b *testing.B) {
	b.SetBytes(int64(len(goldenDealerMetadata)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := zmtp.ParseMetadata(goldenDealerMetadata); err != nil {
			b.Fatal(err)
		}
	}
}
