package socket

// An arena hands out the memory of received messages in slabs, so that a
// stream of small messages costs a few allocations per slab rather than two
// per message (the frame list and the frame). Each message gets its own
// sub-slices, capped at their length so that appending to one never writes
// into another. The price is that a message the application keeps pins its
// slab (arenaBytes) until it is dropped; large frames therefore get memory
// of their own, of their exact size.
type arena struct {
	buf []byte
	hdr [][]byte
}

// Slabs start small and double with use up to their full size, so that an
// idle connection that has received a few messages holds little.
const (
	arenaBytes     = 32 << 10 // the largest slab of frame bytes
	arenaFrames    = 1024     // the largest slab of frame headers
	arenaMinBytes  = 512
	arenaMinFrames = 16
	arenaMaxCopied = 2 << 10 // larger frames get an allocation of their own
)

// bytes returns a copy of b in the current slab.
func (a *arena) bytes(b []byte) []byte {
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, min(arenaBytes, max(arenaMinBytes, 2*cap(a.buf), len(b))))
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// frames returns a frame list of length n.
func (a *arena) frames(n int) [][]byte {
	if n > cap(a.hdr)-len(a.hdr) {
		a.hdr = make([][]byte, 0, max(min(arenaFrames, max(arenaMinFrames, 2*cap(a.hdr))), n))
	}
	start := len(a.hdr)
	a.hdr = a.hdr[:start+n]
	return a.hdr[start : start+n : start+n]
}

// message copies a message read into the reused storage read to memory of
// its own: small frames into the slab, large ones each into an allocation
// of its own. Large frames are copied rather than handed over, so that read
// stays warm: decrypting a CURVE frame into freshly allocated memory was
// measured at half the speed of decrypting into reused memory and copying.
func (a *arena) message(read [][]byte) [][]byte {
	m := a.frames(len(read))
	for i, f := range read {
		if len(f) > arenaMaxCopied {
			m[i] = append([]byte(nil), f...)
			continue
		}
		m[i] = a.bytes(f)
	}
	return m
}
