package cert

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"
)

// A Certificate is the content of a CURVE certificate file: a public key,
// the secret key when it was read from (or is to be written to) a secret
// file, and metadata.
type Certificate struct {
	// Public is the curve/public-key entry.
	Public PublicKey
	// Secret is the curve/secret-key entry, or nil for a public-only
	// certificate.
	Secret *SecretKey
	// Metadata holds the children of the metadata section, in file order.
	// Names are unique.
	Metadata []MetadataEntry
	// Path is the file the certificate was loaded from: for
	// LoadCertificate, the secret file when that is what was read. It is
	// empty for a certificate that was not loaded from disk.
	Path string
}

// A MetadataEntry is one "name = value" line of a certificate's metadata
// section.
type MetadataEntry struct {
	Name  string
	Value string
}

// Meta returns the value of the metadata entry called name, and whether
// there is one. Names are case-sensitive, as in ZPL.
func (c *Certificate) Meta(name string) (string, bool) {
	for _, m := range c.Metadata {
		if m.Name == name {
			return m.Value, true
		}
	}
	return "", false
}

// KeyPair returns the key pair of c, for [github.com/zmtpsec/zmtpsec/mechanism.CurveServer]
// or CurveClient. It fails with an error that matches [ErrNoSecretKey] when c
// is a public-only certificate (its Secret is nil), as one loaded from a
// public certificate file is.
//
// The secret key is copied into the returned KeyPair; clearing c.Secret
// afterwards does not clear the copy.
func (c *Certificate) KeyPair() (KeyPair, error) {
	if c.Secret == nil {
		if c.Path != "" {
			return KeyPair{}, &noSecretKeyError{path: c.Path}
		}
		return KeyPair{}, ErrNoSecretKey
	}
	return KeyPair{Public: c.Public, Secret: *c.Secret}, nil
}

// Clone returns a deep copy of c.
func (c *Certificate) Clone() *Certificate {
	c2 := *c
	if c.Secret != nil {
		s := *c.Secret
		c2.Secret = &s
	}
	if c.Metadata != nil {
		c2.Metadata = append([]MetadataEntry(nil), c.Metadata...)
	}
	return &c2
}

