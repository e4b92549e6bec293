package zmtp_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestAppendFrameKnownBytes(t *testing.T) {
	body256 := bytes.Repeat([]byte{0xAA}, 256)
	body255 := bytes.Repeat([]byte{0xBB}, 255)
	tests := []struct {
		flags zmtp.Flags
		body  []byte
		want  []byte
	}{
		// docs/wire-format.md#frames examples.
		0: {0, nil, testhelp.Wire(`00 00`)},
		1: {0, []byte("hello"), testhelp.Wire(`00 05 68 65 6C 6C 6F`)},
		2: {0, body256, testhelp.Cat(testhelp.Wire(`02 00 00 00 00 00 00 01 00`), body256)},
		3: {zmtp.FlagCommand, testhelp.Wire(`04 50 49 4E 47 00 64`), testhelp.Wire(`04 07 04 50 49 4E 47 00 64`)},
		4: {zmtp.FlagCommand, testhelp.Wire(`04 50 4F 4E 47`), testhelp.Wire(`04 05 04 50 4F 4E 47`)},
		5: {zmtp.FlagCommand, testhelp.Wire(`09 53 55 42 53 43 52 49 42 45 41`), testhelp.Wire(`04 0B 09 53 55 42 53 43 52 49 42 45 41`)},
		6: {0, testhelp.Wire(`01 41`), testhelp.Wire(`00 02 01 41`)},
		// Every legal flags value.
		7:  {zmtp.FlagMore, []byte("A"), testhelp.Wire(`01 01 41`)},
		8:  {zmtp.FlagMore, body256, testhelp.Cat(testhelp.Wire(`03 00 00 00 00 00 00 01 00`), body256)},
		9:  {zmtp.FlagCommand, body256, testhelp.Cat(testhelp.Wire(`06 00 00 00 00 00 00 01 00`), body256)},
		10: {0, body255, testhelp.Cat(testhelp.Wire(`00 FF`), body255)},
		// LONG is derived from the size: a FlagLong passed in is ignored.
		11: {zmtp.FlagLong, []byte("A"), testhelp.Wire(`00 01 41`)},
		12: {zmtp.FlagLong | zmtp.FlagMore, nil, testhelp.Wire(`01 00`)},
		// Reserved bits are never written.
		13: {0xF8 | zmtp.FlagMore, []byte("A"), testhelp.Wire(`01 01 41`)},
		14: {0xFF &^ zmtp.FlagMore, body256, testhelp.Cat(testhelp.Wire(`06 00 00 00 00 00 00 01 00`), body256)},
	}
	for i, tt := range tests {
		got := zmtp.AppendFrame(nil, tt.flags, tt.body)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%d: AppendFrame(%#x, %d bytes) (-want +got):\n%s", i, byte(tt.flags), len(tt.body), diff)
		}
		hdr := zmtp.AppendFrameHeader([]byte("x"), tt.flags, len(tt.body))
		if want := append([]byte("x"), tt.want[:len(tt.want)-len(tt.body)]...); !bytes.Equal(hdr, want) {
			t.Errorf("%d: AppendFrameHeader = %x, want %x", i, hdr, want)
		}
		if got, want := zmtp.FrameHeaderSize(len(tt.body)), len(tt.want)-len(tt.body); got != want {
			t.Errorf("%d: FrameHeaderSize(%d) = %d, want %d", i, len(tt.body), got, want)
		}
	}
}

