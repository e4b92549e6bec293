package zmtp_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestAppendReaderRoundTrip encodes a greeting and a mix of frames with the
// append-style encoders (the way transport builds a flight or a message) and
// reads them back with a Reader: flags, sizes on both sides of the short and
// long forms, and bodies larger than the Reader's buffer.
func TestAppendReaderRoundTrip(t *testing.T) {
	g := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "PLAIN", AsServer: true}
	stream := g.Append(nil)
	var want []zmtp.Frame
	for i, n := range []int{0, 1, 255, 256, 4096, 70000} {
		flags := []zmtp.Flags{0, zmtp.FlagMore, zmtp.FlagCommand}[i%3]
		body := bytes.Repeat([]byte{byte(i)}, n)
		stream = zmtp.AppendFrame(stream, flags, body)
		want = append(want, zmtp.Frame{Flags: flags, Body: body})
	}
	r := zmtp.NewReader(bytes.NewReader(stream))
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
