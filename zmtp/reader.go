package zmtp

import (
	"io"
	"math"

	"github.com/zmtpsec/zmtpsec/internal/timeout"
)

// DefaultReadBufferSize is the initial size of a [Reader]'s buffer; it is the
// size of libzmq's decoder batch.
const DefaultReadBufferSize = 8192

// Reader reads a greeting and then frames from an io.Reader, with a bound on
// the size of every frame that is checked on the header, before the body is
// read. Its buffer grows only as bytes really arrive, so a peer that announces
// a huge frame and sends little costs little memory.
//
// A Reader is not safe for concurrent use. Errors from the underlying reader
// and malformed input are sticky: once ReadFrame or ReadGreeting has failed,
// every later call returns the same error. The exception is a timeout (an
// error with a Timeout() method that reports true, such as an expired
// deadline on a net.Conn): no partial frame is consumed, so the call may be
// retried once the deadline is extended.
type Reader struct {
	rd   io.Reader
	buf  []byte // buffered bytes are buf[r:w]
	r, w int
	max  int64 // frame body limit; 0 means none
	err  error // the underlying reader's error, kept until buffered bytes are used
	fail error // the sticky error of ReadGreeting or ReadFrame
	idle int   // consecutive reads that returned nothing
}

// maxIdleReads is how many (0, nil) reads in a row the Reader tolerates
// before it gives up with io.ErrNoProgress, as bufio does.
const maxIdleReads = 100

// NewReader returns a Reader on rd with no frame size limit.
func NewReader(rd io.Reader) *Reader {
	return &Reader{rd: rd, buf: make([]byte, DefaultReadBufferSize)}
}

// Reset discards all r holds (buffered bytes, frame size limit, sticky
// error) and makes it read from rd into buf, as a new Reader with buf as
// its buffer would; the zero Reader is ready for use once Reset. buf may be
// empty: the first read then allocates a buffer of DefaultReadBufferSize
// bytes (or more, for a larger frame). Like any buffer, buf is replaced by
// a larger one when a frame needs more room. A caller that reuses buffers
// (from a pool) gives them with Reset or SetBuffer and takes them back with
// SetBuffer.
func (r *Reader) Reset(rd io.Reader, buf []byte) {
	*r = Reader{rd: rd, buf: buf}
}

// SetBuffer makes r read into buf from now on: the bytes it has read and
// not yet returned are moved to the start of buf, which must have room for
// them (len(buf) >= r.Buffered(); SetBuffer panics otherwise, a programming
// error). It returns the buffer r used until now, which r no longer refers
// to. Frames returned before are invalid once it has been called. buf may
// be empty when nothing is buffered, which leaves r without a buffer until
// its next read allocates one, as after Reset.
func (r *Reader) SetBuffer(buf []byte) (old []byte) {
	n := r.w - r.r
	if len(buf) < n {
		panic("zmtp: Reader.SetBuffer with a buffer smaller than the bytes buffered")
	}
	copy(buf, r.buf[r.r:r.w])
	old = r.buf
	r.buf, r.r, r.w = buf, 0, n
	return old
}

// SetMaxFrameSize sets the largest frame body ReadFrame accepts; 0 or less
// means no limit. A frame over the limit makes ReadFrame return a
// [*FrameTooLargeError] without reading its body.
func (r *Reader) SetMaxFrameSize(n int64) {
	if n < 0 {
		n = 0
	}
	r.max = n
}

// Buffered returns the number of bytes read from the underlying reader and not
// yet consumed.
func (r *Reader) Buffered() int { return r.w - r.r }

// fill makes at least n bytes available in buf[r:w]. It reads from the
// underlying reader only as often as needed and never asks for bytes beyond
// what it must wait for: each Read returns what has arrived.
func (r *Reader) fill(n int) error {
	for r.w-r.r < n {
		if r.err != nil {
			// A clean EOF in the middle of what is needed is a truncation.
			if r.err == io.EOF && r.w > r.r {
				return io.ErrUnexpectedEOF
			}
			return r.err
		}
		if r.w == len(r.buf) {
			r.makeRoom(n)
		}
		m, err := r.rd.Read(r.buf[r.w:])
		r.w += m
		switch {
		case err != nil && isTimeout(err):
			if r.w-r.r >= n {
				return nil
			}
			return err
		case err != nil:
			r.err = err
		case m == 0:
			if r.idle++; r.idle >= maxIdleReads {
				r.err = io.ErrNoProgress
			}
		default:
			r.idle = 0
		}
	}
	return nil
}