func TestFrameHeaderSize(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{0, 2}, {1, 2}, {255, 2}, {256, 9}, {65536, 9}, {math.MaxInt32, 9}} {
		if got := zmtp.FrameHeaderSize(tt.n); got != tt.want {
			t.Errorf("FrameHeaderSize(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestParseFrameHeader(t *testing.T) {
	tests := []struct {
		in      []byte
		flags   zmtp.Flags
		size    uint64
		hdr     int
		ok      bool
		wantErr bool
	}{
		0:  {in: nil},
		1:  {in: []byte{0x00}},
		2:  {in: []byte{0x02}},
		3:  {in: testhelp.Wire(`02 00 00 00 00 00 00 01`)}, // 8 of the 9 header bytes
		4:  {in: testhelp.Wire(`00 00`), hdr: 2, ok: true},
		5:  {in: testhelp.Wire(`00 05 68 65`), size: 5, hdr: 2, ok: true}, // the body need not be there
		6:  {in: testhelp.Wire(`01 FF`), flags: zmtp.FlagMore, size: 255, hdr: 2, ok: true},
		7:  {in: testhelp.Wire(`04 29 05`), flags: zmtp.FlagCommand, size: 41, hdr: 2, ok: true},
		8:  {in: testhelp.Wire(`02 00 00 00 00 00 00 01 00`), size: 256, hdr: 9, ok: true},
		9:  {in: testhelp.Wire(`03 00 00 00 00 00 00 01 00 AA`), flags: zmtp.FlagMore, size: 256, hdr: 9, ok: true},
		10: {in: testhelp.Wire(`06 00 00 00 00 00 00 01 00`), flags: zmtp.FlagCommand, size: 256, hdr: 9, ok: true},
		// libzmq accepts a LONG size for a body under 256.
		11: {in: testhelp.Wire(`02 00 00 00 00 00 00 00 05`), size: 5, hdr: 9, ok: true},
		12: {in: testhelp.Wire(`06 00 00 00 00 00 00 00 00`), flags: zmtp.FlagCommand, size: 0, hdr: 9, ok: true},
		// The largest legal size.
		13: {in: testhelp.Wire(`02 7F FF FF FF FF FF FF FF`), size: math.MaxInt64, hdr: 9, ok: true},
		// Reserved bits are ignored, not rejected.
		14: {in: testhelp.Wire(`F8 03`), size: 3, hdr: 2, ok: true},
		15: {in: testhelp.Wire(`F9 03`), flags: zmtp.FlagMore, size: 3, hdr: 2, ok: true},
		16: {in: testhelp.Wire(`FC 03`), flags: zmtp.FlagCommand, size: 3, hdr: 2, ok: true},
		17: {in: testhelp.Wire(`FA 00 00 00 00 00 00 01 00`), size: 256, hdr: 9, ok: true},
		18: {in: testhelp.Wire(`08 00`), hdr: 2, ok: true},
		// A command frame with MORE is malformed, short or long.
		19: {in: testhelp.Wire(`05 00`), wantErr: true},
		20: {in: testhelp.Wire(`07 00 00 00 00 00 00 00 01`), wantErr: true},
		21: {in: testhelp.Wire(`FD 00`), wantErr: true},
		22: {in: testhelp.Wire(`07 00`), wantErr: true}, // rejected before the size is complete
		// A size with its top bit set is malformed.
		23: {in: testhelp.Wire(`02 80 00 00 00 00 00 00 00`), wantErr: true},
		24: {in: testhelp.Wire(`02 FF FF FF FF FF FF FF FF`), wantErr: true},
		25: {in: testhelp.Wire(`06 80 00 00 00 00 00 00 01`), wantErr: true},
	}
	for i, tt := range tests {
		flags, size, hdr, ok, err := zmtp.ParseFrameHeader(tt.in)
		if tt.wantErr {
			var me *zmtp.MalformedError
			if !errors.As(err, &me) || !errors.Is(err, zmtp.ErrMalformed) || me.What != "frame" {
				t.Errorf("%d: ParseFrameHeader(%x) error = %v, want a malformed frame", i, tt.in, err)
			}
			if ok {
				t.Errorf("%d: ok with an error", i)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: ParseFrameHeader(%x) error: %v", i, tt.in, err)
			continue
		}
		if ok != tt.ok || flags != tt.flags || size != tt.size || hdr != tt.hdr {
			t.Errorf("%d: ParseFrameHeader(%x) = flags %#x size %d hdr %d ok %v; want %#x %d %d %v",
				i, tt.in, byte(flags), size, hdr, ok, byte(tt.flags), tt.size, tt.hdr, tt.ok)
		}
		if flags&zmtp.FlagLong != 0 || flags&^(zmtp.FlagMore|zmtp.FlagCommand) != 0 {
			t.Errorf("%d: returned flags %#x carry LONG or reserved bits", i, byte(flags))
		}
	}
}

func TestFrameMethods(t *testing.T) {
	for _, tt := range []struct {
		flags         zmtp.Flags
		more, command bool
	}{
		{0, false, false},
		{zmtp.FlagMore, true, false},
		{zmtp.FlagCommand, false, true},
	} {
		f := zmtp.Frame{Flags: tt.flags}
		if f.More() != tt.more || f.IsCommand() != tt.command {
			t.Errorf("Frame{%#x}: More %v IsCommand %v", byte(tt.flags), f.More(), f.IsCommand())
		}
	}
}

// TestFrameRoundTrip appends frames of many sizes and flags and parses
// them back: the header parses to the same flags and size, and the length is
// FrameHeaderSize + body.
func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 2, 100, 254, 255, 256, 257, 1000, 65535, 65536, 65537} {
		for _, flags := range []zmtp.Flags{0, zmtp.FlagMore, zmtp.FlagCommand} {
			body := bytes.Repeat([]byte{byte(n)}, n)
			b := zmtp.AppendFrame(nil, flags, body)
			if len(b) != zmtp.FrameHeaderSize(n)+n {
				t.Errorf("n=%d: %d bytes, want %d", n, len(b), zmtp.FrameHeaderSize(n)+n)
			}
			gf, size, hdr, ok, err := zmtp.ParseFrameHeader(b)
			if err != nil || !ok || gf != flags || size != uint64(n) || hdr != zmtp.FrameHeaderSize(n) {
				t.Errorf("n=%d flags=%#x: ParseFrameHeader = %#x %d %d %v %v", n, byte(flags), byte(gf), size, hdr, ok, err)
				continue
			}
			if !bytes.Equal(b[hdr:], body) {
				t.Errorf("n=%d: body differs", n)
			}
		}
	}
}
