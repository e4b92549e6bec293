package socket

import (
	"math/bits"
	"sync"
)

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
			m[i] = bigBuffer(f)
			continue
		}
		m[i] = a.bytes(f)
	}
	return m
}

// Large frames (over arenaMaxCopied) live in buffers of their own. RecvInto
// hands those of the messages it copies out back to bigFree, so a receiver
// that uses it recycles them instead of leaving them to the garbage
// collector (for 64 KiB messages, a collection every few dozen messages).
// Buffers come in size classes a quarter of a power of two apart (4 KiB,
// 5 KiB, 6 KiB, 7 KiB, 8 KiB, 10 KiB, ...), up to 16 MiB, so that a buffer
// is at most a quarter larger than its frame; larger frames are left to
// the collector.
const (
	bigMinShift = 12
	bigMaxShift = 24
)

// bigFree holds recycled buffers by class. It is a plain free list rather
// than a sync.Pool (whose Put of a slice allocates), bounded in bytes, so
// that what it keeps is at most bigFreeBytes.
var bigFree struct {
	sync.Mutex
	lists [1 + (bigMaxShift-bigMinShift)*4][][]byte
	bytes int
}

const bigFreeBytes = 16 << 20

// bigSize returns the size class that holds n bytes: its capacity and its
// index in bigPool, or -1 past the largest.
func bigSize(n int) (size, class int) {
	if n <= 1<<bigMinShift {
		return 1 << bigMinShift, 0
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	if k+1 > bigMaxShift {
		return n, -1
	}
	step := 1 << (k - 2)
	q := (n + step - 1) / step // 5 to 8 quarters
	return q * step, 1 + (k-bigMinShift)*4 + q - 5
}

// bigBuffer returns a copy of f in a buffer of f's size class, recycled if
// one is free.
func bigBuffer(f []byte) []byte {
	size, c := bigSize(len(f))
	if c < 0 {
		return append([]byte(nil), f...)
	}
	bigFree.Lock()
	if l := bigFree.lists[c]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		bigFree.lists[c] = l[:len(l)-1]
		bigFree.bytes -= cap(b)
		bigFree.Unlock()
		// What lies past the frame held another message, maybe another
		// socket's: clear it, since a caller of Recv may reslice to cap.
		b = append(b, f...)
		clear(b[len(b):cap(b)])
		return b
	}
	bigFree.Unlock()
	return append(make([]byte, 0, size), f...)
}

// recycle returns the large frames of a message that has been copied out
// to the pools. Only a frame whose capacity is exactly a class's can have
// come from bigBuffer; anything else is left alone.
func recycle(m [][]byte) {
	for i, f := range m {
		if cap(f) <= arenaMaxCopied {
			continue
		}
		size, c := bigSize(cap(f))
		if c < 0 || size != cap(f) {
			continue
		}
		bigFree.Lock()
		if bigFree.bytes+cap(f) <= bigFreeBytes {
			bigFree.lists[c] = append(bigFree.lists[c], f[:0])
			bigFree.bytes += cap(f)
		}
		bigFree.Unlock()
		m[i] = nil
	}
}