// makeRoom is called with the buffer full up to its end. It moves the
// unconsumed bytes to the front or, if they already fill the buffer, grows it
// (doubling, but never past n). A Reader without a buffer gets one of
// DefaultReadBufferSize bytes, or n if that is more.
func (r *Reader) makeRoom(n int) {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
		return
	}
	size := 2 * len(r.buf)
	if size > n {
		size = n
	}
	if len(r.buf) == 0 {
		size = max(n, DefaultReadBufferSize)
	}
	buf := make([]byte, size)
	r.w = copy(buf, r.buf[r.r:r.w])
	r.r = 0
	r.buf = buf
}

// ReadGreeting reads the peer's 64-byte greeting. It reads 1, then 10, then 11
// bytes before the rest, and returns a [*VersionError] as soon as the bytes
// show a ZMTP 1.0 or 2.0 peer, so it never waits for bytes such a peer will
// not send. The caller must have sent its own greeting (or at least its first
// 11 bytes) first.
func (r *Reader) ReadGreeting() (Greeting, error) {
	if r.fail != nil {
		return Greeting{}, r.fail
	}
	g, err := r.readGreeting()
	if err != nil && !isTimeout(err) {
		r.fail = err
	}
	return g, err
}

func (r *Reader) readGreeting() (Greeting, error) {
	for _, n := range [...]int{1, greetingSignatureLen, greetingMajor + 1} {
		if err := r.fill(n); err != nil {
			return Greeting{}, err
		}
		if err := CheckGreetingPrefix(r.buf[r.r : r.r+n]); err != nil {
			return Greeting{}, err
		}
	}
	if err := r.fill(GreetingSize); err != nil {
		return Greeting{}, err
	}
	g, err := ParseGreeting(r.buf[r.r : r.r+GreetingSize])
	if err != nil {
		return Greeting{}, err
	}
	r.r += GreetingSize
	return g, nil
}

// ReadFrame reads the next frame. The returned Body is a view into the
// Reader's buffer, valid only until the next call on the Reader; a caller that
// keeps it must copy it.
func (r *Reader) ReadFrame() (Frame, error) {
	if r.fail != nil {
		return Frame{}, r.fail
	}
	f, err := r.readFrame()
	if err != nil && !isTimeout(err) {
		r.fail = err
	}
	return f, err
}

func (r *Reader) readFrame() (Frame, error) {
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
	var (
		flags Flags
		size  uint64
		hdr   int
	)
	for {
		var ok bool
		var err error
		flags, size, hdr, ok, err = ParseFrameHeader(r.buf[r.r:r.w])
		if err != nil {
			return Frame{}, err
		}
		if ok {
			break
		}
		need := 2
		if r.w-r.r >= 1 && Flags(r.buf[r.r])&FlagLong != 0 {
			need = 9
		}
		if err := r.fill(need); err != nil {
			return Frame{}, err
		}
	}
	if r.max > 0 && size > uint64(r.max) {
		return Frame{}, &FrameTooLargeError{Size: size, Limit: r.max}
	}
	if size > uint64(math.MaxInt-hdr) {
		return Frame{}, &FrameTooLargeError{Size: size, Limit: int64(math.MaxInt - hdr)}
	}
	total := hdr + int(size)
	if err := r.fill(total); err != nil {
		return Frame{}, err
	}
	body := r.buf[r.r+hdr : r.r+total : r.r+total]
	r.r += total
	return Frame{Flags: flags, Body: body}, nil
}

// isTimeout reports whether err says a deadline expired.
func isTimeout(err error) bool {
	return timeout.Is(err)
}
