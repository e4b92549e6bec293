package zmtp_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var (
	zeroPad    [8]byte
	libzmqPad  = [8]byte{0, 0, 0, 0, 0, 0, 0, 1} // identity length 0, plus 1
	libzmqPad3 = [8]byte{0, 0, 0, 0, 0, 0, 0, 4} // routing id "SRV"
)

func TestGreetingAppendKnownBytes(t *testing.T) {
	tests := []struct {
		g    zmtp.Greeting
		want []byte
	}{
		0: {
			zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"},
			testhelp.Wire(`FF 00 00 00 00 00 00 00 00 7F 03 01 "NULL" 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
			       00 00000000000000000000000000000000000000000000000000000000000000`),
		},
		1: {
			zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "CURVE", AsServer: true},
			testhelp.Cat(testhelp.Wire(`FF 0000000000000000 7F 03 01`), mechField("CURVE"), []byte{1}, zeros(31)),
		},
		2: {
			zmtp.Greeting{Major: 3, Minor: 0, Mechanism: "PLAIN"},
			testhelp.Cat(testhelp.Wire(`FF 0000000000000000 7F 03 00 "PLAIN"`), zeros(15), zeros(32)),
		},
		3: { // a 20-character name fills the field: no NUL at all
			zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "ABCDEFGHIJ0123456789"},
			testhelp.Cat(testhelp.Wire(`FF 0000000000000000 7F 03 01 "ABCDEFGHIJ0123456789"`), zeros(32)),
		},
		4: {
			zmtp.Greeting{Major: 4, Minor: 9, Mechanism: "X-_.+9"},
			testhelp.Cat(testhelp.Wire(`FF 0000000000000000 7F 04 09`), mechField("X-_.+9"), zeros(32)),
		},
	}
	for i, tt := range tests {
		got := tt.g.Append(nil)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%d: %+v.Append(nil) (-want +got):\n%s", i, tt.g, diff)
		}
		if len(got) != zmtp.GreetingSize {
			t.Errorf("%d: len = %d, want %d", i, len(got), zmtp.GreetingSize)
		}
		// Append appends, and leaves the prefix alone.
		prefix := []byte("prefix")
		got = tt.g.Append(prefix)
		if !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], tt.want) {
			t.Errorf("%d: Append(prefix) = %x", i, got)
		}
		// And ParseGreeting reads it back.
		back, err := zmtp.ParseGreeting(tt.want)
		if err != nil {
			t.Errorf("%d: ParseGreeting: %v", i, err)
		} else if diff := cmp.Diff(tt.g, back); diff != "" {
			t.Errorf("%d: round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestGreetingAppendPanics(t *testing.T) {
	for i, name := range []string{"", "null", "Null", "NU LL", "NULL\x00", "\x00", "ABCDEFGHIJ01234567890", "CURVE\n", "É"} {
		g := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: name}
		mustPanic(t, "Append with mechanism "+strconv.Quote(name), func() { g.Append(nil) })
		if zmtp.ValidMechanismName(name) {
			t.Errorf("%d: ValidMechanismName(%q) = true", i, name)
		}
	}
	for _, name := range []string{"NULL", "PLAIN", "CURVE", "GSSAPI", "A", "0", "-", "_", ".", "+", "ABCDEFGHIJ0123456789"} {
		if !zmtp.ValidMechanismName(name) {
			t.Errorf("ValidMechanismName(%q) = false", name)
		}
	}
}

