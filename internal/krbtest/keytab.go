package krbtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// KeytabEntry is one key of a keytab, without the key itself.
type KeytabEntry struct {
	Principal string // "name/instance@REALM"
	NameType  uint32 // the principal's name type (1 NT-PRINCIPAL, 3 NT-SRV-HST)
	KVNO      uint32 // the key version
	Etype     int32  // the key's encryption type (see Enctype.Number)
}

// maxKeytab bounds the size of a keytab ReadKeytab reads.
const maxKeytab = 1 << 20

// errKeytab is wrapped by every error ReadKeytab returns for a malformed
// file.
var errKeytab = errors.New("krbtest: malformed keytab")

// ReadKeytab lists the keys of the MIT keytab file (format 0x0502, the one
// MIT writes) at path, in file order, without their key bytes. It reads
// what the realm's checks and the tests need, and refuses anything else: a
// file over 1 MiB, another version, or an entry that does not parse.
func ReadKeytab(path string) ([]KeytabEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("krbtest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeytab+1))
	if err != nil {
		return nil, fmt.Errorf("krbtest: %w", err)
	}
	if len(b) > maxKeytab {
		return nil, fmt.Errorf("%w: %s is over %d bytes", errKeytab, path, maxKeytab)
	}
	es, err := parseKeytab(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", errKeytab, path, err.Error())
	}
	return es, nil
}

// keytabCursor reads big-endian fields; each read reports whether the
// bytes were there.
type keytabCursor []byte

func (c *keytabCursor) u8() (uint8, bool) {
	if len(*c) < 1 {
		return 0, false
	}
	v := (*c)[0]
	*c = (*c)[1:]
	return v, true
}

func (c *keytabCursor) u16() (uint16, bool) {
	if len(*c) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*c)
	*c = (*c)[2:]
	return v, true
}

func (c *keytabCursor) u32() (uint32, bool) {
	if len(*c) < 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(*c)
	*c = (*c)[4:]
	return v, true
}

// counted reads a 16-bit length and that many bytes.
func (c *keytabCursor) counted() ([]byte, bool) {
	n, ok := c.u16()
	if !ok || len(*c) < int(n) {
		return nil, false
	}
	v := (*c)[:n]
	*c = (*c)[n:]
	return v, true
}

func parseKeytab(b []byte) ([]KeytabEntry, error) {
	c := keytabCursor(b)
	if v, ok := c.u16(); !ok || v != 0x0502 {
		return nil, errors.New("not a version 0x0502 keytab")
	}
	var out []KeytabEntry
	for len(c) > 0 {
		size, ok := c.u32()
		if !ok {
			return nil, fmt.Errorf("entry %d: truncated size", len(out))
		}
		n := int32(size)
		if n < 0 { // a hole left by a removed entry
			if int64(-int64(n)) > int64(len(c)) {
				return nil, fmt.Errorf("hole of %d bytes past the end", -int64(n))
			}
			c = c[-int64(n):]
			continue
		}
		if int(n) > len(c) {
			return nil, fmt.Errorf("entry %d: %d bytes announced, %d left", len(out), n, len(c))
		}
		e, err := parseKeytabEntry(c[:n])
		if err != nil {
			return nil, fmt.Errorf("entry %d: %s", len(out), err.Error())
		}
		out = append(out, e)
		c = c[n:]
	}
	return out, nil
}

func parseKeytabEntry(b []byte) (KeytabEntry, error) {
	c := keytabCursor(b)
	var e KeytabEntry
	ncomp, ok := c.u16()
	if !ok || ncomp == 0 {
		return e, errors.New("no name components")
	}
	realm, ok := c.counted()
	if !ok {
		return e, errors.New("truncated realm")
	}
	comps := make([]string, 0, ncomp)
	for range ncomp {
		s, ok := c.counted()
		if !ok {
			return e, errors.New("truncated name component")
		}
		comps = append(comps, string(s))
	}
	e.Principal = strings.Join(comps, "/") + "@" + string(realm)
	var vno8 uint8
	var etype uint16
	if e.NameType, ok = c.u32(); !ok {
		return e, errors.New("truncated name type")
	}
	if _, ok = c.u32(); !ok { // timestamp
		return e, errors.New("truncated timestamp")
	}
	if vno8, ok = c.u8(); !ok {
		return e, errors.New("truncated key version")
	}
	if etype, ok = c.u16(); !ok {
		return e, errors.New("truncated key type")
	}
	if _, ok = c.counted(); !ok {
		return e, errors.New("truncated key")
	}
	e.Etype = int32(int16(etype))
	e.KVNO = uint32(vno8)
	// A 32-bit version may follow, which supersedes the 8-bit one when
	// it is not zero (MIT's rule); other trailing bytes are ignored, as
	// MIT ignores them.
	if len(c) >= 4 {
		if v, _ := c.u32(); v != 0 {
			e.KVNO = v
		}
	}
	return e, nil
}
