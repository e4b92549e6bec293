package zmtp

import "io"

// Writer buffers frames and writes them to an io.Writer in one Write per
// Flush, so that a handshake flight or a multipart message leaves in a single
// write. Its buffer is reused, so steady-state use allocates nothing.
//
// A Writer is not safe for concurrent use. A write error is sticky.
type Writer struct {
	wr  io.Writer
	buf []byte
	err error
}

// NewWriter returns a Writer on wr.
func NewWriter(wr io.Writer) *Writer {
	return &Writer{wr: wr, buf: make([]byte, 0, DefaultReadBufferSize)}
}

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// Greeting buffers the 64-byte greeting g.
func (w *Writer) Greeting(g Greeting) { w.buf = g.Append(w.buf) }

// Frame buffers a frame with the given flags and body.
func (w *Writer) Frame(flags Flags, body []byte) { w.buf = AppendFrame(w.buf, flags, body) }

// Command buffers c as a command frame.
func (w *Writer) Command(c Command) {
	if !ValidCommandName(c.Name) {
		panic("zmtp: invalid command name " + quote(c.Name))
	}
	w.buf = AppendFrameHeader(w.buf, FlagCommand, c.Len())
	w.buf = c.Append(w.buf)
}

// Append gives direct access to the buffer for append-style encoders: fn is
// called with the buffer and must return it extended. It lets a caller encode
// a frame in place, with no intermediate copy.
func (w *Writer) Append(fn func(b []byte) []byte) { w.buf = fn(w.buf) }

// Flush writes the buffered bytes in one Write and empties the buffer. Bytes
// are discarded even when the write fails, and the error is sticky.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.wr.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = err
	}
	return err
}
