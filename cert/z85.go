package cert

import (
	"errors"
	"fmt"

	"github.com/tilinna/z85"
)

// Sentinel errors for Z85 failures. They are always wrapped in a [*Z85Error];
// test for them with [errors.Is].
var (
	// ErrZ85Length means the input length is not a multiple of 4 (encoding)
	// or 5 (decoding), the decoding input is empty, or a key is not 40
	// characters long.
	ErrZ85Length = errors.New("cert: bad Z85 length")
	// ErrZ85Char means the text holds a character outside the Z85 alphabet.
	ErrZ85Char = errors.New("cert: bad Z85 character")
	// ErrZ85Overflow means a 5-character group has a value above 0xFFFFFFFF,
	// such as "%nSc1" or "#####".
	ErrZ85Overflow = errors.New("cert: Z85 group overflows 32 bits")
)

// A Z85Error describes a failure to encode or decode Z85 text.
type Z85Error struct {
	// Op is what was being done: "Z85 encode", "Z85 decode",
	// "parse public key" or "parse secret key".
	Op string
	// Err is ErrZ85Length, ErrZ85Char or ErrZ85Overflow, or
	// ErrNonCanonicalKey from ParsePublicKey.
	Err error
	// Len is the length of the input in bytes.
	Len int
	// Offset is the index in the input of the bad character, or of the
	// first character of the overflowing group. It is -1 for length errors.
	Offset int
	// Text is the bad character or group as found in the input. It is
	// empty for length errors and whenever the input is a secret key, so
	// that no part of a secret reaches an error message.
	Text string
}

// Error implements the error interface. The bad text is quoted with %q.
func (e *Z85Error) Error() string {
	return "cert: " + e.Op + ": " + e.detail()
}

// detail is the message of e without the "cert: Op: " prefix.
func (e *Z85Error) detail() string {
	var detail string
	switch e.Err {
	case ErrZ85Length:
		switch {
		case e.Op == "parse public key" || e.Op == "parse secret key":
			detail = fmt.Sprintf("%d characters, want 40", e.Len)
		case e.Op == "Z85 encode":
			detail = fmt.Sprintf("input length %d is not a multiple of 4", e.Len)
		case e.Len == 0:
			detail = "empty input"
		default:
			detail = fmt.Sprintf("input length %d is not a multiple of 5", e.Len)
		}
	case ErrZ85Char:
		if e.Text == "" {
			detail = fmt.Sprintf("invalid character at offset %d", e.Offset)
		} else {
			detail = fmt.Sprintf("invalid character %q at offset %d", e.Text, e.Offset)
		}
	case ErrZ85Overflow:
		if e.Text == "" {
			detail = fmt.Sprintf("group at offset %d exceeds 0xFFFFFFFF", e.Offset)
		} else {
			detail = fmt.Sprintf("group %q at offset %d exceeds 0xFFFFFFFF", e.Text, e.Offset)
		}
	case ErrNonCanonicalKey:
		detail = "not a canonical X25519 key (bit 255 set, or not below 2^255-19)"
	default:
		detail = fmt.Sprint(e.Err)
	}
	return detail
}

// Unwrap returns e.Err.
func (e *Z85Error) Unwrap() error { return e.Err }

// z85Value maps a byte to its Z85 digit value plus one; zero marks a byte
// outside the alphabet.
var z85Value = func() (t [256]uint8) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = uint8(i + 1)
	}
	return t
}()

// Z85Encode returns the Z85 text of src (ZeroMQ RFC 32). The length of src
// must be a multiple of 4; an empty src gives an empty string, as in libzmq.
func Z85Encode(src []byte) (string, error) {
	if len(src)%4 != 0 {
		return "", &Z85Error{Op: "Z85 encode", Err: ErrZ85Length, Len: len(src), Offset: -1}
	}
	dst := make([]byte, z85.EncodedLen(len(src)))
	if _, err := z85.Encode(dst, src); err != nil {
		// Unreachable: the length was checked above.
		return "", &Z85Error{Op: "Z85 encode", Err: ErrZ85Length, Len: len(src), Offset: -1}
	}
	return string(dst), nil
}

// Z85Decode returns the bytes encoded by the Z85 text s (ZeroMQ RFC 32).
// Like libzmq it rejects an empty s, a length that is not a multiple of 5,
// any character outside the Z85 alphabet and any 5-character group whose
// value exceeds 0xFFFFFFFF. The error is a [*Z85Error]; groups are checked
// in order, and within a group a bad character is reported before an
// overflow.
func Z85Decode(s string) ([]byte, error) {
	if err := checkZ85(s, "Z85 decode", false); err != nil {
		return nil, err
	}
	dst := make([]byte, z85.DecodedLen(len(s)))
	if _, err := z85.Decode(dst, []byte(s)); err != nil {
		// Unreachable: checkZ85 accepts only what z85.Decode accepts.
		return nil, &Z85Error{Op: "Z85 decode", Err: ErrZ85Char, Len: len(s), Offset: -1}
	}
	return dst, nil
}

// checkZ85 validates s as Z85 text. github.com/tilinna/z85 checks the length
// and the alphabet but lets a group above 0xFFFFFFFF wrap around silently,
// and does not say where a bad character is; this check does both. If
// secret is set, the error carries no text from s.
func checkZ85(s, op string, secret bool) error {
	if len(s) == 0 || len(s)%5 != 0 {
		return &Z85Error{Op: op, Err: ErrZ85Length, Len: len(s), Offset: -1}
	}
	for g := 0; g < len(s); g += 5 {
		var v uint64
		for i := g; i < g+5; i++ {
			d := z85Value[s[i]]
			if d == 0 {
				e := &Z85Error{Op: op, Err: ErrZ85Char, Len: len(s), Offset: i}
				if !secret {
					e.Text = s[i : i+1]
				}
				return e
			}
			v = v*85 + uint64(d-1)
		}
		if v > 0xFFFFFFFF {
			e := &Z85Error{Op: op, Err: ErrZ85Overflow, Len: len(s), Offset: g}
			if !secret {
				e.Text = s[g : g+5]
			}
			return e
		}
	}
	return nil
}
