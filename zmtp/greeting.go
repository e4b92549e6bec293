package zmtp

import "bytes"

// GreetingSize is the length of a ZMTP 3.x greeting.
const GreetingSize = 64

// Greeting offsets. See 23/ZMTP and 37/ZMTP, "Greeting".
const (
	greetingSignatureLen = 10 // 0xFF, 8 bytes of padding, 0x7F
	greetingMajor        = 10
	greetingMinor        = 11
	greetingMechanism    = 12
	mechanismFieldLen    = 20
	greetingAsServer     = 32
)

// Versions this package speaks.
const (
	VersionMajor = 3
	VersionMinor = 1
)

// Greeting is the fixed 64-byte ZMTP 3.x greeting. See 23/ZMTP, "Greeting".
//
// The padding of the signature (bytes 1-8) and the filler (bytes 33-63) are
// not significant and are not kept: libzmq fills the padding with its identity
// length plus one, which a receiver must ignore.
type Greeting struct {
	Major, Minor uint8
	// Mechanism is the security mechanism name: "NULL", "PLAIN", "CURVE" or
	// any name of 1 to 20 characters from A-Z 0-9 - _ . +.
	Mechanism string
	// AsServer is the as-server bit. libzmq always sends 0 and ignores it; we
	// send it as given and never reject a peer for its value.
	AsServer bool
}

// ValidMechanismName reports whether name is a mechanism name that fits the
// greeting: 1 to 20 characters from A-Z 0-9 - _ . +.
func ValidMechanismName(name string) bool {
	if len(name) == 0 || len(name) > mechanismFieldLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

// Append appends the 64-byte encoding of g to b. The padding and the
// filler are zero, as 23/ZMTP asks of a peer that sends its whole greeting at
// once. It panics if g.Mechanism is not a valid mechanism name, which is a
// programming error.
func (g Greeting) Append(b []byte) []byte {
	if !ValidMechanismName(g.Mechanism) {
		panic("zmtp: invalid mechanism name " + quote(g.Mechanism))
	}
	var gr [GreetingSize]byte
	gr[0] = 0xFF
	gr[9] = 0x7F
	gr[greetingMajor] = g.Major
	gr[greetingMinor] = g.Minor
	copy(gr[greetingMechanism:], g.Mechanism)
	if g.AsServer {
		gr[greetingAsServer] = 1
	}
	return append(b, gr[:]...)
}

// CheckGreetingPrefix inspects the first len(b) bytes of a peer's greeting,
// which may be fewer than 64, and reports as early as possible a peer that does
// not speak ZMTP 3.x. It returns a [*VersionError] for a ZMTP 1.0 or 2.0 peer
// (see 23/ZMTP, "Backwards Interoperability"). A nil error means the prefix is
// consistent with ZMTP 3.x so far.
//
// A caller reads one byte, then up to 10, then 11, checking after each step,
// so that it never waits for bytes an older peer will not send.
func CheckGreetingPrefix(b []byte) error {
	if len(b) >= 1 && b[0] != 0xFF {
		// An unversioned ZMTP 1.0 peer: byte 0 is its identity's short length.
		return &VersionError{Major: 1, Minor: 0}
	}
	if len(b) >= greetingSignatureLen && b[9]&1 == 0 {
		// ZMTP 1.0 with a long identity length.
		return &VersionError{Major: 1, Minor: 0}
	}
	if len(b) > greetingMajor {
		switch rev := b[greetingMajor]; {
		case rev == 0:
			return &VersionError{Major: 1, Minor: 0}
		case rev < VersionMajor:
			// 23/ZMTP: revision 1 or 2 is ZMTP 2.0. (libzmq reads 2 as 3.x,
			// but no peer sends it.)
			return &VersionError{Major: 2, Minor: 0}
		}
	}
	return nil
}

// ParseGreeting parses a complete 64-byte greeting. It accepts any major
// version of 3 or more and any minor version. It does not check the padding,
// the as-server byte or the filler, as libzmq does not.
func ParseGreeting(b []byte) (Greeting, error) {
	if len(b) != GreetingSize {
		return Greeting{}, malformed("greeting", "%d bytes, want %d", len(b), GreetingSize)
	}
	if err := CheckGreetingPrefix(b); err != nil {
		return Greeting{}, err
	}
	field := b[greetingMechanism : greetingMechanism+mechanismFieldLen]
	name := field
	if i := bytes.IndexByte(field, 0); i >= 0 {
		name = field[:i]
		for _, c := range field[i:] {
			if c != 0 {
				return Greeting{}, malformed("greeting", "mechanism field %q is not NUL-padded", field)
			}
		}
	}
	if !ValidMechanismName(string(name)) {
		return Greeting{}, malformed("greeting", "invalid mechanism name %q", name)
	}
	return Greeting{
		Major:     b[greetingMajor],
		Minor:     b[greetingMinor],
		Mechanism: mechanismName(name),
		AsServer:  b[greetingAsServer]&1 == 1,
	}, nil
}

// mechanismName returns the name as a string, without allocating for the
// mechanisms of ZMTP 3.
func mechanismName(b []byte) string {
	for _, known := range [...]string{"NULL", "PLAIN", "CURVE", "GSSAPI"} {
		if string(b) == known {
			return known
		}
	}
	return string(b)
}
