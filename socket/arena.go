package socket

// An arena hands out the memory of received messages in slabs, so that a
// stream of small messages costs a few allocations per slab rather than two
// per message (the frame list and the frame). Each message gets its own
// sub-slices, capped at their length so that appending to one never writes
// into another. The price is that a message the application keeps pins its
// slab (arenaBytes) until it is dropped; large frames are therefore not
// copied into slabs at all but handed over as they were read.
type arena struct {
	buf []byte
	hdr [][]byte
}

const (
	arenaBytes     = 32 << 10 // one slab of frame bytes
	arenaFrames    = 1024     // one slab of frame headers
	arenaMaxCopied = 2 << 10  // larger frames are handed over, not copied
)

// bytes returns a copy of b in the current slab.
func (a *arena) bytes(b []byte) []byte {
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, arenaBytes)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// frames returns a frame list of length n.
func (a *arena) frames(n int) [][]byte {
	if n > cap(a.hdr)-len(a.hdr) {
		a.hdr = make([][]byte, 0, max(arenaFrames, n))
	}
	start := len(a.hdr)
	a.hdr = a.hdr[:start+n]
	return a.hdr[start : start+n : start+n]
}

// message moves a message read into the reused storage read to memory of
// its own: small frames are copied into the slab, large ones are taken from
// read (whose slot is emptied, so the next read allocates afresh).
func (a *arena) message(read [][]byte) [][]byte {
	m := a.frames(len(read))
	for i, f := range read {
		if len(f) > arenaMaxCopied {
			m[i] = f
			read[i] = nil
			continue
		}
		m[i] = a.bytes(f)
	}
	return m
}
