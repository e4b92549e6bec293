package cert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzZ85 checks that Z85Decode accepts exactly what Z85Encode produces:
// whatever decodes re-encodes to the same text, with 4 bytes for every 5
// characters, and every failure is a well-formed *Z85Error. It also
// round-trips the input's bytes through Z85Encode.
func FuzzZ85(f *testing.F) {
	for _, s := range []string{
		"HelloWorld", "00000", "%nSc0", "%nSc1", "#####", "0", "", "01234567", "0000'",
		"r^/rM9M=rMToK)63O8dCvd9D<PY<7iGlC+{BiSnG", libzmqPairs[0].public,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Z85Decode(s)
		if err == nil {
			if len(b)*5 != len(s)*4 {
				t.Fatalf("Z85Decode(%q) gave %d bytes", s, len(b))
			}
			enc, err := Z85Encode(b)
			if err != nil || enc != s {
				t.Fatalf("Z85Encode(Z85Decode(%q)) = %q, %v", s, enc, err)
			}
		} else {
			var ze *Z85Error
			if !errors.As(err, &ze) || ze.Len != len(s) || !strings.HasPrefix(err.Error(), "cert: Z85 decode: ") {
				t.Fatalf("Z85Decode(%q) error %#v", s, err)
			}
			switch ze.Err {
			case ErrZ85Length:
				if len(s) != 0 && len(s)%5 == 0 || ze.Offset != -1 {
					t.Fatalf("Z85Decode(%q): length error %v", s, err)
				}
			case ErrZ85Char:
				if ze.Offset < 0 || ze.Offset >= len(s) || ze.Text != s[ze.Offset:ze.Offset+1] {
					t.Fatalf("Z85Decode(%q): character error %+v", s, *ze)
				}
			case ErrZ85Overflow:
				if ze.Offset < 0 || ze.Offset%5 != 0 || ze.Offset+5 > len(s) || ze.Text != s[ze.Offset:ze.Offset+5] {
					t.Fatalf("Z85Decode(%q): overflow error %+v", s, *ze)
				}
			default:
				t.Fatalf("Z85Decode(%q): unexpected error %v", s, err)
			}
		}

		raw := []byte(s)
		raw = raw[:len(raw)/4*4]
		enc, err := Z85Encode(raw)
		if err != nil || len(enc) != len(raw)/4*5 {
			t.Fatalf("Z85Encode(%x) = %q, %v", raw, enc, err)
		}
		if len(raw) == 0 {
			return
		}
		dec, err := Z85Decode(enc)
		if err != nil || !bytes.Equal(dec, raw) {
			t.Fatalf("Z85Decode(Z85Encode(%x)) = %x, %v", raw, dec, err)
		}
	})
}

// FuzzParseCertificate checks that the reader never panics, that its errors
// are *ParseError values, and that whatever it accepts, once written by our
// writer in either layout, reads back with the same keys and metadata.
func FuzzParseCertificate(f *testing.F) {
	f.Add([]byte(validCZMQ()))
	f.Add([]byte(strings.ReplaceAll(validCZMQ(), "\n", "\r\n")))
	for _, name := range []string{"pyzmq/client.key", "pyzmq/client.key_secret", "czmq/client", "czmq/client_secret"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCertificate(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 0 || pe.Path != "" || (pe.Line > 0) != (pe.Column > 0) {
				t.Fatalf("error %T %v, want *ParseError with a line and column, or neither", err, err)
			}
			// The message is one of the fixed texts: nothing of the
			// input can reach it (the input may be a secret file).
			if !parseErrorMsg.MatchString(pe.Msg) {
				t.Fatalf("ParseError.Msg %q is not one of the fixed texts", pe.Msg)
			}
			return
		}
		if c.Secret != nil {
			if derived, _ := c.Secret.PublicKey(); derived != c.Public {
				t.Fatal("accepted a secret key that does not match the public key")
			}
		}
		now := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
		for _, layout := range []Layout{LayoutCZMQ, LayoutPyzmq} {
			var out []byte
			if c.Secret != nil {
				out, err = c.MarshalSecret(layout, now)
			} else {
				out, err = c.MarshalPublic(layout, now)
			}
			if err != nil {
				if errors.Is(err, ErrInvalidMetadata) && unwritable(c.Metadata) {
					return
				}
				t.Fatalf("%v: marshal: %v", layout, err)
			}
			c2, err := ParseCertificate(out)
			if err != nil {
				t.Fatalf("%v: re-parse: %v\n%s", layout, err, out)
			}
			want := c
			if layout == LayoutPyzmq && c.Secret == nil {
				// pyzmq writes metadata to the secret file only.
				want = c.Clone()
				want.Metadata = nil
			}
			if diff := cmp.Diff(want, c2, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%v: round trip (-want +got):\n%s\n%s", layout, diff, out)
			}
		}
	})
}

// parseErrorMsg matches every ParseError.Msg the reader can give: fixed
// text and decimal numbers only.
var parseErrorMsg = regexp.MustCompile(`^(` + strings.Join([]string{
	`control character`,
	`tab in indentation`,
	`indentation of \d+ spaces is not a multiple of 4`,
	`first name line is indented`,
	`indentation jumps from level \d+ to level \d+`,
	`expected a name`,
	`name starts or ends with "/"`,
	`unexpected character after name \(want "=" or end of line\)`,
	`unterminated quoted value`,
	`unexpected character after quoted value`,
	`duplicate section (metadata|curve)`,
	`section (metadata|curve) has a value`,
	`duplicate metadata name \(first on line \d+\)`,
	`duplicate curve/(public|secret)-key \(first on line \d+\)`,
	`name nested too deeply in section (metadata|curve)`,
	`no curve/public-key`,
	`curve/(public|secret)-key: \d+ characters, want 40`,
	`curve/(public|secret)-key: invalid character at offset \d+`,
	`curve/(public|secret)-key: group at offset \d+ exceeds 0xFFFFFFFF`,
	`curve/secret-key does not belong to curve/public-key`,
	`curve/public-key: not a canonical X25519 key \(bit 255 set, or not below 2\^255-19\)`,
}, "|") + `)$`)

// unwritable reports whether md holds an entry the reader accepts but the
// writer refuses: a value with both kinds of quote, or a name that pyzmq
// would take for a key.
func unwritable(md []MetadataEntry) bool {
	for _, m := range md {
		if strings.Contains(m.Value, `"`) && strings.Contains(m.Value, `'`) ||
			strings.HasPrefix(m.Name, "public-key") || strings.HasPrefix(m.Name, "secret-key") {
			return true
		}
	}
	return false
}
