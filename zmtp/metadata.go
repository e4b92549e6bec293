package zmtp

import (
	"encoding/binary"
	"math"
	"strings"
)

// Well-known property names. libzmq matches Socket-Type and Identity with
// exactly this casing, so they are sent exactly so.
const (
	PropSocketType = "Socket-Type"
	PropIdentity   = "Identity"
	PropResource   = "Resource"
	PropUserID     = "User-Id"
)

// MaxPropertyValue is the largest value a property may carry (2^31-1 bytes).
const MaxPropertyValue = math.MaxInt32

// Property is one metadata property: a name and a value.
type Property struct {
	Name  string
	Value []byte
}

// Metadata is an ordered list of properties, encoded as 23/ZMTP,
// "Connection Metadata" describes: name length (1 byte), name, value length
// (4 bytes, big-endian), value, repeated to the end of the body. It is a
// slice, not a map, so that its encoding is the same on every run.
type Metadata []Property

// ValidPropertyName reports whether name is 1 to 255 characters from
// ALPHA DIGIT - _ . + (23/ZMTP).
func ValidPropertyName(name string) bool { return validPropertyName(name) }

func validPropertyName[S string | []byte](name S) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

// Validate checks every property name and value length.
func (m Metadata) Validate() error {
	for _, p := range m {
		if !ValidPropertyName(p.Name) {
			return malformed("metadata", "invalid property name %q", p.Name)
		}
		if len(p.Value) > MaxPropertyValue {
			return malformed("metadata", "property %q value of %d bytes", p.Name, len(p.Value))
		}
	}
	return nil
}

// Len returns the size of the encoding of m.
func (m Metadata) Len() int {
	n := 0
	for _, p := range m {
		n += 1 + len(p.Name) + 4 + len(p.Value)
	}
	return n
}

// Append appends the encoding of m to b. It panics if a property is invalid
// (see [Metadata.Validate]), which is a programming error.
func (m Metadata) Append(b []byte) []byte {
	if err := m.Validate(); err != nil {
		panic(err.Error())
	}
	for _, p := range m {
		b = append(b, byte(len(p.Name)))
		b = append(b, p.Name...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Value)))
		b = append(b, p.Value...)
	}
	return b
}

// ParseMetadata parses a metadata encoding that runs to the end of b. The
// result does not alias b, and it is compact: the names are copied into one
// new string (except the four this package names, PropSocketType to
// PropUserID, which are not copied) and all the values into one new byte
// array, which the properties view, so the result takes about len(b) bytes
// plus 40 per property (the size of a [Property]) in at most three
// allocations, however many properties there are. Property names must be valid (see
// [ValidPropertyName]); a truncated property or a single trailing byte is an
// error, as in libzmq. Duplicate names are kept, in order; [Metadata.Get]
// returns the first, as libzmq does.
func ParseMetadata(b []byte) (Metadata, error) { return ParseMetadataLimit(b, 0) }

// ParseMetadataLimit is [ParseMetadata] with a bound on the number of
// properties: metadata with more than max properties is refused with a
// [*TooManyPropertiesError] before anything is allocated for it (the
// properties are counted first). max <= 0 means no bound.
func ParseMetadataLimit(b []byte, max int) (Metadata, error) {
	// Check and count first, so that nothing is allocated for bad input
	// and the result is allocated once.
	count, nameLen, allNames := 0, 0, 0
	for rest := b; len(rest) > 0; count++ {
		n := int(rest[0])
		if n == 0 {
			return nil, malformed("metadata", "empty property name")
		}
		if len(rest) < 1+n+4 {
			return nil, malformed("metadata", "truncated property (%d bytes left)", len(rest))
		}
		// The errors quote a copy of the name, so that b does not escape:
		// a caller may parse from a buffer on its stack.
		name := rest[1 : 1+n]
		if !validPropertyName(name) {
			return nil, malformed("metadata", "invalid property name %q", string(name))
		}
		vlen := binary.BigEndian.Uint32(rest[1+n:])
		if vlen > MaxPropertyValue {
			return nil, malformed("metadata", "property %q value length %d", string(name), vlen)
		}
		if uint64(len(rest)-(1+n+4)) < uint64(vlen) {
			return nil, malformed("metadata", "property %q value of %d bytes, %d left", string(name), vlen, len(rest)-(1+n+4))
		}
		allNames += n
		if knownName(name) == "" {
			nameLen += n // to copy
		}
		rest = rest[1+n+4+int(vlen):]
	}
	if count == 0 {
		return nil, nil
	}
	if max > 0 && count > max {
		return nil, &TooManyPropertiesError{Count: count, Limit: max}
	}
	var names string
	if nameLen > 0 {
		var nb strings.Builder
		nb.Grow(nameLen)
		for rest := b; len(rest) > 0; {
			n := int(rest[0])
			if name := rest[1 : 1+n]; knownName(name) == "" {
				nb.Write(name)
			}
			rest = rest[1+n+4+int(binary.BigEndian.Uint32(rest[1+n:])):]
		}
		names = nb.String()
	}
	m := make(Metadata, 0, count)
	store := make([]byte, 0, len(b)-allNames-5*count)
	off := 0
	for rest := b; len(rest) > 0; {
		n := int(rest[0])
		vlen := int(binary.BigEndian.Uint32(rest[1+n:]))
		v := rest[1+n+4 : 1+n+4+vlen]
		start := len(store)
		store = append(store, v...)
		name := knownName(rest[1 : 1+n])
		if name == "" {
			name = names[off : off+n]
			off += n
		}
		m = append(m, Property{Name: name, Value: store[start:len(store):len(store)]})
		rest = rest[1+n+4+vlen:]
	}
	return m, nil
}

// knownName returns the name this package defines that b spells exactly,
// or "".
func knownName(b []byte) string {
	for _, k := range [...]string{PropSocketType, PropIdentity, PropResource, PropUserID} {
		if string(b) == k {
			return k
		}
	}
	return ""
}

// Get returns the value of the first property whose name matches name, ASCII
// case-insensitively as 23/ZMTP says.
func (m Metadata) Get(name string) ([]byte, bool) {
	for _, p := range m {
		if equalFold(p.Name, name) {
			return p.Value, true
		}
	}
	return nil, false
}

// GetExact returns the value of the first property named exactly name, the
// way libzmq matches Socket-Type and Identity.
func (m Metadata) GetExact(name string) ([]byte, bool) {
	for _, p := range m {
		if p.Name == name {
			return p.Value, true
		}
	}
	return nil, false
}

// Clone returns a deep copy of m. Like [ParseMetadata] it is compact: the
// values are copied into one new byte array (names are strings, which
// cannot change, and are shared). An empty value is nil in the copy.
func (m Metadata) Clone() Metadata {
	if m == nil {
		return nil
	}
	size := 0
	for _, p := range m {
		size += len(p.Value)
	}
	var store []byte
	if size > 0 {
		store = make([]byte, 0, size)
	}
	c := make(Metadata, len(m))
	for i, p := range m {
		c[i].Name = p.Name
		if len(p.Value) > 0 {
			start := len(store)
			store = append(store, p.Value...)
			c[i].Value = store[start:len(store):len(store)]
		}
	}
	return c
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