// ParseCertificate parses the content of a certificate file in either
// layout. It requires curve/public-key; curve/secret-key is optional and, if
// present, must derive the public key. All children of the metadata section
// become Metadata, in file order. Top-level sections other than metadata
// and curve, and children of curve other than the two keys, are ignored.
//
// The reader is strict: tabs or bad indentation, unterminated quotes,
// duplicate sections or names, nesting inside metadata or curve, a section
// with a value, and a key that is not 40 characters of Z85 are all errors.
// Every error is a [*ParseError] with an empty Path.
func ParseCertificate(data []byte) (*Certificate, error) {
	c, err := parseCertificate(data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func parseCertificate(data []byte) (*Certificate, *ParseError) {
	nodes, perr := parseZPL(data)
	if perr != nil {
		return nil, perr
	}
	fail := func(n zplNode, msg string) (*Certificate, *ParseError) {
		return nil, &ParseError{Line: n.line, Column: n.nameCol, Msg: msg}
	}
	var (
		c                  Certificate
		section            string // "metadata", "curve" or "" for any other
		seenMeta, seenCurv bool
		pubNode, secNode   *zplNode
		names              = map[string]int{} // metadata name → line
	)
	for i := range nodes {
		n := nodes[i]
		switch n.depth {
		case 0:
			section = ""
			switch n.name {
			case "metadata", "curve":
				seen := &seenMeta
				if n.name == "curve" {
					seen = &seenCurv
				}
				if *seen {
					return fail(n, "duplicate section "+n.name) // a fixed name
				}
				*seen = true
				if n.hasValue {
					return fail(n, "section "+n.name+" has a value")
				}
				section = n.name
			}
		case 1:
			switch section {
			case "metadata":
				if first, dup := names[n.name]; dup {
					return fail(n, fmt.Sprintf("duplicate metadata name (first on line %d)", first))
				}
				names[n.name] = n.line
				c.Metadata = append(c.Metadata, MetadataEntry{Name: n.name, Value: n.value})
			case "curve":
				switch n.name {
				case "public-key":
					if pubNode != nil {
						return fail(n, fmt.Sprintf("duplicate curve/public-key (first on line %d)", pubNode.line))
					}
					pubNode = &nodes[i]
				case "secret-key":
					if secNode != nil {
						return fail(n, fmt.Sprintf("duplicate curve/secret-key (first on line %d)", secNode.line))
					}
					secNode = &nodes[i]
				}
			}
		default:
			if section != "" {
				return fail(n, "name nested too deeply in section "+section)
			}
		}
	}
	if pubNode == nil {
		return nil, &ParseError{Msg: "no curve/public-key"}
	}
	pub, err := ParsePublicKey(pubNode.value)
	if err != nil {
		return nil, keyError(pubNode, "curve/public-key", err.(*Z85Error))
	}
	c.Public = pub
	if secNode != nil {
		sec, err := ParseSecretKey(secNode.value)
		if err != nil {
			return nil, keyError(secNode, "curve/secret-key", err.(*Z85Error))
		}
		if !sec.matches(pub) {
			return nil, &ParseError{Line: secNode.line, Column: secNode.valueCol,
				Msg: "curve/secret-key does not belong to curve/public-key", Err: ErrKeyMismatch}
		}
		c.Secret = &sec
	}
	return &c, nil
}

// keyError is the ParseError for a key value that is not valid Z85. The
// Z85Error keeps its offset but loses the bad text: the file may not be a
// certificate at all.
func keyError(n *zplNode, what string, ze *Z85Error) *ParseError {
	ze2 := *ze
	ze2.Text = ""
	col := n.valueCol
	if ze2.Offset >= 0 {
		col += ze2.Offset
	}
	return &ParseError{Line: n.line, Column: col, Msg: what + ": " + ze2.detail(), Err: &ze2}
}

// matches reports whether k derives pub.
func (k SecretKey) matches(pub PublicKey) bool {
	derived, err := k.PublicKey()
	return err == nil && subtle.ConstantTimeCompare(derived[:], pub[:]) == 1
}

// A Layout selects the file names, header and metadata placement of a
// certificate pair, after the tool that writes it.
type Layout int

const (
	// LayoutCZMQ is the layout of CZMQ's zcert_save: files NAME and
	// NAME_secret, a "by CZMQ" header with the time to the second, and the
	// metadata, double-quoted, in both files.
	LayoutCZMQ Layout = iota + 1
	// LayoutPyzmq is the layout of pyzmq's zmq.auth.create_certificates:
	// files NAME.key and NAME.key_secret, a "by pyzmq" header with
	// Python's str(datetime) time, and the metadata, unquoted, in the
	// secret file only.
	LayoutPyzmq
)

// String returns "CZMQ" or "pyzmq".
func (l Layout) String() string {
	switch l {
	case LayoutCZMQ:
		return "CZMQ"
	case LayoutPyzmq:
		return "pyzmq"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// FileNames returns the names of the public and secret files of the
// certificate called name.
func (l Layout) FileNames(name string) (public, secret string) {
	if l == LayoutPyzmq {
		name += ".key"
	}
	return name, name + "_secret"
}

func (l Layout) valid() bool { return l == LayoutCZMQ || l == LayoutPyzmq }

// timestamp formats now in its own location as the layout's tool would.
func (l Layout) timestamp(now time.Time) string {
	s := now.Format("2006-01-02 15:04:05")
	if l == LayoutPyzmq {
		// Python's str(datetime) shows microseconds only when nonzero.
		if us := now.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
	}
	return s
}

const (
	publicBanner = "#   ZeroMQ CURVE Public Certificate\n" +
		"#   Exchange securely, or use a secure mechanism to verify the contents\n" +
		"#   of this file after exchange. Store public certificates in your home\n" +
		"#   directory, in the .curve subdirectory.\n"
	secretBanner = "#   ZeroMQ CURVE **Secret** Certificate\n" +
		"#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
)

// MarshalPublic returns the public certificate file of c in the given
// layout, with now (formatted in its own location) on the first line. The
// bytes are those the layout's tool writes. c.Secret is not used.
//
// Metadata is checked as by [Certificate.MarshalSecret], even in
// [LayoutPyzmq], which does not write it to the public file.
func (c *Certificate) MarshalPublic(layout Layout, now time.Time) ([]byte, error) {
	return c.marshal(layout, now, false)
}

// MarshalSecret returns the secret certificate file of c in the given
// layout, with now (formatted in its own location) on the first line. The
// bytes are those the layout's tool writes. It fails if c.Secret is nil or
// does not derive c.Public.
//
// Metadata names must be ZPL names, unique, and must not start with
// "public-key" or "secret-key" (pyzmq's reader would take such a line for
// a key). Values must not contain control characters other than tab, nor
// both kinds of quote. CZMQ always quotes values with '"'; a value that
// contains '"' is written with "'" instead, which CZMQ reads correctly but
// would not write itself. pyzmq writes values unquoted; in [LayoutPyzmq] a
// value that would not read back unquoted (it starts with a quote or
// whitespace, ends with whitespace, or contains '#') is quoted as in
// [LayoutCZMQ]. Errors about metadata wrap [ErrInvalidMetadata].
func (c *Certificate) MarshalSecret(layout Layout, now time.Time) ([]byte, error) {
	if c.Secret == nil {
		return nil, fmt.Errorf("cert: marshal secret certificate: no secret key")
	}
	if !c.Secret.matches(c.Public) {
		return nil, ErrKeyMismatch
	}
	return c.marshal(layout, now, true)
}

func (c *Certificate) marshal(layout Layout, now time.Time, secret bool) ([]byte, error) {
	if !layout.valid() {
		return nil, fmt.Errorf("cert: unknown layout %v", layout)
	}
	if err := checkMetadata(c.Metadata); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	by := "CZMQ"
	if layout == LayoutPyzmq {
		by = "pyzmq"
	}
	fmt.Fprintf(&b, "#   ****  Generated on %s by %s  ****\n", layout.timestamp(now), by)
	if secret {
		b.WriteString(secretBanner)
	} else {
		b.WriteString(publicBanner)
	}
	b.WriteString("\nmetadata\n")
	if layout == LayoutCZMQ || secret {
		for _, m := range c.Metadata {
			b.WriteString("    " + m.Name + " = ")
			if layout == LayoutPyzmq && !needsQuotes(m.Value) {
				b.WriteString(m.Value)
			} else {
				q := `"`
				if strings.Contains(m.Value, `"`) {
					q = `'`
				}
				b.WriteString(q + m.Value + q)
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("curve\n")
	b.WriteString(`    public-key = "` + c.Public.String() + "\"\n")
	if secret {
		b.WriteString(`    secret-key = "` + c.Secret.Z85() + "\"\n")
	}
	return b.Bytes(), nil
}

// needsQuotes reports whether v would not read back unchanged as an
// unquoted ZPL value.
func needsQuotes(v string) bool {
	if v == "" {
		return false
	}
	first, last := v[0], v[len(v)-1]
	return first == '"' || first == '\'' || first == ' ' || first == '\t' ||
		last == ' ' || last == '\t' || strings.ContainsRune(v, '#')
}

// checkMetadata reports whether md can be written and read back unchanged.
func checkMetadata(md []MetadataEntry) error {
	seen := make(map[string]bool, len(md))
	for _, m := range md {
		if m.Name == "" {
			return &metadataError{m.Name, "empty name"}
		}
		for i := 0; i < len(m.Name); i++ {
			if !isNameChar(m.Name[i]) {
				return &metadataError{m.Name, fmt.Sprintf("character %q is not allowed in a name", m.Name[i:i+1])}
			}
		}
		if m.Name[0] == '/' || m.Name[len(m.Name)-1] == '/' {
			return &metadataError{m.Name, `name starts or ends with "/"`}
		}
		if strings.HasPrefix(m.Name, "public-key") || strings.HasPrefix(m.Name, "secret-key") {
			return &metadataError{m.Name, "name would be read as a key by pyzmq"}
		}
		if seen[m.Name] {
			return &metadataError{m.Name, "duplicate name"}
		}
		seen[m.Name] = true
		for i := 0; i < len(m.Value); i++ {
			if c := m.Value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				return &metadataError{m.Name, fmt.Sprintf("control character %q in value", m.Value[i:i+1])}
			}
		}
		if strings.Contains(m.Value, `"`) && strings.Contains(m.Value, `'`) {
			return &metadataError{m.Name, "value contains both kinds of quote"}
		}
	}
	return nil
}
