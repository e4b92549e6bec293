package cert

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
)

// TestZ85KnownAnswers checks the vectors of RFC 32 and libzmq's
// test_base85.cpp (docs/wire-format.md#z85-vectors).
func TestZ85KnownAnswers(t *testing.T) {
	tests := []struct {
		hex, z85 string
	}{
		{"86 4F D2 6F B5 59 F7 5B", "HelloWorld"},
		{"00 00 00 00", "00000"},
		{"FF FF FF FF", "%nSc0"},
		{strings.Repeat("00", 32), "0000000000000000000000000000000000000000"},
		{"567D7B361DC9C682AC0693BF0B2AFE9C60EEEEB5A0E8BD758376D4D573CDD612", "r^/rM9M=rMToK)63O8dCvd9D<PY<7iGlC+{BiSnG"},
	}
	for _, tt := range tests {
		raw := testhelp.Wire(tt.hex)
		got, err := Z85Encode(raw)
		if err != nil || got != tt.z85 {
			t.Errorf("Z85Encode(%s) = %q, %v; want %q", tt.hex, got, err, tt.z85)
		}
		dec, err := Z85Decode(tt.z85)
		if err != nil || !bytes.Equal(dec, raw) {
			t.Errorf("Z85Decode(%q) = %x, %v; want %x", tt.z85, dec, err, raw)
		}
	}
	if got, err := Z85Encode(nil); err != nil || got != "" {
		t.Errorf("Z85Encode(nil) = %q, %v; want \"\", nil", got, err)
	}
}

func TestZ85Errors(t *testing.T) {
	tests := []struct {
		in      string
		want    error
		offset  int
		text    string
		message string
	}{
		{"", ErrZ85Length, -1, "", `cert: Z85 decode: empty input`},
		{"0", ErrZ85Length, -1, "", `cert: Z85 decode: input length 1 is not a multiple of 5`},
		{"01234567", ErrZ85Length, -1, "", `cert: Z85 decode: input length 8 is not a multiple of 5`},
		{"#####", ErrZ85Overflow, 0, "#####", `cert: Z85 decode: group "#####" at offset 0 exceeds 0xFFFFFFFF`},
		{"%nSc1", ErrZ85Overflow, 0, "%nSc1", `cert: Z85 decode: group "%nSc1" at offset 0 exceeds 0xFFFFFFFF`},
		{"00000%nSc1", ErrZ85Overflow, 5, "%nSc1", `cert: Z85 decode: group "%nSc1" at offset 5 exceeds 0xFFFFFFFF`},
		{"0000'", ErrZ85Char, 4, "'", `cert: Z85 decode: invalid character "'" at offset 4`},
		{"0000~", ErrZ85Char, 4, "~", `cert: Z85 decode: invalid character "~" at offset 4`},
		{"0000 ", ErrZ85Char, 4, " ", `cert: Z85 decode: invalid character " " at offset 4`},
		{"00\x0000", ErrZ85Char, 2, "\x00", `cert: Z85 decode: invalid character "\x00" at offset 2`},
		{"000\x80\n", ErrZ85Char, 3, "\x80", `cert: Z85 decode: invalid character "\x80" at offset 3`},
		{"00000000\"0", ErrZ85Char, 8, `"`, `cert: Z85 decode: invalid character "\"" at offset 8`},
		// libzmq reports overflow here; we report the bad character first.
		{"####'", ErrZ85Char, 4, "'", `cert: Z85 decode: invalid character "'" at offset 4`},
	}
	for _, tt := range tests {
		got, err := Z85Decode(tt.in)
		if err == nil {
			t.Errorf("Z85Decode(%q) = %x, want error", tt.in, got)
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("Z85Decode(%q) error %v, want %v", tt.in, err, tt.want)
		}
		var ze *Z85Error
		if !errors.As(err, &ze) {
			t.Fatalf("Z85Decode(%q) error %T, want *Z85Error", tt.in, err)
		}
		if ze.Offset != tt.offset || ze.Text != tt.text || ze.Len != len(tt.in) || ze.Op != "Z85 decode" {
			t.Errorf("Z85Decode(%q) error = %+v", tt.in, *ze)
		}
		if err.Error() != tt.message {
			t.Errorf("Z85Decode(%q) error:\n got %s\nwant %s", tt.in, err, tt.message)
		}
	}

	for _, n := range []int{1, 2, 3, 5, 33} {
		_, err := Z85Encode(make([]byte, n))
		if !errors.Is(err, ErrZ85Length) {
			t.Errorf("Z85Encode(%d bytes) error %v, want ErrZ85Length", n, err)
		}
	}
	_, err := Z85Encode(make([]byte, 3))
	if want := "cert: Z85 encode: input length 3 is not a multiple of 4"; err == nil || err.Error() != want {
		t.Errorf("Z85Encode(3 bytes) error %v, want %s", err, want)
	}
}

// TestZ85Alphabet round-trips every group value boundary and every digit.
func TestZ85Alphabet(t *testing.T) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
	for i := 0; i < 256; i++ {
		s := "0000" + string([]byte{byte(i)})
		_, err := Z85Decode(s)
		if in := i < 128 && strings.IndexByte(alphabet, byte(i)) >= 0; in != (err == nil) {
			t.Errorf("Z85Decode(%q): err = %v, in alphabet = %v", s, err, in)
		}
	}
	for i := 0; i < len(alphabet); i++ {
		s := "0000" + alphabet[i:i+1]
		b, err := Z85Decode(s)
		if err != nil || b[3] != byte(i) {
			t.Errorf("Z85Decode(%q) = %x, %v", s, b, err)
		}
	}
}
