package zmtp_test

import (
	"errors"
	"io"
	"reflect"
	"testing"
)

// zeros returns n zero bytes.
func zeros(n int) []byte { return make([]byte, n) }

// mechField returns name NUL-padded to the 20-byte mechanism field.
func mechField(name string) []byte {
	b := make([]byte, 20)
	copy(b, name)
	return b
}

// greetingBytes builds a 64-byte greeting by hand, independently of
// Greeting.Append: signature with the given padding, version, mechanism field
// (raw 20 bytes), as-server byte and a zero filler.
func greetingBytes(padding [8]byte, sigEnd, major, minor byte, mech []byte, asServer byte) []byte {
	b := []byte{0xFF}
	b = append(b, padding[:]...)
	b = append(b, sigEnd, major, minor)
	b = append(b, mech...)
	b = append(b, asServer)
	b = append(b, zeros(31)...)
	if len(b) != 64 {
		panic("greetingBytes: bad mechanism field length")
	}
	return b
}

// scriptedReader returns one chunk per Read call, in order. Once the chunks
// are used up it fails the test (the code under test waited for bytes the
// peer would never send) and returns an error so that nothing hangs.
type scriptedReader struct {
	t      testing.TB
	chunks [][]byte
	reads  int
}

func (s *scriptedReader) Read(p []byte) (int, error) {
	s.reads++
	if len(s.chunks) == 0 {
		s.t.Errorf("Read call %d after the peer stopped sending: the reader would block forever", s.reads)
		return 0, errors.New("scriptedReader: peer is blocked")
	}
	c := s.chunks[0]
	n := copy(p, c)
	if n == len(c) {
		s.chunks = s.chunks[1:]
	} else {
		s.chunks[0] = c[n:]
	}
	return n, nil
}

// countingReader counts the bytes its callers have taken from r.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// chunkReader returns at most size bytes per Read.
type chunkReader struct {
	r    io.Reader
	size int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.size {
		p = p[:c.size]
	}
	return c.r.Read(p)
}

// loopReader serves data over and over, filling as much of p as it can. It
// lets steady-state reads run without ever resetting anything.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], l.data[l.off:])
		n += m
		l.off = (l.off + m) % len(l.data)
	}
	return n, nil
}

// mustPanic fails the test unless fn panics.
func mustPanic(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", name)
		}
	}()
	fn()
}

// sameError reports whether b is the same error as a: the same value, or an
// error of the same type with the same text (a sticky error may be rebuilt
// on each call rather than stored).
func sameError(a, b error) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return reflect.TypeOf(a) == reflect.TypeOf(b) && a.Error() == b.Error()
}
