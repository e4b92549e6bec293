package transport

import (
	"sync"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// A connection reads its handshake through a small buffer, and its
// messages through one of zmtp.DefaultReadBufferSize bytes (libzmq's
// batch), which it takes at its first ReadMessage: a pending handshake
// holds 1 KiB, not 8, and a connection that is only written to never holds
// the larger one. Both come from pools and go back to them, cleared (they
// may have held a PLAIN password, or messages in clear), once they are no
// longer used: the small one when the larger one replaces it, both when the
// connection is closed and no read holds them. A connection that comes and
// goes then costs no read buffer of its own once the pools are warm.
// ReadMessage copies every frame out, so nothing outside a read refers to
// either buffer.

// handshakeReadBufferSize is the size of the buffer a handshake reads
// through: a greeting and any handshake command of a peer with the usual
// metadata (a 255-byte Identity, PLAIN's longest credentials) fit. A larger
// frame gets a larger buffer, as always.
const handshakeReadBufferSize = 1 << 10

var (
	handshakeReadBufs = sync.Pool{New: func() any { return new([handshakeReadBufferSize]byte) }}
	messageReadBufs   = sync.Pool{New: func() any { return new([zmtp.DefaultReadBufferSize]byte) }}
)

// messageReadBufLocked gives the reader its message buffer, moving into it
// the bytes already read, and gives back the handshake's. The caller holds
// inMu. A reader that has outgrown the message buffer during the
// handshake keeps the buffer it has.
func (c *Conn) messageReadBufLocked() {
	b := messageReadBufs.Get().(*[zmtp.DefaultReadBufferSize]byte)
	if c.in.Buffered() > len(b) {
		messageReadBufs.Put(b)
	} else {
		c.in.SetBuffer(b[:])
		c.inBuf = b
	}
	// The reader no longer refers to the handshake's buffer: it has just
	// left it, or it left it for a larger one during the handshake.
	if hb := c.hsBuf; hb != nil {
		c.hsBuf = nil
		clear(hb[:])
		handshakeReadBufs.Put(hb)
	}
}

// releaseReadBufLocked gives the read buffers back once the connection is
// closed, leaving the reader without a buffer. The caller holds inMu. The
// reader keeps its sticky error, and a read after this (on a closed
// connection, so it fails) allocates a buffer of its own first. Buffers
// are left to the garbage collector while the reader holds bytes not read.
func (c *Conn) releaseReadBufLocked() {
	if (c.inBuf == nil && c.hsBuf == nil) || !c.closed.Load() || c.in.Buffered() > 0 {
		return
	}
	c.in.SetBuffer(nil)
	if b := c.inBuf; b != nil {
		c.inBuf = nil
		clear(b[:])
		messageReadBufs.Put(b)
	}
	if b := c.hsBuf; b != nil {
		c.hsBuf = nil
		clear(b[:])
		handshakeReadBufs.Put(b)
	}
}
