package zmtp_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// hostile holds peer-supplied text that must never reach a log or terminal
// raw: a colour escape, newlines, NUL, DEL, an RTL override, invalid UTF-8.
var hostile = []string{"\x1b[31m", "\n", "\r\nFAKE", "A\x00B", "\x7f", "\u202e", "\xff", "\x1b]0;t\x07"}

// checkClean fails if s has anything but printable ASCII.
func checkClean(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7E {
			t.Errorf("%s: raw byte %#02x at %d in %q", what, c, i, s)
			return
		}
	}
}

func TestPeerTextIsQuoted(t *testing.T) {
	for _, h := range hostile {
		var errs []error

		// Greeting: an invalid name, and a field that is not NUL-padded.
		mech := mechField("")
		copy(mech, "X"+h)
		_, err := zmtp.ParseGreeting(greetingBytes(zeroPad, 0x7F, 3, 1, mech, 0))
		errs = append(errs, err)
		mech = mechField("NULL")
		copy(mech[5:], h)
		_, err = zmtp.ParseGreeting(greetingBytes(zeroPad, 0x7F, 3, 1, mech, 0))
		errs = append(errs, err)

		// Command name.
		_, err = zmtp.ParseCommand(append([]byte{byte(len(h) + 1)}, "A"+h...))
		errs = append(errs, err)

		// Metadata name, from the wire and from Validate.
		name := "X-" + h
		wire := append([]byte{byte(len(name))}, name...)
		wire = append(wire, 0, 0, 0, 0)
		_, err = zmtp.ParseMetadata(wire)
		errs = append(errs, err)
		errs = append(errs, zmtp.Metadata{{Name: name}}.Validate())
		// A value-length error names the property too.
		_, err = zmtp.ParseMetadata(append([]byte{byte(len(name))}, name...))
		errs = append(errs, err)

		for i, err := range errs {
			if err == nil {
				t.Errorf("%q case %d: no error", h, i)
				continue
			}
			if !errors.Is(err, zmtp.ErrMalformed) {
				t.Errorf("%q case %d: %v is not ErrMalformed", h, i, err)
			}
			checkClean(t, fmt.Sprintf("%q case %d", h, i), err.Error())
			if !strings.HasPrefix(err.Error(), "zmtp: ") || strings.Count(err.Error(), "zmtp:") != 1 {
				t.Errorf("%q case %d: %q: want exactly one zmtp: prefix", h, i, err)
			}
		}

		// The panics of the encoders quote the name as well.
		for what, fn := range map[string]func(){
			"Greeting.Append": func() { zmtp.Greeting{Major: 3, Mechanism: "X" + h}.Append(nil) },
			"Command.Append":  func() { zmtp.Command{Name: "A" + h}.Append(nil) },
			"Metadata.Append": func() { zmtp.Metadata{{Name: name}}.Append(nil) },
		} {
			msg := func() (msg string) {
				defer func() { msg = fmt.Sprint(recover()) }()
				fn()
				return ""
			}()
			if msg == "" || msg == "<nil>" {
				t.Errorf("%s with %q did not panic", what, h)
				continue
			}
			checkClean(t, what+" panic", msg)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&zmtp.MalformedError{What: "frame", Detail: "x"}, "zmtp: malformed frame: x"},
		{&zmtp.FrameTooLargeError{Size: 11, Limit: 10}, "zmtp: frame of 11 bytes exceeds the limit of 10 bytes"},
		{&zmtp.VersionError{Major: 1}, "zmtp: peer speaks ZMTP 1.0; only ZMTP 3.x is supported"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&zmtp.MalformedError{}, zmtp.ErrMalformed) ||
		!errors.Is(&zmtp.FrameTooLargeError{}, zmtp.ErrFrameTooLarge) ||
		!errors.Is(&zmtp.VersionError{}, zmtp.ErrUnsupportedVersion) {
		t.Error("typed errors do not unwrap to their sentinels")
	}
	wrapped := fmt.Errorf("transport: handshake: %w", &zmtp.VersionError{Major: 2})
	var ve *zmtp.VersionError
	if !errors.As(wrapped, &ve) || ve.Major != 2 || !errors.Is(wrapped, zmtp.ErrUnsupportedVersion) {
		t.Error("wrapped VersionError is lost")
	}
}