func TestParseGreeting(t *testing.T) {
	tests := []struct {
		in          []byte
		want        zmtp.Greeting
		wantErr     error // checked with errors.Is
		wantVersion *zmtp.VersionError
	}{
		// Valid greetings.
		0: { // docs/wire-format.md#greeting: a libzmq-style 3.1 CURVE greeting, padding 00..01
			in:   testhelp.Cat(testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F 03 01 43 55 52 56 45 00 00 00`), zeros(44)),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "CURVE"},
		},
		1: { // libzmq tests/testutil.hpp zmtp_greeting_null: minor 0
			in:   testhelp.Cat(testhelp.Wire(`FF 00 00 00 00 00 00 00 00 7F 03 00`), mechField("NULL"), zeros(32)),
			want: zmtp.Greeting{Major: 3, Minor: 0, Mechanism: "NULL"},
		},
		2: { // libzmq tests/testutil.hpp zmtp_greeting_curve: minor 0
			in:   testhelp.Cat(testhelp.Wire(`FF 00 00 00 00 00 00 00 00 7F 03 00`), mechField("CURVE"), zeros(32)),
			want: zmtp.Greeting{Major: 3, Minor: 0, Mechanism: "CURVE"},
		},
		3: { // libzmq with routing id "SRV": padding 00..04, PLAIN
			in:   greetingBytes(libzmqPad3, 0x7F, 3, 1, mechField("PLAIN"), 0),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "PLAIN"},
		},
		4: { // padding is not significant, whatever it holds
			in:   greetingBytes([8]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0x7F, 3, 1, mechField("NULL"), 0),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"},
		},
		5: { // byte 9 only needs its LSB set
			in:   greetingBytes(zeroPad, 0x01, 3, 1, mechField("NULL"), 0),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"},
		},
		6: { // as-server
			in:   greetingBytes(zeroPad, 0x7F, 3, 1, mechField("PLAIN"), 1),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "PLAIN", AsServer: true},
		},
		7: { // a higher version is valid
			in:   greetingBytes(zeroPad, 0x7F, 4, 200, mechField("NULL"), 0),
			want: zmtp.Greeting{Major: 4, Minor: 200, Mechanism: "NULL"},
		},
		8: { // libzmq reads revision 0xFF as 3.x as well
			in:   greetingBytes(zeroPad, 0x7F, 0xFF, 0xFF, mechField("NULL"), 0),
			want: zmtp.Greeting{Major: 0xFF, Minor: 0xFF, Mechanism: "NULL"},
		},
		9: { // the filler is not checked
			in:   testhelp.Cat(greetingBytes(zeroPad, 0x7F, 3, 1, mechField("NULL"), 0)[:33], bytes.Repeat([]byte{0xAB}, 31)),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"},
		},
		10: { // a 20-character name has no NUL
			in:   greetingBytes(zeroPad, 0x7F, 3, 1, []byte("ABCDEFGHIJ0123456789"), 0),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "ABCDEFGHIJ0123456789"},
		},
		11: {
			in:   greetingBytes(zeroPad, 0x7F, 3, 1, mechField("GSSAPI"), 0),
			want: zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "GSSAPI"},
		},

		// Malformed greetings.
		12: {in: nil, wantErr: zmtp.ErrMalformed},
		13: {in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField("NULL"), 0)[:63], wantErr: zmtp.ErrMalformed},
		14: {in: testhelp.Cat(greetingBytes(zeroPad, 0x7F, 3, 1, mechField("NULL"), 0), []byte{0}), wantErr: zmtp.ErrMalformed},
		15: { // empty mechanism
			in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField(""), 0), wantErr: zmtp.ErrMalformed},
		16: { // not NUL-padded after the name
			in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField("NULL\x00X"), 0), wantErr: zmtp.ErrMalformed},
		17: { // a stray byte at the very end of the field
			in: greetingBytes(zeroPad, 0x7F, 3, 1, append(mechField("NULL")[:19], 'Z'), 0), wantErr: zmtp.ErrMalformed},
		18: { // space-padded, as the stale RFC text would have it
			in: greetingBytes(zeroPad, 0x7F, 3, 1, []byte("NULL                "), 0), wantErr: zmtp.ErrMalformed},
		19: { // lower case
			in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField("null"), 0), wantErr: zmtp.ErrMalformed},
		20: { // leading NUL
			in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField("\x00NULL"), 0), wantErr: zmtp.ErrMalformed},
		21: { // control bytes
			in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField("\x1b[31mX"), 0), wantErr: zmtp.ErrMalformed},
		22: { // non-ASCII
			in: greetingBytes(zeroPad, 0x7F, 3, 1, mechField("CURV\xc3\x89"), 0), wantErr: zmtp.ErrMalformed},

		// Older protocols.
		23: {
			in:          testhelp.Cat([]byte{0x01, 0x00}, zeros(62)),
			wantErr:     zmtp.ErrUnsupportedVersion,
			wantVersion: &zmtp.VersionError{Major: 1, Minor: 0},
		},
		24: {
			in:          greetingBytes(zeroPad, 0x7E, 3, 1, mechField("NULL"), 0),
			wantErr:     zmtp.ErrUnsupportedVersion,
			wantVersion: &zmtp.VersionError{Major: 1, Minor: 0},
		},
		25: {
			in:          greetingBytes(zeroPad, 0x7F, 0, 1, mechField("NULL"), 0),
			wantErr:     zmtp.ErrUnsupportedVersion,
			wantVersion: &zmtp.VersionError{Major: 1, Minor: 0},
		},
		26: {
			in:          greetingBytes(zeroPad, 0x7F, 1, 1, mechField("NULL"), 0),
			wantErr:     zmtp.ErrUnsupportedVersion,
			wantVersion: &zmtp.VersionError{Major: 2, Minor: 0},
		},
		27: {
			in:          greetingBytes(zeroPad, 0x7F, 2, 1, mechField("NULL"), 0),
			wantErr:     zmtp.ErrUnsupportedVersion,
			wantVersion: &zmtp.VersionError{Major: 2, Minor: 0},
		},
	}
	for i, tt := range tests {
		got, err := zmtp.ParseGreeting(tt.in)
		if tt.wantErr == nil {
			if err != nil {
				t.Errorf("%d: ParseGreeting(%x) error: %v", i, tt.in, err)
				continue
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%d: ParseGreeting (-want +got):\n%s", i, diff)
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%d: ParseGreeting(%x) error = %v, want %v", i, tt.in, err, tt.wantErr)
			continue
		}
		if got != (zmtp.Greeting{}) {
			t.Errorf("%d: ParseGreeting returned %+v along with an error", i, got)
		}
		var ve *zmtp.VersionError
		switch {
		case tt.wantVersion != nil:
			if !errors.As(err, &ve) {
				t.Errorf("%d: error %v is not a *VersionError", i, err)
			} else if *ve != *tt.wantVersion {
				t.Errorf("%d: VersionError = %+v, want %+v", i, *ve, *tt.wantVersion)
			}
			if errors.Is(err, zmtp.ErrMalformed) {
				t.Errorf("%d: version error %v also matches ErrMalformed", i, err)
			}
		default:
			var me *zmtp.MalformedError
			if !errors.As(err, &me) || me.What != "greeting" {
				t.Errorf("%d: error %v is not a *MalformedError about the greeting", i, err)
			}
			if errors.As(err, &ve) {
				t.Errorf("%d: malformed greeting reported as a version error: %v", i, err)
			}
		}
	}
}

func TestCheckGreetingPrefix(t *testing.T) {
	sig := testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F`)
	full := greetingBytes(libzmqPad, 0x7F, 3, 1, mechField("NULL"), 0)
	tests := []struct {
		in   []byte
		want *zmtp.VersionError // nil: consistent with 3.x so far
	}{
		0:  {in: nil},
		1:  {in: []byte{0xFF}},
		2:  {in: sig[:9]},
		3:  {in: sig},
		4:  {in: append(sig[:10:10], 3)},
		5:  {in: append(sig[:10:10], 3, 0)},
		6:  {in: append(sig[:10:10], 4)},
		7:  {in: append(sig[:10:10], 0xFF)},
		8:  {in: full},
		9:  {in: testhelp.Wire(`FF FF FF FF FF FF FF FF FF 01 03`)}, // padding ignored, byte 9 LSB only
		10: {in: testhelp.Wire(`FF 00 00 00 00 00 00 00 00 FF 03`)},

		// ZMTP 1.0, unversioned: byte 0 is the identity's short length.
		11: {in: []byte{0x01}, want: &zmtp.VersionError{Major: 1}},
		12: {in: []byte{0x01, 0x00}, want: &zmtp.VersionError{Major: 1}},
		13: {in: []byte{0x00}, want: &zmtp.VersionError{Major: 1}},
		14: {in: []byte{0xFE}, want: &zmtp.VersionError{Major: 1}},
		15: {in: testhelp.Wire(`08 00 "sneaky" 00`), want: &zmtp.VersionError{Major: 1}},
		// ZMTP 1.0 with a long identity length: byte 9 (the flags) has LSB 0.
		16: {in: testhelp.Wire(`FF 00 00 00 00 00 00 01 01 00`), want: &zmtp.VersionError{Major: 1}},
		17: {in: testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7E`), want: &zmtp.VersionError{Major: 1}},
		18: {in: testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7E 03 01`), want: &zmtp.VersionError{Major: 1}},
		// Revision 0 is 1.0 framing, as libzmq reads it.
		19: {in: append(sig[:10:10], 0), want: &zmtp.VersionError{Major: 1}},
		// ZMTP 2.0: revision 1 (libzmq) or 2 (RFC 23).
		20: {in: append(sig[:10:10], 1), want: &zmtp.VersionError{Major: 2}},
		21: {in: append(sig[:10:10], 1, 5), want: &zmtp.VersionError{Major: 2}}, // 12-byte 2.0 greeting, DEALER
		22: {in: append(sig[:10:10], 2), want: &zmtp.VersionError{Major: 2}},
		23: {in: testhelp.Cat(append(sig[:10:10], 2), zeros(53)), want: &zmtp.VersionError{Major: 2}},
	}
	for i, tt := range tests {
		err := zmtp.CheckGreetingPrefix(tt.in)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%d: CheckGreetingPrefix(%x) = %v, want nil", i, tt.in, err)
			}
			continue
		}
		var ve *zmtp.VersionError
		if !errors.As(err, &ve) {
			t.Errorf("%d: CheckGreetingPrefix(%x) = %v, want a *VersionError", i, tt.in, err)
			continue
		}
		if *ve != *tt.want {
			t.Errorf("%d: CheckGreetingPrefix(%x) = %+v, want %+v", i, tt.in, *ve, *tt.want)
		}
		if !errors.Is(err, zmtp.ErrUnsupportedVersion) {
			t.Errorf("%d: %v does not match ErrUnsupportedVersion", i, err)
		}
		if errors.Is(err, zmtp.ErrMalformed) || errors.Is(err, zmtp.ErrFrameTooLarge) {
			t.Errorf("%d: %v matches another sentinel", i, err)
		}
	}
}

