package zmtp_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestWriterOneWritePerFlush(t *testing.T) {
	w := &countingWriter{}
	zw := zmtp.NewWriter(w)

	// A handshake flight: greeting and READY leave in one Write.
	g := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}
	zw.Greeting(g)
	md := zmtp.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}, {Name: "Identity"}}
	zw.Command(zmtp.Command{Name: zmtp.CmdReady, Data: md.Append(nil)})
	wantFlight := cat(g.Append(nil),
		unhex(`04 29 05 52 45 41 44 59 0B 53 6F 63 6B 65 74 2D 54 79 70 65 00 00 00 06 44 45 41 4C 45 52
			08 49 64 65 6E 74 69 74 79 00 00 00 00`))
	if got := zw.Buffered(); got != len(wantFlight) {
		t.Errorf("Buffered = %d, want %d", got, len(wantFlight))
	}
	if len(w.writes) != 0 {
		t.Fatalf("%d writes before Flush", len(w.writes))
	}
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	if zw.Buffered() != 0 {
		t.Errorf("Buffered = %d after Flush", zw.Buffered())
	}

	// A multipart message with a big part, and a PING, in one Write.
	big := bytes.Repeat([]byte{7}, 65536)
	zw.Frame(zmtp.FlagMore, []byte("A"))
	zw.Frame(0, big)
	zw.Append(func(b []byte) []byte {
		b = zmtp.AppendFrameHeader(b, zmtp.FlagCommand, 7)
		return zmtp.AppendPing(b, zmtp.Ping{TTL: 100})
	})
	zw.Command(zmtp.Command{Name: zmtp.CmdPong})
	wantMsg := cat(unhex(`01 01 41 02 00 00 00 00 00 01 00 00`), big,
		unhex(`04 07 04 50 49 4E 47 00 64`), unhex(`04 05 04 50 4F 4E 47`))
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}

	// Flushing nothing writes nothing.
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}

	want := [][]byte{wantFlight, wantMsg}
	if diff := cmp.Diff(want, w.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestWriterStickyError(t *testing.T) {
	boom := errors.New("boom")
	w := &countingWriter{err: boom}
	zw := zmtp.NewWriter(w)
	zw.Frame(0, []byte("A"))
	if err := zw.Flush(); err != boom {
		t.Fatalf("Flush = %v, want boom", err)
	}
	if zw.Buffered() != 0 {
		t.Errorf("Buffered = %d after a failed Flush; the bytes must be dropped", zw.Buffered())
	}
	w.err = nil
	zw.Frame(0, []byte("B"))
	if err := zw.Flush(); err != boom {
		t.Errorf("second Flush = %v, want the sticky boom", err)
	}
	if err := zw.Flush(); err != boom {
		t.Errorf("empty Flush = %v, want the sticky boom", err)
	}
	if len(w.writes) != 1 {
		t.Errorf("%d writes, want 1: nothing is written after a failure", len(w.writes))
	}
}

func TestWriterCommandPanics(t *testing.T) {
	zw := zmtp.NewWriter(&countingWriter{})
	mustPanic(t, "Command with an invalid name", func() { zw.Command(zmtp.Command{Name: "P1NG"}) })
}

// TestWriterReaderRoundTrip writes a mix of frames through a Writer and reads
// them back with a Reader.
func TestWriterReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	zw := zmtp.NewWriter(&buf)
	g := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "PLAIN", AsServer: true}
	zw.Greeting(g)
	var want []zmtp.Frame
	for i, n := range []int{0, 1, 255, 256, 4096, 70000} {
		flags := []zmtp.Flags{0, zmtp.FlagMore, zmtp.FlagCommand}[i%3]
		body := bytes.Repeat([]byte{byte(i)}, n)
		zw.Frame(flags, body)
		want = append(want, zmtp.Frame{Flags: flags, Body: body})
	}
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	r := zmtp.NewReader(&buf)
	gg, err := r.ReadGreeting()
	if err != nil || gg != g {
		t.Fatalf("ReadGreeting = %+v, %v", gg, err)
	}
	got, err := readAll(r)
	if err != io.EOF {
		t.Errorf("end = %v", err)
	}
	if diff := cmp.Diff(want, got, frameCmp); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}