func TestVersionErrorText(t *testing.T) {
	err := error(&zmtp.VersionError{Major: 2, Minor: 0})
	if got, want := err.Error(), "zmtp: peer speaks ZMTP 2.0; only ZMTP 3.x is supported"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestReadGreetingOldPeers(t *testing.T) {
	sig := testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F`)
	tests := []struct {
		name   string
		chunks [][]byte // what the peer sends before it blocks, waiting for us
		want   zmtp.VersionError
	}{
		// libzmq tests/test_*_vanilla_socket: a 1.0 peer sends an empty
		// identity frame, then waits.
		{"1.0 short", [][]byte{{0x01, 0x00}}, zmtp.VersionError{Major: 1}},
		{"1.0 short, one byte", [][]byte{{0x01}}, zmtp.VersionError{Major: 1}},
		{"1.0 long identity", [][]byte{testhelp.Wire(`FF 00 00 00 00 00 00 00 01 00`)}, zmtp.VersionError{Major: 1}},
		{"1.0 long identity, byte by byte", [][]byte{{0xFF}, {0}, {0}, {0}, {0}, {0}, {0}, {0}, {1}, {0}}, zmtp.VersionError{Major: 1}},
		{"revision 0", [][]byte{sig, {0x00}}, zmtp.VersionError{Major: 1}},
		// A 2.0 peer sends the signature, waits for ours, then its revision.
		{"2.0 libzmq-style", [][]byte{sig, {0x01}}, zmtp.VersionError{Major: 2}},
		{"2.0 whole", [][]byte{append(sig[:10:10], 0x01, 0x05)}, zmtp.VersionError{Major: 2}},
		{"2.0 revision 2", [][]byte{sig, {0x02}}, zmtp.VersionError{Major: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &scriptedReader{t: t, chunks: tt.chunks}
			r := zmtp.NewReader(src)
			g, err := r.ReadGreeting()
			var ve *zmtp.VersionError
			if !errors.As(err, &ve) {
				t.Fatalf("ReadGreeting = %+v, %v; want a *VersionError", g, err)
			}
			if *ve != tt.want {
				t.Errorf("VersionError = %+v, want %+v", *ve, tt.want)
			}
			if !errors.Is(err, zmtp.ErrUnsupportedVersion) {
				t.Errorf("%v does not match ErrUnsupportedVersion", err)
			}
			// Sticky, and still no further read.
			if _, err2 := r.ReadGreeting(); !sameError(err, err2) {
				t.Errorf("second ReadGreeting = %v, want the same error %v", err2, err)
			}
		})
	}
}

func TestReadGreeting(t *testing.T) {
	full := greetingBytes(libzmqPad, 0x7F, 3, 1, mechField("CURVE"), 0)
	want := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "CURVE"}
	tests := []struct {
		name   string
		chunks [][]byte
	}{
		{"all at once", [][]byte{full}},
		// The libzmq exchange: 10 bytes, then the major, then the rest.
		{"libzmq 10+1+53", [][]byte{full[:10], full[10:11], full[11:]}},
		{"RFC 11+53", [][]byte{full[:11], full[11:]}},
		{"1+63", [][]byte{full[:1], full[1:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := zmtp.NewReader(&scriptedReader{t: t, chunks: tt.chunks})
			g, err := r.ReadGreeting()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if r.Buffered() != 0 {
				t.Errorf("Buffered = %d after the greeting", r.Buffered())
			}
		})
	}

	t.Run("one byte per read, then frames", func(t *testing.T) {
		stream := testhelp.Cat(full, testhelp.Wire(`04 29 05 "READY" 0B "Socket-Type" 00 00 00 06 "DEALER" 08 "Identity" 00 00 00 00`))
		r := zmtp.NewReader(iotest.OneByteReader(bytes.NewReader(stream)))
		g, err := r.ReadGreeting()
		if err != nil || g != want {
			t.Fatalf("ReadGreeting = %+v, %v", g, err)
		}
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if !f.IsCommand() || len(f.Body) != 41 {
			t.Errorf("frame = %+v", f)
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Errorf("ReadFrame at the end = %v, want io.EOF", err)
		}
	})

	t.Run("greeting and frame in one read", func(t *testing.T) {
		r := zmtp.NewReader(bytes.NewReader(testhelp.Cat(full, testhelp.Wire(`00 05 "hello"`))))
		if _, err := r.ReadGreeting(); err != nil {
			t.Fatal(err)
		}
		f, err := r.ReadFrame()
		if err != nil || string(f.Body) != "hello" {
			t.Fatalf("ReadFrame = %+v, %v", f, err)
		}
	})
}

func TestReadGreetingTruncated(t *testing.T) {
	full := greetingBytes(libzmqPad, 0x7F, 3, 1, mechField("NULL"), 0)
	for n := 0; n < len(full); n++ {
		r := zmtp.NewReader(bytes.NewReader(full[:n]))
		_, err := r.ReadGreeting()
		want := io.ErrUnexpectedEOF
		if n == 0 {
			want = io.EOF
		}
		if err != want {
			t.Errorf("%d bytes: ReadGreeting error = %v, want %v", n, err, want)
		}
		if _, err2 := r.ReadGreeting(); !sameError(err, err2) {
			t.Errorf("%d bytes: second ReadGreeting = %v, want the same %v", n, err2, err)
		}
	}
}

func TestReadGreetingMalformed(t *testing.T) {
	bad := greetingBytes(zeroPad, 0x7F, 3, 1, mechField("NULL\x00X"), 0)
	r := zmtp.NewReader(bytes.NewReader(bad))
	_, err := r.ReadGreeting()
	var me *zmtp.MalformedError
	if !errors.As(err, &me) {
		t.Fatalf("ReadGreeting = %v, want a *MalformedError", err)
	}
	if _, err2 := r.ReadGreeting(); !sameError(err, err2) {
		t.Errorf("second ReadGreeting = %v, want the same %v", err2, err)
	}
}
